//! Evidence: random-access, read-only views of the bytes of a disk image.
//!
//! Every container (raw/dd, split raw, and the formats of [`open`]'s detection list) implements
//! [`Evidence`]: its media length, reads at an offset, and — where the media bytes sit plainly in
//! memory, as in a memory-mapped raw image — a borrowed slice, so callers can hash and scan
//! without copying. [`Region`] is a bounds-checked window (a partition or volume) over any
//! evidence.
//!
//! Evidence is only ever opened read-only: [`open_read_only`] is the one place in the library
//! that opens an evidence file.
//!
//! This crate knows containers only (no partition tables, no file systems: see
//! `deadbox-ntfs`). Every format is read by hand, bounded and checked — see each type for why no
//! existing crate fits (they need FUSE or C libraries, or trust their input).
//!
//! ```
//! use deadbox_evidence::{open, Evidence, Format};
//! # fn main() -> deadbox_evidence::Result<()> {
//! // The container is detected by its magic bytes; a raw image is memory-mapped.
//! let ev = open("../../fixtures/ntfs-basic.img".as_ref())?;
//! assert_eq!(ev.format(), Format::Raw { segments: 1 });
//! let mut boot = [0u8; 512];
//! ev.read_exact_at(0, &mut boot)?;
//! assert_eq!(&boot[3..11], b"NTFS    ");
//! // Where the bytes sit plainly in memory, a slice borrows them: no copy.
//! assert_eq!(ev.slice(0, 512).map(|s| s == &boot[..]), Some(true));
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod budget;
pub mod bytes;
mod common;
pub mod error;
mod ewf;
mod qcow2;
mod raw;
mod vhd;
mod vhdx;
mod vmdk;

pub use budget::MemoryBudget;
pub use error::{Error, Result};
pub use ewf::{verify, EwfImage, VerifyReport, CHUNK_CACHE_BYTES};
pub use qcow2::Qcow2Image;
pub use raw::RawImage;
pub use vhd::VhdImage;
pub use vhdx::VhdxImage;
pub use vmdk::VmdkImage;

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// Random-access, read-only media bytes of a piece of evidence.
///
/// Implementations must be cheap to share between threads: reads take `&self`.
pub trait Evidence: Send + Sync + std::fmt::Debug {
    /// Length of the media (the virtual disk), in bytes.
    fn len(&self) -> u64;

    /// True when the media has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the media bytes at `offset`. A read past the end is an
    /// [`Error::OutOfBounds`]; nothing is ever partially filled silently.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// The media bytes `offset..offset + len` as a borrowed slice, when they sit plainly in
    /// memory (a memory-mapped raw image). `None` when they would need decoding or copying.
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let _ = (offset, len);
        None
    }

    /// The container format; its [`Display`](std::fmt::Display) text is the name shown to
    /// users, e.g. `raw`, `raw (split, 3 segments)`, `E01`, `VHDX`.
    fn format(&self) -> Format;

    /// The MD5 and SHA-1 of the media that the container recorded at acquisition (E01 does;
    /// other formats record none). See [`verify`].
    fn stored_hashes(&self) -> (Option<[u8; 16]>, Option<[u8; 20]>) {
        (None, None)
    }
}

/// A container format, with the variant details that its name shows.
///
/// [`Display`](std::fmt::Display) gives the name used in `deadbox info` and JSON output
/// (`raw`, `raw (split, 3 segments)`, `E01 (2 segments)`, `VHD (dynamic)`, `VHDX (fixed)`,
/// `VMDK (monolithic sparse)`, `qcow2 (v2)`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Raw (dd) media, in one file or split into numbered segments.
    Raw {
        /// Number of segment files (1 for a single file).
        segments: usize,
    },
    /// Expert Witness Format (E01), one or more segment files.
    Ewf {
        /// Number of segment files.
        segments: usize,
    },
    /// Microsoft VHD.
    Vhd {
        /// True for a dynamic disk, false for a fixed one.
        dynamic: bool,
    },
    /// Microsoft VHDX.
    Vhdx {
        /// True when the payload blocks are all present (fixed disk).
        fixed: bool,
    },
    /// VMware VMDK.
    Vmdk {
        /// The descriptor's `createType` (`monolithicSparse`, `twoGbMaxExtentFlat`, …; empty
        /// when absent).
        create_type: String,
    },
    /// QEMU qcow2.
    Qcow2 {
        /// The header version (2 or 3).
        version: u32,
    },
    /// Bytes held in memory.
    Memory,
    /// Another implementation of [`Evidence`], named freely.
    Other(String),
}

