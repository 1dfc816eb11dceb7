//! Expert Witness Format (EWF, `.E01`) images as written by EnCase 2–7 and `ewfacquire`.
//!
//! Hand-written rather than taken from a crate: the `ewf` crate (0.4) reads correctly but keeps
//! a single mutex-locked cache of 100 chunks and copies every chunk out of it, so concurrent
//! readers serialise on that lock. Here the chunk cache is sharded ([`BlockCache`], at most
//! [`CHUNK_CACHE_BYTES`]) and chunks are decompressed outside every lock.
//!
//! Layout read: a set of segment files (`.E01`, `.E02`, … `.E99`, `.EAA`, … `.EZZ`, `.FAA`, …)
//! each starting with the 13-byte `EVF` header and then a chain of sections, each with a 76-byte
//! descriptor (type, offset of the next section, size, Adler-32). Sections used: `volume`/`disk`
//! (geometry: chunk size, sector count), `sectors` (the chunk data), `table`/`table2` (chunk
//! offsets, the high bit marking a zlib-compressed chunk; `table2` is the backup copy), `hash`
//! (MD5) and `digest` (MD5 + SHA-1), and `next`/`done` (end of a segment / of the set). Other
//! sections (`header`, `header2`, `error2`, `session`, …) are skipped. Uncompressed chunks carry
//! an Adler-32 that is checked on every read; compressed ones rely on zlib's own Adler-32.
//!
//! Segment files are read with positioned reads, not memory-mapped: their bytes are not the
//! disk's.

use super::bytes::{le_u16, le_u32, le_u64};
use super::common::{copy_from_block, inflate, BlockCache, SourceFile};
use super::{check_bounds, Evidence};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Magic of an EWF (EnCase) segment file.
pub(crate) const MAGIC: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";

/// Upper bound of the memory the decoded-chunk cache of one image holds.
pub const CHUNK_CACHE_BYTES: usize = 32 << 20;

/// Largest chunk accepted (EnCase writes 32 KiB; `ewfacquire -b` allows up to 16 MiB).
const MAX_CHUNK_SIZE: u64 = 64 << 20;

/// Most segment files followed in one set.
const MAX_SEGMENTS: u32 = 100 + 26 * 26 * 22;

const DESCRIPTOR_LEN: u64 = 76;

/// Where a chunk is stored.
#[derive(Debug, Clone, Copy)]
struct ChunkLoc {
    offset: u64,
    size: u32,
    segment: u32,
    compressed: bool,
}

/// An EWF (`.E01`) image: a whole segment set opened from its first segment.
#[derive(Debug)]
pub struct EwfImage {
    segments: Vec<SourceFile>,
    chunks: Vec<ChunkLoc>,
    chunk_size: u64,
    media_len: u64,
    md5: Option<[u8; 16]>,
    sha1: Option<[u8; 20]>,
    cache: BlockCache,
}

