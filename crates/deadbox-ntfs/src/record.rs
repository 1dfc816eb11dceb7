//! MFT file records: fixups and attribute parsing, from raw bytes.
//!
//! Hand-written rather than taken from the `ntfs` crate because the bulk walk parses hundreds of
//! thousands of records in parallel from large buffers: the crate re-reads every record through a
//! `Read + Seek` and does not expose records parsed from memory. Every offset and length read
//! from disk is checked before it is used.

use super::runs::{decode_runs, Run};
use crate::time::FileTime;
use deadbox_evidence::bytes::{le_u16, le_u32, le_u64, utf16le_name};
use std::collections::HashSet;

/// Attribute type codes used by deadbox.
pub(crate) const AT_STANDARD_INFORMATION: u32 = 0x10;
pub(crate) const AT_ATTRIBUTE_LIST: u32 = 0x20;
pub(crate) const AT_FILE_NAME: u32 = 0x30;
pub(crate) const AT_SECURITY_DESCRIPTOR: u32 = 0x50;
pub(crate) const AT_VOLUME_NAME: u32 = 0x60;
pub(crate) const AT_DATA: u32 = 0x80;
pub(crate) const AT_INDEX_ROOT: u32 = 0x90;
pub(crate) const AT_INDEX_ALLOCATION: u32 = 0xA0;
const AT_END: u32 = 0xFFFF_FFFF;

/// Most attributes a record may hold before it is treated as corrupt.
const MAX_ATTRIBUTES: usize = 512;

/// Applies the update sequence array (fixups) of a multi-sector record in place.
pub(crate) fn apply_fixups(rec: &mut [u8]) -> Result<(), String> {
    let usa_off = le_u16(rec, 4).ok_or("record too short")? as usize;
    let usa_count = le_u16(rec, 6).ok_or("record too short")? as usize;
    if usa_count < 2 {
        return Err(format!("update sequence count {usa_count} too small"));
    }
    let strides = usa_count - 1;
    if rec.len() % strides != 0 || rec.len() / strides < 256 {
        return Err(format!(
            "update sequence count {usa_count} does not fit a {}-byte record",
            rec.len()
        ));
    }
    let stride = rec.len() / strides;
    let usa_end = usa_off + 2 * usa_count;
    if usa_off < 0x28 || usa_end > stride {
        return Err(format!(
            "update sequence array at {usa_off:#x} out of place"
        ));
    }
    let usn = [rec[usa_off], rec[usa_off + 1]];
    for i in 0..strides {
        let pos = (i + 1) * stride - 2;
        if rec[pos..pos + 2] != usn {
            return Err(format!(
                "fixup mismatch in sector {i} (torn write or damaged record)"
            ));
        }
        let fix = usa_off + 2 + 2 * i;
        rec[pos] = rec[fix];
        rec[pos + 1] = rec[fix + 1];
    }
    Ok(())
}

/// The parsed `$STANDARD_INFORMATION` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StdInfo {
    /// Times: created, modified, MFT modified, accessed.
    pub times: [FileTime; 4],
    /// File attribute flags (`FILE_ATTRIBUTE_*`).
    pub attributes: u32,
    /// Owner id (quota owner, offset 0x30) of the 72-byte NTFS 3.x form; `None` for the
    /// 48-byte form.
    pub owner_id: Option<u32>,
    /// Security id (offset 0x34) of the 72-byte NTFS 3.x form: the key of the file's
    /// descriptor in `$Secure` ([`crate::NtfsVolume::owner_of`]); `None` for the 48-byte form.
    pub security_id: Option<u32>,
}

/// One `$FILE_NAME` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// MFT entry of the parent directory.
    pub parent_entry: u64,
    /// Sequence number of the parent directory the name was created in.
    pub parent_sequence: u16,
    /// Times: created, modified, MFT modified, accessed.
    pub times: [FileTime; 4],
    /// Namespace: 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS.
    pub namespace: u8,
    /// The name.
    pub name: String,
    /// The name was not valid UTF-16 (invalid units replaced by U+FFFD).
    pub lossy: bool,
    /// Logical size recorded in the name (not updated reliably by Windows).
    pub size: u64,
    /// The attribute's id in its MFT record (0 for a name read from a directory index key).
    pub attr_id: u16,
}

