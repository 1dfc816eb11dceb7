//! Prints, for every directory of every NTFS volume of an image, the names carved from the
//! slack of its `$I30` index: files deleted (or renamed) there, with the `$FILE_NAME` times the
//! index kept, even when their MFT records were reused since.
//!
//! `cargo run --example index_slack -- fixtures/ntfs-slack.img` (gunzip the fixture first)

use deadbox::ntfs::IndexSource;
use deadbox::volume::VolumeSelect;
use deadbox::Image;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/ntfs-basic.img".into());
    let image = Image::open(path.as_ref(), VolumeSelect::default())?;
    for volume in image.volumes() {
        let listing = volume.walk();
        for dir in listing.items().filter(|i| i.is_dir_row) {
            let index = volume.dir_index(dir.file);
            for e in &index.slack {
                let vcn = match e.source {
                    IndexSource::Slack { vcn } => vcn,
                    _ => continue,
                };
                println!(
                    "{}/{}  size {}  created {}  (index block VCN {vcn}, key at byte {:?}, reference {}-{})",
                    dir.path().trim_end_matches('/'),
                    e.name.name,
                    e.name.size,
                    e.name.times[0],
                    e.offset,
                    e.entry,
                    e.sequence,
                );
            }
            for problem in &index.errors {
                eprintln!("warning: {}: $I30: {problem}", dir.path());
            }
        }
    }
    Ok(())
}
