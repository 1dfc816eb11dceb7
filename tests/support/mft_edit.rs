//! Byte surgery on NTFS structures for the tests that damage or rename things in fixture
//! copies: little-endian fields, fixups undone and re-applied around an edit, attributes of a
//! record. Included by path (`#[path]`) from the test files that need it.
#![allow(dead_code)]

pub fn rd16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
pub fn rd32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
pub fn rd64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
pub fn wr16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
pub fn wr32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn wr64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Runs `f` on record `entry` of `img` with its fixups undone, then re-applies them, so the edit
/// is exactly what `f` did (the record still passes its fixup check).
pub fn edit_record(img: &mut [u8], off: usize, rs: usize, f: impl FnOnce(&mut [u8])) {
    let rec = &mut img[off..off + rs];
    let usa_off = rd16(rec, 4) as usize;
    let usa_count = rd16(rec, 6) as usize;
    let stride = rs / (usa_count - 1);
    let usn = [rec[usa_off], rec[usa_off + 1]];
    for i in 0..usa_count - 1 {
        let pos = (i + 1) * stride - 2;
        let fix = usa_off + 2 + 2 * i;
        rec[pos] = rec[fix];
        rec[pos + 1] = rec[fix + 1];
    }
    f(rec);
    for i in 0..usa_count - 1 {
        let pos = (i + 1) * stride - 2;
        let fix = usa_off + 2 + 2 * i;
        rec[fix] = rec[pos];
        rec[fix + 1] = rec[pos + 1];
        rec[pos] = usn[0];
        rec[pos + 1] = usn[1];
    }
}

/// Attributes of a record (fixups undone): (offset, type, length, name).
pub fn attributes(rec: &[u8]) -> Vec<(usize, u32, usize, String)> {
    let mut out = Vec::new();
    let mut off = rd16(rec, 20) as usize;
    while off + 8 <= rec.len() {
        let t = rd32(rec, off);
        if t == 0xFFFF_FFFF {
            break;
        }
        let len = rd32(rec, off + 4) as usize;
        if len == 0 || off + len > rec.len() {
            break;
        }
        let nlen = rec[off + 9] as usize;
        let noff = rd16(rec, off + 10) as usize;
        let units: Vec<u16> = (0..nlen).map(|i| rd16(rec, off + noff + 2 * i)).collect();
        out.push((off, t, len, String::from_utf16_lossy(&units)));
        off += len;
    }
    out
}

/// Offset and length of the first attribute of type `t` named `name` in a record.
pub fn find_attr(rec: &[u8], t: u32, name: &str) -> (usize, usize) {
    attributes(rec)
        .into_iter()
        .find(|a| a.1 == t && a.3 == name)
        .map(|a| (a.0, a.2))
        .unwrap_or_else(|| panic!("no attribute {t:#x} {name:?}"))
}

/// Offset of the value of the first resident `$FILE_NAME` of a record.
pub fn file_name_value(rec: &[u8]) -> usize {
    let (a, _) = find_attr(rec, 0x30, "");
    a + rd16(rec, a + 20) as usize
}
