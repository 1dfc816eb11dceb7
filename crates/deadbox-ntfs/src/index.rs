//! Directory indexes (`$I30`): the B-tree of a directory's names, and the names left in the
//! slack of its index blocks.
//!
//! A directory lists its children twice: each child's `$FILE_NAME` points at the directory, and
//! the directory's `$I30` index holds a copy of that `$FILE_NAME` as the key of an entry. The
//! walk builds paths from the first; this module reads the second. What it adds for an
//! examiner is the slack: when a name is removed from an index block, the entries after it are
//! shifted down and the tail of the block keeps stale bytes, often whole `$FILE_NAME` keys of
//! deleted (or renamed) files with their four timestamps and size, even after the file's MFT
//! record has been reused. Nothing else on the volume still knows those names.
//!
//! Written by hand: the `ntfs` crate (0.4) walks an index through `Read + Seek` without cycle
//! or depth guards and has no slack access. Every offset read from disk is checked; a
//! sub-node VCN met twice (an index node pointing to itself or an ancestor), a tree deeper than
//! [`MAX_DEPTH`] or more nodes than the allocation holds ends that branch with an error.

use super::record::{apply_fixups, parse_file_name, FileName};
use super::{FileEntry, NtfsVolume};
use deadbox_evidence::bytes::{le_u16, le_u32, le_u64};
use std::collections::{HashMap, HashSet};

/// Deepest B-tree followed (a directory of millions of names is 4–5 levels deep).
pub(crate) const MAX_DEPTH: usize = 32;
/// Largest index block accepted (Windows uses 4 KiB).
pub(crate) const MAX_BLOCK: u32 = 64 << 10;
/// Most entries read from one node (a 64 KiB node holds at most ~800 names).
pub(crate) const MAX_ENTRIES_PER_NODE: usize = 4096;
/// Most live entries read from one directory (a directory of millions of files exists; the
/// bound keeps a looping or hostile index from growing without end).
const MAX_ENTRIES: usize = 4 << 20;
/// Most bytes of memory reading a directory index takes per byte of it, at worst: an entry of
/// 88 bytes (a one-character name) becomes an [`IndexEntry`] of ~150 bytes, and its key is
/// kept once more to tell stale slack copies from live entries.
pub(crate) const INDEX_WIDENING: u64 = 4;
/// Most names carved from one directory's slack (real directories have a few hundred at most).
const MAX_SLACK: usize = 65_536;
/// Most index blocks read from one directory's allocation (64 Ki blocks of 4 KiB: 256 MiB of
/// index, far beyond any real directory).
const MAX_BLOCKS: u64 = 65_536;
/// FILETIMEs accepted in carved slack entries: 1980-01-01 to 2107-12-31 (anything else is noise).
const MIN_FILETIME: u64 = 119_600_064_000_000_000;
const MAX_FILETIME: u64 = 159_992_704_000_000_000;

/// Where an index entry was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexSource {
    /// The resident `$INDEX_ROOT`.
    Root,
    /// A live entry of the index block at this VCN.
    Node {
        /// VCN of the index block.
        vcn: u64,
    },
    /// Carved from the unused tail (slack) of the index block at this VCN.
    Slack {
        /// VCN of the index block.
        vcn: u64,
    },
}

/// One entry of a directory index: the file it names and the `$FILE_NAME` copy it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// MFT entry the index entry points to (for a slack entry: as read, possibly reused since).
    pub entry: u64,
    /// Sequence number in the reference.
    pub sequence: u16,
    /// The key: a copy of the file's `$FILE_NAME` at the time it was indexed.
    pub name: FileName,
    /// `FILE_ATTRIBUTE_*` flags recorded in the key (0x1000_0000: a directory).
    pub flags: u32,
    /// Where it was read.
    pub source: IndexSource,
    /// Absolute offset of the key in the evidence, when known.
    pub offset: Option<u64>,
}

impl IndexEntry {
    /// The key says the file is a directory.
    pub fn is_dir(&self) -> bool {
        self.flags & 0x1000_0000 != 0
    }
}

/// A directory's `$I30` index, read by [`NtfsVolume::dir_index`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirIndex {
    /// Live entries, in B-tree (collation) order; DOS 8.3 duplicates included as stored.
    pub entries: Vec<IndexEntry>,
    /// Names carved from the slack of index blocks that are not also live entries (a deleted
    /// or renamed file's old key, or an entry moved to another node by a split).
    pub slack: Vec<IndexEntry>,
    /// Problems met (bad fixups, cycles, out-of-range offsets); the rest is still read.
    pub errors: Vec<String>,
}

