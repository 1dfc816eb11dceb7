//! Scans an image the caller already opened, with a YARA-X rule set the caller compiled once
//! and shares (here: between two scans with different settings), on 4 worker threads.
//!
//! `cargo run --release --example scan_shared_rules -- [IMAGE [RULES.yar]]`
//! (default: `fixtures/ntfs-shells.img` with a small rule written here)

use deadbox::scan::{Scan, EXTERNALS};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::sync::Arc;

const DEFAULT_RULE: &str = r#"
rule eval_of_request {
    strings: $a = /eval\s*\(\s*Request/ nocase
    condition: $a and filename matches /\.(aspx|ashx|asmx)$/i
}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "fixtures/ntfs-shells.img".into());
    let source = match args.next() {
        Some(p) => std::fs::read_to_string(p)?,
        None => DEFAULT_RULE.to_string(),
    };
    // Compiled once; the externals deadbox sets for every stream are declared.
    let mut compiler = yara_x::Compiler::new();
    for x in EXTERNALS {
        compiler.define_global(x, "")?;
    }
    compiler.add_source(source.as_str())?;
    let rules = Arc::new(compiler.build());

    // Opened once, scanned twice: with the rules only, then with the whole assessment.
    let image = Image::open(path.as_ref(), VolumeSelect::default())?;
    for exchange in [false, true] {
        let scan = Scan::builder()
            .yara_rules(Arc::clone(&rules))
            .exchange(exchange)
            .threads(4)
            .build()?;
        let mut findings = Vec::new();
        let summary = scan.run_image(&image, &mut findings)?;
        println!(
            "assessment {}: {} streams, {} findings",
            if exchange { "on" } else { "off" },
            summary.streams,
            summary.findings
        );
        for f in findings.iter().filter(|f| f.rule.is_some()) {
            println!(
                "  {} {} (entry {:?})",
                f.title, f.location.path, f.location.mft_entry
            );
        }
    }
    Ok(())
}
