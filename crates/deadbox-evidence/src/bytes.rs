//! Reading integers and UTF-16 text out of untrusted byte buffers, without panicking.
//!
//! Every on-disk structure deadbox parses (container headers, partition tables, MFT records,
//! directory indexes, registry hives, minidumps, zip directories) goes through these few
//! functions:
//!
//! - [`le_u16`], [`le_u32`], [`le_u64`], [`be_u32`], [`be_u64`]: an integer at a byte offset,
//!   `None` when it does not lie wholly inside the buffer;
//! - [`slice_at`]: `len` bytes at an offset, `None` when out of bounds;
//! - [`utf16le_lossy`], [`utf16le_to_nul`], [`utf16le_name`]: UTF-16LE text, invalid code units
//!   (lone surrogates) replaced with U+FFFD.
//!
//! Offsets are any integer type (`usize`, `u64`, a literal): an offset that does not fit in
//! `usize` (negative, or past the address space) is out of bounds like any other, and offset
//! arithmetic never overflows inside these functions. They are `#[inline]` and allocate
//! nothing (the text decoders allocate only the `String` they return), so they are fit for the
//! hot paths (the MFT walk parses hundreds of thousands of records a second).
//!
//! ```
//! use deadbox_evidence::bytes::{be_u32, le_u16, le_u32, slice_at, utf16le_to_nul};
//! let b = [0x34, 0x12, 0x00, 0x00, b'a', 0, 0, 0];
//! assert_eq!(le_u16(&b, 0), Some(0x1234));
//! assert_eq!(le_u32(&b, 0), Some(0x1234));
//! assert_eq!(be_u32(&b, 0), Some(0x3412_0000));
//! assert_eq!(le_u32(&b, 6), None); // runs past the end
//! assert_eq!(le_u32(&b, u64::MAX), None);
//! assert_eq!(slice_at(&b, 4, 2), Some(&b"a\0"[..]));
//! assert_eq!(utf16le_to_nul(&b[4..]), "a");
//! ```

/// `N` bytes at `off`, or `None` when they are not all inside `b`.
#[inline(always)]
fn array<const N: usize>(b: &[u8], off: impl TryInto<usize>) -> Option<[u8; N]> {
    let off: usize = off.try_into().ok()?;
    b.get(off..)?.first_chunk::<N>().copied()
}

/// `len` bytes of `b` at `off`, or `None` when they are not all inside `b` (including when
/// `off + len` overflows).
#[inline]
pub fn slice_at(b: &[u8], off: impl TryInto<usize>, len: impl TryInto<usize>) -> Option<&[u8]> {
    let start: usize = off.try_into().ok()?;
    let end = start.checked_add(len.try_into().ok()?)?;
    b.get(start..end)
}

/// The little-endian `u16` at byte offset `off` of `b`, or `None` when out of bounds.
#[inline]
pub fn le_u16(b: &[u8], off: impl TryInto<usize>) -> Option<u16> {
    array(b, off).map(u16::from_le_bytes)
}

/// The little-endian `u32` at byte offset `off` of `b`, or `None` when out of bounds.
#[inline]
pub fn le_u32(b: &[u8], off: impl TryInto<usize>) -> Option<u32> {
    array(b, off).map(u32::from_le_bytes)
}

/// The little-endian `u64` at byte offset `off` of `b`, or `None` when out of bounds.
#[inline]
pub fn le_u64(b: &[u8], off: impl TryInto<usize>) -> Option<u64> {
    array(b, off).map(u64::from_le_bytes)
}

/// The big-endian `u32` at byte offset `off` of `b`, or `None` when out of bounds.
#[inline]
pub fn be_u32(b: &[u8], off: impl TryInto<usize>) -> Option<u32> {
    array(b, off).map(u32::from_be_bytes)
}

/// The big-endian `u64` at byte offset `off` of `b`, or `None` when out of bounds.
#[inline]
pub fn be_u64(b: &[u8], off: impl TryInto<usize>) -> Option<u64> {
    array(b, off).map(u64::from_be_bytes)
}

/// Decodes UTF-16LE code units (a trailing odd byte is ignored), stopping at the first NUL
/// when `to_nul`; invalid code units become U+FFFD. The flag says whether any did.
#[inline]
fn decode_utf16le(b: &[u8], to_nul: bool) -> (String, bool) {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| !(to_nul && u == 0));
    let mut lossy = false;
    let s = char::decode_utf16(units)
        .map(|r| {
            r.unwrap_or_else(|_| {
                lossy = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    (s, lossy)
}

/// UTF-16LE bytes as a `String`, all of them (NULs included; a trailing odd byte is ignored),
/// invalid code units replaced with U+FFFD.
#[inline]
pub fn utf16le_lossy(b: &[u8]) -> String {
    decode_utf16le(b, false).0
}

/// UTF-16LE bytes as a `String` up to the first NUL code unit (or the end), invalid code
/// units replaced with U+FFFD: for fixed-size, NUL-padded fields and NUL-terminated strings.
#[inline]
pub fn utf16le_to_nul(b: &[u8]) -> String {
    decode_utf16le(b, true).0
}

/// UTF-16LE bytes as a `String`, all of them, like [`utf16le_lossy`], and whether any code unit
/// was invalid (replaced with U+FFFD): for counted names (NTFS file names) whose damage is
/// worth reporting.
#[inline]
pub fn utf16le_name(b: &[u8]) -> (String, bool) {
    decode_utf16le(b, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        let b = [1u8, 0, 0, 0, 0, 0, 0, 0x80];
        assert_eq!(le_u16(&b, 0), Some(1));
        assert_eq!(le_u32(&b, 0usize), Some(1));
        assert_eq!(le_u64(&b, 0u64), Some(0x8000_0000_0000_0001));
        assert_eq!(be_u32(&b, 4), Some(0x80));
        assert_eq!(be_u64(&b, 0), Some(0x0100_0000_0000_0080));
        assert_eq!(le_u16(&b, 6), Some(0x8000));
        assert_eq!(le_u16(&b, 7), None);
        assert_eq!(le_u64(&b, 1), None);
        assert_eq!(le_u16(&b, usize::MAX), None);
        assert_eq!(le_u16(&b, u64::MAX), None);
        assert_eq!(le_u16(&b, -1), None);
        assert_eq!(le_u32(&[], 0), None);
    }

    #[test]
    fn slices() {
        let b = [1u8, 2, 3, 4];
        assert_eq!(slice_at(&b, 1, 2), Some(&b[1..3]));
        assert_eq!(slice_at(&b, 4, 0), Some(&b[4..]));
        assert_eq!(slice_at(&b, 3, 2), None);
        assert_eq!(slice_at(&b, 4, u64::MAX), None);
        assert_eq!(slice_at(&b, usize::MAX, 1), None);
    }

    #[test]
    fn text() {
        let b = [b'a', 0, 0, 0, b'b', 0, 0x00, 0xD8, b'c'];
        assert_eq!(utf16le_to_nul(&b), "a");
        assert_eq!(utf16le_lossy(&b), "a\0b\u{FFFD}");
        assert_eq!(utf16le_name(&b), ("a\0b\u{FFFD}".to_string(), true));
        assert_eq!(utf16le_name(&[b'x', 0]), ("x".to_string(), false));
        assert_eq!(utf16le_to_nul(&[]), "");
    }
}
