//! A triage collection (the files of a volume under a folder named for its drive, as KAPE,
//! CyLR or Velociraptor write them) scans as the volume does: the same Exchange install, web
//! shells ranked in their drop folders, log traces, dumps and archives, under the files'
//! original volume paths. Made here by exporting every stream of the shells fixture.
#![cfg(feature = "cli")]

mod common;

use std::collections::BTreeSet;

type Key = (String, String, String, Option<String>);

fn keys(out: &[u8], skip: &[&str]) -> BTreeSet<Key> {
    common::jsonl(out)
        .into_iter()
        .filter(|f| !skip.contains(&f["kind"].as_str().unwrap()))
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap().to_string(),
                f["location"]["stream"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn a_collection_scans_like_the_volume_it_came_from() {
    let image = common::fixture("ntfs-shells.img");
    let dir = common::scratch().join("collection");
    let export = dir.join("export");
    let (code, _, err) = common::run(&[
        "extract",
        image.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
        "--all-files",
    ]);
    assert_eq!(code, 0, "{err}");
    // Velociraptor's layout: uploads/auto/C%3A/…
    let root = dir.join("uploads").join("auto");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::rename(export.join("partition1"), root.join("C%3A")).unwrap();

    let (_, from_image, _) =
        common::run(&["scan", image.to_str().unwrap(), "--format", "jsonl", "-q"]);
    let (code, from_folder, err) =
        common::run(&["scan", dir.to_str().unwrap(), "--format", "jsonl", "-q"]);
    assert_eq!(code, 1, "{err}");
    // Timestomping needs the MFT's two sets of times, which a collection does not hold.
    let skip = ["timestomp", "diagnostic"];
    let want = keys(&from_image, &skip);
    let got = keys(&from_folder, &skip);
    assert_eq!(
        want.symmetric_difference(&got).collect::<Vec<_>>(),
        Vec::<&Key>::new()
    );
    for kind in [
        "web_shell",
        "proxylogon_ssrf",
        "log_coverage",
        "exchange_install",
        "lsass_dump",
    ] {
        assert!(got.iter().any(|k| k.0 == kind), "no {kind} finding");
    }
    // Each file finding names the collected file as its evidence.
    for f in common::jsonl(&from_folder) {
        let ev = f["location"]["evidence"].as_str().unwrap();
        if f["file"].is_object() {
            assert!(ev.contains("C%3A"), "{ev}");
            assert!(std::path::Path::new(ev).is_file(), "{ev}");
        }
    }
}

#[test]
fn a_folder_of_plain_files_keeps_host_paths() {
    let dir = common::scratch().join("plain");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        common::fixture("shells/src/chopper_system_web.aspx"),
        dir.join("page.aspx"),
    )
    .unwrap();
    let (code, out, err) = common::run(&["scan", dir.to_str().unwrap(), "--format", "jsonl", "-q"]);
    assert_eq!(code, 1, "{err}");
    let f = common::jsonl(&out);
    assert!(!f.is_empty());
    assert!(f.iter().all(|f| f["location"]["path"]
        .as_str()
        .unwrap()
        .ends_with("plain/page.aspx")));
    assert!(
        f.iter().all(|f| f["kind"] != "web_shell"),
        "no volume path, no ranking"
    );
}
