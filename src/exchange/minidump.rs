//! Minidump (`MDMP`) reading, just enough to tell an LSASS dump: header, stream directory,
//! `ModuleListStream` (type 4) and the module names (`MINIDUMP_STRING`, UTF-16LE at RVAs).

use crate::{Error, Result};
use deadbox_evidence::bytes::{le_u32, slice_at, utf16le_to_nul};

/// `MDMP`.
const SIGNATURE: &[u8; 4] = b"MDMP";
/// Low 16 bits of `MINIDUMP_HEADER.Version`.
const VERSION: u16 = 0xA793;
const HEADER_SIZE: u64 = 32;
const DIR_ENTRY_SIZE: u64 = 12;
const MODULE_SIZE: u64 = 108;
const MODULE_LIST_STREAM: u32 = 4;
/// At most this many streams are looked at (real dumps have a few dozen).
const MAX_STREAMS: u32 = 4096;
/// At most this many modules are listed.
pub const MAX_MINIDUMP_MODULES: u32 = 16_384;
/// Longest module name read, in bytes of UTF-16.
const MAX_NAME_BYTES: u32 = 64 * 1024;

/// True when `bytes` start with a minidump header (`MDMP`, version `0xA793`).
pub fn is_minidump(bytes: &[u8]) -> bool {
    bytes.get(..4) == Some(SIGNATURE.as_slice())
        && le_u32(bytes, 4).is_some_and(|v| (v & 0xFFFF) as u16 == VERSION)
        && bytes.len() as u64 >= HEADER_SIZE
}

fn fmt(offset: u64, reason: impl Into<String>) -> Error {
    Error::format("minidump", offset, reason)
}

/// Module paths from the `ModuleListStream`, in dump order. Errors when the bytes are not a
/// minidump, have no module list, or a structure lies outside the file; more than
/// [`MAX_MINIDUMP_MODULES`] modules is an [`Error::Limit`].
pub fn minidump_modules(bytes: &[u8]) -> Result<Vec<String>> {
    if !is_minidump(bytes) {
        return Err(fmt(0, "no MDMP header"));
    }
    let size = bytes.len() as u64;
    let streams = le_u32(bytes, 8).ok_or_else(|| fmt(8, "truncated header"))?;
    let dir = u64::from(le_u32(bytes, 12).ok_or_else(|| fmt(12, "truncated header"))?);
    if streams > MAX_STREAMS {
        return Err(Error::Limit(format!(
            "minidump: {streams} streams (at most {MAX_STREAMS} read)"
        )));
    }
    let mut list = None;
    for i in 0..u64::from(streams) {
        let at = dir + i * DIR_ENTRY_SIZE;
        let entry = slice_at(bytes, at, DIR_ENTRY_SIZE).ok_or(Error::OutOfBounds {
            offset: at,
            len: DIR_ENTRY_SIZE,
            size,
        })?;
        if le_u32(entry, 0) == Some(MODULE_LIST_STREAM) {
            let data_size = u64::from(le_u32(entry, 4).unwrap_or(0));
            let rva = u64::from(le_u32(entry, 8).unwrap_or(0));
            list = Some((rva, data_size));
            break;
        }
    }
    let (rva, data_size) = list.ok_or_else(|| fmt(dir, "no ModuleListStream"))?;
    let count = le_u32(bytes, rva).ok_or(Error::OutOfBounds {
        offset: rva,
        len: 4,
        size,
    })?;
    if count > MAX_MINIDUMP_MODULES {
        return Err(Error::Limit(format!(
            "minidump: {count} modules (at most {MAX_MINIDUMP_MODULES} read)"
        )));
    }
    let needed = 4 + u64::from(count) * MODULE_SIZE;
    if needed > data_size || slice_at(bytes, rva, needed).is_none() {
        return Err(Error::OutOfBounds {
            offset: rva,
            len: needed,
            size,
        });
    }
    let mut names = Vec::with_capacity(count as usize);
    for i in 0..u64::from(count) {
        let m = rva + 4 + i * MODULE_SIZE;
        let name_rva = u64::from(le_u32(bytes, m + 20).ok_or_else(|| fmt(m, "truncated module"))?);
        let len = le_u32(bytes, name_rva).ok_or(Error::OutOfBounds {
            offset: name_rva,
            len: 4,
            size,
        })?;
        if len > MAX_NAME_BYTES {
            return Err(fmt(name_rva, format!("module name of {len} bytes")));
        }
        let raw = slice_at(bytes, name_rva + 4, u64::from(len)).ok_or(Error::OutOfBounds {
            offset: name_rva + 4,
            len: u64::from(len),
            size,
        })?;
        names.push(utf16le_to_nul(raw));
    }
    Ok(names)
}

