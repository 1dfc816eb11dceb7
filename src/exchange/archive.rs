//! Staged archives: magic bytes of zip/7z/rar, and zip member names from the central directory.

use crate::sniff::Magic;
use crate::{Error, Result};
use deadbox_evidence::bytes::{le_u16, le_u32, le_u64, slice_at};

/// At most this many zip member names are read.
pub const MAX_ZIP_MEMBERS: u64 = 100_000;
const EOCD_SIG: &[u8] = b"PK\x05\x06";
const EOCD_SIZE: usize = 22;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const CDFH_SIG: u32 = 0x0201_4b50;
const CDFH_SIZE: u64 = 46;

/// An archive format recognised by [`archive_kind`]. Displayed and serialised as `zip`, `7z`
/// or `rar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ArchiveKind {
    /// PKZIP (also empty and spanned archives).
    #[serde(rename = "zip")]
    Zip,
    /// 7-Zip.
    #[serde(rename = "7z")]
    SevenZip,
    /// RAR (versions 1.5 to 4 and 5).
    #[serde(rename = "rar")]
    Rar,
}

impl ArchiveKind {
    /// The short lowercase name: `zip`, `7z` or `rar`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Zip => "zip",
            ArchiveKind::SevenZip => "7z",
            ArchiveKind::Rar => "rar",
        }
    }
}

impl std::fmt::Display for ArchiveKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The archive format from the first bytes, else `None`. Empty and spanned zips count as zip
/// (see [`Magic`]).
pub fn archive_kind(bytes: &[u8]) -> Option<ArchiveKind> {
    match Magic::of(bytes).and_then(Magic::archive)? {
        "zip" => Some(ArchiveKind::Zip),
        "7z" => Some(ArchiveKind::SevenZip),
        "rar" => Some(ArchiveKind::Rar),
        _ => None,
    }
}

fn fmt(offset: u64, reason: impl Into<String>) -> Error {
    Error::format("zip", offset, reason)
}

/// Member names of a zip archive, from its central directory: the end-of-central-directory
/// record is searched in the last 64 KiB + 22 bytes; ZIP64 archives are read through their
/// ZIP64 end record; archives with data prepended (self-extractors) are handled by locating
/// the directory relative to the end record. Names are UTF-8 when the entry says so (flag bit
/// 11), else read as Latin-1 (an approximation of CP437). More than [`MAX_ZIP_MEMBERS`] entries is an [`Error::Limit`].
pub fn zip_members(bytes: &[u8]) -> Result<Vec<String>> {
    Ok(zip_entries(bytes)?.into_iter().map(|e| e.name).collect())
}

/// One member of a zip archive, as its central directory describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// The member's name (see [`zip_members`] for the encoding).
    pub name: String,
    /// Compression method: 0 stored, 8 deflate (others are not read).
    pub method: u16,
    /// General-purpose flags (bit 0: encrypted).
    pub flags: u16,
    /// Bytes of the member's data in the archive.
    pub compressed_size: u64,
    /// Bytes of the member once decompressed.
    pub size: u64,
    /// Offset of the member's local header in `bytes` (data prepended to the archive counted).
    pub local_offset: u64,
}

