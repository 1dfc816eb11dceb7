//! Microsoft VHDX (Hyper-V v2) images, fixed and dynamic.
//!
//! Hand-written rather than taken from a crate: the `vhdx` crate (0.1.0) opens the image
//! read-write and writes to it (log replay, header updates), which evidence must never suffer.
//!
//! Layout read: the `vhdxfile` identifier, two headers at 64 and 128 KiB (CRC-32C, the valid one
//! with the higher sequence number wins), two region tables at 192 and 256 KiB (CRC-32C) locating
//! the BAT and metadata regions, the metadata items (block size, virtual size, logical sector
//! size, has-parent flag), and the BAT, where payload block entries are interleaved with one
//! sector-bitmap entry after every `chunk ratio` payload entries. Block states NOT_PRESENT,
//! UNDEFINED, ZERO and UNMAPPED read as zeros without I/O; FULLY_PRESENT reads the file;
//! PARTIALLY_PRESENT only occurs in differencing disks, which are refused. A non-empty log (one
//! that would need replaying, i.e. writing) and differencing disks give [`Error::Unsupported`].

use super::bytes::{le_u16, le_u32, le_u64};
use super::common::{crc32c, SourceFile};
use super::{check_bounds, Evidence};
use crate::error::{Error, Result};
use std::path::Path;

/// Magic at offset 0 of a VHDX file.
pub(crate) const MAGIC: &[u8; 8] = b"vhdxfile";

const KIB64: u64 = 64 * 1024;
const MIB: u64 = 1024 * 1024;
/// Largest virtual disk accepted by the format (64 TiB).
const MAX_VIRTUAL_SIZE: u64 = 64 << 40;

/// A GUID as stored on disk (first three fields little-endian) from its text form.
fn guid(s: &str) -> [u8; 16] {
    let hex: Vec<u8> = s
        .bytes()
        .filter(|b| b.is_ascii_hexdigit())
        .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    let mut v = [0u8; 16];
    for (i, slot) in v.iter_mut().enumerate() {
        let hi = hex.get(2 * i).copied().unwrap_or(0);
        let lo = hex.get(2 * i + 1).copied().unwrap_or(0);
        *slot = hi << 4 | lo;
    }
    v[0..4].reverse();
    v[4..6].reverse();
    v[6..8].reverse();
    v
}

const BAT_REGION: &str = "2DC27766-F623-4200-9D64-115E9BFD4A08";
const METADATA_REGION: &str = "8B7CA206-4790-4B9A-B8FE-575F050F886E";
const FILE_PARAMETERS: &str = "CAA16737-FA36-4D43-B3B6-33F0AA44E76B";
const VIRTUAL_DISK_SIZE: &str = "2FA54224-CD1B-4876-B211-5DBED83BF4B8";
const VIRTUAL_DISK_ID: &str = "BECA12AB-B2E6-4523-93EF-C309E000C746";
const LOGICAL_SECTOR_SIZE: &str = "8141BF1D-A96F-4709-BA47-F233A8FAAB5F";
const PHYSICAL_SECTOR_SIZE: &str = "CDA348C7-445D-4471-9CC9-E9885251C556";
const PARENT_LOCATOR: &str = "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C";

/// BAT entry states.
const NOT_PRESENT: u64 = 0;
const UNDEFINED: u64 = 1;
const ZERO: u64 = 2;
const UNMAPPED: u64 = 3;
const FULLY_PRESENT: u64 = 6;
const PARTIALLY_PRESENT: u64 = 7;

/// A VHDX image (fixed or dynamic; the BAT makes no difference to reading).
#[derive(Debug)]
pub struct VhdxImage {
    file: SourceFile,
    size: u64,
    block_size: u64,
    chunk_ratio: u64,
    bat: Vec<u64>,
    fixed: bool,
}

/// A region table entry: GUID, file offset, length, required.
type RegionEntry = ([u8; 16], u64, u32, bool);

fn region_table(file: &SourceFile, at: u64) -> Result<Vec<RegionEntry>> {
    let what = "VHDX region table";
    let mut t = file.read_vec(what, at, KIB64)?;
    if t.get(..4) != Some(b"regi") {
        return Err(Error::format(what, at, "no regi signature"));
    }
    let stored = le_u32(&t, 4).unwrap_or(0);
    if let Some(c) = t.get_mut(4..8) {
        c.fill(0);
    }
    if crc32c(&t) != stored {
        return Err(Error::format(what, at, "CRC-32C mismatch"));
    }
    let count = le_u32(&t, 8).unwrap_or(0) as usize;
    if count > 2047 {
        return Err(Error::format(what, at, format!("{count} entries")));
    }
    Ok((0..count)
        .map(|i| {
            let e = 16 + i * 32;
            let mut g = [0u8; 16];
            if let Some(s) = t.get(e..e + 16) {
                g.copy_from_slice(s);
            }
            (
                g,
                le_u64(&t, e + 16).unwrap_or(0),
                le_u32(&t, e + 24).unwrap_or(0),
                le_u32(&t, e + 28).unwrap_or(0) & 1 != 0,
            )
        })
        .collect())
}