/// One index node: where its entries are, relative to `buf`.
pub(crate) struct Node<'a> {
    pub(crate) buf: &'a [u8],
    /// Start of the node header in `buf`.
    pub(crate) header: usize,
}

impl Node<'_> {
    /// (first entry, end of used entries, end of allocated space), bounds-checked.
    pub(crate) fn bounds(&self) -> Result<(usize, usize, usize), String> {
        let h = self.header;
        let (Some(first), Some(used), Some(alloc)) = (
            le_u32(self.buf, h),
            le_u32(self.buf, h + 4),
            le_u32(self.buf, h + 8),
        ) else {
            return Err("index node header truncated".into());
        };
        let first = h + first as usize;
        let used = (h + used as usize).min(self.buf.len());
        let alloc = (h + alloc as usize).min(self.buf.len());
        if first > used {
            return Err(format!(
                "index entries start at {first:#x}, past their end {used:#x}"
            ));
        }
        Ok((first, used, alloc.max(used)))
    }
}

/// A parsed live entry header: key, sub-node, last flag.
pub(crate) struct RawEntry {
    pub(crate) reference: u64,
    pub(crate) key: Option<(usize, usize)>,
    pub(crate) child: Option<u64>,
    pub(crate) last: bool,
    pub(crate) len: usize,
}

pub(crate) fn raw_entry(buf: &[u8], off: usize, end: usize) -> Result<RawEntry, String> {
    let (Some(reference), Some(len), Some(key_len), Some(flags)) = (
        le_u64(buf, off),
        le_u16(buf, off + 8),
        le_u16(buf, off + 10),
        le_u16(buf, off + 12),
    ) else {
        return Err(format!("index entry at {off:#x} truncated"));
    };
    let len = len as usize;
    if len < 16 || len % 8 != 0 || off + len > end {
        return Err(format!(
            "index entry at {off:#x} has impossible length {len}"
        ));
    }
    let has_child = flags & 1 != 0;
    let last = flags & 2 != 0;
    let key_len = key_len as usize;
    let key = if last || key_len == 0 {
        None
    } else if 16 + key_len > len {
        return Err(format!(
            "index entry at {off:#x}: key of {key_len} bytes overruns it"
        ));
    } else {
        Some((off + 16, key_len))
    };
    let child = if has_child {
        if len < 24 {
            return Err(format!(
                "index entry at {off:#x}: no room for its sub-node VCN"
            ));
        }
        le_u64(buf, off + len - 8)
    } else {
        None
    };
    Ok(RawEntry {
        reference,
        key,
        child,
        last,
        len,
    })
}

