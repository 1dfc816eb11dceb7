//! Volume Shadow Copies: the first byte picks the mode. Even: one 16 KiB block (after a
//! diff-area GUID and a block type the first byte picks) parsed as a VSS volume header, catalog
//! block and store block list. Odd: patches `[block][offset u16 LE][len][bytes]` over the
//! structure blocks (header, catalog, block lists, bitmaps) of a synthetic volume with two
//! snapshots, then the shadow copies opened and every block of every snapshot read (loops,
//! pointers outside the volume, forwarders and overlays across the stack).
#![no_main]

use deadbox::ntfs::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fuzzing::vss(data);
});