/// A non-resident or resident attribute that carries content (`$DATA`, named `$INDEX_ROOT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawAttr {
    pub type_code: u32,
    pub name: String,
    pub flags: u16,
    pub id: u16,
    pub body: AttrBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttrBody {
    Resident(Vec<u8>),
    NonResident {
        start_vcn: u64,
        last_vcn: u64,
        compression_unit: u8,
        allocated: u64,
        size: u64,
        initialized: u64,
        runs: Vec<Run>,
        runs_error: Option<String>,
    },
}

/// An `$ATTRIBUTE_LIST` (parsed when resident; position given when not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttrListBody {
    Resident(Vec<u8>),
    NonResident { runs: Vec<Run>, size: u64 },
}

/// A record parsed from the MFT.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    pub entry: u64,
    pub sequence: u16,
    pub in_use: bool,
    pub is_dir: bool,
    /// Base record reference (entry, sequence) for extension records; None for a base record.
    pub base: Option<(u64, u16)>,
    pub si: Option<StdInfo>,
    pub names: Vec<FileName>,
    pub attrs: Vec<RawAttr>,
    pub attr_list: Option<AttrListBody>,
    /// The attribute id of the `$ATTRIBUTE_LIST` itself (TSK numbers the attributes of
    /// extension records from it, see `tsk_attr_ids`).
    pub attr_list_id: u16,
    pub volume_name: Option<String>,
    /// Owner of a resident `$SECURITY_DESCRIPTOR` attribute.
    pub sd_owner: Option<crate::secure::Owner>,
    /// Runs and size of a non-resident `$SECURITY_DESCRIPTOR` (read when the entry is built).
    pub sd_runs: Option<(Vec<Run>, u64)>,
    pub errors: Vec<String>,
}

/// What a record slot holds.
pub(crate) enum Slot {
    /// Never used or wiped: no `FILE` signature.
    Empty,
    /// A record (possibly with per-attribute errors in `errors`).
    Record(Box<Record>),
    /// A record with a `FILE`/`BAAD` signature that could not be parsed at all.
    Broken(String),
}

/// Copies record `src` into `dst` (same length) for [`parse_record`], leaving out what the
/// parser never reads: only the bytes up to the end of the used part (or of the header and
/// update sequence array, or the first attribute offset, whichever is last, plus the 8 bytes
/// the attribute loop may read there), and the last two bytes of every sector (the fixup
/// checks). A record uses a third to a half of its slot; the bulk walk copies every record
/// twice. The other bytes of `dst` keep whatever they held: the parser does not look at them.
pub(crate) fn copy_for_parse(src: &[u8], dst: &mut [u8]) {
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    if !matches!(src.get(0..4), Some(b"FILE")) {
        // Empty or BAAD: the signature decides.
        let k = n.min(4);
        dst[..k].copy_from_slice(&src[..k]);
        return;
    }
    let (Some(usa_off), Some(usa_count), Some(attrs), Some(used)) = (
        le_u16(src, 4),
        le_u16(src, 6),
        le_u16(src, 20),
        le_u32(src, 24),
    ) else {
        dst.copy_from_slice(src);
        return;
    };
    let usa_end = usa_off as usize + 2 * usa_count as usize;
    let strides = (usa_count as usize).saturating_sub(1);
    if strides == 0 || n % strides != 0 {
        dst.copy_from_slice(src);
        return;
    }
    let stride = n / strides;
    let prefix = (used as usize)
        .max(attrs as usize)
        .max(usa_end)
        .max(0x30)
        .saturating_add(8)
        .min(n);
    dst[..prefix].copy_from_slice(&src[..prefix]);
    for k in 1..=strides {
        let p = k * stride - 2;
        if p >= prefix {
            dst[p..p + 2].copy_from_slice(&src[p..p + 2]);
        }
    }
}

/// Parses one record; `buf` is modified by the fixups.
pub(crate) fn parse_record(entry: u64, buf: &mut [u8]) -> Slot {
    parse_record_as(entry, buf, false)
}

