//! Safe export: selected streams copied out with a manifest whose hashes match, deleted and ADS
//! streams included, names from the image defused, nothing written outside the folder, and a
//! non-empty output folder refused.

mod common;

use common::{fixture, jsonl, run, sha256};

#[test]
fn extract_findings_writes_files_and_manifest() {
    let out = common::scratch().join("extract-findings");
    let _ = std::fs::remove_dir_all(&out);
    let img = fixture("ntfs-shells.img");
    let (code, _, err) = run(&[
        "extract",
        img.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--findings",
    ]);
    assert_eq!(code, 0, "{err}");
    let manifest = jsonl(&std::fs::read(out.join("manifest.jsonl")).unwrap());
    assert!(manifest.len() >= 10, "{manifest:?}");
    for m in &manifest {
        assert!(m["error"].is_null(), "{m}");
        let rel = m["exported"].as_str().unwrap();
        assert!(!rel.contains(".."));
        let p = out.join(rel);
        let canon = p.canonicalize().unwrap();
        assert!(canon.starts_with(out.canonicalize().unwrap()));
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(sha256(&bytes), m["sha256"].as_str().unwrap());
        assert_eq!(bytes.len() as u64, m["size"].as_u64().unwrap());
    }
    // The deleted shell and the ADS shell are there, the ADS under a defused name.
    assert!(manifest
        .iter()
        .any(|m| m["deleted"] == true && m["path"].as_str().unwrap().ends_with("one1.aspx")));
    let ads = manifest
        .iter()
        .find(|m| m["stream"] == "shell.aspx")
        .unwrap();
    assert!(ads["exported"]
        .as_str()
        .unwrap()
        .ends_with("iisstart.htm%3Ashell.aspx"));
    // Exporting again into the same folder is refused.
    let (code, _, err) = run(&[
        "extract",
        img.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn extract_everything_matches_hash_and_handles_hard_links() {
    let out = common::scratch().join("extract-all");
    let _ = std::fs::remove_dir_all(&out);
    let img = fixture("ntfs-basic.img");
    let (code, _, err) = run(&[
        "extract",
        img.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--all-files",
        "--hashes",
        "sha256",
    ]);
    assert_eq!(code, 0, "{err}");
    let manifest = jsonl(&std::fs::read(out.join("manifest.jsonl")).unwrap());
    let (_, hashes, _) = run(&["hash", img.to_str().unwrap(), "--format", "jsonl"]);
    let hashes = jsonl(&hashes);
    let ok: Vec<_> = manifest.iter().filter(|m| m["error"].is_null()).collect();
    assert!(ok.len() > 150);
    for m in ok {
        let h = hashes
            .iter()
            .find(|h| {
                h["path"] == m["path"]
                    && h["stream"] == m["stream"]
                    && h["mft_entry"] == m["mft_entry"]
            })
            .unwrap();
        assert_eq!(h["sha256"], m["sha256"], "{}", m["path"]);
    }
    // Every exported path is unique (120 hard-link names, case collisions, long names).
    let mut seen = std::collections::HashSet::new();
    for m in &manifest {
        if let Some(p) = m["exported"].as_str() {
            assert!(seen.insert(p.to_lowercase()), "duplicate {p}");
        }
    }
}