impl Format {
    /// True for raw media (single file or split).
    pub fn is_raw(&self) -> bool {
        matches!(self, Format::Raw { .. })
    }

    /// True for raw media split into several segment files.
    pub fn is_split(&self) -> bool {
        matches!(self, Format::Raw { segments } if *segments > 1)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Raw { segments } if *segments > 1 => {
                write!(f, "raw (split, {segments} segments)")
            }
            Format::Raw { .. } => f.write_str("raw"),
            Format::Ewf { segments } if *segments > 1 => write!(f, "E01 ({segments} segments)"),
            Format::Ewf { .. } => f.write_str("E01"),
            Format::Vhd { dynamic: true } => f.write_str("VHD (dynamic)"),
            Format::Vhd { dynamic: false } => f.write_str("VHD (fixed)"),
            Format::Vhdx { fixed: true } => f.write_str("VHDX (fixed)"),
            Format::Vhdx { fixed: false } => f.write_str("VHDX"),
            Format::Vmdk { create_type } => {
                let t = match create_type.as_str() {
                    "monolithicSparse" => "monolithic sparse",
                    "monolithicFlat" => "flat",
                    "streamOptimized" => "streamOptimized",
                    "twoGbMaxExtentSparse" => "split sparse",
                    "twoGbMaxExtentFlat" => "split flat",
                    "" => "unknown",
                    other => other,
                };
                write!(f, "VMDK ({t})")
            }
            Format::Qcow2 { version: 2 } => f.write_str("qcow2 (v2)"),
            Format::Qcow2 { .. } => f.write_str("qcow2"),
            Format::Memory => f.write_str("memory"),
            Format::Other(name) => f.write_str(name),
        }
    }
}

/// Checks that `offset..offset+len` lies inside `size`.
pub(crate) fn check_bounds(offset: u64, len: usize, size: u64) -> Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(Error::OutOfBounds {
            offset,
            len: len as u64,
            size,
        }),
    }
}

