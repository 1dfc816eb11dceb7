//! Volume Shadow Copies (VSS): the snapshots Windows keeps of an NTFS volume, read straight from
//! the image and served as volumes of their own.
//!
//! # Layout on disk
//! Every structure is a 16 KiB block that starts with the diff-area GUID
//! `3808876b-c176-4e48-b7ae-04046e6cc752` (bytes `6b 87 08 38 76 c1 48 4e b7 ae 04 04 6e 6c c7
//! 52`), a version (`u32` at 16), a block type (`u32` at 20), and three offsets (relative,
//! current and next, `u64` at 24/32/40) that chain the blocks of a list.
//! - The **volume header** sits at volume offset `0x1E00` (type 1): the first catalog block
//!   (`u64` at 48), the maximum diff-area size (56), the volume's id (GUID at 64) and the id of
//!   the volume that holds the shadow storage (GUID at 80; equal to the volume's id when the
//!   storage is local).
//! - The **catalog** (type 2 blocks) holds 128-byte entries from 0x80: type 2 entries describe a
//!   snapshot (volume size at 8, store GUID at 16, stack position at 32, flags at 40, creation
//!   FILETIME at 48); type 3 entries locate its store (block list at 8, store GUID at 16, store
//!   header at 32, range list at 40, bitmap at 48, previous bitmap at 72). When the storage is on
//!   another volume, the type 2 entries are in the shadowed volume's catalog and the type 3
//!   entries in the storage volume's catalog, with every store offset on the storage volume.
//! - A **store block list** (type 3 blocks) holds 32-byte descriptors from 0x80: original
//!   volume offset, relative (forward) offset, offset of the copied data block on the storage
//!   volume, flags (`u32`: 1 forwarder, 2 overlay, 4 not used) and an allocation bitmap (`u32`:
//!   which 512-byte sectors an overlay supplies). The **bitmap** (type 6 blocks, bits from 0x80)
//!   marks the 16 KiB blocks that were free when the snapshot was taken.
//!
//! # Reading a snapshot
//! Snapshots are numbered 1 (oldest) to N (newest) by stack position. A 16 KiB block of
//! snapshot *k* is resolved in store *k*: a regular descriptor supplies the whole block from the
//! storage volume; overlays supply single sectors on top of what lies beneath; a forwarder sends
//! the lookup, at the forward offset, to the next newer store; a block the store does not hold is
//! looked up in the next newer store, and past the newest store on the live volume. A block that
//! was free at snapshot time reads as zeros when the store's flag `0x400` says so. These rules
//! follow the published descriptions of the format (libvshadow's documentation) and the
//! behaviour of the dfir_ntfs reader, whose test volumes (and published contents) the tests of
//! this module check against.
//!
//! # Bounds
//! Every list is followed with a visited set (a list that loops is a [`Error::Format`]), and
//! [`VssLimits`] caps catalog blocks, list blocks, snapshots and descriptors. Offsets that point
//! outside the volume or storage give [`Error::OutOfBounds`] when read, never a panic.

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::time::FileTime;
use deadbox_evidence::budget::{MemoryBudget, Reservation};
use deadbox_evidence::bytes::{le_u32, le_u64};
use deadbox_evidence::{Error, Evidence, Format, Region, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Size of every VSS structure block and of the unit of copy-on-write: 16 KiB.
pub const BLOCK: u64 = 0x4000;
/// Volume offset of the VSS volume header.
pub const HEADER_OFFSET: u64 = 0x1E00;
/// The diff-area GUID every VSS block starts with, as stored on disk.
pub const DIFF_AREA_GUID: [u8; 16] = [
    0x6b, 0x87, 0x08, 0x38, 0x76, 0xc1, 0x48, 0x4e, 0xb7, 0xae, 0x04, 0x04, 0x6e, 0x6c, 0xc7, 0x52,
];

/// Sectors of 512 bytes per 16 KiB block.
const SECTORS: usize = 32;
const SECTOR: u64 = 512;

/// Block types (the `u32` at offset 20 of a block).
const TYPE_HEADER: u32 = 1;
const TYPE_CATALOG: u32 = 2;
const TYPE_BLOCK_LIST: u32 = 3;
const TYPE_STORE_HEADER: u32 = 4;
const TYPE_BITMAP: u32 = 6;

/// Descriptor flags.
const FLAG_FORWARDER: u32 = 0x1;
const FLAG_OVERLAY: u32 = 0x2;
const FLAG_NOT_USED: u32 = 0x4;
/// Store flag: blocks free at snapshot time read as zeros.
const STORE_FLAG_ZERO_FREE: u64 = 0x400;

/// A GUID as stored on disk (mixed-endian); [`Display`](std::fmt::Display) gives the usual
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    fn at(b: &[u8], off: usize) -> Option<Guid> {
        b.get(off..off + 16)
            .and_then(|s| <[u8; 16]>::try_from(s).ok())
            .map(Guid)
    }
}

impl std::fmt::Display for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9]
        )?;
        for x in &b[10..] {
            write!(f, "{x:02x}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Resource bounds of the VSS reader. The defaults suit any real volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VssLimits {
    /// Most catalog blocks followed (default 256: 32,000 entries).
    pub max_catalog_blocks: usize,
    /// Most snapshots read (default 512; Windows keeps at most 512 per volume).
    pub max_snapshots: usize,
    /// Most blocks followed in one store list (block list or bitmap; default 1,048,576).
    pub max_list_blocks: usize,
    /// Most block descriptors kept over all stores (default 32 Mi: 1 GiB of memory, enough
    /// for 512 GiB of copied data).
    pub max_descriptors: usize,
}

impl Default for VssLimits {
    fn default() -> Self {
        VssLimits {
            max_catalog_blocks: 256,
            max_snapshots: 512,
            max_list_blocks: 1 << 20,
            max_descriptors: 32 << 20,
        }
    }
}

/// The VSS volume header (at volume offset `0x1E00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeHeader {
    /// Format version (1 on every Windows since Server 2003; 2 seen on some).
    pub version: u32,
    /// Volume offset of the first catalog block; 0 when shadow copies were never created.
    pub catalog_offset: u64,
    /// Maximum size of the diff area, in bytes.
    pub max_size: u64,
    /// The id of this volume.
    pub volume_id: Guid,
    /// The id of the volume that holds the shadow storage (the diff area).
    pub storage_id: Guid,
}

