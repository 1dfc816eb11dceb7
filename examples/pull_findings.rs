//! Pulls findings as an iterator (the scan runs on its own thread) and keeps those of severity
//! high or above; stops the scan after the first ten.
//!
//! `cargo run --release --example pull_findings -- [IMAGE]` (default: `fixtures/ntfs-shells.img`)

use deadbox::finding::Severity;
use deadbox::scan::Scan;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/ntfs-shells.img".into());
    let scan = Arc::new(Scan::builder().build()?);
    let mut findings = scan.findings(path);
    for f in findings
        .by_ref()
        .filter(|f| f.severity >= Severity::High)
        .take(10)
    {
        let l = &f.location;
        println!(
            "{:<8} {:<16} {} (entry {:?}{})",
            f.severity.as_str(),
            format!("{:?}", f.kind),
            l.path,
            l.mft_entry,
            if l.deleted { ", deleted" } else { "" }
        );
    }
    // The summary, or the error that ended the scan (an unreadable image).
    let summary = findings.finish()?;
    println!(
        "{} streams scanned, {} findings{}",
        summary.streams,
        summary.findings,
        if summary.stopped {
            " (stopped early)"
        } else {
            ""
        }
    );
    Ok(())
}
