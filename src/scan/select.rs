//! Which streams a scan reads: the triage default, or every stream, narrowed by globs and size.

use crate::error::{Error, Result};
use crate::sniff::Magic;
use globset::{Glob, GlobSet, GlobSetBuilder};

/// Server-side web file extensions the triage selection always takes.
pub const WEB_EXTENSIONS: &[&str] = &[
    "aspx", "ashx", "asmx", "asax", "ascx", "asp", "master", "cshtml", "config", "svc",
];

/// Extensions of files that are not served as scripts but carry server code in real attacks:
/// notes and copies (`shell.txt`, `x.bak`), include files (classic ASP runs the `<% %>` of an
/// `<!--#include file="x.txt"-->` whatever its extension), and pictures with a script in their
/// metadata or appended to them (the "picture one-liner" uploaded past an image-only filter).
/// Such a file (and one without an extension) is selected when [`probe`](Selection::select_probing)
/// finds server code in its first [`PROBE_HEAD`] or last [`PROBE_TAIL`] bytes.
pub const CARRIER_EXTENSIONS: &[&str] = &[
    "txt", "inc", "bak", "old", "tmp", "htm", "html", "soap", "jpg", "jpeg", "gif", "png", "bmp",
    "ico",
];

/// Source files that ASP.NET compiles itself when they sit in a site's `App_Code` folder (or that
/// an `.ashx`/`.aspx` names as its `CodeFile`): selected when their first [`PROBE_HEAD`] bytes
/// use the web API (`System.Web`, `HttpContext`, `IHttpHandler`, `IHttpModule`).
pub const SOURCE_EXTENSIONS: &[&str] = &["cs", "vb"];

/// Largest carrier or source file probed for server code (larger ones are not selected by it).
pub const MAX_PROBED_SIZE: u64 = 4 << 20;
/// Bytes read from the start of a carrier or source file for the probe.
pub const PROBE_HEAD: usize = 32 << 10;
/// Bytes read from the end of a carrier file for the probe (a script appended to a picture).
pub const PROBE_TAIL: usize = 16 << 10;