impl VolumeHeader {
    /// Parses a volume header from the 512 bytes (or more) at volume offset `0x1E00`. `None`
    /// when they do not start with the diff-area GUID (no VSS on this volume); a format error
    /// when they do but the header is inconsistent.
    pub fn parse(b: &[u8]) -> Result<Option<VolumeHeader>> {
        if b.get(..16) != Some(&DIFF_AREA_GUID[..]) {
            return Ok(None);
        }
        let bad = |why: &str| Error::format("VSS volume header", HEADER_OFFSET, why);
        let field = |off: usize| le_u64(b, off).ok_or_else(|| bad("truncated"));
        let version = le_u32(b, 16).ok_or_else(|| bad("truncated"))?;
        let kind = le_u32(b, 20).ok_or_else(|| bad("truncated"))?;
        if kind != TYPE_HEADER {
            return Err(bad(&format!("block type {kind}, expected 1")));
        }
        let catalog_offset = field(48)?;
        if catalog_offset % BLOCK != 0 {
            return Err(bad(&format!(
                "catalog offset {catalog_offset:#x} is not 16 KiB aligned"
            )));
        }
        Ok(Some(VolumeHeader {
            version,
            catalog_offset,
            max_size: field(56)?,
            volume_id: Guid::at(b, 64).ok_or_else(|| bad("truncated"))?,
            storage_id: Guid::at(b, 80).ok_or_else(|| bad("truncated"))?,
        }))
    }

    /// True when the shadow storage is on this volume.
    pub fn storage_is_local(&self) -> bool {
        self.volume_id == self.storage_id
    }
}

/// Reads the VSS volume header of the volume in `volume` (`None`: no VSS on it).
pub fn read_header(volume: &Region) -> Result<Option<VolumeHeader>> {
    let mut b = [0u8; 128];
    if volume.len() < HEADER_OFFSET + 128 {
        return Ok(None);
    }
    volume.read_exact_at(HEADER_OFFSET, &mut b)?;
    VolumeHeader::parse(&b)
}

/// One entry of a catalog block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogEntry {
    /// Type 2: a snapshot.
    Snapshot {
        /// Size of the shadowed volume when the snapshot was taken.
        volume_size: u64,
        /// The store's GUID.
        store_id: Guid,
        /// Position in the stack (1 = oldest).
        position: u64,
        /// Store flags (`0x400`: free blocks read as zeros).
        flags: u64,
        /// Creation time.
        created: FileTime,
    },
    /// Type 3: where a store's lists are.
    Store {
        /// Offset of the first block-list block (on the storage volume).
        block_list: u64,
        /// The store's GUID.
        store_id: Guid,
        /// Offset of the store header block.
        store_header: u64,
        /// Offset of the first range-list block.
        range_list: u64,
        /// Offset of the first bitmap block.
        bitmap: u64,
        /// Offset of the first previous-bitmap block (0: none).
        previous_bitmap: u64,
        /// Allocated size of the diff-area file (0 when not recorded).
        allocated: u64,
    },
}

/// The common header of a 16 KiB VSS block: checks the GUID and the type; returns the
/// (current, next) offsets.
fn block_header(b: &[u8], kind: u32, what: &str, at: u64) -> Result<(u64, u64)> {
    if b.get(..16) != Some(&DIFF_AREA_GUID[..]) {
        return Err(Error::format(what, at, "no diff-area GUID"));
    }
    let t = le_u32(b, 20).ok_or_else(|| Error::format(what, at, "truncated"))?;
    if t != kind {
        return Err(Error::format(
            what,
            at,
            format!("block type {t}, expected {kind}"),
        ));
    }
    let cur = le_u64(b, 32).ok_or_else(|| Error::format(what, at, "truncated"))?;
    let next = le_u64(b, 40).ok_or_else(|| Error::format(what, at, "truncated"))?;
    Ok((cur, next))
}

/// Parses one catalog block (16 KiB; `at` is its volume offset, for messages): its entries and
/// the offset of the next block (0 at the end). Free entries (type 1) are skipped; an unknown
/// type ends the block with a diagnostic.
pub fn parse_catalog_block(b: &[u8], at: u64) -> Result<(Vec<CatalogEntry>, u64, Vec<Diagnostic>)> {
    let (_, next) = block_header(b, TYPE_CATALOG, "VSS catalog block", at)?;
    let mut out = Vec::new();
    let mut diags = Vec::new();
    let mut off = 0x80usize;
    while off + 0x80 <= b.len().min(BLOCK as usize) {
        let e = &b[off..off + 0x80];
        let q = |o: usize| le_u64(e, o).unwrap_or(0);
        match q(0) {
            0 => break,
            1 => {}
            2 => out.push(CatalogEntry::Snapshot {
                volume_size: q(8),
                store_id: Guid::at(e, 16).unwrap_or_default(),
                position: q(32),
                flags: q(40),
                created: FileTime(q(48)),
            }),
            3 => out.push(CatalogEntry::Store {
                block_list: q(8),
                store_id: Guid::at(e, 16).unwrap_or_default(),
                store_header: q(32),
                range_list: q(40),
                bitmap: q(48),
                allocated: q(64),
                previous_bitmap: q(72),
            }),
            t => {
                diags.push(
                    Diagnostic::new(
                        DiagnosticKind::Corrupt,
                        format!(
                            "VSS catalog block at {at:#x}: entry {} has unknown type {t}",
                            (off - 0x80) / 0x80
                        ),
                    )
                    .at_offset(Some(at + off as u64)),
                );
                break;
            }
        }
        off += 0x80;
    }
    Ok((out, next, diags))
}

/// One block descriptor of a store block list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDescriptor {
    /// Offset of the 16 KiB block in the shadowed volume.
    pub original: u64,
    /// Forward offset (for a forwarder), else the offset relative to the store.
    pub relative: u64,
    /// Offset of the copied data block on the storage volume.
    pub store: u64,
    /// Flags: 1 forwarder, 2 overlay, 4 not used.
    pub flags: u32,
    /// For an overlay: which 512-byte sectors of the block it supplies.
    pub bitmap: u32,
}

impl BlockDescriptor {
    fn is_forwarder(&self) -> bool {
        self.flags & FLAG_FORWARDER != 0
    }
    fn is_overlay(&self) -> bool {
        self.flags & FLAG_OVERLAY != 0
    }
}

