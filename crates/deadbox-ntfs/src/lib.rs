//! NTFS read straight from a disk image — partition tables (MBR, GPT), the NTFS volumes in
//! them, the bulk MFT walk (every entry, name, path and stream, deleted ones too), content
//! (compressed, sparse, fragmented), the `$I30` directory indexes and the names left in their
//! slack, and lazy random access by entry or path. It depends on [`deadbox_evidence`] only (no
//! YARA, no command line): `deadbox-ntfs` builds in well under a minute.
//!
//! ```
//! use deadbox_ntfs::{volume::VolumeSelect, Image};
//! use std::io::Read;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any container deadbox-evidence reads (raw, E01, VHD(X), VMDK, qcow2), partitioned or not.
//! let image = Image::open("../../fixtures/ntfs-basic.img".as_ref(), VolumeSelect::default())?;
//! let volume = &image.volumes()[0];
//!
//! // One file, through the directory indexes: no walk.
//! let mut text = String::new();
//! volume.open_stream("/files/resident.txt", None)?.read_to_string(&mut text)?;
//! assert!(text.starts_with("deadbox fixture"));
//!
//! // Every entry, in MFT order (a parallel pass; see `walk_batches` for bounded memory).
//! let listing = volume.walk();
//! let deleted = listing.items().filter(|i| i.file.deleted).count();
//! println!("{} entries, {deleted} rows of deleted files", listing.files.len());
//! # Ok(())
//! # }
//! ```
//!
//! # Why not the `ntfs` crate alone
//! The `ntfs` crate reads and validates the boot sector (geometry, serial number). Everything
//! after that is done here, because the crate (0.4) was measured to get content wrong on
//! ordinary volumes: LZNT1-compressed streams come back as raw compressed bytes, bytes past
//! `initialized_size` come back as stale disk content, attributes spread across an
//! `$ATTRIBUTE_LIST` can read as empty, an `$MFT` with an attribute list is not followed, and its
//! iterators have no cycle or size guards. So deadbox:
//! - assembles `$MFT`'s own data runs across its attribute list;
//! - reads the MFT in large batches and parses records in parallel (rayon), applying fixups;
//! - attaches extension records to their base record (checking the base's sequence number) and
//!   assembles every `$DATA` stream's runs across them;
//! - decompresses LZNT1 compression units itself (the `lznt1` crate decodes the 4 KiB chunks,
//!   the unit logic — allocated clusters, holes, padding — is in the private `compress` module);
//! - serves zeros for holes and past `initialized_size`.
//!
//! # Paths
//! Paths are built from each name's parent reference. A parent is accepted only when its
//! sequence number matches the reference (or, for a deleted parent, is one higher: NTFS bumps
//! the sequence when it frees a record). An entry whose parent is gone, reused or not a directory
//! is placed under `/$Orphan/`; a record with no name at all is `/$Orphan/OrphanFile-<entry>`.
//! Hard links give one path per name; DOS 8.3 names are folded into their long name.
//!
//! # Random access
//! Without any walk: [`NtfsVolume::file`] reads one entry (with its extension records),
//! [`NtfsVolume::open_path`] finds a path through the directory indexes as NTFS does
//! (case-insensitively per the volume's `$UpCase`, [`UpCase`]), and [`StreamReader`] reads a
//! stream as `Read + Seek`.

#![deny(missing_docs)]

mod compress;
pub mod diagnostic;
pub mod image;
mod index;
mod lazy;
pub mod loose;
mod reader;
mod record;
mod runs;
pub mod secure;
mod time;
mod tree;
mod upcase;
pub mod usn;
pub mod volume;
pub mod vss;

pub use deadbox_evidence as evidence;
pub use deadbox_evidence::budget::MemoryBudget;
pub use deadbox_evidence::{Error, Result};
pub use diagnostic::{Diagnostic, DiagnosticKind, DiagnosticLocation};
pub use image::{Image, OpenOptions};
pub use index::{DirIndex, IndexEntry, IndexSource};
pub use reader::StreamReader;
pub use record::{FileName, StdInfo};
pub use runs::Run;
pub use secure::{Owner, SecureTable};
pub use time::{filetime_to_rfc3339, push_rfc3339, unix_to_filetime, FileTime};
pub use tree::Tree;
pub use upcase::UpCase;

use deadbox_evidence::{Region, RegionReader};
use rayon::prelude::*;
use record::{AttrBody, AttrListBody, Record, Slot};
use std::sync::Arc;
use tree::TreeRecord;

/// Entry points for the fuzz targets (`fuzz/`): the pure parsers of untrusted bytes, reachable
/// without a volume. Compiled only under `cfg(fuzzing)`, which cargo-fuzz sets; not an API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Decodes a run list; returns how many runs were decoded.
    pub fn runs(b: &[u8], start_vcn: u64) -> usize {
        match super::runs::decode_runs(b, start_vcn) {
            Ok(r) | Err((r, _)) => r.len(),
        }
    }
    /// Parses one MFT record (fixups applied in place); true when it parsed as a record.
    pub fn record(entry: u64, buf: &mut [u8]) -> bool {
        matches!(
            super::record::parse_record(entry, buf),
            super::record::Slot::Record(_)
        )
    }
    /// Parses an attribute list value; returns the entry count.
    pub fn attr_list(v: &[u8]) -> usize {
        super::record::parse_attr_list(v).len()
    }
    /// Carves `$FILE_NAME` keys of directory `dir` from `buf`.
    pub fn index_slack(buf: &[u8], dir: u64) -> usize {
        super::index::carve(buf, 0, buf.len(), dir).len()
    }
    /// Reads every USN record of a loose `$J` byte stream, from the slice and through
    /// `Read + Seek` (which must agree), and sniffs it as a journal; returns (records,
    /// diagnostics, longest record).
    pub fn usn(b: &[u8]) -> (usize, usize, u32) {
        use super::usn::{looks_like_journal, UsnReader};
        let mut r = UsnReader::from_slice(b);
        let recs: Vec<_> = r.by_ref().collect();
        let longest = recs.iter().map(|x| x.record_length).max().unwrap_or(0);
        let cursor = std::io::Cursor::new(b);
        let again = UsnReader::new(cursor).map(|r| r.collect::<Vec<_>>());
        assert!(again.is_ok_and(|a| a == recs), "slice and reader disagree");
        let _ = looks_like_journal(&mut std::io::Cursor::new(b));
        (recs.len(), r.diagnostics().len(), longest)
    }

    /// The VSS harness; the first byte picks the mode. Even: the rest, after a diff-area GUID,
    /// version 1 and block type `pick / 2 % 7`, is one 16 KiB block parsed as a volume header,
    /// a catalog block, a store block list and a store header. Odd: the rest is patches `[block][offset u16
    /// LE][len][bytes]` over the structure blocks of a synthetic volume with two snapshots
    /// (`vss::synthetic_volume`), which is then opened and every block of every snapshot read.
    /// Returns what was parsed or read.
    pub fn vss(data: &[u8]) -> usize {
        use super::vss;
        use deadbox_evidence::{MemoryEvidence, Region};
        let Some((&pick, rest)) = data.split_first() else {
            return 0;
        };
        if pick % 2 == 0 {
            let mut b = vec![0u8; vss::BLOCK as usize];
            b[..16].copy_from_slice(&vss::DIFF_AREA_GUID);
            b[16] = 1;
            b[20] = pick / 2 % 7;
            let n = rest.len().min(b.len() - 24);
            b[24..24 + n].copy_from_slice(&rest[..n]);
            let mut found = 0;
            if let Ok(Some(_)) = vss::VolumeHeader::parse(&b) {
                found += 1;
            }
            if let Ok((e, _, _)) = vss::parse_catalog_block(&b, 0) {
                found += e.len();
            }
            if let Ok((d, _)) = vss::parse_block_list_block(&b, 0) {
                found += d.len();
            }
            if let Ok(h) = vss::parse_store_header(&b, 0) {
                found += usize::from(h.machine.is_some());
            }
            return found;
        }
        // The synthetic volume is built once; each input patches a copy in a buffer kept
        // between inputs (allocating and faulting in 2 MiB per input was most of the time).
        static BASE: std::sync::OnceLock<(Vec<u8>, [usize; 6])> = std::sync::OnceLock::new();
        thread_local! {
            static BUF: std::cell::RefCell<Option<std::sync::Arc<[u8]>>> =
                const { std::cell::RefCell::new(None) };
        }
        let (base, blocks) = BASE.get_or_init(vss::synthetic_volume);
        let mut bytes = BUF
            .with(|b| b.borrow_mut().take())
            .filter(|b| b.len() == base.len())
            .unwrap_or_else(|| std::sync::Arc::from(base.as_slice()));
        let Some(v) = std::sync::Arc::get_mut(&mut bytes) else {
            return 0;
        };
        v.copy_from_slice(base);
        let mut p = rest;
        while let [which, lo, hi, len, tail @ ..] = p {
            let block = blocks[*which as usize % blocks.len()];
            let at = block * vss::BLOCK as usize + u16::from_le_bytes([*lo, *hi]) as usize % 0x4000;
            let n = (*len as usize).min(tail.len()).min(v.len() - at);
            v[at..at + n].copy_from_slice(&tail[..n]);
            p = &tail[n.min(tail.len())..];
            if n == 0 {
                break;
            }
        }
        let read = read_snapshots(Region::whole(std::sync::Arc::new(MemoryEvidence::new(
            bytes.clone(),
        ))));
        // Everything that held the buffer is gone: keep it for the next input.
        BUF.with(|b| *b.borrow_mut() = Some(bytes));
        read
    }

    /// Opens the shadow copies in `region` and reads every block of every snapshot (see
    /// [`vss`]); returns the reads that succeeded.
    fn read_snapshots(region: deadbox_evidence::Region) -> usize {
        use super::vss;
        use deadbox_evidence::Evidence;
        let Ok(Some(shadows)) = vss::Shadows::open(&region) else {
            return 0;
        };
        let mut read = 0;
        for n in 1..=shadows.snapshots().len() {
            let Ok(snap) = shadows.snapshot(n) else {
                continue;
            };
            // Every block's mapping is resolved (32 bytes read across each block boundary, so
            // two blocks per read), and one read spans the first four blocks whole; copying
            // every byte of every block cost 2 MiB per input and added no path.
            let len = snap.len().min(region.len());
            let mut head = vec![0u8; (4 * vss::BLOCK).min(len) as usize];
            if snap.read_exact_at(0, &mut head).is_ok() {
                read += 1;
            }
            let mut buf = [0u8; 32];
            let mut off = vss::BLOCK - 16;
            while off + 32 <= len {
                if snap.read_exact_at(off, &mut buf).is_ok() {
                    read += 1;
                }
                off += vss::BLOCK;
            }
        }
        read
    }
    /// Decompresses one LZNT1 compression unit of `unit_bytes`.
    pub fn lznt1_unit(input: &[u8], unit_bytes: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        super::compress::decompress_unit(input, &mut out, unit_bytes)?;
        Ok(out)
    }
}

/// File attribute flag: the data is compressed.
const ATTR_FLAG_COMPRESSED: u16 = 0x0001;
/// Attribute flag: encrypted (EFS).
const ATTR_FLAG_ENCRYPTED: u16 = 0x4000;
/// Attribute flag: sparse.
const ATTR_FLAG_SPARSE: u16 = 0x8000;

/// Bytes of MFT read and parsed per batch of the bulk walk (4096 records of 1 KiB; fewer when
/// records are larger, so a boot sector claiming 64 KiB records cannot make batches of 256 MiB).
const BATCH_BYTES: u64 = 4 << 20;
/// Most bytes of memory a batch of the walk takes per byte of MFT records, at worst: a data run
/// takes 2 bytes on disk at the least and 32 in memory ([`Run`]); names, times and flags widen
/// less. Used to size the walk's share of the memory budget.
const ENTRY_WIDENING: u64 = 16;