impl NtfsVolume {
    /// Reads the `$I30` index of directory `dir` (from a listing of this volume): its live
    /// entries in B-tree order and the names carved from index-block slack. Damage is reported
    /// in [`DirIndex::errors`]; whatever else is readable is still returned. A file that is not
    /// a directory gives an empty index.
    pub fn dir_index(&self, dir: &FileEntry) -> DirIndex {
        let mut out = DirIndex::default();
        let Some(ix) = &dir.index else {
            return out;
        };
        let Some(root) = &ix.root else {
            if dir.is_dir {
                out.errors
                    .push("directory without an $I30 index root".into());
            }
            return out;
        };
        let Some(block_size) = le_u32(root, 8) else {
            out.errors.push("$I30 index root truncated".into());
            return out;
        };
        // Counted in the run's memory budget while it is read: at worst INDEX_WIDENING times
        // its bytes (entries with their names, the set of live keys, the block being read).
        // Blocks that can be read: the allocated clusters (holes hold no block), at most the
        // stream's size and MAX_BLOCKS blocks.
        let cs = self.geometry.cluster_size;
        let allocation = ix.allocation.as_ref().map_or(0, |a| {
            let mapped = a
                .runs()
                .iter()
                .filter(|r| r.lcn.is_some())
                .fold(0u64, |t, r| t.saturating_add(r.len.saturating_mul(cs)));
            mapped
                .min(a.size)
                .min(MAX_BLOCKS.saturating_mul(u64::from(block_size)))
        });
        let on_disk = (root.len() as u64).saturating_add(allocation);
        let need = on_disk.saturating_mul(INDEX_WIDENING);
        let _memory = match &self.budget {
            Some(b) => match b.acquire(need) {
                Some(g) => Some(g),
                None => {
                    out.errors.push(format!(
                        "index not read: its {on_disk} bytes take up to {need} bytes in memory, more than the memory budget of {} bytes has room for",
                        b.limit()
                    ));
                    return out;
                }
            },
            None => None,
        };
        // VCNs of index blocks count clusters, or 512-byte units when blocks are smaller than
        // a cluster.
        let vcn_unit = if u64::from(block_size) >= cs { cs } else { 512 };
        let block_ok = (512..=MAX_BLOCK).contains(&block_size) && block_size.is_power_of_two();
        let mut seen_vcn: HashSet<u64> = HashSet::new();
        // Slack names of the blocks the traversal read, by VCN (see `carve_block`).
        let mut carved: HashMap<u64, Vec<IndexEntry>> = HashMap::new();
        let mut carved_kept = 0usize;
        // Keys of live entries (name and times): a carved key equal to one is a stale copy left
        // by a shift or a node split, not a lost name. A key with a live entry's name but other
        // times is kept: an earlier file of that name (TSK lists those too).
        let mut live_keys: HashSet<(String, [crate::FileTime; 4])> = HashSet::new();

        // Iterative in-order traversal: a stack of (node entries, next position, depth).
        struct Frame {
            buf: Vec<u8>,
            pos: usize,
            end: usize,
            source: IndexSource,
            /// Absolute evidence offset of `buf[0]`, when known.
            base: Option<u64>,
            depth: usize,
        }
        let root_node = Node {
            buf: root,
            header: 16,
        };
        let mut stack = Vec::new();
        match root_node.bounds() {
            Ok((first, used, _)) => stack.push(Frame {
                buf: root.clone(),
                pos: first,
                end: used,
                source: IndexSource::Root,
                base: None,
                depth: 0,
            }),
            Err(e) => out.errors.push(format!("$I30 root: {e}")),
        }
        // Per frame, the key to emit once its child subtree is done.
        let mut pending: Vec<Option<IndexEntry>> = vec![None];
        while let Some(top) = stack.last_mut() {
            // Emit the key whose subtree was just finished.
            if let Some(e) = pending.last_mut().and_then(Option::take) {
                live_keys.insert((e.name.name.clone(), e.name.times));
                out.entries.push(e);
            }
            if out.entries.len() >= MAX_ENTRIES {
                out.errors.push(format!(
                    "more than {MAX_ENTRIES} live entries; the rest of the index is not read"
                ));
                break;
            }
            if top.pos >= top.end {
                stack.pop();
                pending.pop();
                continue;
            }
            let raw = match raw_entry(&top.buf, top.pos, top.end) {
                Ok(r) => r,
                Err(e) => {
                    out.errors.push(format!("{}: {e}", where_(top.source)));
                    top.pos = top.end;
                    continue;
                }
            };
            top.pos = if raw.last { top.end } else { top.pos + raw.len };
            let entry = raw.key.and_then(|(k, n)| {
                let key = &top.buf[k..k + n];
                match parse_file_name(key) {
                    Ok(name) => Some(IndexEntry {
                        entry: raw.reference & 0xFFFF_FFFF_FFFF,
                        sequence: (raw.reference >> 48) as u16,
                        flags: le_u32(key, 56).unwrap_or(0),
                        name,
                        source: top.source,
                        offset: top.base.map(|b| b + k as u64),
                    }),
                    Err(e) => {
                        out.errors
                            .push(format!("{}: key at {k:#x}: {e}", where_(top.source)));
                        None
                    }
                }
            });
            let depth = top.depth;
            let Some(vcn) = raw.child else {
                if let Some(e) = entry {
                    live_keys.insert((e.name.name.clone(), e.name.times));
                    out.entries.push(e);
                }
                continue;
            };
            // Descend first; the key comes after its left subtree.
            if let Some(p) = pending.last_mut() {
                *p = entry;
            }
            if !block_ok {
                out.errors
                    .push(format!("index block size {block_size} is not usable"));
                continue;
            }
            if depth + 1 > MAX_DEPTH {
                out.errors
                    .push(format!("index deeper than {MAX_DEPTH} levels at VCN {vcn}"));
                continue;
            }
            if !seen_vcn.insert(vcn) {
                out.errors.push(format!(
                    "index node at VCN {vcn} reached twice (the tree loops); not followed again"
                ));
                continue;
            }
            match self.index_block(ix, vcn, vcn_unit, block_size) {
                Ok((buf, base)) => {
                    // Its slack is carved now, so the slack pass below need not read it again
                    // (bounded: past MAX_SLACK names kept, later blocks are simply re-read).
                    if carved_kept < MAX_SLACK {
                        let c = carve_block(&buf, base, vcn, dir.entry);
                        carved_kept += c.len();
                        carved.insert(vcn, c);
                    }
                    let node = Node {
                        buf: &buf,
                        header: 0x18,
                    };
                    match node.bounds() {
                        Ok((first, used, _)) => {
                            stack.push(Frame {
                                pos: first,
                                end: used,
                                source: IndexSource::Node { vcn },
                                base,
                                depth: depth + 1,
                                buf,
                            });
                            pending.push(None);
                        }
                        Err(e) => out.errors.push(format!("index block at VCN {vcn}: {e}")),
                    }
                }
                Err(e) => out.errors.push(format!("index block at VCN {vcn}: {e}")),
            }
        }

        // Slack: every block of the allocation, reached by the tree or not.
        if let (Some(alloc), true) = (&ix.allocation, block_ok) {
            let blocks = (alloc.size / u64::from(block_size)).min(MAX_BLOCKS);
            if alloc.size / u64::from(block_size) > MAX_BLOCKS {
                out.errors.push(format!(
                    "index allocation of {} bytes; slack read from the first {MAX_BLOCKS} blocks only",
                    alloc.size
                ));
            }
            for b in 0..blocks {
                let vcn = b * u64::from(block_size) / vcn_unit;
                let names = match carved.remove(&vcn) {
                    Some(c) => c,
                    None => match self.index_block(ix, vcn, vcn_unit, block_size) {
                        Ok((buf, base)) => carve_block(&buf, base, vcn, dir.entry),
                        // Unused or unreadable blocks: reported above when the tree reached them.
                        Err(_) => continue,
                    },
                };
                if out.slack.len() >= MAX_SLACK {
                    out.errors.push(format!(
                        "more than {MAX_SLACK} names in index slack; the rest is not carved"
                    ));
                    break;
                }
                for e in names {
                    // Once per name: the same stale key is often in several blocks.
                    if live_keys.insert((e.name.name.clone(), e.name.times)) {
                        out.slack.push(e);
                    }
                }
            }
        }
        out
    }

