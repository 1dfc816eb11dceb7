//! Compiled leftovers of ASP.NET pages. When IIS first serves a page, ASP.NET compiles it into
//! `Temporary ASP.NET Files/<app>/<hash>/<hash>/App_Web_*.dll` and writes beside it a
//! `<page>.<hash>.compiled` file, a small XML record that names the page's virtual path, its
//! assembly and its type:
//!
//! ```xml
//! <preserve resultType="3" virtualPath="/owa/auth/x.aspx" hash="…" filehash="…"
//!     flags="110000" assembly="App_Web_x.aspx.cdcab7d2.abcd1234" type="ASP.owa_auth_x_aspx">
//! ```
//!
//! Both outlive the page: a web shell deleted from the web root leaves them there. After the
//! walk of a volume (or folder), the scan checks every `.compiled` record whose virtual path
//! is a web script against the web scripts that exist: a record whose page is on the volume
//! under no path ending in its virtual path (or in its path inside the application, see
//! [`WebIndex::has_page`]) is an `orphan_compiled_page` finding (medium; high when its
//! assembly matched a web-shell rule in the same scan).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use crate::finding::detail::{Detail, OrphanCompiledPageDetail};
use crate::finding::{FileFacts, Finding, FindingKind, Location, Severity};

/// Bytes of a `.compiled` record read (real ones are well under 4 KiB).
pub const MAX_COMPILED_BYTES: usize = 64 << 10;
/// Most web-script paths remembered per volume for the check (past it the check is skipped,
/// with a diagnostic: an absent path would otherwise read as a deleted page).
pub const MAX_WEB_PATHS: usize = 1 << 20;
/// Most `.compiled` records checked per volume.
pub const MAX_COMPILED_RECORDS: usize = 100_000;

/// What a `.compiled` record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledPage {
    /// `virtualPath`: the source page's path on the web site (`/owa/auth/x.aspx`).
    pub virtual_path: String,
    /// `assembly`: the compiled assembly's name, without `.dll`.
    pub assembly: Option<String>,
    /// `type`: the page's class.
    pub type_name: Option<String>,
}

/// The value of attribute `name` in the first `<preserve …>` element of `xml` (UTF-8, or
/// UTF-16 LE with a BOM), XML entities `&amp; &lt; &gt; &quot; &apos;` decoded.
fn attribute(text: &str, name: &str) -> Option<String> {
    let start = text.find("<preserve")?;
    let end = text[start..].find('>').map_or(text.len(), |e| start + e);
    let element = &text[start..end];
    let mut rest = element;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].trim_start();
        if before.is_some_and(char::is_whitespace) {
            if let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let quote = v.chars().next().filter(|c| *c == '"' || *c == '\'')?;
                let value = &v[1..];
                let close = value.find(quote)?;
                return Some(
                    value[..close]
                        .replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&quot;", "\"")
                        .replace("&apos;", "'")
                        .replace("&amp;", "&"),
                );
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// Parses a `.compiled` record (its first [`MAX_COMPILED_BYTES`] bytes). `None` when it holds
/// no `<preserve>` element with a `virtualPath`.
pub fn parse_compiled(bytes: &[u8]) -> Option<CompiledPage> {
    let bytes = &bytes[..bytes.len().min(MAX_COMPILED_BYTES)];
    let text = if let Some(b) = bytes.strip_prefix(b"\xFF\xFE") {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).into_owned()
    };
    let virtual_path = attribute(&text, "virtualPath").filter(|v| !v.is_empty())?;
    Some(CompiledPage {
        virtual_path,
        assembly: attribute(&text, "assembly").filter(|v| !v.is_empty()),
        type_name: attribute(&text, "type").filter(|v| !v.is_empty()),
    })
}

/// The web scripts of a volume, to tell whether a virtual path has a page on it: the hashes of
/// each path's last 1 to [`MAX_SUFFIX_PARTS`] components (lowercased), so that a lookup costs
/// two hash probes whatever the paths. (Comparing a virtual path with every page of the same
/// file name cost pages × records: a volume of a million `x.aspx` pages and 100,000 `.compiled`
/// records naming `x.aspx` made 10^11 comparisons.)
#[derive(Debug, Default)]
pub struct WebIndex {
    suffixes: HashSet<u64>,
    keys: std::hash::RandomState,
    count: usize,
    /// More than [`MAX_WEB_PATHS`] were offered: the index cannot say a page is absent.
    pub overflow: bool,
}