/// True when `bytes` are a minidump whose module list names `lsass.exe` (the dumped
/// process's image is its first module, but any module is accepted).
pub fn is_lsass_dump(bytes: &[u8]) -> bool {
    is_minidump(bytes)
        && minidump_modules(bytes).is_ok_and(|m| {
            m.iter().any(|n| {
                let base = n.rsplit(['\\', '/']).next().unwrap_or(n);
                base.eq_ignore_ascii_case("lsass.exe")
            })
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a minimal minidump: header, a dummy stream and a module list naming `modules`.
    pub(crate) fn build(modules: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"MDMP");
        b.extend_from_slice(&0x0000_A793u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes()); // streams
        b.extend_from_slice(&32u32.to_le_bytes()); // directory rva
        b.extend_from_slice(&[0; 16]); // checksum, time, flags
        let list_rva = 32 + 2 * 12;
        let list_size = 4 + modules.len() * 108;
        // Directory: a SystemInfo stream (7) we ignore, then the module list.
        for (t, size, rva) in [(7u32, 0usize, 0usize), (4, list_size, list_rva)] {
            b.extend_from_slice(&t.to_le_bytes());
            b.extend_from_slice(&(size as u32).to_le_bytes());
            b.extend_from_slice(&(rva as u32).to_le_bytes());
        }
        b.extend_from_slice(&(modules.len() as u32).to_le_bytes());
        let mut names_at = list_rva + list_size;
        let mut strings = Vec::new();
        for (i, name) in modules.iter().enumerate() {
            let mut m = vec![0u8; 108];
            m[0..8].copy_from_slice(&(0x7ff0_0000_0000u64 + i as u64 * 0x10000).to_le_bytes());
            m[20..24].copy_from_slice(&(names_at as u32).to_le_bytes());
            b.extend_from_slice(&m);
            let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
            strings.extend_from_slice(&(utf16.len() as u32).to_le_bytes());
            strings.extend_from_slice(&utf16);
            strings.extend_from_slice(&[0, 0]);
            names_at += 4 + utf16.len() + 2;
        }
        b.extend_from_slice(&strings);
        b
    }

    #[test]
    fn lsass_dump() {
        let d = build(&[
            r"C:\Windows\System32\lsass.exe",
            r"C:\Windows\SYSTEM32\ntdll.dll",
        ]);
        assert!(is_minidump(&d));
        assert_eq!(
            minidump_modules(&d).unwrap(),
            [
                r"C:\Windows\System32\lsass.exe",
                r"C:\Windows\SYSTEM32\ntdll.dll"
            ]
        );
        assert!(is_lsass_dump(&d));
        let other = build(&[r"C:\Windows\System32\notepad.exe"]);
        assert!(is_minidump(&other));
        assert!(!is_lsass_dump(&other));
        let not_quite = build(&[r"C:\x\notlsass.exe"]);
        assert!(!is_lsass_dump(&not_quite));
    }

    #[test]
    fn corrupt() {
        assert!(!is_minidump(b"MDMP"));
        assert!(minidump_modules(b"PK\x03\x04").is_err());
        let d = build(&["lsass.exe"]);
        // Every truncation that cuts into the name fails cleanly (the final NUL is optional).
        for n in 0..d.len() - 2 {
            assert!(!is_lsass_dump(&d[..n]));
        }
        // Huge counts are refused without allocating.
        let mut big = d.clone();
        big[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(minidump_modules(&big), Err(Error::Limit(_))));
        let mut big = d.clone();
        big[56..60].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(minidump_modules(&big), Err(Error::Limit(_))));
        let mut big = d;
        big[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(minidump_modules(&big).is_err());
    }
}