/// The entries of a zip archive's central directory (the same reading as [`zip_members`]),
/// with ZIP64 sizes and offsets taken from the entries' ZIP64 extra fields.
pub fn zip_entries(bytes: &[u8]) -> Result<Vec<ZipEntry>> {
    let size = bytes.len() as u64;
    let search_from = bytes.len().saturating_sub(0xFFFF + EOCD_SIZE);
    let tail = bytes.get(search_from..).unwrap_or_default();
    let eocd_rel = tail
        .windows(4)
        .rposition(|w| w == EOCD_SIG)
        .ok_or_else(|| fmt(size, "no end of central directory record"))?;
    let eocd = (search_from + eocd_rel) as u64;
    let trunc = || fmt(eocd, "truncated end of central directory record");
    let mut entries = u64::from(le_u16(bytes, eocd + 10).ok_or_else(trunc)?);
    let mut cd_size = u64::from(le_u32(bytes, eocd + 12).ok_or_else(trunc)?);
    let mut cd_offset = u64::from(le_u32(bytes, eocd + 16).ok_or_else(trunc)?);
    let mut cd_end = eocd;
    if entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        let loc = eocd
            .checked_sub(20)
            .filter(|&l| le_u32(bytes, l) == Some(ZIP64_LOCATOR_SIG))
            .ok_or_else(|| fmt(eocd, "ZIP64 values without a ZIP64 locator"))?;
        let z = le_u64(bytes, loc + 8).ok_or_else(|| fmt(loc, "truncated ZIP64 locator"))?;
        if le_u32(bytes, z) != Some(ZIP64_EOCD_SIG) {
            return Err(fmt(z, "no ZIP64 end of central directory record"));
        }
        let t = || fmt(z, "truncated ZIP64 end of central directory record");
        entries = le_u64(bytes, z.checked_add(32).ok_or_else(t)?).ok_or_else(t)?;
        cd_size = le_u64(bytes, z.checked_add(40).ok_or_else(t)?).ok_or_else(t)?;
        cd_offset = le_u64(bytes, z.checked_add(48).ok_or_else(t)?).ok_or_else(t)?;
        cd_end = z;
    }
    if entries > MAX_ZIP_MEMBERS {
        return Err(Error::Limit(format!(
            "zip: {entries} entries (at most {MAX_ZIP_MEMBERS} read)"
        )));
    }
    // Where the directory really starts: as recorded, or right before the end record when
    // data was prepended to the archive.
    let start = if le_u32(bytes, cd_offset) == Some(CDFH_SIG) || entries == 0 {
        cd_offset
    } else {
        cd_end
            .checked_sub(cd_size)
            .filter(|&s| le_u32(bytes, s) == Some(CDFH_SIG))
            .ok_or_else(|| fmt(cd_offset, "no central directory at the recorded offset"))?
    };
    // Data prepended to the archive (self-extractors) shifts every recorded offset.
    let shift = start.saturating_sub(cd_offset);
    let mut names = Vec::new();
    let mut at = start;
    for i in 0..entries {
        let hdr = slice_at(bytes, at, CDFH_SIZE).ok_or(Error::OutOfBounds {
            offset: at,
            len: CDFH_SIZE,
            size,
        })?;
        if le_u32(hdr, 0) != Some(CDFH_SIG) {
            return Err(fmt(
                at,
                format!("entry {i}: bad central directory signature"),
            ));
        }
        let flags = le_u16(hdr, 8).unwrap_or(0);
        let name_len = u64::from(le_u16(hdr, 28).unwrap_or(0));
        let extra_len = u64::from(le_u16(hdr, 30).unwrap_or(0));
        let comment_len = u64::from(le_u16(hdr, 32).unwrap_or(0));
        let raw = slice_at(bytes, at + CDFH_SIZE, name_len).ok_or(Error::OutOfBounds {
            offset: at + CDFH_SIZE,
            len: name_len,
            size,
        })?;
        let name = if flags & 0x0800 != 0 {
            String::from_utf8_lossy(raw).into_owned()
        } else {
            // CP437 in the spec; Latin-1 is close enough for ASCII-heavy names.
            raw.iter().map(|&b| char::from(b)).collect()
        };
        let mut compressed_size = u64::from(le_u32(hdr, 20).unwrap_or(0));
        let mut size = u64::from(le_u32(hdr, 24).unwrap_or(0));
        let mut local = u64::from(le_u32(hdr, 42).unwrap_or(0));
        // ZIP64 extra field (id 1): the 64-bit values of the fields set to 0xFFFFFFFF, in order.
        let extra = slice_at(bytes, at + CDFH_SIZE + name_len, extra_len).unwrap_or_default();
        let mut e = 0usize;
        while e + 4 <= extra.len() {
            let id = u16::from_le_bytes([extra[e], extra[e + 1]]);
            let len = usize::from(u16::from_le_bytes([extra[e + 2], extra[e + 3]]));
            let field = extra.get(e + 4..e + 4 + len).unwrap_or_default();
            if id == 1 {
                let mut vals = field
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
                for v in [&mut size, &mut compressed_size, &mut local] {
                    if *v == 0xFFFF_FFFF {
                        *v = vals.next().unwrap_or(*v);
                    }
                }
            }
            e += 4 + len;
        }
        names.push(ZipEntry {
            name,
            method: le_u16(hdr, 10).unwrap_or(0),
            flags,
            compressed_size,
            size,
            // Shifted like the directory, unless the entry recorded the real offset.
            local_offset: [local.saturating_add(shift), local]
                .into_iter()
                .find(|&o| le_u32(bytes, o) == Some(0x0403_4b50))
                .unwrap_or(local.saturating_add(shift)),
        });
        at += CDFH_SIZE + name_len + extra_len + comment_len;
    }
    Ok(names)
}