/// Bytes of non-resident attribute lists a volume reads in all, at most this many times the
/// size of its MFT plus [`ATTR_LIST_READ_EXTRA`]. Each list is at most
/// [`Limits::max_attr_list`], but the runs of every file's list can point at the same clusters:
/// 50,000 records (100 MB of MFT) naming one 16 MiB list made 800 GB of reads. Real lists take
/// a few KiB each, read two or three times (namespace, walk, lazy access).
const ATTR_LIST_READ_FACTOR: u64 = 8;
/// See [`ATTR_LIST_READ_FACTOR`].
const ATTR_LIST_READ_EXTRA: u64 = 256 << 20;

/// Most names (hard links) kept per file: the NTFS limit.
const MAX_NAMES: usize = 1024;

/// Most streams (`$DATA` attributes and other named attributes listed as streams) kept per
/// file. NTFS sets no limit, but a real file has a handful; many thousands can only come from
/// crafted extension records (each holds ~30 small resident named `$DATA` attributes, and an
/// `$ATTRIBUTE_LIST` of 16 MiB can name ~500,000 of them). Streams after the first
/// `MAX_STREAMS` in (type, name) order are left out, with an entry error that says how many.
pub const MAX_STREAMS: usize = 4096;

/// Most rows [`Listing::items`] gives per entry: rows are names × streams (plus a directory
/// row per name), so 1,024 names × [`MAX_STREAMS`] streams would be 4 Mi rows from one entry.
/// Rows come name by name, each name with all its streams, so every kept stream has at least
/// its first name's row (`MAX_STREAMS` ≤ this); the names past the cut get no rows, with an
/// entry error that says so.
pub const MAX_ROWS_PER_ENTRY: usize = 8192;

/// Resource bounds of the NTFS reader. The defaults suit any real volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `$ATTRIBUTE_LIST` read, in bytes (default 16 MiB).
    pub max_attr_list: u64,
    /// Deepest directory nesting followed when building a path (default 1024).
    pub max_depth: usize,
    /// Longest directory path built, in UTF-8 bytes (default 32 KiB, the 32767 UTF-16 units
    /// of a Windows path in ASCII). A deeper directory is listed under `/$Orphan/` with a
    /// diagnostic. Every directory's path is kept as its own string, so without this bound a
    /// hostile MFT of N nested directories with 255-character names costs N × depth × 255
    /// bytes (gigabytes from an 8 MiB MFT); with it, at most N × 32 KiB.
    pub max_path_bytes: usize,
    /// Most bytes of paths of all names of the volume together (default 2 GiB, ~15 million
    /// names of 150 bytes). Each path is bounded by `max_path_bytes`, but a listing holds one
    /// path string per name, so a deep tree of long names (a few MiB of MFT in a small
    /// compressed E01) could still cost N × 32 KiB, tens of GB. Names are counted in MFT
    /// order; a name whose path would pass the budget is listed under `/$Orphan` by its own
    /// name (at most `/$Orphan/` + 765 bytes, linear in the MFT), with one diagnostic saying
    /// how many were moved and from which entry.
    pub max_total_path_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attr_list: 16 << 20,
            max_depth: 1024,
            max_path_bytes: 32 << 10,
            max_total_path_bytes: 2 << 30,
        }
    }
}

/// Geometry of an NTFS volume, from its boot sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per sector (512 or 4096).
    pub sector_size: u32,
    /// Bytes per cluster (512 B to 2 MiB).
    pub cluster_size: u64,
    /// Bytes per MFT record (usually 1024 or 4096).
    pub record_size: u64,
    /// Volume serial number.
    pub serial: u64,
    /// Volume size from the boot sector, in bytes.
    pub size: u64,
    /// Byte offset of the `$MFT` in the volume.
    pub mft_offset: u64,
}

/// How a stream's content is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    Resident(Vec<u8>),
    NonResident {
        runs: Vec<Run>,
        /// Compression unit in clusters; 0 when not compressed.
        unit: u64,
    },
}

/// Which attribute a stream comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A `$DATA` attribute (unnamed or an alternate data stream).
    Data,
    /// A named `$INDEX_ROOT` of a non-directory system file (e.g. `$Secure:$SDH`), listed as TSK
    /// lists it.
    IndexRoot,
}

/// One stream of a file: the unnamed `$DATA`, an alternate data stream, or a named index root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Stream name; `None` for the unnamed `$DATA` stream.
    pub name: Option<String>,
    /// The attribute's id in its MFT record (of its first fragment).
    pub attr_id: u16,
    /// Attribute the stream comes from.
    pub kind: StreamKind,
    /// Logical size in bytes.
    pub size: u64,
    /// Allocated size in bytes.
    pub allocated: u64,
    /// Initialized size in bytes (bytes past it read as zeros).
    pub initialized: u64,
    /// Stored resident in the MFT record.
    pub resident: bool,
    /// LZNT1-compressed.
    pub compressed: bool,
    /// Sparse.
    pub sparse: bool,
    /// EFS-encrypted (content is returned as stored: ciphertext).
    pub encrypted: bool,
    /// A problem with the stream's run list; reads will fail or be partial.
    pub error: Option<String>,
    pub(crate) content: Content,
}

impl Stream {
    /// True for a non-empty, non-resident stream with no allocated cluster at all: its content
    /// is nothing but zeros (e.g. `$BadClus:$Bad`, one hole as large as the volume).
    pub fn is_hole_only(&self) -> bool {
        self.size > 0 && !self.resident && self.runs().iter().all(|r| r.lcn.is_none())
    }

    /// True for a non-empty, non-resident stream whose content is zeros by construction: its
    /// initialized size is 0 (nothing was ever written), or it has no allocated cluster.
    /// `scan` never reads or YARA-scans such a stream and does not count it as work; `hash`
    /// takes its digests from `deadbox::hash::zero_digests`, computed once per length.
    pub fn is_known_zero(&self) -> bool {
        self.size > 0 && !self.resident && (self.initialized == 0 || self.is_hole_only())
    }

    /// The runs of a non-resident stream (empty for a resident one).
    pub fn runs(&self) -> &[Run] {
        match &self.content {
            Content::NonResident { runs, .. } => runs,
            Content::Resident(_) => &[],
        }
    }
}

/// One MFT base record with everything deadbox read from it and its extension records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// MFT entry number.
    pub entry: u64,
    /// Sequence number of the record.
    pub sequence: u16,
    /// The record is not in use: a deleted file (content may still be readable).
    pub deleted: bool,
    /// The record is a directory.
    pub is_dir: bool,
    /// `$STANDARD_INFORMATION`, when present.
    pub si: Option<StdInfo>,
    /// `$FILE_NAME`s: one per hard link; DOS 8.3 names are left out when a long name exists.
    pub names: Vec<FileName>,
    /// Streams (`$DATA` attributes and named index roots).
    pub streams: Vec<Stream>,
    /// Problems met reading this record (broken attributes, runs, extension records).
    pub errors: Vec<String>,
    /// The owner of the record's own resident `$SECURITY_DESCRIPTOR` attribute (NTFS 1.x, and
    /// `mkntfs`/`ntfs-3g` for some files), if any; [`NtfsVolume::file_owner`] prefers the
    /// `$Secure` descriptor of [`StdInfo::security_id`].
    pub sd_owner: Option<Owner>,
    /// The directory index attributes, read by [`NtfsVolume::dir_index`].
    pub(crate) index: Option<Box<DirIndexAttrs>>,
}

impl FileEntry {
    /// Size of the directory's resident `$I30` `$INDEX_ROOT` value (what `fls -m` gives as a
    /// directory's size); `None` when the record has none.
    pub fn index_root_size(&self) -> Option<u64> {
        let root = self.index.as_ref()?.root.as_ref()?;
        Some(root.len() as u64)
    }

    /// The attribute id of the directory's `$I30` `$INDEX_ROOT`; `None` when it has none.
    pub fn index_root_id(&self) -> Option<u16> {
        let ix = self.index.as_ref()?;
        ix.root.as_ref().map(|_| ix.root_id)
    }
}

/// A directory's `$I30` attributes: the resident root and the allocation's runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DirIndexAttrs {
    pub root: Option<Vec<u8>>,
    pub root_id: u16,
    pub allocation: Option<Stream>,
}

/// A problem met during the walk that is not about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkDiagnostic {
    /// MFT entry concerned, if any.
    pub entry: Option<u64>,
    /// Absolute offset in the evidence, if known.
    pub offset: Option<u64>,
    /// What went wrong.
    pub message: String,
}

/// An opened NTFS volume. Cheap to share between threads (`&self` everywhere).
#[derive(Debug)]
pub struct NtfsVolume {
    region: Region,
    partition: Option<u32>,
    geometry: Geometry,
    mft_runs: Vec<Run>,
    mft_size: u64,
    label: Option<String>,
    limits: Limits,
    diagnostics: Vec<WalkDiagnostic>,
    /// `$UpCase`, read on first use ([`NtfsVolume::upcase`]).
    upcase: std::sync::OnceLock<UpCase>,
    /// `$Secure`'s owners, read on first use ([`NtfsVolume::secure`]).
    secure: std::sync::OnceLock<SecureTable>,
    /// The namespace, built on first use of [`NtfsVolume::shared_tree`].
    tree: std::sync::OnceLock<Arc<Tree>>,
    /// For a shadow copy: its number and the live volume's offset in the evidence.
    snapshot: Option<(usize, u64)>,
    /// The run's memory budget ([`NtfsVolume::with_budget`]), when one was given.
    budget: Option<Arc<MemoryBudget>>,
    /// Bytes of non-resident attribute lists read so far (see [`ATTR_LIST_READ_FACTOR`]).
    attr_list_read: std::sync::atomic::AtomicU64,
}

/// Is there an NTFS boot sector at the start of `region`?
pub fn looks_like_ntfs(region: &Region) -> bool {
    let mut b = [0u8; 11];
    region.read_exact_at(0, &mut b).is_ok() && &b[3..11] == b"NTFS    "
}

impl NtfsVolume {
    /// Opens the NTFS volume that starts at the beginning of `region`. `partition` is the index
    /// the volume is reported under (`None` for a bare volume).
    pub fn open(region: Region, partition: Option<u32>) -> Result<Self> {
        Self::open_with_limits(region, partition, Limits::default())
    }

    /// [`NtfsVolume::open`] with explicit resource bounds.
    pub fn open_with_limits(
        region: Region,
        partition: Option<u32>,
        limits: Limits,
    ) -> Result<Self> {
        let start = region.start();
        if !looks_like_ntfs(&region) {
            return Err(Error::format(
                "NTFS boot sector",
                start,
                "no NTFS signature",
            ));
        }
        // Buffered: the crate reads the boot sector field by field, one small read each.
        let mut reader = std::io::BufReader::with_capacity(4096, RegionReader::new(region.clone()));
        let ntfs = ntfs::Ntfs::new(&mut reader)
            .map_err(|e| Error::format("NTFS boot sector", start, e.to_string()))?;
        let geometry = Geometry {
            sector_size: ntfs.sector_size() as u32,
            cluster_size: ntfs.cluster_size() as u64,
            record_size: ntfs.file_record_size() as u64,
            serial: ntfs.serial_number(),
            size: ntfs.size(),
            mft_offset: ntfs.mft_position().value().map(|v| v.get()).unwrap_or(0),
        };
        if geometry.record_size < 512 || geometry.record_size > 65536 {
            return Err(Error::format(
                "NTFS boot sector",
                start,
                format!("MFT record size {} out of range", geometry.record_size),
            ));
        }
        let mut vol = NtfsVolume {
            region,
            partition,
            geometry,
            mft_runs: Vec::new(),
            mft_size: 0,
            label: None,
            limits,
            diagnostics: Vec::new(),
            upcase: std::sync::OnceLock::new(),
            secure: std::sync::OnceLock::new(),
            tree: std::sync::OnceLock::new(),
            snapshot: None,
            budget: None,
            attr_list_read: std::sync::atomic::AtomicU64::new(0),
        };
        if geometry.size > vol.region.len() {
            vol.diagnostics.push(WalkDiagnostic {
                entry: None,
                offset: Some(start),
                message: format!(
                    "the boot sector gives {} bytes, the image holds {} (truncated image?)",
                    geometry.size,
                    vol.region.len()
                ),
            });
        }
        vol.load_mft_runs()?;
        if let Ok(Some(rec)) = vol.read_record(3) {
            vol.label = rec.volume_name.filter(|l| !l.is_empty());
        }
        Ok(vol)
    }

