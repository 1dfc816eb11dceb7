//! The USN change journal (`$Extend/$UsnJrnl:$J`): typed records, read from a volume or from a
//! loose `$J` file (a triage collection's extract).
//!
//! `$J` is a sparse stream: Windows frees the journal's old pages by turning them into a hole,
//! so on a busy volume the stream is gigabytes long and all but its last few megabytes are a
//! hole. [`NtfsVolume::usn_journal`] reads only the allocated runs (a hole is never read as
//! zeros); a loose file is read from end to end, zero pages skipped 8 bytes at a time.
//!
//! Records: `USN_RECORD_V2` (64-bit file references), `USN_RECORD_V3` (128-bit file ids: the
//! low 64 bits are the NTFS reference on NTFS, the full id is kept) and `USN_RECORD_V4` (range
//! tracking: the changed extents of a file, no name, no time). Each record is 8-byte aligned;
//! Windows fills the rest of a 4 KiB page with zeros when the next record does not fit.
//!
//! Bounds and damage: a record longer than [`MAX_RECORD_LEN`] is not believed; bytes that are
//! not a valid record (garbage, a length too small or too large, a bad version, a name outside
//! the record, a record cut by the end of the data) are skipped 8 bytes at a time until a valid
//! record follows, and each such damaged area (from its first to its last non-zero byte; zero
//! words inside garbage do not split it) gives one [`Diagnostic`] (at most
//! [`MAX_DIAGNOSTICS`] of them; the rest are counted in a last one). Memory is one read buffer
//! (1 MiB plus a record); time is linear in the bytes read.
//!
//! ```
//! use deadbox_ntfs::usn::UsnReader;
//! // One USN_RECORD_V2 for "a.txt" (file 0x40 seq 2 in the root directory), then zero padding.
//! let mut b = vec![0u8; 4096];
//! b[0..4].copy_from_slice(&72u32.to_le_bytes());
//! b[4..6].copy_from_slice(&2u16.to_le_bytes());
//! b[8..16].copy_from_slice(&(0x40 | 2u64 << 48).to_le_bytes());
//! b[16..24].copy_from_slice(&(5 | 5u64 << 48).to_le_bytes());
//! b[40..44].copy_from_slice(&0x100u32.to_le_bytes()); // USN_REASON_FILE_CREATE
//! b[52..56].copy_from_slice(&0x20u32.to_le_bytes()); // archive
//! b[56..58].copy_from_slice(&10u16.to_le_bytes());
//! b[58..60].copy_from_slice(&60u16.to_le_bytes());
//! for (i, u) in "a.txt".encode_utf16().enumerate() {
//!     b[60 + 2 * i..62 + 2 * i].copy_from_slice(&u.to_le_bytes());
//! }
//! let mut journal = UsnReader::from_slice(&b);
//! let r = journal.next().unwrap();
//! assert_eq!((r.name.as_str(), r.file_reference.entry, r.parent_reference.entry), ("a.txt", 0x40, 5));
//! assert_eq!(r.reason_names(), ["USN_REASON_FILE_CREATE"]);
//! assert!(journal.next().is_none());
//! assert!(journal.diagnostics().is_empty());
//! ```

use super::diagnostic::{Diagnostic, DiagnosticKind};
use super::reader::StreamReader;
use super::time::FileTime;
use super::tree::Tree;
use super::{Error, NtfsVolume, Result};
use deadbox_evidence::bytes::{le_u16, le_u32, le_u64, utf16le_name};
use std::io::{self, Cursor, Read, Seek, SeekFrom};

/// Largest record believed, in bytes. A real record is at most 64 + 255 × 2 bytes (v2/v3) or
/// a few hundred bytes of extents (v4).
pub const MAX_RECORD_LEN: u32 = 64 << 10;
/// Most damaged-area diagnostics kept by one reader; further areas are counted.
pub const MAX_DIAGNOSTICS: usize = 1000;
/// Bytes read at a time.
const CHUNK: usize = 1 << 20;
/// Read errors (bad sectors, a truncated image) after which a reader gives up.
const MAX_READ_ERRORS: usize = 16;
/// Most extents a v4 record is believed to hold.
const MAX_EXTENTS: usize = (MAX_RECORD_LEN as usize - 64) / 16;

/// An NTFS file reference: MFT entry and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct FileRef {
    /// MFT entry number (the low 48 bits).
    pub entry: u64,
    /// Sequence number (bits 48–63).
    pub sequence: u16,
}

impl FileRef {
    /// The reference packed in a 64-bit NTFS file reference number.
    pub fn from_u64(v: u64) -> Self {
        FileRef {
            entry: v & 0xFFFF_FFFF_FFFF,
            sequence: (v >> 48) as u16,
        }
    }
}

/// One changed range of a file, from a v4 record (`USN_RECORD_EXTENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct UsnExtent {
    /// Byte offset of the range in the file.
    pub offset: i64,
    /// Length of the range in bytes.
    pub length: i64,
}