/// Parses one store block-list block (16 KiB at storage offset `at`): its descriptors (those
/// flagged "not used" left out) and the next block's offset (0 at the end). A descriptor with
/// unaligned offsets, unknown flag bits or both forwarder and overlay set is a format error.
pub fn parse_block_list_block(b: &[u8], at: u64) -> Result<(Vec<BlockDescriptor>, u64)> {
    let (_, next) = block_header(b, TYPE_BLOCK_LIST, "VSS store block list", at)?;
    let mut out = Vec::new();
    let mut off = 0x80usize;
    while off + 32 <= b.len().min(BLOCK as usize) {
        let q = |o: usize| le_u64(b, off + o).unwrap_or(0);
        let d = BlockDescriptor {
            original: q(0),
            relative: q(8),
            store: q(16),
            flags: le_u32(b, off + 24).unwrap_or(0),
            bitmap: le_u32(b, off + 28).unwrap_or(0),
        };
        let bad = |why: &str| {
            Error::format(
                "VSS store block list",
                at + off as u64,
                format!("descriptor {}: {why}", (off - 0x80) / 32),
            )
        };
        if d.original % BLOCK != 0 || d.store % BLOCK != 0 {
            return Err(bad("offset not 16 KiB aligned"));
        }
        if d.flags & 0xFFFF_FF00 != 0 {
            return Err(bad(&format!("unknown flags {:#x}", d.flags)));
        }
        if d.is_forwarder() && d.is_overlay() {
            return Err(bad("both forwarder and overlay"));
        }
        if d.store == 0 && d.flags == 0 {
            break;
        }
        if d.flags & FLAG_NOT_USED == 0 {
            out.push(d);
        }
        off += 32;
    }
    Ok((out, next))
}

/// Follows a list of 16 KiB blocks of `kind` from `first` on `region`, calling `f` with each
/// block and its offset. A block whose "current offset" field does not name where it was read
/// ends the list (with a diagnostic); a loop is a format error; more than `max` blocks a limit
/// error.
fn follow_list(
    region: &Region,
    first: u64,
    kind: u32,
    what: &str,
    max: usize,
    diags: &mut Vec<Diagnostic>,
    mut f: impl FnMut(&[u8], u64) -> Result<u64>,
) -> Result<()> {
    let mut seen = HashSet::new();
    let mut off = first;
    let mut buf = vec![0u8; BLOCK as usize];
    while off != 0 {
        if off % BLOCK != 0 {
            return Err(Error::format(
                what,
                region.start().saturating_add(off),
                "block offset not 16 KiB aligned",
            ));
        }
        if !seen.insert(off) {
            return Err(Error::format(
                what,
                region.start().saturating_add(off),
                "the list loops back to a block already read",
            ));
        }
        if seen.len() > max {
            return Err(Error::Limit(format!("{what}: more than {max} blocks")));
        }
        region.read_exact_at(off, &mut buf)?;
        let (cur, _) = block_header(&buf, kind, what, region.start().saturating_add(off))?;
        if cur != off {
            diags.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!(
                        "{what} at {off:#x} says it is at {cur:#x}: the rest of the list is ignored"
                    ),
                )
                .at_offset(Some(region.start().saturating_add(off))),
            );
            break;
        }
        off = f(&buf, off)?;
    }
    Ok(())
}

/// Reads every catalog entry of the volume whose header is `header`.
fn read_catalog(
    region: &Region,
    header: &VolumeHeader,
    limits: &VssLimits,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<CatalogEntry>> {
    let mut entries = Vec::new();
    let mut found = Vec::new();
    follow_list(
        region,
        header.catalog_offset,
        TYPE_CATALOG,
        "VSS catalog block",
        limits.max_catalog_blocks,
        diags,
        |b, at| {
            let (e, next, d) = parse_catalog_block(b, region.start() + at)?;
            entries.extend(e);
            found.extend(d);
            Ok(next)
        },
    )?;
    diags.extend(found);
    Ok(entries)
}

/// What one 512-byte sector of a snapshot block reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// Zeros.
    Zero,
    /// The live (shadowed) volume at this offset.
    Volume(u64),
    /// The storage volume at this offset.
    Storage(u64),
}

type Sectors = [Src; SECTORS];

fn run_of(base: u64, f: fn(u64) -> Src) -> Sectors {
    let mut s = [Src::Zero; SECTORS];
    for (i, x) in s.iter_mut().enumerate() {
        *x = f(base.saturating_add(i as u64 * SECTOR));
    }
    s
}

/// One store: the block map of one snapshot, relative to the next newer one.
#[derive(Debug, Default)]
struct Store {
    /// Descriptors, sorted (stably) by original offset.
    entries: Vec<BlockDescriptor>,
    bitmap: Vec<u8>,
    previous: Vec<u8>,
    /// Targets of forwarders that were free at snapshot time.
    null_targets: HashSet<u64>,
    zero_free: bool,
}

impl Store {
    fn at(&self, offset: u64) -> &[BlockDescriptor] {
        let lo = self.entries.partition_point(|d| d.original < offset);
        let hi = lo + self.entries[lo..].partition_point(|d| d.original == offset);
        &self.entries[lo..hi]
    }

    /// Was the block at `offset` free when the snapshot was taken (per both bitmaps)?
    fn free(&self, offset: u64) -> bool {
        let bit = offset / BLOCK;
        let get = |m: &[u8]| {
            usize::try_from(bit / 8)
                .ok()
                .and_then(|i| m.get(i))
                .map(|b| (b >> (bit % 8)) & 1 == 1)
        };
        let cur = get(&self.bitmap).unwrap_or(false);
        match get(&self.previous) {
            Some(prev) => cur && prev,
            None => cur,
        }
    }
}

/// Builds a store's block map from its descriptors as listed: a forwarder renames the original
/// offset of a later regular descriptor at its forward offset; a forwarder that forwards to
/// itself cancels the regular descriptors before it at that offset.
fn build_entries(listed: Vec<BlockDescriptor>) -> Vec<BlockDescriptor> {
    let mut items: Vec<Option<BlockDescriptor>> = Vec::with_capacity(listed.len());
    let mut regular_at: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut forward: HashMap<u64, u64> = HashMap::new();
    for mut d in listed {
        if !d.is_overlay() {
            if let Some(orig) = forward.remove(&d.original) {
                d.original = orig;
            }
        }
        if d.is_forwarder() {
            if d.original != d.relative {
                forward.insert(d.relative, d.original);
            } else if let Some(v) = regular_at.remove(&d.original) {
                for i in v {
                    items[i] = None;
                }
            }
        } else if !d.is_overlay() {
            regular_at.entry(d.original).or_default().push(items.len());
        }
        items.push(Some(d));
    }
    let mut out: Vec<BlockDescriptor> = items.into_iter().flatten().collect();
    out.sort_by_key(|d| d.original);
    out
}

/// Most descriptors kept for one block of one store. Windows writes one copy of a block per
/// store and a few overlays; every read of a block goes through all of its descriptors (for
/// each of its 32 sectors, and again to see whether a newer store holds it), so a million
/// overlays listed for one block made each 16 KiB read cost 10^9 steps.
pub const MAX_DESCRIPTORS_PER_BLOCK: usize = 64;