/// Most trailing components of a path indexed (and compared: a longer virtual path is compared
/// by its last ones, which errs towards "present").
pub const MAX_SUFFIX_PARTS: usize = 8;

impl WebIndex {
    /// The hash of a run of lowercased path components.
    fn key(&self, parts: &[&str]) -> u64 {
        self.keys.hash_one(parts)
    }

    /// Remembers a live web script's path (volume or host path).
    pub fn add(&mut self, path: &str) {
        if self.count >= MAX_WEB_PATHS {
            self.overflow = true;
            return;
        }
        let lower = path.replace('\\', "/").to_lowercase();
        let parts: Vec<&str> = lower.split('/').filter(|p| !p.is_empty()).collect();
        for k in 1..=parts.len().min(MAX_SUFFIX_PARTS) {
            let key = self.key(&parts[parts.len() - k..]);
            self.suffixes.insert(key);
        }
        self.count += 1;
    }

    /// Whether a page exists whose path ends with `virtual_path` (case-insensitive, whole
    /// components), or with its path inside the application (the virtual path less its first
    /// folder): IIS maps `/owa/auth/x.aspx` to `…/FrontEnd/HttpProxy/owa/auth/x.aspx` and
    /// `/x.aspx` to `inetpub/wwwroot/x.aspx`, but an application may live in a folder of
    /// another name (`/EWS` in `exchweb/ews`, `/Microsoft-Server-ActiveSync` in `sync`).
    /// Without the site's configuration the check errs towards "present": a page at the same
    /// path of another application also counts.
    pub fn has_page(&self, virtual_path: &str) -> bool {
        let v = virtual_path.replace('\\', "/").to_lowercase();
        let parts: Vec<&str> = v.split('/').filter(|p| !p.is_empty()).collect();
        if parts.is_empty() {
            return false;
        }
        let tail = |p: &[&str]| self.key(&p[p.len().saturating_sub(MAX_SUFFIX_PARTS)..]);
        // "/app/auth/x.aspx" -> "/auth/x.aspx"; a page at the site's root has no application.
        self.suffixes.contains(&tail(&parts))
            || (parts.len() > 1 && self.suffixes.contains(&tail(&parts[1..])))
    }
}

/// Whether a path is a `.compiled` record (under `Temporary ASP.NET Files`).
pub(crate) fn is_compiled_record(path: &str) -> bool {
    super::select::compiled_leftover(path) && path.to_ascii_lowercase().ends_with(".compiled")
}

/// Whether a finding is a web-shell hit on a compiled page assembly: a YARA match of medium or
/// above (or an IOC hash) on an `App_Web_*.dll` under `Temporary ASP.NET Files`. Returns the
/// lowercased path and the rule (or `ioc`).
pub(crate) fn assembly_hit(f: &Finding) -> Option<(String, String)> {
    if f.severity < Severity::Medium
        || !matches!(f.kind, FindingKind::YaraMatch | FindingKind::IocHash)
        || f.location.stream.is_some()
        || !super::select::compiled_leftover(&f.location.path)
        || !f.location.path.to_ascii_lowercase().ends_with(".dll")
    {
        return None;
    }
    let rule = match &f.rule {
        Some(r) => format!("{}:{}", r.namespace, r.name),
        None => "ioc_hash".to_string(),
    };
    Some((f.location.path.replace('\\', "/").to_lowercase(), rule))
}