/// [`parse_record`]; with `names_only`, only the header and the `$FILE_NAME` attributes are
/// decoded (the namespace pass of the walk): the same records, the same names, in the same
/// order, without copying resident values or decoding run lists.
pub(crate) fn parse_record_as(entry: u64, buf: &mut [u8], names_only: bool) -> Slot {
    match buf.get(0..4) {
        Some(b"FILE") => {}
        Some(b"BAAD") => {
            return Slot::Broken("record marked BAAD (failed multi-sector transfer)".into())
        }
        _ => return Slot::Empty,
    }
    if let Err(e) = apply_fixups(buf) {
        return Slot::Broken(e);
    }
    let buf: &[u8] = buf;
    let (Some(sequence), Some(attrs_off), Some(flags), Some(used), Some(base_ref)) = (
        le_u16(buf, 16),
        le_u16(buf, 20),
        le_u16(buf, 22),
        le_u32(buf, 24),
        le_u64(buf, 32),
    ) else {
        return Slot::Broken("record header truncated".into());
    };
    let mut rec = Record {
        entry,
        sequence,
        in_use: flags & 1 != 0,
        is_dir: flags & 2 != 0,
        ..Record::default()
    };
    let base_entry = base_ref & 0xFFFF_FFFF_FFFF;
    if base_entry != 0 {
        rec.base = Some((base_entry, (base_ref >> 48) as u16));
    }
    let end = (used as usize).min(buf.len());
    let mut off = attrs_off as usize;
    for _ in 0..MAX_ATTRIBUTES {
        let Some(t) = le_u32(buf, off) else {
            rec.errors
                .push(format!("attribute at {off:#x} past the record end"));
            break;
        };
        if t == AT_END {
            break;
        }
        let Some(len) = le_u32(buf, off + 4) else {
            break;
        };
        let len = len as usize;
        if len < 16 || len % 8 != 0 || off + len > end {
            rec.errors.push(format!(
                "attribute {t:#x} at {off:#x} has impossible length {len}"
            ));
            break;
        }
        let a = &buf[off..off + len];
        if names_only && t != AT_FILE_NAME {
            off += len;
            continue;
        }
        if let Err(e) = parse_attr(&mut rec, t, a) {
            rec.errors
                .push(format!("attribute {t:#x} at {off:#x}: {e}"));
        }
        off += len;
    }
    Slot::Record(Box::new(rec))
}

fn parse_attr(rec: &mut Record, t: u32, a: &[u8]) -> Result<(), String> {
    let non_res = a[8] != 0;
    let name_len = a[9] as usize;
    let name_off = le_u16(a, 10).ok_or("truncated")? as usize;
    let flags = le_u16(a, 12).ok_or("truncated")?;
    let id = le_u16(a, 14).ok_or("truncated")?;
    let name = if name_len > 0 {
        let nb = a
            .get(name_off..name_off + 2 * name_len)
            .ok_or("name out of bounds")?;
        utf16le_name(nb).0
    } else {
        String::new()
    };
    let body = if non_res {
        let start_vcn = le_u64(a, 16).ok_or("truncated")?;
        let last_vcn = le_u64(a, 24).ok_or("truncated")?;
        let runs_off = le_u16(a, 32).ok_or("truncated")? as usize;
        let cu = *a.get(34).ok_or("truncated")?;
        let allocated = le_u64(a, 40).ok_or("truncated")?;
        let size = le_u64(a, 48).ok_or("truncated")?;
        let initialized = le_u64(a, 56).ok_or("truncated")?;
        let run_bytes = a.get(runs_off..).ok_or("run list out of bounds")?;
        let (runs, runs_error) = match decode_runs(run_bytes, start_vcn) {
            Ok(r) => (r, None),
            Err((r, e)) => (r, Some(e)),
        };
        AttrBody::NonResident {
            start_vcn,
            last_vcn,
            compression_unit: cu,
            allocated,
            size,
            initialized,
            runs,
            runs_error,
        }
    } else {
        let vlen = le_u32(a, 16).ok_or("truncated")? as usize;
        let voff = le_u16(a, 20).ok_or("truncated")? as usize;
        let v = a
            .get(voff..voff.checked_add(vlen).ok_or("overflow")?)
            .ok_or("resident value out of bounds")?;
        // Names and standard information are decoded from the record itself; only values
        // that are kept are copied.
        match t {
            AT_STANDARD_INFORMATION => return parse_std_info(rec, v),
            AT_FILE_NAME => {
                let mut n = parse_file_name(v)?;
                n.attr_id = id;
                rec.names.push(n);
                return Ok(());
            }
            _ => {}
        }
        AttrBody::Resident(v.to_vec())
    };
    match (t, &body) {
        (AT_ATTRIBUTE_LIST, AttrBody::Resident(v)) => {
            rec.attr_list = Some(AttrListBody::Resident(v.clone()));
            rec.attr_list_id = id;
        }
        (AT_ATTRIBUTE_LIST, AttrBody::NonResident { runs, size, .. }) => {
            rec.attr_list = Some(AttrListBody::NonResident {
                runs: runs.clone(),
                size: *size,
            });
            rec.attr_list_id = id;
        }
        (AT_SECURITY_DESCRIPTOR, AttrBody::Resident(v)) => {
            // A damaged descriptor only loses the owner; the record stays usable.
            rec.sd_owner = crate::secure::descriptor_owner(v).ok();
        }
        (AT_SECURITY_DESCRIPTOR, AttrBody::NonResident { runs, size, .. }) => {
            rec.sd_runs = Some((runs.clone(), *size));
        }
        (AT_VOLUME_NAME, AttrBody::Resident(v)) => {
            rec.volume_name = Some(utf16le_name(v).0);
        }
        (AT_DATA, _) => rec.attrs.push(RawAttr {
            type_code: t,
            name,
            flags,
            id,
            body,
        }),
        // Named index roots are listed as streams (TSK does); the directory index `$I30` (root
        // and allocation) is kept for `NtfsVolume::dir_index`.
        (AT_INDEX_ROOT, AttrBody::Resident(_)) if !name.is_empty() => rec.attrs.push(RawAttr {
            type_code: t,
            name,
            flags,
            id,
            body,
        }),
        (AT_INDEX_ALLOCATION, AttrBody::NonResident { .. }) if name == "$I30" => {
            rec.attrs.push(RawAttr {
                type_code: t,
                name,
                flags,
                id,
                body,
            })
        }
        _ => {}
    }
    Ok(())
}