    /// Reads the index block at `vcn` and applies its fixups; returns it with the absolute
    /// offset of its first byte when the block is stored contiguously.
    pub(crate) fn index_block(
        &self,
        ix: &super::DirIndexAttrs,
        vcn: u64,
        vcn_unit: u64,
        block_size: u32,
    ) -> Result<(Vec<u8>, Option<u64>), String> {
        let alloc = ix
            .allocation
            .as_ref()
            .ok_or("sub-node without an $INDEX_ALLOCATION")?;
        let off = vcn
            .checked_mul(vcn_unit)
            .filter(|o| o.saturating_add(u64::from(block_size)) <= alloc.size)
            .ok_or_else(|| format!("VCN {vcn} is outside the index allocation"))?;
        let mut buf = vec![0u8; block_size as usize];
        self.read_runs_range(alloc.runs(), off, &mut buf)
            .map_err(|e| e.to_string())?;
        if &buf[0..4] != b"INDX" {
            return Err("no INDX signature".into());
        }
        apply_fixups(&mut buf)?;
        // NTFS writes each block's own VCN in its header. A block read at another VCN is
        // misplaced, or the run list maps several VCNs onto the same clusters: followed, such
        // aliases would let a tiny image expand into millions of entries (the same block once
        // per alias), so only the block at its own VCN is read.
        let own = le_u64(&buf, 16).ok_or("index block header truncated")?;
        if own != vcn {
            return Err(format!(
                "the block read at VCN {vcn} says it is VCN {own} (misplaced or aliased); not read"
            ));
        }
        let cs = self.geometry.cluster_size;
        let base = super::find_run(alloc.runs(), off / cs).and_then(|r| {
            let lcn = r.lcn?;
            let in_run = off.checked_sub(r.vcn.checked_mul(cs)?)?;
            // Only when the whole block is inside this run.
            (in_run + u64::from(block_size) <= r.len.checked_mul(cs)?).then_some(())?;
            lcn.checked_mul(cs)?
                .checked_add(in_run)?
                .checked_add(self.region.start())
        });
        Ok((buf, base))
    }
}

/// The names carved from the slack of one index block (fixups applied), with their source and
/// absolute offsets set; none when the node header is unusable.
fn carve_block(buf: &[u8], base: Option<u64>, vcn: u64, dir: u64) -> Vec<IndexEntry> {
    let node = Node { buf, header: 0x18 };
    let Ok((_, used, alloc_end)) = node.bounds() else {
        return Vec::new();
    };
    let mut names = carve(buf, used, alloc_end, dir);
    for e in &mut names {
        e.source = IndexSource::Slack { vcn };
        e.offset = base.zip(e.offset).map(|(b, o)| b + o);
    }
    names
}

