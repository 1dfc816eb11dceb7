//! Bounds-checked little-endian reads over untrusted bytes.

/// `len` bytes at `off`, or `None` when out of bounds (including overflow).
pub(crate) fn slice(b: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    b.get(start..end)
}

/// `u16` at `off`.
pub(crate) fn u16_at(b: &[u8], off: u64) -> Option<u16> {
    Some(u16::from_le_bytes(slice(b, off, 2)?.try_into().ok()?))
}

/// `u32` at `off`.
pub(crate) fn u32_at(b: &[u8], off: u64) -> Option<u32> {
    Some(u32::from_le_bytes(slice(b, off, 4)?.try_into().ok()?))
}

/// `u64` at `off`.
pub(crate) fn u64_at(b: &[u8], off: u64) -> Option<u64> {
    Some(u64::from_le_bytes(slice(b, off, 8)?.try_into().ok()?))
}

/// UTF-16LE to `String` (lossy), stopping at the first NUL.
pub(crate) fn utf16le(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let b = [1u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(u32_at(&b, 0), Some(1));
        assert_eq!(u64_at(&b, 0), Some(1));
        assert_eq!(u64_at(&b, 1), None);
        assert_eq!(u16_at(&b, u64::MAX), None);
        assert_eq!(slice(&b, 4, u64::MAX), None);
        assert_eq!(utf16le(&[b'a', 0, 0, 0, b'b', 0]), "a");
    }
}
