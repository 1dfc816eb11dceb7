//! The parsers added with detection round two (issue 15), on any bytes; the first byte picks:
//! 0 the zip central directory and every member's data (stored/deflate, bounded), 1 the 7z
//! header (packed headers go through the hand-written LZMA decoder), 2 RAR 4/5 member names,
//! 3 the web-script normaliser (sniff and rewrite: comments, strings, character codes, folded
//! arithmetic, inlined variables), 4 the LZMA decoder alone (5 property bytes, then data),
//! 5 a `.compiled` record (its `virtualPath`, then looked up in a web-script index built from
//! the input's lines).
//! Bounds asserted: member counts, listed names, the normaliser's output factor, LZMA output
//! never above the size asked for.
#![no_main]

use deadbox::exchange::{self, ArchiveKind};
use deadbox::scan::normalize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 6 {
        0 => {
            if let Ok(entries) = exchange::zip_entries(body) {
                assert!(entries.len() as u64 <= exchange::MAX_ZIP_MEMBERS);
                for e in entries.iter().take(64) {
                    if let Ok(d) = exchange::zip_member_data(body, e, 1 << 20) {
                        assert!(d.len() <= 1 << 20);
                    }
                }
            }
        }
        1 => {
            if let Ok(names) = exchange::archive_members(ArchiveKind::SevenZip, body) {
                assert!(names.len() <= exchange::MAX_LISTED_MEMBERS);
            }
        }
        2 => {
            if let Ok(names) = exchange::archive_members(ArchiveKind::Rar, body) {
                assert!(names.len() <= exchange::MAX_LISTED_MEMBERS);
            }
        }
        3 => {
            let _ = normalize::looks_like_server_script(false, body);
            let out = normalize::normalize(body);
            let input = body.len().min(normalize::MAX_INPUT);
            // UTF-16 input is decoded first (at most 3 UTF-8 bytes per 2 input bytes).
            assert!(out.len() <= (input * 2).max(16) * normalize::MAX_OUTPUT_FACTOR);
        }
        5 => {
            if let Some(page) = deadbox::scan::parse_compiled(body) {
                assert!(!page.virtual_path.is_empty());
                let mut index = deadbox::scan::WebIndex::default();
                for line in body.split(|&b| b == b'\n').take(1000) {
                    index.add(&String::from_utf8_lossy(line));
                }
                let _ = index.has_page(&page.virtual_path);
            }
        }
        _ => {
            if body.len() >= 13 {
                let size = u64::from(u16::from_le_bytes([body[5], body[6]]));
                if let Ok(d) = exchange::lzma_decode(&body[..5], &body[7..], size, 1 << 16) {
                    assert!(d.len() as u64 <= size);
                }
            }
        }
    }
});
