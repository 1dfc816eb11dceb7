//! QEMU copy-on-write images, qcow2 versions 2 and 3.
//!
//! Hand-written rather than taken from a crate: the `qcow` crate (1.2.0) panics on malformed
//! images, and `*-core` crates want a `&mut` cursor, which rules out concurrent readers.
//!
//! Layout read: the big-endian header (cluster size, virtual size, L1 table), the two-level
//! L1/L2 tables (L2 tables through a bounded cache, [`TABLE_CACHE_BYTES`]), standard clusters,
//! zero clusters (v3 flag bit 0), unallocated clusters (read as zeros: there is no backing file)
//! and compressed clusters (raw deflate; the descriptor's offset field is
//! `62 - (cluster_bits - 8)` bits wide, the rest counts extra 512-byte sectors), decompressed
//! outside every lock into a bounded cache ([`CLUSTER_CACHE_BYTES`]).
//!
//! Backing files, encryption, external data files, extended L2 entries and zstd compression
//! give [`Error::Unsupported`].

use super::bytes::{be_u32, be_u64};
use super::common::{copy_from_block, inflate, BlockCache, SourceFile};
use super::{check_bounds, Evidence};
use crate::error::{Error, Result};
use std::path::Path;

/// Magic of a qcow2 (and qcow1) file.
pub(crate) const MAGIC: &[u8; 4] = b"QFI\xfb";

/// Upper bound of the memory cached L2 tables of one image hold.
pub const TABLE_CACHE_BYTES: usize = 8 << 20;
/// Upper bound of the memory cached decompressed clusters of one image hold.
pub const CLUSTER_CACHE_BYTES: usize = 32 << 20;

const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;

/// A qcow2 image without a backing file.
#[derive(Debug)]
pub struct Qcow2Image {
    file: SourceFile,
    version: u32,
    size: u64,
    cluster_bits: u32,
    l1: Vec<u64>,
    l2_cache: BlockCache,
    clusters: BlockCache,
}

