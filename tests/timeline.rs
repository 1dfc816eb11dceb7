//! `deadbox timeline`: the bodyfile against TSK (`fls -m` + `mactime`), the Timesketch
//! lines' required fields, the sorted CSV / JSON lines and `--from`/`--to`.

mod common;

use common::{fixture, run, scratch};
use std::collections::BTreeSet;
use std::process::Command;

/// True when `tool` runs; without it the TSK comparison is skipped with a notice, except under
/// CI=true (where .ci/run installs sleuthkit), where that fails.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("-V")
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} (sleuthkit) is missing under CI"
        );
        eprintln!("NOTICE: {tool} not installed: TSK timeline comparison skipped");
    }
    ok
}

fn mactime(body: &[u8]) -> Vec<String> {
    let p = scratch().join(format!("body-{}", common::sha256(body)));
    std::fs::write(&p, body).unwrap();
    let o = Command::new("mactime")
        .args(["-b", p.to_str().unwrap(), "-d", "-y", "-z", "UTC"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// A mactime line with UID left out: for the 48-byte $STANDARD_INFORMATION of the fixtures
/// (no owner id), TSK reads the 4 bytes after the value as the owner id (the next attribute's
/// type, 48 for $FILE_NAME, or the end marker 0xFFFFFFFF); deadbox writes 0.
fn norm(line: &str) -> String {
    let mut f: Vec<String> = line.splitn(8, ',').map(str::to_string).collect();
    f[4] = "U".into();
    f.join(",")
}

/// `fls -r -m MOUNT -o OFFSET` of each (mount point, sector offset).
fn fls(image: &str, volumes: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (mount, off) in volumes {
        let o = Command::new("fls")
            .args([
                "-r",
                "-m",
                mount,
                "-o",
                off,
                fixture(image).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        body.extend(o.stdout);
    }
    body
}

/// mactime on deadbox's bodyfile equals mactime on fls's, but for the documented differences.
fn compare(image: &str, volumes: &[(&str, &str)]) {
    let (code, ours, err) = run(&[
        "timeline",
        fixture(image).to_str().unwrap(),
        "--format",
        "bodyfile",
    ]);
    assert_eq!(code, 0, "{err}");
    let ours = mactime(&ours);
    let theirs = mactime(&fls(image, volumes));
    let mut a: Vec<String> = ours.iter().map(|l| norm(l)).collect();
    let mut b: Vec<String> = theirs
        .iter()
        // TSK writes a FILETIME of 0 as 3373865674 (2076-11-29T08:54:34Z); deadbox writes 0,
        // which mactime leaves out.
        .filter(|l| !l.starts_with("2076-11-29T08:54:34Z"))
        // TSK lists a directory's named stream twice, the second time as `dir/.:stream`.
        .filter(|l| !l.contains("/.:"))
        .map(|l| norm(l))
        .collect();
    // fls writes no ($FILE_NAME) line for a file whose names live in extension records
    // (manylinks: 120 hard links, an $ATTRIBUTE_LIST); deadbox does.
    let extra: BTreeSet<String> = a.iter().filter(|l| !b.contains(l)).cloned().collect();
    assert!(
        extra
            .iter()
            .all(|l| l.contains("/manylinks/link_") && l.contains("($FILE_NAME)")),
        "lines only deadbox writes: {extra:#?}"
    );
    a.retain(|l| !extra.contains(l));
    a.sort();
    b.sort();
    assert_eq!(a, b, "mactime output differs from fls -m + mactime");
    eprintln!(
        "{image}: {} mactime lines agree; {} deadbox-only ($FILE_NAME of names in extension records)",
        a.len(),
        extra.len()
    );
}

#[test]
fn bodyfile_matches_fls_through_mactime() {
    if !have("fls") || !have("mactime") {
        return;
    }
    compare("ntfs-basic.img", &[("/", "0")]);
    compare(
        "disk-mbr.img",
        &[("/partition3", "11648"), ("/partition6", "7552")],
    );
}

#[test]
fn timesketch_lines_carry_the_required_fields() {
    let (code, out, err) = run(&[
        "timeline",
        fixture("ntfs-basic.img").to_str().unwrap(),
        "--format",
        "timesketch",
    ]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    assert!(rows.len() > 300, "{}", rows.len());
    let mut last = i64::MIN;
    for r in &rows {
        for k in ["message", "datetime", "timestamp", "timestamp_desc"] {
            assert!(!r[k].is_null(), "{k} missing: {r}");
        }
        let t = deadbox::ntfs::FileTime::parse_rfc3339(r["datetime"].as_str().unwrap()).unwrap();
        let us = r["timestamp"].as_i64().unwrap();
        assert_eq!(us as i128, t.unix_nanos().div_euclid(1000), "{r}");
        assert!(us >= last, "not sorted: {r}");
        last = us;
        assert_eq!(r["source"], "mft");
    }
    let stomp: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["path"] == "/stomp/timestomped.exe" && r["timestamp"] == 1_561_968_930_123_456i64
        })
        .map(|r| r["timestamp_desc"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        stomp,
        ["Creation Time ($SI)", "Content Modification Time ($SI)"]
    );
}

#[test]
fn jsonl_and_csv_are_sorted_merged_and_filtered() {
    let img = fixture("ntfs-basic.img");
    let img = img.to_str().unwrap();
    let (code, out, err) = run(&["timeline", img, "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    let first = &rows[0];
    assert_eq!(first["path"], "/stomp/timestomped.exe");
    assert_eq!(first["macb"], "m..b");
    assert_eq!(first["source"], "$SI");
    assert!(rows
        .iter()
        .any(|r| r["deleted"] == true && r["source"] == "$FN"));
    assert!(rows.iter().any(|r| r["stream"] == "Zone.Identifier"));
    // --to a date keeps that whole day; --from drops what is before.
    let (_, out, _) = run(&["timeline", img, "--format", "csv", "--to", "2019-07-01"]);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "time,macb,source,partition,path,stream,mft_entry,mft_sequence,deleted"
    );
    assert_eq!(
        lines[1..],
        ["2019-07-01T08:15:30.1234567Z,m..b,$SI,,/stomp/timestomped.exe,,142,1,false"]
    );
    let (_, out, _) = run(&[
        "timeline",
        img,
        "--format",
        "jsonl",
        "--from",
        "2020-01-01T00:00:00Z",
    ]);
    let later = common::jsonl(&out);
    assert_eq!(later.len(), rows.len() - 1);
    let (code, _, err) = run(&["timeline", img, "--from", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("yesterday"), "{err}");
}
