//! Triage collections: a folder as KAPE, CyLR or Velociraptor write it, with the files of a
//! volume under a folder named for its drive (`C`, `C:` or `C%3A`). Scanned, each file keeps its
//! original volume path, so the ProxyLogon assessment reads the folder as it reads a volume:
//! the Exchange install (loose `SOFTWARE` hive or default folders), drop folders, and the logs.
//!
//! Names are percent-decoded as those tools encode them (`%24MFT` is `$MFT`, `x.htm%3Ahidden.aspx`
//! is the alternate data stream `hidden.aspx` of `x.htm`).

use std::path::{Path, PathBuf};

/// Folders that say a folder holds a Windows volume's files.
const MARKERS: &[&str] = &[
    "windows",
    "inetpub",
    "program files",
    "users",
    "$mft",
    "programdata",
];

/// The folder under `dir` (itself included, at most 4 levels down) that holds a Windows
/// volume's files: named for a drive (one letter, optionally with `:` or `%3A`) or holding them
/// directly, and having at least one of [`MARKERS`]. `None` for a folder of plain files.
pub(crate) fn find_root(dir: &Path) -> Option<PathBuf> {
    let has_markers = |d: &Path| {
        std::fs::read_dir(d).ok().is_some_and(|rd| {
            rd.filter_map(|e| e.ok()).any(|e| {
                MARKERS.contains(
                    &decode(&e.file_name().to_string_lossy())
                        .to_lowercase()
                        .as_str(),
                )
            })
        })
    };
    let is_drive = |name: &str| {
        let n = decode(name);
        let b = n.as_bytes();
        (b.len() == 1 || (b.len() == 2 && b[1] == b':')) && b[0].is_ascii_alphabetic()
    };
    let mut level = vec![dir.to_path_buf()];
    for depth in 0..=4 {
        let mut next = Vec::new();
        for d in &level {
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if (depth == 0 || is_drive(&name)) && has_markers(d) {
                return Some(d.clone());
            }
            let Ok(rd) = std::fs::read_dir(d) else {
                continue;
            };
            let mut subs: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            subs.sort();
            next.extend(subs);
        }
        // Bounded: a huge folder tree is not searched for a root.
        next.truncate(4096);
        level = next;
    }
    None
}

/// The volume path and stream of `file` under collection `root`: `/` and the decoded
/// components; a last component `name:stream` (after decoding) names an alternate data stream.
pub(crate) fn volume_path(root: &Path, file: &Path) -> Option<(String, Option<String>)> {
    let rel = file.strip_prefix(root).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| decode(&c.as_os_str().to_string_lossy()))
        .collect();
    let last = parts.pop()?;
    let (name, stream) = match last.split_once(':') {
        Some((n, s)) if !n.is_empty() && !s.is_empty() => (n.to_string(), Some(s.to_string())),
        _ => (last, None),
    };
    parts.push(name);
    Some((format!("/{}", parts.join("/")), stream))
}

/// Decodes `%XX` escapes of printable ASCII (as collection tools write `$`, `:` and the like);
/// anything else is left as it is.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                if (0x20..0x7f).contains(&v) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_decode_as_collection_tools_encode_them() {
        assert_eq!(decode("%24MFT"), "$MFT");
        assert_eq!(decode("C%3A"), "C:");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%00x"), "%00x");
        let root = Path::new("/c/C%3A");
        assert_eq!(
            volume_path(
                root,
                Path::new("/c/C%3A/inetpub/wwwroot/iisstart.htm%3Ahidden.aspx")
            ),
            Some((
                "/inetpub/wwwroot/iisstart.htm".into(),
                Some("hidden.aspx".into())
            ))
        );
        assert_eq!(
            volume_path(root, Path::new("/c/C%3A/%24Extend/%24UsnJrnl%3A%24J")),
            Some(("/$Extend/$UsnJrnl".into(), Some("$J".into())))
        );
    }
}
