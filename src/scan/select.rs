//! Which streams a scan reads: the triage default, or every stream, narrowed by globs and size.

use crate::error::{Error, Result};
use crate::sniff::Magic;
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Server-side web file extensions the triage selection always takes.
pub const WEB_EXTENSIONS: &[&str] = &[
    "aspx", "ashx", "asmx", "asax", "ascx", "asp", "master", "cshtml", "config", "svc",
];

/// Magic numbers that make a stream interesting whatever its name: minidumps and archives.
/// (`"minidump"`, `"zip"`, `"7z"`, `"rar"`; see [`Magic::selects`]).
pub fn interesting_magic(head: &[u8]) -> Option<&'static str> {
    Magic::of(head).and_then(Magic::selects)
}

/// The extension of the last path component (or of a stream name), lowercase.
pub fn extension(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next()?;
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Selection of streams to scan.
#[derive(Debug, Clone)]
pub struct Selection {
    all_files: bool,
    include: Option<GlobSet>,
    exclude: Option<GlobSet>,
    max_size: Option<u64>,
    include_deleted: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            all_files: false,
            include: None,
            exclude: None,
            max_size: None,
            include_deleted: true,
        }
    }
}

fn globset(globs: &[String]) -> Result<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = globset::GlobBuilder::new(g)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map_err(|e| Error::Invalid(format!("glob {g:?}: {e}")))?;
        b.add(glob);
        // A glob without a slash also matches the file name alone.
        if !g.contains('/') {
            b.add(
                Glob::new(&format!("**/{g}"))
                    .map_err(|e| Error::Invalid(format!("glob {g:?}: {e}")))?,
            );
        }
    }
    b.build()
        .map(Some)
        .map_err(|e| Error::Invalid(e.to_string()))
}

/// Why a stream was selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `--all-files`.
    All,
    /// A web script extension (file or stream name).
    WebExtension,
    /// A minidump or archive by its first bytes.
    Magic(&'static str),
    /// Matched `--include`.
    Included,
}

impl Selection {
    /// The triage default: web files, dumps and archives by magic, ADS and deleted included.
    pub fn triage() -> Self {
        Self::default()
    }

    /// Every stream.
    pub fn all_files(mut self, yes: bool) -> Self {
        self.all_files = yes;
        self
    }

    /// Only streams whose path matches one of these globs (case-insensitive; a glob without `/`
    /// matches the file name). With the triage default, an `--include` match also selects a
    /// stream that triage would not.
    pub fn include(mut self, globs: &[String]) -> Result<Self> {
        self.include = globset(globs)?;
        Ok(self)
    }

    /// Leaves out streams whose path matches one of these globs.
    pub fn exclude(mut self, globs: &[String]) -> Result<Self> {
        self.exclude = globset(globs)?;
        Ok(self)
    }

    /// Leaves out streams larger than this.
    pub fn max_size(mut self, max: Option<u64>) -> Self {
        self.max_size = max;
        self
    }

    /// Whether deleted files are scanned (default yes).
    pub fn deleted(mut self, yes: bool) -> Self {
        self.include_deleted = yes;
        self
    }

    /// Decides on a stream from its path (volume path, or host path), stream name, size,
    /// deletion and first bytes. `None`: not selected.
    pub fn select(
        &self,
        path: &str,
        stream: Option<&str>,
        size: u64,
        deleted: bool,
        head: &[u8],
    ) -> Option<Reason> {
        self.select_with(path, stream, size, deleted, || head.to_vec())
    }

