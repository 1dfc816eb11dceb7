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

/// At most this many 7z or RAR member names are read.
pub const MAX_LISTED_MEMBERS: usize = 100_000;
/// Largest 7z header read for names.
pub const MAX_7Z_HEADER: u64 = 64 << 20;

fn err(kind: &str, offset: u64, reason: impl Into<String>) -> Error {
    Error::format(kind, offset, reason)
}

/// The member names of an archive of any kind [`archive_kind`] knows.
pub fn archive_members(kind: ArchiveKind, bytes: &[u8]) -> Result<Vec<String>> {
    match kind {
        ArchiveKind::Zip => zip_members(bytes),
        ArchiveKind::SevenZip => sevenzip_members(bytes),
        ArchiveKind::Rar => rar_members(bytes),
    }
}

/// A RAR 5 variable-length integer at `*at` (7 bits a byte, low first, at most 10 bytes).
fn rar_vint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7F).checked_shl(7 * i)?;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Member names of a RAR archive (RAR 1.5–4 and RAR 5), from the file headers in order
/// (service headers and directories' trailing slashes as stored); the archive must start at
/// byte 0. Headers encrypted with a password cannot be read: an error says so (with the names
/// read before, none). At most [`MAX_LISTED_MEMBERS`] names.
pub fn rar_members(bytes: &[u8]) -> Result<Vec<String>> {
    if bytes.starts_with(b"Rar!\x1A\x07\x01\x00") {
        rar5_members(bytes)
    } else if bytes.starts_with(b"Rar!\x1A\x07\x00") {
        rar4_members(bytes)
    } else {
        Err(err("rar", 0, "no RAR signature"))
    }
}

fn rar5_members(b: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut at = 8usize;
    while at < b.len() && names.len() < MAX_LISTED_MEMBERS {
        let start = at;
        let t = || err("rar", start as u64, "truncated block header");
        let mut p = at + 4; // header CRC
        let size = rar_vint(b, &mut p).ok_or_else(t)?;
        let body = p;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| body.checked_add(s))
            .filter(|&e| e <= b.len())
            .ok_or_else(t)?;
        let kind = rar_vint(b, &mut p).ok_or_else(t)?;
        let flags = rar_vint(b, &mut p).ok_or_else(t)?;
        if flags & 1 != 0 {
            rar_vint(b, &mut p).ok_or_else(t)?;
        }
        let data = if flags & 2 != 0 {
            rar_vint(b, &mut p).ok_or_else(t)?
        } else {
            0
        };
        match kind {
            2 => {
                let file_flags = rar_vint(b, &mut p).ok_or_else(t)?;
                rar_vint(b, &mut p).ok_or_else(t)?; // unpacked size
                rar_vint(b, &mut p).ok_or_else(t)?; // attributes
                if file_flags & 2 != 0 {
                    p += 4;
                }
                if file_flags & 4 != 0 {
                    p += 4;
                }
                rar_vint(b, &mut p).ok_or_else(t)?; // compression
                rar_vint(b, &mut p).ok_or_else(t)?; // host OS
                let len = rar_vint(b, &mut p).ok_or_else(t)?;
                let name = usize::try_from(len)
                    .ok()
                    .and_then(|l| b.get(p..p.checked_add(l)?))
                    .filter(|_| p.saturating_add(len as usize) <= end)
                    .ok_or_else(t)?;
                names.push(String::from_utf8_lossy(name).into_owned());
            }
            4 => {
                return Err(err(
                    "rar",
                    start as u64,
                    "headers encrypted with a password: names not readable",
                ))
            }
            5 => break,
            _ => {}
        }
        at = u64::try_from(end)
            .ok()
            .and_then(|e| e.checked_add(data))
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(t)?;
    }
    Ok(names)
}

