//! Directory indexes (`$I30`): the live entries of every directory agree with the MFT on every
//! fixture and on the Windows-made corpus images; names carved from index slack are found (the
//! deleted name TSK lists on a real image; a deletion done on a fixture's index block the way
//! NTFS does it) and reported by `ls --index-slack`.

mod common;
#[path = "support/mft_edit.rs"]
mod mft_edit;

use deadbox::ntfs::IndexSource;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use mft_edit::{edit_record, rd16, rd32};
use std::path::{Path, PathBuf};

/// (entry, name) pairs, sorted.
type Names = Vec<(u64, String)>;

/// For every live directory: (its entry, live index names without DOS duplicates and without
/// the root's "." entry, the MFT's names of live children, index errors).
fn compare(img: &Path) -> Vec<(u64, Names, Names, Vec<String>)> {
    let image = Image::open(img, VolumeSelect::default()).unwrap();
    let mut out = Vec::new();
    for v in image.volumes() {
        let l = v.walk();
        for d in l.files.iter().filter(|f| f.is_dir && !f.deleted) {
            let ix = v.dir_index(d);
            let mut idx: Names = ix
                .entries
                .iter()
                .filter(|e| e.name.namespace != 2 && e.entry != d.entry)
                .map(|e| (e.entry, e.name.name.clone()))
                .collect();
            let mut mft: Names = l
                .files
                .iter()
                .filter(|g| !g.deleted && g.entry != d.entry)
                .flat_map(|g| {
                    g.names
                        .iter()
                        .filter(|n| n.parent_entry == d.entry && n.namespace != 2)
                        .map(move |n| (g.entry, n.name.clone()))
                })
                .collect();
            idx.sort();
            mft.sort();
            out.push((d.entry, idx, mft, ix.errors));
        }
    }
    out
}

#[test]
fn fixture_indexes_match_the_mft_exactly() {
    for name in [
        "ntfs-basic.img",
        "disk-mbr.img",
        "disk-gpt4k.img",
        "ntfs-shells.img",
        "ntfs-slack.img.gz",
    ] {
        let dirs = compare(&common::unpacked(&common::fixture(name)));
        assert!(dirs.len() > 3, "{name}");
        let mut total = 0;
        for (d, idx, mft, errors) in dirs {
            assert!(errors.is_empty(), "{name} dir {d}: {errors:?}");
            assert_eq!(idx, mft, "{name}: directory entry {d}");
            total += idx.len();
        }
        assert!(total > 15, "{name}: {total}");
    }
}

/// The rows of `deadbox ls IMG --format jsonl --index-slack` (which must exit 0).
fn ls_index_slack(img: &Path) -> Vec<serde_json::Value> {
    let (code, out, err) = common::run(&[
        "ls",
        img.to_str().unwrap(),
        "--format",
        "jsonl",
        "--index-slack",
    ]);
    assert_eq!(code, 0, "{err}");
    common::jsonl(&out)
}

/// The corpus images (unpacked once).
fn corpus_image(name: &str) -> Option<PathBuf> {
    let c = common::corpus()?;
    Some(common::unpacked(&c.join("ntfs").join(name)))
}

#[test]
fn windows_made_indexes_agree_with_the_mft() {
    // Windows and the Linux ntfs3 driver wrote these. Every live index entry names a live child
    // of that directory; a child may be missing from the index (ntfs3.raw: test/1.txt is found
    // by TSK only through its MFT record, listed as "-/r"), never the reverse.
    let names = [
        "testfs1.raw",
        "ntfs_index.raw.gz",
        "ntfs3.raw.gz",
        "ntfs3_attrlist.raw.gz",
        "ntfs-si-vs-fn.raw.gz",
        "ntfs-lastaccess.raw.gz",
    ];
    for name in names {
        let Some(img) = corpus_image(name) else {
            return;
        };
        let mut total = 0;
        let mut missing = 0;
        for (d, idx, mft, errors) in compare(&img) {
            assert!(errors.is_empty(), "{name} dir {d}: {errors:?}");
            for e in &idx {
                assert!(
                    mft.contains(e),
                    "{name}: index of {d} names {e:?}, the MFT does not"
                );
            }
            total += idx.len();
            missing += mft.len() - idx.len();
        }
        assert!(total >= 10, "{name}: {total}");
        assert!(
            missing <= 1,
            "{name}: {missing} children missing from indexes"
        );
    }
}

