//! Pieces shared by the container readers: a bounds-checked positioned-read file, a bounded
//! thread-safe cache of decoded blocks, CRC-32C. Integers are read from byte buffers with
//! [`crate::bytes`].

use super::open_read_only;
use crate::error::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One file of a container (a segment, an extent), read with positioned reads (`pread`), so
/// any number of threads read it at once without a shared cursor.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) len: u64,
}

impl SourceFile {
    /// Opens `path` read-only (through [`open_read_only`]) and records its size.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = open_read_only(path)?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::Invalid(format!("{} is a directory", path.display())));
        }
        Ok(SourceFile {
            path: path.to_path_buf(),
            file,
            len: meta.len(),
        })
    }

    /// Fills `buf` from `offset`; a read past the end of the file is a [`Error::Format`]
    /// naming `what` (the structure that pointed there).
    pub(crate) fn read_at(&self, what: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(Error::format(
                    what,
                    offset,
                    format!(
                        "{} bytes needed past the end of {} ({} bytes)",
                        buf.len(),
                        self.path.display(),
                        self.len
                    ),
                ))
            }
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Reads `len` bytes at `offset` into a new vector, after checking that they lie inside the
    /// file (so a hostile length never allocates more than the file holds).
    pub(crate) fn read_vec(&self, what: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(Error::format(
                    what,
                    offset,
                    format!(
                        "{len} bytes needed past the end of {} ({} bytes)",
                        self.path.display(),
                        self.len
                    ),
                ))
            }
        }
        let n = usize::try_from(len).map_err(|_| Error::Limit(format!("{what}: {len} bytes")))?;
        let mut v = vec![0u8; n];
        self.read_at(what, offset, &mut v)?;
        Ok(v)
    }
}

/// Most shards of a [`BlockCache`]: concurrent readers of different blocks rarely meet on the
/// same lock, and no lock is held while a block is read or decompressed.
const MAX_SHARDS: usize = 16;

#[derive(Debug, Default)]
struct Shard {
    map: HashMap<u64, (Arc<[u8]>, bool)>,
    order: VecDeque<u64>,
    bytes: usize,
}

/// A bounded cache of decoded blocks (chunks, grains, clusters, tables) keyed by block number.
///
/// Sharded by key (up to 16 shards, fewer for large blocks so that each shard holds at least four
/// typical blocks); each shard holds at most its share of `capacity` and evicts with the CLOCK
/// (second chance) policy; a block larger than a shard is returned but not kept. Loading happens outside every lock: two threads missing the same
/// block may both decode it, which costs time but never blocks other readers.
#[derive(Debug)]
pub(crate) struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    shard_capacity: usize,
}

impl BlockCache {
    /// A cache holding at most `capacity` bytes of blocks of about `block` bytes each.
    pub(crate) fn new(capacity: usize, block: usize) -> Self {
        let shards = (capacity / block.max(1) / 4).clamp(1, MAX_SHARDS);
        BlockCache {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity: capacity / shards,
        }
    }

    fn shard(&self, key: u64) -> Option<&Mutex<Shard>> {
        let n = self.shards.len().max(1) as u64;
        self.shards.get((key % n) as usize)
    }