fn rar4_members(b: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut at = 0usize;
    while at + 7 <= b.len() && names.len() < MAX_LISTED_MEMBERS {
        let start = at as u64;
        let t = || err("rar", start, "truncated block header");
        let kind = b[at + 2];
        let flags = u16::from_le_bytes([b[at + 3], b[at + 4]]);
        let head = u64::from(u16::from_le_bytes([b[at + 5], b[at + 6]]));
        if head < 7 {
            return Err(err("rar", start, "block header shorter than 7 bytes"));
        }
        let mut add = 0u64;
        if flags & 0x8000 != 0 {
            add = u64::from(le_u32(b, start + 7).ok_or_else(t)?);
        }
        match kind {
            0x73 if flags & 0x0080 != 0 => {
                return Err(err(
                    "rar",
                    start,
                    "headers encrypted with a password: names not readable",
                ))
            }
            0x74 => {
                let hdr = slice_at(b, start, head).ok_or_else(t)?;
                let name_len = usize::from(le_u16(hdr, 26).ok_or_else(t)?);
                let (name_at, high) = if flags & 0x100 != 0 {
                    (40usize, u64::from(le_u32(hdr, 32).ok_or_else(t)?))
                } else {
                    (32, 0)
                };
                add |= high << 32;
                let raw = hdr.get(name_at..name_at + name_len).ok_or_else(t)?;
                // With a Unicode name, the OEM name comes first, up to a NUL.
                let raw = match (flags & 0x200 != 0, raw.iter().position(|&c| c == 0)) {
                    (true, Some(n)) => &raw[..n],
                    _ => raw,
                };
                names.push(String::from_utf8_lossy(raw).into_owned());
            }
            0x7B => break,
            _ => {}
        }
        at = start
            .checked_add(head)
            .and_then(|e| e.checked_add(add))
            .and_then(|e| usize::try_from(e).ok())
            .ok_or_else(t)?;
    }
    Ok(names)
}

/// A 7z header reader: NUMBERs, property ids, bounds.
struct SevenZip<'a> {
    b: &'a [u8],
    at: usize,
    base: u64,
}

