//! Partition tables and volume discovery: bare volumes, MBR (with extended/logical chains) and
//! GPT (with protective MBR, CRC checks and the backup header), 512- and 4096-byte sectors.
//!
//! Hand-written: `mbrman` needs a `Read + Seek` per call and stops at the first damaged EBR;
//! `gpt` wants a writable device. Both tables are a few dozen bytes of well-known layout, and
//! hostile tables (loops, overlaps, entries past the end) must become diagnostics, not errors
//! that hide the rest of the disk.
//!
//! NTFS volumes are identified by their boot sector, never by the partition type byte.
//! Partition indexes: MBR primaries by slot (1–4), logical partitions from 5 in chain order; GPT
//! entries by their position in the entry array (1-based).

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::looks_like_ntfs;
use deadbox_evidence::bytes::{le_u32, le_u64, utf16le_to_nul};
use deadbox_evidence::error::{Error, Result};
use deadbox_evidence::{Evidence, Region};
use std::sync::Arc;

/// The partitioning scheme found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// No partition table: a file system starts at offset 0.
    None,
    /// DOS/MBR partition table.
    Mbr,
    /// GUID partition table.
    Gpt,
}

/// One partition of the table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Partition {
    /// Index (MBR: slot 1–4, logicals from 5; GPT: entry number from 1).
    pub index: u32,
    /// Type: the MBR type byte or the GPT type GUID. Serialised (and displayed) as its
    /// description with the code, e.g. `NTFS / exFAT (0x07)`.
    #[serde(rename = "type")]
    pub partition_type: PartitionType,
    /// Byte offset in the evidence.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// GPT partition name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An NTFS boot sector sits at the partition start.
    pub ntfs: bool,
}

/// The type of a partition: the MBR type byte or the GPT partition type GUID.
///
/// [`Display`](std::fmt::Display) and `Serialize` give the description with the code:
/// `NTFS / exFAT (0x07)`, `Microsoft basic data (EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionType {
    /// An MBR partition type byte.
    Mbr(u8),
    /// A GPT partition type GUID.
    Gpt {
        /// The 16 GUID bytes as stored on disk (mixed-endian: the first three fields little
        /// endian).
        guid: [u8; 16],
    },
}

impl PartitionType {
    /// What the type means (`NTFS / exFAT`, `Microsoft basic data`, …; `unknown` when not
    /// known).
    pub fn description(&self) -> &'static str {
        match self {
            PartitionType::Mbr(t) => match t {
                0x01 => "FAT12",
                0x04 | 0x06 | 0x0E => "FAT16",
                0x05 | 0x0F | 0x85 => "Extended",
                0x07 => "NTFS / exFAT",
                0x0B | 0x0C => "FAT32",
                0x27 => "Windows recovery",
                0x82 => "Linux swap",
                0x83 => "Linux",
                0xEE => "GPT protective",
                _ => "unknown",
            },
            PartitionType::Gpt { .. } => match self.code().as_str() {
                "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
                "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
                "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
                "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI System",
                "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
                "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3" => "Windows LDM metadata",
                "AF9B60A0-1431-4F62-BC68-3311714A69AD" => "Windows LDM data",
                _ => "unknown",
            },
        }
    }

    /// The code: the MBR type byte as `0x07`, or the GPT type GUID in its canonical uppercase
    /// text form.
    pub fn code(&self) -> String {
        match self {
            PartitionType::Mbr(t) => format!("{t:#04x}"),
            PartitionType::Gpt { guid: g } => format!(
                "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
                u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
                u16::from_le_bytes([g[4], g[5]]),
                u16::from_le_bytes([g[6], g[7]]),
                g[8],
                g[9],
                g[10],
                g[11],
                g[12],
                g[13],
                g[14],
                g[15]
            ),
        }
    }
}

impl std::fmt::Display for PartitionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

impl serde::Serialize for PartitionType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The layout of a disk image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Layout {
    /// Partitioning scheme.
    pub scheme: Scheme,
    /// Logical sector size in bytes.
    pub sector_size: u32,
    /// Partitions in index order.
    pub partitions: Vec<Partition>,
    /// Problems in the tables (bad CRCs, loops, entries out of range).
    pub diagnostics: Vec<Diagnostic>,
}

