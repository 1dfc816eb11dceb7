//! What a file is from its first bytes: the one magic-number sniffer ([`Magic::of`]) and the
//! one way to read those bytes ([`stream_head`] for an NTFS stream, [`file_head`] for a loose
//! host file, both [`HEAD_LEN`] bytes).
//!
//! Selection (a minidump or an archive is scanned whatever its name), the YARA `filetype`
//! external and the staged-archive assessment all ask [`Magic::of`], so they cannot disagree
//! about what is a zip.
//!
//! ```
//! use deadbox::sniff::Magic;
//! assert_eq!(Magic::of(b"PK\x03\x04rest"), Some(Magic::Zip));
//! assert_eq!(Magic::of(b"PK\x07\x08"), Some(Magic::Zip)); // spanned
//! assert!(Magic::Zip.is_archive());
//! assert_eq!(Magic::of(b"MZ\x90\x00").map(Magic::filetype), Some("EXE"));
//! assert_eq!(Magic::of(b"hello"), None);
//! ```

use crate::ntfs::{NtfsVolume, Stream};
use std::io::Read;
use std::path::Path;

/// How many first bytes of a stream or file are read to sniff it: enough for every signature
/// [`Magic::of`] knows.
pub const HEAD_LEN: usize = 16;

/// A file type recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Magic {
    /// A Windows executable or DLL (`MZ`).
    Exe,
    /// A Windows minidump (`MDMP`), e.g. of LSASS.
    Minidump,
    /// A zip archive: a local file header (`PK\x03\x04`), an empty archive's end record
    /// (`PK\x05\x06`) or a spanned archive's marker (`PK\x07\x08`).
    Zip,
    /// A 7-Zip archive.
    SevenZip,
    /// A RAR archive (version 4 or 5).
    Rar,
    /// An ELF executable.
    Elf,
    /// A PDF document.
    Pdf,
    /// A GIF image.
    Gif,
}

/// Signatures in the order they are tried (none is a prefix of another).
const SIGNATURES: &[(&[u8], Magic)] = &[
    (b"MZ", Magic::Exe),
    (b"MDMP", Magic::Minidump),
    (b"PK\x03\x04", Magic::Zip),
    (b"PK\x05\x06", Magic::Zip),
    (b"PK\x07\x08", Magic::Zip),
    (b"7z\xBC\xAF\x27\x1C", Magic::SevenZip),
    (b"Rar!\x1A\x07\x00", Magic::Rar),
    (b"Rar!\x1A\x07\x01\x00", Magic::Rar),
    (b"\x7fELF", Magic::Elf),
    (b"%PDF", Magic::Pdf),
    (b"GIF8", Magic::Gif),
];

impl Magic {
    /// The type `head` (the first bytes of a file; [`HEAD_LEN`] are enough) starts with, if
    /// any.
    pub fn of(head: &[u8]) -> Option<Magic> {
        SIGNATURES
            .iter()
            .find(|(sig, _)| head.starts_with(sig))
            .map(|&(_, m)| m)
    }

    /// `"zip"`, `"7z"` or `"rar"` for an archive, else `None`.
    pub fn archive(self) -> Option<&'static str> {
        match self {
            Magic::Zip => Some("zip"),
            Magic::SevenZip => Some("7z"),
            Magic::Rar => Some("rar"),
            _ => None,
        }
    }

    /// Whether this is an archive (zip, 7z, rar).
    pub fn is_archive(self) -> bool {
        self.archive().is_some()
    }

    /// The name under which a triage scan selects a stream of this type whatever its name
    /// (`"minidump"` or the archive kind), or `None` when the type alone does not select it.
    pub fn selects(self) -> Option<&'static str> {
        match self {
            Magic::Minidump => Some("minidump"),
            m => m.archive(),
        }
    }

    /// The short type name signature-base's `filetype` YARA external expects (`"EXE"`,
    /// `"MDMP"`, `"ZIP"`, `"7Z"`, `"RAR"`, `"ELF"`, `"PDF"`, `"GIF"`).
    pub fn filetype(self) -> &'static str {
        match self {
            Magic::Exe => "EXE",
            Magic::Minidump => "MDMP",
            Magic::Zip => "ZIP",
            Magic::SevenZip => "7Z",
            Magic::Rar => "RAR",
            Magic::Elf => "ELF",
            Magic::Pdf => "PDF",
            Magic::Gif => "GIF",
        }
    }
}

