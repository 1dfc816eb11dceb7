//! Security descriptors, any bytes: `$Secure:$SDS` parsed as a whole (`SecureTable::parse`:
//! entries followed forwards only within their 256 KiB block, mirrors skipped) and the same
//! bytes as one self-relative descriptor and as a SID, with the bounds checked: no more
//! entries than 20-byte headers fit, diagnostics capped, every owner a well-formed SID text.
#![no_main]

use deadbox::ntfs::secure::{descriptor_owner, parse_sid, MAX_SDS_ENTRIES};
use deadbox::ntfs::SecureTable;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let t = SecureTable::parse(data);
    assert!(t.len() <= (data.len() / 20).min(MAX_SDS_ENTRIES), "entry bound");
    assert!(t.diagnostics().len() <= 65, "diagnostic bound");
    if let Ok(o) = descriptor_owner(data) {
        assert!(o.sid.starts_with("S-1-"), "owner SID text");
    }
    if let Some((sid, used)) = parse_sid(data) {
        assert!(sid.starts_with("S-") && used <= data.len() && used <= 8 + 4 * 15);
    }
});