/// One record of the change journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsnRecord {
    /// Byte offset of the record in the `$J` stream (or in the loose file read).
    pub offset: u64,
    /// Major version: 2, 3 or 4.
    pub major_version: u16,
    /// Minor version.
    pub minor_version: u16,
    /// Record length in bytes, as stored.
    pub record_length: u32,
    /// Update sequence number (on a volume, the record's offset in `$J`).
    pub usn: i64,
    /// When the change was recorded; `None` for v4 records, which carry no time.
    pub timestamp: Option<FileTime>,
    /// `USN_REASON_*` flags ([`UsnRecord::reason_names`]).
    pub reason: u32,
    /// `USN_SOURCE_*` flags ([`source_info_names`]).
    pub source_info: u32,
    /// Security id (an index into `$Secure`); 0 for v4 records.
    pub security_id: u32,
    /// The file's id as stored: a 64-bit reference (v2) or a 128-bit id (v3, v4).
    pub file_id: u128,
    /// The parent directory's id as stored.
    pub parent_file_id: u128,
    /// The file's MFT reference (the low 64 bits of the id).
    pub file_reference: FileRef,
    /// The parent directory's MFT reference.
    pub parent_reference: FileRef,
    /// `FILE_ATTRIBUTE_*` flags ([`attribute_names`]); 0 for v4 records.
    pub attributes: u32,
    /// The file's name (no directory); empty for v4 records.
    pub name: String,
    /// v4: the changed ranges this record holds.
    pub extents: Vec<UsnExtent>,
    /// v4: how many more extents follow in later records.
    pub remaining_extents: u32,
}

impl UsnRecord {
    /// The reason flags by their Windows names (`USN_REASON_DATA_OVERWRITE`, …, in bit
    /// order); bits without a name as `0x…` hex.
    pub fn reason_names(&self) -> Vec<String> {
        flag_names(self.reason, REASONS, |(_, n, _)| n)
    }

    /// The reason flags as `fsutil usn readjournal` prints them: `File create | Close`.
    pub fn reason_text(&self) -> String {
        flag_names(self.reason, REASONS, |(_, _, t)| t).join(" | ")
    }
}

/// `USN_REASON_*`: bit, Windows name, fsutil's text.
const REASONS: &[(u32, &str, &str)] = &[
    (0x0000_0001, "USN_REASON_DATA_OVERWRITE", "Data overwrite"),
    (0x0000_0002, "USN_REASON_DATA_EXTEND", "Data extend"),
    (0x0000_0004, "USN_REASON_DATA_TRUNCATION", "Data truncation"),
    (
        0x0000_0010,
        "USN_REASON_NAMED_DATA_OVERWRITE",
        "Named data overwrite",
    ),
    (
        0x0000_0020,
        "USN_REASON_NAMED_DATA_EXTEND",
        "Named data extend",
    ),
    (
        0x0000_0040,
        "USN_REASON_NAMED_DATA_TRUNCATION",
        "Named data truncation",
    ),
    (0x0000_0100, "USN_REASON_FILE_CREATE", "File create"),
    (0x0000_0200, "USN_REASON_FILE_DELETE", "File delete"),
    (0x0000_0400, "USN_REASON_EA_CHANGE", "EA change"),
    (0x0000_0800, "USN_REASON_SECURITY_CHANGE", "Security change"),
    (
        0x0000_1000,
        "USN_REASON_RENAME_OLD_NAME",
        "Rename: old name",
    ),
    (
        0x0000_2000,
        "USN_REASON_RENAME_NEW_NAME",
        "Rename: new name",
    ),
    (
        0x0000_4000,
        "USN_REASON_INDEXABLE_CHANGE",
        "Indexable change",
    ),
    (
        0x0000_8000,
        "USN_REASON_BASIC_INFO_CHANGE",
        "Basic info change",
    ),
    (
        0x0001_0000,
        "USN_REASON_HARD_LINK_CHANGE",
        "Hard link change",
    ),
    (
        0x0002_0000,
        "USN_REASON_COMPRESSION_CHANGE",
        "Compression change",
    ),
    (
        0x0004_0000,
        "USN_REASON_ENCRYPTION_CHANGE",
        "Encryption change",
    ),
    (
        0x0008_0000,
        "USN_REASON_OBJECT_ID_CHANGE",
        "Object ID change",
    ),
    (
        0x0010_0000,
        "USN_REASON_REPARSE_POINT_CHANGE",
        "Reparse point change",
    ),
    (0x0020_0000, "USN_REASON_STREAM_CHANGE", "Stream change"),
    (
        0x0040_0000,
        "USN_REASON_TRANSACTED_CHANGE",
        "Transacted change",
    ),
    (
        0x0080_0000,
        "USN_REASON_INTEGRITY_CHANGE",
        "Integrity change",
    ),
    (
        0x0100_0000,
        "USN_REASON_DESIRED_STORAGE_CLASS_CHANGE",
        "Desired storage class change",
    ),
    (0x8000_0000, "USN_REASON_CLOSE", "Close"),
];

