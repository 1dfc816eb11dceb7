//! A whole NTFS volume: the base image (see `common::base`) with the input applied as patches, then
//! `Image::from_evidence`, the walk, a read of every stream and a hash of the listing.
//!
//! Input: a sequence of patches `[mode u8][offset u16 LE][len u8][len bytes]`. `mode % 4`:
//! 0 the boot sector (offset % 512), 1 and 2 an MFT record (record `offset >> 10`, byte
//! `offset % record size`; mode 1 keeps the record's fixups valid so the damage reaches the
//! attribute parser, mode 2 does not), 3 anywhere in the first 64 KiB of clusters after the
//! MFT (`offset * 64 % len`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let base = common::base();
    let mut img = common::Overlay::new();
    let rs = base.record_size;
    let mut d = data;
    while d.len() >= 4 {
        let mode = d[0] % 4;
        let offset = u16::from_le_bytes([d[1], d[2]]) as usize;
        let len = (d[3] as usize).min(d.len() - 4);
        let patch = &d[4..4 + len];
        d = &d[4 + len..];
        match mode {
            0 => {
                let o = offset % 512;
                img.with_mut(o, patch.len().min(512 - o), |b| {
                    b.copy_from_slice(&patch[..b.len()])
                });
            }
            1 | 2 => {
                let Some(&r) = base.records.get((offset >> 10) % base.records.len()) else {
                    continue;
                };
                let o = (offset & 0x3FF) % rs;
                let n = patch.len().min(rs - o);
                img.with_mut(r, rs, |rec| {
                    if mode == 1 {
                        common::fixups(rec, true);
                    }
                    rec[o..o + n].copy_from_slice(&patch[..n]);
                    if mode == 1 {
                        common::fixups(rec, false);
                    }
                });
            }
            _ => {
                let o = offset * 64 % img.len();
                let n = patch.len().min(img.len() - o);
                img.with_mut(o, n, |b| b.copy_from_slice(&patch[..b.len()]));
            }
        }
    }
    common::read_everything(img);
});