/// The finding for one `.compiled` record (`bytes`, at `location`), or `None` when it names
/// no web script or its page exists. `hits`: lowercased assembly path → rules that matched it.
pub(crate) fn check_record(
    bytes: &[u8],
    location: &Location,
    facts: &FileFacts,
    pages: &WebIndex,
    hits: &HashMap<String, Vec<String>>,
) -> Option<Finding> {
    let page = parse_compiled(bytes)?;
    if !crate::exchange::is_web_script(&page.virtual_path) || pages.has_page(&page.virtual_path) {
        return None;
    }
    let dir = location
        .path
        .rsplit_once(['/', '\\'])
        .map_or("", |(d, _)| d);
    let dll = page.assembly.as_ref().map(|a| format!("{dir}/{a}.dll"));
    let rules = dll
        .as_ref()
        .and_then(|d| hits.get(&d.replace('\\', "/").to_lowercase()))
        .cloned()
        .unwrap_or_default();
    let (severity, title) = if rules.is_empty() {
        (
            Severity::Medium,
            format!(
                "compiled ASP.NET page whose source {} is no longer on the volume",
                page.virtual_path
            ),
        )
    } else {
        (
            Severity::High,
            format!(
                "compiled ASP.NET page whose source {} is no longer on the volume, and whose assembly matches web-shell rules ({})",
                page.virtual_path,
                rules.join(", ")
            ),
        )
    };
    Some(Finding {
        kind: FindingKind::OrphanCompiledPage,
        severity,
        title,
        location: location.clone(),
        file: Some(facts.clone()),
        cve: Vec::new(),
        rule: None,
        quote: None,
        detail: Detail::OrphanCompiledPage(OrphanCompiledPageDetail {
            virtual_path: page.virtual_path,
            assembly: page.assembly,
            type_name: page.type_name,
            assembly_path: dll,
            assembly_rules: rules,
        }),
    })
}

/// A `.compiled` record of a loose folder: host path, volume path (and stream) of a collected
/// file, and the path shown in findings.
pub(super) type LooseRecord = (std::path::PathBuf, Option<(String, Option<String>)>, String);

impl super::Scan {
    /// The findings of the `.compiled` records of a loose folder: `(host path, volume path of
    /// a collection, shown path)`; `pages` holds the folder's web scripts.
    pub(super) fn loose_compiled_records(
        &self,
        evidence: &str,
        records: &[LooseRecord],
        pages: &WebIndex,
        hits: &HashMap<String, Vec<String>>,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        if pages.overflow {
            out.push(super::diagnostic(
                Location::new(evidence, None, None, "", None),
                None,
                &format!("compiled pages not checked for a missing source: more than {MAX_WEB_PATHS} web scripts"),
            ));
            return out;
        }
        for (p, vpath, shown) in records.iter().take(MAX_COMPILED_RECORDS) {
            let host = p.display().to_string();
            let location = match vpath {
                Some(_) => Location::new(&host, None, None, shown, None),
                None => Location::new(evidence, None, None, &host, None),
            };
            let bytes = crate::sniff::file_range(p, 0, MAX_COMPILED_BYTES);
            let facts = FileFacts {
                size: std::fs::metadata(p)
                    .map(|m| m.len())
                    .unwrap_or(bytes.len() as u64),
                ..FileFacts::default()
            };
            out.extend(check_record(&bytes, &location, &facts, pages, hits));
        }
        out
    }

