//! Copies one file (or one of its alternate data streams) out of a disk image, found by path
//! without walking the MFT, through `std::io::copy` from a `Read + Seek` stream reader.
//!
//! ```text
//! cargo run --example copy_out -- [IMAGE [PATH[:STREAM] [OUT]]]
//!
//! cargo run --example copy_out                                   # fixtures/ntfs-basic.img, /files/resident.txt, stdout
//! cargo run --example copy_out -- disk.E01 /inetpub/wwwroot/web.config web.config
//! cargo run --example copy_out -- disk.vhdx '/Users/x/Downloads/a.exe:Zone.Identifier' -
//! ```
//!
//! - `IMAGE`: any container deadbox reads (raw/dd, split raw, E01, VHD, VHDX, VMDK, QCOW2), with
//!   or without a partition table; every NTFS volume is tried in turn and the first that has
//!   the path is used.
//! - `PATH`: `/`-separated from the volume root, matched as Windows matches it
//!   (case-insensitively per the volume's `$UpCase`; DOS 8.3 names work too).
//! - `:STREAM`: an alternate data stream. A colon is first taken as part of the name (a POSIX
//!   name may hold one); only when no such file exists is the part after the last colon taken
//!   as a stream name.
//! - `OUT`: a file to create, or `-` (the default) for stdout.

use deadbox::ntfs::{Error, NtfsVolume, StreamReader};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::io::Write;

/// The stream `spec` names on `vol`: `PATH`, or `PATH:STREAM` when `PATH:STREAM` is not itself
/// a file.
fn open<'a>(vol: &'a NtfsVolume, spec: &str) -> deadbox::Result<StreamReader<'a>> {
    match vol.open_stream(spec, None) {
        Err(Error::NotFound(m)) => {
            let last = spec.rsplit('/').next().unwrap_or(spec);
            match last.rsplit_once(':') {
                Some((name, stream)) if !name.is_empty() => {
                    let path = &spec[..spec.len() - stream.len() - 1];
                    vol.open_stream(path, Some(stream))
                }
                _ => Err(Error::NotFound(m)),
            }
        }
        r => r,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image_path = args
        .next()
        .unwrap_or_else(|| "fixtures/ntfs-basic.img".into());
    let spec = args.next().unwrap_or_else(|| "/files/resident.txt".into());
    let out_path = args.next().unwrap_or_else(|| "-".into());

    let image = Image::open(image_path.as_ref(), VolumeSelect::default())?;
    let mut last_err = None;
    for vol in image.volumes() {
        let mut reader = match open(vol, &spec) {
            Ok(r) => r,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        let zero_copy = reader.as_slice().is_some();
        let copied = if out_path == "-" {
            let mut out = std::io::stdout().lock();
            let n = std::io::copy(&mut reader, &mut out)?;
            out.flush()?;
            n
        } else {
            let mut out = std::fs::File::create(&out_path)?;
            std::io::copy(&mut reader, &mut out)?
        };
        eprintln!(
            "{spec}: {copied} bytes from the volume at byte {} ({}){}",
            vol.offset(),
            if zero_copy {
                "zero-copy: one slice of the image"
            } else {
                "read through its runs"
            },
            if out_path == "-" {
                String::new()
            } else {
                format!(" to {out_path}")
            }
        );
        return Ok(());
    }
    Err(match last_err {
        Some(e) => e.into(),
        None => format!("{image_path}: no NTFS volume").into(),
    })
}
