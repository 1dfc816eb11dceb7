//! Owners of files: the security descriptors of `$Secure:$SDS` (MFT entry 9), looked up by the
//! security id of a file's `$STANDARD_INFORMATION` (NTFS 3.x, 72-byte form), or a file's own
//! `$SECURITY_DESCRIPTOR` attribute (NTFS 1.x, and what `mkntfs`/`ntfs-3g` write for some
//! files). Only the owner SID of each descriptor is kept.
//!
//! `$SDS` is a sequence of 256 KiB blocks, each followed by a 256 KiB mirror copy (skipped
//! here). A block holds entries, 16-byte aligned: hash (u32), security id (u32), the entry's
//! own offset in the stream (u64), its length (u32, header included), then a self-relative
//! `SECURITY_DESCRIPTOR`. Everything read from disk is bounded: the stream is read up to
//! [`MAX_SDS_BYTES`], at most [`MAX_SDS_ENTRIES`] entries are kept, an entry is never followed
//! backwards or past its block, and an entry whose offset field, length or owner offset does
//! not fit is skipped with a [`Diagnostic`].

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use deadbox_evidence::bytes::{le_u16, le_u32, le_u64};
use std::collections::HashMap;

/// Largest `$SDS` read, in bytes (256 MiB); the rest is left out with a diagnostic.
pub const MAX_SDS_BYTES: u64 = 256 << 20;
/// Most `$SDS` entries kept (1 Mi); the rest are left out with a diagnostic.
pub const MAX_SDS_ENTRIES: usize = 1 << 20;
/// Bytes of one `$SDS` block; each is followed by a mirror copy of the same size.
const SDS_BLOCK: usize = 256 << 10;
/// Bytes of an `$SDS` entry header.
const SDS_HEADER: usize = 20;
/// Most diagnostics kept from one `$SDS` (one per bad entry would let a hostile stream fill
/// memory with messages).
const MAX_DIAGNOSTICS: usize = 64;

/// The owner of a file: its SID as text (`S-1-5-18`) and, for a well-known SID, its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The SID, as Windows writes it (`S-1-5-21-…-1001`).
    pub sid: String,
    /// The well-known name ([`well_known_name`]), e.g. `NT AUTHORITY\SYSTEM`; `None` otherwise.
    pub name: Option<&'static str>,
}

impl Owner {
    /// The owner of `sid` text, with its well-known name when it has one.
    pub fn from_sid(sid: String) -> Self {
        let name = well_known_name(&sid);
        Owner { sid, name }
    }

    /// True for `NT AUTHORITY\SYSTEM` (`S-1-5-18`).
    pub fn is_system(&self) -> bool {
        self.sid == "S-1-5-18"
    }

    /// True for an IIS application-pool identity (`S-1-5-82-…`).
    pub fn is_app_pool(&self) -> bool {
        self.sid.starts_with("S-1-5-82-")
    }
}

/// The SID at the start of `b` as text, and its length in bytes. `None` when it is not a SID:
/// revision other than 1, more than 15 sub-authorities, or too short.
pub fn parse_sid(b: &[u8]) -> Option<(String, usize)> {
    let (&rev, &count) = (b.first()?, b.get(1)?);
    if rev != 1 || count > 15 {
        return None;
    }
    let len = 8 + 4 * count as usize;
    let auth = b.get(2..8)?;
    let authority = auth.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    // Windows writes an authority of 2^32 or more in hex.
    let mut s = if authority >> 32 == 0 {
        format!("S-1-{authority}")
    } else {
        format!("S-1-0x{authority:012X}")
    };
    for i in 0..count as usize {
        let v = le_u32(b, 8 + 4 * i)?;
        s.push('-');
        s.push_str(&v.to_string());
    }
    Some((s, len))
}