impl SevenZip<'_> {
    fn fail(&self, reason: &str) -> Error {
        err("7z", self.base + self.at as u64, reason.to_string())
    }
    fn byte(&mut self) -> Result<u8> {
        let v = *self
            .b
            .get(self.at)
            .ok_or_else(|| self.fail("truncated header"))?;
        self.at += 1;
        Ok(v)
    }
    /// A 7z NUMBER: the first byte's leading one bits say how many bytes follow.
    fn number(&mut self) -> Result<u64> {
        let first = self.byte()?;
        let mut mask = 0x80u8;
        let mut value = 0u64;
        for i in 0..8 {
            if first & mask == 0 {
                let high = u64::from(first & mask.wrapping_sub(1));
                return Ok(value | high.checked_shl(8 * i).unwrap_or(0));
            }
            value |= u64::from(self.byte()?) << (8 * i);
            mask >>= 1;
        }
        Ok(value)
    }
    /// A count that must fit the bytes left (each item takes at least one byte).
    fn count(&mut self) -> Result<usize> {
        let n = self.number()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.b.len().saturating_sub(self.at).max(1) * 8)
            .ok_or_else(|| self.fail("count larger than the header"))
    }
    fn skip(&mut self, n: u64) -> Result<()> {
        self.at = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| self.fail("truncated header"))?;
        Ok(())
    }
    fn expect(&mut self, id: u8) -> Result<()> {
        if self.byte()? != id {
            return Err(self.fail(&format!("property {id:#x} expected")));
        }
        Ok(())
    }
    /// A bit vector of `n` items, or "all defined" (a leading 1 byte).
    fn defined(&mut self, n: usize) -> Result<usize> {
        if self.byte()? != 0 {
            return Ok(n);
        }
        let bytes = n.div_ceil(8);
        let v = self
            .b
            .get(self.at..self.at + bytes)
            .ok_or_else(|| self.fail("truncated"))?;
        self.at += bytes;
        Ok(v.iter().map(|x| x.count_ones() as usize).sum())
    }
    fn digests(&mut self, n: usize) -> Result<()> {
        let d = self.defined(n)?;
        self.skip(4 * d as u64)
    }
    /// StreamsInfo: pack info, folders, sub-streams; what the compressed header needs is kept.
    fn streams_info(&mut self) -> Result<Streams> {
        let mut info = Streams::default();
        let mut has_crc: Vec<bool> = Vec::new();
        // Pack info, folders and sub-streams come once each (7-Zip writes them so): repeated,
        // each empty sub-streams section would redo work per folder (a million folders and
        // millions of 2-byte sections in a header that LZMA packs to a few KB).
        let mut seen = [false; 3];
        loop {
            let id = self.byte()?;
            if let Some(k) = id.checked_sub(0x06).filter(|&k| k < 3) {
                if std::mem::replace(&mut seen[usize::from(k)], true) {
                    return Err(self.fail(&format!("section {id:#x} repeated")));
                }
            }
            match id {
                0x00 => return Ok(info),
                0x06 => {
                    info.pack_pos = self.number()?;
                    let n = self.count()?;
                    loop {
                        match self.byte()? {
                            0x00 => break,
                            0x09 => {
                                for _ in 0..n {
                                    let v = self.number()?;
                                    info.pack_sizes.push(v);
                                }
                            }
                            0x0A => self.digests(n)?,
                            _ => return Err(self.fail("unknown pack info property")),
                        }
                    }
                }
                0x07 => {
                    self.expect(0x0B)?;
                    let n = self.count()?;
                    if self.byte()? != 0 {
                        return Err(self.fail("external folders not supported"));
                    }
                    for _ in 0..n {
                        let coders = self.count()?;
                        let mut folder = Folder::default();
                        let (mut ins, mut outs) = (0usize, 0usize);
                        for _ in 0..coders {
                            let flag = self.byte()?;
                            let from = self.at;
                            self.skip(u64::from(flag & 0x0F))?;
                            let id = self.b[from..self.at].to_vec();
                            if flag & 0x10 != 0 {
                                ins += self.count()?;
                                outs += self.count()?;
                            } else {
                                ins += 1;
                                outs += 1;
                            }
                            let mut props = Vec::new();
                            if flag & 0x20 != 0 {
                                let len = self.number()?;
                                let from = self.at;
                                self.skip(len)?;
                                props = self.b[from..self.at].to_vec();
                            }
                            folder.coders.push((id, props));
                        }
                        let pairs = outs.saturating_sub(1);
                        for _ in 0..pairs {
                            self.number()?;
                            self.number()?;
                        }
                        let packed = ins.saturating_sub(pairs);
                        if packed > 1 {
                            for _ in 0..packed {
                                self.number()?;
                            }
                        }
                        folder.outs = outs;
                        info.folders.push(folder);
                    }
                    self.expect(0x0C)?;
                    for f in info.folders.iter_mut() {
                        for _ in 0..f.outs {
                            let v = self.number()?;
                            f.unpack.push(v);
                        }
                    }
                    has_crc = vec![false; info.folders.len()];
                    loop {
                        match self.byte()? {
                            0x00 => break,
                            0x0A => {
                                let all = self.b.get(self.at) == Some(&1);
                                self.digests(info.folders.len())?;
                                if all {
                                    has_crc.iter_mut().for_each(|c| *c = true);
                                }
                            }
                            _ => return Err(self.fail("unknown folder property")),
                        }
                    }
                }
                0x08 => {
                    let mut per: Vec<usize> = vec![1; info.folders.len()];
                    loop {
                        match self.byte()? {
                            0x00 => break,
                            0x0D => {
                                for p in per.iter_mut() {
                                    *p = self.count()?;
                                }
                            }
                            0x09 => {
                                for p in &per {
                                    for _ in 1..*p {
                                        self.number()?;
                                    }
                                }
                            }
                            0x0A => {
                                let n = per
                                    .iter()
                                    .zip(&has_crc)
                                    .map(|(p, c)| if *p == 1 && *c { 0 } else { *p })
                                    .sum();
                                self.digests(n)?;
                            }
                            _ => return Err(self.fail("unknown sub-stream property")),
                        }
                    }
                }
                _ => return Err(self.fail("unknown streams property")),
            }
        }
    }
}

/// What a 7z StreamsInfo says of the packed streams and folders (enough to unpack a
/// compressed header).
#[derive(Default)]
struct Streams {
    pack_pos: u64,
    pack_sizes: Vec<u64>,
    folders: Vec<Folder>,
}

/// One 7z folder: its coders (method id, properties) and output sizes.
#[derive(Default)]
struct Folder {
    coders: Vec<(Vec<u8>, Vec<u8>)>,
    outs: usize,
    unpack: Vec<u64>,
}

