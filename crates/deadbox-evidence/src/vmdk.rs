//! VMware virtual disks (VMDK): monolithic sparse, streamOptimized, flat and split
//! (twoGbMaxExtentSparse / twoGbMaxExtentFlat) variants.
//!
//! Hand-written rather than taken from a crate: the VMDK crates checked want a `&mut` cursor
//! (no concurrent readers) or load whole tables eagerly without bounds.
//!
//! Layout read: a text descriptor (`# Disk DescriptorFile`, either its own file or embedded in a
//! sparse extent) lists extents `RW <sectors> SPARSE|FLAT|ZERO "<file>" [offset]`; a sparse
//! extent (`KDMV` header, little-endian) maps grains through a grain directory and grain tables
//! (cached, bounded by [`TABLE_CACHE_BYTES`]); grain table entries 0 (unallocated, no parent) and
//! 1 (zero grain) read as zeros without I/O. Compressed grains (streamOptimized: a 12-byte marker,
//! then a zlib stream) are inflated outside every lock into a bounded cache
//! ([`GRAIN_CACHE_BYTES`]). A streamOptimized image whose grain directory sits at the end is read
//! through the footer copy of the header.
//!
//! Extent file names must be plain names in the descriptor's own folder (no `/`, no `..`, not
//! absolute): a hostile descriptor cannot make deadbox open arbitrary host files. Images with a
//! parent (`parentCID` other than `ffffffff`) give [`Error::Unsupported`].

use super::bytes::{le_u32, le_u64};
use super::common::{copy_from_block, inflate, is_plain_name, BlockCache, SourceFile};
use super::{check_bounds, Evidence};
use crate::error::{Error, Result};
use std::path::Path;
use std::sync::Arc;

/// Magic of a sparse extent (`KDMV` read as a little-endian u32 is "VMDK").
pub(crate) const SPARSE_MAGIC: &[u8; 4] = b"KDMV";
/// First line of a text descriptor.
pub(crate) const DESCRIPTOR_MAGIC: &[u8] = b"# Disk DescriptorFile";

/// Upper bound of the memory cached grain tables of one extent hold.
pub const TABLE_CACHE_BYTES: usize = 4 << 20;
/// Upper bound of the memory cached decompressed grains of one extent hold.
pub const GRAIN_CACHE_BYTES: usize = 16 << 20;

/// Largest text descriptor read.
const MAX_DESCRIPTOR: u64 = 1 << 20;
/// Largest grain accepted (VMware uses 64 KiB).
const MAX_GRAIN: u64 = 16 << 20;
/// Most extents in a descriptor.
const MAX_EXTENTS: usize = 65_536;

const FLAG_ZERO_GTE: u32 = 1 << 2;
const FLAG_COMPRESSED: u32 = 1 << 16;

/// A sparse (`KDMV`) extent.
#[derive(Debug)]
struct Sparse {
    file: SourceFile,
    capacity: u64,
    grain: u64,
    gtes_per_gt: u64,
    gd: Vec<u32>,
    zero_gte: bool,
    compressed: bool,
    tables: BlockCache,
    grains: BlockCache,
}

#[derive(Debug)]
enum Kind {
    Flat { file: SourceFile, offset: u64 },
    Sparse(Box<Sparse>),
    Zero,
}

#[derive(Debug)]
struct Extent {
    start: u64,
    len: u64,
    kind: Kind,
}

/// A VMDK image: its extents laid end to end.
#[derive(Debug)]
pub struct VmdkImage {
    extents: Vec<Extent>,
    len: u64,
    create_type: String,
}

fn header_fields(h: &[u8]) -> (u32, u64, u64, u64, u64, u32, u64) {
    (
        le_u32(h, 8).unwrap_or(0),  // flags
        le_u64(h, 12).unwrap_or(0), // capacity (sectors)
        le_u64(h, 20).unwrap_or(0), // grain size (sectors)
        le_u64(h, 28).unwrap_or(0), // descriptor offset (sectors)
        le_u64(h, 36).unwrap_or(0), // descriptor size (sectors)
        le_u32(h, 44).unwrap_or(0), // GTEs per GT
        le_u64(h, 56).unwrap_or(0), // GD offset (sectors)
    )
}

