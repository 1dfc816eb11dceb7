//! A loose USN change journal (`$J`), any bytes: the record parser and its resync over damage
//! (`ntfs::fuzzing::usn`: the slice and the `Read + Seek` readers must agree), with the bounds
//! checked: records no longer than 64 KiB, no more records than 64-byte slots, diagnostics
//! capped.
#![no_main]

use deadbox::ntfs::fuzzing;
use deadbox::ntfs::usn::{MAX_DIAGNOSTICS, MAX_RECORD_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (records, diagnostics, longest) = fuzzing::usn(data);
    assert!(records <= data.len() / 64, "record count bound");
    assert!(longest <= MAX_RECORD_LEN, "record length bound");
    assert!(diagnostics <= MAX_DIAGNOSTICS + 1, "diagnostic bound");
});