/// `FILE_ATTRIBUTE_*`: bit, Windows name, fsutil's text.
const ATTRIBUTES: &[(u32, &str, &str)] = &[
    (0x0000_0001, "FILE_ATTRIBUTE_READONLY", "Read only"),
    (0x0000_0002, "FILE_ATTRIBUTE_HIDDEN", "Hidden"),
    (0x0000_0004, "FILE_ATTRIBUTE_SYSTEM", "System"),
    (0x0000_0010, "FILE_ATTRIBUTE_DIRECTORY", "Directory"),
    (0x0000_0020, "FILE_ATTRIBUTE_ARCHIVE", "Archive"),
    (0x0000_0040, "FILE_ATTRIBUTE_DEVICE", "Device"),
    (0x0000_0080, "FILE_ATTRIBUTE_NORMAL", "Normal"),
    (0x0000_0100, "FILE_ATTRIBUTE_TEMPORARY", "Temporary"),
    (0x0000_0200, "FILE_ATTRIBUTE_SPARSE_FILE", "Sparse file"),
    (0x0000_0400, "FILE_ATTRIBUTE_REPARSE_POINT", "Reparse point"),
    (0x0000_0800, "FILE_ATTRIBUTE_COMPRESSED", "Compressed"),
    (0x0000_1000, "FILE_ATTRIBUTE_OFFLINE", "Offline"),
    (
        0x0000_2000,
        "FILE_ATTRIBUTE_NOT_CONTENT_INDEXED",
        "Not content indexed",
    ),
    (0x0000_4000, "FILE_ATTRIBUTE_ENCRYPTED", "Encrypted"),
    (
        0x0000_8000,
        "FILE_ATTRIBUTE_INTEGRITY_STREAM",
        "Integrity stream",
    ),
    (0x0001_0000, "FILE_ATTRIBUTE_VIRTUAL", "Virtual"),
    (0x0002_0000, "FILE_ATTRIBUTE_NO_SCRUB_DATA", "No scrub data"),
    (
        0x0004_0000,
        "FILE_ATTRIBUTE_RECALL_ON_OPEN",
        "Recall on open",
    ),
    (0x0008_0000, "FILE_ATTRIBUTE_PINNED", "Pinned"),
    (0x0010_0000, "FILE_ATTRIBUTE_UNPINNED", "Unpinned"),
    (
        0x0040_0000,
        "FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS",
        "Recall on data access",
    ),
];

/// `USN_SOURCE_*`: bit, Windows name, short text.
const SOURCES: &[(u32, &str, &str)] = &[
    (0x1, "USN_SOURCE_DATA_MANAGEMENT", "Data management"),
    (0x2, "USN_SOURCE_AUXILIARY_DATA", "Auxiliary data"),
    (
        0x4,
        "USN_SOURCE_REPLICATION_MANAGEMENT",
        "Replication management",
    ),
    (
        0x8,
        "USN_SOURCE_CLIENT_REPLICATION_MANAGEMENT",
        "Client replication management",
    ),
];

fn flag_names(
    v: u32,
    table: &[(u32, &'static str, &'static str)],
    pick: impl Fn(&(u32, &'static str, &'static str)) -> &'static str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut known = 0u32;
    for e in table {
        known |= e.0;
        if v & e.0 != 0 {
            out.push(pick(e).to_string());
        }
    }
    for bit in 0..32 {
        let b = 1u32 << bit;
        if v & b != 0 && known & b == 0 {
            out.push(format!("{b:#010x}"));
        }
    }
    out
}

/// `FILE_ATTRIBUTE_*` flags by their Windows names (`FILE_ATTRIBUTE_ARCHIVE`, …), in bit
/// order; bits without a name as `0x…` hex.
pub fn attribute_names(attributes: u32) -> Vec<String> {
    flag_names(attributes, ATTRIBUTES, |(_, n, _)| n)
}

/// The attribute flags as `fsutil usn readjournal` prints them: `Hidden | System | Directory`.
pub fn attribute_text(attributes: u32) -> String {
    flag_names(attributes, ATTRIBUTES, |(_, _, t)| t).join(" | ")
}

/// `USN_SOURCE_*` flags by their Windows names; bits without a name as `0x…` hex.
pub fn source_info_names(source_info: u32) -> Vec<String> {
    flag_names(source_info, SOURCES, |(_, n, _)| n)
}

/// The `USN_REASON_*` flags of `reason` by their Windows names ([`UsnRecord::reason_names`]).
pub fn reason_names(reason: u32) -> Vec<String> {
    flag_names(reason, REASONS, |(_, n, _)| n)
}

/// Why bytes are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    /// Length, version or layout fields impossible.
    Invalid(&'static str),
    /// A plausible header whose record runs past the end of the data.
    Truncated { len: u32, have: usize },
}

/// The record length `b` (8-byte aligned, at least 8 bytes) claims, when its header is
/// plausible (length, version).
fn header(b: &[u8]) -> std::result::Result<(u32, u16), Bad> {
    let len = le_u32(b, 0).unwrap_or(0);
    let major = le_u16(b, 4).unwrap_or(0);
    let min = match major {
        2 => 64,
        3 => 80,
        4 => 64,
        _ => return Err(Bad::Invalid("unknown major version")),
    };
    if len < min {
        return Err(Bad::Invalid("record length too small"));
    }
    if len > MAX_RECORD_LEN {
        return Err(Bad::Invalid("record length too large"));
    }
    if len % 8 != 0 {
        return Err(Bad::Invalid("record length not a multiple of 8"));
    }
    Ok((len, major))
}

