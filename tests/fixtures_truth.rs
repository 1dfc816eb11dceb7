//! deadbox against the truth the fixture script wrote (fixtures/*.truth.tsv): every file
//! stream and directory of our own images — resident, non-resident, sparse, compressed,
//! fragmented, attribute lists, ADS, deleted files and directories, deep/long/Unicode names,
//! hard links, MBR with logical partitions, GPT with 4096-byte sectors, 2 MiB clusters.

mod common;

use deadbox::hash::Algorithms;
use deadbox::rows::{hash_listing, FileRow};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::collections::HashMap;
use std::path::Path;

type Rows = HashMap<(Option<u32>, String, Option<String>), (FileRow, Option<String>)>;

struct Truth {
    partition: Option<u32>,
    offset: u64,
    path: String,
    stream: Option<String>,
    is_dir: bool,
    deleted: bool,
    entry: u64,
    size: Option<u64>,
    sha256: String,
}

fn truth(name: &str) -> Vec<Truth> {
    let text = std::fs::read_to_string(common::fixture(&format!("{name}.truth.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Truth {
                partition: Some(c[0].parse().unwrap()).filter(|p| *p != 0),
                offset: c[1].parse().unwrap(),
                path: c[2].to_string(),
                stream: Some(c[3].to_string()).filter(|s| !s.is_empty()),
                is_dir: c[4] == "1",
                deleted: c[5] == "1",
                entry: c[6].parse().unwrap(),
                size: c[7].parse().ok(),
                sha256: c[8].to_string(),
            }
        })
        .collect()
}

/// Compares the image at `path` with `name`'s truth file.
fn check(path: &Path, name: &str) {
    let image = Image::open(path, VolumeSelect::default()).unwrap();
    let sha = Algorithms::parse("sha256").unwrap();
    let mut rows: Rows = HashMap::new();
    let mut offsets = HashMap::new();
    for v in image.volumes() {
        offsets.insert(v.partition(), v.offset());
        let listing = v.walk();
        for item in listing.items().filter(|i| i.is_dir_row) {
            let r = FileRow::new(&item, v.partition());
            rows.insert((r.partition, r.path.clone(), None), (r, None));
        }
        for h in hash_listing(v, &listing, sha, u64::MAX) {
            assert!(
                h.row.error.is_none() || h.row.deleted,
                "{}: {:?}",
                h.row.path,
                h.row.error
            );
            rows.insert(
                (h.row.partition, h.row.path.clone(), h.row.stream.clone()),
                (h.row, h.sha256),
            );
        }
    }
    let t = truth(name);
    assert!(t.len() > 3);
    let mut bad = Vec::new();
    for w in &t {
        assert_eq!(
            offsets.get(&w.partition),
            Some(&w.offset),
            "{name}: volume offset of partition {:?}",
            w.partition
        );
        let key = (w.partition, w.path.clone(), w.stream.clone());
        let Some((r, sha)) = rows.get(&key) else {
            bad.push(format!("missing {:?}", key));
            continue;
        };
        if r.mft_entry != w.entry
            || r.deleted != w.deleted
            || (r.is_dir != w.is_dir && w.stream.is_none())
        {
            bad.push(format!(
                "{}: entry {} deleted {} dir {} vs truth {} {} {}",
                w.path, r.mft_entry, r.deleted, r.is_dir, w.entry, w.deleted, w.is_dir
            ));
        }
        if let Some(size) = w.size {
            if r.size != size {
                bad.push(format!(
                    "{}{:?}: size {} vs {}",
                    w.path, w.stream, r.size, size
                ));
            }
        }
        if !w.sha256.is_empty() && sha.as_deref() != Some(w.sha256.as_str()) {
            bad.push(format!(
                "{}{:?}: sha256 {:?} vs {}",
                w.path, w.stream, sha, w.sha256
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} of {} truth rows differ:\n{}",
        bad.len(),
        t.len(),
        bad.join("\n")
    );
}

#[test]
fn ntfs_basic_matches_truth() {
    check(&common::fixture("ntfs-basic.img"), "ntfs-basic.img");
}

#[test]
fn mbr_disk_with_logical_partitions_matches_truth() {
    check(&common::fixture("disk-mbr.img"), "disk-mbr.img");
}

#[test]
fn gpt_disk_with_4k_sectors_matches_truth() {
    check(&common::fixture("disk-gpt4k.img"), "disk-gpt4k.img");
}

#[test]
fn two_mib_clusters_match_truth() {
    check(
        &common::unpacked(&common::fixture("ntfs-2m.img.gz")),
        "ntfs-2m.img",
    );
}

#[test]
fn split_raw_image_reads_like_the_whole() {
    let src = std::fs::read(common::fixture("ntfs-basic.img")).unwrap();
    let dir = common::scratch().join("split");
    std::fs::create_dir_all(&dir).unwrap();
    // Odd segment size so records and clusters straddle segment boundaries.
    for (i, chunk) in src.chunks(3_000_001).enumerate() {
        std::fs::write(dir.join(format!("basic.{:03}", i + 1)), chunk).unwrap();
    }
    let ev = deadbox::evidence::open(&dir.join("basic.001")).unwrap();
    assert_eq!(ev.len(), src.len() as u64);
    assert!(ev.format().is_split());
    check(&dir.join("basic.001"), "ntfs-basic.img");
}

#[test]
fn timestomped_file_shows_si_before_fn() {
    let text = std::fs::read_to_string(common::fixture("ntfs-basic.img.times.tsv")).unwrap();
    let line = text.lines().nth(1).unwrap();
    let c: Vec<&str> = line.split('\t').collect();
    let image = Image::open(&common::fixture("ntfs-basic.img"), VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    let item = listing.items().find(|i| i.path() == c[0]).unwrap();
    let row = FileRow::new(&item, None);
    assert_eq!(row.mft_entry.to_string(), c[1]);
    assert_eq!(row.si.as_ref().unwrap().created.to_string(), c[2]);
    assert_eq!(row.si.as_ref().unwrap().modified.to_string(), c[3]);
    assert_eq!(row.fn_.as_ref().unwrap().created.to_string(), c[4]);
}

#[test]
fn partition_selection_and_offset() {
    let disk = common::fixture("disk-mbr.img");
    let all = Image::open(&disk, VolumeSelect::default()).unwrap();
    assert!(all.volumes().len() >= 2);
    let p = all.volumes()[1].partition().unwrap();
    let off = all.volumes()[1].offset();
    let one = Image::open(
        &disk,
        VolumeSelect {
            partition: Some(p),
            offset: None,
        },
    )
    .unwrap();
    assert_eq!(one.volumes().len(), 1);
    assert_eq!(one.volumes()[0].offset(), off);
    let at = Image::open(
        &disk,
        VolumeSelect {
            partition: None,
            offset: Some(off),
        },
    )
    .unwrap();
    assert_eq!(at.volumes()[0].offset(), off);
    assert!(
        Image::open(
            &disk,
            VolumeSelect {
                partition: Some(1),
                offset: None
            }
        )
        .is_err(),
        "partition 1 is FAT"
    );
    assert!(Image::open(
        &disk,
        VolumeSelect {
            partition: Some(42),
            offset: None
        }
    )
    .is_err());
}