/// The well-known name of a SID (text), as Windows shows it (`Get-Acl`); `None` when it has
/// none. Classes of SIDs named by their authority only, since the account name cannot be
/// recovered from the SID: `S-1-5-80-…` `NT SERVICE` (a service account), `S-1-5-82-…` `IIS
/// APPPOOL` (an application-pool identity); `S-1-5-21-…-500` is `Administrator` and
/// `S-1-5-21-…-512` `Domain Admins` (of a machine or domain the SID does not name).
pub fn well_known_name(sid: &str) -> Option<&'static str> {
    Some(match sid {
        "S-1-1-0" => "Everyone",
        "S-1-3-0" => "CREATOR OWNER",
        "S-1-5-11" => "NT AUTHORITY\\Authenticated Users",
        "S-1-5-18" => "NT AUTHORITY\\SYSTEM",
        "S-1-5-19" => "NT AUTHORITY\\LOCAL SERVICE",
        "S-1-5-20" => "NT AUTHORITY\\NETWORK SERVICE",
        "S-1-5-32-544" => "BUILTIN\\Administrators",
        "S-1-5-32-545" => "BUILTIN\\Users",
        "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464" => {
            "NT SERVICE\\TrustedInstaller"
        }
        s if s.starts_with("S-1-5-80-") => "NT SERVICE",
        s if s.starts_with("S-1-5-82-") => "IIS APPPOOL",
        s if s.starts_with("S-1-5-21-") && s.ends_with("-500") => "Administrator",
        s if s.starts_with("S-1-5-21-") && s.ends_with("-512") => "Domain Admins",
        _ => return None,
    })
}

/// The owner SID of a self-relative `SECURITY_DESCRIPTOR`. Errors (as text): not revision 1,
/// no owner, or an owner offset or SID that does not fit in `sd`.
pub fn descriptor_owner(sd: &[u8]) -> Result<Owner, String> {
    let rev = *sd.first().ok_or("security descriptor too short")?;
    if rev != 1 {
        return Err(format!("security descriptor revision {rev}, not 1"));
    }
    let control = le_u16(sd, 2).ok_or("security descriptor too short")?;
    if control & 0x8000 == 0 {
        return Err("security descriptor not self-relative".into());
    }
    let off = le_u32(sd, 4).ok_or("security descriptor too short")? as usize;
    if off == 0 {
        return Err("security descriptor has no owner".into());
    }
    if off < 20 || off >= sd.len() {
        return Err(format!(
            "owner at offset {off} outside the {}-byte descriptor",
            sd.len()
        ));
    }
    let (sid, _) =
        parse_sid(&sd[off..]).ok_or_else(|| format!("owner at offset {off}: not a SID"))?;
    Ok(Owner::from_sid(sid))
}

/// The owners of a volume's `$Secure:$SDS`, by security id, and the problems met reading it.
#[derive(Debug, Clone, Default)]
pub struct SecureTable {
    owners: HashMap<u32, Owner>,
    diagnostics: Vec<Diagnostic>,
}