/// Parses the record at the start of `b` (`offset`: its place in the stream).
fn parse(b: &[u8], offset: u64) -> std::result::Result<UsnRecord, Bad> {
    let (len, major) = header(b)?;
    if b.len() < len as usize {
        return Err(Bad::Truncated { len, have: b.len() });
    }
    let r = &b[..len as usize];
    let u64_at = |o: usize| le_u64(r, o).unwrap_or(0);
    let u32_at = |o: usize| le_u32(r, o).unwrap_or(0);
    let minor = le_u16(r, 6).unwrap_or(0);
    let (file_id, parent_id, rest) = match major {
        2 => (u64_at(8) as u128, u64_at(16) as u128, 24),
        _ => (
            u64_at(8) as u128 | (u64_at(16) as u128) << 64,
            u64_at(24) as u128 | (u64_at(32) as u128) << 64,
            40,
        ),
    };
    let usn = u64_at(rest) as i64;
    if usn < 0 {
        return Err(Bad::Invalid("negative USN"));
    }
    let mut rec = UsnRecord {
        offset,
        major_version: major,
        minor_version: minor,
        record_length: len,
        usn,
        timestamp: None,
        reason: 0,
        source_info: 0,
        security_id: 0,
        file_id,
        parent_file_id: parent_id,
        file_reference: FileRef::from_u64(file_id as u64),
        parent_reference: FileRef::from_u64(parent_id as u64),
        attributes: 0,
        name: String::new(),
        extents: Vec::new(),
        remaining_extents: 0,
    };
    if major == 4 {
        // Usn, Reason, SourceInfo, RemainingExtents, NumberOfExtents, ExtentSize, Extents[].
        rec.reason = u32_at(48);
        rec.source_info = u32_at(52);
        rec.remaining_extents = u32_at(56);
        let n = le_u16(r, 60).unwrap_or(0) as usize;
        let size = le_u16(r, 62).unwrap_or(0);
        if size != 16 {
            return Err(Bad::Invalid("v4 extent size is not 16"));
        }
        if n > MAX_EXTENTS || 64 + 16 * n > len as usize {
            return Err(Bad::Invalid("v4 extents outside the record"));
        }
        rec.extents = (0..n)
            .map(|i| UsnExtent {
                offset: u64_at(64 + 16 * i) as i64,
                length: u64_at(72 + 16 * i) as i64,
            })
            .collect();
        return Ok(rec);
    }
    // Usn, TimeStamp, Reason, SourceInfo, SecurityId, FileAttributes, FileNameLength,
    // FileNameOffset, FileName.
    let t = rest + 8;
    rec.timestamp = Some(FileTime(u64_at(t)));
    rec.reason = u32_at(t + 8);
    rec.source_info = u32_at(t + 12);
    rec.security_id = u32_at(t + 16);
    rec.attributes = u32_at(t + 20);
    let name_len = le_u16(r, t + 24).unwrap_or(0) as usize;
    let name_off = le_u16(r, t + 26).unwrap_or(0) as usize;
    if name_off != t + 28 {
        return Err(Bad::Invalid(
            "file name offset is not the record's name field",
        ));
    }
    if name_len == 0 || name_len % 2 != 0 || name_len > 255 * 2 {
        return Err(Bad::Invalid("file name length impossible"));
    }
    // Windows sets the length to the name's end rounded up to 8 bytes.
    if (name_off + name_len).next_multiple_of(8) != len as usize {
        return Err(Bad::Invalid("record length does not fit the file name"));
    }
    rec.name = utf16le_name(&r[name_off..name_off + name_len]).0;
    Ok(rec)
}

/// One allocated range of the stream: `start..end` in the stream, and where it starts in the
/// evidence (for diagnostics), when known.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: u64,
    end: u64,
    evidence: Option<u64>,
}

/// A damaged area being skipped: from `start` to `end` (the end of its last non-zero word;
/// zero words inside it do not end it, a valid record does).
#[derive(Debug, Clone, Copy)]
struct Damage {
    start: u64,
    end: u64,
    first: Bad,
}

/// An iterator of [`UsnRecord`]s over a `$J` stream: a volume's ([`NtfsVolume::usn_journal`])
/// or a loose file's ([`UsnReader::new`], [`UsnReader::from_slice`]). Records come in stream
/// order; damaged areas are skipped and reported in [`UsnReader::diagnostics`]. A read error
/// ends the iteration with a diagnostic.
#[derive(Debug)]
pub struct UsnReader<R> {
    src: R,
    ranges: Vec<Range>,
    /// Current range.
    ri: usize,
    /// Next stream offset to read in the current range.
    next_read: u64,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_off: u64,
    /// Parse position in `buf`.
    pos: usize,
    damage: Option<Damage>,
    diagnostics: Vec<Diagnostic>,
    /// Diagnostics made so far (also those taken by [`UsnReader::take_diagnostics`]).
    listed: usize,
    /// Damaged areas not listed (past [`MAX_DIAGNOSTICS`]).
    unlisted: u64,
    /// Read errors met; after [`MAX_READ_ERRORS`] the rest is not read.
    read_errors: usize,
    records: u64,
    bytes_read: u64,
    done: bool,
    /// Carving free clusters: garbage is expected (no damage diagnostics) and records must be
    /// plausible ([`plausible`]).
    carving: bool,
}

impl<'a> UsnReader<Cursor<&'a [u8]>> {
    /// Records of a `$J` stream held in memory.
    pub fn from_slice(b: &'a [u8]) -> Self {
        let end = b.len() as u64;
        UsnReader::with_ranges(Cursor::new(b), vec![(0, end, None)])
    }
}

impl<R: Read + Seek> UsnReader<R> {
    /// Records of a loose `$J` file (or any `Read + Seek` over a `$J` stream), read from start
    /// to end.
    pub fn new(mut src: R) -> io::Result<Self> {
        let end = src.seek(SeekFrom::End(0))?;
        Ok(UsnReader::with_ranges(src, vec![(0, end, None)]))
    }

