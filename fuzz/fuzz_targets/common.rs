//! Shared by the `volume` and `record` targets: the base image (fixtures/ntfs-basic.img, read
//! once), fixup handling, and the full read of a mutated image.

use deadbox::evidence::{Evidence, MemoryEvidence};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The base image and where its MFT records are.
pub struct Base {
    pub bytes: Vec<u8>,
    pub record_size: usize,
    /// Absolute offsets of the first `record_count` MFT records (the fixture's MFT is in use
    /// from entry 0 to about 150).
    pub records: Vec<usize>,
}

pub fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/ntfs-basic.img");
        let bytes = std::fs::read(&p).expect("fixtures/ntfs-basic.img");
        let image = Image::open(&p, VolumeSelect::default()).expect("base image opens");
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

/// Opens the image, walks every volume, reads every stream (bounded) and hashes the listing.
pub fn read_everything(bytes: Vec<u8>) {
    let ev: Arc<dyn Evidence> = Arc::new(MemoryEvidence::new(bytes));
    let Ok(image) = Image::from_evidence(Path::new("fuzz.img"), ev, VolumeSelect::default()) else {
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
                if s.size > 64 << 20 {
                    continue;
                }
                let mut n = 0u64;
                if v.visit_stream(s, &mut |c| {
                    n += c.len() as u64;
                    Ok(())
                })
                .is_ok()
                {
                    assert_eq!(n, s.size, "a successful visit delivers exactly size bytes");
                }
            }
        }
        // No digest: the listing's rows and reads are what is fuzzed, not the hash crates
        // (unoptimised in this build, they would set the pace).
        let _ = deadbox::rows::hash_listing(v, &listing, deadbox::hash::HashSet::NONE, 64 << 20);
    }
}