    /// The volume's geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The volume label (`$Volume`'s `$VOLUME_NAME`), if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Partition index the volume was opened under (`None` for a bare volume).
    pub fn partition(&self) -> Option<u32> {
        self.partition
    }

    /// The region (window of the evidence) the volume occupies.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// Absolute byte offset of the volume in the evidence (for a shadow copy, that of the live
    /// volume it is a snapshot of).
    pub fn offset(&self) -> u64 {
        match self.snapshot {
            Some((_, live)) => live,
            None => self.region.start(),
        }
    }

    /// The shadow copy this volume is (1 = oldest, as [`vss::Shadows::snapshots`] numbers
    /// them); `None` for a live volume.
    pub fn snapshot(&self) -> Option<usize> {
        self.snapshot.map(|s| s.0)
    }

    /// Draws this volume's long-lived memory from `budget`, the run's one memory budget: the
    /// namespace ([`NtfsVolume::tree`], charged as built), the paths of all its names (at most
    /// half of what is left, and [`Limits::max_total_path_bytes`]: names past it are listed
    /// under `/$Orphan`), the MFT batches [`NtfsVolume::walk_batches`] keeps in flight (fewer
    /// when the budget is small) and each directory index while it is read
    /// ([`NtfsVolume::dir_index`]: one that does not fit is not read, with an error saying so).
    pub fn with_budget(mut self, budget: Arc<MemoryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The memory budget given by [`NtfsVolume::with_budget`].
    pub fn budget(&self) -> Option<&Arc<MemoryBudget>> {
        self.budget.as_ref()
    }

    /// The resource bounds this volume was opened with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Marks this volume (opened over [`vss::Shadows::snapshot_region`]) as snapshot `number`
    /// of the live volume at byte `live_offset` of the evidence.
    pub fn as_snapshot(mut self, number: usize, live_offset: u64) -> Self {
        self.snapshot = Some((number, live_offset));
        self
    }

    /// Number of MFT records (the `$MFT` data size over the record size).
    pub fn record_count(&self) -> u64 {
        self.mft_size / self.geometry.record_size
    }

    /// Problems met while opening the volume (e.g. an `$MFT` extension that could not be read).
    pub fn open_diagnostics(&self) -> &[WalkDiagnostic] {
        &self.diagnostics
    }

    /// Reads and checks `$MFT`'s own record at volume offset `off`: a parsed record whose
    /// unnamed `$DATA` starts at VCN 0, is non-resident and fits the volume. Returns the record
    /// and the `$MFT` data size.
    fn mft_record0(&self, off: u64) -> Result<(Box<Record>, u64)> {
        let rs = self.geometry.record_size as usize;
        let abs = self.region.start().saturating_add(off);
        let mut buf = vec![0u8; rs];
        self.region.read_exact_at(off, &mut buf)?;
        let rec = match record::parse_record(0, &mut buf) {
            Slot::Record(r) => r,
            Slot::Empty => return Err(Error::format("$MFT record 0", abs, "no FILE signature")),
            Slot::Broken(e) => return Err(Error::format("$MFT record 0", abs, e)),
        };
        let first = rec
            .attrs
            .iter()
            .find(|a| {
                a.type_code == record::AT_DATA && a.name.is_empty() && start_vcn(&a.body) == 0
            })
            .ok_or_else(|| Error::format("$MFT record 0", abs, "no $DATA attribute"))?;
        let AttrBody::NonResident { size, .. } = first.body else {
            return Err(Error::format("$MFT record 0", abs, "resident $DATA"));
        };
        if size > self.region.len() {
            return Err(Error::format(
                "$MFT record 0",
                abs,
                format!("$MFT claims {size} bytes, more than the volume"),
            ));
        }
        Ok((rec, size))
    }

    /// Volume offset of `$MFTMirr` (boot sector field at 0x38, in clusters).
    fn mirror_offset(&self) -> Option<u64> {
        let mut b = [0u8; 8];
        self.region.read_exact_at(0x38, &mut b).ok()?;
        u64::from_le_bytes(b).checked_mul(self.geometry.cluster_size)
    }

    /// Reads the `$MFT` record (or, when it is unreadable or damaged, its copy in `$MFTMirr`),
    /// then its extension records if it has an attribute list, and assembles the `$MFT`'s data
    /// runs.
    fn load_mft_runs(&mut self) -> Result<()> {
        let off = self.geometry.mft_offset;
        let abs = self.region.start().saturating_add(off);
        let (rec, size) = match self.mft_record0(off) {
            Ok(r) => r,
            Err(e) => match self.mirror_offset().map(|m| self.mft_record0(m)) {
                Some(Ok(r)) => {
                    self.diagnostics.push(WalkDiagnostic {
                        entry: Some(0),
                        offset: Some(abs),
                        message: format!("{e}; using the copy of record 0 in $MFTMirr"),
                    });
                    r
                }
                _ => return Err(e),
            },
        };
        let mut frags: Vec<(u64, AttrBody)> = rec
            .attrs
            .iter()
            .filter(|a| a.type_code == record::AT_DATA && a.name.is_empty())
            .map(|a| (start_vcn(&a.body), a.body.clone()))
            .collect();
        self.mft_size = size - size % self.geometry.record_size;
        self.mft_runs = merge_runs(&frags).0;
        if let Some(list) = &rec.attr_list {
            let entries = match self.read_attr_list(list) {
                Ok(v) => record::parse_attr_list(&v),
                Err(e) => {
                    self.diagnostics.push(WalkDiagnostic {
                        entry: Some(0),
                        offset: Some(abs),
                        message: format!("$MFT attribute list unreadable: {e}"),
                    });
                    Vec::new()
                }
            };
            // Extension records of $MFT are found through the runs known so far; repeat while
            // that brings in more (bounded by the list's length).
            let mut pending: Vec<_> = entries
                .into_iter()
                .filter(|e| e.type_code == record::AT_DATA && e.entry != 0)
                .collect();
            pending.sort_by_key(|e| e.start_vcn);
            let mut seen = std::collections::HashSet::new();
            pending.retain(|e| seen.insert(e.entry));
            // Each round reads every pending record; real volumes need one or two rounds, so a
            // hostile list that reveals one record per round is cut short.
            for _round in 0..pending.len().clamp(1, 16) {
                let mut progressed = false;
                pending.retain(|e| match self.read_record(e.entry) {
                    Ok(Some(ext))
                        if ext.base == Some((0, rec.sequence))
                            || ext.base.map(|b| b.0) == Some(0) =>
                    {
                        for a in ext
                            .attrs
                            .iter()
                            .filter(|a| a.type_code == record::AT_DATA && a.name.is_empty())
                        {
                            frags.push((start_vcn(&a.body), a.body.clone()));
                        }
                        progressed = true;
                        false
                    }
                    _ => true,
                });
                self.mft_runs = merge_runs(&frags).0;
                if pending.is_empty() || !progressed {
                    break;
                }
            }
            for e in pending {
                self.diagnostics.push(WalkDiagnostic {
                    entry: Some(e.entry),
                    offset: None,
                    message: "$MFT extension record unreadable: part of the MFT is missing".into(),
                });
            }
        }
        let dropped = merge_runs(&frags).1;
        if dropped > 0 {
            self.diagnostics.push(WalkDiagnostic {
                entry: Some(0),
                offset: Some(abs),
                message: format!("$MFT: {dropped} runs overlap VCNs already mapped; ignored"),
            });
        }
        Ok(())
    }

    /// Reads the bytes of a non-resident or resident attribute list, bounded.
    fn read_attr_list(&self, list: &AttrListBody) -> Result<Vec<u8>> {
        match list {
            AttrListBody::Resident(v) => Ok(v.clone()),
            AttrListBody::NonResident { runs, size } => {
                if *size > self.limits.max_attr_list {
                    return Err(Error::Limit(format!(
                        "attribute list of {size} bytes (limit {})",
                        self.limits.max_attr_list
                    )));
                }
                let cap = self
                    .mft_size
                    .saturating_mul(ATTR_LIST_READ_FACTOR)
                    .saturating_add(ATTR_LIST_READ_EXTRA);
                let before = self
                    .attr_list_read
                    .fetch_add(*size, std::sync::atomic::Ordering::Relaxed);
                if before.saturating_add(*size) > cap {
                    return Err(Error::Limit(format!(
                        "attribute list of {size} bytes not read: the attribute lists of this volume took more than {cap} bytes in all ({ATTR_LIST_READ_FACTOR} × the MFT + {} MiB; lists sharing clusters?)",
                        ATTR_LIST_READ_EXTRA >> 20
                    )));
                }
                let mut out = vec![0u8; *size as usize];
                self.read_runs_range(runs, 0, &mut out)?;
                Ok(out)
            }
        }
    }

    /// Reads `buf.len()` bytes at byte `offset` of an uncompressed attribute given by `runs`.
    fn read_runs_range(&self, runs: &[Run], offset: u64, buf: &mut [u8]) -> Result<()> {
        let cs = self.geometry.cluster_size;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            let vcn = pos / cs;
            let run = find_run(runs, vcn).ok_or_else(|| {
                Error::format(
                    "run list",
                    self.region.start(),
                    format!("no run maps byte {pos}"),
                )
            })?;
            let run_end = (run.vcn + run.len).saturating_mul(cs);
            let n = ((run_end - pos) as usize).min(buf.len() - done);
            let dst = &mut buf[done..done + n];
            match run.lcn {
                None => dst.fill(0),
                Some(lcn) => {
                    let vol_off = self.cluster_offset(lcn, pos - run.vcn * cs)?;
                    self.region.read_exact_at(vol_off, dst)?;
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Volume offset of byte `within` of cluster `lcn`; an error when it overflows (a hostile
    /// run list).
    fn cluster_offset(&self, lcn: u64, within: u64) -> Result<u64> {
        lcn.checked_mul(self.geometry.cluster_size)
            .and_then(|o| o.checked_add(within))
            .ok_or_else(|| Error::format("run list", self.region.start(), "LCN overflow"))
    }

    /// Reads and parses one MFT record by number. `Ok(None)` when the slot holds no record.
    fn read_record(&self, entry: u64) -> Result<Option<Record>> {
        let rs = self.geometry.record_size;
        if entry >= self.record_count().max(1) && !self.mft_runs.is_empty() && self.mft_size > 0 {
            return Err(Error::NotFound(format!("MFT entry {entry}")));
        }
        let pos = entry
            .checked_mul(rs)
            .ok_or_else(|| Error::NotFound(format!("MFT entry {entry}")))?;
        let mut buf = vec![0u8; rs as usize];
        self.read_runs_range(&self.mft_runs, pos, &mut buf)?;
        match record::parse_record(entry, &mut buf) {
            Slot::Record(r) => Ok(Some(*r)),
            Slot::Empty => Ok(None),
            Slot::Broken(e) => Err(Error::format(format!("MFT record {entry}"), 0, e)),
        }
    }

    /// Absolute evidence offset of MFT record `entry`, if its run is known.
    pub fn record_offset(&self, entry: u64) -> Option<u64> {
        let cs = self.geometry.cluster_size;
        let pos = entry.checked_mul(self.geometry.record_size)?;
        let vcn = pos / cs;
        let run = find_run(&self.mft_runs, vcn)?;
        run.lcn?
            .checked_mul(cs)?
            .checked_add(pos - run.vcn * cs)?
            .checked_add(self.region.start())
    }

    /// Reads MFT records `first .. first + n` into `buf` (one large read; on failure record by
    /// record, so one bad sector loses one record, reported in `diags`).
    fn read_batch(&self, first: u64, n: u64, buf: &mut Vec<u8>, diags: &mut Vec<WalkDiagnostic>) {
        let rs = self.geometry.record_size;
        buf.clear();
        buf.resize((n * rs) as usize, 0);
        if self
            .read_runs_range(&self.mft_runs, first * rs, buf)
            .is_err()
        {
            for (i, chunk) in buf.chunks_mut(rs as usize).enumerate() {
                let entry = first + i as u64;
                if let Err(e2) = self.read_runs_range(&self.mft_runs, entry * rs, chunk) {
                    chunk.fill(0);
                    diags.push(WalkDiagnostic {
                        entry: Some(entry),
                        offset: self.record_offset(entry),
                        message: format!("MFT record unreadable: {e2}"),
                    });
                }
            }
        }
    }

    /// Calls `f` with each record slot `first .. first + n` (entry number and the record's bytes,
    /// which `f` may modify: the fixups are applied in place). Where the batch lies in one run
    /// of a memory-mapped image, each record is copied from the map into a small buffer that
    /// stays in cache; otherwise the batch is read at once ([`Self::read_batch`]).
    fn for_each_record(
        &self,
        first: u64,
        n: u64,
        diags: &mut Vec<WalkDiagnostic>,
        mut f: impl FnMut(u64, &mut [u8]),
    ) {
        let rs = self.geometry.record_size;
        if let Some(mapped) = self.mft_slice(first, n) {
            let mut rec = vec![0u8; rs as usize];
            for (i, src) in mapped.chunks_exact(rs as usize).enumerate() {
                record::copy_for_parse(src, &mut rec);
                f(first + i as u64, &mut rec);
            }
            return;
        }
        let mut buf = Vec::new();
        self.read_batch(first, n, &mut buf, diags);
        for (i, chunk) in buf.chunks_mut(rs as usize).enumerate() {
            f(first + i as u64, chunk);
        }
    }

    /// Records `first .. first + n` as a borrowed slice of the evidence, when they lie in one
    /// run of a memory-mapped image.
    fn mft_slice(&self, first: u64, n: u64) -> Option<&[u8]> {
        let rs = self.geometry.record_size;
        let cs = self.geometry.cluster_size;
        let start = first.checked_mul(rs)?;
        let len = n.checked_mul(rs)?;
        let run = find_run(&self.mft_runs, start / cs)?;
        let run_end = run.vcn.checked_add(run.len)?.checked_mul(cs)?;
        if start.checked_add(len)? > run_end {
            return None;
        }
        let off = run
            .lcn?
            .checked_mul(cs)?
            .checked_add(start - run.vcn * cs)?;
        self.region.slice(off, usize::try_from(len).ok()?)
    }

    /// Records per batch of the bulk walk, and the number of batches.
    fn batches(&self) -> (u64, u64) {
        let per_batch = (BATCH_BYTES / self.geometry.record_size).max(1);
        (per_batch, self.record_count().div_ceil(per_batch))
    }

    /// The namespace ([`NtfsVolume::tree`]) built once and kept with the volume: a scan and
    /// a timeline of the same opened volume share one pass over the MFT.
    pub fn shared_tree(&self) -> Arc<Tree> {
        self.tree.get_or_init(|| Arc::new(self.tree())).clone()
    }

    /// The namespace pass: reads the whole MFT in batches parsed in parallel, keeping of each
    /// base record only its number, sequence, flags and names, joins the names of extension
    /// records to their bases and resolves every name's parent (see [`Tree`]). Damaged records
    /// become diagnostics ([`Tree::diagnostics`]) and the walk goes on. Memory: a few dozen
    /// bytes per record plus the name text.
    pub fn tree(&self) -> Tree {
        let (per_batch, n_batches) = self.batches();
        let count = self.record_count();
        let mut tree = Tree::new(self.limits);
        tree.diagnostics = self.diagnostics.clone();
        // Extension records: (entry, base entry, base sequence, in use).
        let mut exts: Vec<(u64, u64, u16, bool)> = Vec::new();
        let batches: Vec<u64> = (0..n_batches).collect();
        for group in batches.chunks(group_len()) {
            let parsed: Vec<_> = group
                .par_iter()
                .map(|&b| {
                    let first = b * per_batch;
                    let n = per_batch.min(count - first);
                    let mut diags = Vec::new();
                    let mut recs = Vec::new();
                    let mut ext = Vec::new();
                    let mut broken = Vec::new();
                    self.for_each_record(first, n, &mut diags, |entry, chunk| {
                        match record::parse_record_as(entry, chunk, true) {
                            Slot::Record(r) => match r.base {
                                None => {
                                    let mut names = r.names;
                                    fold_names(&mut names, None);
                                    recs.push(TreeRecord {
                                        entry,
                                        sequence: r.sequence,
                                        deleted: !r.in_use,
                                        is_dir: r.is_dir,
                                        names,
                                    });
                                }
                                Some((base, seq)) => ext.push((entry, base, seq, r.in_use)),
                            },
                            Slot::Empty => {}
                            Slot::Broken(e) => broken.push(WalkDiagnostic {
                                entry: Some(entry),
                                offset: self.record_offset(entry),
                                message: format!("MFT record {entry}: {e}"),
                            }),
                        }
                    });
                    diags.extend(broken);
                    (recs, ext, diags)
                })
                .collect();
            for (recs, ext, diags) in parsed {
                for r in recs {
                    tree.push(r);
                }
                exts.extend(ext);
                tree.diagnostics.extend(diags);
            }
        }
        // Extension records join their base when its sequence matches (and a record in use
        // does not join a freed base's reuse).
        let mut accepted: Vec<(u64, u64)> = Vec::new();
        for (entry, base, seq, in_use) in exts {
            match tree.record_state(base) {
                Some((bseq, b_in_use)) if bseq == seq && (b_in_use == in_use || !b_in_use) => {
                    accepted.push((base, entry))
                }
                _ => {
                    if in_use {
                        tree.diagnostics.push(WalkDiagnostic {
                            entry: Some(entry),
                            offset: self.record_offset(entry),
                            message: format!(
                                "extension record of entry {base} (sequence {seq}) whose base is gone or reused"
                            ),
                        });
                    }
                }
            }
        }
        // Stable: the extension records of one base stay in MFT order.
        accepted.sort_by_key(|&(base, _)| base);
        for group in accepted.chunk_by(|a, b| a.0 == b.0) {
            let base = group[0].0;
            let ext_entries: Vec<u64> = group.iter().map(|&(_, e)| e).collect();
            // Names of the base and its extensions, in that order (rare: re-read them).
            let mut names: Vec<FileName> = match self.read_record(base) {
                Ok(Some(r)) => r.names,
                _ => Vec::new(),
            };
            for &e in &ext_entries {
                if let Ok(Some(r)) = self.read_record(e) {
                    names.extend(r.names);
                }
            }
            fold_names(&mut names, None);
            tree.set_names(base, &names);
            tree.set_extensions(base, ext_entries);
        }
        match &self.budget {
            Some(budget) => {
                let (namespace, fit) = budget.charge(tree.heap_bytes() as u64);
                if !fit {
                    tree.diagnostics.push(WalkDiagnostic {
                        entry: None,
                        offset: Some(self.region.start()),
                        message: format!(
                            "the namespace of this volume ({} records) takes {} bytes, more than the memory budget of {} bytes had left; it is kept (every listing needs it), and the paths of its names get no room: they are listed under /$Orphan",
                            tree.len(),
                            namespace.bytes(),
                            budget.limit()
                        ),
                    });
                }
                let room = budget.available() / 2;
                let mut paths = budget.reserve_up_to(self.limits.max_total_path_bytes.min(room));
                let used = tree.resolve_all_within(paths.bytes(), budget.limit());
                paths.shrink_to(used);
                tree.hold(namespace);
                tree.hold(paths);
            }
            None => {
                tree.resolve_all();
            }
        }
        tree
    }

    /// Walks the whole MFT: every record, in use or not, as one [`Listing`] (every entry held
    /// in memory: for bulk work on large volumes prefer [`NtfsVolume::walk_batches`]). Records
    /// are read in large batches and parsed in parallel; damaged records become diagnostics
    /// and the walk goes on.
    pub fn walk(&self) -> Listing {
        let tree = Arc::new(self.tree());
        let (_, n_batches) = self.batches();
        let files: Vec<Vec<FileEntry>> = (0..n_batches)
            .into_par_iter()
            .map(|b| self.batch_entries(&tree, b))
            .collect();
        let diagnostics = tree.diagnostics.clone();
        Listing::build(tree, files.into_iter().flatten().collect(), diagnostics)
    }

    /// The entries of MFT batch `b` (base records, extension records joined).
    fn batch_entries(&self, tree: &Tree, b: u64) -> Vec<FileEntry> {
        let (per_batch, _) = self.batches();
        let first = b * per_batch;
        let n = per_batch.min(self.record_count().saturating_sub(first));
        let mut files = Vec::new();
        // Read problems were reported by the namespace pass.
        self.for_each_record(first, n, &mut Vec::new(), |entry, chunk| {
            if let Slot::Record(r) = record::parse_record(entry, chunk) {
                if r.base.is_none() {
                    files.push(self.entry_from(tree, *r));
                }
            }
        });
        files
    }

    /// Builds the entry of a parsed base record, reading its extension records.
    fn entry_from(&self, tree: &Tree, base: Record) -> FileEntry {
        let exts: Vec<Record> = tree
            .extensions(base.entry)
            .iter()
            .filter_map(|&e| self.read_record(e).ok().flatten())
            .collect();
        self.build_entry(base, exts)
    }

    /// The entry of MFT record `entry`, read on its own (its extension records too, as the
    /// namespace `tree` lists them). `Ok(None)` when the slot holds no record or an extension
    /// record.
    pub fn file_entry(&self, tree: &Tree, entry: u64) -> Result<Option<FileEntry>> {
        match self.read_record(entry)? {
            Some(r) if r.base.is_none() => Ok(Some(self.entry_from(tree, r))),
            _ => Ok(None),
        }
    }

    /// A listing of the given MFT entries (read one by one), with their paths from `tree`;
    /// entries that cannot be read are left out.
    pub fn listing_of(&self, tree: &Arc<Tree>, entries: &[u64]) -> Listing {
        let files = entries
            .iter()
            .filter_map(|&e| self.file_entry(tree, e).ok().flatten())
            .collect();
        Listing::build(tree.clone(), files, Vec::new())
    }

    /// Streams the whole MFT as listings of consecutive records (a few thousand each), built
    /// in parallel: `map` runs on each listing on the worker threads, `consume` receives the
    /// results in MFT order on the calling thread and returns `false` to stop. At most a
    /// few batches per thread are in flight, so memory does not grow with the volume.
    /// Returns `false` when `consume` stopped the walk.
    pub fn walk_batches<R: Send>(
        &self,
        tree: &Arc<Tree>,
        map: impl Fn(Listing) -> R + Sync,
        consume: impl FnMut(R) -> bool,
    ) -> bool {
        self.walk_batches_in(None, tree, map, consume)
    }

    /// [`NtfsVolume::walk_batches`] on the given thread pool (the global one when `None`).
    pub fn walk_batches_in<R: Send>(
        &self,
        pool: Option<&rayon::ThreadPool>,
        tree: &Arc<Tree>,
        map: impl Fn(Listing) -> R + Sync,
        mut consume: impl FnMut(R) -> bool,
    ) -> bool {
        let (_, n_batches) = self.batches();
        let threads = pool.map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
        // Batches in flight: a slow one (a large stream) holds back the output, not the workers,
        // until this many are done behind it. Under a memory budget, as many as half of what is
        // left holds at their worst (at least one, so that the walk goes on).
        let wanted = (4 * threads).max(4) as u64;
        let (window, _in_flight) = match &self.budget {
            Some(b) => {
                let per = BATCH_BYTES * ENTRY_WIDENING;
                let r = b.reserve_up_to((wanted * per).min(b.available() / 2));
                ((r.bytes() / per).clamp(1, wanted), Some(r))
            }
            None => (wanted, None),
        };
        let (tx, rx) = std::sync::mpsc::channel::<Done<R>>();
        let map: &(dyn Fn(Listing) -> R + Sync) = &map;
        let job = Drive {
            vol: self,
            tree,
            map,
            tx,
            rx,
            n_batches,
            window,
        };
        match pool {
            Some(p) => p.in_place_scope_fifo(|s| job.run(s, &mut consume)),
            None => rayon::in_place_scope_fifo(|s| job.run(s, &mut consume)),
        }
    }

    fn build_entry(&self, base: Record, exts: Vec<Record>) -> FileEntry {
        let Record {
            entry,
            sequence,
            in_use,
            is_dir,
            mut si,
            mut names,
            attrs,
            mut errors,
            mut sd_owner,
            mut sd_runs,
            attr_list,
            attr_list_id,
            ..
        } = base;
        // The ids TSK gives the attributes that live in extension records (the bodyfile's
        // inode column); only read when there are extension records.
        let renumbered = match (&attr_list, exts.is_empty()) {
            (Some(list), false) => self
                .read_attr_list(list)
                .map(|b| record::tsk_attr_ids(attr_list_id, &record::parse_attr_list(&b), entry))
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        // Attributes with their start VCN, tagged by record order for a stable sort.
        let mut all: Vec<(record::RawAttr, u64)> = attrs
            .into_iter()
            .map(|a| {
                let v = start_vcn(&a.body);
                (a, v)
            })
            .collect();
        // Extension records' attributes get the ids TSK gives them.
        let mut exts = exts;
        for rec in exts.iter_mut().filter(|_| !renumbered.is_empty()) {
            for a in &mut rec.attrs {
                if let Some((_, _, id)) = renumbered
                    .iter()
                    .find(|(t, n, _)| *t == a.type_code && *n == a.name)
                {
                    a.id = *id;
                }
            }
        }
        for rec in exts {
            errors.extend(
                rec.errors
                    .iter()
                    .map(|e| format!("extension record {}: {e}", rec.entry)),
            );
            names.extend(rec.names);
            if si.is_none() {
                si = rec.si;
            }
            if sd_owner.is_none() {
                sd_owner = rec.sd_owner;
            }
            if sd_runs.is_none() {
                sd_runs = rec.sd_runs;
            }
            all.extend(rec.attrs.into_iter().map(|a| {
                let v = start_vcn(&a.body);
                (a, v)
            }));
        }
        fold_names(&mut names, Some(&mut errors));
        if sd_owner.is_none() {
            sd_owner = sd_runs.and_then(|(runs, size)| self.read_sd_owner(runs, size));
        }
        // (type, name) groups of fragments in VCN order (stable: equal VCNs keep record order).
        all.sort_by(|(a, va), (b, vb)| {
            (a.type_code, &a.name, *va).cmp(&(b.type_code, &b.name, *vb))
        });
        let mut groups: Vec<Vec<(record::RawAttr, u64)>> = Vec::with_capacity(all.len());
        for item in all {
            match groups.last_mut() {
                Some(g) if g[0].0.type_code == item.0.type_code && g[0].0.name == item.0.name => {
                    g.push(item)
                }
                _ => groups.push(vec![item]),
            }
        }
        let mut streams = Vec::new();
        let mut index: Option<Box<DirIndexAttrs>> = None;
        let mut streams_cut = 0usize;
        for mut frags in groups {
            let t = frags[0].0.type_code;
            let name = std::mem::take(&mut frags[0].0.name);
            let i30 =
                name == "$I30" && (t == record::AT_INDEX_ROOT || t == record::AT_INDEX_ALLOCATION);
            if !i30 && streams.len() >= MAX_STREAMS {
                streams_cut += 1;
                continue;
            }
            // The first fragment's resident value is moved, not copied.
            let resident = match &mut frags[0].0.body {
                AttrBody::Resident(v) => Some(std::mem::take(v)),
                AttrBody::NonResident { .. } => None,
            };
            let first = &frags[0].0;
            let kind = if t == record::AT_DATA {
                StreamKind::Data
            } else {
                StreamKind::IndexRoot
            };
            let compressed = first.flags & ATTR_FLAG_COMPRESSED != 0;
            let mut s = Stream {
                name: (!name.is_empty()).then_some(name),
                attr_id: first.id,
                kind,
                size: 0,
                allocated: 0,
                initialized: 0,
                resident: false,
                compressed: false,
                sparse: first.flags & ATTR_FLAG_SPARSE != 0,
                encrypted: first.flags & ATTR_FLAG_ENCRYPTED != 0,
                error: None,
                content: Content::Resident(Vec::new()),
            };
            match (&first.body, resident) {
                (_, Some(v)) => {
                    s.size = v.len() as u64;
                    s.allocated = v.len() as u64;
                    s.initialized = v.len() as u64;
                    s.resident = true;
                    s.content = Content::Resident(v);
                }
                (AttrBody::Resident(_), None) => {}
                (
                    AttrBody::NonResident {
                        start_vcn,
                        compression_unit,
                        allocated,
                        size,
                        initialized,
                        ..
                    },
                    None,
                ) => {
                    s.size = *size;
                    s.allocated = *allocated;
                    s.initialized = (*initialized).min(*size);
                    let mut problems = Vec::new();
                    if *start_vcn != 0 {
                        problems.push(format!("first fragment starts at VCN {start_vcn}: the start of the stream is in a record that is missing"));
                    }
                    let mut runs: Vec<Run> = Vec::new();
                    let mut next_vcn = *start_vcn;
                    for (a, vcn) in &frags {
                        if let AttrBody::NonResident {
                            runs: r,
                            runs_error,
                            ..
                        } = &a.body
                        {
                            // Fragments must not map VCNs already mapped (a duplicated or
                            // hostile attribute): their runs are left out, which keeps the
                            // run list sorted and disjoint for the readers.
                            if *vcn < next_vcn {
                                problems.push(format!(
                                    "fragment at VCN {vcn} overlaps VCNs before {next_vcn}; ignored"
                                ));
                                continue;
                            }
                            if *vcn != next_vcn {
                                problems.push(format!(
                                    "fragment at VCN {vcn} where VCN {next_vcn} was expected"
                                ));
                            }
                            if let Some(e) = runs_error {
                                problems.push(format!("run list: {e}"));
                            }
                            runs.extend_from_slice(r);
                            // Where this fragment's runs really end (its last_vcn field is not
                            // trusted for that).
                            next_vcn = r.last().map_or(*vcn, |l| l.vcn + l.len).max(*vcn);
                        }
                    }
                    let unit = if compressed && *compression_unit > 0 && *compression_unit <= 16 {
                        1u64 << compression_unit
                    } else {
                        0
                    };
                    s.compressed = unit > 0;
                    if compressed && unit == 0 {
                        problems.push(format!(
                            "compressed flag with compression unit {compression_unit}"
                        ));
                    }
                    if !problems.is_empty() {
                        s.error = Some(problems.join("; "));
                    }
                    s.content = Content::NonResident { runs, unit };
                }
            }
            if i30 {
                let ix = index.get_or_insert_with(Default::default);
                match s.content {
                    Content::Resident(v) if t == record::AT_INDEX_ROOT => {
                        ix.root = Some(v);
                        ix.root_id = s.attr_id;
                    }
                    Content::NonResident { .. } if t == record::AT_INDEX_ALLOCATION => {
                        if let Some(e) = &s.error {
                            errors.push(format!("$I30 index allocation: {e}"));
                        }
                        ix.allocation = Some(s)
                    }
                    _ => errors.push("$I30 index attribute of the wrong form".into()),
                }
                continue;
            }
            streams.push(s);
        }
        // Unnamed stream first, then ADS by name.
        streams.sort_by(|a, b| {
            (a.kind == StreamKind::IndexRoot, &a.name)
                .cmp(&(b.kind == StreamKind::IndexRoot, &b.name))
        });
        if streams_cut > 0 {
            errors.push(format!(
                "{} streams, more than the {MAX_STREAMS} kept per file (crafted extension records?); the last {streams_cut} in (type, name) order left out",
                MAX_STREAMS + streams_cut
            ));
        }
        let per_name = streams.len() + usize::from(is_dir || streams.is_empty());
        let rows = names.len().max(1).saturating_mul(per_name);
        if rows > MAX_ROWS_PER_ENTRY {
            let kept = MAX_ROWS_PER_ENTRY / per_name.max(1);
            errors.push(format!(
                "{} names × {per_name} streams make {rows} rows, more than the {MAX_ROWS_PER_ENTRY} listed per entry; the names after the first {kept} are not listed",
                names.len()
            ));
        }
        FileEntry {
            entry,
            sequence,
            deleted: !in_use,
            is_dir,
            si,
            names,
            streams,
            errors,
            sd_owner,
            index,
        }
    }

    /// The owner of a non-resident `$SECURITY_DESCRIPTOR` of `size` bytes (at most 64 KiB, the
    /// largest descriptor Windows makes) in `runs`; `None` when it cannot be read.
    fn read_sd_owner(&self, runs: Vec<Run>, size: u64) -> Option<Owner> {
        if size > 64 << 10 {
            return None;
        }
        let s = Stream {
            name: None,
            attr_id: 0,
            kind: StreamKind::Data,
            size,
            allocated: size,
            initialized: size,
            resident: false,
            compressed: false,
            sparse: false,
            encrypted: false,
            error: None,
            content: Content::NonResident { runs, unit: 0 },
        };
        let mut sd = Vec::with_capacity(size as usize);
        self.visit_stream(&s, &mut |c| {
            sd.extend_from_slice(c);
            Ok(())
        })
        .ok()?;
        secure::descriptor_owner(&sd).ok()
    }

    /// Visits the content of `stream` in order, as borrowed chunks: slices of the memory map
    /// where the evidence has them, otherwise chunks read or decompressed into scratch buffers.
    /// Holes and bytes past the initialized size are delivered as zeros. Stops at the first
    /// error of `f` or of the read.
    pub fn visit_stream(
        &self,
        stream: &Stream,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        match &stream.content {
            Content::Resident(v) => f(v),
            Content::NonResident { runs, unit } if *unit > 0 => {
                compress::visit_compressed(self, runs, *unit, stream.size, stream.initialized, f)
            }
            Content::NonResident { runs, .. } => {
                self.visit_plain(runs, stream.size, stream.initialized, f)
            }
        }
    }

    /// Visits stream `stream` of MFT entry `entry` as forensic tools read it:
    /// [`NtfsVolume::visit_stream`], except `$BadClus:$Bad`, whose content is its bad clusters
    /// only ([`NtfsVolume::visit_allocated`]) rather than a hole as large as the volume.
    pub fn visit_content(
        &self,
        entry: u64,
        stream: &Stream,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        if entry == 8 && stream.name.as_deref() == Some("$Bad") {
            self.visit_allocated(stream, f)
        } else {
            self.visit_stream(stream, f)
        }
    }

    /// Visits the bytes of the allocated clusters of `stream` in VCN order, holes and the
    /// initialized size ignored: the content of `$BadClus:$Bad` as TSK's `icat` gives it (the
    /// bad clusters, nothing for the hole as large as the volume around them). A resident or
    /// compressed stream is visited as [`NtfsVolume::visit_stream`] does.
    pub fn visit_allocated(
        &self,
        stream: &Stream,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let runs = match &stream.content {
            Content::NonResident { runs, unit: 0 } => runs,
            _ => return self.visit_stream(stream, f),
        };
        const CHUNK: u64 = 1 << 20;
        let cs = self.geometry.cluster_size;
        let mut scratch = Vec::new();
        for run in runs {
            let Some(lcn) = run.lcn else { continue };
            let bytes = run.len.saturating_mul(cs);
            let mut done = 0u64;
            while done < bytes {
                let n = (bytes - done).min(CHUNK);
                let vol_off = self.cluster_offset(lcn, done)?;
                self.visit_extent(vol_off, n as usize, &mut scratch, f)?;
                done += n;
            }
        }
        Ok(())
    }

    /// Hands `f` the `n` bytes at volume offset `vol_off`: borrowed from the memory map where
    /// the evidence has them there, else read into `scratch`.
    fn visit_extent(
        &self,
        vol_off: u64,
        n: usize,
        scratch: &mut Vec<u8>,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        match self.region.slice(vol_off, n) {
            Some(s) => f(s),
            None => {
                scratch.resize(n, 0);
                self.region.read_exact_at(vol_off, scratch)?;
                f(scratch)
            }
        }
    }

    fn visit_plain(
        &self,
        runs: &[Run],
        size: u64,
        initialized: u64,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        const CHUNK: u64 = 1 << 20;
        let cs = self.geometry.cluster_size;
        let mut pos = 0u64;
        let mut scratch = Vec::new();
        let mut runs_iter = runs.iter().peekable();
        while pos < size {
            let vcn = pos / cs;
            // Runs are sorted by VCN; skip those before pos.
            while runs_iter.peek().is_some_and(|r| r.vcn + r.len <= vcn) {
                runs_iter.next();
            }
            let run = match runs_iter.peek() {
                Some(r) if r.vcn <= vcn => **r,
                _ => {
                    return Err(Error::format(
                        "run list",
                        self.region.start(),
                        format!("no run maps byte {pos} of {size} (the run list is incomplete)"),
                    ))
                }
            };
            let run_end = (run.vcn + run.len).saturating_mul(cs).min(size);
            let mut n = (run_end - pos).min(CHUNK);
            // Split at the initialized size: zeros past it.
            if pos < initialized {
                n = n.min(initialized - pos);
            }
            let zero = run.lcn.is_none() || pos >= initialized;
            if zero {
                emit_zeros(n, f)?;
            } else {
                let vol_off = self.cluster_offset(run.lcn.unwrap_or(0), pos - run.vcn * cs)?;
                self.visit_extent(vol_off, n as usize, &mut scratch, f)?;
            }
            pos += n;
        }
        Ok(())
    }

    /// The content of `stream` as one slice: borrowed straight from the memory map when the
    /// stream is one contiguous, uncompressed, fully initialized run of a mapped image (no copy);
    /// otherwise assembled into `buf` (cleared first). Streams larger than `max_in_memory` that
    /// need assembling are refused with [`Error::Limit`].
    pub fn read_stream<'a>(
        &'a self,
        stream: &'a Stream,
        buf: &'a mut Vec<u8>,
        max_in_memory: u64,
    ) -> Result<&'a [u8]> {
        if let Some(s) = self.contiguous_slice(stream) {
            return Ok(s);
        }
        if stream.size > max_in_memory {
            return Err(Error::Limit(format!(
                "stream of {} bytes is not contiguous and exceeds the in-memory limit of {max_in_memory} bytes",
                stream.size
            )));
        }
        buf.clear();
        buf.reserve(stream.size as usize);
        self.visit_stream(stream, &mut |c| {
            buf.extend_from_slice(c);
            Ok(())
        })?;
        Ok(&buf[..])
    }

    /// The first `n` bytes of a stream (fewer when it is shorter; empty when unreadable),
    /// reading no more than needed: a resident value's start, zeros for a stream that is zeros
    /// by construction, the first bytes of the first run of a plain stream, the first
    /// compression unit of a compressed one.
    pub fn read_head(&self, s: &Stream, n: usize) -> Vec<u8> {
        let n = (n as u64).min(s.size) as usize;
        if n == 0 {
            return Vec::new();
        }
        if s.is_known_zero() {
            return vec![0; n];
        }
        match &s.content {
            Content::Resident(v) => v[..n.min(v.len())].to_vec(),
            Content::NonResident { runs, unit: 0 } => {
                let cs = self.geometry.cluster_size;
                let mut out = vec![0u8; n];
                // Bytes past the initialized size read as zeros.
                let real = (n as u64).min(s.initialized) as usize;
                if real > 0 {
                    let Some(first) = runs.first().filter(|r| r.vcn == 0) else {
                        return Vec::new();
                    };
                    if let Some(lcn) = first.lcn {
                        let ok = first.len.checked_mul(cs).is_some_and(|l| l >= real as u64)
                            && lcn.checked_mul(cs).is_some_and(|off| {
                                self.region.read_exact_at(off, &mut out[..real]).is_ok()
                            });
                        if !ok {
                            return self.head_by_visit(s, n);
                        }
                    }
                }
                out
            }
            Content::NonResident { .. } => self.head_by_visit(s, n),
        }
    }

    fn head_by_visit(&self, s: &Stream, n: usize) -> Vec<u8> {
        let mut head = Vec::with_capacity(n);
        let _ = self.visit_stream(s, &mut |c| {
            head.extend_from_slice(&c[..c.len().min(n - head.len())]);
            if head.len() >= n {
                Err(Error::Limit("enough".into()))
            } else {
                Ok(())
            }
        });
        head
    }

    /// The stream as a borrowed slice of the evidence, when it is stored contiguously and plainly.
    pub fn contiguous_slice<'a>(&'a self, stream: &'a Stream) -> Option<&'a [u8]> {
        match &stream.content {
            Content::Resident(v) => Some(v),
            Content::NonResident { runs, unit: 0 } if stream.initialized == stream.size => {
                if stream.size == 0 {
                    return Some(&[]);
                }
                let cs = self.geometry.cluster_size;
                let first = runs.first()?;
                if first.vcn != 0 || first.len.checked_mul(cs)? < stream.size {
                    return None;
                }
                self.region
                    .slice(first.lcn?.checked_mul(cs)?, stream.size as usize)
            }
            _ => None,
        }
    }

    /// Absolute evidence offset of the first byte of a non-resident stream, if it has one.
    pub fn stream_offset(&self, stream: &Stream) -> Option<u64> {
        let r = stream.runs().first()?;
        r.lcn?
            .checked_mul(self.geometry.cluster_size)?
            .checked_add(self.region.start())
    }
}

fn emit_zeros(mut n: u64, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
    static ZEROS: [u8; 65536] = [0; 65536];
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        f(&ZEROS[..k])?;
        n -= k as u64;
    }
    Ok(())
}

fn start_vcn(b: &AttrBody) -> u64 {
    match b {
        AttrBody::NonResident { start_vcn, .. } => *start_vcn,
        AttrBody::Resident(_) => 0,
    }
}

/// The runs of an attribute's fragments in VCN order. Runs that overlap VCNs already mapped (a
/// duplicated or hostile fragment) are dropped, so the result is sorted and disjoint, as
/// [`find_run`] needs; returns how many were dropped.
fn merge_runs(frags: &[(u64, AttrBody)]) -> (Vec<Run>, usize) {
    let mut sorted: Vec<_> = frags.iter().collect();
    sorted.sort_by_key(|(v, _)| *v);
    let mut out: Vec<Run> = Vec::new();
    let mut dropped = 0;
    for (_, b) in sorted {
        if let AttrBody::NonResident { runs, .. } = b {
            for r in runs {
                if out.last().is_some_and(|l| r.vcn < l.vcn + l.len) {
                    dropped += 1;
                } else {
                    out.push(*r);
                }
            }
        }
    }
    (out, dropped)
}

/// The run mapping `vcn` in runs sorted by VCN and disjoint (binary search: a hostile run list
/// of thousands of runs costs a logarithm per lookup, not a scan).
pub(crate) fn find_run(runs: &[Run], vcn: u64) -> Option<&Run> {
    let i = runs.partition_point(|r| r.vcn.saturating_add(r.len) <= vcn);
    runs.get(i).filter(|r| r.vcn <= vcn)
}

/// The next message of `rx`. On a worker thread of a pool, pending tasks are run while waiting
/// (the batches this thread waits for may be queued behind it); elsewhere it blocks.
fn receive<T>(rx: &std::sync::mpsc::Receiver<T>) -> Option<T> {
    use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
    loop {
        match rx.try_recv() {
            Ok(x) => return Some(x),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
        match rayon::yield_now() {
            Some(rayon::Yield::Executed) => {}
            Some(rayon::Yield::Idle) => {
                match rx.recv_timeout(std::time::Duration::from_millis(1)) {
                    Ok(x) => return Some(x),
                    Err(RecvTimeoutError::Disconnected) => return None,
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
            None => return rx.recv().ok(),
        }
    }
}

/// A finished batch: its number and what `map` gave (or the panic it raised).
type Done<R> = (u64, std::thread::Result<R>);

/// The ordered pipeline of [`NtfsVolume::walk_batches_in`].
struct Drive<'a, R> {
    vol: &'a NtfsVolume,
    tree: &'a Arc<Tree>,
    map: &'a (dyn Fn(Listing) -> R + Sync),
    tx: std::sync::mpsc::Sender<Done<R>>,
    rx: std::sync::mpsc::Receiver<Done<R>>,
    n_batches: u64,
    window: u64,
}

impl<'a, R: Send + 'a> Drive<'a, R> {
    /// Keeps `window` batches in flight on the scope's pool and hands the results to `consume`
    /// in MFT order; false when `consume` stopped.
    fn run(&self, s: &rayon::ScopeFifo<'a>, consume: &mut dyn FnMut(R) -> bool) -> bool {
        let spawn = |b: u64| {
            let tx = self.tx.clone();
            let (vol, tree, map) = (self.vol, self.tree, self.map);
            s.spawn_fifo(move |_| {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    map(Listing::build(
                        tree.clone(),
                        vol.batch_entries(tree, b),
                        Vec::new(),
                    ))
                }));
                // The receiver outlives the scope.
                let _ = tx.send((b, r));
            });
        };
        let mut next = 0u64;
        while next < self.n_batches.min(self.window) {
            spawn(next);
            next += 1;
        }
        // Results come in any order; they are consumed in MFT order.
        let mut pending: std::collections::BTreeMap<u64, R> = Default::default();
        let mut emit = 0u64;
        while emit < self.n_batches {
            let Some((b, r)) = receive(&self.rx) else {
                return false;
            };
            match r {
                Ok(r) => {
                    pending.insert(b, r);
                }
                // A worker panicked: re-raise it here, as a parallel iterator would.
                Err(payload) => std::panic::resume_unwind(payload),
            }
            while let Some(r) = pending.remove(&emit) {
                emit += 1;
                if !consume(r) {
                    return false;
                }
                if next < self.n_batches {
                    spawn(next);
                    next += 1;
                }
            }
        }
        true
    }
}

/// Batches of the bulk walk in flight at once: a few per worker thread.
fn group_len() -> usize {
    (2 * rayon::current_num_threads()).max(2)
}

/// Folds DOS 8.3 names into their long names, drops exact duplicates (same parent and name)
/// and keeps at most [`MAX_NAMES`]; problems go to `errors` when given.
pub(crate) fn fold_names(names: &mut Vec<FileName>, mut errors: Option<&mut Vec<String>>) {
    let has_long = names.iter().any(|n| n.namespace != 2);
    if has_long {
        names.retain(|n| n.namespace != 2);
    }
    if names.len() > 1 {
        if names.len() <= 16 {
            let mut kept: Vec<FileName> = Vec::with_capacity(names.len());
            for n in names.drain(..) {
                if !kept
                    .iter()
                    .any(|k| k.parent_entry == n.parent_entry && k.name == n.name)
                {
                    kept.push(n);
                }
            }
            *names = kept;
        } else {
            let mut seen = std::collections::HashSet::new();
            names.retain(|n| seen.insert((n.parent_entry, n.name.clone())));
        }
    }
    if let Some(errors) = errors.as_deref_mut() {
        // NTFS names never hold '/' or NUL: such a name comes from a damaged or crafted
        // record (paths show it as is; `Item::components` and export keep it one component).
        for n in names.iter() {
            if n.name.contains(['/', '\0']) {
                errors.push(format!(
                    "name {:?} contains '/' or NUL, which NTFS does not allow (damaged or crafted record)",
                    n.name
                ));
            }
        }
    }
    // NTFS allows 1024 hard links; more names can only come from hostile extension records,
    // and each name multiplies the rows of the listing by the streams.
    if names.len() > MAX_NAMES {
        if let Some(errors) = errors {
            errors.push(format!(
                "{} names, more than the {MAX_NAMES} hard links NTFS allows; the rest ignored",
                names.len()
            ));
        }
        names.truncate(MAX_NAMES);
    }
}

/// One row of a listing: a file name (a hard link) with one of its streams, or a directory.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The MFT entry.
    pub file: &'a FileEntry,
    /// The name the path was built from (`None` for a record with no name).
    pub name: Option<&'a FileName>,
    /// Index of the path in [`Listing::paths`].
    path: usize,
    /// Which of the entry's names this row is for.
    k: usize,
    /// The stream (`None` for a directory row, or a file without any `$DATA`).
    pub stream: Option<&'a Stream>,
    /// Whether this row is the directory itself.
    pub is_dir_row: bool,
    listing: &'a Listing,
}