    /// Records of the ranges `(start, end, evidence offset of start)` of the stream `src`
    /// (sorted, disjoint; 8-byte aligned starts).
    fn with_ranges(src: R, ranges: Vec<(u64, u64, Option<u64>)>) -> Self {
        let ranges: Vec<Range> = ranges
            .into_iter()
            .filter(|r| r.1 > r.0)
            .map(|(start, end, evidence)| Range {
                start,
                end,
                evidence,
            })
            .collect();
        let first = ranges.first().map_or(0, |r| r.start);
        UsnReader {
            src,
            ranges,
            ri: 0,
            next_read: first,
            buf: Vec::new(),
            buf_off: first,
            pos: 0,
            damage: None,
            diagnostics: Vec::new(),
            listed: 0,
            unlisted: 0,
            read_errors: 0,
            records: 0,
            bytes_read: 0,
            done: false,
            carving: false,
        }
    }

    /// Problems met so far: one per damaged area (at most [`MAX_DIAGNOSTICS`], then one
    /// counting the rest, once the iteration is over) and read errors.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Takes the diagnostics gathered so far (for callers that print them as they come).
    pub fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diagnostics)
    }

    /// Records returned so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes of the stream read so far (holes of a volume's journal are not read).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Stream bytes the reader will look at: the allocated ranges' total.
    pub fn allocated_bytes(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }

    fn range(&self) -> Option<Range> {
        self.ranges.get(self.ri).copied()
    }

    /// The evidence offset of stream offset `off`, when the range's place is known.
    fn evidence_offset(&self, off: u64) -> Option<u64> {
        let r = self.range()?;
        r.evidence.map(|e| e + (off - r.start))
    }

    /// Reads more of the current range into the buffer (dropping what was parsed); false at
    /// the end of the range (or on a read error, which ends the iteration).
    fn fill(&mut self) -> bool {
        let Some(r) = self.range() else { return false };
        if self.next_read >= r.end {
            return false;
        }
        self.buf.drain(..self.pos);
        self.buf_off += self.pos as u64;
        self.pos = 0;
        let want = ((r.end - self.next_read) as usize).min(CHUNK);
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let res = self
            .src
            .seek(SeekFrom::Start(self.next_read))
            .and_then(|_| self.src.read_exact(&mut self.buf[old..]));
        if let Err(e) = res {
            // The unreadable chunk is skipped like a hole: the current range ends before it
            // (what is buffered is still parsed) and a new one starts after it.
            let at = self.next_read;
            self.buf.truncate(old);
            self.read_errors += 1;
            let give_up = self.read_errors >= MAX_READ_ERRORS;
            let rest = if give_up {
                "; too many read errors: the rest is not read"
            } else {
                "; skipped"
            };
            let d = Diagnostic::new(
                DiagnosticKind::Unreadable,
                format!(
                    "$J: stream bytes {at}..{} unreadable: {e}{rest}",
                    at + want as u64
                ),
            )
            .at_offset(self.evidence_offset(at));
            self.push_diagnostic(d);
            self.ranges[self.ri].end = at;
            let resume = at + want as u64;
            if give_up {
                self.done = true;
            } else if resume < r.end {
                let after = Range {
                    start: resume,
                    end: r.end,
                    evidence: r.evidence.map(|e| e + (resume - r.start)),
                };
                self.ranges.insert(self.ri + 1, after);
            }
            return false;
        }
        self.next_read += want as u64;
        self.bytes_read += want as u64;
        true
    }

    /// Keeps a diagnostic, or counts it past [`MAX_DIAGNOSTICS`].
    fn push_diagnostic(&mut self, d: Diagnostic) {
        if self.listed >= MAX_DIAGNOSTICS {
            self.unlisted += 1;
        } else {
            self.listed += 1;
            self.diagnostics.push(d);
        }
    }

    /// Closes the damaged area being skipped.
    fn close_damage(&mut self) {
        let Some(d) = self.damage.take() else { return };
        let end = d.end;
        let (kind, why) = match d.first {
            Bad::Invalid(w) => (DiagnosticKind::Corrupt, w.to_string()),
            Bad::Truncated { len, have } => (
                DiagnosticKind::Truncated,
                format!("a record of {len} bytes cut after {have} bytes"),
            ),
        };
        let diag = Diagnostic::new(
            kind,
            format!(
                "$J: {} bytes at stream bytes {}..{end} are not USN records ({why}); skipped",
                end - d.start,
                d.start
            ),
        )
        .at_offset(self.evidence_offset(d.start));
        self.push_diagnostic(diag);
    }

    /// Moves to the next range; false when there is none.
    fn next_range(&mut self) -> bool {
        self.close_damage();
        self.ri += 1;
        self.buf.clear();
        self.pos = 0;
        match self.range() {
            Some(r) => {
                self.next_read = r.start;
                self.buf_off = r.start;
                true
            }
            None => false,
        }
    }

    fn finish(&mut self) {
        self.done = true;
        if self.unlisted > 0 {
            self.diagnostics.push(Diagnostic::new(
                DiagnosticKind::Limit,
                format!(
                    "$J: {} more damaged areas or read errors not listed (at most {MAX_DIAGNOSTICS} are)",
                    self.unlisted
                ),
            ));
            self.unlisted = 0;
        }
    }
}

impl<R: Read + Seek> Iterator for UsnReader<R> {
    type Item = UsnRecord;