/// Keeps at most [`MAX_DESCRIPTORS_PER_BLOCK`] descriptors per block (the first listed) of
/// `entries` (sorted by block); returns how many were dropped.
fn cap_per_block(entries: &mut Vec<BlockDescriptor>) -> usize {
    let before = entries.len();
    let mut run = (u64::MAX, 0usize);
    entries.retain(|d| {
        if d.original != run.0 {
            run = (d.original, 0);
        }
        run.1 += 1;
        run.1 <= MAX_DESCRIPTORS_PER_BLOCK
    });
    before - entries.len()
}

/// Facts about one snapshot, as `deadbox info` lists them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotInfo {
    /// 1 = oldest, in stack order; what `--snapshot N` takes.
    pub number: usize,
    /// The stack position recorded in the catalog.
    pub position: u64,
    /// The store GUID (the snapshot's id on disk).
    pub id: Guid,
    /// When the snapshot was taken.
    pub created: FileTime,
    /// Size of the volume when the snapshot was taken.
    pub volume_size: u64,
    /// Bytes of the diff area that hold this snapshot's copied blocks (16 KiB per data block
    /// its store lists); `None` when the storage was not read.
    pub store_size: Option<u64>,
    /// Store flags from the catalog.
    pub flags: u64,
    /// The shadow copy's id as Windows shows it (`vssadmin list shadows`: "Shadow Copy ID"),
    /// from the store header; `None` when the storage was not read.
    pub shadow_copy_id: Option<Guid>,
    /// The id of the set the shadow copy was taken in ("Shadow Copy Set ID").
    pub set_id: Option<Guid>,
    /// The machine that made the shadow copy ("Originating Machine"), from the store header.
    pub machine: Option<String>,
}

/// What the store header (block type 4) says about its snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StoreHeader {
    shadow_copy_id: Option<Guid>,
    set_id: Option<Guid>,
    pub(crate) machine: Option<String>,
}

/// Parses a store header block: the shadow copy and set ids (GUIDs at 0x90 and 0xA0) and the
/// originating machine (a UTF-16 string after its byte length at 0xC0).
pub(crate) fn parse_store_header(b: &[u8], at: u64) -> Result<StoreHeader> {
    block_header(b, TYPE_STORE_HEADER, "VSS store header", at)?;
    let len = b
        .get(0xC0..0xC2)
        .map_or(0, |x| u16::from_le_bytes([x[0], x[1]]) as usize);
    let machine = b
        .get(0xC2..0xC2 + len)
        .map(deadbox_evidence::bytes::utf16le_lossy)
        .filter(|m| !m.is_empty());
    Ok(StoreHeader {
        shadow_copy_id: Guid::at(b, 0x90),
        set_id: Guid::at(b, 0xA0),
        machine,
    })
}

#[derive(Debug)]
struct Inner {
    volume: Region,
    storage: Region,
    /// Stores, oldest first (an empty one where a store could not be read).
    stores: Vec<Store>,
    /// Why a store could not be read, per store.
    broken: Vec<Option<String>>,
    sizes: Vec<u64>,
    /// The descriptors' share of the run's memory budget.
    _memory: Option<Reservation>,
}

/// The shadow copies of one volume: the catalog, and the stores once the storage is known.
#[derive(Debug, Clone)]
pub struct Shadows {
    header: VolumeHeader,
    snapshots: Vec<SnapshotInfo>,
    inner: Option<Arc<Inner>>,
    diagnostics: Vec<Diagnostic>,
}

impl Shadows {
    /// Reads the shadow copies of the volume in `volume`, with the storage on the same volume.
    /// `Ok(None)` when the volume has no VSS header. When the header names another volume as
    /// the storage, the snapshots are listed (from this volume's catalog) but cannot be read:
    /// see [`Shadows::open_with_storage`].
    pub fn open(volume: &Region) -> Result<Option<Shadows>> {
        Self::open_with_limits(volume, None, VssLimits::default())
    }

    /// Reads the shadow copies of `volume` whose storage (diff area) is on `storage` (another
    /// volume of the same image, or a volume of a second image). `storage` may be `volume`
    /// itself. A storage whose VSS header does not have the id the volume names is an error.
    pub fn open_with_storage(volume: &Region, storage: &Region) -> Result<Option<Shadows>> {
        Self::open_with_limits(volume, Some(storage), VssLimits::default())
    }

    /// [`Shadows::open`] / [`Shadows::open_with_storage`] with explicit bounds.
    pub fn open_with_limits(
        volume: &Region,
        storage: Option<&Region>,
        limits: VssLimits,
    ) -> Result<Option<Shadows>> {
        Self::open_in(volume, storage, limits, None)
    }