impl Sparse {
    fn open(file: SourceFile) -> Result<(Self, Option<String>)> {
        let what = "VMDK sparse header";
        let mut h = [0u8; 512];
        file.read_at(what, 0, &mut h)?;
        if h.get(..4) != Some(&SPARSE_MAGIC[..]) {
            return Err(Error::format(what, 0, "no KDMV magic"));
        }
        let version = le_u32(&h, 4).unwrap_or(0);
        if version > 3 {
            return Err(Error::Unsupported(format!("VMDK sparse version {version}")));
        }
        let (desc_off, desc_size) = (le_u64(&h, 28).unwrap_or(0), le_u64(&h, 36).unwrap_or(0));
        let (mut flags, mut capacity, mut grain, _, _, mut gtes, mut gd_off) = header_fields(&h);
        if gd_off == u64::MAX {
            // streamOptimized: the real header is the footer, 1024 bytes before the end
            // (footer marker, footer, end-of-stream marker).
            let at = file
                .len
                .checked_sub(1024)
                .ok_or_else(|| Error::format(what, 0, "grain directory at end but no footer"))?;
            let mut f = [0u8; 512];
            file.read_at("VMDK footer", at, &mut f)?;
            if f.get(..4) != Some(&SPARSE_MAGIC[..]) {
                return Err(Error::format("VMDK footer", at, "no KDMV magic"));
            }
            (flags, capacity, grain, _, _, gtes, gd_off) = header_fields(&f);
            if gd_off == u64::MAX {
                return Err(Error::format("VMDK footer", at, "no grain directory"));
            }
        }
        if grain == 0 || !grain.is_power_of_two() || grain > MAX_GRAIN / 512 {
            return Err(Error::format(what, 20, format!("grain of {grain} sectors")));
        }
        if gtes == 0 || gtes > 1 << 16 {
            return Err(Error::format(
                what,
                44,
                format!("{gtes} entries per grain table"),
            ));
        }
        let capacity = capacity
            .checked_mul(512)
            .ok_or_else(|| Error::format(what, 12, "capacity overflows"))?;
        let grain = grain * 512;
        let gtes = gtes as u64;
        let gd_entries = capacity.div_ceil(grain).div_ceil(gtes);
        let gd_at = gd_off
            .checked_mul(512)
            .ok_or_else(|| Error::format(what, 56, "grain directory offset overflows"))?;
        // Inside the file, so bounded by the file size.
        let raw = file.read_vec("VMDK grain directory", gd_at, gd_entries * 4)?;
        let gd = raw
            .chunks_exact(4)
            .map(|b| le_u32(b, 0).unwrap_or(0))
            .collect();
        let descriptor = if desc_off != 0 && desc_size != 0 {
            let len = (desc_size.saturating_mul(512)).min(MAX_DESCRIPTOR);
            let at = desc_off.saturating_mul(512);
            let bytes = file.read_vec("VMDK embedded descriptor", at, len)?;
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            Some(String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned())
        } else {
            None
        };
        Ok((
            Sparse {
                file,
                capacity,
                grain,
                gtes_per_gt: gtes,
                gd,
                zero_gte: flags & FLAG_ZERO_GTE != 0,
                compressed: flags & FLAG_COMPRESSED != 0,
                tables: BlockCache::new(TABLE_CACHE_BYTES, (gtes * 4) as usize),
                grains: BlockCache::new(GRAIN_CACHE_BYTES, grain as usize),
            },
            descriptor,
        ))
    }

    /// The grain table entry of grain `g`.
    fn gte(&self, g: u64) -> Result<u32> {
        let gd_index = g / self.gtes_per_gt;
        let gde = usize::try_from(gd_index)
            .ok()
            .and_then(|i| self.gd.get(i))
            .copied()
            .unwrap_or(0);
        if gde == 0 {
            return Ok(0);
        }
        let table = self.tables.get_or_load(gd_index, || {
            self.file
                .read_vec("VMDK grain table", gde as u64 * 512, self.gtes_per_gt * 4)
        })?;
        Ok(le_u32(&table, ((g % self.gtes_per_gt) * 4) as usize).unwrap_or(0))
    }

    fn grain_data(&self, g: u64, sector: u64) -> Result<Arc<[u8]>> {
        self.grains.get_or_load(g, || {
            let at = sector * 512;
            let what = format!("VMDK compressed grain {g}");
            let mut marker = [0u8; 12];
            self.file.read_at(&what, at, &mut marker)?;
            let size = le_u32(&marker, 8).unwrap_or(0) as u64;
            if size > self.grain * 2 + 4096 {
                return Err(Error::format(&what, at, format!("{size} compressed bytes")));
            }
            let input = self.file.read_vec(&what, at + 12, size)?;
            inflate(&what, at, &input, true, self.grain as usize)
        })
    }