/// The decompressed data of a zip member (stored or deflate), at most `max` bytes: a member
/// that decompresses to more is an [`Error::Limit`]; an encrypted member or another method is a
/// format error. The local header's name and extra lengths locate the data; the sizes come from
/// the central directory.
pub fn zip_member_data(bytes: &[u8], entry: &ZipEntry, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let at = entry.local_offset;
    if le_u32(bytes, at) != Some(0x0403_4b50) {
        return Err(fmt(at, format!("{}: no local header", entry.name)));
    }
    if entry.flags & 1 != 0 {
        return Err(fmt(at, format!("{}: encrypted", entry.name)));
    }
    let trunc = || fmt(at, format!("{}: truncated local header", entry.name));
    let name_len = u64::from(le_u16(bytes, at + 26).ok_or_else(trunc)?);
    let extra_len = u64::from(le_u16(bytes, at + 28).ok_or_else(trunc)?);
    let data_at = at + 30 + name_len + extra_len;
    let avail = (bytes.len() as u64).saturating_sub(data_at);
    let raw = slice_at(bytes, data_at, entry.compressed_size.min(avail)).unwrap_or_default();
    let limit = |n: u64| {
        Error::Limit(format!(
            "zip member {}: {n} bytes or more (at most {max} read)",
            entry.name
        ))
    };
    match entry.method {
        0 => {
            if raw.len() as u64 > max {
                return Err(limit(raw.len() as u64));
            }
            Ok(raw.to_vec())
        }
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(raw)
                .take(max + 1)
                .read_to_end(&mut out)
                .map_err(|e| fmt(data_at, format!("{}: deflate: {e}", entry.name)))?;
            if out.len() as u64 > max {
                return Err(limit(out.len() as u64));
            }
            Ok(out)
        }
        m => Err(fmt(
            at,
            format!("{}: compression method {m} not read", entry.name),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stored-only zip with the given member names (and optional prefix, ZIP64 records).
    pub(crate) fn build(names: &[&str], prefix: &[u8], zip64: bool) -> Vec<u8> {
        let mut b = prefix.to_vec();
        let mut offsets = Vec::new();
        for n in names {
            offsets.push(b.len() as u32);
            b.extend_from_slice(b"PK\x03\x04");
            b.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            b.extend_from_slice(&[0; 8]); // sizes
            b.extend_from_slice(&(n.len() as u16).to_le_bytes());
            b.extend_from_slice(&0u16.to_le_bytes());
            b.extend_from_slice(n.as_bytes());
        }
        let cd_start = b.len();
        for (n, off) in names.iter().zip(&offsets) {
            b.extend_from_slice(b"PK\x01\x02");
            b.extend_from_slice(&[20, 0, 20, 0]);
            b.extend_from_slice(&0x0800u16.to_le_bytes()); // UTF-8 names
            b.extend_from_slice(&[0; 18]); // method, time, date, crc, sizes
            b.extend_from_slice(&(n.len() as u16).to_le_bytes());
            b.extend_from_slice(&4u16.to_le_bytes()); // extra
            b.extend_from_slice(&1u16.to_le_bytes()); // comment
            b.extend_from_slice(&[0; 8]); // disk, attrs
            b.extend_from_slice(&off.to_le_bytes());
            b.extend_from_slice(n.as_bytes());
            b.extend_from_slice(&[0xAA; 4]);
            b.push(b'c');
        }
        let cd_size = b.len() - cd_start;
        // Offsets are recorded as if there were no prefix (like a self-extractor).
        let cd_off_recorded = cd_start - prefix.len();
        if zip64 {
            let z = b.len();
            b.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
            b.extend_from_slice(&44u64.to_le_bytes());
            b.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            b.extend_from_slice(&(names.len() as u64).to_le_bytes());
            b.extend_from_slice(&(names.len() as u64).to_le_bytes());
            b.extend_from_slice(&(cd_size as u64).to_le_bytes());
            b.extend_from_slice(&(cd_off_recorded as u64).to_le_bytes());
            b.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&(z as u64).to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
        }
        b.extend_from_slice(EOCD_SIG);
        b.extend_from_slice(&[0; 4]);
        let n = if zip64 { 0xFFFF } else { names.len() as u16 };
        b.extend_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&n.to_le_bytes());
        b.extend_from_slice(&(cd_size as u32).to_le_bytes());
        let off = if zip64 {
            u32::MAX
        } else {
            cd_off_recorded as u32
        };
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&3u16.to_le_bytes());
        b.extend_from_slice(b"PK!"); // comment that looks like nothing
        b
    }

    #[test]
    fn kinds() {
        assert_eq!(archive_kind(b"PK\x03\x04rest"), Some(ArchiveKind::Zip));
        assert_eq!(
            archive_kind(b"7z\xBC\xAF\x27\x1C\0\x04"),
            Some(ArchiveKind::SevenZip)
        );
        assert_eq!(archive_kind(b"Rar!\x1A\x07\x00"), Some(ArchiveKind::Rar));
        assert_eq!(
            archive_kind(b"Rar!\x1A\x07\x01\x00"),
            Some(ArchiveKind::Rar)
        );
        assert_eq!(archive_kind(b"MZ"), None);
        assert_eq!(archive_kind(b""), None);
    }

    #[test]
    fn members() {
        let names = ["lsass.dmp", "dir/ü.txt", "x"];
        assert_eq!(zip_members(&build(&names, b"", false)).unwrap(), names);
        assert_eq!(
            zip_members(&build(&names, b"MZ stub", false)).unwrap(),
            names
        );
        assert_eq!(zip_members(&build(&names, b"", true)).unwrap(), names);
        assert_eq!(
            zip_members(&build(&[], b"", false)).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn member_data_stored_and_deflate() {
        use std::io::Write;
        // a stored member from the builder (empty), then a hand-made deflated one
        let z = build(&["a.txt"], b"MZ stub", false);
        let e = &zip_entries(&z).unwrap()[0];
        assert_eq!(zip_member_data(&z, e, 10).unwrap(), b"");
        let content = b"<%@ Page Language=\"C#\" %> hello hello hello hello";
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(content).unwrap();
        let packed = enc.finish().unwrap();
        let mut b = Vec::new();
        b.extend_from_slice(b"PK\x03\x04");
        b.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        b.extend_from_slice(&(content.len() as u32).to_le_bytes());
        b.extend_from_slice(&5u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(b"x.asp");
        b.extend_from_slice(&packed);
        let cd = b.len();
        b.extend_from_slice(b"PK\x01\x02");
        b.extend_from_slice(&[20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        b.extend_from_slice(&(content.len() as u32).to_le_bytes());
        b.extend_from_slice(&5u16.to_le_bytes());
        b.extend_from_slice(&[0; 12]);
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(b"x.asp");
        let cd_size = b.len() - cd;
        b.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
        b.extend_from_slice(&(cd_size as u32).to_le_bytes());
        b.extend_from_slice(&(cd as u32).to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        let e = &zip_entries(&b).unwrap()[0];
        assert_eq!((e.method, e.size), (8, content.len() as u64));
        assert_eq!(zip_member_data(&b, e, 1 << 20).unwrap(), content);
        assert!(matches!(zip_member_data(&b, e, 5), Err(Error::Limit(_))));
        for n in 0..b.len() {
            if let Ok(es) = zip_entries(&b[..n]) {
                for e in &es {
                    let _ = zip_member_data(&b[..n], e, 1 << 20);
                }
            }
        }
    }

    #[test]
    fn corrupt() {
        assert!(zip_members(b"").is_err());
        assert!(zip_members(b"PK\x05\x06").is_err());
        let z = build(&["a.txt", "b.txt"], b"", true);
        for n in 0..z.len() {
            let _ = zip_members(&z[..n]);
            let _ = zip_members(&z[n..]);
        }
        let mut big = build(&["a"], b"", false);
        let l = big.len();
        big[l - 15..l - 13].copy_from_slice(&0xFFFEu16.to_le_bytes());
        assert!(zip_members(&big).is_err());
    }
}