/// Whether a path is a compiled leftover of ASP.NET: an `App_Web_*.dll` page assembly or a
/// `*.compiled` preservation file under a `Temporary ASP.NET Files` folder (normally
/// `Windows/Microsoft.NET/Framework*/v*/Temporary ASP.NET Files/APP/HASH/HASH/`). They outlive
/// the page they were compiled from: a web shell deleted from disk leaves its assembly there.
pub fn compiled_leftover(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if !lower.contains("/temporary asp.net files/")
        && !lower.contains("\\temporary asp.net files\\")
    {
        return false;
    }
    let leaf = lower.rsplit(['/', '\\']).next().unwrap_or("");
    (leaf.starts_with("app_web_") && leaf.ends_with(".dll")) || leaf.ends_with(".compiled")
}

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
    /// A minidump or archive by its first bytes; server code found in a carrier or source file.
    Magic(&'static str),
    /// A compiled ASP.NET leftover (see [`compiled_leftover`]).
    Compiled,
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
    /// deletion and first bytes (`head`: as many as the caller has, up to the whole stream, so
    /// that carrier files can be probed; see [`Selection::select_probing`]). `None`: not
    /// selected.
    pub fn select(
        &self,
        path: &str,
        stream: Option<&str>,
        size: u64,
        deleted: bool,
        head: &[u8],
    ) -> Option<Reason> {
        self.select_probing(path, stream, size, deleted, |offset, len| {
            let from = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(head.len());
            head[from..head.len().min(from.saturating_add(len))].to_vec()
        })
    }

    /// [`Selection::select`] where the first bytes are read only when the name, metadata and
    /// size have not decided (`head` is called at most once). Carrier and source files are
    /// probed in the bytes `head` returns only; [`Selection::select_probing`] reads more.
    pub fn select_with(
        &self,
        path: &str,
        stream: Option<&str>,
        size: u64,
        deleted: bool,
        head: impl FnOnce() -> Vec<u8>,
    ) -> Option<Reason> {
        let mut head = Some(head);
        self.select_probing(path, stream, size, deleted, |offset, len| {
            let h = match head.take() {
                Some(f) => f(),
                None => return Vec::new(),
            };
            let from = (offset as usize).min(h.len());
            h[from..].iter().take(len).copied().collect()
        })
    }

    /// [`Selection::select`] reading the stream through `read(offset, len)` (at most `len`
    /// bytes at `offset`; fewer at the end, empty when unreadable), only when the name,
    /// metadata and size have not decided: its first [`HEAD_LEN`](crate::sniff::HEAD_LEN)
    /// bytes for the magic numbers, and for a carrier or source file of at most
    /// [`MAX_PROBED_SIZE`] bytes its first [`PROBE_HEAD`] and last [`PROBE_TAIL`] bytes.
    pub fn select_probing(
        &self,
        path: &str,
        stream: Option<&str>,
        size: u64,
        deleted: bool,
        mut read: impl FnMut(u64, usize) -> Vec<u8>,
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
        if stream.is_none() && compiled_leftover(path) {
            return Some(Reason::Compiled);
        }
        if size == 0 {
            return None;
        }
        let leaf = stream.unwrap_or(path);
        let ext = extension(leaf);
        let carrier = match ext.as_deref() {
            None => true,
            Some(e) => CARRIER_EXTENSIONS.contains(&e),
        };
        let source = ext
            .as_deref()
            .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e));
        let probe = (carrier || source) && size <= MAX_PROBED_SIZE && !system_file(path);
        let head = read(
            0,
            if probe {
                PROBE_HEAD
            } else {
                crate::sniff::HEAD_LEN
            },
        );
        if let Some(m) = interesting_magic(&head)
            .or_else(|| starts_server_script(&head).then_some("server_script"))
        {
            return Some(Reason::Magic(m));
        }
        if !probe {
            return None;
        }
        if source {
            return uses_web_api(&head).then_some(Reason::Magic("web_source"));
        }
        if carries_server_code(&head) {
            return Some(Reason::Magic("embedded_server_script"));
        }
        let read_so_far = head.len() as u64;
        if size > read_so_far {
            let from = size.saturating_sub(PROBE_TAIL as u64).max(read_so_far);
            let tail = read(from, (size - from) as usize);
            if carries_server_code(&tail) {
                return Some(Reason::Magic("embedded_server_script"));
            }
        }
        None
    }
}

/// Whether a volume path is NTFS metadata (`/$MFT`, `/$LogFile`, `/$Extend/$UsnJrnl`, …; not
/// `$Recycle.Bin`) or under `System Volume Information`: files that hold copies of other files'
/// bytes (resident data in MFT records, the log's pages, shadow-copy stores), never probed as
/// carriers, or every small web script on the volume would be found a second time in them.
pub fn system_file(path: &str) -> bool {
    let first = path
        .split(['/', '\\'])
        .find(|c| !c.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase();
    (first.starts_with('$') && first != "$recycle.bin") || first == "system volume information"
}

/// Case-insensitive matchers of `patterns` (ASCII), built once.
fn matcher(
    cell: &'static std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
    patterns: &[&str],
) -> Option<&'static aho_corasick::AhoCorasick> {
    cell.get_or_init(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .ok()
    })
    .as_ref()
}

/// Whether bytes of a carrier file hold server code: a page directive (`<%@`), a server script
/// block (`runat="server"`, `runat=server`), or a `<% … %>` block that reads the request. Text
/// about ASP with none of these (`<%` alone in prose) does not count. One case-insensitive pass
/// over the bytes (the probe reads up to 48 KiB of thousands of small files on a volume).
pub fn carries_server_code(b: &[u8]) -> bool {
    static OPEN: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    static REQUEST: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> =
        std::sync::OnceLock::new();
    let (Some(open), Some(request)) = (
        matcher(&OPEN, &["<%", "runat"]),
        matcher(&REQUEST, &["request", "%>"]),
    ) else {
        return false;
    };
    for m in open.find_iter(b) {
        let rest = &b[m.end()..];
        if m.pattern().as_usize() == 1 {
            // runat, then blanks, `=` and quotes, then `server`
            let v: Vec<u8> = rest
                .iter()
                .take(16)
                .filter(|c| !c.is_ascii_whitespace() && !matches!(c, b'=' | b'"' | b'\''))
                .map(u8::to_ascii_lowercase)
                .collect();
            if v.starts_with(b"server") {
                return true;
            }
            continue;
        }
        let blanks = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
        if rest.get(blanks) == Some(&b'@') {
            return true;
        }
        // A block that reads the request before it closes (within 4 KiB).
        let block = &rest[..rest.len().min(4096)];
        if request
            .find_iter(block)
            .next()
            .is_some_and(|r| r.pattern().as_usize() == 0)
        {
            return true;
        }
    }
    false
}