    fn next(&mut self) -> Option<UsnRecord> {
        loop {
            if self.done {
                return None;
            }
            let avail = self.buf.len() - self.pos;
            let more = self.range().is_some_and(|r| self.next_read < r.end);
            // Keep a whole record's worth in the buffer while the range has more.
            if avail < MAX_RECORD_LEN as usize && more {
                if !self.fill() && self.done {
                    self.finish();
                    return None;
                }
                continue;
            }
            if avail < 8 {
                // The range is over (a tail shorter than 8 bytes is padding or damage).
                let tail_nonzero = self.buf[self.pos..].iter().any(|&b| b != 0);
                if tail_nonzero {
                    let at = self.buf_off + self.pos as u64;
                    let end = self.buf_off + self.buf.len() as u64;
                    let d = self.damage.get_or_insert(Damage {
                        start: at,
                        end,
                        first: Bad::Invalid("bytes after the last record"),
                    });
                    d.end = end;
                }
                if !self.next_range() {
                    self.finish();
                    return None;
                }
                continue;
            }
            let at = self.buf_off + self.pos as u64;
            let b = &self.buf[self.pos..];
            if le_u64(b, 0) == Some(0) {
                // Zero padding (the end of a page) or a zeroed area: skip it fast. It does not
                // end a damaged area (garbage may hold zero words): the next record does.
                let zeros = b
                    .chunks_exact(8)
                    .take_while(|c| c.iter().all(|&x| x == 0))
                    .count();
                self.pos += zeros * 8;
                continue;
            }
            match parse(b, at) {
                Ok(rec) if self.carving && !plausible(&rec) => self.pos += 8,
                Err(_) if self.carving => self.pos += 8,
                Ok(rec) => {
                    self.close_damage();
                    self.pos += rec.record_length as usize;
                    self.records += 1;
                    return Some(rec);
                }
                Err(bad) => {
                    let d = self.damage.get_or_insert(Damage {
                        start: at,
                        end: at,
                        first: bad,
                    });
                    d.end = at + 8;
                    self.pos += 8;
                }
            }
        }
    }
}

/// How far past the first non-zero byte [`looks_like_journal`] looks for a record (an extract
/// may start inside a record or a damaged page).
const SNIFF_WINDOW: usize = 64 << 10;

/// True when `src` reads as a loose `$J` stream: within 64 KiB of its first non-zero
/// 8-byte-aligned word (leading zeros are skipped, read 1 MiB at a time) a valid USN record
/// starts. Used to tell a `$J` extract from a disk image; a file of nothing but zeros is not
/// taken for a journal.
pub fn looks_like_journal<R: Read + Seek>(src: &mut R) -> io::Result<bool> {
    let end = src.seek(SeekFrom::End(0))?;
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    while at < end {
        let n = ((end - at) as usize).min(CHUNK);
        src.seek(SeekFrom::Start(at))?;
        src.read_exact(&mut buf[..n])?;
        let zeros = buf[..n]
            .chunks_exact(8)
            .take_while(|c| c.iter().all(|&x| x == 0))
            .count();
        if zeros * 8 + 8 <= n {
            let first = at + zeros as u64 * 8;
            let k = ((end - first) as usize).min(SNIFF_WINDOW + MAX_RECORD_LEN as usize);
            let mut b = vec![0u8; k];
            src.seek(SeekFrom::Start(first))?;
            src.read_exact(&mut b)?;
            let found = (0..k.min(SNIFF_WINDOW))
                .step_by(8)
                .any(|o| parse(&b[o..], first + o as u64).is_ok());
            return Ok(found);
        }
        at += (zeros * 8).max(8) as u64;
    }
    Ok(false)
}

/// FILETIMEs of 1990-01-01 and 2100-01-01: the times a carved record may have.
const CARVE_TIMES: std::ops::Range<u64> = 125_911_584_000_000_000..157_469_184_000_000_000;
/// Largest MFT entry number a carved record may name (2^32: far beyond any real volume).
const CARVE_MAX_ENTRY: u64 = 1 << 32;
/// Most free-cluster ranges one carve looks at (24 bytes each); the rest of the free space is
/// left out with a diagnostic.
const MAX_CARVE_RANGES: usize = 1 << 20;

/// Whether a record found in free space is believed: a v2 or v3 record (v4 records carry too
/// little to tell them from noise) of minor version 0, with a reason, a time between 1990 and
/// 2100, plausible references, and a name that decodes and holds no control character, `/` or
/// `\0`.
fn plausible(r: &UsnRecord) -> bool {
    (r.major_version == 2 || r.major_version == 3)
        && r.minor_version == 0
        && r.reason != 0
        && r.timestamp
            .is_some_and(|t| CARVE_TIMES.contains(&t.ticks()))
        && r.file_reference.entry < CARVE_MAX_ENTRY
        && r.parent_reference.entry < CARVE_MAX_ENTRY
        && r.file_id >> 64 == 0
        && r.parent_file_id >> 64 == 0
        && !r
            .name
            .chars()
            .any(|c| c < ' ' || c == '/' || c == '\u{FFFD}' || c == '\u{7F}')
}

/// Where a record's path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathSource {
    /// The parent directory (same entry and sequence number) is in the MFT: its path plus the
    /// record's name.
    Mft,
    /// The parent is gone or reused: `/$Orphan/<name>`.
    Orphan,
}

/// The full path of `rec` on the volume whose namespace is `tree`: the path of its parent
/// directory when the MFT still holds it with the sequence number of the record's parent
/// reference, joined with the record's name ([`PathSource::Mft`]); else `/$Orphan/<name>`
/// ([`PathSource::Orphan`]). A v4 record (no name) takes the path of its file when the file's
/// record still has its sequence number, else `/$Orphan/OrphanFile-<entry>`. Written to `out`
/// (cleared first).
pub fn resolve_path(tree: &Tree, rec: &UsnRecord, out: &mut String) -> PathSource {
    out.clear();
    if rec.name.is_empty() {
        let f = rec.file_reference;
        if tree.push_file_path(f.entry, f.sequence, out) {
            return PathSource::Mft;
        }
        out.clear();
        out.push_str(&format!("/$Orphan/OrphanFile-{}", f.entry));
        return PathSource::Orphan;
    }
    let p = rec.parent_reference;
    if tree.push_dir_path(p.entry, p.sequence, out) {
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&rec.name);
        return PathSource::Mft;
    }
    out.clear();
    out.push_str("/$Orphan/");
    out.push_str(&rec.name);
    PathSource::Orphan
}

