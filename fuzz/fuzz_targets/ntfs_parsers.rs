//! The NTFS parsers that need no volume, on any bytes: the first byte picks one.
//! 0 data runs (mapping pairs), 1 an MFT record of 1 KiB (fixups, attributes, `$FILE_NAME`,
//! `$STANDARD_INFORMATION`, run lists, attribute-list and index attributes), 2 the same as a
//! 4 KiB record, 3 an `$ATTRIBUTE_LIST` value, 4 `$I30` slack carving, 5 one LZNT1 compression
//! unit (16 clusters of 4 KiB).
#![no_main]

use deadbox::ntfs::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 6 {
        0 => {
            let n = fuzzing::runs(body, 0);
            assert!(n <= 8192, "run count bound");
        }
        1 | 2 => {
            let size = if pick % 6 == 1 { 1024 } else { 4096 };
            let mut rec = vec![0u8; size];
            let n = body.len().min(size);
            rec[..n].copy_from_slice(&body[..n]);
            let _ = fuzzing::record(64, &mut rec);
        }
        3 => {
            let _ = fuzzing::attr_list(body);
        }
        4 => {
            let _ = fuzzing::index_slack(body, 5);
        }
        _ => {
            const UNIT: usize = 16 * 4096;
            if let Ok(out) = fuzzing::lznt1_unit(body, UNIT) {
                assert_eq!(out.len(), UNIT, "a unit decodes to exactly its size");
            }
        }
    }
});
