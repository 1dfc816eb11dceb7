//! # deadbox: offline forensic triage of Windows disk images
//!
//! deadbox reads NTFS straight from a disk image — never mounting it, never writing to it — and
//! answers triage questions fast: what files, streams and timestamps are there (deleted ones,
//! alternate data streams and `$FILE_NAME` times included), which of them are web shells, LSASS
//! dumps or staged archives, and what the logs say. Results are typed [`finding::Finding`]s
//! that say exactly where they came from.
//!
//! The pipeline, data flowing one way:
//!
//! - [`evidence`]: the bytes of the image ([`evidence::Evidence`]: raw/dd memory-mapped
//!   read-only, split raw, and the container formats), with [`evidence::Region`] windows;
//! - [`volume`]: partition tables (MBR with logical chains, GPT) and the NTFS volumes in them;
//! - [`ntfs`]: an [`ntfs::NtfsVolume`] and its bulk MFT walk ([`ntfs::Listing`]): entries, names,
//!   paths, streams, content as borrowed slices of the memory map or assembled buffers; the
//!   directory indexes ([`ntfs::NtfsVolume::dir_index`]) with the names left in their slack;
//! - [`Image`]: evidence + layout + volumes, opened in one call;
//! - [`rows`] and [`hash`]: the `ls` and `hash` rows;
//! - [`sniff`]: what a file is from its first bytes (minidump, archive, executable...);
//! - [`scan`]: the scan engine ([`scan::Scan::builder`]) — selection, hashing, YARA-X (the
//!   `yara` feature), IOC and known-good lists, the ProxyLogon assessment — delivering
//!   findings to a [`scan::FindingSink`].
//!
//! Errors are values ([`Error`]); a damaged record or stream becomes a diagnostic and the walk
//! goes on.
//!
//! ## Cargo features
//!
//! - `yara` (default): YARA-X scanning — the built-in rule pack, rule files
//!   (`ScanBuilder::rules`), shared precompiled rules (`ScanBuilder::yara_rules`) and
//!   `yara_match` findings. Without it the library leaves out yara-x and wasmtime (most of the
//!   build time) and still does everything else: the NTFS layer, `ls`/`hash` rows, extraction,
//!   and scans that hash, apply the IOC and known-good lists, select, and run the ProxyLogon
//!   assessment (logs, LSASS dumps, staged archives, timestomping, and `web_shell` findings
//!   ranked on the IOC list and the location signals); see [`scan`].
//! - `cli` (default): the `deadbox` binary; implies `yara` and adds clap and indicatif.
//!
//! A program linking the library without the command line uses
//! `deadbox = { version = "0.1", default-features = false, features = ["yara"] }`, or
//! `default-features = false` alone for no YARA. The NTFS layer alone is the `deadbox-ntfs`
//! crate.
//!
//! ```
//! use deadbox::{Image, volume::VolumeSelect};
//! # fn main() -> deadbox::Result<()> {
//! let image = Image::open("fixtures/ntfs-basic.img".as_ref(), VolumeSelect::default())?;
//! for volume in image.volumes() {
//!     let listing = volume.walk();
//!     for item in listing.items().filter(|i| !i.is_dir_row).take(3) {
//!         println!("{} ({} bytes, entry {})", item.path(), item.size(), item.file.entry);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod exchange;
pub mod extract;
pub mod finding;
pub mod hash;
pub mod output;
pub mod rows;
pub mod rule_pack;
pub mod scan;
pub mod sniff;
pub mod usn;

pub use deadbox_evidence as evidence;
pub use deadbox_evidence::error;
pub use deadbox_evidence::{Error, Result};
/// The NTFS layer ([`deadbox_ntfs`]): volumes, the MFT walk, streams, directory indexes.
pub use deadbox_ntfs as ntfs;
pub use deadbox_ntfs::image;
pub use deadbox_ntfs::volume;
pub use deadbox_ntfs::Image;
