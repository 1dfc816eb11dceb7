//! The story of a compromise on one axis: scan an image, then put its findings, the MFT times
//! of every entry, the USN journal, shadow copies and every entry of the Exchange and IIS logs
//! on one sorted timeline, and print the window around the first finding.
//!
//! `cargo run --example timeline -- [IMAGE] [HOURS]`
//!
//! Without arguments: the bundled fixture `fixtures/ntfs-shells.img` and a 2-hour window.

use deadbox::finding::Finding;
use deadbox::timeline::{self, Center, Options, Sources};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/ntfs-shells.img"),
        PathBuf::from,
    );
    let hours: u64 = args.next().map_or(Ok(2), |h| h.parse())?;
    let image = Image::open(&path, VolumeSelect::default())?;

    // 1. The findings (built-in rules), collected.
    let scan = deadbox::scan::Scan::builder().build()?;
    let mut findings: Vec<Finding> = Vec::new();
    scan.run_image(&image, &mut findings)?;

    // 2. The window around the first finding (its earliest time that cannot be set back).
    let centre = Center::FirstFinding.resolve(&image, &findings)?;
    let range = timeline::window(centre, hours * 3600 * 10_000_000);

    // 3. Every source inside the window, sorted; what could not be read goes to stderr.
    let opts = Options {
        range,
        sources: Sources {
            index_slack: true,
            log_entries: true,
            ..Sources::default()
        },
        ..Options::default()
    };
    let evidence = path.display().to_string();
    let tl = timeline::build(&image, &evidence, &opts, &findings, &mut |w| {
        eprintln!("note: {w}")
    });
    println!(
        "{} events within {hours} h around {centre}",
        tl.events.len() + tl.extra.len()
    );
    for e in tl.iter() {
        let sev = e.severity.map(|s| format!(" [{s}]")).unwrap_or_default();
        println!(
            "{}  {:<9} {:<4}{sev} {}",
            e.time,
            e.source.as_str(),
            e.macb.as_deref().unwrap_or(""),
            e.message
        );
    }
    Ok(())
}