impl<'a> Item<'a> {
    /// Volume-rooted, `/`-separated path of this name.
    pub fn path(&self) -> &'a str {
        &self.listing.paths[self.path]
    }
    /// Logical size of the stream (0 for directories and files without data).
    pub fn size(&self) -> u64 {
        self.stream.map(|s| s.size).unwrap_or(0)
    }
    /// Stream name, `None` for the unnamed stream.
    pub fn stream_name(&self) -> Option<&'a str> {
        self.stream.and_then(|s| s.name.as_deref())
    }
    /// Index of the stream in the entry's [`FileEntry::streams`] (`None` for a row without one).
    pub fn stream_index(&self) -> Option<usize> {
        let s = self.stream?;
        self.file.streams.iter().position(|x| std::ptr::eq(x, s))
    }
    /// True when this is the first row of its stream: a stream reached through several names
    /// (hard links) is read once, for its first name.
    pub fn is_first_name(&self) -> bool {
        self.k == 0
    }
    /// The names [`path`](Self::path) is made of, root first (empty for the root itself;
    /// `$Orphan` first for orphans). Unlike splitting the path at `/`, a name that contains
    /// `/` (possible only in a damaged or hostile record) stays one component.
    pub fn components(&self) -> Vec<&'a str> {
        let path = self.path();
        if path == "/" {
            return Vec::new();
        }
        let mut v: Vec<&'a str> = Vec::new();
        match self.name {
            Some(n) => v.push(&n.name),
            // A record without a name: "/$Orphan/OrphanFile-N".
            None => v.push(path.rsplit('/').next().unwrap_or(path)),
        }
        v.extend(self.listing.tree.ancestors(self.file.entry, self.k));
        v.reverse();
        v
    }
}