impl VhdxImage {
    /// Opens a VHDX file read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file = SourceFile::open(path)?;
        let mut ident = [0u8; 8];
        file.read_at("VHDX file identifier", 0, &mut ident)?;
        if &ident != MAGIC {
            return Err(Error::format(
                "VHDX file identifier",
                0,
                "no vhdxfile magic",
            ));
        }
        // Headers: the valid one with the larger sequence number is current.
        let mut best: Option<(u64, Vec<u8>, u64)> = None;
        let mut first_err = None;
        for at in [KIB64, 2 * KIB64] {
            let r = (|| -> Result<(u64, Vec<u8>)> {
                let what = "VHDX header";
                let mut h = file.read_vec(what, at, 4096)?;
                if h.get(..4) != Some(b"head") {
                    return Err(Error::format(what, at, "no head signature"));
                }
                let stored = le_u32(&h, 4).unwrap_or(0);
                if let Some(c) = h.get_mut(4..8) {
                    c.fill(0);
                }
                if crc32c(&h) != stored {
                    return Err(Error::format(what, at, "CRC-32C mismatch"));
                }
                Ok((le_u64(&h, 8).unwrap_or(0), h))
            })();
            match r {
                Ok((seq, h)) => {
                    if best.as_ref().is_none_or(|(s, _, _)| seq > *s) {
                        best = Some((seq, h, at));
                    }
                }
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        let (_, header, header_at) = match best {
            Some(b) => b,
            None => {
                return Err(first_err
                    .unwrap_or_else(|| Error::format("VHDX header", KIB64, "no valid header")))
            }
        };
        let version = le_u16(&header, 66).unwrap_or(0);
        if version != 1 {
            return Err(Error::Unsupported(format!("VHDX header version {version}")));
        }
        if header
            .get(48..64)
            .is_some_and(|g| g.iter().any(|&b| b != 0))
        {
            return Err(Error::Unsupported(format!(
                "VHDX {} has a log that needs replaying (the image was not closed cleanly); \
                 replaying would mean writing to the evidence",
                path.display()
            )));
        }
        let _ = header_at;

        let regions = match region_table(&file, 3 * KIB64) {
            Ok(r) => r,
            Err(e) => region_table(&file, 4 * KIB64).map_err(|_| e)?,
        };
        let (bat_guid, meta_guid) = (guid(BAT_REGION), guid(METADATA_REGION));
        let mut bat_region = None;
        let mut meta_region = None;
        for (g, off, len, required) in regions {
            if g == bat_guid {
                bat_region = Some((off, len as u64));
            } else if g == meta_guid {
                meta_region = Some((off, len as u64));
            } else if required {
                return Err(Error::Unsupported(format!(
                    "VHDX required region {g:02x?} unknown"
                )));
            }
        }
        let (bat_off, bat_len) =
            bat_region.ok_or_else(|| Error::format("VHDX region table", 3 * KIB64, "no BAT"))?;
        let (meta_off, meta_len) = meta_region
            .ok_or_else(|| Error::format("VHDX region table", 3 * KIB64, "no metadata"))?;

        // Metadata.
        let what = "VHDX metadata";
        let meta = file.read_vec(what, meta_off, meta_len.min(MIB))?;
        if meta.get(..8) != Some(b"metadata") {
            return Err(Error::format(what, meta_off, "no metadata signature"));
        }
        let count = le_u16(&meta, 10).unwrap_or(0) as usize;
        if count > 2047 {
            return Err(Error::format(what, meta_off, format!("{count} entries")));
        }
        let (mut block_size, mut size, mut lss) = (None, None, None);
        let mut has_parent = false;
        let mut fixed = false;
        let known = [
            FILE_PARAMETERS,
            VIRTUAL_DISK_SIZE,
            VIRTUAL_DISK_ID,
            LOGICAL_SECTOR_SIZE,
            PHYSICAL_SECTOR_SIZE,
            PARENT_LOCATOR,
        ]
        .map(guid);
        for i in 0..count {
            let e = 32 + i * 32;
            let g: [u8; 16] = meta
                .get(e..e + 16)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| Error::format(what, meta_off, "entry table truncated"))?;
            let off = le_u32(&meta, e + 16).unwrap_or(0) as usize;
            let len = le_u32(&meta, e + 20).unwrap_or(0) as usize;
            let flags = le_u32(&meta, e + 24).unwrap_or(0);
            let item = off
                .checked_add(len)
                .and_then(|end| meta.get(off..end))
                .ok_or_else(|| {
                    Error::format(what, meta_off + off as u64, "item outside the region")
                })?;
            if g == known[0] {
                block_size = Some(le_u32(item, 0).unwrap_or(0) as u64);
                fixed = le_u32(item, 4).unwrap_or(0) & 1 != 0;
                has_parent = le_u32(item, 4).unwrap_or(0) & 2 != 0;
            } else if g == known[1] {
                size = Some(le_u64(item, 0).unwrap_or(0));
            } else if g == known[3] {
                lss = Some(le_u32(item, 0).unwrap_or(0) as u64);
            } else if g == known[5] {
                has_parent = true;
            } else if !known.contains(&g) && flags & 4 != 0 {
                return Err(Error::Unsupported(format!(
                    "VHDX required metadata item {g:02x?} unknown"
                )));
            }
        }
        if has_parent {
            return Err(Error::Unsupported(format!(
                "VHDX differencing disk {} (has a parent locator; needs its parent image)",
                path.display()
            )));
        }
        let missing = |n: &str| Error::format(what, meta_off, format!("no {n} item"));
        let block_size = block_size.ok_or_else(|| missing("file parameters"))?;
        let size = size.ok_or_else(|| missing("virtual disk size"))?;
        let lss = lss.ok_or_else(|| missing("logical sector size"))?;
        if !(MIB..=256 * MIB).contains(&block_size) || !block_size.is_power_of_two() {
            return Err(Error::format(
                what,
                meta_off,
                format!("absurd block size {block_size}"),
            ));
        }
        if lss != 512 && lss != 4096 {
            return Err(Error::format(
                what,
                meta_off,
                format!("logical sector size {lss}"),
            ));
        }
        if size > MAX_VIRTUAL_SIZE || size % lss != 0 {
            return Err(Error::format(
                what,
                meta_off,
                format!("virtual size {size}"),
            ));
        }
        let chunk_ratio = ((1u64 << 23) * lss) / block_size;
        let blocks = size.div_ceil(block_size);
        let entries = if blocks == 0 {
            0
        } else {
            blocks + (blocks - 1) / chunk_ratio
        };
        if entries * 8 > bat_len {
            return Err(Error::format(
                "VHDX BAT",
                bat_off,
                format!("{entries} entries needed, region holds {}", bat_len / 8),
            ));
        }
        // Inside the file, so the allocation is bounded by the file size.
        let raw = file.read_vec("VHDX BAT", bat_off, entries * 8)?;
        let bat = raw
            .chunks_exact(8)
            .map(|b| le_u64(b, 0).unwrap_or(0))
            .collect();
        Ok(VhdxImage {
            file,
            size,
            block_size,
            chunk_ratio,
            bat,
            fixed,
        })
    }
}

