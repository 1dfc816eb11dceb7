//! Safe export: copy selected streams out of an image into a folder, with a manifest.
//!
//! Names from the image are never trusted. Each path component is rebuilt from the image's
//! name with everything that could escape the output folder or confuse a host escaped as `%XX`
//! (separators, `:`, control and invisible characters, `%` itself, a leading or trailing dot
//! or space), `.`/`..` made harmless, Windows device names (`CON`, `NUL`, `COM1`, …) prefixed with
//! `_`, overlong names cut (with a hash suffix to stay unique) and case-insensitive collisions
//! made unique with `~N`. Files are created with `create_new` (never overwriting, never
//! following a symlink planted at the target), inside directories this module creates itself.
//! The output folder must be new or empty. Everything written is listed in `manifest.jsonl`.

use crate::error::{Error, Result};
use crate::hash::{Algorithms, MultiHasher};
use crate::ntfs::{Item, NtfsVolume};
use crate::rows::times;
use crate::sniff::stream_range;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Longest exported name component, in bytes.
const MAX_COMPONENT: usize = 180;
/// Deepest exported path (deeper ones are flattened under `_deep_paths/`).
const MAX_DEPTH: usize = 64;

/// One line of `manifest.jsonl`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Evidence file.
    pub evidence: String,
    /// Partition index (`None` for a bare volume).
    pub partition: Option<u32>,
    /// Original volume path.
    pub path: String,
    /// Original stream name.
    pub stream: Option<String>,
    /// MFT entry.
    pub mft_entry: u64,
    /// MFT sequence.
    pub mft_sequence: u16,
    /// Deleted file.
    pub deleted: bool,
    /// Bytes written.
    pub size: u64,
    /// MD5 of what was written.
    pub md5: Option<String>,
    /// SHA-1 of what was written.
    pub sha1: Option<String>,
    /// SHA-256 of what was written.
    pub sha256: Option<String>,
    /// `$STANDARD_INFORMATION` times.
    pub si: Option<crate::finding::Times>,
    /// Path of the exported file, relative to the output folder (`None` when it failed).
    pub exported: Option<String>,
    /// Why the stream could not be exported, if it could not.
    pub error: Option<String>,
}

const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "CONIN$",
    "CONOUT$",
];