/// Entries of a volume with the paths of their names: the whole volume ([`NtfsVolume::walk`])
/// or one batch of consecutive MFT records ([`NtfsVolume::walk_batches`]).
#[derive(Debug, Clone)]
pub struct Listing {
    /// Base records, by entry number.
    pub files: Vec<FileEntry>,
    /// Problems not tied to one stream (the whole volume's, in a listing of the whole volume;
    /// none in a batch: see [`Tree::diagnostics`]).
    pub diagnostics: Vec<WalkDiagnostic>,
    tree: Arc<Tree>,
    /// Paths of file `fi`'s names: `paths[first[fi]..first[fi + 1]]`.
    first: Vec<usize>,
    paths: Vec<Box<str>>,
}

impl Listing {
    /// A listing of `files` with a namespace built from them alone (unit tests).
    #[cfg(test)]
    fn new(mut files: Vec<FileEntry>, diagnostics: Vec<WalkDiagnostic>, limits: &Limits) -> Self {
        files.sort_by_key(|f| f.entry);
        let mut tree = Tree::new(*limits);
        for f in &files {
            tree.push(TreeRecord {
                entry: f.entry,
                sequence: f.sequence,
                deleted: f.deleted,
                is_dir: f.is_dir,
                names: f.names.clone(),
            });
        }
        tree.resolve_all();
        let mut diags = diagnostics;
        diags.extend(tree.diagnostics.iter().cloned());
        Listing::build(Arc::new(tree), files, diags)
    }