fn read_vec(ev: &dyn Evidence, off: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    ev.read_exact_at(off, &mut b).ok()?;
    Some(b)
}

fn is_ntfs_at(ev: &Arc<dyn Evidence>, off: u64) -> bool {
    Region::clipped(ev.clone(), off, 512)
        .map(|r| looks_like_ntfs(&r))
        .unwrap_or(false)
}

/// Most logical partitions followed in an extended chain.
const MAX_LOGICAL: usize = 256;
/// Largest GPT entry array read (bytes).
const MAX_GPT_ARRAY: u64 = 4 << 20;

/// Reads the partition layout of `ev`.
pub fn detect(ev: &Arc<dyn Evidence>) -> Result<Layout> {
    let len = ev.len();
    if len < 512 {
        return Err(Error::format(
            "disk",
            0,
            format!("only {len} bytes: too small for a disk or volume"),
        ));
    }
    let mbr = read_vec(ev.as_ref(), 0, 512)
        .ok_or_else(|| Error::format("disk", 0, "unreadable first sector"))?;
    if &mbr[3..11] == b"NTFS    " {
        return Ok(Layout {
            scheme: Scheme::None,
            sector_size: 512,
            partitions: Vec::new(),
            diagnostics: Vec::new(),
        });
    }
    for ss in [512u64, 4096] {
        if let Some(h) = read_vec(ev.as_ref(), ss, 8) {
            if &h == b"EFI PART" {
                return gpt(ev, ss);
            }
        }
    }
    if mbr[510] != 0x55 || mbr[511] != 0xAA {
        return Err(Error::format(
            "disk",
            0,
            "neither an NTFS boot sector, an MBR nor a GPT at the start",
        ));
    }
    let has_protective = (0..4).any(|i| mbr[446 + 16 * i + 4] == 0xEE);
    if has_protective {
        // Protective MBR but no readable primary GPT header: try the backup at the last sector.
        for ss in [512u64, 4096] {
            if len >= 2 * ss {
                if let Some(h) = read_vec(ev.as_ref(), len / ss * ss - ss, 8) {
                    if &h == b"EFI PART" {
                        return gpt(ev, ss);
                    }
                }
            }
        }
    }
    mbr_layout(ev, &mbr)
}

