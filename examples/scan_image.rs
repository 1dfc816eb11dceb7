//! Scans a disk image with the built-in rules and prints each finding with its provenance.
//!
//! `cargo run --release --example scan_image -- fixtures/ntfs-shells.img`

use deadbox::finding::Severity;
use deadbox::scan::{FnSink, Scan};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/ntfs-shells.img".into());
    let scan = Scan::builder().build()?;
    let mut sink = FnSink(|f: deadbox::finding::Finding| {
        let l = &f.location;
        println!(
            "{:<8} {} {}{} (partition {:?}, entry {:?}, deleted {})",
            f.severity.as_str(),
            f.title,
            l.path,
            l.stream
                .as_deref()
                .map(|s| format!(":{s}"))
                .unwrap_or_default(),
            l.partition,
            l.mft_entry,
            l.deleted
        );
        true
    });
    let summary = scan.run_path(path.as_ref(), &mut sink)?;
    println!(
        "{} streams, {} findings; verdict: {}",
        summary.streams,
        summary.findings,
        if summary.max_severity >= Some(Severity::Medium) {
            "suspicious"
        } else {
            "nothing found"
        }
    );
    Ok(())
}
