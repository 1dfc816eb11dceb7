//! A minimal, bounded, read-only reader of Windows registry hives (regf), enough to look up a
//! value by key path: base block, hive bins, `nk` keys, `lf`/`lh`/`li`/`ri` subkey lists,
//! value lists, `vk` values with inline, plain or big-data (`db`) storage.
//!
//! Hand-written on purpose: the one complete Rust hive crate (`nt-hive`) is GPL-2.0, which
//! this MIT/Apache-2.0 crate cannot use, and the other registry crates bring in far more
//! (transaction-log replay, write support, their own I/O layers) than reading one string
//! needs. Transaction logs are not replayed: a dirty hive is read as it is on disk.
//!
//! Every offset is checked against the hive's bytes and every count against the cell that
//! holds it, so hostile hives produce errors, never panics or unbounded work.

use crate::{Error, Result};
use deadbox_evidence::bytes::{le_u16, le_u32, slice_at, utf16le_to_nul};

/// Hive bins start after the 4 KiB base block; cell offsets are relative to it.
const BINS_START: u64 = 4096;
/// Largest value data read (a path string is a few hundred bytes).
const MAX_VALUE_SIZE: u64 = 1024 * 1024;
/// Data of a big-data (`db`) value is split into segments of this size.
const DB_SEGMENT: u64 = 16_344;
/// Most subkeys of one key looked through (the subkey count of the key also bounds it).
const MAX_SUBKEYS: usize = 1 << 20;
/// `ri` index lists are followed one level deep: Windows never nests them (an `ri` holds
/// `li`/`lf`/`lh` lists only). Nested, `ri` lists of n entries pointing at one another would
/// make n^depth visits: 3 levels of 100,000 entries from a 1.2 MB hive are 10^15.
const MAX_RI_DEPTH: u32 = 1;

/// A registry hive held in memory.
///
/// ```
/// use deadbox::exchange::Hive;
/// assert!(Hive::new(b"not a hive").is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Hive<'a> {
    bytes: &'a [u8],
    root: u32,
    minor: u32,
}

fn fmt(offset: u64, reason: impl Into<String>) -> Error {
    Error::format("registry hive", offset, reason)
}

impl<'a> Hive<'a> {
    /// Checks the base block (`regf`, version 1.x, root key cell) and the first hive bin.
    pub fn new(bytes: &'a [u8]) -> Result<Self> {
        if bytes.get(..4) != Some(b"regf".as_slice()) {
            return Err(fmt(0, "no regf signature"));
        }
        let major = le_u32(bytes, 0x14).ok_or_else(|| fmt(0x14, "truncated base block"))?;
        let minor = le_u32(bytes, 0x18).ok_or_else(|| fmt(0x18, "truncated base block"))?;
        if major != 1 {
            return Err(fmt(0x14, format!("major version {major}, expected 1")));
        }
        let root = le_u32(bytes, 0x24).ok_or_else(|| fmt(0x24, "truncated base block"))?;
        if slice_at(bytes, BINS_START, 4) != Some(b"hbin".as_slice()) {
            return Err(fmt(BINS_START, "no hbin signature after the base block"));
        }
        let hive = Hive { bytes, root, minor };
        hive.nk(root)?;
        Ok(hive)
    }