    /// [`Shadows::open_with_limits`] drawing the block descriptors' memory from the run's
    /// `budget`: at most half of what it has left (fewer descriptors than
    /// [`VssLimits::max_descriptors`] when that is smaller; past it the store is an error), held
    /// while the snapshots can be read.
    pub fn open_in(
        volume: &Region,
        storage: Option<&Region>,
        limits: VssLimits,
        run_budget: Option<&Arc<MemoryBudget>>,
    ) -> Result<Option<Shadows>> {
        let mut limits = limits;
        let per = std::mem::size_of::<BlockDescriptor>() as u64;
        let mut memory = run_budget.map(|b| {
            let want = (limits.max_descriptors as u64).saturating_mul(per);
            let r = b.reserve_up_to(want.min(b.available() / 2));
            limits.max_descriptors = usize::try_from(r.bytes() / per).unwrap_or(usize::MAX);
            r
        });
        let Some(header) = read_header(volume)? else {
            return Ok(None);
        };
        let mut diagnostics = Vec::new();
        let entries = if header.catalog_offset == 0 {
            Vec::new()
        } else {
            read_catalog(volume, &header, &limits, &mut diagnostics)?
        };
        let mut snaps: Vec<(u64, Guid, FileTime, u64, u64)> = entries
            .iter()
            .filter_map(|e| match *e {
                CatalogEntry::Snapshot {
                    volume_size,
                    store_id,
                    position,
                    flags,
                    created,
                } => Some((position, store_id, created, volume_size, flags)),
                _ => None,
            })
            .collect();
        if snaps.len() > limits.max_snapshots {
            return Err(Error::Limit(format!(
                "VSS catalog: {} snapshots, more than {}",
                snaps.len(),
                limits.max_snapshots
            )));
        }
        snaps.sort_by_key(|s| (s.0, s.2));
        let mut snapshots: Vec<SnapshotInfo> = snaps
            .iter()
            .enumerate()
            .map(|(i, s)| SnapshotInfo {
                number: i + 1,
                position: s.0,
                id: s.1,
                created: s.2,
                volume_size: s.3,
                store_size: None,
                flags: s.4,
                shadow_copy_id: None,
                set_id: None,
                machine: None,
            })
            .collect();
        let storage = match storage {
            Some(s) => Some(s.clone()),
            None if header.storage_is_local() => Some(volume.clone()),
            None => None,
        };
        let inner = match storage {
            None => {
                if !snapshots.is_empty() {
                    diagnostics.push(Diagnostic::new(
                        DiagnosticKind::Unsupported,
                        format!(
                            "the shadow storage of this volume is on volume {} (not given): \
                             snapshots listed, not readable",
                            header.storage_id
                        ),
                    ));
                }
                None
            }
            Some(storage) => {
                let store_entries =
                    if header.storage_is_local() && storage.start() == volume.start() {
                        entries
                    } else {
                        let sh = read_header(&storage)?.ok_or_else(|| {
                            Error::Invalid("the shadow storage volume has no VSS header".into())
                        })?;
                        if sh.volume_id != header.storage_id {
                            return Err(Error::Invalid(format!(
                                "the shadow storage of this volume is volume {}, not {}",
                                header.storage_id, sh.volume_id
                            )));
                        }
                        if sh.catalog_offset == 0 {
                            Vec::new()
                        } else {
                            read_catalog(&storage, &sh, &limits, &mut diagnostics)?
                        }
                    };
                let mut budget = limits.max_descriptors;
                let mut stores = Vec::new();
                let mut broken = Vec::new();
                let mut sizes = Vec::new();
                for (info, s) in snapshots.iter_mut().zip(&snaps) {
                    let found: Vec<&CatalogEntry> = store_entries
                        .iter()
                        .filter(|e| matches!(e, CatalogEntry::Store { store_id, .. } if *store_id == info.id))
                        .collect();
                    let store = match found.as_slice() {
                        [one] => read_store(
                            &storage,
                            one,
                            s.3,
                            s.4,
                            &limits,
                            &mut budget,
                            &mut diagnostics,
                        )
                        .map_err(|e| e.to_string()),
                        [] => Err(format!(
                            "snapshot {}: no store entry for {}",
                            info.number, info.id
                        )),
                        _ => Err(format!(
                            "snapshot {}: {} store entries for {}",
                            info.number,
                            found.len(),
                            info.id
                        )),
                    };
                    match &store {
                        Ok((_, bytes, h)) => {
                            info.store_size = Some(*bytes);
                            info.shadow_copy_id = h.shadow_copy_id;
                            info.set_id = h.set_id;
                            info.machine = h.machine.clone();
                        }
                        Err(e) => diagnostics.push(Diagnostic::new(
                            DiagnosticKind::Corrupt,
                            format!("VSS snapshot {}: {e}", info.number),
                        )),
                    }
                    match store {
                        Ok((st, _, _)) => {
                            stores.push(st);
                            broken.push(None);
                        }
                        Err(e) => {
                            stores.push(Store::default());
                            broken.push(Some(e));
                        }
                    }
                    sizes.push(s.3);
                }
                if let Some(r) = memory.as_mut() {
                    r.shrink_to((limits.max_descriptors - budget) as u64 * per);
                }
                Some(Arc::new(Inner {
                    volume: volume.clone(),
                    storage,
                    stores,
                    broken,
                    sizes,
                    _memory: memory.take(),
                }))
            }
        };
        Ok(Some(Shadows {
            header,
            snapshots,
            inner,
            diagnostics,
        }))
    }

    /// The volume header.
    pub fn header(&self) -> &VolumeHeader {
        &self.header
    }

    /// The snapshots, oldest first.
    pub fn snapshots(&self) -> &[SnapshotInfo] {
        &self.snapshots
    }

    /// True when the stores were read (the storage is local or was given).
    pub fn is_readable(&self) -> bool {
        self.inner.is_some()
    }

    /// Problems met reading the catalog and stores.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Snapshot `number` (1 = oldest) as evidence: its bytes as a volume, for
    /// [`NtfsVolume::open`](crate::NtfsVolume::open) over [`Region::whole`].
    pub fn snapshot(&self, number: usize) -> Result<ShadowVolume> {
        let inner = self.inner.as_ref().ok_or_else(|| {
            Error::Unsupported(format!(
                "the shadow storage is on volume {}: give that volume as the storage",
                self.header.storage_id
            ))
        })?;
        if number == 0 || number > inner.stores.len() {
            return Err(Error::NotFound(format!(
                "snapshot {number} (the volume has {})",
                inner.stores.len()
            )));
        }
        // Snapshot k reads through stores k..=N.
        for (i, s) in inner.broken.iter().enumerate().skip(number - 1) {
            if let Some(e) = s {
                return Err(Error::format(
                    "VSS store",
                    inner.storage.start(),
                    format!("snapshot {} (needed by snapshot {number}): {e}", i + 1),
                ));
            }
        }
        Ok(ShadowVolume {
            inner: inner.clone(),
            index: number - 1,
            len: inner.sizes[number - 1],
        })
    }

    /// Snapshot `number` as a region (the whole snapshot volume).
    pub fn snapshot_region(&self, number: usize) -> Result<Region> {
        Ok(Region::whole(Arc::new(self.snapshot(number)?)))
    }
}

