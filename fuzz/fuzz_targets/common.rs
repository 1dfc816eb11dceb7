//! Shared by the `volume`, `record` and `index` targets: the base image (read once), a
//! copy-on-write overlay that holds an input's patches, fixup handling, and the reads of a
//! mutated image.

#![allow(dead_code)] // each target uses part of it

use deadbox::evidence::Evidence;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The base image and where its MFT records are.
pub struct Base {
    pub bytes: Vec<u8>,
    pub record_size: usize,
    /// Absolute offsets of the first (at most 256) MFT records.
    pub records: Vec<usize>,
}

/// The base image: by default the 2 MiB NTFS partition 3 of fixtures/disk-mbr.img (69 MFT
/// records: a directory, files resident and not, an ADS, a deleted file), small enough that an
/// input costs a few milliseconds; `DEADBOX_FUZZ_BASE=basic` takes the whole 8 MiB
/// fixtures/ntfs-basic.img instead (compressed, sparse and fragmented files, 120 hard links,
/// an attribute list; about 80 inputs a second).
pub fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let bytes = match std::env::var("DEADBOX_FUZZ_BASE").as_deref() {
            Ok("basic") => std::fs::read(fixtures.join("ntfs-basic.img")).expect("ntfs-basic.img"),
            _ => {
                let disk = std::fs::read(fixtures.join("disk-mbr.img")).expect("disk-mbr.img");
                disk[SMALL_OFFSET..SMALL_OFFSET + SMALL_LEN].to_vec()
            }
        };
        let ev: Arc<dyn Evidence> = Arc::new(deadbox::evidence::MemoryEvidence::new(bytes.clone()));
        let image = Image::from_evidence(Path::new("base.img"), ev, VolumeSelect::default())
            .expect("base image opens");
        let v = &image.volumes()[0];
        let record_size = v.geometry().record_size as usize;
        let records = (0..v.record_count().min(256))
            .filter_map(|e| v.record_offset(e).map(|o| o as usize))
            .collect();
        Base {
            bytes,
            record_size,
            records,
        }
    })
}

/// Where the small base volume is in fixtures/disk-mbr.img (partition 3: LBA 11648, 4096
/// sectors); make_seeds.py uses the same numbers.
const SMALL_OFFSET: usize = 11648 * 512;
const SMALL_LEN: usize = 4096 * 512;

const PAGE: usize = 4096;

/// The base image with an input's patches on top, as evidence: patched 4 KiB pages are copied,
/// the rest is read from the base. Copying the 8 MiB image for every input (twice, into an
/// `Arc<[u8]>`) was a third of the time.
#[derive(Debug)]
pub struct Overlay {
    base: &'static [u8],
    pages: BTreeMap<usize, Vec<u8>>,
}

impl Overlay {
    pub fn new() -> Self {
        Overlay {
            base: &base().bytes,
            pages: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.base.len()
    }

    /// Runs `f` on bytes `off..off + len` (clipped to the image) and keeps what it wrote.
    pub fn with_mut(&mut self, off: usize, len: usize, f: impl FnOnce(&mut [u8])) {
        let end = off.saturating_add(len).min(self.base.len());
        if off >= end {
            return;
        }
        let mut tmp = vec![0u8; end - off];
        self.copy_out(off, &mut tmp);
        f(&mut tmp);
        let mut at = off;
        while at < end {
            let p0 = at / PAGE * PAGE;
            let base = self.base;
            let page = self
                .pages
                .entry(p0 / PAGE)
                .or_insert_with(|| base[p0..(p0 + PAGE).min(base.len())].to_vec());
            let to = end.min(p0 + page.len());
            page[at - p0..to - p0].copy_from_slice(&tmp[at - off..to - off]);
            at = to;
        }
    }

    fn copy_out(&self, off: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.base[off..off + buf.len()]);
        let end = off + buf.len();
        for (&pi, page) in self
            .pages
            .range(off / PAGE..=(end.saturating_sub(1)) / PAGE)
        {
            let p0 = pi * PAGE;
            let from = off.max(p0);
            let to = end.min(p0 + page.len());
            if from < to {
                buf[from - off..to - off].copy_from_slice(&page[from - p0..to - p0]);
            }
        }
    }
}

impl Evidence for Overlay {
    fn len(&self) -> u64 {
        self.base.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> deadbox::Result<()> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.base.len() as u64 => {
                self.copy_out(offset as usize, buf);
                Ok(())
            }
            _ => Err(deadbox::Error::OutOfBounds {
                offset,
                len: buf.len() as u64,
                size: self.base.len() as u64,
            }),
        }
    }
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let o = usize::try_from(offset).ok()?;
        let end = o.checked_add(len)?;
        if end > self.base.len() || len == 0 {
            return None;
        }
        // Borrowed only where no page was patched, as a mapped image would be.
        if self
            .pages
            .range(o / PAGE..=(end - 1) / PAGE)
            .next()
            .is_some()
        {
            return None;
        }
        Some(&self.base[o..end])
    }
    fn format(&self) -> deadbox::evidence::Format {
        deadbox::evidence::Format::Other("fuzz overlay".into())
    }
}