/// Opens a file for reading only. This is the single place in deadbox that opens evidence;
/// no code path opens evidence for writing.
pub fn open_read_only(path: &Path) -> Result<File> {
    File::options()
        .read(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Opens a loose host file (a member of a folder being scanned, not an image the user named)
/// for reading only, refusing anything that is not a regular file: such a folder may change
/// under a scan (a rotating log, a dump still being written, a file swapped for a FIFO or a
/// device node). The type is checked with `lstat` before the open and with `fstat` on the open
/// descriptor after it, so a FIFO or device is never read. On Linux the file is first opened
/// with `O_PATH` (a handle on the inode that opens nothing: no driver open for a device node,
/// no wait for a FIFO's writer), checked with `fstat`, and only then opened for reading through
/// `/proc/self/fd`, which reopens that very inode: a device or FIFO swapped in between the
/// checks is never opened for reading at all. Elsewhere (or without `/proc`) the open itself
/// uses `O_NONBLOCK` (a FIFO swapped in cannot block it), `O_NOFOLLOW` (a symlink swapped in is
/// not followed) and `O_NOCTTY`. Callers read the file with positioned or sequential reads,
/// never a memory map: a mapped file truncated by another process raises `SIGBUS`.
pub fn open_loose(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular = |what: &str| {
        Error::Invalid(format!(
            "{}: not a regular file {what} (not read)",
            path.display()
        ))
    };
    let before = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if !before.file_type().is_file() {
        return Err(not_regular("when opened"));
    }
    let flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let handle = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let inode = handle.metadata().map_err(|e| Error::io(path, e))?;
        if !inode.file_type().is_file() {
            return Err(not_regular("when opened"));
        }
        let by_fd = format!("/proc/self/fd/{}", handle.as_raw_fd());
        if let Ok(f) = File::options().read(true).custom_flags(flags).open(&by_fd) {
            let after = f.metadata().map_err(|e| Error::io(path, e))?;
            if !after.file_type().is_file()
                || (after.dev(), after.ino()) != (inode.dev(), inode.ino())
            {
                return Err(not_regular("once open"));
            }
            return Ok(f);
        }
    }
    let f = File::options()
        .read(true)
        .custom_flags(flags | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let after = f.metadata().map_err(|e| Error::io(path, e))?;
    if !after.file_type().is_file() {
        return Err(not_regular("once open"));
    }
    Ok(f)
}

/// The container formats [`open`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContainerKind {
    /// Expert Witness Format (`EVF` magic): [`EwfImage`].
    Ewf,
    /// VHDX (`vhdxfile`): [`VhdxImage`].
    Vhdx,
    /// VMDK sparse extent (`KDMV`) or text descriptor: [`VmdkImage`].
    Vmdk,
    /// qcow2 (`QFI\xfb`): [`Qcow2Image`].
    Qcow2,
    /// VHD (`conectix` footer at the end, or its copy at offset 0): [`VhdImage`].
    Vhd,
    /// Anything else: [`RawImage`].
    Raw,
}

/// Detects the container format of the file at `path` from its magic bytes (never from its
/// extension).
pub fn detect(path: &Path) -> Result<ContainerKind> {
    use std::os::unix::fs::FileExt;
    let file = open_read_only(path)?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::Invalid(format!("{} is a directory", path.display())));
    }
    let len = meta.len();
    let read = |at: u64, n: u64| -> Result<Vec<u8>> {
        let mut b = vec![0u8; n as usize];
        file.read_exact_at(&mut b, at)
            .map_err(|e| Error::io(path, e))?;
        Ok(b)
    };
    let head = read(0, len.min(512))?;
    let kind = if head.starts_with(ewf::MAGIC) {
        ContainerKind::Ewf
    } else if head.starts_with(vhdx::MAGIC) {
        ContainerKind::Vhdx
    } else if head.starts_with(vmdk::SPARSE_MAGIC) || head.starts_with(vmdk::DESCRIPTOR_MAGIC) {
        ContainerKind::Vmdk
    } else if head.starts_with(qcow2::MAGIC) {
        ContainerKind::Qcow2
    } else if head.starts_with(vhd::COOKIE)
        || (len >= 512 && read(len - 512, 512)?.starts_with(vhd::COOKIE))
    {
        ContainerKind::Vhd
    } else {
        ContainerKind::Raw
    };
    Ok(kind)
}

/// Opens evidence at `path`, detecting the container by its magic bytes (not its extension):
/// E01, VHD (fixed/dynamic), VHDX, VMDK (sparse, streamOptimized, flat, split) and qcow2.
///
/// Anything not recognised as a container is treated as a raw image; a raw image named
/// `x.001` is opened together with `x.002`, `x.003`, … as one split image. Images that need a
/// parent or backing file give [`Error::Unsupported`].
pub fn open(path: &Path) -> Result<Arc<dyn Evidence>> {
    Ok(match detect(path)? {
        ContainerKind::Ewf => Arc::new(EwfImage::open(path)?),
        ContainerKind::Vhdx => Arc::new(VhdxImage::open(path)?),
        ContainerKind::Vmdk => Arc::new(VmdkImage::open(path)?),
        ContainerKind::Qcow2 => Arc::new(Qcow2Image::open(path)?),
        ContainerKind::Vhd => Arc::new(VhdImage::open(path)?),
        ContainerKind::Raw => Arc::new(RawImage::open(path)?),
    })
}

