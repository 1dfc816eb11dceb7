//! Walks every NTFS volume of an image and prints each path, deleted ones marked.
//!
//! `cargo run --example list_files -- fixtures/ntfs-basic.img`

use deadbox::volume::VolumeSelect;
use deadbox::Image;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/ntfs-basic.img".into());
    let image = Image::open(path.as_ref(), VolumeSelect::default())?;
    for volume in image.volumes() {
        let listing = volume.walk();
        println!(
            "# volume at byte {} (partition {:?}), {} records",
            volume.offset(),
            volume.partition(),
            volume.record_count()
        );
        for item in listing.items() {
            let stream = item
                .stream_name()
                .map(|s| format!(":{s}"))
                .unwrap_or_default();
            let deleted = if item.file.deleted { "  (deleted)" } else { "" };
            println!("{}{stream}{deleted}", item.path());
        }
        for d in &listing.diagnostics {
            eprintln!("warning: {}", d.message);
        }
    }
    Ok(())
}
