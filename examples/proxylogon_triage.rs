//! Assesses one image for ProxyLogon compromise and prints a verdict with the evidence for it.
//!
//! `cargo run --example proxylogon_triage -- fixtures/ntfs-shells.img [exchange_baseline.csv]`

use deadbox::finding::{Finding, FindingKind, Severity};
use deadbox::scan::Scan;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = args
        .next()
        .unwrap_or_else(|| "fixtures/ntfs-shells.img".into());
    let mut builder = Scan::builder().only_exchange(true);
    if let Some(baseline) = args.next() {
        builder = builder.known_good_file(baseline);
    }
    let scan = builder.build()?;
    let mut findings: Vec<Finding> = Vec::new();
    scan.run(image.as_ref(), &mut findings)?;

    let install = findings
        .iter()
        .find(|f| f.kind == FindingKind::ExchangeInstall);
    println!("image: {image}");
    match install {
        Some(f) => println!("exchange: {}", f.title),
        None => println!(
            "exchange: no install found (web shells, dumps and IIS logs were still checked)"
        ),
    }
    let mut serious: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Medium && f.kind != FindingKind::Diagnostic)
        .collect();
    serious.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let verdict = match serious.first().map(|f| f.severity) {
        Some(Severity::Critical) | Some(Severity::High) => {
            "COMPROMISED (high-confidence evidence below)"
        }
        Some(_) => "SUSPICIOUS (review the evidence below)",
        None => "no evidence found (see log coverage: clean is only as good as the logs kept)",
    };
    println!("verdict: {verdict}\n");
    for f in serious {
        let l = &f.location;
        println!(
            "[{}] {}\n    at {}{}{}{}\n",
            f.severity.as_str(),
            f.title,
            l.path,
            l.stream
                .as_deref()
                .map(|s| format!(":{s}"))
                .unwrap_or_default(),
            l.line.map(|n| format!(" line {n}")).unwrap_or_default(),
            l.mft_entry
                .map(|e| format!(
                    " (MFT entry {e}{})",
                    if l.deleted { ", deleted" } else { "" }
                ))
                .unwrap_or_default(),
        );
    }
    for f in findings
        .iter()
        .filter(|f| f.kind == FindingKind::LogCoverage)
    {
        println!("coverage: {}", f.title);
    }
    Ok(())
}