    /// Paths of `files` from the namespace `tree`.
    fn build(tree: Arc<Tree>, files: Vec<FileEntry>, diagnostics: Vec<WalkDiagnostic>) -> Self {
        let mut first = Vec::with_capacity(files.len() + 1);
        let mut paths = Vec::with_capacity(files.len());
        let mut buf = String::new();
        let mut cache = tree::PathCache::default();
        for f in &files {
            first.push(paths.len());
            let n = f.names.len().max(1);
            for k in 0..n {
                buf.clear();
                tree.push_path_cached(
                    f.entry,
                    k,
                    f.names.get(k).map(|n| n.name.as_str()),
                    &mut buf,
                    &mut cache,
                );
                paths.push(Box::from(buf.as_str()));
            }
        }
        first.push(paths.len());
        Listing {
            files,
            diagnostics,
            tree,
            first,
            paths,
        }
    }

    /// The namespace the paths come from.
    pub fn tree(&self) -> &Arc<Tree> {
        &self.tree
    }

    /// Every row: for each entry and each of its names, the directory row and/or one row per
    /// stream. Entries without names give one row under `/$Orphan/`. At most
    /// [`MAX_ROWS_PER_ENTRY`] rows per entry (names × streams; a parsed entry with more says so
    /// in its errors).
    pub fn items(&self) -> impl Iterator<Item = Item<'_>> + '_ {
        self.files.iter().enumerate().flat_map(move |(fi, f)| {
            let n = f.names.len().max(1);
            (0..n)
                .flat_map(move |k| {
                    let base = Item {
                        file: f,
                        name: f.names.get(k),
                        path: self.first[fi] + k,
                        k,
                        stream: None,
                        is_dir_row: f.is_dir,
                        listing: self,
                    };
                    // The directory row (or the row of a file without streams), then the streams.
                    let head = (f.is_dir || f.streams.is_empty()).then_some(base);
                    head.into_iter().chain(f.streams.iter().map(move |s| Item {
                        stream: Some(s),
                        is_dir_row: false,
                        ..base
                    }))
                })
                .take(MAX_ROWS_PER_ENTRY)
        })
    }

