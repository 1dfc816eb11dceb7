//! Scans a loose file on the host (a collected `lsass.dmp`, a memory image, a web page): it is
//! memory-mapped and scanned whole, like a stream inside an image.
//!
//! `cargo run --release --example scan_dump -- /path/to/lsass.dmp`

use deadbox::scan::Scan;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scan_dump FILE");
        std::process::exit(2);
    };
    let scan = Scan::builder()
        .hashes(deadbox::hash::Algorithms::parse("sha256")?)
        .build()?;
    let mut findings = Vec::new();
    scan.run_path(path.as_ref(), &mut findings)?;
    for f in &findings {
        println!("{}", serde_json::to_string(f)?);
    }
    if findings.is_empty() {
        println!("no findings in {path}");
    }
    Ok(())
}