fn mbr_layout(ev: &Arc<dyn Evidence>, mbr: &[u8]) -> Result<Layout> {
    let len = ev.len();
    let mut diagnostics = Vec::new();
    let mut raw = Vec::new(); // (index, type, lba, count)
    let mut ext: Option<u64> = None;
    for i in 0..4 {
        let e = &mbr[446 + 16 * i..462 + 16 * i];
        let t = e[4];
        let lba = le_u32(e, 8).unwrap_or(0) as u64;
        let cnt = le_u32(e, 12).unwrap_or(0) as u64;
        if t == 0 || cnt == 0 {
            continue;
        }
        if matches!(t, 0x05 | 0x0F | 0x85) {
            if ext.is_none() {
                ext = Some(lba);
            } else {
                diagnostics.push(Diagnostic::new(
                    DiagnosticKind::Unsupported,
                    format!("slot {}: second extended partition ignored", i + 1),
                ));
            }
            continue;
        }
        raw.push((i as u32 + 1, t, lba, cnt));
    }
    if let Some(ext_lba) = ext {
        let mut visited = std::collections::HashSet::new();
        let mut ebr_lba = ext_lba;
        let mut index = 5u32;
        loop {
            if !visited.insert(ebr_lba) {
                diagnostics.push(
                    Diagnostic::new(
                        DiagnosticKind::Corrupt,
                        format!("extended partition chain loops back to sector {ebr_lba}"),
                    )
                    .at_offset(ebr_lba.checked_mul(512)),
                );
                break;
            }
            if visited.len() > MAX_LOGICAL {
                diagnostics.push(Diagnostic::new(
                    DiagnosticKind::Limit,
                    format!("more than {MAX_LOGICAL} logical partitions; rest ignored"),
                ));
                break;
            }
            let Some(ebr) = ebr_lba
                .checked_mul(512)
                .and_then(|o| read_vec(ev.as_ref(), o, 512))
            else {
                diagnostics.push(
                    Diagnostic::new(
                        DiagnosticKind::Truncated,
                        format!("extended boot record at sector {ebr_lba} is past the end"),
                    )
                    .at_offset(ebr_lba.checked_mul(512)),
                );
                break;
            };
            if ebr[510] != 0x55 || ebr[511] != 0xAA {
                diagnostics.push(
                    Diagnostic::new(
                        DiagnosticKind::Corrupt,
                        format!("extended boot record at sector {ebr_lba} has no signature"),
                    )
                    .at_offset(ebr_lba.checked_mul(512)),
                );
                break;
            }
            let (t, rel, cnt) = (
                ebr[446 + 4],
                le_u32(&ebr, 446 + 8).unwrap_or(0) as u64,
                le_u32(&ebr, 446 + 12).unwrap_or(0) as u64,
            );
            if t != 0 && cnt != 0 {
                raw.push((index, t, ebr_lba + rel, cnt));
                index += 1;
            }
            let (nt, nrel) = (ebr[462 + 4], le_u32(&ebr, 462 + 8).unwrap_or(0) as u64);
            if nt == 0 || nrel == 0 {
                break;
            }
            ebr_lba = ext_lba + nrel;
        }
    }
    // Sector size: 512 unless partitions only make sense (an NTFS boot sector) at 4096.
    let ntfs512 = raw.iter().filter(|p| is_ntfs_at(ev, p.2 * 512)).count();
    let ntfs4k = raw
        .iter()
        .filter(|p| is_ntfs_at(ev, p.2.saturating_mul(4096)))
        .count();
    let ss: u64 = if ntfs4k > ntfs512 { 4096 } else { 512 };
    let mut partitions = Vec::new();
    for (index, t, lba, cnt) in raw {
        let (Some(offset), Some(size)) = (lba.checked_mul(ss), cnt.checked_mul(ss)) else {
            diagnostics.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!("partition {index}: offset overflows"),
                )
                .at_partition(Some(index)),
            );
            continue;
        };
        if !placed(index, offset, size, len, &mut diagnostics, || {
            format!(
                        "partition {index} starts at byte {offset}, past the end of the evidence ({len} bytes)"
                    )
        }) {
            continue;
        }
        partitions.push(Partition {
            index,
            partition_type: PartitionType::Mbr(t),
            offset,
            size,
            name: None,
            ntfs: is_ntfs_at(ev, offset),
        });
    }
    check_overlaps(&partitions, &mut diagnostics);
    Ok(Layout {
        scheme: Scheme::Mbr,
        sector_size: ss as u32,
        partitions,
        diagnostics,
    })
}

/// Most overlap diagnostics listed; the rest are counted.
const MAX_OVERLAP_DIAGNOSTICS: usize = 32;

/// Reports overlapping partitions. A hostile table can make every pair overlap (a GPT array
/// holds up to 32768 entries), so the pairs are found by a sweep over the partitions sorted by
/// offset and at most [`MAX_OVERLAP_DIAGNOSTICS`] are listed: linear work and output whatever
/// the table.
fn check_overlaps(parts: &[Partition], diagnostics: &mut Vec<Diagnostic>) {
    let mut order: Vec<&Partition> = parts.iter().collect();
    order.sort_by_key(|p| (p.offset, p.index));
    let mut listed = 0usize;
    let mut more = false;
    'outer: for (i, a) in order.iter().enumerate() {
        let a_end = a.offset.saturating_add(a.size);
        for b in &order[i + 1..] {
            if b.offset >= a_end {
                break;
            }
            if listed == MAX_OVERLAP_DIAGNOSTICS {
                more = true;
                break 'outer;
            }
            listed += 1;
            let message = if b.offset == a.offset && b.ntfs && a.ntfs {
                format!(
                    "partitions {} and {} overlap (same start: the volume is read once, as partition {})",
                    a.index, b.index, a.index
                )
            } else {
                format!("partitions {} and {} overlap", a.index, b.index)
            };
            diagnostics.push(
                Diagnostic::new(DiagnosticKind::Corrupt, message)
                    .at_partition(Some(b.index))
                    .at_offset(Some(b.offset)),
            );
        }
    }
    if more {
        diagnostics.push(Diagnostic::new(
            DiagnosticKind::Limit,
            format!(
                "more overlapping partitions; only the first {MAX_OVERLAP_DIAGNOSTICS} pairs are listed"
            ),
        ));
    }
}