/// A host-safe file name for one component of an image path.
pub fn sanitize_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let n = name.chars().count();
    for (i, c) in name.chars().enumerate() {
        let edge = i == 0 || i + 1 == n;
        let bad = c == '/'
            || c == '\\'
            || c == ':'
            || c == '%'
            || c == '*'
            || c == '?'
            || c == '"'
            || c == '<'
            || c == '>'
            || c == '|'
            || c.is_control()
            || c == '\u{FFFD}'
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
            || (edge && (c == ' ' || c == '.'));
        if bad {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    if DEVICE_NAMES.contains(&stem.as_str()) {
        out.insert(0, '_');
    }
    if out.len() > MAX_COMPONENT {
        let h = crate::hash::digest(
            Algorithms::parse("sha256").unwrap_or_default(),
            name.as_bytes(),
        );
        let mut cut = MAX_COMPONENT - 17;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out = format!("{}~{}", &out[..cut], &h.sha256.unwrap_or_default()[..16]);
    }
    out
}

/// Writes selected streams of volumes into a folder. Create with [`Exporter::new`].
#[derive(Debug)]
pub struct Exporter {
    root: PathBuf,
    manifest: std::fs::File,
    /// Lowercased relative paths already used (files and folders), for collision suffixes.
    used: HashSet<String>,
    /// Per lowercased wanted path: the next `~N` suffix to try. Without it, the k-th case
    /// twin probed `~2` … `~k` again: quadratic in the twins an image may hold (a directory
    /// of POSIX-namespace names differing only in case).
    next_suffix: HashMap<String, u64>,
    /// Names probed in `used` (for the test that collisions are resolved in linear time).
    probes: u64,
    /// Directories created (relative, as created).
    dirs: HashMap<String, String>,
    hashes: Algorithms,
    count: u64,
}

impl Exporter {
    /// Prepares `out` (created when missing; must be empty when present).
    pub fn new(out: &Path, hashes: Algorithms) -> Result<Self> {
        match std::fs::symlink_metadata(out) {
            Ok(m) if m.is_dir() => {
                let mut rd = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
                if rd.next().is_some() {
                    return Err(Error::Invalid(format!("{} is not empty", out.display())));
                }
            }
            Ok(_) => {
                return Err(Error::Invalid(format!(
                    "{} exists and is not a folder",
                    out.display()
                )))
            }
            Err(_) => std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?,
        }
        let mpath = out.join("manifest.jsonl");
        let manifest = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&mpath)
            .map_err(|e| Error::io(&mpath, e))?;
        let mut used = HashSet::new();
        used.insert("manifest.jsonl".to_string());
        Ok(Exporter {
            root: out.to_path_buf(),
            manifest,
            used,
            next_suffix: HashMap::new(),
            probes: 0,
            dirs: HashMap::new(),
            hashes,
            count: 0,
        })
    }

    /// Number of streams written.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// A unique relative name for `wanted` inside `dir` (relative, `/`-joined, may be empty).
    fn unique(&mut self, dir: &str, wanted: &str) -> String {
        let join = |n: &str| {
            if dir.is_empty() {
                n.to_string()
            } else {
                format!("{dir}/{n}")
            }
        };
        let key = join(wanted).to_lowercase();
        // Suffixes already given to this name are not probed again: each probe either finds
        // the name free or skips one taken by another (e.g. an image's own `a~2`), so n twins
        // cost O(n) probes, not O(n²).
        let mut k = self.next_suffix.get(&key).copied().unwrap_or(1);
        let mut name = if k == 1 {
            wanted.to_string()
        } else {
            format!("{wanted}~{k}")
        };
        loop {
            self.probes += 1;
            if !self.used.contains(&join(&name).to_lowercase()) {
                break;
            }
            k += 1;
            name = format!("{wanted}~{k}");
        }
        self.next_suffix.insert(key, k + 1);
        let rel = join(&name);
        self.used.insert(rel.to_lowercase());
        rel
    }

    /// The relative folder for image folder components, creating it (never through a symlink).
    fn folder(&mut self, comps: &[String]) -> Result<String> {
        let mut rel = String::new();
        for c in comps {
            let key = if rel.is_empty() {
                c.to_lowercase()
            } else {
                format!("{}/{}", rel.to_lowercase(), c.to_lowercase())
            };
            rel = match self.dirs.get(&key) {
                Some(r) => r.clone(),
                None => {
                    let r = self.unique(&rel, c);
                    let p = self.root.join(&r);
                    std::fs::create_dir(&p).map_err(|e| Error::io(&p, e))?;
                    self.dirs.insert(key, r.clone());
                    r
                }
            };
        }
        Ok(rel)
    }

    /// Exports one stream of a listing item; the manifest line says what happened.
    pub fn export(
        &mut self,
        evidence: &str,
        vol: &NtfsVolume,
        item: &Item<'_>,
        max_read: u64,
    ) -> Result<ManifestEntry> {
        let Some(stream) = item.stream else {
            return Err(Error::Invalid("directories are not exported".into()));
        };
        let mut entry = ManifestEntry {
            evidence: evidence.to_string(),
            partition: vol.partition(),
            path: item.path().to_string(),
            stream: stream.name.clone(),
            mft_entry: item.file.entry,
            mft_sequence: item.file.sequence,
            deleted: item.file.deleted,
            size: 0,
            md5: None,
            sha1: None,
            sha256: None,
            si: item.file.si.map(|s| times(&s.times)),
            exported: None,
            error: None,
        };
        let top = match vol.partition() {
            Some(p) => format!("partition{p}"),
            None => format!("volume@{}", vol.offset()),
        };
        // The image's names one by one (a `/` inside a name stays inside its component).
        let parts: Vec<&str> = item.components();
        let (dirs, leaf) = match parts.split_last() {
            Some((leaf, dirs)) => (dirs.to_vec(), leaf.to_string()),
            None => (Vec::new(), "root".to_string()),
        };
        let mut comps: Vec<String> = vec![top];
        if dirs.len() > MAX_DEPTH {
            comps.push("_deep_paths".into());
            comps.push(sanitize_component(&dirs.join("/")));
        } else {
            comps.extend(dirs.iter().map(|d| sanitize_component(d)));
        }
        let mut name = sanitize_component(&leaf);
        if let Some(s) = &stream.name {
            name = format!("{name}%3A{}", sanitize_component(s));
            if name.len() > MAX_COMPONENT + 20 {
                name = sanitize_component(&format!("{leaf}:{s}"));
            }
        }
        let result = (|| -> Result<(String, u64, crate::hash::Digests)> {
            if stream.size > max_read {
                return Err(Error::Limit(format!(
                    "{} bytes exceeds the read limit of {max_read}",
                    stream.size
                )));
            }
            let dir = self.folder(&comps)?;
            let rel = self.unique(&dir, &name);
            let path = self.root.join(&rel);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            let mut h = MultiHasher::new(self.hashes);
            let mut n = 0u64;
            // `$BadClus:$Bad` as its bad clusters, as `hash` and TSK give it.
            let r = vol.visit_content(entry.mft_entry, stream, &mut |c| {
                h.update(c);
                n += c.len() as u64;
                f.write_all(c).map_err(|e| Error::io(&path, e))
            });
            r?;
            Ok((rel, n, h.finish()))
        })();
        match result {
            Ok((rel, n, d)) => {
                entry.exported = Some(rel);
                entry.size = n;
                entry.md5 = d.md5;
                entry.sha1 = d.sha1;
                entry.sha256 = d.sha256;
                self.count += 1;
            }
            Err(e) => entry.error = Some(e.to_string()),
        }
        let line = serde_json::to_string(&entry).map_err(|e| Error::Invalid(e.to_string()))?;
        writeln!(self.manifest, "{line}")
            .map_err(|e| Error::io(self.root.join("manifest.jsonl"), e))?;
        Ok(entry)
    }
}