impl NtfsVolume {
    /// The volume's change journal (`$Extend/$UsnJrnl:$J`, found through the directory
    /// indexes): an iterator of its records that reads only the stream's allocated runs, up to
    /// its initialized size (the sparse hole before them is never read).
    ///
    /// Errors: [`Error::NotFound`] when the volume has no `$UsnJrnl` or it has no `$J` stream
    /// (the journal is not active); errors of [`NtfsVolume::open_path`] for a damaged `$Extend`.
    pub fn usn_journal(&self) -> Result<UsnReader<StreamReader<'_>>> {
        let reader = self.open_stream("/$Extend/$UsnJrnl", Some("$J"))?;
        let s = reader.stream();
        let cs = self.geometry.cluster_size;
        let limit = s.size.min(s.initialized);
        let mut ranges: Vec<(u64, u64, Option<u64>)> = Vec::new();
        if s.resident || s.compressed {
            // Resident (tiny) or compressed (never on a real volume): read it all.
            ranges.push((0, limit, None));
        } else {
            for r in s.runs() {
                let Some(lcn) = r.lcn else { continue };
                let (Some(a), Some(b)) = (r.vcn.checked_mul(cs), r.len.checked_mul(cs)) else {
                    continue;
                };
                let (start, end) = (a.min(limit), a.saturating_add(b).min(limit));
                if start >= end {
                    continue;
                }
                let ev = lcn
                    .checked_mul(cs)
                    .and_then(|o| o.checked_add(self.region.start()));
                match ranges.last_mut() {
                    // Adjacent runs are one range (a record may straddle them).
                    Some(last) if last.1 == start => last.1 = end,
                    _ => ranges.push((start, end, ev)),
                }
            }
        }
        if s.size > 0 && reader.stream().error.is_some() {
            let e = reader.stream().error.clone().unwrap_or_default();
            return Err(Error::format("$UsnJrnl:$J", self.region.start(), e));
        }
        Ok(UsnReader::with_ranges(reader, ranges))
    }
}