fn parse_std_info(rec: &mut Record, v: &[u8]) -> Result<(), String> {
    if v.len() < 36 {
        return Err("$STANDARD_INFORMATION too short".into());
    }
    let mut times = [FileTime(0); 4];
    for (i, t) in times.iter_mut().enumerate() {
        *t = FileTime(le_u64(v, i * 8).unwrap_or(0));
    }
    // The NTFS 3.x form is 72 bytes: owner id at 0x30, security id at 0x34.
    let long = v.len() >= 72;
    rec.si = Some(StdInfo {
        times,
        attributes: le_u32(v, 32).unwrap_or(0),
        owner_id: le_u32(v, 0x30).filter(|_| long),
        security_id: le_u32(v, 0x34).filter(|_| long),
    });
    Ok(())
}

/// Parses a `$FILE_NAME` value (an attribute's, or an index key).
pub(crate) fn parse_file_name(v: &[u8]) -> Result<FileName, String> {
    let pref = le_u64(v, 0).ok_or("$FILE_NAME too short")?;
    let n = *v.get(64).ok_or("$FILE_NAME too short")? as usize;
    let ns = *v.get(65).ok_or("$FILE_NAME too short")?;
    let nb = v
        .get(66..66 + 2 * n)
        .ok_or("$FILE_NAME name out of bounds")?;
    let (name, lossy) = utf16le_name(nb);
    let mut times = [FileTime(0); 4];
    for (i, t) in times.iter_mut().enumerate() {
        *t = FileTime(le_u64(v, 8 + i * 8).unwrap_or(0));
    }
    Ok(FileName {
        parent_entry: pref & 0xFFFF_FFFF_FFFF,
        parent_sequence: (pref >> 48) as u16,
        times,
        namespace: ns,
        name,
        lossy,
        size: le_u64(v, 48).unwrap_or(0),
        attr_id: 0,
    })
}

/// One entry of an `$ATTRIBUTE_LIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttrListEntry {
    pub type_code: u32,
    pub start_vcn: u64,
    pub entry: u64,
    pub sequence: u16,
    /// The attribute's id in the record that holds it.
    pub id: u16,
    /// The attribute's name, UTF-16 code units (empty for an unnamed attribute).
    pub name: Vec<u16>,
}