/// Reads one store's block list and bitmaps; returns it with its copied-data byte count.
fn read_store(
    storage: &Region,
    entry: &CatalogEntry,
    volume_size: u64,
    flags: u64,
    limits: &VssLimits,
    budget: &mut usize,
    diags: &mut Vec<Diagnostic>,
) -> Result<(Store, u64, StoreHeader)> {
    let CatalogEntry::Store {
        block_list,
        bitmap,
        previous_bitmap,
        store_header,
        ..
    } = *entry
    else {
        return Err(Error::Invalid("not a store entry".into()));
    };
    let mut listed = Vec::new();
    follow_list(
        storage,
        block_list,
        TYPE_BLOCK_LIST,
        "VSS store block list",
        limits.max_list_blocks,
        diags,
        |b, at| {
            let (d, next) = parse_block_list_block(b, storage.start() + at)?;
            if d.len() > *budget {
                return Err(Error::Limit(format!(
                    "VSS stores: more than {} block descriptors",
                    limits.max_descriptors
                )));
            }
            *budget -= d.len();
            listed.extend(d);
            Ok(next)
        },
    )?;
    let data_blocks = listed.iter().filter(|d| !d.is_forwarder()).count() as u64;
    let bits = volume_size.div_ceil(BLOCK);
    let bytes = usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX);
    let read_bitmap = |first: u64, diags: &mut Vec<Diagnostic>| -> Result<Vec<u8>> {
        let mut out = Vec::new();
        follow_list(
            storage,
            first,
            TYPE_BITMAP,
            "VSS store bitmap",
            limits.max_list_blocks,
            diags,
            |b, _| {
                if out.len() < bytes {
                    let take = (bytes - out.len()).min(b.len() - 0x80);
                    out.extend_from_slice(&b[0x80..0x80 + take]);
                }
                Ok(le_u64(b, 40).unwrap_or(0))
            },
        )?;
        Ok(out)
    };
    let bm = read_bitmap(bitmap, diags)?;
    let previous = read_bitmap(previous_bitmap, diags)?;
    let mut entries = build_entries(listed);
    let dropped = cap_per_block(&mut entries);
    if dropped > 0 {
        diags.push(Diagnostic::new(
            DiagnosticKind::Corrupt,
            format!(
                "VSS store: {dropped} block descriptors past {MAX_DESCRIPTORS_PER_BLOCK} for one block left out"
            ),
        ));
    }
    let mut store = Store {
        entries,
        bitmap: bm,
        previous,
        null_targets: HashSet::new(),
        zero_free: flags & STORE_FLAG_ZERO_FREE != 0,
    };
    let targets: HashSet<u64> = store
        .entries
        .iter()
        .filter(|d| d.is_forwarder() && store.free(d.relative))
        .map(|d| d.relative)
        .collect();
    store.null_targets = targets;
    // The store header only names the snapshot: a damaged one is a diagnostic.
    let mut header = StoreHeader::default();
    if store_header != 0 {
        let mut b = vec![0u8; BLOCK as usize];
        match storage
            .read_exact_at(store_header, &mut b)
            .and_then(|()| parse_store_header(&b, storage.start().saturating_add(store_header)))
        {
            Ok(h) => header = h,
            Err(e) => diags.push(Diagnostic::new(Diagnostic::kind_of(&e), e.to_string())),
        }
    }
    Ok((store, data_blocks.saturating_mul(BLOCK), header))
}

impl Inner {
    /// Is there, in a store newer than `i`, a non-overlay descriptor at `offset`?
    fn newer_holds(&self, i: usize, offset: u64) -> bool {
        self.stores[i + 1..]
            .iter()
            .any(|s| s.at(offset).iter().any(|d| !d.is_overlay()))
    }

    fn store(&self, i: usize) -> &Store {
        &self.stores[i]
    }

    /// Where the block at `offset` of store `i` continues: the next newer store, or the live
    /// volume past the newest.
    fn next(&self, i: usize, offset: u64, forwarded: bool) -> Sectors {
        if i + 1 < self.stores.len() {
            return self.translate(i + 1, offset, true, forwarded);
        }
        let s = self.store(i);
        if s.free(offset) && s.zero_free && !forwarded {
            [Src::Zero; SECTORS]
        } else {
            run_of(offset, Src::Volume)
        }
    }

    /// Resolves the 16 KiB block at `offset` of the snapshot of store `i` to its 32 sectors.
    fn translate(&self, i: usize, offset: u64, ignore_overlays: bool, forwarded: bool) -> Sectors {
        let s = self.store(i);
        let last = i + 1 == self.stores.len();
        // 1: a newer store holds the block; 0: none does; 2: there is no newer store.
        let newer = if last {
            2
        } else if self.newer_holds(i, offset) {
            1
        } else {
            0
        };
        let free = s.free(offset);
        let mut out: Option<Sectors> = None;
        let mut forward = None;
        let mut regular = false;
        let mut overlay = false;
        let mut covered = 0u32;
        for d in s.at(offset) {
            if d.is_forwarder() && d.original != d.relative {
                forward = Some(d.relative);
                continue;
            }
            if d.is_overlay() {
                overlay = true;
                if !ignore_overlays {
                    let o = out.get_or_insert_with(|| {
                        if newer == 1 {
                            self.next(i, offset, false)
                        } else if !free || !s.zero_free {
                            run_of(offset, Src::Volume)
                        } else {
                            [Src::Zero; SECTORS]
                        }
                    });
                    covered |= d.bitmap;
                    for (k, x) in o.iter_mut().enumerate() {
                        if (d.bitmap >> k) & 1 == 1 {
                            *x = Src::Storage(d.store.saturating_add(k as u64 * SECTOR));
                        }
                    }
                }
                continue;
            }
            regular = true;
            let whole = run_of(d.store, Src::Storage);
            match &mut out {
                None => out = Some(whole),
                Some(o) => {
                    for (k, x) in o.iter_mut().enumerate() {
                        if (covered >> k) & 1 == 0 {
                            *x = whole[k];
                        }
                    }
                }
            }
        }
        if let (Some(f), false) = (forward, regular) {
            match (&mut out, overlay && !ignore_overlays) {
                (Some(o), true) => {
                    let fwd = self.next(i, f, true);
                    for (k, x) in o.iter_mut().enumerate() {
                        if (covered >> k) & 1 == 0 {
                            *x = fwd[k];
                        }
                    }
                }
                _ => return self.next(i, f, true),
            }
        }
        if !forwarded && newer == 0 && s.zero_free && s.null_targets.contains(&offset) {
            return [Src::Zero; SECTORS];
        }
        if forward.is_none() && !regular && !overlay && free && newer == 0 && s.zero_free {
            return [Src::Zero; SECTORS];
        }
        match out {
            Some(o) => o,
            None => self.next(i, offset, false),
        }
    }

    /// Reads `buf.len()` bytes at `offset` of the 16 KiB block at `block` of snapshot `i`.
    fn read_block(&self, i: usize, block: u64, within: usize, buf: &mut [u8]) -> Result<()> {
        let map = self.translate(i, block, false, false);
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = within + pos;
            let k = at / SECTOR as usize;
            let in_sector = at % SECTOR as usize;
            // Extend the run over following sectors that continue it.
            let mut end_k = k + 1;
            while end_k < SECTORS && within + buf.len() > end_k * SECTOR as usize {
                let cont = match (map[end_k - 1], map[end_k]) {
                    (Src::Zero, Src::Zero) => true,
                    (Src::Volume(a), Src::Volume(b)) | (Src::Storage(a), Src::Storage(b)) => {
                        a.checked_add(SECTOR) == Some(b)
                    }
                    _ => false,
                };
                if !cont {
                    break;
                }
                end_k += 1;
            }
            let run_end = (end_k * SECTOR as usize).min(within + buf.len());
            let dst = &mut buf[pos..run_end - within];
            match map[k] {
                Src::Zero => dst.fill(0),
                Src::Volume(o) => self
                    .volume
                    .read_exact_at(o.saturating_add(in_sector as u64), dst)?,
                Src::Storage(o) => self
                    .storage
                    .read_exact_at(o.saturating_add(in_sector as u64), dst)?,
            }
            pos = run_end - within;
        }
        Ok(())
    }
}