/// The first [`HEAD_LEN`] bytes of an NTFS stream (fewer when it is shorter; empty when
/// unreadable), reading no more than needed.
pub fn stream_head(vol: &NtfsVolume, s: &Stream) -> Vec<u8> {
    vol.read_head(s, HEAD_LEN)
}

/// The first [`HEAD_LEN`] bytes of a host file (fewer when it is shorter; empty when it cannot
/// be opened or read).
pub fn file_head(p: &Path) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEAD_LEN);
    match crate::evidence::open_loose(p).and_then(|f| {
        f.take(HEAD_LEN as u64)
            .read_to_end(&mut b)
            .map_err(|e| crate::Error::io(p, e))
    }) {
        Ok(_) => b,
        Err(_) => Vec::new(),
    }
}

/// At most `len` bytes of an NTFS stream from `offset` (fewer at the end; what was read before
/// an error, possibly nothing).
pub fn stream_range(vol: &NtfsVolume, s: &Stream, offset: u64, len: usize) -> Vec<u8> {
    if offset == 0 && len <= HEAD_LEN {
        return stream_head(vol, s);
    }
    let len = (len as u64).min(s.size.saturating_sub(offset)) as usize;
    let mut out = vec![0u8; len];
    let mut r = vol.stream_reader(s);
    let mut got = 0;
    while got < len {
        match r.read_at(offset + got as u64, &mut out[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    out.truncate(got);
    out
}

/// At most `len` bytes of a host file from `offset` (fewer at the end; empty when it cannot be
/// opened; what was read before an error).
pub fn file_range(p: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut b = Vec::with_capacity(len.min(1 << 20));
    if let Ok(mut f) = crate::evidence::open_loose(p) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.take(len as u64).read_to_end(&mut b);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(Magic::of(b"MDMP\x93\xa7"), Some(Magic::Minidump));
        assert_eq!(
            Magic::of(b"7z\xBC\xAF\x27\x1C\0\x04"),
            Some(Magic::SevenZip)
        );
        assert_eq!(Magic::of(b"Rar!\x1A\x07\x00"), Some(Magic::Rar));
        assert_eq!(Magic::of(b"Rar!\x1A\x07\x01\x00"), Some(Magic::Rar));
        assert_eq!(Magic::of(b"Rar!"), None);
        assert_eq!(Magic::of(b"PK"), None);
        assert_eq!(Magic::of(b""), None);
        for (sig, m) in SIGNATURES {
            assert!(sig.len() <= HEAD_LEN);
            assert_eq!(Magic::of(sig), Some(*m));
        }
    }

    /// The three zip signatures are archives, selected, and `ZIP` to YARA alike.
    #[test]
    fn every_zip_signature_is_one_zip() {
        for head in [&b"PK\x03\x04"[..], b"PK\x05\x06", b"PK\x07\x08"] {
            let m = Magic::of(head);
            assert_eq!(m, Some(Magic::Zip));
            assert_eq!(m.and_then(Magic::archive), Some("zip"));
            assert_eq!(m.and_then(Magic::selects), Some("zip"));
            assert_eq!(m.map(Magic::filetype), Some("ZIP"));
        }
        assert_eq!(Magic::Exe.selects(), None);
        assert_eq!(Magic::Minidump.archive(), None);
    }

    #[test]
    fn host_file_head() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join("long");
        std::fs::write(&long, [7u8; 100]).unwrap();
        assert_eq!(file_head(&long), vec![7u8; HEAD_LEN]);
        let short = dir.path().join("short");
        std::fs::write(&short, b"MZ").unwrap();
        assert_eq!(file_head(&short), b"MZ");
        assert!(file_head(&dir.path().join("missing")).is_empty());
    }
}
