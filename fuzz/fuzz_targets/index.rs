//! Directory index (`$I30`) traversal and slack carving on a real volume: the input replaces
//! part of the root directory's index in the base image (see `common::base`), then the volume
//! is walked and every directory's index read. The first byte picks where: even, the index
//! block at VCN 0 from its node header on (offset 0x18; fixups re-applied so the damage reaches
//! the entry parser); odd, the `$INDEX_ROOT` value in MFT record 5 from its node header on.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let base = common::base();
    let ix = common::root_index();
    let mut img = common::Overlay::new();
    if pick % 2 == 0 {
        let Some((off, size)) = ix.block else { return };
        img.with_mut(off, size, |blk| {
            common::fixups(blk, true);
            let n = body.len().min(size - 0x18);
            blk[0x18..0x18 + n].copy_from_slice(&body[..n]);
            common::fixups(blk, false);
        });
    } else {
        let rec_off = base.records[5];
        let rs = base.record_size;
        let at = ix.root_value + 0x10;
        img.with_mut(rec_off, rs, |rec| {
            common::fixups(rec, true);
            let end = ix.root_end.min(rs);
            let n = body.len().min(end.saturating_sub(at));
            rec[at..at + n].copy_from_slice(&body[..n]);
            common::fixups(rec, false);
        });
    }
    common::read_indexes(img);
});