impl SecureTable {
    /// Parses the bytes of a `$SDS` stream (see the module documentation for the bounds).
    pub fn parse(sds: &[u8]) -> Self {
        let mut t = SecureTable::default();
        let mut block = 0usize;
        'blocks: while block < sds.len() {
            let end = sds.len().min(block + SDS_BLOCK);
            let mut pos = block;
            while pos + SDS_HEADER <= end {
                let (Some(id), Some(off), Some(len)) = (
                    le_u32(sds, pos + 4),
                    le_u64(sds, pos + 8),
                    le_u32(sds, pos + 16),
                ) else {
                    break;
                };
                let len = len as usize;
                if len == 0 && id == 0 {
                    break; // the rest of the block is unused
                }
                let fits = len >= SDS_HEADER && len <= end - pos;
                if off != pos as u64 {
                    // Not an entry where one was expected: the end of the block's entries
                    // (Windows leaves stale bytes past the last one). An entry-like header
                    // naming another offset (a loop, if followed) is reported.
                    if fits && id >= 0x100 {
                        t.diag(
                            DiagnosticKind::Corrupt,
                            format!("$SDS entry at {pos} (security id {id}) names offset {off}; rest of the block skipped"),
                        );
                    }
                    break;
                }
                if !fits {
                    t.diag(
                        DiagnosticKind::Corrupt,
                        format!("$SDS entry at {pos}: length {len} does not fit its block; rest of the block skipped"),
                    );
                    break;
                } else if t.owners.len() >= MAX_SDS_ENTRIES {
                    t.diag(
                        DiagnosticKind::Limit,
                        format!("$SDS: more than {MAX_SDS_ENTRIES} descriptors; the rest left out"),
                    );
                    break 'blocks;
                } else {
                    match descriptor_owner(&sds[pos + SDS_HEADER..pos + len]) {
                        Ok(o) => {
                            t.owners.entry(id).or_insert(o);
                        }
                        Err(e) => t.diag(
                            DiagnosticKind::Corrupt,
                            format!("$SDS entry at {pos} (security id {id}): {e}; skipped"),
                        ),
                    }
                }
                // Forward only, 16-byte aligned.
                pos += (len + 15) & !15;
            }
            block += 2 * SDS_BLOCK;
        }
        t
    }

    fn diag(&mut self, kind: DiagnosticKind, message: String) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(Diagnostic::new(kind, message));
        }
    }

    /// The owner of security id `id`.
    pub fn get(&self, id: u32) -> Option<&Owner> {
        self.owners.get(&id)
    }

    /// Number of security ids with an owner.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// True when no owner was read.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Problems met reading `$Secure` (at most 64 are kept).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Adds the diagnostic of read error `e` (`what`: what it meant).
    pub(crate) fn push_diagnostic(&mut self, e: &deadbox_evidence::Error, what: &str) {
        self.diag(Diagnostic::kind_of(e), format!("{what}: {e}"));
    }

    /// A table holding only the diagnostic that `$Secure` could not be read.
    pub(crate) fn unreadable(message: String) -> Self {
        SecureTable {
            owners: HashMap::new(),
            diagnostics: vec![Diagnostic::new(DiagnosticKind::Unreadable, message)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(auth: u8, subs: &[u32]) -> Vec<u8> {
        let mut b = vec![1, subs.len() as u8, 0, 0, 0, 0, 0, auth];
        for s in subs {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }

    #[test]
    fn sids_and_names() {
        assert_eq!(parse_sid(&sid(5, &[18])), Some(("S-1-5-18".into(), 12)));
        assert_eq!(
            Owner::from_sid("S-1-5-82-1-2-3-4-5".into()).name,
            Some("IIS APPPOOL")
        );
        assert_eq!(well_known_name("S-1-5-21-1-2-3-500"), Some("Administrator"));
        assert_eq!(well_known_name("S-1-5-21-1-2-3-1001"), None);
        assert_eq!(parse_sid(&[1, 16, 0, 0, 0, 0, 0, 5]), None, "count > 15");
        assert_eq!(parse_sid(&[2, 1, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0]), None);
        assert_eq!(parse_sid(&sid(5, &[21, 1])[..14]), None, "truncated");
        let mut big = sid(0, &[7]);
        big[2] = 1;
        assert_eq!(parse_sid(&big).unwrap().0, "S-1-0x010000000000-7");
    }

    #[test]
    fn descriptor_owner_bounds() {
        let mut sd = vec![
            1, 0, 0x04, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sd.extend(sid(5, &[32, 544]));
        assert_eq!(
            descriptor_owner(&sd).unwrap().name,
            Some("BUILTIN\\Administrators")
        );
        sd[4] = 200;
        assert!(descriptor_owner(&sd).is_err());
        sd[4] = 0;
        assert!(descriptor_owner(&sd).is_err());
    }
}