/// Identifies a stream: (partition, MFT entry, stream name, path).
pub type StreamKey = (Option<u32>, u64, Option<String>, String);

/// The streams that findings are about (diagnostics left out), as keys for
/// [`export_image`]'s `only`.
pub fn streams_of(findings: &[crate::finding::Finding]) -> HashSet<StreamKey> {
    findings
        .iter()
        .filter(|f| f.kind != crate::finding::FindingKind::Diagnostic && f.file.is_some())
        .filter_map(|f| {
            let l = &f.location;
            Some((l.partition, l.mft_entry?, l.stream.clone(), l.path.clone()))
        })
        .collect()
}

/// Exports the streams of every volume of `image` that `selection` takes (and, when `only` is
/// given, only those whose key is in it) into `exporter`. Returns the manifest entries.
pub fn export_image(
    image: &crate::Image,
    selection: &crate::scan::Selection,
    only: Option<&HashSet<StreamKey>>,
    exporter: &mut Exporter,
    max_read: u64,
) -> Result<Vec<ManifestEntry>> {
    let evidence = image.path().display().to_string();
    let mut out = Vec::new();
    for vol in image.volumes() {
        let listing = vol.walk();
        for item in listing.items() {
            let Some(s) = item.stream else { continue };
            if let Some(keys) = only {
                let key = (
                    vol.partition(),
                    item.file.entry,
                    s.name.clone(),
                    item.path().to_string(),
                );
                if !keys.contains(&key) {
                    continue;
                }
            } else {
                if selection
                    .select_probing(
                        item.path(),
                        s.name.as_deref(),
                        s.size,
                        item.file.deleted,
                        |o, n| stream_range(vol, s, o, n),
                    )
                    .is_none()
                {
                    continue;
                }
            }
            out.push(exporter.export(&evidence, vol, &item, max_read)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_defused() {
        assert_eq!(sanitize_component(".."), "%2E%2E");
        assert_eq!(sanitize_component("."), "%2E");
        assert_eq!(sanitize_component("a/../../etc"), "a%2F..%2F..%2Fetc");
        assert_eq!(sanitize_component("x\0y"), "x%00y");
        assert_eq!(sanitize_component("CON"), "_CON");
        assert_eq!(sanitize_component("nul.txt"), "_nul.txt");
        assert_eq!(sanitize_component("a:b"), "a%3Ab");
        assert_eq!(sanitize_component("100%"), "100%25");
        assert_eq!(
            sanitize_component("evil\u{202E}txt.exe"),
            "evil%E2%80%AEtxt.exe"
        );
        assert_eq!(sanitize_component(""), "%00");
        let long = "x".repeat(400);
        let s = sanitize_component(&long);
        assert!(s.len() <= MAX_COMPONENT);
        assert_ne!(s, sanitize_component(&"x".repeat(401)));
        assert_eq!(sanitize_component("normal name.aspx"), "normal name.aspx");
    }

    /// 20,000 names equal but for case (POSIX names in one directory) get `~2` … `~20000` in
    /// linear time: one probe each (the old one-by-one search made 200 million), and a name
    /// the image holds literally (`name~3`) is skipped, not overwritten.
    #[test]
    fn case_twins_are_resolved_in_linear_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Exporter::new(&dir.path().join("out"), Algorithms::default()).unwrap();
        let base = "abcdefghijklmnopq.txt";
        let twins: Vec<String> = (0..20_000u32)
            .map(|m| {
                base.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if i < 17 && m >> i & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            ex.unique("d", "abcdefghijklmnopq.txt~3"),
            "d/abcdefghijklmnopq.txt~3"
        );
        let got: Vec<String> = twins.iter().map(|t| ex.unique("d", t)).collect();
        assert_eq!(got[0], format!("d/{base}"));
        assert_eq!(got[1], format!("d/{}~2", twins[1]));
        assert_eq!(got[2], format!("d/{}~4", twins[2]));
        assert_eq!(got[19_999], format!("d/{}~20001", twins[19_999]));
        let lower: HashSet<String> = got.iter().map(|g| g.to_lowercase()).collect();
        assert_eq!(lower.len(), 20_000);
        // One probe per name, plus one for the literal `~3` skipped.
        assert_eq!(ex.probes, 20_001 + 1, "{}", ex.probes);
    }
}
