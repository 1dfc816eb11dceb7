//! Volume Shadow Copies on synthetic volumes written here from the published layout: what each
//! block-descriptor kind (regular, overlay, forwarder) and the "free block" bitmap make a
//! snapshot show, then hostile catalogs and store lists — loops, pointers outside the image,
//! unaligned offsets, descriptor counts past the limits, random damage — which must give typed
//! errors or diagnostics, never a panic or an unbounded loop.

use deadbox::evidence::{Error, Evidence, MemoryEvidence, Region};
use deadbox::ntfs::vss::{Shadows, VssLimits, BLOCK, DIFF_AREA_GUID, HEADER_OFFSET};
use std::sync::Arc;

const B: usize = BLOCK as usize;
/// Blocks of the synthetic volume (1 MiB).
const BLOCKS: usize = 64;

// Where the structures are (block numbers).
const CATALOG: usize = 1;
const LIST_A: usize = 2;
const BITMAP_A: usize = 3;
const LIST_B: usize = 6;
const BITMAP_B: usize = 7;

struct Vol {
    b: Vec<u8>,
}

impl Vol {
    fn block_header(&mut self, block: usize, kind: u32, next: u64) {
        let o = block * B;
        self.b[o..o + B].fill(0);
        self.b[o..o + 16].copy_from_slice(&DIFF_AREA_GUID);
        self.put32(o + 16, 1);
        self.put32(o + 20, kind);
        self.put64(o + 32, o as u64);
        self.put64(o + 40, next);
    }
    fn put32(&mut self, at: usize, v: u32) {
        self.b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put64(&mut self, at: usize, v: u64) {
        self.b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    /// Descriptor `i` of the block list at `block`.
    fn desc(&mut self, block: usize, i: usize, d: (usize, u64, usize, u32, u32)) {
        let (orig, rel, store, flags, bm) = d;
        let o = block * B + 0x80 + i * 32;
        self.put64(o, (orig * B) as u64);
        self.put64(o + 8, rel);
        self.put64(o + 16, (store * B) as u64);
        self.put32(o + 24, flags);
        self.put32(o + 28, bm);
    }
    fn region(&self) -> Region {
        Region::whole(Arc::new(MemoryEvidence::new(self.b.clone())))
    }
}

fn store_id(n: u8) -> [u8; 16] {
    [n; 16]
}

/// Two snapshots. Live block k (32..64) is filled with byte k. Store A (snapshot 1): block 41
/// copied (0xA1), an overlay of sectors 0 and 2 of block 42 (0xA0), a forwarder of block 43 to
/// block 44. Store B (snapshot 2, flag 0x400): block 40 (0xB2) and block 44 (0xB4) copied;
/// block 45 free at snapshot time.
fn volume() -> Vol {
    let mut v = Vol {
        b: vec![0u8; BLOCKS * B],
    };
    for k in 32..BLOCKS {
        v.b[k * B..(k + 1) * B].fill(k as u8);
    }
    for (k, fill) in [(16, 0xB2), (17, 0xA1), (18, 0xA0), (19, 0xB4)] {
        v.b[k * B..(k + 1) * B].fill(fill);
    }
    // Volume header.
    let h = HEADER_OFFSET as usize;
    v.b[h..h + 16].copy_from_slice(&DIFF_AREA_GUID);
    v.put32(h + 16, 1);
    v.put32(h + 20, 1);
    v.put64(h + 24, HEADER_OFFSET);
    v.put64(h + 32, HEADER_OFFSET);
    v.put64(h + 48, (CATALOG * B) as u64);
    v.b[h + 64..h + 80].copy_from_slice(&[7; 16]);
    v.b[h + 80..h + 96].copy_from_slice(&[7; 16]);
    // Catalog: a type 2 and a type 3 entry per store.
    v.block_header(CATALOG, 2, 0);
    let c = CATALOG * B + 0x80;
    for (i, (id, pos, flags, time, list, bitmap)) in [
        (1u8, 1u64, 0u64, 100u64, LIST_A, BITMAP_A),
        (2, 2, 0x400, 200, LIST_B, BITMAP_B),
    ]
    .into_iter()
    .enumerate()
    {
        let e = c + i * 256;
        v.put64(e, 2);
        v.put64(e + 8, (BLOCKS * B) as u64);
        v.b[e + 16..e + 32].copy_from_slice(&store_id(id));
        v.put64(e + 32, pos);
        v.put64(e + 40, flags);
        v.put64(e + 48, time);
        let e = e + 128;
        v.put64(e, 3);
        v.put64(e + 8, (list * B) as u64);
        v.b[e + 16..e + 32].copy_from_slice(&store_id(id));
        v.put64(e + 48, (bitmap * B) as u64);
    }
    v.block_header(LIST_A, 3, 0);
    v.desc(LIST_A, 0, (41, 0, 17, 0, 0));
    v.desc(LIST_A, 1, (42, 0, 18, 2, 0b101));
    v.desc(LIST_A, 2, (43, (44 * B) as u64, 0, 1, 0));
    v.block_header(LIST_B, 3, 0);
    v.desc(LIST_B, 0, (40, 0, 16, 0, 0));
    v.desc(LIST_B, 1, (44, 0, 19, 0, 0));
    v.block_header(BITMAP_A, 6, 0);
    v.block_header(BITMAP_B, 6, 0);
    v.b[BITMAP_B * B + 0x80 + 45 / 8] |= 1 << (45 % 8);
    v
}

fn block(ev: &dyn Evidence, k: usize) -> Vec<u8> {
    let mut b = vec![0u8; B];
    ev.read_exact_at((k * B) as u64, &mut b).unwrap();
    b
}

fn all(b: &[u8], x: u8) -> bool {
    b.iter().all(|&y| y == x)
}

#[test]
fn descriptors_and_bitmap_shape_each_snapshot() {
    let v = volume();
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(s.diagnostics().is_empty(), "{:?}", s.diagnostics());
    let info = s.snapshots();
    assert_eq!(info.len(), 2);
    assert_eq!((info[0].number, info[0].created.0), (1, 100));
    assert_eq!(info[1].store_size, Some(2 * BLOCK));
    // Store A lists 3 descriptors, 2 with data blocks (the forwarder has none).
    assert_eq!(info[0].store_size, Some(2 * BLOCK));
    let (s1, s2) = (s.snapshot(1).unwrap(), s.snapshot(2).unwrap());
    // Block 40: copied into store B; snapshot 1 reads it through the newer store.
    assert!(all(&block(&s2, 40), 0xB2));
    assert!(all(&block(&s1, 40), 0xB2));
    // Block 41: only in store A.
    assert!(all(&block(&s1, 41), 0xA1));
    assert!(all(&block(&s2, 41), 41));
    // Block 42: an overlay of sectors 0 and 2 over the live block.
    let b = block(&s1, 42);
    for (k, sector) in b.chunks(512).enumerate() {
        assert!(
            all(sector, if k == 0 || k == 2 { 0xA0 } else { 42 }),
            "sector {k}"
        );
    }
    assert!(all(&block(&s2, 42), 42));
    // Block 43 of snapshot 1 is forwarded to block 44 of the newer store.
    assert!(all(&block(&s1, 43), 0xB4));
    assert!(all(&block(&s2, 43), 43));
    // Block 45 was free when snapshot 2 was taken, and store B zeroes free blocks.
    assert!(all(&block(&s2, 45), 0));
    assert!(all(&block(&s1, 45), 0));
    // Elsewhere: the live volume; and reads across blocks join them.
    assert!(all(&block(&s1, 50), 50));
    let mut two = vec![0u8; 1024];
    s1.read_exact_at((41 * B - 512) as u64, &mut two).unwrap();
    assert!(all(&two[..512], 0xB2) && all(&two[512..], 0xA1));
    // Past the end: an error, not a panic.
    let mut b = [0u8; 16];
    assert!(matches!(
        s1.read_exact_at(s1.len() - 8, &mut b),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(s.snapshot(3).is_err() && s.snapshot(0).is_err());
}

#[test]
fn looping_catalog_is_a_format_error() {
    let mut v = volume();
    v.put64(CATALOG * B + 40, (CATALOG * B) as u64);
    let e = Shadows::open(&v.region()).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
    assert!(e.to_string().contains("loops"), "{e}");
}

#[test]
fn catalog_outside_the_image_is_an_error() {
    let mut v = volume();
    v.put64(HEADER_OFFSET as usize + 48, 1 << 40);
    let e = Shadows::open(&v.region()).unwrap_err();
    assert!(matches!(e, Error::OutOfBounds { .. }), "{e}");
    // Unaligned: a format error from the header itself.
    v.put64(HEADER_OFFSET as usize + 48, 0x4001);
    let e = Shadows::open(&v.region()).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e}");
}

#[test]
fn looping_store_list_makes_its_snapshots_unreadable() {
    let mut v = volume();
    v.put64(LIST_B * B + 40, (LIST_B * B) as u64);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert_eq!(s.snapshots().len(), 2);
    assert!(s.diagnostics().iter().any(|d| d.message.contains("loops")));
    // Snapshot 2 is store B; snapshot 1 reads through store B too.
    let e = s.snapshot(2).unwrap_err();
    assert!(e.to_string().contains("loops"), "{e}");
    assert!(s.snapshot(1).is_err());
    assert_eq!(s.snapshots()[1].store_size, None);
}

#[test]
fn store_list_pointing_outside_only_breaks_the_stores_that_need_it() {
    let mut v = volume();
    v.put64(LIST_A * B + 40, 1 << 50);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(s.snapshot(1).is_err());
    // Snapshot 2 does not read store A.
    let s2 = s.snapshot(2).unwrap();
    assert!(all(&block(&s2, 40), 0xB2));
}

#[test]
fn data_block_outside_the_image_is_a_read_error() {
    let mut v = volume();
    v.desc(LIST_B, 0, (40, 0, 1 << 30, 0, 0));
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    let s2 = s.snapshot(2).unwrap();
    let mut b = vec![0u8; B];
    assert!(matches!(
        s2.read_exact_at((40 * B) as u64, &mut b),
        Err(Error::OutOfBounds { .. })
    ));
    // Other blocks still read.
    assert!(all(&block(&s2, 41), 41));
}

#[test]
fn malformed_descriptors_and_bitmap_lists_are_errors() {
    // An unaligned original offset.
    let mut v = volume();
    let o = LIST_A * B + 0x80;
    v.put64(o, 0x4100);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(s.snapshot(1).is_err());
    assert!(s
        .diagnostics()
        .iter()
        .any(|d| d.message.contains("aligned")));
    // Both forwarder and overlay.
    let mut v = volume();
    v.put32(o + 24, 3);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(s.snapshot(1).is_err());
    // A bitmap list that loops.
    let mut v = volume();
    v.put64(BITMAP_A * B + 40, (BITMAP_A * B) as u64);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(s.snapshot(1).is_err());
    assert!(s.snapshot(2).is_ok());
    // A block whose "current offset" is not where it was read ends its list (diagnostic).
    let mut v = volume();
    v.put64(LIST_A * B + 32, 0x8_0000);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(s
        .diagnostics()
        .iter()
        .any(|d| d.message.contains("says it is at")));
    let s1 = s.snapshot(1).unwrap();
    assert!(
        all(&block(&s1, 41), 41),
        "store A's descriptors were not used"
    );
}

#[test]
fn limits_bound_descriptors_snapshots_and_lists() {
    let v = volume();
    let r = v.region();
    let few = VssLimits {
        max_descriptors: 2,
        ..VssLimits::default()
    };
    let s = Shadows::open_with_limits(&r, None, few).unwrap().unwrap();
    assert!(s.snapshot(1).is_err() || s.snapshot(2).is_err());
    assert!(s.diagnostics().iter().any(|d| d.message.contains("limit")));
    let one = VssLimits {
        max_snapshots: 1,
        ..VssLimits::default()
    };
    assert!(matches!(
        Shadows::open_with_limits(&r, None, one),
        Err(Error::Limit(_))
    ));
    // A long (finite) chain of catalog blocks past the bound.
    let mut v = volume();
    for k in 8..16 {
        v.block_header(k, 2, ((k + 1) * B) as u64);
    }
    v.block_header(16, 2, 0);
    v.put64(CATALOG * B + 40, (8 * B) as u64);
    let short = VssLimits {
        max_catalog_blocks: 4,
        ..VssLimits::default()
    };
    assert!(matches!(
        Shadows::open_with_limits(&v.region(), None, short),
        Err(Error::Limit(_))
    ));
}

#[test]
fn storage_elsewhere_must_be_the_volume_the_header_names() {
    let mut v = volume();
    // The header says the storage is volume 9…9, not this one (7…7).
    let h = HEADER_OFFSET as usize;
    v.b[h + 80..h + 96].copy_from_slice(&[9; 16]);
    let s = Shadows::open(&v.region()).unwrap().unwrap();
    assert!(!s.is_readable());
    assert_eq!(s.snapshots().len(), 2);
    assert!(matches!(s.snapshot(1), Err(Error::Unsupported(_))));
    // A storage volume with another id is refused.
    let other = volume();
    assert!(Shadows::open_with_storage(&v.region(), &other.region()).is_err());
    // A storage volume with that id (holding the store lists) works.
    let mut stor = volume();
    stor.b[h + 64..h + 96].copy_from_slice(&[9; 32]);
    let s = Shadows::open_with_storage(&v.region(), &stor.region())
        .unwrap()
        .unwrap();
    assert!(all(&block(&s.snapshot(1).unwrap(), 41), 0xA1));
}

/// Random damage to every structure block (deterministic xorshift): opening and reading every
/// block of every snapshot must end, with values or errors.
#[test]
fn random_damage_never_panics() {
    let base = volume();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let structures = [0, CATALOG, LIST_A, BITMAP_A, LIST_B, BITMAP_B];
    for _ in 0..300 {
        let mut v = Vol { b: base.b.clone() };
        for _ in 0..(1 + next() % 8) {
            let blk = structures[(next() % structures.len() as u64) as usize];
            let at = blk * B + (next() % 0x200) as usize;
            let val = next();
            let n = 1 + (next() % 8) as usize;
            v.b[at..at + n].copy_from_slice(&val.to_le_bytes()[..n]);
        }
        let r = v.region();
        let Ok(Some(s)) = Shadows::open(&r) else {
            continue;
        };
        for n in 1..=s.snapshots().len() {
            let Ok(snap) = s.snapshot(n) else {
                continue;
            };
            let len = snap.len().min((BLOCKS * B) as u64);
            let mut b = vec![0u8; B];
            let mut off = 0;
            while off + BLOCK <= len {
                let _ = snap.read_exact_at(off, &mut b);
                off += BLOCK;
            }
        }
    }
}

/// 512 snapshots (the most Windows keeps), every store empty but the newest: the oldest
/// snapshot resolves each block through all newer stores, on a thread with a 2 MiB stack (a
/// worker's default).
#[test]
fn deep_snapshot_stack_reads_on_a_small_stack() {
    const N: usize = 512;
    // A catalog of 63 snapshot/store entry pairs per 16 KiB block, past the first volume's
    // end; a block list per store after it.
    let mut v = volume();
    let blocks = v.b.len();
    v.b.resize(blocks + (N + 16) * B, 0);
    let first_list = BLOCKS + 16;
    let per_block = (B - 0x80) / 256;
    let catalog_blocks = N.div_ceil(per_block);
    let catalog = |i: usize| BLOCKS + i;
    v.put64(HEADER_OFFSET as usize + 48, (catalog(0) * B) as u64);
    for c in 0..catalog_blocks {
        let next = if c + 1 < catalog_blocks {
            (catalog(c + 1) * B) as u64
        } else {
            0
        };
        v.block_header(catalog(c), 2, next);
    }
    for s in 0..N {
        let e = catalog(s / per_block) * B + 0x80 + (s % per_block) * 256;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(s as u64 + 1).to_le_bytes());
        v.put64(e, 2);
        v.put64(e + 8, (BLOCKS * B) as u64);
        v.b[e + 16..e + 32].copy_from_slice(&id);
        v.put64(e + 32, s as u64 + 1);
        v.put64(e + 128, 3);
        v.put64(e + 136, ((first_list + s) * B) as u64);
        v.b[e + 144..e + 160].copy_from_slice(&id);
        v.block_header(first_list + s, 3, 0);
    }
    // The newest store holds block 40 (store block 16: 0xB2).
    v.desc(first_list + N - 1, 0, (40, 0, 16, 0, 0));
    let r = v.region();
    let s = Shadows::open(&r).unwrap().unwrap();
    assert_eq!(s.snapshots().len(), N);
    let oldest = s.snapshot(1).unwrap();
    let got = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || (block(&oldest, 40), block(&oldest, 41)))
        .unwrap()
        .join()
        .unwrap();
    assert!(all(&got.0, 0xB2));
    assert!(all(&got.1, 41));
}
