//! A loose `$MFT` (the MFT file of a triage collection) lists as its volume would: checked
//! against TSK's listings of the volumes those files came from (`../shared/corpus/mft/*.fls`),
//! with content stored in clusters reported as not collected, never read from elsewhere.
#![cfg(feature = "cli")]

mod common;

use serde_json::Value;
use std::collections::HashMap;

/// `ls --format jsonl` rows of a loose `$MFT`, keyed by `path[:stream]`.
fn rows(path: &std::path::Path) -> HashMap<String, Value> {
    let (code, out, err) = common::run(&["ls", path.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    common::jsonl(&out)
        .into_iter()
        .map(|r| {
            let key = match r["stream"].as_str() {
                Some(s) => format!("{}:{s}", r["path"].as_str().unwrap()),
                None => r["path"].as_str().unwrap().to_string(),
            };
            (key, r)
        })
        .collect()
}

#[test]
fn loose_mft_lists_like_tsk_lists_its_volume() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for name in ["orphan", "unicode"] {
        let mft = corpus.join("mft").join(format!("{name}.mft"));
        let rows = rows(&mft);
        let fls = std::fs::read_to_string(corpus.join("mft").join(format!("{name}.fls"))).unwrap();
        let mut checked = 0;
        for line in fls.lines() {
            // `r/r 4-128-1:<TAB>$AttrDef<TAB>4 times<TAB>size<TAB>uid<TAB>gid`
            let f: Vec<&str> = line.split('\t').collect();
            let (kind, inode) = f[0].split_once(' ').unwrap();
            if kind != "r/r" && kind != "d/d" {
                continue; // the virtual $OrphanFiles folder
            }
            let entry: u64 = inode.split('-').next().unwrap().parse().unwrap();
            let key = format!("/{}", f[1]);
            let row = rows
                .get(&key)
                .unwrap_or_else(|| panic!("{name}: {key} (entry {entry}) not listed"));
            assert_eq!(row["mft_entry"], entry, "{name}: {key}");
            assert_eq!(row["is_dir"], kind == "d/d", "{name}: {key}");
            assert_eq!(row["deleted"], false, "{name}: {key}");
            if kind == "r/r" {
                let size: u64 = f[6].parse().unwrap();
                assert_eq!(row["size"], size, "{name}: {key}");
            }
            checked += 1;
        }
        assert!(checked >= 39, "{name}: {checked} rows checked");
    }
}

#[test]
fn deleted_files_and_unicode_names_are_listed() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let rows = rows(&corpus.join("mft").join("deleted.mft"));
    let f = &rows["/1/2/3/4/file.txt"];
    assert_eq!(f["deleted"], true);
    assert_eq!(f["size"], 3);
    // The time the table view shows for it (`deadbox ls --format table`), to the second.
    assert!(f["si"]["modified"]
        .as_str()
        .unwrap()
        .starts_with("2019-01-24T21:27:49."));
    let (code, out, _) = common::run(&[
        "info",
        corpus.join("mft").join("unicode.mft").to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0);
    let info = &common::jsonl(&out)[0];
    assert_eq!(info["volumes"][0]["label"], "Unicode");
    assert_eq!(info["volumes"][0]["record_count"], 256);
}

#[test]
fn cluster_content_is_not_collected_and_says_so() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mft = corpus.join("mft").join("compressed_sparse.mft");
    let (code, out, err) = common::run(&["hash", mft.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    let by_size = |n: u64| {
        rows.iter()
            .find(|r| r["size"] == n)
            .unwrap_or_else(|| panic!("no row of {n} bytes"))
    };
    // The compressed and the sparse file: listed with their sizes, content not collected.
    for n in [22_308, 1_048_582] {
        let r = by_size(n);
        assert!(r["sha256"].is_null(), "{r}");
        assert!(
            r["error"]
                .as_str()
                .is_some_and(|e| e.contains("only the $MFT was collected")),
            "{r}"
        );
    }
    assert!(err.contains("only the $MFT was collected"));
    // Resident content is in the records: `$Volume`'s empty unnamed stream hashes.
    let volume = rows.iter().find(|r| r["path"] == "/$Volume").unwrap();
    assert_eq!(
        volume["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn a_cut_loose_mft_lists_its_whole_records() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bytes = std::fs::read(corpus.join("mft").join("orphan.mft")).unwrap();
    let cut = common::scratch().join("cut.mft");
    std::fs::write(&cut, &bytes[..40 * 1024 + 300]).unwrap();
    let (code, out, err) = common::run(&["ls", cut.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("ends inside a record"), "{err}");
    let rows = common::jsonl(&out);
    assert!(rows.iter().all(|r| r["mft_entry"].as_u64().unwrap() < 40));
    assert!(rows
        .iter()
        .any(|r| r["path"] == "/System Volume Information/IndexerVolumeGuid"));
    assert!(
        !rows.iter().any(|r| r["path"] == "/$RECYCLE.BIN"),
        "entry 40 is cut off"
    );

    // Not a $MFT: the same bytes without the record signature are no evidence deadbox reads.
    let mut bad = bytes.clone();
    bad[0..4].copy_from_slice(b"XXXX");
    let not = common::scratch().join("not.mft");
    std::fs::write(&not, &bad).unwrap();
    let (code, _, err) = common::run(&["ls", not.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}