impl NtfsVolume {
    /// USN records carved from the volume's free clusters (per `$Bitmap`), where the pages
    /// Windows freed from the journal (and journals of earlier volumes) may still lie. Every
    /// free cluster is read (holes of `$J` are not clusters: nothing is stored for them). Only
    /// plausible records are returned (v2/v3, minor version 0, a reason, a time from 1990 to
    /// 2100, entry numbers below 2^32, a name without control characters); garbage gives no
    /// diagnostics. A record's `offset` is its byte offset in the volume. At most 1 Mi free
    /// ranges are looked at (a diagnostic says when the rest is left out).
    ///
    /// Errors: `$Bitmap` (MFT entry 6) unreadable.
    pub fn usn_carve(&self) -> Result<UsnReader<deadbox_evidence::RegionReader>> {
        let cs = self.geometry.cluster_size;
        let bitmap = self.file(6)?;
        let s = self
            .select_stream(&bitmap, None)
            .ok_or_else(|| Error::NotFound("$Bitmap: no $DATA stream".into()))?;
        let clusters = self.geometry.size.min(self.region.len()) / cs;
        let mut reader = self.stream_reader(s);
        let mut ranges: Vec<(u64, u64, Option<u64>)> = Vec::new();
        let mut diagnostics = Vec::new();
        let mut chunk = vec![0u8; CHUNK];
        let mut lcn = 0u64;
        let mut run: Option<u64> = None; // first free cluster of the current free run
        let push = |ranges: &mut Vec<(u64, u64, Option<u64>)>, a: u64, b: u64| {
            if ranges.len() < MAX_CARVE_RANGES {
                let (start, end) = (a * cs, b * cs);
                ranges.push((start, end, Some(self.region.start() + start)));
                true
            } else {
                false
            }
        };
        let mut full = false;
        'bytes: while lcn < clusters {
            let n = reader.read_at(lcn / 8, &mut chunk)?;
            if n == 0 {
                break;
            }
            for &byte in &chunk[..n] {
                if lcn >= clusters {
                    break 'bytes;
                }
                // Whole bytes first: all allocated or all free.
                if lcn + 8 <= clusters && (byte == 0xFF || byte == 0) {
                    match (byte, run) {
                        (0xFF, Some(a)) => {
                            full |= !push(&mut ranges, a, lcn);
                            run = None;
                        }
                        (0, None) => run = Some(lcn),
                        _ => {}
                    }
                    lcn += 8;
                    continue;
                }
                for bit in 0..8 {
                    if lcn >= clusters {
                        break;
                    }
                    match (byte >> bit & 1, run) {
                        (1, Some(a)) => {
                            full |= !push(&mut ranges, a, lcn);
                            run = None;
                        }
                        (0, None) => run = Some(lcn),
                        _ => {}
                    }
                    lcn += 1;
                }
            }
            if full {
                break;
            }
        }
        if let Some(a) = run.filter(|_| !full) {
            full |= !push(&mut ranges, a, lcn.min(clusters));
        }
        if full {
            diagnostics.push(Diagnostic::new(
                DiagnosticKind::Limit,
                format!(
                    "USN carving: free space in more than {MAX_CARVE_RANGES} pieces; only the first are carved"
                ),
            ));
        }
        let mut r = UsnReader::with_ranges(
            deadbox_evidence::RegionReader::new(self.region.clone()),
            ranges,
        );
        r.carving = true;
        r.diagnostics = diagnostics;
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(name: &str, usn: i64) -> Vec<u8> {
        let units: Vec<u16> = name.encode_utf16().collect();
        let len = (60 + units.len() * 2).next_multiple_of(8);
        let mut b = vec![0u8; len];
        b[0..4].copy_from_slice(&(len as u32).to_le_bytes());
        b[4..6].copy_from_slice(&2u16.to_le_bytes());
        b[8..16].copy_from_slice(&(0x41 | 3u64 << 48).to_le_bytes());
        b[16..24].copy_from_slice(&(5 | 5u64 << 48).to_le_bytes());
        b[24..32].copy_from_slice(&usn.to_le_bytes());
        b[32..40].copy_from_slice(&132_000_000_000_000_000u64.to_le_bytes());
        b[40..44].copy_from_slice(&0x8000_0200u32.to_le_bytes());
        b[56..58].copy_from_slice(&((units.len() * 2) as u16).to_le_bytes());
        b[58..60].copy_from_slice(&60u16.to_le_bytes());
        for (i, u) in units.iter().enumerate() {
            b[60 + 2 * i..62 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        b
    }

    #[test]
    fn names_of_flags() {
        assert_eq!(
            reason_names(0x8000_0102),
            [
                "USN_REASON_DATA_EXTEND",
                "USN_REASON_FILE_CREATE",
                "USN_REASON_CLOSE"
            ]
        );
        assert_eq!(reason_names(0x0000_0008), ["0x00000008"]);
        assert_eq!(attribute_text(0x16), "Hidden | System | Directory");
        assert_eq!(source_info_names(0), Vec::<String>::new());
    }

    #[test]
    fn records_padding_and_garbage() {
        let mut b = v2("one.txt", 0);
        b.extend(std::iter::repeat_n(0u8, 64));
        b.extend(std::iter::repeat_n(0xAAu8, 40));
        let at = b.len();
        b.extend(v2("two.txt", at as i64));
        let mut r = UsnReader::from_slice(&b);
        let names: Vec<String> = r.by_ref().map(|x| x.name).collect();
        assert_eq!(names, ["one.txt", "two.txt"]);
        assert_eq!(r.diagnostics().len(), 1, "{:?}", r.diagnostics());
        assert!(r.diagnostics()[0].contains("40 bytes"));
        assert_eq!(r.diagnostics()[0].kind, DiagnosticKind::Corrupt);
    }

    #[test]
    fn truncated_record_is_reported() {
        let mut b = v2("some_long_name.txt", 0);
        b.truncate(b.len() - 16);
        let mut r = UsnReader::from_slice(&b);
        assert!(r.next().is_none());
        assert_eq!(r.diagnostics()[0].kind, DiagnosticKind::Truncated);
    }

    /// A source whose reads fail when they start in `bad`.
    struct Flaky {
        inner: Cursor<Vec<u8>>,
        bad: std::ops::Range<u64>,
    }
    impl Read for Flaky {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            if self.bad.contains(&self.inner.position()) {
                return Err(io::Error::other("bad sector"));
            }
            self.inner.read(b)
        }
    }
    impl Seek for Flaky {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            self.inner.seek(to)
        }
    }

    #[test]
    fn read_errors_skip_a_chunk_and_go_on() {
        let rec = v2("after_error.txt", 0);
        let mut b = Vec::new();
        while b.len() < 3 * CHUNK {
            b.extend_from_slice(&rec);
        }
        let total = b.len() / rec.len();
        let bad = CHUNK as u64..CHUNK as u64 + 1;
        let mut r = UsnReader::new(Flaky {
            inner: Cursor::new(b),
            bad,
        })
        .unwrap();
        let n = r.by_ref().count();
        // The second megabyte (and the records straddling into and out of it) is lost,
        // nothing else.
        assert!(
            n < total && n >= total - CHUNK / rec.len() - 2,
            "{n} of {total}"
        );
        let d = r.diagnostics();
        let kinds: Vec<_> = d.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                DiagnosticKind::Unreadable,
                DiagnosticKind::Truncated, // the record cut by the unreadable megabyte
                DiagnosticKind::Corrupt,   // the rest of the one cut at its end
            ],
            "{d:?}"
        );
        // Every read failing: the reader gives up after MAX_READ_ERRORS, with one diagnostic
        // each.
        let mut r = UsnReader::new(Flaky {
            inner: Cursor::new(vec![1u8; 64 * CHUNK]),
            bad: 0..u64::MAX,
        })
        .unwrap();
        assert_eq!(r.by_ref().count(), 0);
        assert_eq!(r.diagnostics().len(), MAX_READ_ERRORS);
    }

    #[test]
    fn records_across_chunks() {
        // Records straddling the 1 MiB read boundary come out whole.
        let rec = v2("straddle.txt", 0);
        let mut b = Vec::new();
        while b.len() < CHUNK + 4096 {
            b.extend_from_slice(&rec);
        }
        let n = b.len() / rec.len();
        let r = UsnReader::new(Cursor::new(&b)).unwrap();
        assert_eq!(r.count(), n);
    }
}