/// The header a `kEncodedHeader` points to, unpacked: one folder of one coder, LZMA
/// (`03 01 01`) or Copy (`00`), as 7-Zip writes it; other methods (LZMA2, filters,
/// encryption) are an error.
fn unpack_header(archive: &[u8], info: &Streams, at: u64) -> Result<Vec<u8>> {
    let folder = info
        .folders
        .first()
        .ok_or_else(|| err("7z", at, "no folder"))?;
    let size = *folder
        .unpack
        .last()
        .ok_or_else(|| err("7z", at, "no unpack size"))?;
    let packed = *info
        .pack_sizes
        .first()
        .ok_or_else(|| err("7z", at, "no pack size"))?;
    let start = info
        .pack_pos
        .checked_add(32)
        .ok_or_else(|| err("7z", at, "bad pack position"))?;
    let data = slice_at(archive, start, packed)
        .ok_or_else(|| err("7z", start, "packed header past the end of the archive"))?;
    match folder.coders.as_slice() {
        [(id, props)] if id.as_slice() == [3, 1, 1] => {
            super::lzma::decode(props, data, size, MAX_7Z_HEADER)
        }
        [(id, _)] if id.as_slice() == [0] => {
            if size > MAX_7Z_HEADER {
                return Err(Error::Limit(format!("7z: header of {size} bytes")));
            }
            Ok(data[..data.len().min(size as usize)].to_vec())
        }
        _ => Err(err(
            "7z",
            at,
            "compressed header with a method other than LZMA: names not listed",
        )),
    }
}

