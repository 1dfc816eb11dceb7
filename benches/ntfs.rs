//! Listing (MFT records per second) and hashing (bytes per second) on the fixture volume, and
//! at server scale on the volumes `benches/gen_volumes.sh` generates (`many.img`: ≥ 400k MFT
//! records; `mixed.img`: GiBs of mixed content) when they are in `$DEADBOX_BENCH_DIR`
//! (default `/var/tmp/deadbox-bench`). The side-by-side comparison with TSK and a mount
//! pipeline is `benches/side_by_side.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deadbox::hash::Algorithms;
use deadbox::rows::hash_listing;
use deadbox::volume::VolumeSelect;
use deadbox::Image;

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ntfs-basic.img")
}

fn listing(c: &mut Criterion) {
    let image = Image::open(&fixture(), VolumeSelect::default()).expect("fixture opens");
    let vol = &image.volumes()[0];
    let mut g = c.benchmark_group("listing");
    g.throughput(Throughput::Elements(vol.record_count()));
    g.bench_function("walk+paths ntfs-basic (records)", |b| {
        b.iter(|| {
            let l = vol.walk();
            l.items().count()
        })
    });
    // A Windows-made-style tree with 512 subdirectories, when the shared corpus is beside us.
    let corpus =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ntfs/testfs1.raw");
    if let Ok(image) = Image::open(&corpus, VolumeSelect::default()) {
        let vol = &image.volumes()[0];
        g.throughput(Throughput::Elements(vol.record_count()));
        g.bench_function("walk+paths testfs1 (records)", |b| {
            b.iter(|| vol.walk().items().count())
        });
    }
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let image = Image::open(&fixture(), VolumeSelect::default()).expect("fixture opens");
    let vol = &image.volumes()[0];
    let l = vol.walk();
    let bytes: u64 = l.items().filter(|i| !i.is_dir_row).map(|i| i.size()).sum();
    let mut g = c.benchmark_group("hashing");
    g.throughput(Throughput::Bytes(bytes));
    for (name, set) in [("md5+sha1+sha256", "md5,sha1,sha256"), ("sha256", "sha256")] {
        let set = Algorithms::parse(set).expect("valid");
        g.bench_function(format!("all streams of ntfs-basic, {name}"), |b| {
            b.iter(|| hash_listing(vol, &l, set, u64::MAX).len())
        });
    }
    g.finish();
}

/// The generated volume `name`, if present.
fn generated(name: &str) -> Option<Image> {
    let dir = std::env::var_os("DEADBOX_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/var/tmp/deadbox-bench".into());
    let p = dir.join(name);
    if !p.exists() {
        eprintln!(
            "notice: {} missing: run benches/gen_volumes.sh",
            p.display()
        );
        return None;
    }
    Image::open(&p, VolumeSelect::default()).ok()
}

/// The namespace pass, the streamed walk with `ls` rows (JSON lines) and the sorted timeline
/// on the big volumes.
fn scale(c: &mut Criterion) {
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    for name in ["many.img", "mixed.img"] {
        let Some(image) = generated(name) else {
            continue;
        };
        let vol = &image.volumes()[0];
        g.throughput(Throughput::Elements(vol.record_count()));
        g.bench_function(format!("namespace pass {name} (records)"), |b| {
            b.iter(|| vol.tree().len())
        });
        let tree = std::sync::Arc::new(vol.tree());
        g.bench_function(format!("streamed ls rows {name} (records)"), |b| {
            b.iter(|| {
                let mut bytes = 0usize;
                vol.walk_batches(
                    &tree,
                    |l| {
                        let mut out = Vec::new();
                        for i in l.items() {
                            let row = deadbox::rows::FileRow::new(&i, vol.partition());
                            serde_json::to_writer(&mut out, &row).expect("serialises");
                            out.push(b'\n');
                        }
                        out.len()
                    },
                    |n| {
                        bytes += n;
                        true
                    },
                );
                bytes
            })
        });
        // The sorted super-timeline of the MFT (and USN/snapshots when the volume has them),
        // written as JSON lines to a sink: `timeline --no-scan` without the output I/O.
        g.bench_function(format!("timeline build+jsonl {name} (records)"), |b| {
            b.iter(|| {
                let opts = deadbox::timeline::Options::default();
                let tl = deadbox::timeline::build(&image, name, &opts, &[], &mut |_| {});
                let mut out = std::io::sink();
                deadbox::timeline::write_events(
                    &tl,
                    deadbox::timeline::TimelineFormat::Jsonl,
                    &mut out,
                )
                .expect("writes");
                tl.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, listing, hashing, scale);
criterion_main!(benches);