/// The attribute ids TSK gives the attributes of a file with an attribute list (`base`: the
/// base record's number): TSK needs ids unique per file, and ids restart in each extension
/// record, so it renumbers. The largest id among the list's own and its entries' is the
/// start; each distinct (type, name) of the list, in list order, whose first entry lives in an
/// extension record gets the next id. Distinct as TSK compares them: the same type and the
/// new name equal to the first as many units of the kept one (so an unnamed attribute
/// matches any earlier one of its type); at most 255 are kept. Returns (type, name, id) of
/// the renumbered ones; deadbox gives these ids so that its bodyfile's `inode` column
/// (`entry-type-id`) is the same as `fls -m`'s.
pub(crate) fn tsk_attr_ids(
    list_id: u16,
    entries: &[AttrListEntry],
    base: u64,
) -> Vec<(u32, String, u16)> {
    let mut next = list_id;
    let mut kept: Vec<(u32, &[u16], u64)> = Vec::new();
    // Every prefix of every kept name, by type, length and a running hash: a name without NUL
    // units matches a kept one exactly when it is one of its prefixes, found in one probe
    // (comparing each entry with every kept name cost 65,536 entries × 255 names × 255 units
    // per file). A hash collision only changes a renumbered id.
    let mut prefixes: HashSet<(u32, usize, u64)> = HashSet::new();
    let running = |name: &[u16], mut each: Option<&mut dyn FnMut(usize, u64)>| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        if let Some(f) = each.as_mut() {
            f(0, h);
        }
        for (k, &u) in name.iter().enumerate() {
            h = (h ^ u64::from(u)).wrapping_mul(0x0100_0000_01b3);
            if let Some(f) = each.as_mut() {
                f(k + 1, h);
            }
        }
        h
    };
    for e in entries {
        next = next.max(e.id);
        if kept.len() >= 255 {
            continue;
        }
        let found = if e.name.contains(&0) {
            // NUL units compare equal to the end of a shorter kept name (rare: compared in full).
            kept.iter().any(|(t, n, _)| {
                *t == e.type_code
                    && e.name
                        .iter()
                        .enumerate()
                        .all(|(k, u)| n.get(k).copied().unwrap_or(0) == *u)
            })
        } else {
            prefixes.contains(&(e.type_code, e.name.len(), running(&e.name, None)))
        };
        if !found {
            kept.push((e.type_code, &e.name, e.entry));
            let t = e.type_code;
            running(
                &e.name,
                Some(&mut |k, h| {
                    prefixes.insert((t, k, h));
                }),
            );
        }
    }
    renumber(kept, next, base)
}

/// The ids of the kept (type, name, entry) that live outside record `base`: `next` + 1, + 2, …
fn renumber(kept: Vec<(u32, &[u16], u64)>, mut next: u16, base: u64) -> Vec<(u32, String, u16)> {
    kept.into_iter()
        .filter(|(_, _, entry)| *entry != base)
        .map(|(t, n, _)| {
            next = next.wrapping_add(1);
            (t, String::from_utf16_lossy(n), next)
        })
        .collect()
}

