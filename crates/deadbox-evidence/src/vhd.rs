//! Microsoft Virtual Hard Disk (VHD, Virtual PC / Hyper-V v1): fixed and dynamic disks.
//!
//! Hand-written rather than taken from a crate: the `vhd` crate (0.1.1) loads the whole file
//! into memory, which no disk image can afford.
//!
//! A fixed VHD is the raw disk followed by a 512-byte footer (`conectix` cookie, big-endian
//! fields, one's-complement checksum). A dynamic VHD starts with a copy of that footer, then a
//! `cxsparse` dynamic header pointing at the block allocation table (BAT): one 32-bit sector
//! number per block (`0xFFFFFFFF` = never written, read as zeros without I/O). Each allocated
//! block starts with a sector bitmap (bit set = sector written); a clear bit reads as zeros.
//! Differencing disks (type 4) need their parent and are refused with [`Error::Unsupported`].
//!
//! The media length is the footer's current size, which tools round up to a CHS geometry: a
//! VHD converted from a raw image can be slightly longer than that image.

use super::bytes::{be_u32, be_u64};
use super::common::{BlockCache, SourceFile};
use super::{check_bounds, Evidence};
use crate::error::{Error, Result};
use std::path::Path;

/// Cookie of the VHD footer.
pub(crate) const COOKIE: &[u8; 8] = b"conectix";

/// Largest dynamic block size accepted (the format's default is 2 MiB).
const MAX_BLOCK_SIZE: u32 = 256 << 20;

/// Upper bound of the memory the sector-bitmap cache of one image holds.
const BITMAP_CACHE_BYTES: usize = 4 << 20;

#[derive(Debug)]
struct Dynamic {
    bat: Vec<u32>,
    block_size: u64,
    bitmap_len: u64,
    bitmaps: BlockCache,
}

/// A fixed or dynamic VHD image.
#[derive(Debug)]
pub struct VhdImage {
    file: SourceFile,
    size: u64,
    dynamic: Option<Dynamic>,
}

/// Checks a footer and returns (disk type, current size, data offset).
fn parse_footer(f: &[u8; 512], at: u64) -> Result<(u32, u64, u64)> {
    let what = "VHD footer";
    if &f[..8] != COOKIE {
        return Err(Error::format(what, at, "no conectix cookie"));
    }
    let stored = be_u32(f, 64).unwrap_or(0);
    let sum = f
        .iter()
        .enumerate()
        .filter(|(i, _)| !(64..68).contains(i))
        .fold(0u32, |s, (_, &b)| s.wrapping_add(b as u32));
    if !sum != stored {
        return Err(Error::format(
            what,
            at,
            format!("checksum {stored:#x}, computed {:#x}", !sum),
        ));
    }
    Ok((
        be_u32(f, 60).unwrap_or(0),
        be_u64(f, 48).unwrap_or(0),
        be_u64(f, 16).unwrap_or(0),
    ))
}

