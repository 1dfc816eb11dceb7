//! One MFT record: the input replaces record `data[0] % records` of the base image (see
//! `common::base`), with valid fixups applied by the harness so every input reaches the
//! record, attribute, run-list and LZNT1 parsers; then the whole volume is walked and read.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let base = common::base();
    let rs = base.record_size;
    let Some(&r) = base.records.get(which as usize % base.records.len().max(1)) else {
        return;
    };
    let mut img = common::Overlay::new();
    // Keep the original header (signature, update sequence array) unless the input is long
    // enough to replace it too.
    img.with_mut(r, rs, |rec| {
        common::fixups(rec, true);
        let n = body.len().min(rs);
        let from = if n >= 0x30 { 0 } else { 0x30.min(rs) };
        let n = n.min(rs - from);
        rec[from..from + n].copy_from_slice(&body[..n]);
        common::fixups(rec, false);
    });
    common::read_everything(img);
});
