//! A hash set of every file stream of an image, as CSV (one row per stream and name: path,
//! stream, MFT entry, size, MD5, SHA-1, SHA-256, times): what a responder loads into a
//! spreadsheet or an NSRL-style lookup. Cells a spreadsheet would run as formulas are defused
//! (see `deadbox::output`).
//!
//! `cargo run --release --example hash_set_csv -- [IMAGE [OUT.csv]]`
//! (default: `fixtures/ntfs-basic.img` to stdout)

use deadbox::hash::Algorithms;
use deadbox::output::{self, Format, RowWriter};
use deadbox::rows::HashRow;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::io::Write;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = args
        .next()
        .unwrap_or_else(|| "fixtures/ntfs-basic.img".into());
    let out: Box<dyn Write> = match args.next() {
        // A new file only: never overwrite.
        Some(p) => Box::new(
            std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(p)?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let image = Image::open(image.as_ref(), VolumeSelect::default())?;
    let mut w = RowWriter::new::<HashRow>(std::io::BufWriter::new(out), Format::Csv);
    let (mut rows, mut problems) = (0usize, 0usize);
    for volume in image.volumes() {
        let tree = Arc::new(volume.tree());
        output::hash_volume(
            volume,
            &tree,
            Algorithms::default(),
            u64::MAX,
            &mut w,
            None,
            &mut |problem| {
                problems += 1;
                eprintln!("warning: {problem}");
            },
        )?;
        rows += tree.len();
    }
    w.finish()?;
    eprintln!("{rows} MFT records hashed, {problems} streams unreadable");
    Ok(())
}
