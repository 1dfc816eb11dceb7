//! The volume's `$UpCase` table: how NTFS compares names without regard to case.
//!
//! NTFS stores, in MFT entry 10 (`$UpCase`), the upper-case form of every UTF-16 code unit
//! (65536 little-endian `u16`, 128 KiB), written by whatever formatted the volume (each Windows
//! version has its own table). Two names are equal when their code units, each mapped through
//! the table, are equal; directory indexes (`$I30`) are sorted by the same mapping (code unit by
//! code unit, then the shorter name first). Surrogate pairs are two code units, each mapped as
//! itself, so characters outside the Basic Multilingual Plane only ever match exactly.
//!
//! The table is read with deadbox's own stream reader (not the `ntfs` crate's), once per
//! volume, the first time a lookup needs it ([`crate::NtfsVolume::upcase`]).

use std::cmp::Ordering;

/// Entries of a `$UpCase` table: one per UTF-16 code unit.
const UNITS: usize = 65536;
/// Bytes of a `$UpCase` table.
pub(crate) const TABLE_BYTES: u64 = (UNITS * 2) as u64;

/// An NTFS upper-case table: maps each UTF-16 code unit to its upper-case code unit.
#[derive(Clone)]
pub struct UpCase {
    table: Box<[u16]>,
    from_volume: bool,
}

impl std::fmt::Debug for UpCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpCase")
            .field("from_volume", &self.from_volume)
            .finish_non_exhaustive()
    }
}

impl UpCase {
    /// A table from the 128 KiB content of a `$UpCase` file; `None` when `bytes` is not exactly
    /// 65536 little-endian code units.
    pub fn from_bytes(bytes: &[u8]) -> Option<UpCase> {
        if bytes.len() as u64 != TABLE_BYTES {
            return None;
        }
        let table = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Some(UpCase {
            table,
            from_volume: true,
        })
    }

    /// A stand-in table for a volume whose `$UpCase` cannot be read: each code unit that is a
    /// character with a one-character upper-case form in the Basic Multilingual Plane (Rust's
    /// [`char::to_uppercase`]) maps to it; every other unit maps to itself. Close to, but not
    /// the same as, any Windows table.
    pub fn fallback() -> UpCase {
        let table = (0..UNITS as u32)
            .map(|u| {
                let Some(c) = char::from_u32(u) else {
                    return u as u16;
                };
                let mut up = c.to_uppercase();
                match (up.next(), up.next()) {
                    (Some(x), None) if (x as u32) < 0x1_0000 => x as u16,
                    _ => u as u16,
                }
            })
            .collect();
        UpCase {
            table,
            from_volume: false,
        }
    }

    /// True when the table was read from the volume's `$UpCase`; false for [`UpCase::fallback`].
    pub fn is_from_volume(&self) -> bool {
        self.from_volume
    }

    /// The upper-case form of one UTF-16 code unit.
    pub fn upcase_unit(&self, unit: u16) -> u16 {
        self.table[unit as usize]
    }

    /// `s` with every UTF-16 code unit mapped through the table (surrogate pairs unchanged).
    pub fn upcase(&self, s: &str) -> String {
        let units: Vec<u16> = s.encode_utf16().map(|u| self.upcase_unit(u)).collect();
        String::from_utf16_lossy(&units)
    }

    /// NTFS name collation: code units compared after upper-casing, then the shorter name first.
    pub fn cmp_units(&self, a: &[u16], b: &[u16]) -> Ordering {
        for (&x, &y) in a.iter().zip(b) {
            match self.upcase_unit(x).cmp(&self.upcase_unit(y)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        a.len().cmp(&b.len())
    }

    /// True when two names are equal as NTFS compares them (case-insensitively, per the table).
    pub fn eq_str(&self, a: &str, b: &str) -> bool {
        let mut x = a.encode_utf16();
        let mut y = b.encode_utf16();
        loop {
            match (x.next(), y.next()) {
                (None, None) => return true,
                (Some(p), Some(q)) if self.upcase_unit(p) == self.upcase_unit(q) => {}
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collation_is_case_insensitive_then_shorter_first() {
        let t = UpCase::fallback();
        let u = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        assert_eq!(t.cmp_units(&u("abc"), &u("ABC")), Ordering::Equal);
        assert_eq!(t.cmp_units(&u("ab"), &u("ABC")), Ordering::Less);
        assert_eq!(t.cmp_units(&u("b"), &u("AZ")), Ordering::Greater);
        // '_' (0x5F) sorts after upper-case letters, before lower-case ones: upper-casing first
        // puts it after every letter.
        assert_eq!(t.cmp_units(&u("_"), &u("z")), Ordering::Greater);
        assert!(t.eq_str("Düsseldorf", "DÜSSELDORF"));
        assert!(t.eq_str("файл", "ФАЙЛ"));
        assert!(!t.eq_str("straße", "STRASSE"));
        assert_eq!(t.upcase("smile 😀.txt"), "SMILE 😀.TXT");
    }

    #[test]
    fn a_table_must_be_128_kib() {
        assert!(UpCase::from_bytes(&[0u8; 100]).is_none());
        let mut bytes = vec![0u8; TABLE_BYTES as usize];
        for (i, c) in bytes.chunks_exact_mut(2).enumerate() {
            c.copy_from_slice(&(i as u16).to_le_bytes());
        }
        bytes[2 * 'q' as usize..2 * 'q' as usize + 2].copy_from_slice(&('Q' as u16).to_le_bytes());
        let t = UpCase::from_bytes(&bytes).unwrap();
        assert!(t.is_from_volume());
        assert!(t.eq_str("q", "Q"));
        assert!(!t.eq_str("a", "A"));
    }
}
