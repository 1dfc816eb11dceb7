//! Lists the Volume Shadow Copies of every NTFS volume of an image, then shows how one file
//! differs across them: its size, modification time and MD5 in the live volume and in each
//! snapshot, and the first byte where each state differs from the one before.
//!
//! ```text
//! cargo run --example shadow_copies -- IMAGE [PATH [STORAGE_IMAGE]]
//!
//! cargo run --example shadow_copies -- vss_2_stor.raw /test.txt
//! cargo run --example shadow_copies -- vss_1_vol.raw /test.txt vss_2_stor.raw
//! ```
//!
//! - `IMAGE`: any container deadbox reads; every NTFS volume with a VSS catalog is listed.
//! - `PATH`: a file to follow across the snapshots (found through the directory indexes, as
//!   `deadbox cat` finds it).
//! - `STORAGE_IMAGE`: a second image whose volume holds the shadow storage (the diff area),
//!   when Windows kept it on another disk. Without it such snapshots are listed, not read.

use deadbox::image::SnapshotSelect;
use deadbox::ntfs::NtfsVolume;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use md5::{Digest, Md5};
use std::io::Read;

/// Largest file compared, in bytes.
const MAX: u64 = 256 << 20;

/// The file's bytes on `vol`, or why not.
fn content(vol: &NtfsVolume, path: &str) -> Result<(Vec<u8>, String), String> {
    let file = vol.open_path(path).map_err(|e| e.to_string())?;
    let modified = file
        .si
        .map(|si| si.times[1].to_string())
        .unwrap_or_else(|| "-".into());
    let mut reader = vol.open_stream(path, None).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok((bytes, modified))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(image_path) = args.next() else {
        eprintln!("usage: shadow_copies IMAGE [PATH [STORAGE_IMAGE]]");
        return Ok(());
    };
    let path = args.next();
    let storage = args
        .next()
        .map(|p| Image::open(p.as_ref(), VolumeSelect::default()))
        .transpose()?;
    let image = Image::open(image_path.as_ref(), VolumeSelect::default())?;

    // The catalog of each volume: snapshots oldest first, as `deadbox info` numbers them.
    for s in image.shadows(storage.as_ref()) {
        let vol = &image.volumes()[s.volume];
        println!(
            "volume at byte {} (partition {:?}):",
            vol.offset(),
            vol.partition()
        );
        match s.shadows {
            Ok(shadows) => {
                for snap in shadows.snapshots() {
                    println!(
                        "  snapshot {}  id {}  created {}  store {}",
                        snap.number,
                        snap.id,
                        snap.created,
                        snap.store_size
                            .map_or_else(|| "not read".into(), |n| format!("{n} bytes"))
                    );
                }
                for d in shadows.diagnostics() {
                    println!("  note: {d}");
                }
            }
            Err(e) => println!("  shadow copies unreadable: {e}"),
        }
    }

    // One file across the live volume and every snapshot.
    let Some(path) = path else {
        return Ok(());
    };
    let (views, diags) = image.views(SnapshotSelect::All, storage.as_ref())?;
    for d in diags {
        println!("note: {d}");
    }
    println!("\n{path}:");
    let mut previous: Option<Vec<u8>> = None;
    for view in &views {
        let vol = view.volume();
        let state = match vol.snapshot() {
            Some(n) => format!("snapshot {n}"),
            None => "live".to_string(),
        };
        match content(vol, &path) {
            Ok((bytes, modified)) => {
                let md5: String = Md5::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let change = match &previous {
                    None => String::new(),
                    Some(p) if *p == bytes => "  (same as the state before)".into(),
                    Some(p) => {
                        let at = p.iter().zip(&bytes).position(|(a, b)| a != b);
                        let at = at.unwrap_or(p.len().min(bytes.len()));
                        format!("  (differs from the state before at byte {at})")
                    }
                };
                println!(
                    "  {state:<11} {:>10} bytes  modified {modified}  md5 {md5}{change}",
                    bytes.len()
                );
                previous = Some(bytes);
            }
            Err(e) => {
                println!("  {state:<11} {e}");
                previous = None;
            }
        }
    }
    Ok(())
}