fn where_(s: IndexSource) -> String {
    match s {
        IndexSource::Root => "$I30 root".into(),
        IndexSource::Node { vcn } | IndexSource::Slack { vcn } => {
            format!("index block at VCN {vcn}")
        }
    }
}

/// Carves `$FILE_NAME` keys from `buf[from..to]` (the slack of one index block). A key is
/// accepted when its parent reference is `dir`, its name length and namespace are valid, its
/// name fits and decodes, and its four times are plausible; the entry header in front of it
/// gives the file reference when present. Returned offsets are relative to `buf`.
pub(crate) fn carve(buf: &[u8], from: usize, to: usize, dir: u64) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    let to = to.min(buf.len());
    // Keys start 16 bytes into an 8-aligned entry.
    let mut p = from.div_ceil(8) * 8;
    while p + 66 <= to && out.len() < MAX_ENTRIES_PER_NODE {
        let key_at = p;
        let ok = (|| {
            let parent = le_u64(buf, key_at)?;
            if parent & 0xFFFF_FFFF_FFFF != dir {
                return None;
            }
            let n = *buf.get(key_at + 64)? as usize;
            let ns = *buf.get(key_at + 65)?;
            if n == 0 || ns > 3 || key_at + 66 + 2 * n > to {
                return None;
            }
            for i in 0..4 {
                let t = le_u64(buf, key_at + 8 + 8 * i)?;
                if !(MIN_FILETIME..=MAX_FILETIME).contains(&t) {
                    return None;
                }
            }
            let name = parse_file_name(&buf[key_at..key_at + 66 + 2 * n]).ok()?;
            if name.lossy || name.name.contains(['\0', '/']) {
                return None;
            }
            let reference = key_at
                .checked_sub(16)
                .and_then(|h| le_u64(buf, h))
                .unwrap_or(0);
            Some((
                IndexEntry {
                    entry: reference & 0xFFFF_FFFF_FFFF,
                    sequence: (reference >> 48) as u16,
                    flags: le_u32(buf, key_at + 56).unwrap_or(0),
                    name,
                    source: IndexSource::Slack { vcn: 0 },
                    offset: Some(key_at as u64),
                },
                66 + 2 * n,
            ))
        })();
        match ok {
            Some((e, len)) => {
                out.push(e);
                p = (key_at + len + 16).div_ceil(8) * 8;
            }
            None => p += 8,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parent: u64, name: &str, t: u64) -> Vec<u8> {
        let mut k = vec![0u8; 66];
        k[0..8].copy_from_slice(&parent.to_le_bytes());
        for i in 0..4 {
            k[8 + 8 * i..16 + 8 * i].copy_from_slice(&t.to_le_bytes());
        }
        let units: Vec<u16> = name.encode_utf16().collect();
        k[64] = units.len() as u8;
        k[65] = 1;
        for u in units {
            k.extend_from_slice(&u.to_le_bytes());
        }
        k
    }

    #[test]
    fn carves_keys_with_and_without_headers() {
        let t = 132_590_000_000_000_000; // 2021
        let mut buf = vec![0u8; 8];
        // A whole entry: header (reference 77, seq 3) + key.
        buf.extend_from_slice(&(77u64 | 3 << 48).to_le_bytes());
        buf.extend_from_slice(&[0x60, 0, 0x50, 0, 0, 0, 0, 0]);
        buf.extend_from_slice(&key(5 | 5 << 48, "shell.aspx", t));
        buf.resize(buf.len().div_ceil(8) * 8, 0);
        // Noise, then a key of another directory (rejected), then one with a bad time.
        buf.extend_from_slice(&[0xAB; 24]);
        buf.extend_from_slice(&key(6, "other.txt", t));
        buf.resize(buf.len().div_ceil(8) * 8 + 16, 0);
        buf.extend_from_slice(&key(5, "old.txt", 5));
        buf.resize(buf.len().div_ceil(8) * 8 + 16, 0);
        buf.extend_from_slice(&key(5, "x.ashx", t));
        buf.resize(buf.len() + 64, 0);
        let got = carve(&buf, 0, buf.len(), 5);
        let names: Vec<&str> = got.iter().map(|e| e.name.name.as_str()).collect();
        assert_eq!(names, ["shell.aspx", "x.ashx"]);
        assert_eq!((got[0].entry, got[0].sequence), (77, 3));
        assert_eq!(got[0].offset, Some(24));
    }

    #[test]
    fn carving_stays_in_bounds_on_any_bytes() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for len in [0usize, 1, 65, 66, 67, 200, 4096] {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = carve(&buf, 0, len + 100, 0);
            let _ = carve(&buf, len, 3, 5);
        }
    }
}
