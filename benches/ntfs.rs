//! Listing (MFT records per second) and hashing (bytes per second) on the fixture volume.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deadbox::hash::HashSet;
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
        let set = HashSet::parse(set).expect("valid");
        g.bench_function(format!("all streams of ntfs-basic, {name}"), |b| {
            b.iter(|| hash_listing(vol, &l, set, u64::MAX).len())
        });
    }
    g.finish();
}

criterion_group!(benches, listing, hashing);
criterion_main!(benches);
