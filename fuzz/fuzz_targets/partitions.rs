//! Partition tables: MBR (with extended chains), GPT (headers, CRCs, entry arrays) on any bytes.
//! The input is the disk; `volume::detect` and `volume::ntfs_volumes` must never panic, and
//! their work and output must stay bounded.
#![no_main]

use deadbox::evidence::{Evidence, MemoryEvidence};
use deadbox::volume::{self, VolumeSelect};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let ev: Arc<dyn Evidence> = Arc::new(MemoryEvidence::new(data.to_vec()));
    if let Ok(layout) = volume::detect(&ev) {
        assert!(layout.diagnostics.len() < 10_000);
        let _ = volume::ntfs_volumes(&ev, &layout, VolumeSelect::default());
        if let Some(p) = layout.partitions.first() {
            let sel = VolumeSelect {
                partition: Some(p.index),
                offset: None,
            };
            let _ = volume::ntfs_volumes(&ev, &layout, sel);
        }
    }
});
