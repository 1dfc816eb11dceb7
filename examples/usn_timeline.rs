//! A timeline of file creations, renames and deletions from the USN change journal, oldest
//! first, with full paths where the MFT still has the parent directory.
//!
//! `cargo run --example usn_timeline -- [IMAGE | LOOSE_$J]`
//!
//! Without an argument: the bundled fixture volume `fixtures/ntfs-usn.img.gz` (unpacked into
//! the temporary folder), or the shared corpus's real Windows journal
//! (`../shared/corpus/mft/usnjrnlj.bin`, a loose `$J`: names only) with `--corpus`.

use deadbox::ntfs::usn::{resolve_path, PathSource, UsnReader, UsnRecord};
use deadbox::ntfs::FileTime;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::io::Read;
use std::path::PathBuf;

/// The reasons a timeline of file lifetimes shows.
const SHOWN: u32 = 0x0000_0100 // FILE_CREATE
    | 0x0000_0200 // FILE_DELETE
    | 0x0000_1000 // RENAME_OLD_NAME
    | 0x0000_2000; // RENAME_NEW_NAME

struct Event {
    time: FileTime,
    usn: i64,
    what: String,
    path: String,
}

fn event(r: &UsnRecord, path: String) -> Option<Event> {
    if r.reason & SHOWN == 0 {
        return None;
    }
    let what = r
        .reason_names()
        .iter()
        .map(|n| n.trim_start_matches("USN_REASON_").to_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    Some(Event {
        time: r.timestamp?,
        usn: r.usn,
        what,
        path,
    })
}

/// The bundled fixture, unpacked once into the temporary folder.
fn fixture() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/ntfs-usn.img.gz");
    let dst = std::env::temp_dir().join("deadbox-example-ntfs-usn.img");
    if !dst.exists() {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(src)?).read_to_end(&mut bytes)?;
        std::fs::write(&dst, bytes)?;
    }
    Ok(dst)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    let path = match arg.as_deref() {
        Some("--corpus") => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/mft/usnjrnlj.bin")
        }
        Some(p) => PathBuf::from(p),
        None => fixture()?,
    };
    let mut events = Vec::new();
    match Image::open(&path, VolumeSelect::default()) {
        Ok(image) => {
            for v in image.volumes() {
                let tree = v.tree();
                let mut journal = v.usn_journal()?;
                let mut p = String::new();
                for r in journal.by_ref() {
                    let src = resolve_path(&tree, &r, &mut p);
                    let mark = if src == PathSource::Orphan {
                        " (parent gone)"
                    } else {
                        ""
                    };
                    events.extend(event(&r, format!("{p}{mark}")));
                }
                journal
                    .diagnostics()
                    .iter()
                    .for_each(|d| eprintln!("warning: {d}"));
            }
        }
        // Not an image: read it as a loose $J (names only).
        Err(_) => {
            let mut journal = UsnReader::new(std::fs::File::open(&path)?)?;
            for r in journal.by_ref() {
                let name = r.name.clone();
                events.extend(event(&r, name));
            }
            journal
                .diagnostics()
                .iter()
                .for_each(|d| eprintln!("warning: {d}"));
        }
    }
    events.sort_by_key(|e| (e.time, e.usn));
    for e in &events {
        println!("{}  {:<32} {}", e.time, e.what, e.path);
    }
    eprintln!("{} events from {}", events.len(), path.display());
    Ok(())
}
