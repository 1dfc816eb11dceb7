//! Loading a scan's hash lists (IOCs, known-good baselines). The YARA rules are compiled in
//! the `rules` module (with the `yara` feature).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// A list of hashes (MD5, SHA-1, SHA-256 told apart by length), each with a comment.
#[derive(Debug, Clone, Default)]
pub struct HashList {
    map: HashMap<String, String>,
}

impl HashList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds one hash (hex, any case) with a comment; refuses anything that is not 32, 40 or 64
    /// hex digits.
    pub fn insert(&mut self, hash: &str, comment: &str) -> Result<()> {
        let h = hash.trim().to_ascii_lowercase();
        if !matches!(h.len(), 32 | 40 | 64) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "{hash:?} is not an MD5, SHA-1 or SHA-256"
            )));
        }
        self.map.insert(h, comment.trim().to_string());
        Ok(())
    }

    /// Reads a list: lines `hash[;comment]` or the Exchange baseline CSV `HASH,build,relative
    /// path`; `#` comments and blank lines skipped. A malformed line is an error naming it.
    pub fn load(&mut self, path: &Path) -> Result<usize> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let before = self.map.len();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (hash, comment) = match line.split_once([';', ',']) {
                Some((h, rest)) => (h, rest),
                None => (line, ""),
            };
            if i == 0 && !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue; // a CSV header
            }
            self.insert(hash, comment)
                .map_err(|e| Error::Invalid(format!("{}:{}: {e}", path.display(), i + 1)))?;
        }
        Ok(self.map.len() - before)
    }

    /// The comment of the first of `hashes` that is listed.
    pub fn lookup<'a>(&'a self, hashes: &[Option<&str>]) -> Option<(&'a str, &'a str)> {
        hashes.iter().flatten().find_map(|h| {
            self.map
                .get_key_value(*h)
                .map(|(k, v)| (k.as_str(), v.as_str()))
        })
    }
}
