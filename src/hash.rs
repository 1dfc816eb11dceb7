//! MD5, SHA-1 and SHA-256 in one pass over a stream's bytes.
//!
//! Large chunks are hashed by the selected algorithms in parallel (MD5 is three to five times
//! slower than SHA-256 with SHA-NI, so it must not set the pace of a SHA-256-only run, nor of
//! the other two when all three are asked for).

use crate::error::{Error, Result};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Which hashes to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    /// MD5.
    pub md5: bool,
    /// SHA-1.
    pub sha1: bool,
    /// SHA-256.
    pub sha256: bool,
}

impl Default for Algorithms {
    fn default() -> Self {
        Algorithms {
            md5: true,
            sha1: true,
            sha256: true,
        }
    }
}

impl Algorithms {
    /// No hash at all.
    pub const NONE: Algorithms = Algorithms {
        md5: false,
        sha1: false,
        sha256: false,
    };

    /// Parses a comma-separated list such as `md5,sha256` (`none` for no hash).
    pub fn parse(list: &str) -> Result<Self> {
        let mut h = Algorithms::NONE;
        for name in list.split(',').map(|s| s.trim().to_ascii_lowercase()) {
            match name.as_str() {
                "md5" => h.md5 = true,
                "sha1" | "sha-1" => h.sha1 = true,
                "sha256" | "sha-256" => h.sha256 = true,
                "none" | "" => {}
                other => {
                    return Err(Error::Invalid(format!(
                        "unknown hash {other:?} (md5, sha1, sha256, none)"
                    )))
                }
            }
        }
        Ok(h)
    }

    /// True when no hash is selected.
    pub fn is_empty(&self) -> bool {
        !(self.md5 || self.sha1 || self.sha256)
    }
}

/// The digests of a stream, lowercase hex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    /// MD5, if selected.
    pub md5: Option<String>,
    /// SHA-1, if selected.
    pub sha1: Option<String>,
    /// SHA-256, if selected.
    pub sha256: Option<String>,
}

/// Chunks at least this long are hashed by the algorithms in parallel.
const PARALLEL_CHUNK: usize = 1 << 20;

/// Incremental hashing of one stream with the selected algorithms.
#[derive(Debug, Clone)]
pub struct MultiHasher {
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
}

impl MultiHasher {
    /// A hasher for `set`.
    pub fn new(set: Algorithms) -> Self {
        MultiHasher {
            md5: set.md5.then(Md5::new),
            sha1: set.sha1.then(Sha1::new),
            sha256: set.sha256.then(Sha256::new),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        let n = self.md5.is_some() as u8 + self.sha1.is_some() as u8 + self.sha256.is_some() as u8;
        if data.len() >= PARALLEL_CHUNK && n > 1 {
            let (md5, sha1, sha256) = (&mut self.md5, &mut self.sha1, &mut self.sha256);
            rayon::scope(|s| {
                if let Some(h) = md5.as_mut() {
                    s.spawn(move |_| h.update(data));
                }
                if let Some(h) = sha1.as_mut() {
                    s.spawn(move |_| h.update(data));
                }
                if let Some(h) = sha256.as_mut() {
                    h.update(data);
                }
            });
        } else {
            if let Some(h) = self.md5.as_mut() {
                h.update(data);
            }
            if let Some(h) = self.sha1.as_mut() {
                h.update(data);
            }
            if let Some(h) = self.sha256.as_mut() {
                h.update(data);
            }
        }
    }

    /// The digests.
    pub fn finish(self) -> Digests {
        Digests {
            md5: self.md5.map(|h| hex(&h.finalize())),
            sha1: self.sha1.map(|h| hex(&h.finalize())),
            sha256: self.sha256.map(|h| hex(&h.finalize())),
        }
    }
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

/// Hashes a whole buffer.
pub fn digest(set: Algorithms, data: &[u8]) -> Digests {
    let mut h = MultiHasher::new(set);
    h.update(data);
    h.finish()
}

/// Digests of `len` zero bytes: the content of a stream that is zeros by construction
/// (initialized size 0, or no allocated cluster). Computed once per hash set and length in
/// this process and reused: a volume holds few distinct such lengths (`$BadClus:$Bad` is as
/// large as the volume), and no hash function lets the work be skipped.
pub fn zero_digests(set: Algorithms, len: u64) -> Digests {
    use std::sync::{Mutex, OnceLock};
    type Key = (bool, bool, bool, u64);
    static CACHE: OnceLock<Mutex<Vec<(Key, Digests)>>> = OnceLock::new();
    let key = (set.md5, set.sha1, set.sha256, len);
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Some((_, d)) = cache
        .lock()
        .ok()
        .and_then(|c| c.iter().find(|(k, _)| *k == key).cloned())
    {
        return d;
    }
    static ZEROS: [u8; PARALLEL_CHUNK] = [0; PARALLEL_CHUNK];
    let mut h = MultiHasher::new(set);
    let mut left = len;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        h.update(&ZEROS[..n]);
        left -= n as u64;
    }
    let d = h.finish();
    if let Ok(mut c) = cache.lock() {
        // A handful of lengths per volume; bounded all the same.
        if c.len() < 1024 {
            c.push((key, d.clone()));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_and_parallel_path_agree() {
        let d = digest(Algorithms::default(), b"abc");
        assert_eq!(d.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            d.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            d.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let big = vec![7u8; 3 * PARALLEL_CHUNK + 5];
        let mut a = MultiHasher::new(Algorithms::default());
        a.update(&big);
        let mut b = MultiHasher::new(Algorithms::default());
        for c in big.chunks(1000) {
            b.update(c);
        }
        assert_eq!(a.finish(), b.finish());
        assert!(!Algorithms::parse("sha256").unwrap().md5);
        assert!(Algorithms::parse("crc").is_err());
        let z = vec![0u8; 3 << 20 | 17];
        assert_eq!(
            zero_digests(Algorithms::default(), z.len() as u64),
            digest(Algorithms::default(), &z)
        );
        assert_eq!(
            zero_digests(Algorithms::default(), z.len() as u64),
            digest(Algorithms::default(), &z)
        );
        assert_eq!(
            zero_digests(Algorithms::default(), 0),
            digest(Algorithms::default(), &[])
        );
    }
}
