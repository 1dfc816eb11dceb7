//! Safe export: selected streams copied out with a manifest whose hashes match, deleted and ADS
//! streams included, names from the image defused, nothing written outside the folder, and a
//! non-empty output folder refused.

mod common;
#[path = "support/mft_edit.rs"]
mod mft_edit;

use common::{fixture, jsonl, run, sha256};
use mft_edit::{attributes, edit_record, find_attr, rd16, wr16};

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

/// Renames `entry`'s `$FILE_NAME`s (every namespace) to `name` in place: the new name must not
/// be longer than the old one, so no attribute moves.
fn rename(img: &mut [u8], rec_off: usize, rs: usize, name: &str) {
    edit_record(img, rec_off, rs, |rec| {
        for (a, t, _, _) in attributes(rec) {
            if t != 0x30 {
                continue;
            }
            let v = a + rd16(rec, a + 20) as usize;
            let units: Vec<u16> = name.encode_utf16().collect();
            assert!(
                units.len() <= rec[v + 64] as usize,
                "{name:?} longer than the old name"
            );
            rec[v + 64] = units.len() as u8;
            for (i, u) in units.iter().enumerate() {
                wr16(rec, v + 66 + 2 * i, *u);
            }
        }
    });
}

/// Renames the alternate data stream `old` of a record to `name` (not longer than `old`).
fn rename_ads(img: &mut [u8], rec_off: usize, rs: usize, old: &str, name: &str) {
    edit_record(img, rec_off, rs, |rec| {
        let (a, _) = find_attr(rec, 0x80, old);
        let units: Vec<u16> = name.encode_utf16().collect();
        assert!(units.len() <= old.len());
        rec[a + 9] = units.len() as u8;
        let noff = a + rd16(rec, a + 10) as usize;
        for (i, u) in units.iter().enumerate() {
            wr16(rec, noff + 2 * i, *u);
        }
    });
}

#[test]
fn hostile_names_in_the_image_stay_inside_the_output_folder() {
    // ntfs-basic.img with names no honest NTFS writer makes, patched into its MFT records:
    // a directory called "..", names with "/", "\", NUL, ESC, right-to-left override, drive
    // prefixes, Windows device names, "." and a trailing space, two names differing only in
    // case, and an alternate data stream called "../../x".
    let src = fixture("ntfs-basic.img");
    let mut img = std::fs::read(&src).unwrap();
    let image = deadbox::Image::open(&src, deadbox::volume::VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let rs = v.geometry().record_size as usize;
    let off = |e: u64| v.record_offset(e).unwrap() as usize;
    let names: &[(u64, &str)] = &[
        (64, ".."),                      // /files
        (65, "..\\..\\x.aspx"),          // resident.txt
        (66, "CON"),                     // empty.txt
        (67, "/etc/passwd"),             // resident_400.bin
        (68, "a\0b\x1b\u{202E}gpj.exe"), // nonres_5000.bin
        (69, "C:\\Windows\\x"),          // nonres_70001.bin
        (79, "aux.txt "),                // compressed/tiny.txt
        (81, "SAME"),                    // frag/a.bin
        (82, "same"),                    // frag/b.bin
        (83, "."),                       // frag/c.bin
    ];
    for &(e, n) in names {
        rename(&mut img, off(e), rs, n);
    }
    rename_ads(&mut img, off(107), rs, "resident_ads", "../../x");
    rename_ads(
        &mut img,
        off(107),
        rs,
        "nonresident_ads",
        "..\\..\\..\\evil",
    );
    let case = common::scratch().join("hostile-names.img");
    std::fs::write(&case, &img).unwrap();

    // The output folder sits three levels down in a folder of its own, so anything written
    // outside it would show up next to it.
    let cage = common::scratch().join("hostile-cage");
    let out = cage.join("a").join("b").join("out");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let (code, _, err) = run(&[
        "extract",
        case.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--all-files",
        "--hashes",
        "sha256",
    ]);
    assert_eq!(code, 0, "{err}");

    // Nothing outside the output folder.
    let listing = |d: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(listing(&cage), ["a"]);
    assert_eq!(listing(&cage.join("a")), ["b"]);
    assert_eq!(listing(&cage.join("a").join("b")), ["out"]);

    // Every name written is tame: no separators, no "."/"..", no control or bidi characters,
    // no device names, no trailing dot or space, no symlink.
    let mut stack = vec![out.clone()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            assert!(!meta.file_type().is_symlink(), "{:?}", e.path());
            let name = e.file_name().into_string().expect("UTF-8 names");
            assert!(name != "." && name != "..", "{name}");
            assert!(
                !name.chars().any(|c| c.is_control()
                    || matches!(
                        c,
                        '\\' | ':' | '/' | '\u{202E}' | '*' | '?' | '"' | '<' | '>' | '|'
                    )),
                "{name:?}"
            );
            assert!(!name.ends_with('.') && !name.ends_with(' '), "{name:?}");
            let stem = name.split('.').next().unwrap().to_ascii_uppercase();
            assert!(
                !["CON", "PRN", "AUX", "NUL", "COM1", "LPT1"].contains(&stem.as_str()),
                "{name:?}"
            );
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
            }
        }
    }

    // The manifest keeps the image's names as they are, and every renamed stream was exported
    // whole (the content did not change, only the names).
    let manifest = jsonl(&std::fs::read(out.join("manifest.jsonl")).unwrap());
    assert_eq!(
        files,
        manifest.len() + 1,
        "one file per manifest line, plus the manifest"
    );
    let truth = std::fs::read_to_string(fixture("ntfs-basic.img.truth.tsv")).unwrap();
    let want = |entry: u64, stream: &str| -> String {
        truth
            .lines()
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|c| c[6] == entry.to_string() && c[3] == stream)
            .map(|c| c[8].to_string())
            .unwrap()
    };
    let row = |entry: u64, stream: Option<&str>| {
        manifest
            .iter()
            .find(|m| m["mft_entry"] == entry && m["stream"].as_str() == stream)
            .unwrap_or_else(|| panic!("entry {entry} {stream:?} not exported"))
    };
    for &(e, n) in names.iter().filter(|(e, _)| *e != 64) {
        let m = row(e, None);
        assert!(m["error"].is_null(), "{m}");
        assert!(
            m["path"].as_str().unwrap().ends_with(&format!("/{n}")),
            "{m}"
        );
        assert_eq!(m["sha256"], want(e, ""), "{m}");
        let p = out.join(m["exported"].as_str().unwrap());
        assert!(p
            .canonicalize()
            .unwrap()
            .starts_with(out.canonicalize().unwrap()));
    }
    for (old, new) in [
        ("resident_ads", "../../x"),
        ("nonresident_ads", "..\\..\\..\\evil"),
    ] {
        let m = row(107, Some(new));
        assert!(m["error"].is_null(), "{m}");
        assert_eq!(m["sha256"], want(107, old), "{m}");
    }
    // "/etc/passwd" is one component, escaped, under the folder made for ".."; the two names
    // that differ only in case got two files.
    let passwd = row(67, None)["exported"].as_str().unwrap().to_string();
    assert!(passwd.ends_with("%2Fetc%2Fpasswd"), "{passwd}");
    assert!(!passwd.contains("/etc/"), "{passwd}");
    let (a, b) = (row(81, None), row(82, None));
    assert_ne!(
        a["exported"].as_str().unwrap().to_lowercase(),
        b["exported"].as_str().unwrap().to_lowercase()
    );
}