/// Parses the entries of an attribute list value.
pub(crate) fn parse_attr_list(v: &[u8]) -> Vec<AttrListEntry> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 26 <= v.len() && out.len() < 65_536 {
        let (Some(t), Some(len), Some(vcn), Some(r)) = (
            le_u32(v, off),
            le_u16(v, off + 4),
            le_u64(v, off + 8),
            le_u64(v, off + 16),
        ) else {
            break;
        };
        if len < 26 || t == AT_END {
            break;
        }
        let name_len = usize::from(v[off + 6]);
        let name_off = off + usize::from(v[off + 7]);
        let name = v
            .get(name_off..name_off + 2 * name_len)
            .filter(|_| name_off + 2 * name_len <= off + len as usize)
            .map(|b| {
                b.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect()
            })
            .unwrap_or_default();
        out.push(AttrListEntry {
            type_code: t,
            start_vcn: vcn,
            entry: r & 0xFFFF_FFFF_FFFF,
            sequence: (r >> 48) as u16,
            id: le_u16(v, off + 24).unwrap_or(0),
            name,
        });
        off += len as usize;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(type_code: u32, name: &str, entry: u64, id: u16) -> AttrListEntry {
        AttrListEntry {
            type_code,
            start_vcn: 0,
            entry,
            sequence: 1,
            id,
            name: name.encode_utf16().collect(),
        }
    }

    #[test]
    fn attribute_ids_are_renumbered_as_tsk_does() {
        // Base record 27 (list id 11) holds $STANDARD_INFORMATION and names up to id 14;
        // record 28 holds the unnamed $DATA (id 0) and more names (ids 1..): TSK gives the
        // $DATA the next id after the largest seen, 16, and leaves the names (first seen in
        // the base) alone.
        let list = [
            entry(AT_STANDARD_INFORMATION, "", 27, 0),
            entry(AT_FILE_NAME, "", 27, 14),
            entry(AT_FILE_NAME, "", 28, 15),
            entry(AT_DATA, "", 28, 0),
            entry(AT_DATA, "ads", 29, 0),
            entry(AT_DATA, "ads", 29, 3),
        ];
        let ids = tsk_attr_ids(11, &list, 27);
        assert_eq!(
            ids,
            [
                (AT_DATA, String::new(), 16),
                (AT_DATA, "ads".to_string(), 17)
            ]
        );
        // An unnamed attribute matches any earlier one of its type, as TSK compares names.
        let list = [entry(AT_DATA, "x", 28, 2), entry(AT_DATA, "", 29, 0)];
        assert_eq!(tsk_attr_ids(0, &list, 27), [(AT_DATA, "x".to_string(), 3)]);
        // Nothing outside the base record: nothing renumbered.
        assert!(tsk_attr_ids(5, &[entry(AT_DATA, "", 27, 1)], 27).is_empty());
    }

    /// The hashed prefix lookup gives the ids the comparison with every kept name gave, on
    /// random lists of short names over a small alphabet (NUL units included), and a list of
    /// 65,536 entries with 254-unit names finishes (it made 4·10^9 unit comparisons).
    #[test]
    fn hashed_prefixes_match_the_plain_comparison() {
        fn reference(
            list_id: u16,
            entries: &[AttrListEntry],
            base: u64,
        ) -> Vec<(u32, String, u16)> {
            let mut next = list_id;
            let mut kept: Vec<(u32, &[u16], u64)> = Vec::new();
            for e in entries {
                next = next.max(e.id);
                let found = kept.iter().any(|(t, n, _)| {
                    *t == e.type_code
                        && e.name
                            .iter()
                            .enumerate()
                            .all(|(k, u)| n.get(k).copied().unwrap_or(0) == *u)
                });
                if !found && kept.len() < 255 {
                    kept.push((e.type_code, &e.name, e.entry));
                }
            }
            renumber(kept, next, base)
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..2000 {
            let n = rnd(40) as usize;
            let list: Vec<AttrListEntry> = (0..n)
                .map(|_| AttrListEntry {
                    type_code: [AT_DATA, AT_FILE_NAME, 0x100][rnd(3) as usize],
                    start_vcn: 0,
                    entry: 27 + rnd(3),
                    sequence: 1,
                    id: rnd(20) as u16,
                    name: (0..rnd(4))
                        .map(|_| [0u16, 0x61, 0x62][rnd(3) as usize])
                        .collect(),
                })
                .collect();
            assert_eq!(tsk_attr_ids(3, &list, 27), reference(3, &list, 27));
        }
        let big: Vec<AttrListEntry> = (0..65_536u32)
            .map(|i| AttrListEntry {
                type_code: AT_DATA,
                start_vcn: 0,
                entry: 28,
                sequence: 1,
                id: 1,
                name: std::iter::repeat_n(0x61u16, 253)
                    .chain([0x62 + (i % 254) as u16])
                    .collect(),
            })
            .collect();
        assert_eq!(tsk_attr_ids(0, &big, 27).len(), 254);
    }

    #[test]
    fn attribute_list_entries_carry_id_and_name() {
        let mut v = vec![0u8; 40];
        v[0..4].copy_from_slice(&AT_DATA.to_le_bytes());
        v[4..6].copy_from_slice(&40u16.to_le_bytes());
        v[6] = 3; // name length
        v[7] = 26; // name offset
        v[16..24].copy_from_slice(&(28u64 | (2u64 << 48)).to_le_bytes());
        v[24..26].copy_from_slice(&7u16.to_le_bytes());
        for (k, c) in "ads".encode_utf16().enumerate() {
            v[26 + 2 * k..28 + 2 * k].copy_from_slice(&c.to_le_bytes());
        }
        let e = parse_attr_list(&v);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].entry, e[0].sequence, e[0].id), (28, 2, 7));
        assert_eq!(String::from_utf16_lossy(&e[0].name), "ads");
    }
}