/// Reads and checks a GPT header at byte `off`; returns (entries_lba, count, entry_size).
fn gpt_header(ev: &dyn Evidence, off: u64) -> std::result::Result<(u64, u32, u32, u32), String> {
    let h = read_vec(ev, off, 512).ok_or("header unreadable")?;
    if &h[0..8] != b"EFI PART" {
        return Err("no EFI PART signature".into());
    }
    let hsize = le_u32(&h, 12).unwrap_or(0) as usize;
    if !(92..=512).contains(&hsize) {
        return Err(format!("header size {hsize}"));
    }
    let mut copy = h[..hsize].to_vec();
    copy[16..20].fill(0);
    if crc32fast::hash(&copy) != le_u32(&h, 16).unwrap_or(0) {
        return Err("header CRC mismatch".into());
    }
    Ok((
        le_u64(&h, 72).unwrap_or(0),
        le_u32(&h, 80).unwrap_or(0),
        le_u32(&h, 84).unwrap_or(0),
        le_u32(&h, 88).unwrap_or(0),
    ))
}

fn gpt(ev: &Arc<dyn Evidence>, ss: u64) -> Result<Layout> {
    let len = ev.len();
    let mut diagnostics = Vec::new();
    let last = len / ss * ss - ss;
    let mut chosen = None;
    for (what, off) in [("primary", ss), ("backup", last)] {
        match gpt_header(ev.as_ref(), off) {
            Ok(h) => {
                let (lba, n, esize, crc) = h;
                let bytes = n as u64 * esize as u64;
                if esize < 128 || bytes > MAX_GPT_ARRAY {
                    diagnostics.push(
                        Diagnostic::new(
                            DiagnosticKind::Limit,
                            format!("{what} GPT: entry array of {n} × {esize} bytes refused"),
                        )
                        .at_offset(Some(off)),
                    );
                    continue;
                }
                let Some(arr) = lba
                    .checked_mul(ss)
                    .and_then(|o| read_vec(ev.as_ref(), o, bytes as usize))
                else {
                    diagnostics.push(
                        Diagnostic::new(
                            DiagnosticKind::Unreadable,
                            format!("{what} GPT: entry array unreadable"),
                        )
                        .at_offset(Some(off)),
                    );
                    continue;
                };
                if crc32fast::hash(&arr) != crc {
                    diagnostics.push(
                        Diagnostic::new(
                            DiagnosticKind::Corrupt,
                            format!("{what} GPT: entry array CRC mismatch"),
                        )
                        .at_offset(Some(off)),
                    );
                    continue;
                }
                chosen = Some((arr, esize as usize));
                break;
            }
            Err(e) => diagnostics.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!("{what} GPT header at byte {off}: {e}"),
                )
                .at_offset(Some(off)),
            ),
        }
    }
    let Some((arr, esize)) = chosen else {
        let all: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        return Err(Error::format("GPT", ss, all.join("; ")));
    };
    let mut partitions = Vec::new();
    for (i, e) in arr.chunks_exact(esize).enumerate() {
        if e[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let first = le_u64(e, 32).unwrap_or(0);
        let lastlba = le_u64(e, 40).unwrap_or(0);
        let index = i as u32 + 1;
        if lastlba < first {
            diagnostics.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!("partition {index}: last LBA before first"),
                )
                .at_partition(Some(index)),
            );
            continue;
        }
        let (Some(offset), Some(size)) = (
            first.checked_mul(ss),
            (lastlba - first)
                .checked_add(1)
                .and_then(|n| n.checked_mul(ss)),
        ) else {
            diagnostics.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!("partition {index}: offset overflows"),
                )
                .at_partition(Some(index)),
            );
            continue;
        };
        if !placed(index, offset, size, len, &mut diagnostics, || {
            format!("partition {index} starts past the end of the evidence")
        }) {
            continue;
        }
        let name = utf16le_to_nul(&e[56..128.min(e.len())]);
        partitions.push(Partition {
            index,
            partition_type: PartitionType::Gpt {
                guid: e[0..16].try_into().unwrap_or_default(),
            },
            offset,
            size,
            name: (!name.is_empty()).then_some(name),
            ntfs: is_ntfs_at(ev, offset),
        });
    }
    check_overlaps(&partitions, &mut diagnostics);
    Ok(Layout {
        scheme: Scheme::Gpt,
        sector_size: ss as u32,
        partitions,
        diagnostics,
    })
}

