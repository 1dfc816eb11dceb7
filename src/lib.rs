//! # deadbox: offline forensic triage of Windows disk images
//!
//! deadbox reads NTFS straight from a disk image — never mounting it, never writing to it — and
//! answers triage questions fast: what files, streams and timestamps are there (deleted ones,
//! alternate data streams and `$FILE_NAME` times included), which of them are web shells, LSASS
//! dumps or staged archives, and what the logs say. Results are typed [`finding::Finding`]s
//! that say exactly where they came from.
//!
//! The pipeline, data flowing one way, in three crates (each usable on its own):
//!
//! - [`evidence`] (crate `deadbox-evidence`): the bytes of the image ([`evidence::Evidence`]:
//!   raw/dd memory-mapped read-only, split raw, E01, VHD, VHDX, VMDK, qcow2), with
//!   [`evidence::Region`] windows and the one byte reader ([`evidence::bytes`]);
//! - [`ntfs`] and [`volume`] (crate `deadbox-ntfs`): partition tables (MBR with logical chains,
//!   GPT), [`Image`] (evidence + layout + volumes, opened in one call), an
//!   [`ntfs::NtfsVolume`]: lazy access ([`ntfs::NtfsVolume::file`],
//!   [`ntfs::NtfsVolume::open_path`] through the `$I30` indexes with the volume's `$UpCase`,
//!   [`ntfs::StreamReader`]: `Read + Seek`), the bulk MFT walk ([`ntfs::NtfsVolume::walk_batches`]),
//!   the directory indexes with the names left in their slack, the USN journal
//!   ([`ntfs::usn`]) and Volume Shadow Copies ([`ntfs::vss`]);
//! - this crate: [`rows`] and [`hash`] (the `ls` and `hash` rows), [`usn`] (journal rows),
//!   [`sniff`] (what a file is from its first bytes), [`scan`] (the scan engine,
//!   [`scan::Scan::builder`]: selection, hashing, YARA-X (the `yara` feature), IOC and
//!   known-good lists, the ProxyLogon assessment ([`exchange`]) — over a path, an opened
//!   [`Image`] or bytes, delivering typed findings ([`finding`]) to a [`scan::FindingSink`] or
//!   as an iterator), [`output`] (the printers the CLI uses: JSON lines, JSON, CSV with
//!   formula cells defused, table), [`extract`] (streams copied out with a manifest),
//!   [`report`] (the self-contained HTML report: verdict, ranked findings, timeline chart).
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
//! use std::io::Read;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One file by path, without walking the volume.
//! let image = Image::open("fixtures/ntfs-shells.img".as_ref(), VolumeSelect::default())?;
//! let vol = &image.volumes()[0];
//! let mut page = Vec::new();
//! vol.open_stream("/INETPUB/wwwroot/iisstart.htm", Some("shell.aspx"))?
//!     .read_to_end(&mut page)?;
//! assert!(!page.is_empty());
//!
//! # #[cfg(feature = "yara")]
//! # {
//! // The opened image scanned, findings collected (any `FindingSink`).
//! let scan = deadbox::scan::Scan::builder().build()?;
//! let mut findings = Vec::new();
//! let summary = scan.run_image(&image, &mut findings)?;
//! assert!(summary.max_severity >= Some(deadbox::finding::Severity::High));
//! # }
//!
//! // Every entry of a small volume.
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
pub mod report;
pub mod rows;
pub mod rule_pack;
pub mod scan;
pub mod sniff;
pub mod timeline;
pub mod usn;

pub use deadbox_evidence as evidence;
pub use deadbox_evidence::error;
pub use deadbox_evidence::{Error, Result};
/// The NTFS layer ([`deadbox_ntfs`]): volumes, the MFT walk, streams, directory indexes.
pub use deadbox_ntfs as ntfs;
pub use deadbox_ntfs::image;
pub use deadbox_ntfs::volume;
pub use deadbox_ntfs::Image;
pub use deadbox_ntfs::{MemoryBudget, OpenOptions};