/// Whether the start of a `.cs`/`.vb` source uses the ASP.NET API (a handler, module or page
/// class that App_Code would compile into the site).
pub fn uses_web_api(head: &[u8]) -> bool {
    static API: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> = std::sync::OnceLock::new();
    matcher(
        &API,
        &["System.Web", "HttpContext", "IHttpHandler", "IHttpModule"],
    )
    .is_some_and(|m| m.is_match(head))
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
        // server code inside a carrier: a picture, a note, a file without an extension
        let pic = b"\xFF\xD8\xFF\xE0JFIF\0\0<%@ Page Language=\"Jscript\"%><%eval(x)%>";
        assert_eq!(
            s.select("/a/x.jpg", None, pic.len() as u64, false, pic),
            Some(Reason::Magic("embedded_server_script"))
        );
        let note = b"how to: <% Execute Request(\"k\") %> in a page";
        assert_eq!(
            s.select("/a/notes", None, note.len() as u64, false, note),
            Some(Reason::Magic("embedded_server_script"))
        );
        assert_eq!(
            s.select("/a/x.html", None, 20, false, b"<div runat = \"server\">"),
            Some(Reason::Magic("embedded_server_script"))
        );
        // prose about ASP tags, a binary, a file too large to probe, another extension
        assert_eq!(
            s.select("/a/x.txt", None, 30, false, b"use <% and %> to open code"),
            None
        );
        assert_eq!(
            s.select("/a/x.png", None, 8, false, b"\x89PNG\r\n\x1a\n"),
            None
        );
        assert_eq!(
            s.select("/a/x.txt", None, MAX_PROBED_SIZE + 1, false, note),
            None
        );
        assert_eq!(
            s.select("/a/x.xml", None, note.len() as u64, false, note),
            None
        );
        // compiled leftovers
        let tmp = "/Windows/Microsoft.NET/Framework64/v4.0.30319/Temporary ASP.NET Files/owa/1a2b3c4d/5e6f7a8b";
        for leaf in [
            "App_Web_x.aspx.cdcab7d2.qwerty12.dll",
            "x.aspx.cdcab7d2.compiled",
        ] {
            assert_eq!(
                s.select(&format!("{tmp}/{leaf}"), None, 10, false, b""),
                Some(Reason::Compiled)
            );
        }
        assert_eq!(
            s.select(&format!("{tmp}/assembly/other.dll"), None, 10, false, b""),
            None
        );
        assert_eq!(s.select("/bin/App_Web_x.dll", None, 10, false, b""), None);
        // NTFS metadata holds copies of small files (resident data): never probed
        assert_eq!(
            s.select("/$MFT", None, note.len() as u64, false, note),
            None
        );
        assert_eq!(
            s.select("/$Extend/$UsnJrnl", Some("$J"), 10, false, note),
            None
        );
        assert_eq!(
            s.select(
                "/System Volume Information/{3808876b-c176-4e48-b7ae-04046e6cc752}",
                None,
                10,
                false,
                note
            ),
            None
        );
        assert_eq!(
            s.select(
                "/$Recycle.Bin/S-1-5-18/$R0AB12C.txt",
                None,
                note.len() as u64,
                false,
                note
            ),
            Some(Reason::Magic("embedded_server_script"))
        );
        // App_Code sources that use the web API
        let cs = b"using System.Web;\npublic class H : IHttpHandler {}";
        assert_eq!(
            s.select("/site/App_Code/h.cs", None, cs.len() as u64, false, cs),
            Some(Reason::Magic("web_source"))
        );
        assert_eq!(
            s.select("/src/x.cs", None, 20, false, b"class X { int a; }"),
            None
        );
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