/// A bounds-checked window `start..start+len` over some evidence: a partition or a volume.
#[derive(Debug, Clone)]
pub struct Region {
    evidence: Arc<dyn Evidence>,
    start: u64,
    len: u64,
}

impl Region {
    /// A window over `evidence`; fails when it does not lie inside the evidence.
    pub fn new(evidence: Arc<dyn Evidence>, start: u64, len: u64) -> Result<Self> {
        let size = evidence.len();
        match start.checked_add(len) {
            Some(end) if end <= size => Ok(Region {
                evidence,
                start,
                len,
            }),
            _ => Err(Error::OutOfBounds {
                offset: start,
                len,
                size,
            }),
        }
    }

    /// A window clipped to the end of the evidence (for partitions that claim more than the image
    /// holds, e.g. a truncated acquisition).
    pub fn clipped(evidence: Arc<dyn Evidence>, start: u64, len: u64) -> Result<Self> {
        let size = evidence.len();
        if start >= size {
            return Err(Error::OutOfBounds {
                offset: start,
                len,
                size,
            });
        }
        let len = len.min(size - start);
        Ok(Region {
            evidence,
            start,
            len,
        })
    }

    /// The whole evidence as a region.
    pub fn whole(evidence: Arc<dyn Evidence>) -> Self {
        let len = evidence.len();
        Region {
            evidence,
            start: 0,
            len,
        }
    }

    /// Absolute offset of the window in the evidence.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Length of the window.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The evidence behind the window.
    pub fn evidence(&self) -> &Arc<dyn Evidence> {
        &self.evidence
    }

    /// Reads `buf.len()` bytes at `offset` relative to the window.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.len).map_err(|_| Error::OutOfBounds {
            offset: self.start.saturating_add(offset),
            len: buf.len() as u64,
            size: self.start + self.len,
        })?;
        self.evidence.read_exact_at(self.start + offset, buf)
    }

    /// Borrowed bytes at `offset` relative to the window, where the evidence has them in memory.
    pub fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        check_bounds(offset, len, self.len).ok()?;
        self.evidence.slice(self.start + offset, len)
    }
}

/// A `Read + Seek` cursor over a region, for crates (like `ntfs`) that want one.
#[derive(Debug, Clone)]
pub struct RegionReader {
    region: Region,
    pos: u64,
}

impl RegionReader {
    /// A cursor at offset 0 of `region`.
    pub fn new(region: Region) -> Self {
        RegionReader { region, pos: 0 }
    }
}

impl std::io::Read for RegionReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.region.len().saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.region
            .read_exact_at(self.pos, &mut buf[..n])
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for RegionReader {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let new = match pos {
            std::io::SeekFrom::Start(p) => Some(p),
            std::io::SeekFrom::End(d) => self.region.len().checked_add_signed(d),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before start",
            )),
        }
    }
}

/// Evidence held in memory (tests, fuzzing, and bytes already extracted).
#[derive(Debug, Clone)]
pub struct MemoryEvidence {
    bytes: Arc<[u8]>,
}

impl MemoryEvidence {
    /// Wraps `bytes` as evidence.
    pub fn new(bytes: impl Into<Arc<[u8]>>) -> Self {
        MemoryEvidence {
            bytes: bytes.into(),
        }
    }
}

impl Evidence for MemoryEvidence {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_bounds(offset, buf.len(), self.len())?;
        let o = offset as usize;
        buf.copy_from_slice(&self.bytes[o..o + buf.len()]);
        Ok(())
    }
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        check_bounds(offset, len, self.len()).ok()?;
        let o = offset as usize;
        self.bytes.get(o..o + len)
    }
    fn format(&self) -> Format {
        Format::Memory
    }
}