#[test]
fn deleted_name_in_windows_index_slack_as_tsk_lists_it() {
    // ntfs_index.raw (dfir_ntfs test data): TSK lists two deleted names with meta_addr 0, one
    // of them `test_dir/BBBBBBBBBBBBB-del.txt`, a file whose MFT record was reused. The other,
    // `AAAA… - Copy (11).txt`, is a stale copy of a live entry's key (same name and times):
    // deadbox leaves such copies out.
    let Some(img) = corpus_image("ntfs_index.raw.gz") else {
        return;
    };
    let rows = ls_index_slack(&img);
    let slack: Vec<_> = rows.iter().filter(|r| r["source"] == "i30_slack").collect();
    let del = slack
        .iter()
        .find(|r| r["path"] == "/test_dir/BBBBBBBBBBBBB-del.txt")
        .unwrap_or_else(|| panic!("{slack:?}"));
    assert_eq!(del["deleted"], true);
    assert_eq!(del["partition"], 1);
    assert_eq!(del["fn"]["created"], "2019-05-10T20:14:19.4560483Z");
    assert!(del["si"].is_null());
    // Every other row is from the MFT, and no name that is live in the index is repeated.
    assert!(rows
        .iter()
        .all(|r| r["source"] == "mft" || r["source"] == "i30_slack"));
    assert!(slack.len() <= 3, "{slack:?}");
    // Without the flag: no slack rows.
    let (_, plain, _) = common::run(&["ls", img.to_str().unwrap(), "--format", "jsonl"]);
    assert!(common::jsonl(&plain).iter().all(|r| r["source"] == "mft"));
}

#[test]
fn a_name_removed_from_an_index_block_is_found_in_its_slack() {
    // NTFS removes the last entry of an index block by writing the 16-byte end marker over its
    // header and shortening the block's used length: the key (the whole $FILE_NAME) stays in
    // the slack. Done here to the first leaf block of /manylinks in ntfs-basic.img.
    let src = common::fixture("ntfs-basic.img");
    let mut img = std::fs::read(&src).unwrap();
    let image = Image::open(&src, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    let dir = listing.entry(89).unwrap();
    let before = v.dir_index(dir);
    assert!(before.slack.is_empty(), "{:?}", before.slack);
    // The first leaf block (no sub-nodes) and its last live entry, from the library's reading.
    let block_of = |e: &deadbox::ntfs::IndexEntry| e.offset.map(|o| o as usize / 4096 * 4096);
    let leaf = before
        .entries
        .iter()
        .filter_map(block_of)
        .filter(|&b| img[b + 0x18 + 12] & 1 == 0)
        .min()
        .unwrap();
    let victim = before
        .entries
        .iter()
        .filter(|e| block_of(e) == Some(leaf))
        .max_by_key(|e| e.offset)
        .unwrap()
        .clone();
    let key_off = victim.offset.unwrap() as usize;
    let block = key_off / 4096 * 4096;
    let mut removed = None;
    edit_record(&mut img, block, 4096, |b| {
        assert_eq!(&b[0..4], b"INDX");
        assert_eq!(b[0x18 + 12] & 1, 0, "a leaf block");
        let entry = key_off - block - 16;
        let used_end = 0x18 + rd32(b, 0x1C) as usize;
        let len = rd16(b, entry + 8) as usize;
        assert_eq!(entry + len + 16, used_end, "the victim is the last entry");
        // End marker: no reference, length 16, no key, flag "last".
        b[entry..entry + 16].copy_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 2, 0, 0, 0]);
        let used = (entry + 16 - 0x18) as u32;
        b[0x1C..0x20].copy_from_slice(&used.to_le_bytes());
        removed = Some(victim.name.name.clone());
    });
    let removed = removed.unwrap();
    let case = common::scratch().join("i30-removed.img");
    std::fs::write(&case, &img).unwrap();

    let image = Image::open(&case, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    let after = v.dir_index(listing.entry(89).unwrap());
    assert!(after.errors.is_empty(), "{:?}", after.errors);
    assert_eq!(after.entries.len(), 119);
    assert!(after.entries.iter().all(|e| e.name.name != removed));
    assert_eq!(after.slack.len(), 1, "{:?}", after.slack);
    let s = &after.slack[0];
    assert_eq!(s.name.name, removed);
    assert_eq!(s.name.times, victim.name.times);
    assert_eq!(s.offset, Some(key_off as u64));
    assert_eq!(s.entry, 0, "the header was overwritten: no reference left");
    assert!(matches!(s.source, IndexSource::Slack { .. }));

    let rows = ls_index_slack(&case);
    let slack: Vec<_> = rows.iter().filter(|r| r["source"] == "i30_slack").collect();
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0]["path"], format!("/manylinks/{removed}"));
    assert_eq!(slack[0]["size"], 74);
    // The file itself is still in the MFT (only its index entry went): 120 rows there.
    assert_eq!(
        rows.iter()
            .filter(|r| r["source"] == "mft" && r["mft_entry"] == 90)
            .count(),
        120
    );
}