/// Which volumes to open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VolumeSelect {
    /// Only this partition index.
    pub partition: Option<u32>,
    /// A volume at this explicit byte offset (overrides the table).
    pub offset: Option<u64>,
}

/// A volume found in the evidence: where it is and which partition it is.
#[derive(Debug, Clone)]
pub struct VolumeSpot {
    /// Partition index (`None` for a bare volume or an explicit offset).
    pub partition: Option<u32>,
    /// The window of the evidence the volume may occupy.
    pub region: Region,
}

/// The NTFS volumes of `ev` selected by `sel`: all NTFS partitions by default, or the bare
/// volume. Errors when nothing matches.
pub fn ntfs_volumes(
    ev: &Arc<dyn Evidence>,
    layout: &Layout,
    sel: VolumeSelect,
) -> Result<Vec<VolumeSpot>> {
    if let Some(off) = sel.offset {
        let region = Region::clipped(ev.clone(), off, ev.len().saturating_sub(off))?;
        if !looks_like_ntfs(&region) {
            return Err(Error::format(
                "volume",
                off,
                "no NTFS boot sector at this offset",
            ));
        }
        return Ok(vec![VolumeSpot {
            partition: None,
            region,
        }]);
    }
    if layout.scheme == Scheme::None {
        if sel.partition.is_some() {
            return Err(Error::NotFound(
                "partitions: the evidence is a bare volume".into(),
            ));
        }
        return Ok(vec![VolumeSpot {
            partition: None,
            region: Region::whole(ev.clone()),
        }]);
    }
    let mut out = Vec::new();
    // A volume listed twice (a hostile table can repeat one entry thousands of times) is read
    // once, under the lowest index (check_overlaps reports the repeat).
    let mut seen = std::collections::HashSet::new();
    let mut order: Vec<&Partition> = layout.partitions.iter().collect();
    order.sort_by_key(|p| p.index);
    for p in order {
        if sel.partition.is_some_and(|i| i != p.index) {
            continue;
        }
        if p.ntfs && !seen.insert(p.offset) {
            continue;
        }
        if !p.ntfs {
            if sel.partition.is_some() {
                return Err(Error::NoVolume(format!("partition {} (not NTFS)", p.index)));
            }
            continue;
        }
        out.push(VolumeSpot {
            partition: Some(p.index),
            region: Region::clipped(ev.clone(), p.offset, p.size)?,
        });
    }
    if out.is_empty() {
        return Err(match sel.partition {
            Some(i) => Error::NotFound(format!("partition {i}")),
            None => Error::NoVolume("the partition table".into()),
        });
    }
    Ok(out)
}

/// Checks a partition's place against the evidence length `len`: false, with the diagnostic
/// `starts_past` gives, when it starts past the end; true, with a diagnostic, when it only runs
/// past it (a truncated image); true when it fits.
fn placed(
    index: u32,
    offset: u64,
    size: u64,
    len: u64,
    diagnostics: &mut Vec<Diagnostic>,
    starts_past: impl FnOnce() -> String,
) -> bool {
    let cut = |message: String| {
        Diagnostic::new(DiagnosticKind::Truncated, message)
            .at_partition(Some(index))
            .at_offset(Some(offset))
    };
    if offset >= len {
        diagnostics.push(cut(starts_past()));
        return false;
    }
    if offset.saturating_add(size) > len {
        diagnostics.push(cut(format!(
            "partition {index} runs past the end of the evidence (truncated image?)"
        )));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_type_text() {
        assert_eq!(PartitionType::Mbr(0x07).to_string(), "NTFS / exFAT (0x07)");
        assert_eq!(PartitionType::Mbr(0x99).to_string(), "unknown (0x99)");
        // Microsoft basic data, as stored on disk (first three fields little endian).
        let guid = [
            0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44, 0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26,
            0x99, 0xC7,
        ];
        let t = PartitionType::Gpt { guid };
        assert_eq!(t.description(), "Microsoft basic data");
        assert_eq!(
            t.to_string(),
            "Microsoft basic data (EBD0A0A2-B9E5-4433-87C0-68B6B72699C7)"
        );
    }
}