    /// The data of the allocated cell at `off` (relative to the bins).
    fn cell(&self, off: u32) -> Result<&'a [u8]> {
        let abs = BINS_START + u64::from(off);
        let size = le_u32(self.bytes, abs).ok_or(Error::OutOfBounds {
            offset: abs,
            len: 4,
            size: self.bytes.len() as u64,
        })? as i32;
        let len = u64::from(size.unsigned_abs());
        if len < 8 {
            return Err(fmt(abs, format!("cell size {size}")));
        }
        slice_at(self.bytes, abs + 4, len - 4).ok_or(Error::OutOfBounds {
            offset: abs,
            len,
            size: self.bytes.len() as u64,
        })
    }

    fn nk(&self, off: u32) -> Result<&'a [u8]> {
        let c = self.cell(off)?;
        if c.get(..2) != Some(b"nk".as_slice()) || c.len() < 76 {
            return Err(fmt(BINS_START + u64::from(off), "not a key (nk) cell"));
        }
        Ok(c)
    }

    /// Characters (compressed names) or UTF-16 units of a key or value name as stored: an
    /// ASCII name can only equal one of its length, ignoring case, so longer ones are not
    /// decoded (a hive of a million subkeys pointing at one key of a 64 KiB name made every
    /// lookup decode and lowercase 64 GB).
    fn stored_len(len_bytes: u64, compressed: bool) -> u64 {
        if compressed {
            len_bytes
        } else {
            len_bytes / 2
        }
    }

    fn key_name(nk: &[u8]) -> String {
        let flags = le_u16(nk, 2).unwrap_or(0);
        let len = u64::from(le_u16(nk, 72).unwrap_or(0));
        let raw = slice_at(nk, 76, len).unwrap_or_default();
        if flags & 0x20 != 0 {
            raw.iter().map(|&b| char::from(b)).collect()
        } else {
            utf16le_to_nul(raw)
        }
    }

    /// Subkey cell offsets of the list at `off`, appended to `out` (at most `limit`: `ri`
    /// lists pointing many times at one big list must not multiply into a huge allocation).
    fn list(&self, off: u32, depth: u32, limit: usize, out: &mut Vec<u32>) -> Result<()> {
        let c = self.cell(off)?;
        let abs = BINS_START + u64::from(off);
        let count = u64::from(le_u16(c, 2).ok_or_else(|| fmt(abs, "truncated list"))?);
        let (step, ri) = match c.get(..2) {
            Some(b"lf") | Some(b"lh") => (8, false),
            Some(b"li") => (4, false),
            Some(b"ri") => (4, true),
            _ => return Err(fmt(abs, "unknown subkey list signature")),
        };
        if 4 + count * step > c.len() as u64 {
            return Err(fmt(
                abs,
                format!("{count} list entries do not fit the cell"),
            ));
        }
        for i in 0..count {
            let o = le_u32(c, 4 + i * step).ok_or_else(|| fmt(abs, "truncated list"))?;
            if ri {
                if depth >= MAX_RI_DEPTH {
                    return Err(fmt(
                        abs,
                        "an ri list inside an ri list (Windows never nests them); not followed",
                    ));
                }
                self.list(o, depth + 1, limit, out)?;
            } else {
                if out.len() >= limit {
                    return Err(fmt(abs, format!("more subkey list entries than {limit}")));
                }
                out.push(o);
            }
        }
        Ok(())
    }

    fn subkey(&self, key: u32, name: &str) -> Result<Option<u32>> {
        let nk = self.nk(key)?;
        let n = le_u32(nk, 20).unwrap_or(0);
        if n == 0 {
            return Ok(None);
        }
        let list = le_u32(nk, 28).unwrap_or(u32::MAX);
        let mut children = Vec::new();
        let limit = (n as usize).min(MAX_SUBKEYS);
        self.list(list, 0, limit, &mut children)?;
        let want = name.to_lowercase();
        let ascii = want.is_ascii().then_some(want.len() as u64);
        for child in children {
            // A damaged child is skipped: its siblings can still be the one looked for.
            if let Ok(c) = self.nk(child) {
                let stored = Self::stored_len(
                    u64::from(le_u16(c, 72).unwrap_or(0)),
                    le_u16(c, 2).unwrap_or(0) & 0x20 != 0,
                );
                if ascii.is_some_and(|n| n != stored) {
                    continue;
                }
                if Self::key_name(c).to_lowercase() == want {
                    return Ok(Some(child));
                }
            }
        }
        Ok(None)
    }

    /// Cell offset of the key at `path` (`\`- or `/`-separated, relative to the root key,
    /// case-insensitive), or `None` when a component does not exist.
    fn key(&self, path: &str) -> Result<Option<u32>> {
        let mut k = self.root;
        for part in path.split(['\\', '/']).filter(|p| !p.is_empty()) {
            match self.subkey(k, part)? {
                Some(c) => k = c,
                None => return Ok(None),
            }
        }
        Ok(Some(k))
    }

    /// Type and data of the value `name` of the key at cell `key`.
    fn value(&self, key: u32, name: &str) -> Result<Option<(u32, Vec<u8>)>> {
        let nk = self.nk(key)?;
        let count = u64::from(le_u32(nk, 36).unwrap_or(0));
        if count == 0 {
            return Ok(None);
        }
        let list_off = le_u32(nk, 40).unwrap_or(u32::MAX);
        let list = self.cell(list_off)?;
        if count * 4 > list.len() as u64 {
            return Err(fmt(
                BINS_START + u64::from(list_off),
                format!("{count} values do not fit the value list"),
            ));
        }
        let want = name.to_lowercase();
        let ascii = want.is_ascii().then_some(want.len() as u64);
        for i in 0..count {
            let Some(vk_off) = le_u32(list, i * 4) else {
                break;
            };
            let Ok(vk) = self.cell(vk_off) else {
                continue;
            };
            if vk.get(..2) != Some(b"vk".as_slice()) {
                continue;
            }
            let name_len = u64::from(le_u16(vk, 2).unwrap_or(0));
            let flags = le_u16(vk, 16).unwrap_or(0);
            if ascii.is_some_and(|n| n != Self::stored_len(name_len, flags & 1 != 0)) {
                continue;
            }
            let raw = slice_at(vk, 20, name_len).unwrap_or_default();
            let vname = if flags & 1 != 0 {
                raw.iter().map(|&b| char::from(b)).collect()
            } else {
                utf16le_to_nul(raw)
            };
            if vname.to_lowercase() != want {
                continue;
            }
            let abs = BINS_START + u64::from(vk_off);
            let size = le_u32(vk, 4).ok_or_else(|| fmt(abs, "truncated value"))?;
            let data_off = le_u32(vk, 8).ok_or_else(|| fmt(abs, "truncated value"))?;
            let vtype = le_u32(vk, 12).ok_or_else(|| fmt(abs, "truncated value"))?;
            return self
                .value_data(abs, size, data_off, vk)
                .map(|d| Some((vtype, d)));
        }
        Ok(None)
    }

    fn value_data(&self, abs: u64, size: u32, data_off: u32, vk: &[u8]) -> Result<Vec<u8>> {
        if size & 0x8000_0000 != 0 {
            let len = u64::from(size & 0x7FFF_FFFF).min(4);
            return Ok(slice_at(vk, 8, len).unwrap_or_default().to_vec());
        }
        let len = u64::from(size);
        if len > MAX_VALUE_SIZE {
            return Err(Error::Limit(format!(
                "registry value at {abs:#x}: {len} bytes (at most {MAX_VALUE_SIZE} read)"
            )));
        }
        let cell = self.cell(data_off)?;
        if len > DB_SEGMENT && self.minor >= 4 && cell.get(..2) == Some(b"db".as_slice()) {
            let segs = u64::from(le_u16(cell, 2).unwrap_or(0));
            let list = self.cell(le_u32(cell, 4).unwrap_or(u32::MAX))?;
            if segs * 4 > list.len() as u64 {
                return Err(fmt(abs, "big-data segment list does not fit its cell"));
            }
            let mut data = Vec::new();
            for i in 0..segs {
                let seg_off =
                    le_u32(list, i * 4).ok_or_else(|| fmt(abs, "truncated segment list"))?;
                let seg = self.cell(seg_off)?;
                let want = (len - data.len() as u64).min(DB_SEGMENT);
                data.extend_from_slice(
                    slice_at(seg, 0, want).ok_or_else(|| fmt(abs, "short big-data segment"))?,
                );
                if data.len() as u64 >= len {
                    break;
                }
            }
            if (data.len() as u64) < len {
                return Err(fmt(abs, "big-data value shorter than recorded"));
            }
            return Ok(data);
        }
        Ok(slice_at(cell, 0, len)
            .ok_or_else(|| {
                fmt(
                    abs,
                    format!("value data of {len} bytes does not fit its cell"),
                )
            })?
            .to_vec())
    }

    /// The string value `name` of the key at `path` (relative to the root key, e.g.
    /// `Microsoft\ExchangeServer\v15\Setup`), for `REG_SZ`/`REG_EXPAND_SZ` values (UTF-16LE,
    /// up to the first NUL). `None` when the key or value does not exist or is not a string.
    pub fn string_value(&self, path: &str, name: &str) -> Result<Option<String>> {
        let Some(k) = self.key(path)? else {
            return Ok(None);
        };
        Ok(match self.value(k, name)? {
            Some((1 | 2, data)) => Some(utf16le_to_nul(&data)),
            _ => None,
        })
    }
}

/// The `MsiInstallPath` values under `Microsoft\ExchangeServer\v15\Setup` and
/// `Microsoft\ExchangeServer\v14\Setup` of a SOFTWARE hive, as written (Windows paths such as
/// `C:\Program Files\Microsoft\Exchange Server\V15\`; see
/// [`super::windows_path_to_volume_path`]). Empty when Exchange is not installed; an error when
/// the hive (or the path to the value) is damaged.
pub fn msi_install_paths(software_hive: &[u8]) -> Result<Vec<String>> {
    let hive = Hive::new(software_hive)?;
    let mut out = Vec::new();
    for v in ["v15", "v14"] {
        let path = format!(r"Microsoft\ExchangeServer\{v}\Setup");
        if let Some(p) = hive.string_value(&path, "MsiInstallPath")? {
            let p = p.trim().to_string();
            if !p.is_empty() && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}