#[test]
fn deleted_shell_whose_record_was_reused_is_in_slack() {
    // fixtures/ntfs-slack.img.gz: see fixtures/README.md.
    let img = common::unpacked(&common::fixture("ntfs-slack.img.gz"));
    let image = Image::open(&img, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    let dir = listing
        .items()
        .find(|i| i.is_dir_row && i.path() == "/inetpub/wwwroot/aspnet_client")
        .unwrap();
    let ix = v.dir_index(dir.file);
    assert!(ix.errors.is_empty(), "{:?}", ix.errors);
    assert_eq!(ix.entries.len(), 14);
    assert_eq!(ix.slack.len(), 1, "{:?}", ix.slack);
    let s = &ix.slack[0];
    assert_eq!(s.name.name, "xx.aspx");
    assert_eq!(s.name.size, 67);
    assert_eq!(s.name.parent_entry, dir.file.entry);
    assert!(!s.is_dir());
    // Every other directory of the image has nothing in its slack.
    for f in listing
        .files
        .iter()
        .filter(|f| f.is_dir && f.entry != dir.file.entry)
    {
        assert!(v.dir_index(f).slack.is_empty(), "entry {}", f.entry);
    }
}

#[test]
fn an_index_block_read_at_another_vcn_is_not_followed() {
    // A run list may map several VCNs onto the same clusters (a tiny image whose one index
    // block is read once per alias: millions of entries). NTFS writes each block's own VCN in
    // its header; a block whose header names another VCN than the one it was read at is an
    // error, its entries are not read, the rest of the index is. Done here by rewriting the
    // header VCN of a leaf block of /manylinks in ntfs-basic.img.
    let src = common::fixture("ntfs-basic.img");
    let mut img = std::fs::read(&src).unwrap();
    let image = Image::open(&src, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    let before = v.dir_index(listing.entry(89).unwrap());
    assert!(before.errors.is_empty(), "{:?}", before.errors);
    let block_of = |e: &deadbox::ntfs::IndexEntry| e.offset.map(|o| o as usize / 4096 * 4096);
    let leaf = before
        .entries
        .iter()
        .filter_map(block_of)
        .filter(|&b| img[b + 0x18 + 12] & 1 == 0)
        .min()
        .unwrap();
    let in_leaf = before
        .entries
        .iter()
        .filter(|e| block_of(e) == Some(leaf))
        .count();
    assert!(in_leaf > 0);
    let mut vcn = 0;
    edit_record(&mut img, leaf, 4096, |b| {
        assert_eq!(&b[0..4], b"INDX");
        vcn = u64::from_le_bytes(b[16..24].try_into().unwrap());
        b[16..24].copy_from_slice(&(vcn + 1000).to_le_bytes());
    });
    let case = common::scratch().join("i30-misplaced.img");
    std::fs::write(&case, &img).unwrap();
    let image = Image::open(&case, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    let after = v.dir_index(listing.entry(89).unwrap());
    let said = format!("says it is VCN {}", vcn + 1000);
    assert!(
        after.errors.iter().any(|e| e.contains(&said)),
        "{:?}",
        after.errors
    );
    assert_eq!(after.entries.len(), before.entries.len() - in_leaf);
    // ls --index-slack reports it and goes on; the MFT still lists all 120 names.
    let rows = ls_index_slack(&case);
    assert_eq!(
        rows.iter()
            .filter(|r| r["source"] == "mft" && r["mft_entry"] == 90)
            .count(),
        120
    );
}
