//! Scan throughput: every stream of a fixture image with the built-in rule pack, with and
//! without hashing; and a large loose text file (YARA-bound).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deadbox::hash::Algorithms;
use deadbox::scan::{Scan, Selection};

fn image_scan(c: &mut Criterion) {
    let img = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ntfs-basic.img");
    let mut g = c.benchmark_group("scan");
    let probe = Scan::builder()
        .selection(Selection::triage().all_files(true))
        .build()
        .expect("rules compile");
    let mut v = Vec::new();
    let bytes = probe.run(&img, &mut v).expect("scan").bytes;
    g.throughput(Throughput::Bytes(bytes));
    for (name, hashes) in [("pack+3 hashes", "md5,sha1,sha256"), ("pack only", "none")] {
        let scan = Scan::builder()
            .selection(Selection::triage().all_files(true))
            .hashes(Algorithms::parse(hashes).expect("valid"))
            .build()
            .expect("rules compile");
        g.bench_function(format!("ntfs-basic all files, {name}"), |b| {
            b.iter(|| {
                let mut v = Vec::new();
                scan.run(&img, &mut v).expect("scan").findings
            })
        });
    }
    // A 64 MiB loose file of web-page-like text.
    let dir = std::env::temp_dir().join(format!("deadbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("big.aspx");
    let mut text = Vec::with_capacity(64 << 20);
    let line = b"<div class=\"row\"><asp:Label runat=\"server\" Text='<%# Eval(\"Title\") %>' /> Response.Write(Server.HtmlEncode(x)); </div>\n";
    while text.len() < 64 << 20 {
        text.extend_from_slice(line);
    }
    std::fs::write(&path, &text).expect("write");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    for (name, hashes) in [
        ("pack+3 hashes", "md5,sha1,sha256"),
        ("pack+sha256", "sha256"),
    ] {
        let scan = Scan::builder()
            .hashes(Algorithms::parse(hashes).expect("valid"))
            .build()
            .expect("rules");
        g.bench_function(format!("64 MiB loose markup, {name}"), |b| {
            b.iter(|| {
                let mut v = Vec::new();
                scan.run(&path, &mut v).expect("scan").findings
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, image_scan);
criterion_main!(benches);