/// Undoes (`undo = true`) or re-applies the fixups of the record at `rec`; does nothing when
/// the update sequence array does not fit (the record is then fuzzed as raw bytes).
pub fn fixups(rec: &mut [u8], undo: bool) {
    let rs = rec.len();
    let usa_off = u16::from_le_bytes([rec[4], rec[5]]) as usize;
    let usa_count = u16::from_le_bytes([rec[6], rec[7]]) as usize;
    if usa_count < 2 || rs % (usa_count - 1) != 0 || usa_off + 2 * usa_count > rs / (usa_count - 1)
    {
        return;
    }
    let stride = rs / (usa_count - 1);
    let usn = [rec[usa_off], rec[usa_off + 1]];
    for i in 0..usa_count - 1 {
        let pos = (i + 1) * stride - 2;
        let fix = usa_off + 2 + 2 * i;
        if undo {
            rec[pos] = rec[fix];
            rec[pos + 1] = rec[fix + 1];
        } else {
            rec[fix] = rec[pos];
            rec[fix + 1] = rec[pos + 1];
            rec[pos] = usn[0];
            rec[pos + 1] = usn[1];
        }
    }
}

/// Where the root directory's `$I30` index is in the base image.
pub struct RootIndex {
    /// Absolute offset and size of the index block at VCN 0, when there is one.
    pub block: Option<(usize, usize)>,
    /// Offset of the `$INDEX_ROOT` value inside MFT record 5, and the end of that attribute.
    pub root_value: usize,
    pub root_end: usize,
}

pub fn root_index() -> &'static RootIndex {
    static IX: OnceLock<RootIndex> = OnceLock::new();
    IX.get_or_init(|| {
        let b = base();
        let ev: Arc<dyn Evidence> = Arc::new(Overlay::new());
        let image = Image::from_evidence(Path::new("base.img"), ev, VolumeSelect::default())
            .expect("base image opens");
        let v = &image.volumes()[0];
        let listing = v.walk();
        let root = listing.entry(5).expect("root directory");
        let ix = v.dir_index(root);
        // The block holding the first key read from an index block.
        let block = ix.entries.iter().find_map(|e| match e.source {
            deadbox::ntfs::IndexSource::Node { .. } => {
                let o = e.offset? as usize;
                let start = b.bytes[..o].windows(4).rposition(|w| w == b"INDX")?;
                Some((start, 4096.min(b.bytes.len() - start)))
            }
            _ => None,
        });
        // The $INDEX_ROOT attribute of record 5 (fixups undone on a copy).
        let r = b.records[5];
        let mut rec = b.bytes[r..r + b.record_size].to_vec();
        fixups(&mut rec, true);
        let mut off = u16::from_le_bytes([rec[20], rec[21]]) as usize;
        let (mut root_value, mut root_end) = (0, 0);
        while off + 24 <= rec.len() {
            let t = u32::from_le_bytes(rec[off..off + 4].try_into().unwrap());
            let len = u32::from_le_bytes(rec[off + 4..off + 8].try_into().unwrap()) as usize;
            if t == 0xFFFF_FFFF || len == 0 {
                break;
            }
            if t == 0x90 {
                root_value = off + u16::from_le_bytes([rec[off + 20], rec[off + 21]]) as usize;
                root_end = off + len;
                break;
            }
            off += len;
        }
        assert!(root_value > 0, "record 5 has an $INDEX_ROOT");
        RootIndex {
            block,
            root_value,
            root_end,
        }
    })
}

/// The mutated image, opened (`None` when it does not open: that is a value, not a crash).
fn open(overlay: Overlay) -> Option<Image> {
    let ev: Arc<dyn Evidence> = Arc::new(overlay);
    Image::from_evidence(Path::new("fuzz.img"), ev, VolumeSelect::default()).ok()
}

/// Walks the volume and reads every directory's index.
pub fn read_indexes(overlay: Overlay) {
    let Some(image) = open(overlay) else {
        return;
    };
    for v in image.volumes() {
        let listing = v.walk();
        for f in listing.files.iter().filter(|f| f.is_dir) {
            let ix = v.dir_index(f);
            assert!(ix.slack.iter().all(|e| e.name.parent_entry == f.entry));
        }
        let _ = deadbox::rows::slack_rows(v, &listing);
    }
}

/// Bytes of each stream read per input.
const CAP: u64 = 64 << 10;

/// Opens the image, walks every volume, reads every stream (bounded) and hashes the listing.
pub fn read_everything(overlay: Overlay) {
    let Some(image) = open(overlay) else {
        return;
    };
    for v in image.volumes() {
        let listing = v.walk();
        for item in listing.items() {
            let _ = item.path();
        }
        for f in &listing.files {
            let _ = v.record_offset(f.entry);
            for s in &f.streams {
                let _ = v.stream_offset(s);
                let _ = v.contiguous_slice(s);
                // At most 64 KiB of each stream: enough to cross every kind of run, hole and
                // compression unit of the base image, and it keeps an input cheap (LZNT1 under
                // libFuzzer's compare tracing was 70% of the time when streams were read whole).
                let mut n = 0u64;
                let r = v.visit_stream(s, &mut |c| {
                    n += c.len() as u64;
                    if n >= CAP {
                        Err(deadbox::Error::Limit("fuzz cap".into()))
                    } else {
                        Ok(())
                    }
                });
                if r.is_ok() {
                    assert_eq!(n, s.size, "a successful visit delivers exactly size bytes");
                }
            }
        }
        for f in listing.files.iter().filter(|f| f.is_dir) {
            let _ = v.dir_index(f);
        }
        // No digest: the listing's rows and reads are what is fuzzed, not the hash crates
        // (unoptimised in this build, they would set the pace).
        let _ = deadbox::rows::hash_listing(v, &listing, deadbox::hash::Algorithms::NONE, CAP);
    }
}