/// One snapshot of a volume, readable as [`Evidence`]: every 16 KiB block resolved through the
/// stores (see the [module documentation](self)). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShadowVolume {
    inner: Arc<Inner>,
    index: usize,
    len: u64,
}

impl ShadowVolume {
    /// The snapshot's number (1 = oldest).
    pub fn number(&self) -> usize {
        self.index + 1
    }
}

impl Evidence for ShadowVolume {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(Error::OutOfBounds {
                    offset,
                    len: buf.len() as u64,
                    size: self.len,
                })
            }
        }
        let mut pos = 0usize;
        while pos < buf.len() {
            let at = offset + pos as u64;
            let block = at - at % BLOCK;
            let within = (at - block) as usize;
            let n = (BLOCK as usize - within).min(buf.len() - pos);
            self.inner
                .read_block(self.index, block, within, &mut buf[pos..pos + n])?;
            pos += n;
        }
        Ok(())
    }

    fn format(&self) -> Format {
        Format::Other(format!("VSS snapshot {}", self.index + 1))
    }
}

/// A synthetic 1 MiB volume with two snapshots, as the fuzz harness and the unit tests use it:
/// the header, a catalog (block 1), store A's block list and bitmap (blocks 2, 3: block 41
/// copied from block 17, an overlay of sectors 0 and 2 of block 42 from block 18, block 43
/// forwarded to block 44), store B's (blocks 6, 7: block 40 from block 16, block 44 from
/// block 19; flag 0x400 and block 45 free). Live block k of 32..64 holds byte k. Returns the
/// volume and the blocks that hold structures.
#[cfg(any(test, fuzzing))]
pub(crate) fn synthetic_volume() -> (Vec<u8>, [usize; 6]) {
    const B: usize = BLOCK as usize;
    let mut v = vec![0u8; 64 * B];
    let put = |v: &mut Vec<u8>, at: usize, x: u64, n: usize| {
        v[at..at + n].copy_from_slice(&x.to_le_bytes()[..n]);
    };
    for k in 32..64 {
        v[k * B..(k + 1) * B].fill(k as u8);
    }
    for (k, fill) in [(16, 0xB2), (17, 0xA1), (18, 0xA0), (19, 0xB4)] {
        v[k * B..(k + 1) * B].fill(fill);
    }
    let header = |v: &mut Vec<u8>, at: usize, kind: u64| {
        v[at..at + 16].copy_from_slice(&DIFF_AREA_GUID);
        put(v, at + 16, 1, 4);
        put(v, at + 20, kind, 4);
        put(v, at + 32, at as u64, 8);
    };
    let h = HEADER_OFFSET as usize;
    header(&mut v, h, 1);
    put(&mut v, h + 48, BLOCK, 8);
    v[h + 64..h + 96].fill(7);
    header(&mut v, B, 2);
    for (i, (pos, flags, list)) in [(1u64, 0u64, 2usize), (2, 0x400, 6)]
        .into_iter()
        .enumerate()
    {
        let e = B + 0x80 + i * 256;
        put(&mut v, e, 2, 8);
        put(&mut v, e + 8, 64 * BLOCK, 8);
        v[e + 16..e + 32].fill(pos as u8);
        put(&mut v, e + 32, pos, 8);
        put(&mut v, e + 40, flags, 8);
        put(&mut v, e + 48, pos * 100, 8);
        put(&mut v, e + 128, 3, 8);
        put(&mut v, e + 136, (list * B) as u64, 8);
        v[e + 144..e + 160].fill(pos as u8);
        put(&mut v, e + 176, ((list + 1) * B) as u64, 8);
        header(&mut v, list * B, 3);
        header(&mut v, (list + 1) * B, 6);
    }
    let descs: [(usize, usize, u64, usize, u64, u64); 5] = [
        (2, 41, 0, 17, 0, 0),
        (2, 42, 0, 18, 2, 0b101),
        (2, 43, 44 * BLOCK, 0, 1, 0),
        (6, 40, 0, 16, 0, 0),
        (6, 44, 0, 19, 0, 0),
    ];
    let mut count = [0usize; 8];
    for (list, orig, rel, store, flags, bm) in descs {
        let o = list * B + 0x80 + count[list] * 32;
        count[list] += 1;
        put(&mut v, o, (orig * B) as u64, 8);
        put(&mut v, o + 8, rel, 8);
        put(&mut v, o + 16, (store * B) as u64, 8);
        put(&mut v, o + 24, flags, 4);
        put(&mut v, o + 28, bm, 4);
    }
    v[7 * B + 0x80 + 45 / 8] |= 1 << (45 % 8);
    (v, [0, 1, 2, 3, 6, 7])
}

#[cfg(test)]
mod tests {
    use super::*;
    use deadbox_evidence::MemoryEvidence;

