//! Loading a scan's hash lists (IOCs, known-good baselines). The YARA rules are compiled in
//! the `rules` module (with the `yara` feature).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// A list of hashes (MD5, SHA-1, SHA-256 told apart by length), each with a comment.
#[derive(Debug, Clone, Default)]
pub struct HashList {
    map: HashMap<String, String>,
    /// Which digest lengths it holds: bit 0 MD5, bit 1 SHA-1, bit 2 SHA-256.
    kinds: u8,
}

fn kind_bit(hex_len: usize) -> u8 {
    match hex_len {
        32 => 1,
        40 => 2,
        64 => 4,
        _ => 0,
    }
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
        self.kinds |= kind_bit(h.len());
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

    /// Whether the list holds a hash of `hex_len` hex digits (32 MD5, 40 SHA-1, 64 SHA-256):
    /// a scan computes only the digests its lists can match.
    pub fn holds_len(&self, hex_len: usize) -> bool {
        self.kinds & kind_bit(hex_len) != 0
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

#[cfg(test)]
mod tests {
    use super::HashList;

    #[test]
    fn a_list_says_which_digests_it_can_match() {
        let mut l = HashList::new();
        assert!(!l.holds_len(32) && !l.holds_len(40) && !l.holds_len(64));
        l.insert(&"ab".repeat(32), "sha256").unwrap();
        assert!(l.holds_len(64) && !l.holds_len(32) && !l.holds_len(40));
        l.insert(&"CD".repeat(16), "md5").unwrap();
        assert!(l.holds_len(32) && !l.holds_len(40));
        assert!(l.insert("abc", "neither").is_err());
        assert!(!l.holds_len(3) && !l.holds_len(40));
    }
}