/// Adler-32 as EWF uses it (initial value 1).
///
/// Sixteen bytes at a time: `b` gains `16·a` plus the position-weighted sum of the group, which
/// the compiler vectorises. Within a run of 5552 bytes neither sum can overflow a `u32` (zlib's
/// NMAX bound; the grouped sums never exceed the byte-by-byte ones).
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        let mut groups = block.chunks_exact(16);
        for g in &mut groups {
            let mut sum = 0u32;
            let mut weighted = 0u32;
            for (i, &x) in g.iter().enumerate() {
                sum += x as u32;
                weighted += (16 - i as u32) * x as u32;
            }
            b += 16 * a + weighted;
            a += sum;
        }
        for &x in groups.remainder() {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Name of segment `n` (1-based) of the set whose first segment is `first`.
fn segment_path(first: &Path, n: u32) -> Option<PathBuf> {
    let name = first.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    let lead = *ext.as_bytes().first()?;
    if ext.len() != 3 || !lead.is_ascii_alphabetic() {
        return None;
    }
    let lower = lead.is_ascii_lowercase();
    let ext = if n <= 99 {
        format!("{}{n:02}", lead as char)
    } else {
        let k = n - 100;
        let first = lead.to_ascii_uppercase() as u32 + k / (26 * 26);
        if first > b'Z' as u32 {
            return None;
        }
        let second = b'A' as u32 + (k / 26) % 26;
        let third = b'A' as u32 + k % 26;
        [first, second, third]
            .iter()
            .filter_map(|&c| char::from_u32(c))
            .collect()
    };
    let ext = if lower { ext.to_ascii_lowercase() } else { ext };
    Some(first.with_file_name(format!("{stem}.{ext}")))
}

/// Geometry from the `volume`/`disk` section.
#[derive(Debug, Clone, Copy)]
struct Volume {
    chunk_count: u64,
    chunk_size: u64,
    media_len: u64,
}

fn parse_volume(data: &[u8], offset: u64) -> Result<Volume> {
    let what = "EWF volume section";
    let (chunk_count, spc, bps, sectors) = if data.len() >= 1052 {
        let stored = le_u32(data, 1048).unwrap_or(0);
        if adler32(data.get(..1048).unwrap_or(&[])) != stored {
            return Err(Error::format(what, offset, "Adler-32 mismatch"));
        }
        (
            le_u32(data, 4).unwrap_or(0),
            le_u32(data, 8).unwrap_or(0),
            le_u32(data, 12).unwrap_or(0),
            le_u64(data, 16).unwrap_or(0),
        )
    } else if data.len() >= 94 {
        // EWF-S01 (SMART) volume: a 32-bit sector count.
        let stored = le_u32(data, 90).unwrap_or(0);
        if adler32(data.get(..90).unwrap_or(&[])) != stored {
            return Err(Error::format(what, offset, "Adler-32 mismatch"));
        }
        (
            le_u32(data, 4).unwrap_or(0),
            le_u32(data, 8).unwrap_or(0),
            le_u32(data, 12).unwrap_or(0),
            le_u32(data, 16).unwrap_or(0) as u64,
        )
    } else {
        return Err(Error::format(what, offset, "section too small"));
    };
    let chunk_size = spc as u64 * bps as u64;
    if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE || bps == 0 {
        return Err(Error::format(
            what,
            offset,
            format!("absurd chunk size: {spc} sectors of {bps} bytes"),
        ));
    }
    let media_len = sectors
        .checked_mul(bps as u64)
        .ok_or_else(|| Error::format(what, offset, "media size overflows"))?;
    let need = media_len.div_ceil(chunk_size);
    if chunk_count as u64 != need {
        return Err(Error::format(
            what,
            offset,
            format!("{chunk_count} chunks recorded, {need} needed for {media_len} bytes"),
        ));
    }
    Ok(Volume {
        chunk_count: chunk_count as u64,
        chunk_size,
        media_len,
    })
}

/// Parses one `table`/`table2` section body; `data_end` is the end of the chunk data the last
/// entry runs to.
fn parse_table(
    seg: &SourceFile,
    segment: u32,
    body_offset: u64,
    body_len: u64,
    data_end: u64,
    max_entries: u64,
) -> Result<Vec<ChunkLoc>> {
    let what = "EWF table section";
    if body_len < 24 {
        return Err(Error::format(what, body_offset, "section too small"));
    }
    let head = seg.read_vec(what, body_offset, 24)?;
    if adler32(head.get(..20).unwrap_or(&[])) != le_u32(&head, 20).unwrap_or(0) {
        return Err(Error::format(what, body_offset, "header Adler-32 mismatch"));
    }
    let count = le_u32(&head, 0).unwrap_or(0) as u64;
    let base = le_u64(&head, 8).unwrap_or(0);
    let bytes = count * 4;
    if count == 0 || count > max_entries || bytes > body_len - 24 {
        return Err(Error::format(
            what,
            body_offset,
            format!("{count} entries do not fit the section or the media"),
        ));
    }
    let raw = seg.read_vec(what, body_offset + 24, bytes)?;
    if body_len >= 24 + bytes + 4 {
        let mut c = [0u8; 4];
        seg.read_at(what, body_offset + 24 + bytes, &mut c)?;
        if adler32(&raw) != u32::from_le_bytes(c) {
            return Err(Error::format(
                what,
                body_offset,
                "entries Adler-32 mismatch",
            ));
        }
    }
    let entries: Vec<u32> = raw
        .chunks_exact(4)
        .map(|b| le_u32(b, 0).unwrap_or(0))
        .collect();
    let mut out = Vec::with_capacity(entries.len());
    for (i, &e) in entries.iter().enumerate() {
        let start = base
            .checked_add((e & 0x7fff_ffff) as u64)
            .ok_or_else(|| Error::format(what, body_offset, "chunk offset overflows"))?;
        let end = match entries.get(i + 1) {
            Some(&next) => base.saturating_add((next & 0x7fff_ffff) as u64),
            None => data_end,
        };
        if end < start || start >= seg.len {
            return Err(Error::format(
                what,
                body_offset,
                format!("chunk entry {i} points to {start:#x}, outside its data"),
            ));
        }
        out.push(ChunkLoc {
            offset: start,
            size: u32::try_from(end - start).unwrap_or(u32::MAX),
            segment,
            compressed: e & 0x8000_0000 != 0,
        });
    }
    Ok(out)
}

impl EwfImage {
    /// Opens the segment set whose first segment is `path` (the `.E01` file).
    pub fn open(path: &Path) -> Result<Self> {
        let mut segments = Vec::new();
        let mut chunks: Vec<ChunkLoc> = Vec::new();
        let mut volume: Option<Volume> = None;
        let (mut md5, mut sha1) = (None, None);
        let mut n = 1u32;
        loop {
            let p = if n == 1 {
                path.to_path_buf()
            } else {
                segment_path(path, n).ok_or_else(|| {
                    Error::Unsupported(format!(
                        "EWF segment {n} of {}: cannot name it",
                        path.display()
                    ))
                })?
            };
            let seg = SourceFile::open(&p).map_err(|e| match e {
                Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                    Error::format(
                        "EWF segment set",
                        0,
                        format!("segment {n} ({}) is missing", path.display()),
                    )
                }
                e => e,
            })?;
            let mut head = [0u8; 13];
            seg.read_at("EWF segment header", 0, &mut head)?;
            if head.get(..8) != Some(&MAGIC[..]) {
                return Err(Error::format(
                    format!("EWF segment {}", p.display()),
                    0,
                    "not an EVF segment file",
                ));
            }
            let number = le_u16(&head, 9).unwrap_or(0) as u32;
            if number != n {
                return Err(Error::format(
                    format!("EWF segment {}", p.display()),
                    9,
                    format!("segment number {number}, expected {n}"),
                ));
            }
            let index = segments.len() as u32;
            let more =
                Self::read_sections(&seg, index, &mut volume, &mut chunks, &mut md5, &mut sha1)?;
            segments.push(seg);
            if !more {
                break;
            }
            n += 1;
            if n > MAX_SEGMENTS {
                return Err(Error::Limit(format!(
                    "EWF set of more than {MAX_SEGMENTS} segments"
                )));
            }
        }
        let vol = volume.ok_or_else(|| {
            Error::format(
                "EWF image",
                0,
                "no volume/disk section in the first segment",
            )
        })?;
        if chunks.len() as u64 != vol.chunk_count {
            return Err(Error::format(
                "EWF image",
                0,
                format!(
                    "tables list {} chunks, the volume has {} (a segment or table is missing)",
                    chunks.len(),
                    vol.chunk_count
                ),
            ));
        }
        Ok(EwfImage {
            segments,
            chunks,
            chunk_size: vol.chunk_size,
            media_len: vol.media_len,
            md5,
            sha1,
            cache: BlockCache::new(CHUNK_CACHE_BYTES, vol.chunk_size as usize),
        })
    }

    /// Walks the section chain of one segment; returns true when a `next` section says another
    /// segment follows.
    fn read_sections(
        seg: &SourceFile,
        index: u32,
        volume: &mut Option<Volume>,
        chunks: &mut Vec<ChunkLoc>,
        md5: &mut Option<[u8; 16]>,
        sha1: &mut Option<[u8; 20]>,
    ) -> Result<bool> {
        let mut offset = 13u64;
        let mut sectors_end: Option<u64> = None;
        // Chunks of the last `table` read, and whether it was good (else `table2` is used).
        let mut table_ok = false;
        let max_sections = seg.len / DESCRIPTOR_LEN + 1;
        for _ in 0..max_sections {
            let what = "EWF section descriptor";
            let mut d = [0u8; DESCRIPTOR_LEN as usize];
            seg.read_at(what, offset, &mut d)?;
            if adler32(&d[..72]) != le_u32(&d, 72).unwrap_or(0) {
                return Err(Error::format(
                    format!("{what} in {}", seg.path.display()),
                    offset,
                    "Adler-32 mismatch",
                ));
            }
            let kind_end = d[..16].iter().position(|&b| b == 0).unwrap_or(16);
            let kind = String::from_utf8_lossy(&d[..kind_end]).to_string();
            let next = le_u64(&d, 16).unwrap_or(0);
            let size = le_u64(&d, 24).unwrap_or(0);
            let body = offset + DESCRIPTOR_LEN;
            let body_len = size.saturating_sub(DESCRIPTOR_LEN);
            let end_of_section = offset.saturating_add(size);
            if body.saturating_add(body_len) > seg.len {
                return Err(Error::format(
                    format!("EWF {kind} section in {}", seg.path.display()),
                    offset,
                    format!("size {size} runs past the end of the file"),
                ));
            }
            match kind.as_str() {
                "volume" | "disk" if volume.is_none() => {
                    let data = seg.read_vec("EWF volume section", body, body_len.min(4096))?;
                    *volume = Some(parse_volume(&data, body)?);
                }
                "sectors" => {
                    sectors_end = Some(end_of_section);
                    table_ok = false;
                }
                "table" | "table2" => {
                    if kind == "table2" && table_ok {
                        // backup of a table already read
                    } else {
                        let vol = volume.as_ref().ok_or_else(|| {
                            Error::format("EWF table section", offset, "table before volume")
                        })?;
                        let left = vol.chunk_count.saturating_sub(chunks.len() as u64);
                        let data_end = sectors_end.unwrap_or(end_of_section);
                        match parse_table(seg, index, body, body_len, data_end, left) {
                            Ok(t) => {
                                chunks.extend(t);
                                table_ok = true;
                            }
                            Err(e) if kind == "table" => {
                                // try the table2 backup that follows
                                table_ok = false;
                                let _ = e;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                "hash" if body_len >= 36 => {
                    let data = seg.read_vec("EWF hash section", body, 36)?;
                    if adler32(&data[..32]) == le_u32(&data, 32).unwrap_or(0) {
                        *md5 = data[..16].try_into().ok().filter(|h| *h != [0; 16]);
                    }
                }
                "digest" if body_len >= 80 => {
                    let data = seg.read_vec("EWF digest section", body, 80)?;
                    if adler32(&data[..76]) == le_u32(&data, 76).unwrap_or(0) {
                        *md5 = data[..16].try_into().ok().filter(|h| *h != [0; 16]);
                        *sha1 = data[16..36].try_into().ok().filter(|h| *h != [0; 20]);
                    }
                }
                "next" => return Ok(true),
                "done" => return Ok(false),
                _ => {}
            }
            if kind == "table" && !table_ok {
                // A bad `table` must be followed by its `table2`.
                let mut nd = [0u8; DESCRIPTOR_LEN as usize];
                let ok = next > offset
                    && seg.read_at(what, next, &mut nd).is_ok()
                    && nd.starts_with(b"table2\0");
                if !ok {
                    return Err(Error::format(
                        format!("EWF table section in {}", seg.path.display()),
                        offset,
                        "table damaged and no table2 backup",
                    ));
                }
            }
            if next <= offset {
                return Err(Error::format(
                    format!("EWF section chain in {}", seg.path.display()),
                    offset,
                    format!("{kind} section points back to {next:#x}"),
                ));
            }
            offset = next;
        }
        Err(Error::format(
            format!("EWF section chain in {}", seg.path.display()),
            offset,
            "no done/next section",
        ))
    }

    /// The MD5 and SHA-1 of the media recorded at acquisition (`hash`/`digest` sections).
    pub fn stored_hashes(&self) -> (Option<[u8; 16]>, Option<[u8; 20]>) {
        (self.md5, self.sha1)
    }

    /// Number of segment files of the set.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Size of a chunk in bytes.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    fn chunk(&self, index: u64) -> Result<Arc<[u8]>> {
        self.cache.get_or_load(index, || self.decode(index))
    }

    fn decode(&self, index: u64) -> Result<Vec<u8>> {
        let what = format!("EWF chunk {index}");
        let loc = usize::try_from(index)
            .ok()
            .and_then(|i| self.chunks.get(i))
            .ok_or_else(|| Error::format(&what, 0, "no such chunk"))?;
        let seg = self
            .segments
            .get(loc.segment as usize)
            .ok_or_else(|| Error::format(&what, loc.offset, "no such segment"))?;
        let start = index * self.chunk_size;
        let expected = self.chunk_size.min(self.media_len.saturating_sub(start)) as usize;
        if loc.compressed {
            let limit = self.chunk_size * 2 + 1024;
            let stored = seg.read_vec(&what, loc.offset, (loc.size as u64).min(limit))?;
            let mut data = inflate(&what, loc.offset, &stored, true, self.chunk_size as usize)?;
            if data.len() < expected {
                return Err(Error::format(
                    &what,
                    loc.offset,
                    format!("inflates to {} bytes, {expected} expected", data.len()),
                ));
            }
            data.truncate(expected);
            Ok(data)
        } else {
            let stored_data = (loc.size as u64).saturating_sub(4);
            let data_len = if stored_data >= expected as u64 && stored_data <= self.chunk_size {
                stored_data
            } else {
                expected as u64
            };
            let mut data = seg.read_vec(&what, loc.offset, data_len + 4)?;
            let sum = le_u32(&data, data_len as usize).unwrap_or(0);
            data.truncate(data_len as usize);
            if adler32(&data) != sum {
                return Err(Error::format(&what, loc.offset, "Adler-32 mismatch"));
            }
            data.truncate(expected);
            Ok(data)
        }
    }
}

impl Evidence for EwfImage {
    fn len(&self) -> u64 {
        self.media_len
    }

    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.media_len)?;
        while !buf.is_empty() {
            let index = offset / self.chunk_size;
            let within = (offset % self.chunk_size) as usize;
            let n = ((self.chunk_size as usize) - within).min(buf.len());
            let (head, tail) = buf.split_at_mut(n);
            let chunk = self.chunk(index)?;
            copy_from_block("EWF chunk", offset, &chunk, within, head)?;
            buf = tail;
            offset += n as u64;
        }
        Ok(())
    }

    fn format(&self) -> crate::Format {
        crate::Format::Ewf {
            segments: self.segments.len(),
        }
    }

    fn stored_hashes(&self) -> (Option<[u8; 16]>, Option<[u8; 20]>) {
        (self.md5, self.sha1)
    }
}

/// What [`verify`] found: the hashes of the media bytes and the ones the container recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Container format, as [`Evidence::format`] gives it.
    pub format: crate::Format,
    /// Number of media bytes hashed.
    pub media_len: u64,
    /// MD5 of the media bytes.
    pub md5: [u8; 16],
    /// SHA-1 of the media bytes.
    pub sha1: [u8; 20],
    /// MD5 recorded in the container at acquisition, if any.
    pub stored_md5: Option<[u8; 16]>,
    /// SHA-1 recorded in the container at acquisition, if any.
    pub stored_sha1: Option<[u8; 20]>,
}