    fn read(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            let g = offset / self.grain;
            let within = offset % self.grain;
            let n = ((self.grain - within) as usize).min(buf.len());
            let (head, tail) = buf.split_at_mut(n);
            if offset >= self.capacity {
                return Err(Error::format(
                    "VMDK extent",
                    offset,
                    format!("read past the sparse extent's {} bytes", self.capacity),
                ));
            }
            let e = self.gte(g)?;
            if e == 0 || (e == 1 && self.zero_gte) {
                head.fill(0);
            } else if self.compressed {
                let data = self.grain_data(g, e as u64)?;
                // A last grain may inflate short: what it lacks is zeros.
                let have = data.len().saturating_sub(within as usize).min(head.len());
                let (h1, h2) = head.split_at_mut(have);
                copy_from_block("VMDK grain", offset, &data, within as usize, h1)?;
                h2.fill(0);
            } else {
                self.file
                    .read_at(&format!("VMDK grain {g}"), e as u64 * 512 + within, head)?;
            }
            buf = tail;
            offset += n as u64;
        }
        Ok(())
    }
}

/// What a descriptor says.
struct Descriptor {
    create_type: String,
    parent_cid: Option<String>,
    extents: Vec<(u64, String, Option<String>, u64)>, // sectors, type, file, offset
}

fn parse_descriptor(text: &str) -> Result<Descriptor> {
    let mut d = Descriptor {
        create_type: String::new(),
        parent_cid: None,
        extents: Vec::new(),
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "createType" => d.create_type = v,
                "parentCID" => d.parent_cid = Some(v),
                _ => {}
            }
            continue;
        }
        let mut words = line.split_whitespace();
        let access = words.next().unwrap_or_default();
        if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
            continue;
        }
        let sectors: u64 = words
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::format("VMDK descriptor", 0, format!("bad extent: {line}")))?;
        let kind = words.next().unwrap_or_default().to_string();
        // The file name is quoted and may contain spaces.
        let (file, rest) = match (line.find('"'), line.rfind('"')) {
            (Some(a), Some(b)) if b > a => (
                line.get(a + 1..b).map(str::to_string),
                line.get(b + 1..).unwrap_or_default(),
            ),
            _ => (None, ""),
        };
        let offset = rest
            .split_whitespace()
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        d.extents.push((sectors, kind, file, offset));
        if d.extents.len() > MAX_EXTENTS {
            return Err(Error::Limit(format!(
                "VMDK descriptor with over {MAX_EXTENTS} extents"
            )));
        }
    }
    Ok(d)
}

fn check_parent(d: &Descriptor, path: &Path) -> Result<()> {
    match d.parent_cid.as_deref() {
        Some(p) if !p.eq_ignore_ascii_case("ffffffff") => Err(Error::Unsupported(format!(
            "VMDK {} has a parent (parentCID={p}); delta disks need their parent chain",
            path.display()
        ))),
        _ => Ok(()),
    }
}