    /// [`Selection::select`] where the first bytes are read only when the name, metadata and
    /// size have not decided (`head` is called at most once).
    pub fn select_with(
        &self,
        path: &str,
        stream: Option<&str>,
        size: u64,
        deleted: bool,
        head: impl FnOnce() -> Vec<u8>,
    ) -> Option<Reason> {
        if deleted && !self.include_deleted {
            return None;
        }
        if self.max_size.is_some_and(|m| size > m) {
            return None;
        }
        let full = match stream {
            Some(s) => format!("{path}:{s}"),
            None => path.to_string(),
        };
        if self
            .exclude
            .as_ref()
            .is_some_and(|g| g.is_match(&full) || g.is_match(path))
        {
            return None;
        }
        if let Some(inc) = &self.include {
            let hit = inc.is_match(&full) || inc.is_match(path);
            if self.all_files || !hit {
                return (hit && self.all_files)
                    .then_some(Reason::All)
                    .or(hit.then_some(Reason::Included));
            }
            return Some(Reason::Included);
        }
        if self.all_files {
            return Some(Reason::All);
        }
        let web = |n: &str| extension(n).is_some_and(|e| WEB_EXTENSIONS.contains(&e.as_str()));
        if web(path) || stream.is_some_and(web) {
            return Some(Reason::WebExtension);
        }
        if size == 0 {
            return None;
        }
        let head = head();
        interesting_magic(&head)
            .or_else(|| starts_server_script(&head).then_some("server_script"))
            .map(Reason::Magic)
    }
}

/// Whether the first bytes of a stream (after a UTF-8 BOM and blanks) open a server-side script
/// block (`<%`): a web script under another name (`shell.txt`, `x.soap`, no extension), which
/// the triage scan takes whatever its name (reported as `Reason::Magic("server_script")`).
pub fn starts_server_script(head: &[u8]) -> bool {
    let h = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let k = h.iter().take_while(|c| c.is_ascii_whitespace()).count();
    h[k..].starts_with(b"<%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_and_globs() {
        let s = Selection::triage();
        assert_eq!(
            s.select("/a/B.ASPX", None, 10, false, b""),
            Some(Reason::WebExtension)
        );
        assert_eq!(
            s.select("/a/x.htm", Some("s.aspx"), 10, true, b""),
            Some(Reason::WebExtension)
        );
        assert_eq!(
            s.select("/a/x.bin", None, 10, false, b"MDMP\x93\xa7"),
            Some(Reason::Magic("minidump"))
        );
        assert_eq!(s.select("/a/x.txt", None, 10, false, b"hello"), None);
        assert_eq!(
            s.select("/a/x.txt", None, 10, false, b"\xEF\xBB\xBF <%@ Page"),
            Some(Reason::Magic("server_script"))
        );
        assert_eq!(s.select("/a/x.txt", None, 10, false, b"a <% b"), None);
        let s = Selection::triage().exclude(&["*.config".into()]).unwrap();
        assert_eq!(s.select("/inetpub/web.config", None, 10, false, b""), None);
        let s = Selection::triage()
            .include(&["/Windows/Temp/**".into()])
            .unwrap();
        assert_eq!(
            s.select("/windows/temp/a.txt", None, 1, false, b""),
            Some(Reason::Included)
        );
        assert_eq!(s.select("/other/a.aspx", None, 1, false, b""), None);
        let s = Selection::triage().all_files(true).max_size(Some(5));
        assert_eq!(s.select("/a", None, 6, false, b""), None);
        assert_eq!(s.select("/a", None, 5, false, b""), Some(Reason::All));
    }

    /// A spanned zip (`PK\x07\x08`) is selected by the triage scan and is an archive to the
    /// staged-archive assessment: one sniffer decides both.
    #[test]
    fn spanned_zip_is_selected_and_an_archive() {
        let head = b"PK\x07\x08PK\x03\x04";
        assert_eq!(
            Selection::triage().select("/ProgramData/x.bin", None, 10, false, head),
            Some(Reason::Magic("zip"))
        );
        assert_eq!(
            crate::exchange::archive_kind(head),
            Some(crate::exchange::ArchiveKind::Zip)
        );
        for head in [
            &b"PK\x03\x04"[..],
            b"PK\x05\x06",
            b"7z\xBC\xAF\x27\x1C",
            b"Rar!\x1A\x07\x00",
        ] {
            assert_eq!(
                interesting_magic(head),
                crate::exchange::archive_kind(head).map(|k| k.as_str())
            );
        }
    }
}