impl Evidence for VhdxImage {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.size)?;
        while !buf.is_empty() {
            let block = offset / self.block_size;
            let within = offset % self.block_size;
            let n = ((self.block_size - within) as usize).min(buf.len());
            let (head, tail) = buf.split_at_mut(n);
            let index = block + block / self.chunk_ratio;
            let entry = usize::try_from(index)
                .ok()
                .and_then(|i| self.bat.get(i))
                .copied()
                .unwrap_or(0);
            match entry & 7 {
                NOT_PRESENT | UNDEFINED | ZERO | UNMAPPED => head.fill(0),
                FULLY_PRESENT => {
                    let at = (entry >> 20) << 20;
                    self.file
                        .read_at(&format!("VHDX payload block {block}"), at + within, head)?;
                }
                PARTIALLY_PRESENT => {
                    return Err(Error::Unsupported(format!(
                        "VHDX partially present block {block} (differencing disk)"
                    )))
                }
                s => {
                    return Err(Error::format(
                        "VHDX BAT",
                        index * 8,
                        format!("block {block} has invalid state {s}"),
                    ))
                }
            }
            buf = tail;
            offset += n as u64;
        }
        Ok(())
    }

    fn format(&self) -> crate::Format {
        crate::Format::Vhdx { fixed: self.fixed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_bytes() {
        assert_eq!(
            guid(BAT_REGION),
            [
                0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD,
                0x4A, 0x08
            ]
        );
    }
}
