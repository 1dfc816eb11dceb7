//! The CLI contract: field names, exit codes, formats, `cat`, and `scan` options, on fixtures.

mod common;

use common::{fixture, jsonl, run, sha256};

const TIME_KEYS: [&str; 4] = ["created", "modified", "mft_modified", "accessed"];

#[test]
fn ls_rows_have_the_contract_fields() {
    let img = fixture("ntfs-basic.img");
    let (code, out, _) = run(&["ls", img.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0);
    let rows = jsonl(&out);
    assert!(rows.len() > 100);
    for r in &rows {
        for k in [
            "partition",
            "path",
            "stream",
            "mft_entry",
            "mft_sequence",
            "deleted",
            "is_dir",
            "size",
            "si",
            "fn",
        ] {
            assert!(r.get(k).is_some(), "missing {k} in {r}");
        }
        assert!(r["path"].as_str().unwrap().starts_with('/'));
        for t in ["si", "fn"] {
            if let Some(o) = r[t].as_object() {
                for k in TIME_KEYS {
                    let s = o[k].as_str().unwrap();
                    // RFC 3339 UTC with 7 fractional digits.
                    assert_eq!(s.len(), 28, "{s}");
                    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.');
                }
            }
        }
    }
    assert!(rows.iter().any(|r| r["deleted"] == true));
    assert!(rows.iter().any(|r| r["is_dir"] == true));
    assert!(rows.iter().any(|r| r["stream"].is_string()));
    // A disk: partition indexes as `info` lists them.
    let (code, out, _) = run(&[
        "ls",
        fixture("disk-mbr.img").to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0);
    let parts: std::collections::BTreeSet<i64> = jsonl(&out)
        .iter()
        .map(|r| r["partition"].as_i64().unwrap())
        .collect();
    let (_, info, _) = run(&[
        "info",
        fixture("disk-mbr.img").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    let ntfs: std::collections::BTreeSet<i64> = info["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ntfs"] == true)
        .map(|p| p["index"].as_i64().unwrap())
        .collect();
    assert_eq!(parts, ntfs);
}

#[test]
fn table_is_readable_and_jsonl_is_default_off_terminal() {
    let img = fixture("ntfs-basic.img");
    let (code, out, _) = run(&["ls", img.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(
        jsonl(&out).len() > 100,
        "jsonl when stdout is not a terminal"
    );
    let (code, out, _) = run(&["ls", img.to_str().unwrap(), "--format", "table"]);
    assert_eq!(code, 0);
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().next().unwrap().contains("path"));
}

#[test]
fn hash_agrees_with_cat_and_truth() {
    let img = fixture("ntfs-basic.img");
    let (code, out, _) = run(&["hash", img.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0);
    let rows = jsonl(&out);
    let truth = std::fs::read_to_string(fixture("ntfs-basic.img.truth.tsv")).unwrap();
    let mut checked = 0;
    for line in truth
        .lines()
        .skip(1)
        .filter(|l| !l.split('\t').nth(8).unwrap_or("").is_empty())
        .take(40)
    {
        let c: Vec<&str> = line.split('\t').collect();
        let stream = (!c[3].is_empty()).then_some(c[3]);
        let row = rows
            .iter()
            .find(|r| r["path"] == c[2] && r["stream"].as_str() == stream)
            .unwrap_or_else(|| panic!("no hash row for {line}"));
        assert_eq!(row["sha256"], c[8], "{line}");
        for k in ["md5", "sha1", "sha256", "size", "mft_entry", "deleted"] {
            assert!(row.get(k).is_some());
        }
        // cat by path and by entry give the same bytes.
        let spec = match stream {
            Some(s) => format!("{}:{s}", c[2]),
            None => c[2].to_string(),
        };
        let (code, bytes, err) = run(&["cat", img.to_str().unwrap(), &spec]);
        assert_eq!(code, 0, "cat {spec}: {err}");
        assert_eq!(sha256(&bytes), c[8], "cat {spec}");
        let espec = match stream {
            Some(s) => format!("{}:{s}", c[6]),
            None => c[6].to_string(),
        };
        let (code, bytes, _) = run(&["cat", img.to_str().unwrap(), "--entry", &espec]);
        assert_eq!(code, 0);
        assert_eq!(sha256(&bytes), c[8], "cat --entry {espec}");
        checked += 1;
    }
    assert!(checked > 20);
}

#[test]
fn unreadable_evidence_exits_2_with_one_line() {
    let junk = common::scratch().join("junk.bin");
    std::fs::write(&junk, vec![0x5Au8; 70_000]).unwrap();
    for cmd in ["ls", "hash", "info"] {
        let (code, out, err) = run(&[cmd, junk.to_str().unwrap(), "--format", "jsonl"]);
        assert_eq!(code, 2, "{cmd}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd}: {err}");
        assert!(!err.contains("panicked"));
        if cmd != "info" {
            assert!(out.is_empty());
        }
    }
    let (code, _, err) = run(&["ls", "/nonexistent/image.raw"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/image.raw"));
    let (code, _, _) = run(&[
        "cat",
        fixture("ntfs-basic.img").to_str().unwrap(),
        "/no/such/file",
    ]);
    assert_eq!(code, 2);
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let p = common::scratch().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn scan_custom_rules_with_externals_iocs_and_known_good() {
    let img = fixture("ntfs-shells.img");
    let rules = write(
        "ext.yar",
        r#"rule named_aspx { meta: severity = "medium" condition: extension == ".aspx" and filename matches /^[A-Za-z0-9]{8}\.aspx$/ and filepath contains "aspnet_client" }
           rule any_eval { meta: severity = "high" strings: $a = "eval(" condition: $a }"#,
    );
    let (code, out, err) = run(&[
        "scan",
        img.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 1, "{err}");
    let rows = jsonl(&out);
    let named: Vec<_> = rows
        .iter()
        .filter(|r| r["rule"]["name"] == "named_aspx")
        .collect();
    // rWq8ZyNk.aspx and discover.aspx: 8-character names under aspnet_client.
    assert_eq!(named.len(), 2, "{rows:?}");
    assert!(named.iter().any(|r| r["location"]["path"]
        .as_str()
        .unwrap()
        .ends_with("/aspnet_client/system_web/rWq8ZyNk.aspx")));
    assert_eq!(named[0]["severity"], "medium");
    for r in &rows {
        for k in ["kind", "severity", "title", "location", "file"] {
            assert!(r.get(k).is_some(), "{k} missing in {r}");
        }
        for k in [
            "evidence",
            "partition",
            "path",
            "stream",
            "mft_entry",
            "mft_sequence",
            "deleted",
        ] {
            assert!(r["location"].get(k).is_some());
        }
    }
    // The deleted shell is found, marked deleted, with its entry.
    assert!(rows
        .iter()
        .any(|r| r["location"]["deleted"] == true && r["rule"]["name"] == "any_eval"));
    // IOC list by the SHA-256 of one hit; known-good list silences another.
    let hit = rows
        .iter()
        .find(|r| r["rule"]["name"] == "any_eval")
        .unwrap();
    let sha = hit["file"]["sha256"].as_str().unwrap().to_string();
    let ioc = write("ioc.txt", &format!("# test list\n{sha};planted shell\n"));
    let (code, out, _) = run(&[
        "scan",
        img.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--ioc",
        ioc.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 1);
    let rows2 = jsonl(&out);
    assert!(rows2.iter().any(|r| r["kind"] == "ioc_hash"
        && r["file"]["sha256"] == sha.as_str()
        && r["severity"] == "critical"));
    let good = write(
        "good.csv",
        &format!("{},15.1.2106.2,\\FrontEnd\\x.aspx\n", sha.to_uppercase()),
    );
    let (_, out, _) = run(&[
        "scan",
        img.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "--known-good",
        good.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(!jsonl(&out)
        .iter()
        .any(|r| r["file"]["sha256"] == sha.as_str()));
}

#[test]
fn scan_rule_errors_name_file_and_line() {
    let bad = write(
        "bad.yar",
        "rule ok { condition: true }\n\nrule broken { strings: $a = \"x\" condition: $b }\n",
    );
    let img = fixture("ntfs-basic.img");
    let (code, out, err) = run(&[
        "scan",
        img.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("bad.yar") && err.contains(":3:"), "{err}");
    let good = write(
        "good.yar",
        "rule ok2 { meta: severity = \"low\" condition: filesize > 0 }\n",
    );
    let (code, _, err) = run(&[
        "scan",
        img.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        bad.to_str().unwrap(),
        "--rules",
        good.to_str().unwrap(),
        "--skip-bad-rules",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "low findings only: {err}");
    assert!(err.contains("skipped"));
}

#[test]
fn scan_loose_files_and_folders_and_formats() {
    let dir = common::scratch().join("loose");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("sub/page.aspx"),
        "<%@ Page Language=\"Jscript\"%><%eval(Request.Item[\"z\"],\"unsafe\");%>",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "eval( but not a web file").unwrap();
    let mut dump = b"MDMP\x93\xa7\0\0".to_vec();
    dump.extend_from_slice(&[0u8; 100]);
    std::fs::write(dir.join("x.bin"), &dump).unwrap();
    let rules = write("loose.yar", "rule e { meta: severity = \"high\" strings: $a = \"eval(\" condition: $a }\nrule m { meta: severity = \"medium\" condition: uint32(0) == 0x504D444D }\n");
    let (code, out, _) = run(&[
        "scan",
        dir.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 1);
    let rows = jsonl(&out);
    let paths: Vec<&str> = rows
        .iter()
        .map(|r| r["location"]["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().any(|p| p.ends_with("sub/page.aspx")));
    assert!(
        paths.iter().any(|p| p.ends_with("x.bin")),
        "minidump selected by magic"
    );
    assert!(
        !paths.iter().any(|p| p.ends_with("notes.txt")),
        "not selected by triage"
    );
    assert!(rows.iter().all(|r| r["location"]["mft_entry"].is_null()));
    // A single loose file named explicitly is always scanned.
    let (code, out, _) = run(&[
        "scan",
        dir.join("notes.txt").to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 1);
    assert_eq!(jsonl(&out).len(), 1);
    // Formats: json array, csv with header, table; -o refuses an existing file.
    let base = [
        "scan",
        dir.to_str().unwrap(),
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
    ];
    let (_, out, _) = run(&[&base[..], &["--format", "json"]].concat());
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), rows.len());
    let (_, out, _) = run(&[&base[..], &["--format", "csv"]].concat());
    let csv = String::from_utf8(out).unwrap();
    assert!(csv.starts_with("kind,severity,title"));
    assert_eq!(csv.lines().count(), rows.len() + 1);
    let (_, out, _) = run(&[&base[..], &["--format", "table"]].concat());
    assert!(String::from_utf8(out).unwrap().contains("HIGH"));
    let outfile = common::scratch().join("findings.jsonl");
    let _ = std::fs::remove_file(&outfile);
    let (code, out, _) = run(&[&base[..], &["-o", outfile.to_str().unwrap()]].concat());
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(jsonl(&std::fs::read(&outfile).unwrap()).len(), rows.len());
    let before = std::fs::read(&outfile).unwrap();
    let (code, _, err) = run(&[&base[..], &["-o", outfile.to_str().unwrap()]].concat());
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        std::fs::read(&outfile).unwrap(),
        before,
        "an existing file is never overwritten"
    );
}

#[test]
fn scan_selection_flags() {
    let img = fixture("ntfs-basic.img");
    let rules = write(
        "all.yar",
        "rule everything { meta: severity = \"low\" condition: true }\n",
    );
    let count = |extra: &[&str]| {
        let args = [
            &[
                "scan",
                img.to_str().unwrap(),
                "--no-builtin-rules",
                "--no-exchange",
                "--rules",
                rules.to_str().unwrap(),
                "--format",
                "jsonl",
            ][..],
            extra,
        ]
        .concat();
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        jsonl(&out)
            .into_iter()
            .filter(|r| r["kind"] == "yara_match")
            .count()
    };
    let all = count(&["--all-files"]);
    let small = count(&["--all-files", "--max-size", "100"]);
    let txt = count(&["--all-files", "--include", "*.txt"]);
    let no_txt = count(&["--all-files", "--exclude", "*.txt"]);
    let no_del = count(&["--all-files", "--no-deleted"]);
    assert!(all > 100);
    assert!(small < all && small > 0);
    assert!(txt > 0 && txt < all);
    assert_eq!(txt + no_txt, all);
    assert!(no_del < all);
}

#[test]
fn scan_goes_on_past_unreadable_evidence_and_exits_2() {
    let junk = common::scratch().join("junk-e01.E01");
    // An E01 signature with nothing valid behind it: recognised, then refused.
    let mut b = b"EVF\x09\x0d\x0a\xff\x00".to_vec();
    b.extend_from_slice(&[0u8; 200]);
    std::fs::write(&junk, b).unwrap();
    let img = fixture("ntfs-shells.img");
    let (code, out, err) = run(&[
        "scan",
        junk.to_str().unwrap(),
        img.to_str().unwrap(),
        "--format",
        "jsonl",
        "-q",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk-e01.E01"), "{err}");
    assert!(
        jsonl(&out).iter().any(|f| f["kind"] == "web_shell"),
        "the readable image is still scanned"
    );
}

#[test]
fn ls_and_hash_csv_have_one_header_and_aligned_columns() {
    for (cmd, img) in [("ls", "ntfs-basic.img"), ("hash", "disk-mbr.img")] {
        let (code, out, _) = run(&[cmd, fixture(img).to_str().unwrap(), "--format", "csv"]);
        assert_eq!(code, 0);
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(
            header.starts_with("partition,path,stream,mft_entry"),
            "{header}"
        );
        assert!(header.contains("si_created") && header.contains("fn_accessed"));
        // The digests, then the shadow copy a row was read from and the owner: last in every row.
        if cmd == "hash" {
            assert!(
                header.ends_with("md5,sha1,sha256,snapshot,owner,owner_name"),
                "{header}"
            );
        } else {
            assert!(
                header.ends_with("source,snapshot,owner,owner_name"),
                "{header}"
            );
        }
        let n = header.split(',').count();
        let mut rows = 0;
        for l in lines {
            assert!(!l.starts_with("partition,"), "one header for all volumes");
            // No field of these fixtures needs quoting except names with commas; count simply.
            if !l.contains('"') {
                assert_eq!(l.split(',').count(), n, "{l}");
            }
            rows += 1;
        }
        assert!(rows > 10);
    }
}