/// Member names of a 7z archive, from its header (`kFilesInfo`/`kName`). 7-Zip compresses the
/// header by default (`kEncodedHeader`): a header packed with LZMA (what 7-Zip writes) or
/// stored is unpacked first (`lzma.rs`); other methods (LZMA2, BCJ, AES: an encrypted header)
/// are an error saying so. Headers larger than [`MAX_7Z_HEADER`] (packed or unpacked) are
/// refused. At most [`MAX_LISTED_MEMBERS`] names.
pub fn sevenzip_members(bytes: &[u8]) -> Result<Vec<String>> {
    if !bytes.starts_with(b"7z\xBC\xAF\x27\x1C") {
        return Err(err("7z", 0, "no 7z signature"));
    }
    let t = || err("7z", 12, "truncated signature header");
    let offset = le_u64(bytes, 12).ok_or_else(t)?;
    let size = le_u64(bytes, 20).ok_or_else(t)?;
    if size > MAX_7Z_HEADER {
        return Err(Error::Limit(format!(
            "7z: header of {size} bytes (at most {MAX_7Z_HEADER} read)"
        )));
    }
    let start = offset.checked_add(32).ok_or_else(t)?;
    let header = slice_at(bytes, start, size)
        .ok_or_else(|| err("7z", start, "header past the end of the archive"))?;
    let mut r = SevenZip {
        b: header,
        at: 0,
        base: start,
    };
    let unpacked;
    match r.byte()? {
        0x01 => {}
        0x17 => {
            // kEncodedHeader: StreamsInfo of the packed header, which is then read instead.
            let info = r.streams_info()?;
            unpacked = unpack_header(bytes, &info, start)?;
            if unpacked.first() != Some(&0x01) {
                return Err(err("7z", start, "unpacked header is not a header"));
            }
            r = SevenZip {
                b: &unpacked,
                at: 1,
                base: 0,
            };
        }
        _ => return Err(r.fail("not a header")),
    }
    let mut names = Vec::new();
    loop {
        match r.byte()? {
            0x00 => break,
            0x02 => loop {
                // archive properties: (type, size, data) until 0
                if r.byte()? == 0 {
                    break;
                }
                let len = r.number()?;
                r.skip(len)?;
            },
            0x03 | 0x04 => {
                r.streams_info()?;
            }
            0x05 => {
                let files = r.count()?;
                loop {
                    let kind = r.number()?;
                    if kind == 0 {
                        break;
                    }
                    let len = r.number()?;
                    let from = r.at;
                    r.skip(len)?;
                    if kind != 0x11 {
                        continue;
                    }
                    let data = &r.b[from..r.at];
                    if data.first() != Some(&0) {
                        return Err(err("7z", start + from as u64, "external names"));
                    }
                    let units: Vec<u16> = data[1..]
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    for name in units.split(|&u| u == 0).take(files.min(MAX_LISTED_MEMBERS)) {
                        names.push(String::from_utf16_lossy(name));
                    }
                }
                break;
            }
            _ => return Err(r.fail("unknown header property")),
        }
    }
    Ok(names)
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

    /// Archives made by 7-Zip (`tests/data/archives/README.md`): names from plain headers in
    /// several layouts and from LZMA-compressed headers; every truncation and byte flip fails
    /// cleanly.
    #[test]
    fn repeated_streams_sections_are_refused() {
        // A header (0x01) whose main streams info (0x04) has one folder, then sub-streams
        // sections (0x08 0x00) over and over: each was redone per folder.
        let mut h = vec![
            0x01, 0x04, 0x07, 0x0B, 0x01, 0x00, 0x01, 0x01, 0x00, 0x0C, 0x05, 0x00,
        ];
        for _ in 0..1000 {
            h.extend([0x08, 0x00]);
        }
        h.extend([0x00, 0x00]);
        let mut a = b"7z\xBC\xAF\x27\x1C\x00\x04".to_vec();
        a.extend([0u8; 4]); // start header CRC (not checked)
        a.extend(0u64.to_le_bytes());
        a.extend((h.len() as u64).to_le_bytes());
        a.extend([0u8; 4]);
        a.extend(&h);
        let e = sevenzip_members(&a).unwrap_err().to_string();
        assert!(e.contains("section 0x8 repeated"), "{e}");
        // Once is fine.
        let end = 12 + 2;
        let mut once = a[..32 + end].to_vec();
        once.extend([0x00, 0x00]);
        once[20..28].copy_from_slice(&((end + 2) as u64).to_le_bytes());
        assert!(
            sevenzip_members(&once).is_ok(),
            "{:?}",
            sevenzip_members(&once)
        );
    }

    #[test]
    fn sevenzip_names() {
        let want = ["inetpub", "inetpub/x.aspx", "lsass.dmp", "notes ü.txt"];
        for data in [
            &include_bytes!("../../tests/data/archives/plain.7z")[..],
            include_bytes!("../../tests/data/archives/nonsolid.7z"),
            include_bytes!("../../tests/data/archives/copy.7z"),
        ] {
            let mut names = sevenzip_members(data).unwrap();
            names.sort();
            assert_eq!(names, want);
            assert_eq!(archive_kind(data), Some(ArchiveKind::SevenZip));
            for n in 0..data.len() {
                let _ = sevenzip_members(&data[..n]);
            }
            let mut bad = data.to_vec();
            for i in 32..bad.len() {
                bad[i] ^= 0x5A;
                let _ = sevenzip_members(&bad);
                bad[i] ^= 0x5A;
            }
        }
        // 7-Zip's default: the header compressed with LZMA, unpacked by `lzma.rs`
        let enc = include_bytes!("../../tests/data/archives/enc.7z");
        let mut names = sevenzip_members(enc).unwrap();
        names.sort();
        assert_eq!(names, want);
        for n in 0..enc.len() {
            let _ = sevenzip_members(&enc[..n]);
        }
        let mut bad = enc.to_vec();
        for i in 32..bad.len() {
            for x in [0x01, 0x80, 0xFF] {
                bad[i] ^= x;
                let _ = sevenzip_members(&bad);
                bad[i] ^= x;
            }
        }
        // a larger compressed header (301 names: matches and repeats in the LZMA stream)
        let many = sevenzip_members(include_bytes!("../../tests/data/archives/many.7z")).unwrap();
        assert_eq!(many.len(), 304); // 300 pages, 3 folders, lsass.dmp
        assert!(many.contains(&"lsass.dmp".to_string()));
        for i in [1, 150, 300] {
            let page = format!("inetpub/wwwroot/aspnet_client/page_{i}.aspx");
            assert!(many.contains(&page), "{page}");
        }
    }

    /// A RAR 5 archive written by hand after the format's description: main header, two file
    /// headers (with data), a service header, the end of archive.
    pub(crate) fn rar5(names: &[&str]) -> Vec<u8> {
        fn vint(mut v: u64, out: &mut Vec<u8>) {
            loop {
                let b = (v & 0x7F) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(b);
                    break;
                }
                out.push(b | 0x80);
            }
        }
        fn block(kind: u64, flags: u64, fields: &[u8], data: &[u8], out: &mut Vec<u8>) {
            let mut h = Vec::new();
            vint(kind, &mut h);
            vint(flags, &mut h);
            if flags & 2 != 0 {
                vint(data.len() as u64, &mut h);
            }
            h.extend_from_slice(fields);
            let mut size = Vec::new();
            vint(h.len() as u64, &mut size);
            out.extend_from_slice(&[0; 4]); // CRC (not checked)
            out.extend_from_slice(&size);
            out.extend_from_slice(&h);
            out.extend_from_slice(data);
        }
        let mut b = b"Rar!\x1A\x07\x01\x00".to_vec();
        block(1, 0, &[0], &[], &mut b); // main: archive flags 0
        for n in names {
            let mut f = Vec::new();
            vint(0x04, &mut f); // file flags: CRC present
            vint(5, &mut f); // unpacked size
            vint(0x20, &mut f); // attributes
            f.extend_from_slice(&[1, 2, 3, 4]); // CRC
            vint(0, &mut f); // compression: stored
            vint(0, &mut f); // Windows
            vint(n.len() as u64, &mut f);
            f.extend_from_slice(n.as_bytes());
            block(2, 2, &f, b"hello", &mut b);
        }
        let mut svc = Vec::new();
        for v in [0u64, 0, 0, 0, 0, 2] {
            vint(v, &mut svc);
        }
        svc.extend_from_slice(b"CM");
        block(3, 0, &svc, &[], &mut b);
        block(5, 0, &[0], &[], &mut b);
        b
    }

    /// A RAR 4 archive written by hand: marker, main header, file headers (one with a Unicode
    /// name, one with 64-bit sizes), the end of archive.
    pub(crate) fn rar4(names: &[&str]) -> Vec<u8> {
        let mut b = b"Rar!\x1A\x07\x00".to_vec();
        b.extend_from_slice(&[0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
        for (i, n) in names.iter().enumerate() {
            let mut flags: u16 = 0x8000;
            let mut name = n.as_bytes().to_vec();
            if i == 1 {
                flags |= 0x200;
                name.extend_from_slice(b"\0\x01\x02"); // encoded Unicode part
            }
            if i == 2 {
                flags |= 0x100;
            }
            let fixed = if flags & 0x100 != 0 { 40 } else { 32 };
            let head = (fixed + name.len()) as u16;
            let start = b.len();
            b.extend_from_slice(&[0, 0, 0x74]);
            b.extend_from_slice(&flags.to_le_bytes());
            b.extend_from_slice(&head.to_le_bytes());
            b.extend_from_slice(&3u32.to_le_bytes()); // packed size
            b.extend_from_slice(&3u32.to_le_bytes()); // unpacked size
            b.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 29, 0x30]);
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(&0x20u32.to_le_bytes());
            if flags & 0x100 != 0 {
                b.extend_from_slice(&[0; 8]);
            }
            b.extend_from_slice(&name);
            assert_eq!(b.len() - start, head as usize);
            b.extend_from_slice(b"abc");
        }
        b.extend_from_slice(&[0, 0, 0x7B, 0, 0x40, 7, 0]);
        b
    }

    #[test]
    fn rar_names() {
        let names = ["inetpub/wwwroot/x.aspx", "lsass.dmp", "big\\mail.pst"];
        for data in [rar5(&names), rar4(&names)] {
            assert_eq!(archive_kind(&data), Some(ArchiveKind::Rar));
            assert_eq!(rar_members(&data).unwrap(), names);
            assert_eq!(archive_members(ArchiveKind::Rar, &data).unwrap(), names);
            for n in 0..data.len() {
                let _ = rar_members(&data[..n]);
            }
            let mut bad = data.clone();
            for i in 7..bad.len() {
                for x in [0xFF, 0x80, 0x01] {
                    bad[i] ^= x;
                    let _ = rar_members(&bad);
                    bad[i] ^= x;
                }
            }
        }
        // encrypted headers
        let mut enc = rar4(&["a"]);
        enc[10] |= 0x80;
        assert!(rar_members(&enc)
            .unwrap_err()
            .to_string()
            .contains("encrypted"));
        assert!(rar_members(b"Rar!\x1A\x07\x01\x00\0\0\0\0\x02\x05\0").is_ok());
        assert!(rar_members(b"Rar!\x1A\x07\x01\x00\0\0\0\0\x02\x04\0").is_err());
        assert!(rar_members(b"PK").is_err());
    }
}