    /// The findings of the `.compiled` records of a volume (`records`: their listing); `pages`
    /// holds the volume's live web scripts.
    pub(super) fn volume_compiled_records(
        &self,
        evidence: &str,
        vol: &crate::ntfs::NtfsVolume,
        records: &crate::ntfs::Listing,
        pages: &WebIndex,
        hits: &HashMap<String, Vec<String>>,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        if pages.overflow {
            out.push(super::diagnostic(
                Location::new(evidence, vol.partition(), Some(vol.offset()), "", None),
                None,
                &format!("compiled pages not checked for a missing source: more than {MAX_WEB_PATHS} web scripts"),
            ));
            return out;
        }
        let items = records.items().filter(|i| {
            !i.is_dir_row
                && i.stream.is_some_and(|s| s.name.is_none())
                && is_compiled_record(i.path())
        });
        for item in items.take(MAX_COMPILED_RECORDS) {
            let Some(s) = item.stream else { continue };
            let (location, facts) = super::assess::item_provenance(evidence, vol, &item, s);
            let bytes = crate::sniff::stream_range(vol, s, 0, MAX_COMPILED_BYTES);
            out.extend(check_record(&bytes, &location, &facts, pages, hits));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<preserve resultType="3" virtualPath="/owa/auth/x.aspx" hash="fffffffe8d2a3b8c" filehash="5a1e6b2f3c4d" flags="110000" assembly="App_Web_x.aspx.cdcab7d2.abcd1234" type="ASP.owa_auth_x_aspx">
    <filedeps>
        <filedep name="/owa/auth/x.aspx" />
    </filedeps>
</preserve>
"#;

    #[test]
    fn parses_records() {
        let p = parse_compiled(RECORD.as_bytes()).unwrap();
        assert_eq!(p.virtual_path, "/owa/auth/x.aspx");
        assert_eq!(
            p.assembly.as_deref(),
            Some("App_Web_x.aspx.cdcab7d2.abcd1234")
        );
        assert_eq!(p.type_name.as_deref(), Some("ASP.owa_auth_x_aspx"));
        // UTF-16 with a BOM, and entities
        let mut utf16 = vec![0xFF, 0xFE];
        for u in RECORD
            .replace("/x.aspx\" hash", "/a&amp;b.aspx\" hash")
            .encode_utf16()
        {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(
            parse_compiled(&utf16).unwrap().virtual_path,
            "/owa/auth/a&b.aspx"
        );
        for bad in [
            &b""[..],
            b"<preserve",
            b"<preserve virtualPath=",
            b"<preserve virtualPath=\"",
            b"<preserve xvirtualPath=\"/a.aspx\">",
            b"\xFF\xFE<\0",
        ] {
            assert_eq!(parse_compiled(bad), None, "{bad:?}");
        }
        for n in 0..RECORD.len() {
            let _ = parse_compiled(&RECORD.as_bytes()[..n]);
        }
    }

    #[test]
    fn many_pages_of_one_name_are_looked_up_by_hash() {
        // 200,000 pages all named x.aspx, 20,000 lookups: compared one by one this was 4·10^9
        // string comparisons; by suffix hash, two probes each.
        let mut idx = WebIndex::default();
        for i in 0..200_000 {
            idx.add(&format!("/inetpub/wwwroot/app{i}/deep/x.aspx"));
        }
        for i in 0..20_000 {
            assert!(idx.has_page(&format!("/app{i}/deep/x.aspx")));
            assert!(idx.has_page(&format!("/other/app{i}/deep/x.aspx")));
            assert!(!idx.has_page(&format!("/app{i}/flat/x.aspx")));
        }
        assert!(idx.has_page("/deep/x.aspx"));
        assert!(!idx.has_page("/"));
        // Longer than the indexed suffixes: compared by its last ones.
        idx.add("/a/b/c/d/e/f/g/h/i/j/k.aspx");
        assert!(idx.has_page("/zz/yy/c/d/e/f/g/h/i/j/k.aspx"));
    }

    #[test]
    fn pages_by_virtual_path() {
        let mut idx = WebIndex::default();
        idx.add(
            "/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/logon.aspx",
        );
        idx.add("/inetpub/wwwroot/aspnet_client/y.aspx");
        assert!(idx.has_page("/owa/auth/LOGON.aspx"));
        assert!(idx.has_page("/aspnet_client/y.aspx"));
        assert!(!idx.has_page("/owa/auth/x.aspx"));
        // another application's page at the same path inside it counts (errs towards present)
        assert!(idx.has_page("/ecp/auth/logon.aspx"));
        assert!(!idx.has_page("/ecp/x/logon.aspx"));
        idx.add(
            "/Program Files/Microsoft/Exchange Server/V15/ClientAccess/exchweb/ews/Exchange.asmx",
        );
        assert!(idx.has_page("/EWS/exchange.asmx"));
        assert!(!idx.has_page("/z.aspx"));
        let loc = Location::new(
            "img",
            None,
            None,
            "/T/owa/a/b/x.aspx.cdcab7d2.compiled",
            None,
        );
        let f = check_record(
            RECORD.as_bytes(),
            &loc,
            &FileFacts::default(),
            &idx,
            &HashMap::new(),
        )
        .unwrap();
        assert_eq!(f.severity, Severity::Medium);
        let mut hits = HashMap::new();
        hits.insert(
            "/t/owa/a/b/app_web_x.aspx.cdcab7d2.abcd1234.dll".to_string(),
            vec!["webshells_compiled:compiled_page_command_shell".to_string()],
        );
        let f = check_record(RECORD.as_bytes(), &loc, &FileFacts::default(), &idx, &hits).unwrap();
        assert_eq!(f.severity, Severity::High);
        idx.add("/x/FrontEnd/HttpProxy/owa/auth/x.aspx");
        assert!(
            check_record(RECORD.as_bytes(), &loc, &FileFacts::default(), &idx, &hits).is_none()
        );
    }
}
