//! Resource bounds: peak memory of `deadbox scan --all-files` and `deadbox hash` does not grow
//! with the size of the image. Measured on a fixture (8 MiB) and on sparse NTFS volumes of
//! 16 GiB and 256 GiB made here with `mkntfs` (empty volumes: a 64 MiB `$LogFile`, a
//! `$BadClus:$Bad` hole as large as the volume, a `$Bitmap` of 512 KiB and 8 MiB).
//!
//! Two figures per run: the peak resident set (from `wait4`), which includes the pages of the
//! memory-mapped evidence that were read (file-backed, reclaimable: it grows with the bytes
//! read, e.g. the 64 MiB `$LogFile`, not with the image size), and the peak of anonymous
//! memory (`RssAnon`, sampled from /proc every 2 ms), which is what deadbox allocates. The
//! figures are printed (`--nocapture`).

mod common;
#[path = "support/peak.rs"]
mod peak;

use peak::Peak;
use std::path::{Path, PathBuf};

/// Ceiling for any run's peak resident set (measured: 15–95 MB).
const MAX_RSS_KIB: i64 = 512 << 10;
/// Ceiling for any run's anonymous memory.
const MAX_ANON_KIB: i64 = 256 << 10;
/// How much more anonymous memory the 256 GiB volume may take than the 16 GiB one, and the
/// resident set too (its `$Bitmap` is 7.5 MiB larger, and it is read).
const MAX_GROWTH_KIB: i64 = 24 << 10;

/// Runs the binary, output discarded; returns its exit code and its peak memory.
fn peak_rss(args: &[&str]) -> (i32, Peak) {
    peak::peak_rss(args, std::process::Stdio::null())
}

/// A sparse NTFS volume of `bytes`.
fn sparse_volume(bytes: u64) -> Option<PathBuf> {
    let mk = common::mkntfs("the sparse-volume memory test")?;
    let p = common::scratch().join(format!("sparse-{}g.img", bytes >> 30));
    common::mkntfs_sparse(&mk, &p, bytes, "sparse");
    Some(p)
}

/// (scan --all-files, hash) peaks of one image.
fn measure(img: &Path) -> (Peak, Peak) {
    let p = img.to_str().unwrap();
    let (code, scan) = peak_rss(&["scan", "--all-files", "--format", "jsonl", p]);
    assert!(code == 0 || code == 1, "scan of {p}: exit {code}");
    let (code, hash) = peak_rss(&["hash", p, "--format", "jsonl"]);
    assert_eq!(code, 0, "hash of {p}");
    for v in [scan, hash] {
        assert!(v.rss > 0 && v.rss < MAX_RSS_KIB, "{p}: {v:?}");
        assert!(v.anon < MAX_ANON_KIB, "{p}: {v:?}");
    }
    eprintln!(
        "peak KiB, {}: scan --all-files rss {} anon {}; hash rss {} anon {}",
        img.file_name().unwrap().to_string_lossy(),
        scan.rss,
        scan.anon,
        hash.rss,
        hash.anon
    );
    (scan, hash)
}

#[test]
fn peak_memory_does_not_grow_with_image_size() {
    measure(&common::fixture("ntfs-basic.img"));
    let Some(v16) = sparse_volume(16 << 30) else {
        return;
    };
    let (scan16, hash16) = measure(&v16);
    let _ = std::fs::remove_file(&v16);
    let v256 = sparse_volume(256 << 30).unwrap();
    let (scan256, hash256) = measure(&v256);
    let _ = std::fs::remove_file(&v256);
    for (a, b, what) in [(scan16, scan256, "scan"), (hash16, hash256, "hash")] {
        assert!(b.anon - a.anon < MAX_GROWTH_KIB, "{what}: {a:?} -> {b:?}");
        assert!(b.rss - a.rss < MAX_GROWTH_KIB, "{what}: {a:?} -> {b:?}");
    }
}