impl VerifyReport {
    /// `Some(true)` when a stored MD5 exists and matches, `Some(false)` when it differs.
    pub fn md5_matches(&self) -> Option<bool> {
        self.stored_md5.map(|h| h == self.md5)
    }

    /// `Some(true)` when a stored SHA-1 exists and matches, `Some(false)` when it differs.
    pub fn sha1_matches(&self) -> Option<bool> {
        self.stored_sha1.map(|h| h == self.sha1)
    }

    /// True when at least one hash was stored and every stored hash matches.
    pub fn verified(&self) -> bool {
        let m = self.md5_matches();
        let s = self.sha1_matches();
        (m.is_some() || s.is_some()) && m != Some(false) && s != Some(false)
    }
}

/// Recomputes the MD5 and SHA-1 of all media bytes of `evidence` and sets them beside the hashes
/// the container recorded ([`Evidence::stored_hashes`]; only E01 records them). A chunk that
/// fails its own checksum stops the verification with that error.
///
/// ```no_run
/// let ev = deadbox_evidence::open(std::path::Path::new("disk.E01"))?;
/// let report = deadbox_evidence::verify(ev.as_ref())?;
/// assert!(report.verified());
/// # Ok::<(), deadbox_evidence::Error>(())
/// ```
pub fn verify(evidence: &dyn Evidence) -> Result<VerifyReport> {
    use md5::{Digest, Md5};
    use sha1::Sha1;
    const BLOCK: u64 = 1 << 20;
    let len = evidence.len();
    let mut m = Md5::new();
    let mut s = Sha1::new();
    let mut buf = vec![0u8; BLOCK as usize];
    let mut offset = 0u64;
    while offset < len {
        let n = (len - offset).min(BLOCK) as usize;
        let chunk = buf.get_mut(..n).unwrap_or_default();
        evidence.read_exact_at(offset, chunk)?;
        let chunk: &[u8] = chunk;
        rayon::join(|| m.update(chunk), || s.update(chunk));
        offset += n as u64;
    }
    let (stored_md5, stored_sha1) = evidence.stored_hashes();
    Ok(VerifyReport {
        format: evidence.format(),
        media_len: len,
        md5: m.finalize().into(),
        sha1: s.finalize().into(),
        stored_md5,
        stored_sha1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler_known_value() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(&[]), 1);
        // against the byte-by-byte definition, over several NMAX runs of worst-case bytes
        for data in [
            vec![0xffu8; 40_000],
            (0..40_000u32).map(|i| (i * 7) as u8).collect(),
        ] {
            let (mut a, mut b) = (1u64, 0u64);
            for &x in &data {
                a = (a + x as u64) % 65521;
                b = (b + a) % 65521;
            }
            assert_eq!(adler32(&data), ((b << 16) | a) as u32);
        }
    }

    #[test]
    fn segment_names() {
        let p = Path::new("/x/case.E01");
        assert_eq!(segment_path(p, 2).unwrap(), Path::new("/x/case.E02"));
        assert_eq!(segment_path(p, 99).unwrap(), Path::new("/x/case.E99"));
        assert_eq!(segment_path(p, 100).unwrap(), Path::new("/x/case.EAA"));
        assert_eq!(segment_path(p, 101).unwrap(), Path::new("/x/case.EAB"));
        assert_eq!(
            segment_path(p, 100 + 26 * 26).unwrap(),
            Path::new("/x/case.FAA")
        );
        let l = Path::new("case.e01");
        assert_eq!(segment_path(l, 3).unwrap(), Path::new("case.e03"));
    }

    #[test]
    fn garbage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.E01");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 1, 0, 0, 0]);
        bytes.extend(std::iter::repeat_n(0xAAu8, 300));
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(EwfImage::open(&p), Err(Error::Format { .. })));
        std::fs::write(&p, &bytes[..10]).unwrap();
        assert!(EwfImage::open(&p).is_err());
    }
}