impl Qcow2Image {
    /// Opens a qcow2 file read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let file = SourceFile::open(path)?;
        let what = "qcow2 header";
        let mut h = [0u8; 112];
        let n = file.len.min(112) as usize;
        file.read_at(what, 0, h.get_mut(..n).unwrap_or_default())?;
        if n < 72 || h.get(..4) != Some(&MAGIC[..]) {
            return Err(Error::format(what, 0, "not a qcow2 header"));
        }
        let version = be_u32(&h, 4).unwrap_or(0);
        if version != 2 && version != 3 {
            return Err(Error::Unsupported(format!("qcow version {version}")));
        }
        let backing_offset = be_u64(&h, 8).unwrap_or(0);
        if backing_offset != 0 {
            let len = (be_u32(&h, 16).unwrap_or(0) as u64).min(1023);
            let name = file
                .read_vec("qcow2 backing file name", backing_offset, len)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            return Err(Error::Unsupported(format!(
                "qcow2 image {} has a backing file {name:?} (backing chains are not read)",
                path.display()
            )));
        }
        let cluster_bits = be_u32(&h, 20).unwrap_or(0);
        if !(9..=21).contains(&cluster_bits) {
            return Err(Error::format(
                what,
                20,
                format!("cluster_bits {cluster_bits}"),
            ));
        }
        let size = be_u64(&h, 24).unwrap_or(0);
        if be_u32(&h, 32).unwrap_or(0) != 0 {
            return Err(Error::Unsupported(format!(
                "encrypted qcow2 image (method {})",
                be_u32(&h, 32).unwrap_or(0)
            )));
        }
        let l1_size = be_u32(&h, 36).unwrap_or(0) as u64;
        let l1_offset = be_u64(&h, 40).unwrap_or(0);
        if version == 3 {
            if n < 104 {
                return Err(Error::format(what, 0, "v3 header truncated"));
            }
            let incompatible = be_u64(&h, 72).unwrap_or(0);
            let header_len = be_u32(&h, 100).unwrap_or(0);
            if incompatible & 4 != 0 {
                return Err(Error::Unsupported("qcow2 external data file".into()));
            }
            if incompatible & 16 != 0 {
                return Err(Error::Unsupported("qcow2 extended L2 entries".into()));
            }
            if incompatible & 8 != 0 && header_len > 104 && h.get(104).copied() != Some(0) {
                return Err(Error::Unsupported(
                    "qcow2 compression type other than deflate (zstd)".into(),
                ));
            }
            // Bit 0 (dirty) and 1 (corrupt) concern refcounts and writers; reading is safe.
            let unknown = incompatible & !0x1f;
            if unknown != 0 {
                return Err(Error::Unsupported(format!(
                    "qcow2 incompatible features {unknown:#x}"
                )));
            }
        }
        let cluster = 1u64 << cluster_bits;
        let per_l2 = cluster / 8;
        let needed = size.div_ceil(cluster).div_ceil(per_l2);
        if l1_size < needed {
            return Err(Error::format(
                what,
                36,
                format!("L1 of {l1_size} entries cannot map {size} bytes"),
            ));
        }
        // Inside the file, so bounded by the file size.
        let raw = file.read_vec("qcow2 L1 table", l1_offset, needed * 8)?;
        let l1 = raw
            .chunks_exact(8)
            .map(|b| be_u64(b, 0).unwrap_or(0))
            .collect();
        Ok(Qcow2Image {
            file,
            version,
            size,
            cluster_bits,
            l1,
            l2_cache: BlockCache::new(TABLE_CACHE_BYTES, cluster as usize),
            clusters: BlockCache::new(CLUSTER_CACHE_BYTES, cluster as usize),
        })
    }

    fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// The L2 entry of virtual cluster `vc`, 0 when unallocated.
    fn l2_entry(&self, vc: u64) -> Result<u64> {
        let per_l2 = self.cluster_size() / 8;
        let l1_index = vc / per_l2;
        let l1e = usize::try_from(l1_index)
            .ok()
            .and_then(|i| self.l1.get(i))
            .copied()
            .unwrap_or(0);
        let l2_offset = l1e & OFFSET_MASK;
        if l2_offset == 0 {
            return Ok(0);
        }
        if l2_offset % self.cluster_size() != 0 {
            return Err(Error::format(
                "qcow2 L1 table",
                l1_index * 8,
                format!("L2 table offset {l2_offset:#x} not cluster aligned"),
            ));
        }
        let table = self.l2_cache.get_or_load(l1_index, || {
            self.file
                .read_vec("qcow2 L2 table", l2_offset, self.cluster_size())
        })?;
        Ok(be_u64(&table, ((vc % per_l2) * 8) as usize).unwrap_or(0))
    }

    fn compressed(&self, vc: u64, entry: u64) -> Result<std::sync::Arc<[u8]>> {
        self.clusters.get_or_load(vc, || {
            let shift = 62 - (self.cluster_bits - 8);
            let offset = entry & ((1u64 << shift) - 1);
            let sectors = ((entry >> shift) & ((1u64 << (self.cluster_bits - 8)) - 1)) + 1;
            let len = (sectors * 512).saturating_sub(offset & 511);
            // The compressed data may end before the sectors it claims (last cluster of file).
            let len = len.min(self.file.len.saturating_sub(offset));
            let what = format!("qcow2 compressed cluster {vc}");
            let input = self.file.read_vec(&what, offset, len)?;
            let out = inflate(&what, offset, &input, false, self.cluster_size() as usize)?;
            if (out.len() as u64) < self.cluster_size() {
                return Err(Error::format(
                    &what,
                    offset,
                    format!("inflates to {} bytes only", out.len()),
                ));
            }
            Ok(out)
        })
    }
}

impl Evidence for Qcow2Image {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.size)?;
        let cs = self.cluster_size();
        while !buf.is_empty() {
            let vc = offset >> self.cluster_bits;
            let within = offset & (cs - 1);
            let n = ((cs - within) as usize).min(buf.len());
            let (head, tail) = buf.split_at_mut(n);
            let entry = self.l2_entry(vc)?;
            if entry & (1 << 62) != 0 {
                let c = self.compressed(vc, entry)?;
                copy_from_block("qcow2 cluster", offset, &c, within as usize, head)?;
            } else if self.version >= 3 && entry & 1 != 0 {
                head.fill(0);
            } else {
                let host = entry & OFFSET_MASK;
                if host == 0 {
                    head.fill(0);
                } else if host % cs != 0 {
                    return Err(Error::format(
                        "qcow2 L2 table",
                        host,
                        format!("cluster {vc} at unaligned offset {host:#x}"),
                    ));
                } else {
                    self.file
                        .read_at(&format!("qcow2 cluster {vc}"), host + within, head)?;
                }
            }
            buf = tail;
            offset += n as u64;
        }
        Ok(())
    }

    fn format(&self) -> crate::Format {
        crate::Format::Qcow2 {
            version: self.version,
        }
    }
}