    /// The entry with MFT number `entry`.
    pub fn entry(&self, entry: u64) -> Option<&FileEntry> {
        self.files
            .binary_search_by_key(&entry, |f| f.entry)
            .ok()
            .map(|i| &self.files[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(entry: u64, parent: u64, name: &str) -> FileEntry {
        FileEntry {
            entry,
            sequence: 1,
            deleted: false,
            is_dir: true,
            si: None,
            names: vec![FileName {
                parent_entry: parent,
                parent_sequence: 1,
                times: [FileTime(0); 4],
                namespace: 1,
                name: name.to_string(),
                lossy: false,
                size: 0,
                attr_id: 0,
            }],
            streams: Vec::new(),
            errors: Vec::new(),
            sd_owner: None,
            index: None,
        }
    }

    #[test]
    fn deep_chains_of_long_names_stay_bounded() {
        // 4000 nested directories with 255-character names under the root: unbounded, the
        // paths would take ~2 GB (4000 × 1024 levels × 256 bytes on average over half).
        let long = "x".repeat(255);
        let mut files = vec![dir(5, 5, ".")];
        for e in 100..4100u64 {
            files.push(dir(e, if e == 100 { 5 } else { e - 1 }, &long));
        }
        let limits = Limits::default();
        let listing = Listing::new(files, Vec::new(), &limits);
        let total: usize = listing.paths.iter().map(|p| p.len()).sum();
        assert!(listing
            .paths
            .iter()
            .all(|p| p.len() <= limits.max_path_bytes + 256));
        assert!(total <= 4001 * (limits.max_path_bytes + 256), "{total}");
        assert!(listing
            .diagnostics
            .iter()
            .any(|d| d.message.contains("path longer")));
        // The shallow ones keep their real path.
        let first = listing.items().find(|i| i.file.entry == 100).unwrap();
        assert_eq!(first.path(), format!("/{long}"));
        assert_components_make_paths(&listing);
    }

    /// 2,000 nested directories with 255-character names: each path stays under 32 KiB, but
    /// together they take ~33 MB; with a total budget of 8 MiB the names past it are listed
    /// under `/$Orphan` by their own name, and the total stays within the budget plus one short
    /// path per name.
    #[test]
    fn total_path_bytes_stay_bounded() {
        let long = "y".repeat(255);
        let mut files = vec![dir(5, 5, ".")];
        for e in 100..2100u64 {
            files.push(dir(e, if e == 100 { 5 } else { e - 1 }, &long));
        }
        let total = |l: &Listing| l.paths.iter().map(|p| p.len() as u64).sum::<u64>();
        let unbounded = Listing::new(files.clone(), Vec::new(), &Limits::default());
        assert!(total(&unbounded) > 30 << 20, "{}", total(&unbounded));
        let budget = 8u64 << 20;
        let limits = Limits {
            max_total_path_bytes: budget,
            ..Limits::default()
        };
        let listing = Listing::new(files, Vec::new(), &limits);
        assert!(
            total(&listing) <= budget + 2000 * (9 + 256),
            "{}",
            total(&listing)
        );
        let diag = listing
            .diagnostics
            .iter()
            .find(|d| d.message.contains("bytes in total"))
            .unwrap();
        assert!(
            diag.message.contains("more than 8388608 bytes in total"),
            "{}",
            diag.message
        );
        let path_of = |e: u64| listing.items().find(|i| i.file.entry == e).unwrap().path();
        assert_eq!(path_of(100), format!("/{long}"));
        assert_eq!(path_of(2099), format!("/$Orphan/{long}"));
        assert_components_make_paths(&listing);
    }

    /// A base record with 2,000 names and 600 extension records of 30 small resident named
    /// `$DATA` attributes each (18,001 streams: what an `$ATTRIBUTE_LIST` of ~600 KiB names):
    /// unbounded, 1,024 names × 18,001 streams would be 18 million rows from ~600 KiB of MFT.
    #[test]
    fn names_times_streams_stay_bounded() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ntfs-basic.img");
        let image = Image::open(&path, volume::VolumeSelect::default()).unwrap();
        let vol = &image.volumes()[0];
        let name = |k: usize| FileName {
            parent_entry: 5,
            parent_sequence: 5,
            times: [FileTime(0); 4],
            namespace: 1,
            name: format!("link{k:05}"),
            lossy: false,
            size: 1,
            attr_id: 0,
        };
        let data = |k: usize, named: bool| record::RawAttr {
            type_code: record::AT_DATA,
            name: if named {
                format!("ads{k:06}")
            } else {
                String::new()
            },
            flags: 0,
            id: k as u16,
            body: AttrBody::Resident(vec![k as u8]),
        };
        let base = Record {
            entry: 64,
            sequence: 1,
            in_use: true,
            names: (0..2000).map(name).collect(),
            attrs: vec![data(0, false)],
            ..Record::default()
        };
        let exts: Vec<Record> = (0..600)
            .map(|r| Record {
                entry: 100 + r as u64,
                sequence: 1,
                in_use: true,
                base: Some((64, 1)),
                attrs: (0..30).map(|k| data(1 + r * 30 + k, true)).collect(),
                ..Record::default()
            })
            .collect();
        let f = vol.build_entry(base, exts);
        assert_eq!(f.names.len(), MAX_NAMES);
        assert_eq!(f.streams.len(), MAX_STREAMS);
        // The unnamed stream is kept, then ADS in name order.
        assert_eq!(f.streams[0].name, None);
        assert_eq!(f.streams[1].name.as_deref(), Some("ads000001"));
        let errors = f.errors.join("\n");
        assert!(
            errors.contains("18001 streams, more than the 4096 kept per file")
                && errors.contains("the last 13905 in (type, name) order left out"),
            "{errors}"
        );
        assert!(
            errors.contains("1024 names × 4096 streams make 4194304 rows")
                && errors.contains("the names after the first 2 are not listed"),
            "{errors}"
        );
        let listing = Listing::new(vec![f], Vec::new(), &Limits::default());
        let rows: Vec<Item<'_>> = listing.items().collect();
        assert_eq!(rows.len(), MAX_ROWS_PER_ENTRY);
        // Every kept stream has its first name's row.
        assert_eq!(rows.iter().filter(|i| i.k == 0).count(), MAX_STREAMS);
        assert!(rows.iter().all(|i| i.k < 2));
    }

    #[test]
    fn parent_loops_are_reported_once_per_chain() {
        let files = vec![dir(5, 5, "."), dir(10, 11, "a"), dir(11, 10, "b")];
        let listing = Listing::new(files, Vec::new(), &Limits::default());
        let paths: Vec<&str> = listing.items().map(|i| i.path()).collect();
        assert!(paths.iter().all(|p| p.starts_with('/')));
        assert!(
            paths.contains(&"/$Orphan/a/b") || paths.contains(&"/$Orphan/b/a"),
            "{paths:?}"
        );
        assert!(listing
            .diagnostics
            .iter()
            .any(|d| d.message.contains("loops")));
        assert_components_make_paths(&listing);
    }

    /// Joined with `/`, an item's components give its path.
    fn assert_components_make_paths(listing: &Listing) {
        for i in listing.items() {
            let joined = format!("/{}", i.components().join("/"));
            assert_eq!(joined, i.path());
        }
    }

    #[test]
    fn components_keep_a_slash_inside_a_name() {
        let files = vec![
            dir(5, 5, "."),
            dir(10, 5, "a/b"),
            dir(11, 10, ".."),
            dir(12, 99, "lost"),
        ];
        let listing = Listing::new(files, Vec::new(), &Limits::default());
        let comps: Vec<Vec<&str>> = listing.items().map(|i| i.components()).collect();
        assert!(comps.contains(&vec![]));
        assert!(comps.contains(&vec!["a/b"]));
        assert!(comps.contains(&vec!["a/b", ".."]));
        assert!(comps.contains(&vec!["$Orphan", "lost"]));
        assert_components_make_paths(&listing);
    }

    /// The run's memory budget, on a real volume: with room to spare the listing and the root's
    /// index are those read without a budget, the namespace and its paths are held in it while
    /// the volume lives and all returned after; with room for half the paths, the names past
    /// it are listed under `/$Orphan` with a diagnostic that names the budget, and every entry
    /// is still listed; with no room, the namespace is kept (charged past the budget, said so)
    /// and a directory index that does not fit is not read, with an error.
    #[test]
    fn the_run_budget_bounds_namespace_paths_walk_and_indexes() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ntfs-basic.img");
        let open = |budget: Option<Arc<MemoryBudget>>| {
            Image::open_with(
                &path,
                &OpenOptions {
                    budget,
                    ..OpenOptions::default()
                },
            )
            .unwrap()
        };
        // (entry, path) of every name, and the walk's diagnostics.
        let list = |vol: &NtfsVolume| {
            let tree = vol.shared_tree();
            let mut rows = std::collections::BTreeSet::new();
            vol.walk_batches(
                &tree,
                |l| {
                    l.items()
                        .map(|i| (i.file.entry, i.path().to_string()))
                        .collect::<Vec<_>>()
                },
                |r| {
                    rows.extend(r);
                    true
                },
            );
            (rows, tree.diagnostics().to_vec())
        };
        let root = |vol: &NtfsVolume| {
            let tree = vol.shared_tree();
            let e = vol.file_entry(&tree, 5).unwrap().unwrap();
            vol.dir_index(&e)
        };
        let free = open(None);
        let (rows, _) = list(&free.volumes()[0]);
        let index = root(&free.volumes()[0]);
        assert!(index.entries.len() > 10 && index.errors.is_empty());
        let heap = free.volumes()[0].shared_tree().heap_bytes() as u64;
        let path_bytes: u64 = rows
            .iter()
            .filter(|(e, _)| *e != 5)
            .map(|(_, p)| p.len() as u64)
            .sum();

        let ample = Arc::new(MemoryBudget::new(1 << 30));
        {
            let img = open(Some(ample.clone()));
            let vol = &img.volumes()[0];
            assert_eq!(list(vol).0, rows);
            assert_eq!(root(vol), index);
            let held = (1 << 30) - ample.available();
            assert!(
                held >= heap && held <= heap + path_bytes,
                "{held} {heap} {path_bytes}"
            );
        }
        assert_eq!(ample.available(), 1 << 30);

        // Half the paths: room is half of what the namespace leaves.
        let tight = Arc::new(MemoryBudget::new(heap + path_bytes));
        let img = open(Some(tight.clone()));
        let (cut, diags) = list(&img.volumes()[0]);
        let entries = |r: &std::collections::BTreeSet<(u64, String)>| {
            r.iter()
                .map(|(e, _)| *e)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(entries(&cut), entries(&rows));
        let orphans = cut
            .iter()
            .filter(|(_, p)| p.starts_with("/$Orphan/"))
            .count();
        assert!(
            orphans > 0 && orphans < cut.len(),
            "{orphans} of {}",
            cut.len()
        );
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("the room the memory budget of")),
            "{diags:#?}"
        );
        drop(img);
        assert_eq!(tight.available(), heap + path_bytes);

        // No room at all.
        let none = Arc::new(MemoryBudget::new(1));
        let img = open(Some(none.clone()));
        let (all_orphans, diags) = list(&img.volumes()[0]);
        assert_eq!(entries(&all_orphans), entries(&rows));
        assert!(diags
            .iter()
            .any(|d| d.message.contains("the namespace of this volume")));
        let ix = root(&img.volumes()[0]);
        assert!(ix.entries.is_empty());
        assert!(ix.errors[0].contains("index not read"), "{:?}", ix.errors);
    }

