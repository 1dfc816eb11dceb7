//! Raw (dd) images, single or split (`x.001`, `x.002`, …), memory-mapped read-only.
//!
//! Mapping is the design: hashing and YARA read the image's pages straight from the page cache
//! without a copy. The one risk of a mapping is SIGBUS when the file is truncated by someone
//! else while it is mapped; evidence is expected to be at rest. Where a file cannot be mapped
//! (an empty segment, a pipe, a file system that refuses), reads fall back to positioned reads;
//! the choice never changes results.

use super::{check_bounds, open_read_only, Evidence};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

#[derive(Debug)]
enum Backing {
    Map(Mmap),
    File(File),
}

#[derive(Debug)]
struct Segment {
    path: PathBuf,
    start: u64,
    len: u64,
    backing: Backing,
}

/// A raw image: one file, or a split set opened from its first segment.
#[derive(Debug)]
pub struct RawImage {
    segments: Vec<Segment>,
    len: u64,
}

/// The names of the following segments when `path` names the first one of a split set
/// (`.001`, or `.000`, continuing `.002`, …), else empty.
fn split_followers(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return Vec::new();
    };
    if ext.len() < 3 || !ext.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let Ok(first) = ext.parse::<u64>() else {
        return Vec::new();
    };
    if first > 1 {
        return Vec::new();
    }
    let width = ext.len();
    let mut out = Vec::new();
    let mut n = first + 1;
    loop {
        let p = path.with_file_name(format!("{stem}.{n:0width$}"));
        if !p.is_file() {
            break;
        }
        out.push(p);
        n += 1;
        if n > 100_000 {
            break;
        }
    }
    out
}

impl RawImage {
    /// Opens `path` read-only and maps it; a first split segment brings in its followers.
    pub fn open(path: &Path) -> Result<Self> {
        let mut paths = vec![path.to_path_buf()];
        paths.extend(split_followers(path));
        let mut segments = Vec::with_capacity(paths.len());
        let mut start = 0u64;
        for p in paths {
            let file = open_read_only(&p)?;
            let meta = file.metadata().map_err(|e| Error::io(&p, e))?;
            if meta.is_dir() {
                return Err(Error::Invalid(format!("{} is a directory", p.display())));
            }
            let len = meta.len();
            // SAFETY: the map is read-only and private to this process; the evidence file is
            // expected not to change while deadbox runs (see the module docs on SIGBUS).
            let backing = match (len > 0).then(|| unsafe { Mmap::map(&file) }) {
                Some(Ok(m)) => Backing::Map(m),
                _ => Backing::File(file),
            };
            segments.push(Segment {
                path: p,
                start,
                len,
                backing,
            });
            start += len;
        }
        Ok(RawImage {
            segments,
            len: start,
        })
    }

    /// Number of segments (1 for a single file).
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    fn segment_index(&self, offset: u64) -> usize {
        self.segments
            .partition_point(|s| s.start + s.len <= offset)
            .min(self.segments.len().saturating_sub(1))
    }
}

impl Evidence for RawImage {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.len)?;
        let mut i = self.segment_index(offset);
        while !buf.is_empty() {
            let seg = self.segments.get(i).ok_or(Error::OutOfBounds {
                offset,
                len: buf.len() as u64,
                size: self.len,
            })?;
            let within = offset - seg.start;
            let n = (seg.len - within).min(buf.len() as u64) as usize;
            let (head, tail) = buf.split_at_mut(n);
            match &seg.backing {
                Backing::Map(m) => {
                    // The map is as long as the file was when mapped; a file that shrank since
                    // it was measured gives an error, not a panic.
                    let src =
                        m.get(within as usize..within as usize + n)
                            .ok_or(Error::OutOfBounds {
                                offset,
                                len: n as u64,
                                size: self.len,
                            })?;
                    head.copy_from_slice(src)
                }
                Backing::File(f) => {
                    use std::os::unix::fs::FileExt;
                    f.read_exact_at(head, within)
                        .map_err(|e| Error::io(&seg.path, e))?
                }
            }
            buf = tail;
            offset += n as u64;
            i += 1;
        }
        Ok(())
    }

    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        check_bounds(offset, len, self.len).ok()?;
        let seg = self.segments.get(self.segment_index(offset))?;
        let within = (offset - seg.start) as usize;
        match &seg.backing {
            Backing::Map(m) => m.get(within..within.checked_add(len)?),
            Backing::File(_) => None,
        }
    }

    fn format(&self) -> crate::Format {
        crate::Format::Raw {
            segments: self.segments.len(),
        }
    }
}