impl VmdkImage {
    /// Opens a VMDK: a sparse extent (`KDMV`) or a text descriptor with its extents.
    pub fn open(path: &Path) -> Result<Self> {
        let file = SourceFile::open(path)?;
        let mut magic = [0u8; 21];
        let n = file.len.min(21) as usize;
        file.read_at("VMDK", 0, magic.get_mut(..n).unwrap_or_default())?;
        if magic.starts_with(SPARSE_MAGIC) {
            let (sparse, descriptor) = Sparse::open(file)?;
            let mut create_type = "monolithicSparse".to_string();
            if let Some(text) = descriptor {
                let d = parse_descriptor(&text)?;
                check_parent(&d, path)?;
                if !d.create_type.is_empty() {
                    create_type = d.create_type;
                }
                if d.extents.len() > 1 {
                    return Err(Error::Unsupported(format!(
                        "VMDK sparse file {} whose descriptor lists {} extents",
                        path.display(),
                        d.extents.len()
                    )));
                }
            }
            let len = sparse.capacity;
            return Ok(VmdkImage {
                extents: vec![Extent {
                    start: 0,
                    len,
                    kind: Kind::Sparse(Box::new(sparse)),
                }],
                len,
                create_type,
            });
        }
        if !magic.starts_with(DESCRIPTOR_MAGIC) {
            return Err(Error::format(
                "VMDK",
                0,
                "neither a sparse extent nor a descriptor",
            ));
        }
        if file.len > MAX_DESCRIPTOR {
            return Err(Error::Limit(format!(
                "VMDK descriptor {} of {} bytes",
                path.display(),
                file.len
            )));
        }
        let bytes = file.read_vec("VMDK descriptor", 0, file.len)?;
        let d = parse_descriptor(&String::from_utf8_lossy(&bytes))?;
        check_parent(&d, path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut extents = Vec::with_capacity(d.extents.len());
        let mut start = 0u64;
        for (sectors, kind, name, offset) in d.extents {
            let len = sectors
                .checked_mul(512)
                .ok_or_else(|| Error::format("VMDK descriptor", 0, "extent size overflows"))?;
            let open_extent = |name: &Option<String>| -> Result<SourceFile> {
                let name = name.as_deref().unwrap_or_default();
                if !is_plain_name(name) {
                    return Err(Error::Invalid(format!(
                        "VMDK descriptor {} names extent {name:?}: only plain file names in \
                         the descriptor's folder are opened",
                        path.display()
                    )));
                }
                SourceFile::open(&dir.join(name))
            };
            let k = match kind.as_str() {
                "FLAT" | "VMFS" => {
                    let f = open_extent(&name)?;
                    let at = offset
                        .checked_mul(512)
                        .ok_or_else(|| Error::format("VMDK descriptor", 0, "offset overflows"))?;
                    if at.checked_add(len).is_none_or(|end| end > f.len) {
                        return Err(Error::format(
                            format!("VMDK flat extent {}", f.path.display()),
                            at,
                            format!("{len} bytes needed, file has {}", f.len),
                        ));
                    }
                    Kind::Flat {
                        file: f,
                        offset: at,
                    }
                }
                "SPARSE" => {
                    let (s, _) = Sparse::open(open_extent(&name)?)?;
                    if s.capacity < len {
                        return Err(Error::format(
                            format!("VMDK sparse extent {}", s.file.path.display()),
                            0,
                            format!("capacity {} below the descriptor's {len}", s.capacity),
                        ));
                    }
                    Kind::Sparse(Box::new(s))
                }
                "ZERO" => Kind::Zero,
                other => {
                    return Err(Error::Unsupported(format!("VMDK extent type {other}")));
                }
            };
            extents.push(Extent {
                start,
                len,
                kind: k,
            });
            start = start
                .checked_add(len)
                .ok_or_else(|| Error::format("VMDK descriptor", 0, "disk size overflows"))?;
        }
        if extents.is_empty() {
            return Err(Error::format("VMDK descriptor", 0, "no extents"));
        }
        Ok(VmdkImage {
            extents,
            len: start,
            create_type: d.create_type,
        })
    }
}

impl Evidence for VmdkImage {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.len)?;
        let mut i = self.extents.partition_point(|e| e.start + e.len <= offset);
        while !buf.is_empty() {
            let e = self.extents.get(i).ok_or(Error::OutOfBounds {
                offset,
                len: buf.len() as u64,
                size: self.len,
            })?;
            let within = offset - e.start;
            let n = (e.len - within).min(buf.len() as u64) as usize;
            let (head, tail) = buf.split_at_mut(n);
            match &e.kind {
                Kind::Flat { file, offset: at } => {
                    file.read_at("VMDK flat extent", at + within, head)?
                }
                Kind::Sparse(s) => s.read(within, head)?,
                Kind::Zero => head.fill(0),
            }
            buf = tail;
            offset += n as u64;
            i += 1;
        }
        Ok(())
    }

    fn format(&self) -> crate::Format {
        crate::Format::Vmdk {
            create_type: self.create_type.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_extent_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["../x", "/etc/passwd", "sub/x", ".."] {
            let p = dir.path().join("d.vmdk");
            std::fs::write(
                &p,
                format!(
                    "# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\n\
                     createType=\"monolithicFlat\"\nRW 8 FLAT \"{name}\" 0\n"
                ),
            )
            .unwrap();
            let e = VmdkImage::open(&p).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{name}: {e}");
        }
    }

    #[test]
    fn parent_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.vmdk");
        std::fs::write(&p, "# Disk DescriptorFile\nparentCID=1234abcd\nRW 8 ZERO\n").unwrap();
        assert!(matches!(VmdkImage::open(&p), Err(Error::Unsupported(_))));
    }

    #[test]
    fn zero_extent() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.vmdk");
        std::fs::write(&p, "# Disk DescriptorFile\nparentCID=ffffffff\nRW 8 ZERO\n").unwrap();
        let v = VmdkImage::open(&p).unwrap();
        let mut b = [1u8; 4096];
        v.read_exact_at(0, &mut b).unwrap();
        assert!(b.iter().all(|&x| x == 0));
    }

    /// Found by the `containers` fuzz target: a grain size of 2^62 sectors overflowed the bound
    /// check (`grain * 512`).
    #[test]
    fn huge_grain_is_an_error_not_an_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.vmdk");
        let mut h = vec![0u8; 4096];
        h[..4].copy_from_slice(b"KDMV");
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[12..20].copy_from_slice(&2048u64.to_le_bytes());
        h[20..28].copy_from_slice(&(1u64 << 62).to_le_bytes());
        h[44..48].copy_from_slice(&512u32.to_le_bytes());
        h[56..64].copy_from_slice(&1u64.to_le_bytes());
        std::fs::write(&p, &h).unwrap();
        assert!(matches!(VmdkImage::open(&p), Err(Error::Format { .. })));
    }
}