    /// Every directory index of a volume read at once on 8 threads, under a budget that holds
    /// the largest one and a half: the budget is never passed (workers wait for each other's
    /// indexes to be returned) and every index is read whole, as without a budget.
    #[test]
    fn directory_indexes_read_in_parallel_share_the_budget() {
        use rayon::prelude::*;
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ntfs-shells.img");
        let read_all = |budget: Option<Arc<MemoryBudget>>| {
            let img = Image::open_with(
                &path,
                &OpenOptions {
                    budget,
                    ..OpenOptions::default()
                },
            )
            .unwrap();
            let vol = &img.volumes()[0];
            let tree = vol.shared_tree();
            let held = vol.budget().map_or(0, |b| b.limit() - b.available());
            let dirs: Vec<FileEntry> = (0..vol.record_count())
                .filter_map(|e| vol.file_entry(&tree, e).ok().flatten())
                .filter(|f| f.is_dir && f.index.is_some())
                .collect();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(8)
                .build()
                .unwrap();
            let indexes: Vec<DirIndex> =
                pool.install(|| dirs.par_iter().map(|d| vol.dir_index(d)).collect());
            let need: Vec<u64> = dirs
                .iter()
                .map(|d| {
                    let ix = d.index.as_ref().unwrap();
                    index::INDEX_WIDENING
                        * (ix.root.as_ref().map_or(0, |r| r.len() as u64)
                            + ix.allocation.as_ref().map_or(0, |a| a.size))
                })
                .collect();
            (indexes, need, held)
        };
        let (free, need, _) = read_all(None);
        assert!(free.len() >= 5, "{}", free.len());
        let largest = *need.iter().max().unwrap();
        // What the namespace and its paths hold (reserved first, while the volume lives).
        let (_, _, held) = read_all(Some(Arc::new(MemoryBudget::new(1 << 30))));
        // Twice that, so that the paths get the same room (half of what is left), and 1.5 of
        // the largest index: the indexes cannot all be held at once.
        let limit = 2 * held + largest * 3 / 2;
        let room = limit - held;
        assert!(need.iter().sum::<u64>() > room, "{need:?} {room}");
        let budget = Arc::new(MemoryBudget::new(limit));
        let (shared, _, again) = read_all(Some(budget.clone()));
        assert_eq!(again, held);
        assert_eq!(shared, free);
        assert!(budget.peak() <= limit, "{} > {limit}", budget.peak());
    }

    /// A directory whose `$INDEX_ALLOCATION` claims a terabyte of holes is charged for the
    /// blocks it can hold (its allocated clusters), not for its claimed size: it is read under a
    /// 64 MiB budget, as without one.
    #[test]
    fn an_index_of_holes_is_charged_for_its_clusters_only() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ntfs-shells.img");
        let budget = Arc::new(MemoryBudget::new(64 << 20));
        let img = Image::open_with(
            &path,
            &OpenOptions {
                budget: Some(budget),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        let vol = &img.volumes()[0];
        let tree = vol.shared_tree();
        let root = vol.file_entry(&tree, 5).unwrap().unwrap();
        let mut claims = root.clone();
        let a = claims.index.as_mut().unwrap().allocation.as_mut().unwrap();
        a.size = 1 << 40;
        if let Content::NonResident { runs, .. } = &mut a.content {
            let end = runs.last().map_or(0, |r| r.vcn + r.len);
            runs.push(Run {
                vcn: end,
                lcn: None,
                len: (1 << 40) / vol.geometry().cluster_size,
            });
        }
        let (real, claimed) = (vol.dir_index(&root), vol.dir_index(&claims));
        assert!(real.errors.is_empty() && real.entries.len() > 5);
        assert!(
            !claimed.errors.iter().any(|e| e.contains("index not read")),
            "{:?}",
            claimed.errors
        );
        assert_eq!(claimed.entries, real.entries);
    }

    /// Attribute lists whose runs all point at the same clusters: each is read (at most
    /// `max_attr_list`), but the volume stops reading them past 8 × its MFT + 256 MiB in all,
    /// with an error naming the cause.
    #[test]
    fn aliased_attribute_lists_are_read_up_to_a_volume_cap() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/ntfs-basic.img");
        let image = Image::open(&path, volume::VolumeSelect::default()).unwrap();
        let vol = &image.volumes()[0];
        let cs = vol.geometry().cluster_size;
        let size = 1u64 << 20;
        let list = record::AttrListBody::NonResident {
            runs: vec![Run {
                vcn: 0,
                lcn: Some(0),
                len: size / cs,
            }],
            size,
        };
        let cap = vol.mft_size * ATTR_LIST_READ_FACTOR + ATTR_LIST_READ_EXTRA;
        let mut read = 0u64;
        let err = loop {
            match vol.read_attr_list(&list) {
                Ok(b) => read += b.len() as u64,
                Err(e) => break e.to_string(),
            }
            assert!(read <= cap, "{read}");
        };
        assert!(read + size > cap && read <= cap, "{read} of {cap}");
        assert!(err.contains("lists sharing clusters"), "{err}");
    }
}