impl VhdImage {
    /// Opens a VHD file read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file = SourceFile::open(path)?;
        let mut tail = [0u8; 512];
        let mut head = [0u8; 512];
        if file.len < 512 {
            return Err(Error::format("VHD footer", 0, "file shorter than a footer"));
        }
        let tail_at = file.len - 512;
        file.read_at("VHD footer", tail_at, &mut tail)?;
        file.read_at("VHD footer copy", 0, &mut head)?;
        // Prefer the footer at the end; a dynamic disk whose end was lost still has its copy.
        let (disk_type, size, data_offset) = match parse_footer(&tail, tail_at) {
            Ok(v) => v,
            Err(e) if &head[..8] == COOKIE => parse_footer(&head, 0).map_err(|_| e)?,
            Err(e) => return Err(e),
        };
        match disk_type {
            2 => {
                if size > tail_at {
                    return Err(Error::format(
                        "VHD footer",
                        tail_at,
                        format!("fixed disk of {size} bytes in a file of {} bytes", file.len),
                    ));
                }
                Ok(VhdImage {
                    file,
                    size,
                    dynamic: None,
                })
            }
            3 => {
                let dynamic = Self::dynamic_header(&file, data_offset, size)?;
                Ok(VhdImage {
                    file,
                    size,
                    dynamic: Some(dynamic),
                })
            }
            4 => Err(Error::Unsupported(format!(
                "VHD differencing disk {} (needs its parent image)",
                path.display()
            ))),
            t => Err(Error::format(
                "VHD footer",
                tail_at,
                format!("unknown disk type {t}"),
            )),
        }
    }

    fn dynamic_header(file: &SourceFile, at: u64, size: u64) -> Result<Dynamic> {
        let what = "VHD dynamic header";
        let mut h = [0u8; 1024];
        file.read_at(what, at, &mut h)?;
        if &h[..8] != b"cxsparse" {
            return Err(Error::format(what, at, "no cxsparse cookie"));
        }
        let stored = be_u32(&h, 36).unwrap_or(0);
        let sum = h
            .iter()
            .enumerate()
            .filter(|(i, _)| !(36..40).contains(i))
            .fold(0u32, |s, (_, &b)| s.wrapping_add(b as u32));
        if !sum != stored {
            return Err(Error::format(what, at, "checksum mismatch"));
        }
        let table_offset = be_u64(&h, 16).unwrap_or(0);
        let entries = be_u32(&h, 28).unwrap_or(0) as u64;
        let block_size = be_u32(&h, 32).unwrap_or(0);
        if block_size < 512 || !block_size.is_power_of_two() || block_size > MAX_BLOCK_SIZE {
            return Err(Error::format(
                what,
                at,
                format!("absurd block size {block_size}"),
            ));
        }
        let block_size = block_size as u64;
        if entries.saturating_mul(block_size) < size {
            return Err(Error::format(
                what,
                at,
                format!("{entries} blocks of {block_size} bytes cannot hold {size} bytes"),
            ));
        }
        // The BAT must lie inside the file: this bounds the allocation below.
        let raw = file.read_vec("VHD block allocation table", table_offset, entries * 4)?;
        let bat = raw
            .chunks_exact(4)
            .map(|b| be_u32(b, 0).unwrap_or(0))
            .collect();
        let bitmap_len = (block_size / 512).div_ceil(8).div_ceil(512) * 512;
        Ok(Dynamic {
            bat,
            block_size,
            bitmap_len,
            bitmaps: BlockCache::new(BITMAP_CACHE_BYTES, bitmap_len as usize),
        })
    }

    fn read_dynamic(&self, d: &Dynamic, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            let block = offset / d.block_size;
            let within = offset % d.block_size;
            let n = ((d.block_size - within) as usize).min(buf.len());
            let (head, tail) = buf.split_at_mut(n);
            let entry = usize::try_from(block)
                .ok()
                .and_then(|b| d.bat.get(b))
                .copied()
                .unwrap_or(u32::MAX);
            if entry == u32::MAX {
                head.fill(0);
            } else {
                let start = entry as u64 * 512;
                let bitmap = d.bitmaps.get_or_load(block, || {
                    self.file.read_vec("VHD sector bitmap", start, d.bitmap_len)
                })?;
                let data = start + d.bitmap_len;
                // Runs of sectors with the same bitmap bit: read or zero each run.
                let mut pos = 0usize;
                while pos < head.len() {
                    let sector = (within + pos as u64) / 512;
                    let set = bitmap
                        .get((sector / 8) as usize)
                        .is_some_and(|b| b & (0x80 >> (sector % 8)) != 0);
                    let mut end = pos;
                    let mut s = sector;
                    while end < head.len() {
                        let bit = bitmap
                            .get((s / 8) as usize)
                            .is_some_and(|b| b & (0x80 >> (s % 8)) != 0);
                        if bit != set {
                            break;
                        }
                        let sector_end = ((s + 1) * 512 - within) as usize;
                        end = sector_end.min(head.len());
                        s += 1;
                    }
                    let part = head.get_mut(pos..end).unwrap_or_default();
                    if set {
                        self.file
                            .read_at("VHD data block", data + within + pos as u64, part)?;
                    } else {
                        part.fill(0);
                    }
                    pos = end;
                }
            }
            buf = tail;
            offset += n as u64;
        }
        Ok(())
    }
}

impl Evidence for VhdImage {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.size)?;
        match &self.dynamic {
            None => self.file.read_at("VHD fixed data", offset, buf),
            Some(d) => self.read_dynamic(d, offset, buf),
        }
    }

    fn format(&self) -> crate::Format {
        crate::Format::Vhd {
            dynamic: self.dynamic.is_some(),
        }
    }
}
