//! deadbox against The Sleuth Kit's view of Windows-made (and other tools') images in
//! `../shared/corpus`: every regular-file row of `oracle/*.tsk.tsv` (entry, stream, deleted flag,
//! size, SHA-256) and the partition listings of `oracle/*.mmls.txt`.

mod common;

use deadbox::hash::Algorithms;
use deadbox::rows::hash_listing;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::collections::HashMap;
use std::path::PathBuf;

fn image_path(corpus: &std::path::Path, name: &str) -> PathBuf {
    let src = corpus.join("ntfs").join(name);
    if name.ends_with(".tgz") {
        let dir = common::scratch().join("tgz");
        std::fs::create_dir_all(&dir).unwrap();
        let st = std::process::Command::new("tar")
            .args(["-xf"]) // GNU tar detects compression itself (this .tgz is a plain tar)
            .arg(&src)
            .arg("-C")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success());
        let first = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        return first;
    }
    common::unpacked(&src)
}

struct OracleRow {
    entry: u64,
    stream: Option<String>,
    deleted: bool,
    size: u64,
    sha256: String,
    path: String,
}

fn oracle(corpus: &std::path::Path, stem: &str) -> Vec<OracleRow> {
    let text = std::fs::read(corpus.join("oracle").join(format!("{stem}.tsk.tsv"))).unwrap();
    let text = String::from_utf8_lossy(&text);
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 6 || !c[0].ends_with("/r") {
            continue;
        }
        let entry: u64 = c[1].split('-').next().unwrap().parse().unwrap();
        if entry == 0 && !c[1].contains('-') {
            continue; // index-slack names TSK could not tie to a record
        }
        let name = c[3].rsplit('/').next().unwrap();
        rows.push(OracleRow {
            entry,
            stream: name.split_once(':').map(|(_, s)| s.to_string()),
            deleted: c[2] == "1",
            size: c[4].parse().unwrap_or(0),
            sha256: c[5].to_string(),
            path: c[3].to_string(),
        });
    }
    rows
}

fn check_image(file: &str, stem: &str) {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = image_path(&corpus, file);
    let image = Image::open(&path, VolumeSelect::default()).unwrap();
    let sha = Algorithms::parse("sha256").unwrap();
    let mut mine = HashMap::new();
    for v in image.volumes() {
        let listing = v.walk();
        for r in hash_listing(v, &listing, sha, u64::MAX) {
            mine.insert((r.row.mft_entry, r.row.stream.clone(), r.row.deleted), r);
        }
    }
    let rows = oracle(&corpus, stem);
    assert!(!rows.is_empty());
    let mut failures = Vec::new();
    for o in &rows {
        let Some(m) = mine.get(&(o.entry, o.stream.clone(), o.deleted)) else {
            failures.push(format!(
                "missing {} (entry {}, stream {:?}, deleted {})",
                o.path, o.entry, o.stream, o.deleted
            ));
            continue;
        };
        if m.row.size != o.size {
            failures.push(format!("{}: size {} vs TSK {}", o.path, m.row.size, o.size));
            continue;
        }
        if o.sha256.is_empty() {
            continue;
        }
        let ours = m.sha256.as_deref().unwrap_or("");
        if ours == o.sha256 {
            continue;
        }
        // `$BadClus:$Bad` (a hole as large as the volume, nothing initialized) hashes as TSK's
        // icat gives it: its bad clusters only, none here, so the empty string's digest.
        failures.push(format!("{}: sha256 {} vs TSK {}", o.path, ours, o.sha256));
    }
    assert!(
        failures.is_empty(),
        "{stem}: {} of {} rows differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn testfs1() {
    check_image("testfs1.raw", "testfs1");
}

#[test]
fn ntfs_index() {
    check_image("ntfs_index.raw.gz", "ntfs_index");
}

#[test]
fn ntfs3() {
    check_image("ntfs3.raw.gz", "ntfs3");
}

#[test]
fn ntfs3_attrlist() {
    check_image("ntfs3_attrlist.raw.gz", "ntfs3_attrlist");
}

#[test]
fn ntfs_si_vs_fn() {
    check_image("ntfs-si-vs-fn.raw.gz", "ntfs-si-vs-fn");
}

#[test]
fn ntfs_lastaccess() {
    check_image("ntfs-lastaccess.raw.gz", "ntfs-lastaccess");
}

/// (start sector, length) of every partition TSK's mmls lists (not Meta or Unallocated rows).
fn mmls(corpus: &std::path::Path, stem: &str) -> Vec<(u64, u64)> {
    let text =
        std::fs::read_to_string(corpus.join("oracle").join(format!("{stem}.mmls.txt"))).unwrap();
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 6 || c[1] == "Meta" || c[1].starts_with("---") || !c[0].ends_with(':') {
                return None;
            }
            Some((c[2].parse().ok()?, c[4].parse().ok()?))
        })
        .collect()
}

fn check_mmls(file: &str, stem: &str) {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = image_path(&corpus, file);
    let ev = deadbox::evidence::open(&path).unwrap();
    let layout = deadbox::volume::detect(&ev).unwrap();
    let ss = layout.sector_size as u64;
    let mut ours: Vec<(u64, u64)> = layout
        .partitions
        .iter()
        .map(|p| (p.offset / ss, p.size / ss))
        .collect();
    let mut theirs = mmls(&corpus, stem);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "{stem}: partitions differ from mmls");
}

#[test]
fn mmls_gpt() {
    check_mmls("gpt-512-3p.raw.gz", "gpt-512-3p");
}

#[test]
fn mmls_mbr_with_logical_chain() {
    check_mmls("mbr-win-512.raw.tgz", "mbr-win-512");
}

#[test]
fn mmls_ntfs_index() {
    check_mmls("ntfs_index.raw.gz", "ntfs_index");
}

#[test]
fn mmls_si_vs_fn() {
    check_mmls("ntfs-si-vs-fn.raw.gz", "ntfs-si-vs-fn");
}