    /// The block `key`, from the cache or from `load` (run outside any lock).
    pub(crate) fn get_or_load(
        &self,
        key: u64,
        load: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<[u8]>> {
        if let Some(shard) = self.shard(key) {
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((block, referenced)) = s.map.get_mut(&key) {
                *referenced = true;
                return Ok(block.clone());
            }
        }
        let block: Arc<[u8]> = load()?.into();
        if block.len() > self.shard_capacity {
            return Ok(block);
        }
        if let Some(shard) = self.shard(key) {
            let mut s = shard.lock().unwrap_or_else(|p| p.into_inner());
            if s.map.contains_key(&key) {
                return Ok(block);
            }
            // Second chance: a referenced entry goes to the back once; at most two passes.
            let mut budget = s.order.len().saturating_mul(2);
            while s.bytes + block.len() > self.shard_capacity && budget > 0 {
                budget -= 1;
                let Some(old) = s.order.pop_front() else {
                    break;
                };
                let keep = match s.map.get_mut(&old) {
                    Some((_, referenced)) if *referenced => {
                        *referenced = false;
                        true
                    }
                    _ => false,
                };
                if keep {
                    s.order.push_back(old);
                } else if let Some((b, _)) = s.map.remove(&old) {
                    s.bytes -= b.len();
                }
            }
            if s.bytes + block.len() <= self.shard_capacity {
                s.bytes += block.len();
                s.order.push_back(key);
                s.map.insert(key, (block.clone(), false));
            }
        }
        Ok(block)
    }
}

/// CRC-32C (Castagnoli), as used by VHDX headers, region tables and log entries.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Copies `src[within..within+dst.len()]` into `dst`, or fails with a [`Error::Format`] when
/// the decoded block is shorter than the media says it is.
pub(crate) fn copy_from_block(
    what: &str,
    offset: u64,
    block: &[u8],
    within: usize,
    dst: &mut [u8],
) -> Result<()> {
    let src = within
        .checked_add(dst.len())
        .and_then(|end| block.get(within..end))
        .ok_or_else(|| {
            Error::format(
                what,
                offset,
                format!("decoded block has {} bytes, too short", block.len()),
            )
        })?;
    dst.copy_from_slice(src);
    Ok(())
}

/// Inflates `input` (a zlib stream when `zlib`, else raw deflate) into at most `max` bytes, so a
/// hostile stream cannot allocate without bound. A zlib stream must end (its Adler-32 checked by
/// zlib) within `max` bytes; a raw deflate stream may also stop exactly at `max` bytes without
/// its end marker (qemu accepts that for qcow2 clusters).
pub(crate) fn inflate(
    what: &str,
    offset: u64,
    input: &[u8],
    zlib: bool,
    max: usize,
) -> Result<Vec<u8>> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut d = Decompress::new(zlib);
    let mut out = vec![0u8; max];
    loop {
        let (tin, tout) = (d.total_in(), d.total_out());
        let i = usize::try_from(tin).unwrap_or(usize::MAX);
        let o = usize::try_from(tout).unwrap_or(usize::MAX);
        let status = d
            .decompress(
                input.get(i..).unwrap_or(&[]),
                out.get_mut(o..).unwrap_or(&mut []),
                FlushDecompress::Finish,
            )
            .map_err(|e| Error::format(what, offset, format!("bad compressed data: {e}")))?;
        let n = usize::try_from(d.total_out()).unwrap_or(usize::MAX);
        if status == Status::StreamEnd || (!zlib && n >= max) {
            out.truncate(n);
            return Ok(out);
        }
        if n >= max {
            return Err(Error::format(
                what,
                offset,
                format!("compressed data does not end within {max} bytes"),
            ));
        }
        if d.total_in() == tin && d.total_out() == tout {
            return Err(Error::format(what, offset, "truncated compressed data"));
        }
    }
}

/// True when `name` is a plain file name: no directory part, no `..`, not absolute, no NUL.
/// Container references (extent files, segment names) must be plain names so that a hostile
/// descriptor cannot make deadbox open arbitrary host files.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !(name.len() >= 2 && name.as_bytes().get(1) == Some(&b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn cache_is_bounded() {
        let c = BlockCache::new(16 * 1024, 512);
        for k in 0..1000u64 {
            let b = c.get_or_load(k, || Ok(vec![k as u8; 512])).unwrap();
            assert_eq!(b[0], k as u8);
        }
        let total: usize = c.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(total <= 16 * 1024);
        // a cached block is served without calling the loader
        let _ = c.get_or_load(999, || Ok(vec![1; 512])).unwrap();
        let b = c.get_or_load(999, || panic!("should be cached")).unwrap();
        assert_eq!(b[0], 999u64 as u8);
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("disk-flat.vmdk"));
        for bad in ["", "..", "../x", "/etc/passwd", "a/b", "a\\b", "C:x"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn inflate_bounds() {
        use flate2::write::ZlibEncoder;
        use std::io::Write;
        let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&[7u8; 10000]).unwrap();
        let z = e.finish().unwrap();
        assert_eq!(inflate("t", 0, &z, true, 10000).unwrap().len(), 10000);
        assert!(inflate("t", 0, &z, true, 5000).is_err());
        assert!(inflate("t", 0, &z[..z.len() / 2], true, 10000).is_err());
    }
}