    fn block(kind: u32, cur: u64, next: u64) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK as usize];
        b[..16].copy_from_slice(&DIFF_AREA_GUID);
        b[16..20].copy_from_slice(&1u32.to_le_bytes());
        b[20..24].copy_from_slice(&kind.to_le_bytes());
        b[32..40].copy_from_slice(&cur.to_le_bytes());
        b[40..48].copy_from_slice(&next.to_le_bytes());
        b
    }

    #[test]
    fn guid_text() {
        assert_eq!(
            Guid(DIFF_AREA_GUID).to_string(),
            "3808876b-c176-4e48-b7ae-04046e6cc752"
        );
    }

    #[test]
    fn no_header_is_none() {
        let r = Region::whole(Arc::new(MemoryEvidence::new(vec![0u8; 0x10000])));
        assert!(Shadows::open(&r).unwrap().is_none());
    }

    #[test]
    fn forwarder_renames_later_regular_entry() {
        let d = |original, relative, store, flags| BlockDescriptor {
            original,
            relative,
            store,
            flags,
            bitmap: 0,
        };
        let e = build_entries(vec![
            d(BLOCK, 3 * BLOCK, 0, 1),
            d(3 * BLOCK, 0, 9 * BLOCK, 0),
            d(5 * BLOCK, 0, 7 * BLOCK, 0),
            d(5 * BLOCK, 5 * BLOCK, 0, 1),
        ]);
        // The regular entry at 3 is renamed to 1; the one at 5 is cancelled.
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].original, BLOCK);
        assert_eq!(e[1].original, BLOCK);
        assert_eq!(e[1].store, 9 * BLOCK);
        assert!(e[2].is_forwarder());
    }

    #[test]
    fn descriptors_per_block_are_capped() {
        let d = |original, flags| BlockDescriptor {
            original,
            relative: 0,
            store: 9 * BLOCK,
            flags,
            bitmap: 1,
        };
        let mut e: Vec<BlockDescriptor> = (0..1000).map(|_| d(BLOCK, 2)).collect();
        e.push(d(2 * BLOCK, 0));
        e.extend((0..3).map(|_| d(3 * BLOCK, 2)));
        assert_eq!(cap_per_block(&mut e), 1000 - MAX_DESCRIPTORS_PER_BLOCK);
        assert_eq!(e.len(), MAX_DESCRIPTORS_PER_BLOCK + 4);
        assert_eq!(e.iter().filter(|x| x.original == 3 * BLOCK).count(), 3);
    }

    /// The block descriptors draw on the run's memory budget: with room, the snapshots read as
    /// without a budget and hold their descriptors' bytes until dropped; with room for one
    /// descriptor, the stores are errors that say so and the snapshots are still listed.
    #[test]
    fn descriptors_draw_on_the_run_budget() {
        let (v, _) = synthetic_volume();
        let r = Region::whole(Arc::new(MemoryEvidence::new(v)));
        let free = Shadows::open(&r).unwrap().unwrap();
        let read = |s: &Shadows, n| {
            let snap = s.snapshot(n).unwrap();
            let mut b = vec![0u8; snap.len() as usize];
            snap.read_exact_at(0, &mut b).unwrap();
            b
        };
        let ample = Arc::new(MemoryBudget::new(1 << 30));
        let s = Shadows::open_in(&r, None, VssLimits::default(), Some(&ample))
            .unwrap()
            .unwrap();
        assert!(s.diagnostics().is_empty(), "{:?}", s.diagnostics());
        for n in 1..=2 {
            assert_eq!(read(&s, n), read(&free, n));
        }
        let held = (1 << 30) - ample.available();
        assert!(held > 0 && held % std::mem::size_of::<BlockDescriptor>() as u64 == 0);
        drop(s);
        assert_eq!(ample.available(), 1 << 30);
        let per = std::mem::size_of::<BlockDescriptor>() as u64;
        let tight = Arc::new(MemoryBudget::new(2 * per));
        let s = Shadows::open_in(&r, None, VssLimits::default(), Some(&tight))
            .unwrap()
            .unwrap();
        assert_eq!(s.snapshots().len(), 2);
        assert!(
            s.diagnostics()
                .iter()
                .any(|d| d.message.contains("more than 1 block descriptors")),
            "{:?}",
            s.diagnostics()
        );
    }

    #[test]
    fn synthetic_volume_reads_as_described() {
        let (v, _) = synthetic_volume();
        let r = Region::whole(Arc::new(MemoryEvidence::new(v)));
        let s = Shadows::open(&r).unwrap().unwrap();
        assert!(s.diagnostics().is_empty(), "{:?}", s.diagnostics());
        let s1 = s.snapshot(1).unwrap();
        let s2 = s.snapshot(2).unwrap();
        let at = |e: &ShadowVolume, k: u64, within: u64| {
            let mut b = [0u8; 1];
            e.read_exact_at(k * BLOCK + within, &mut b).unwrap();
            b[0]
        };
        assert_eq!(at(&s1, 40, 0), 0xB2);
        assert_eq!(at(&s1, 41, 9), 0xA1);
        assert_eq!(at(&s1, 42, 0), 0xA0);
        assert_eq!(at(&s1, 42, 512), 42);
        assert_eq!(at(&s1, 42, 1024), 0xA0);
        assert_eq!(at(&s1, 43, 0), 0xB4);
        assert_eq!(at(&s2, 43, 0), 43);
        assert_eq!(at(&s2, 45, 0), 0);
        assert_eq!(at(&s2, 46, 0), 46);
    }

    /// The fuzz harness on a few inputs (run with `RUSTFLAGS="--cfg fuzzing"`).
    #[cfg(fuzzing)]
    #[test]
    fn fuzz_harness_reads_the_synthetic_volume() {
        // No patch: both snapshots, 64 blocks each.
        assert_eq!(crate::fuzzing::vss(&[1]), 128);
        // A catalog whose next block is itself.
        assert_eq!(
            crate::fuzzing::vss(&[1, 1, 40, 0, 8, 0, 0x40, 0, 0, 0, 0, 0, 0]),
            0
        );
        // A block list pointing outside: snapshot 2 still reads, snapshot 1 does not.
        let far = [1, 2, 40, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(crate::fuzzing::vss(&far), 64);
        // Blocks parsed alone: a catalog block with one snapshot entry.
        let mut b = vec![4u8];
        b.extend(vec![0u8; 0x80 - 24]);
        b.extend([2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(crate::fuzzing::vss(&b), 1);
        assert_eq!(crate::fuzzing::vss(&[]), 0);
    }

    #[test]
    fn store_header_names_the_shadow_copy() {
        let mut b = block(TYPE_STORE_HEADER, 0, 0);
        b[0x90..0xA0].copy_from_slice(&[1; 16]);
        b[0xA0..0xB0].copy_from_slice(&[2; 16]);
        b[0xC0] = 6;
        b[0xC2..0xC8].copy_from_slice(b"P\0C\0\xe9\0");
        let h = parse_store_header(&b, 0).unwrap();
        assert_eq!(h.shadow_copy_id, Some(Guid([1; 16])));
        assert_eq!(h.set_id, Some(Guid([2; 16])));
        assert_eq!(h.machine.as_deref(), Some("PCé"));
        // A length past the block: no name, no panic.
        b[0xC0..0xC2].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(parse_store_header(&b, 0).unwrap().machine, None);
        // Another block type is an error.
        assert!(parse_store_header(&block(TYPE_BITMAP, 0, 0), 0).is_err());
    }

    #[test]
    fn looping_catalog_is_an_error() {
        let mut v = vec![0u8; 8 * BLOCK as usize];
        let mut h = block(TYPE_HEADER, HEADER_OFFSET, 0);
        h[48..56].copy_from_slice(&(2 * BLOCK).to_le_bytes());
        v[HEADER_OFFSET as usize..HEADER_OFFSET as usize + 512].copy_from_slice(&h[..512]);
        let c = block(TYPE_CATALOG, 2 * BLOCK, 2 * BLOCK);
        v[2 * BLOCK as usize..3 * BLOCK as usize].copy_from_slice(&c);
        let r = Region::whole(Arc::new(MemoryEvidence::new(v)));
        let e = Shadows::open(&r).unwrap_err();
        assert!(e.to_string().contains("loops"), "{e}");
    }
}
