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

/// `fls -r -m MOUNT -o SECTOR@512` of every NTFS volume `deadbox info` finds in `image`
/// (mounted at `/partitionN`, or `/` for a bare volume): TSK's bodyfile of the same volumes.
fn fls(image: &std::path::Path) -> Vec<u8> {
    let (code, out, err) = run(&["info", image.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let info: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let vols = info["volumes"].as_array().unwrap();
    assert!(!vols.is_empty(), "{}: no NTFS volume", image.display());
    let mut body = Vec::new();
    for v in vols {
        let mount = match v["partition"].as_u64() {
            Some(p) => format!("/partition{p}"),
            None => "/".to_string(),
        };
        let off = v["offset"].as_u64().unwrap();
        assert_eq!(off % 512, 0);
        let o = Command::new("fls")
            .args(["-r", "-m", &mount, "-o", &(off / 512).to_string()])
            .arg(image)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        body.extend(o.stdout);
    }
    body
}

/// mactime on deadbox's bodyfile equals mactime on fls's for `image`, but for the documented
/// differences; returns the number of lines that agree.
fn compare(image: &std::path::Path) -> usize {
    let (code, ours, err) = run(&["timeline", image.to_str().unwrap(), "--format", "bodyfile"]);
    assert_eq!(code, 0, "{err}");
    let ours = mactime(&ours);
    let theirs = mactime(&fls(image));
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
    // (ntfs-basic's manylinks: 120 hard links; ntfs3_attrlist: 300 names of one file, both
    // with an $ATTRIBUTE_LIST); deadbox does. Such a line's inode has no $FILE_NAME line in
    // TSK's output at all.
    let inode = |l: &str| l.split(',').nth(6).unwrap_or("").to_string();
    let tsk_fn: BTreeSet<String> = b
        .iter()
        .filter(|l| l.contains("($FILE_NAME)"))
        .map(|l| inode(l))
        .collect();
    let extra: BTreeSet<String> = a.iter().filter(|l| !b.contains(l)).cloned().collect();
    let unexplained: Vec<&String> = extra
        .iter()
        .filter(|l| !l.contains("($FILE_NAME)") || tsk_fn.contains(&inode(l)))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{}: lines only deadbox writes: {unexplained:#?}",
        image.display()
    );
    a.retain(|l| !extra.contains(l));
    a.sort();
    b.sort();
    assert_eq!(
        a,
        b,
        "{}: mactime output differs from fls -m + mactime",
        image.display()
    );
    eprintln!(
        "{}: {} mactime lines agree; {} deadbox-only ($FILE_NAME of names in extension records)",
        image.display(),
        a.len(),
        extra.len()
    );
    a.len()
}

/// A corpus tarball unpacked once (sparse) into a cache folder of this test binary.
fn untar(corpus: &std::path::Path, rel: &str) -> std::path::PathBuf {
    let src = corpus.join(rel);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("deadbox-timeline-tar")
        .join(rel.replace('/', "_"));
    let stamp = dir.join(".src-len");
    let len = std::fs::metadata(&src).unwrap().len().to_string();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(len.as_str()) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ok = Command::new("tar")
            .arg("-xSf")
            .arg(&src)
            .arg("-C")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(ok.success(), "tar -xSf {}", src.display());
        std::fs::write(&stamp, len).unwrap();
    }
    dir
}

#[test]
fn bodyfile_matches_fls_through_mactime() {
    if !have("fls") || !have("mactime") {
        return;
    }
    // Every fixture TSK opens (it rejects ntfs-2m.img's 2 MiB clusters: fixtures/README.md).
    for f in [
        "ntfs-basic.img",
        "disk-mbr.img",
        "disk-gpt4k.img",
        "ntfs-shells.img",
        "ntfs-hostile.img.gz",
        "ntfs-names.img.gz",
        "ntfs-slack.img.gz",
        "ntfs-usn.img.gz",
    ] {
        assert!(compare(&common::unpacked(&fixture(f))) > 40, "{f}");
    }
    // Every Windows- or driver-made NTFS image of the shared corpus (the two partition-table
    // images hold no NTFS volume), shadow-copy volumes included.
    let Some(corpus) = common::corpus() else {
        return;
    };
    for f in [
        "testfs1.raw",
        "ntfs3.raw.gz",
        "ntfs3_attrlist.raw.gz",
        "ntfs_index.raw.gz",
        "ntfs-si-vs-fn.raw.gz",
        "ntfs-lastaccess.raw.gz",
    ] {
        assert!(
            compare(&common::unpacked(&corpus.join("ntfs").join(f))) > 40,
            "{f}"
        );
    }
    for (tar, img) in [
        ("vss/vss_2003.tgz", "vss_2003.raw"),
        ("vss/vss_1_vol.tar.gz", "vss_1_vol.raw"),
        ("vss/vss_2_stor.tar.gz", "vss_2_stor.raw"),
    ] {
        assert!(compare(&untar(&corpus, tar).join(img)) > 40, "{img}");
    }
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
        let src = r["source"].as_str().unwrap();
        assert!(["mft_si", "mft_fn", "finding"].contains(&src), "{r}");
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
    let (code, out, err) = run(&["timeline", img, "--format", "jsonl", "--no-scan"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    let first = &rows[0];
    assert_eq!(first["path"], "/stomp/timestomped.exe");
    assert_eq!(first["macb"], "m..b");
    assert_eq!(first["source"], "mft_si");
    assert_eq!(first["message"], "/stomp/timestomped.exe");
    assert_eq!(
        first["desc"],
        "Creation Time, Content Modification Time ($SI)"
    );
    assert!(rows
        .iter()
        .any(|r| r["deleted"] == true && r["source"] == "mft_fn"));
    assert!(rows.iter().any(|r| r["stream"] == "Zone.Identifier"));
    // --to a date keeps that whole day; --from drops what is before.
    let (_, out, _) = run(&[
        "timeline",
        img,
        "--format",
        "csv",
        "--to",
        "2019-07-01",
        "--no-scan",
    ]);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "time,macb,source,partition,path,stream,mft_entry,mft_sequence,deleted,line,record_id,\
         snapshot,kind,severity,desc,message,evidence,volume_offset"
    );
    assert_eq!(
        lines[1..],
        [format!(
            "2019-07-01T08:15:30.1234567Z,m..b,mft_si,,/stomp/timestomped.exe,,142,1,false,,,,,,\
             \"Creation Time, Content Modification Time ($SI)\",/stomp/timestomped.exe,{img},0"
        )]
    );
    let (_, out, _) = run(&[
        "timeline",
        img,
        "--format",
        "jsonl",
        "--from",
        "2020-01-01T00:00:00Z",
        "--no-scan",
    ]);
    let later = common::jsonl(&out);
    assert_eq!(later.len(), rows.len() - 1);
    let (code, _, err) = run(&["timeline", img, "--from", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("yesterday"), "{err}");
}

/// The JSON lines of `deadbox timeline ARGS`, checked sorted by time.
fn timeline(args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["timeline", "-q"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    rows
}

fn of<'a>(rows: &'a [serde_json::Value], source: &str) -> Vec<&'a serde_json::Value> {
    rows.iter().filter(|r| r["source"] == source).collect()
}

#[test]
fn findings_sit_at_their_times_with_the_scans_provenance() {
    let img = fixture("ntfs-shells.img");
    let img = img.to_str().unwrap();
    let rows = timeline(&[img]);
    let found = of(&rows, "finding");
    assert!(found.len() > 20, "{}", found.len());
    // Every finding of the scan that points to a time is on the timeline, at that time, with
    // the same provenance; diagnostics, coverage and install findings have no time of theirs.
    let (_, out, _) = run(&["scan", img, "--format", "jsonl", "-q"]);
    let scan = common::jsonl(&out);
    let key = |kind: &serde_json::Value, path: &serde_json::Value, entry: &serde_json::Value| {
        format!("{kind}|{path}|{entry}")
    };
    let on_timeline: BTreeSet<String> = found
        .iter()
        .map(|r| key(&r["kind"], &r["path"], &r["mft_entry"]))
        .collect();
    let mut timed = 0;
    for f in &scan {
        let kind = f["kind"].as_str().unwrap();
        if ["diagnostic", "log_coverage", "exchange_install"].contains(&kind) {
            continue;
        }
        let l = &f["location"];
        let k = key(&f["kind"], &l["path"], &l["mft_entry"]);
        // A zip member's finding carries no time of its own (the member's DOS time is local
        // and set by the archiver; the archive's file times are the archive's finding's).
        let d = &f["detail"];
        let has_time = ["time", "first_seen", "last_seen"]
            .iter()
            .any(|k| d[*k].is_string())
            || f["file"]["fn"].is_object()
            || f["file"]["si"].is_object();
        if !has_time {
            assert!(l["path"].as_str().unwrap().contains("!/"), "{f}");
            assert!(!on_timeline.contains(&k), "{k}");
            continue;
        }
        assert!(on_timeline.contains(&k), "finding not on the timeline: {k}");
        timed += 1;
        // A file finding sits at the file's $FN creation time, as the MFT rows say.
        if let Some(created) = f["file"]["fn"]["created"].as_str() {
            assert!(
                found.iter().any(|r| r["time"] == created
                    && r["path"] == l["path"]
                    && r["kind"] == kind
                    && r["desc"].as_str().unwrap().contains("($FN)")),
                "{k} not at its $FN creation {created}"
            );
        }
        // A log trace sits at its entry's time, with its line.
        if let Some(t) = f["detail"]["time"].as_str() {
            let t = deadbox::ntfs::FileTime::parse_rfc3339(t)
                .unwrap()
                .to_string();
            assert!(
                found.iter().any(|r| r["time"] == t.as_str()
                    && r["line"] == l["line"]
                    && r["path"] == l["path"]),
                "{k} not at its log time {t}"
            );
        }
    }
    assert!(timed > 10, "{timed}");
    for r in &found {
        assert!(
            r["severity"].is_string() && r["evidence"] == img && r["volume_offset"] == 1_048_576
        );
    }
}

#[test]
fn every_log_entry_with_its_line_when_asked() {
    let img = fixture("ntfs-shells.img");
    let img = img.to_str().unwrap();
    assert!(of(&timeline(&[img, "--no-scan"]), "log").is_empty());
    let rows = timeline(&[img, "--no-scan", "--all-log-entries"]);
    let logs = of(&rows, "log");
    let paths: BTreeSet<&str> = logs.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(paths.len() >= 3, "{paths:?}");
    for p in paths {
        // The log as the image holds it: every data line (not a #-header, not empty) is one
        // event, carrying its line number and its text.
        let (code, text, err) = run(&["cat", img, p]);
        assert_eq!(code, 0, "{err}");
        let text = String::from_utf8_lossy(&text).into_owned();
        let data: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let events: Vec<_> = logs.iter().filter(|r| r["path"] == p).collect();
        assert_eq!(events.len(), data.len(), "{p}");
        for (n, line) in data {
            let e = events
                .iter()
                .find(|r| r["line"] == n as u64 + 1)
                .unwrap_or_else(|| panic!("{p}: line {} missing", n + 1));
            assert_eq!(e["message"], line.trim_end_matches('\r'), "{p}");
            assert!(e["desc"].as_str().unwrap().starts_with("Log entry ("));
        }
    }
}

#[test]
fn usn_records_and_index_slack_are_events() {
    let usn = common::unpacked(&fixture("ntfs-usn.img.gz"));
    let usn = usn.to_str().unwrap();
    let rows = timeline(&[usn, "--no-scan"]);
    let events = of(&rows, "usn");
    let (_, out, _) = run(&["usn", usn, "--format", "jsonl"]);
    let journal: Vec<_> = common::jsonl(&out)
        .into_iter()
        .filter(|r| r["timestamp"].is_string())
        .collect();
    assert!(!journal.is_empty());
    assert_eq!(events.len(), journal.len());
    for j in &journal {
        let usn = j["usn"].as_i64().unwrap();
        assert!(
            events.iter().any(|e| e["time"] == j["timestamp"]
                && e["path"] == j["path"]
                && e["mft_entry"] == j["file_entry"]
                && e["message"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("(usn {usn})"))),
            "{j}"
        );
    }
    assert!(of(&timeline(&[usn, "--no-scan", "--no-usn"]), "usn").is_empty());

    let slack = common::unpacked(&fixture("ntfs-slack.img.gz"));
    let slack = slack.to_str().unwrap();
    let (_, out, _) = run(&["ls", slack, "--index-slack", "--format", "jsonl"]);
    let carved: BTreeSet<String> = common::jsonl(&out)
        .into_iter()
        .filter(|r| r["source"] == "i30_slack")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert!(!carved.is_empty());
    let rows = timeline(&[slack, "--no-scan", "--index-slack"]);
    let ev = of(&rows, "i30_slack");
    let on: BTreeSet<String> = ev
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(on, carved);
    assert!(ev.iter().all(|r| r["deleted"] == true));
    assert!(of(&timeline(&[slack, "--no-scan"]), "i30_slack").is_empty());
}

#[test]
fn shadow_copies_are_created_on_the_timeline() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = scratch().join("vss");
    std::fs::create_dir_all(&dir).unwrap();
    let ok = Command::new("tar")
        .arg("xzf")
        .arg(corpus.join("vss").join("vss_1_vol.tar.gz"))
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(ok.success());
    let img = dir.join("vss_1_vol.raw");
    let img = img.to_str().unwrap();
    let (_, out, _) = run(&["info", img, "--format", "jsonl"]);
    let info = &common::jsonl(&out)[0];
    let created: Vec<String> = info["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["snapshots"].as_array().cloned().unwrap_or_default())
        .map(|s| s["created"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(created.len(), 2, "{info}");
    let rows = timeline(&[img, "--no-scan"]);
    let snaps = of(&rows, "snapshot");
    let times: Vec<&str> = snaps.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert_eq!(times, created);
    assert_eq!(snaps[0]["snapshot"], 1);
    assert_eq!(snaps[1]["snapshot"], 2);
    assert_eq!(snaps[0]["partition"], 2);
}

#[test]
fn around_keeps_the_window_of_the_first_finding_or_a_path() {
    let img = fixture("ntfs-shells.img");
    let img = img.to_str().unwrap();
    let all = timeline(&[img]);
    // The first finding: its earliest log entry (the fixture's logs hold the intrusion;
    // the $SI times of a timestomped shell and the install-time $FN creation of the file
    // that carries an ADS shell do not count while a log time exists).
    let centre = of(&all, "finding")
        .iter()
        .filter(|r| {
            ["medium", "high", "critical"].contains(&r["severity"].as_str().unwrap())
                && r["desc"].as_str().unwrap().contains("log entry")
        })
        .map(|r| r["time"].as_str().unwrap().to_string())
        .min()
        .unwrap();
    assert_eq!(centre, "2021-03-03T02:41:55.0000000Z");
    let c = deadbox::ntfs::FileTime::parse_rfc3339(&centre)
        .unwrap()
        .ticks();
    let hour = 3600 * 10_000_000;
    let win = timeline(&[img, "--around", "first", "--window", "2h"]);
    assert!(!win.is_empty() && win.len() < all.len());
    for r in &win {
        let t = deadbox::ntfs::FileTime::parse_rfc3339(r["time"].as_str().unwrap())
            .unwrap()
            .ticks();
        assert!(t + hour >= c && t <= c + hour, "{r}");
    }
    let inside = |r: &&serde_json::Value| {
        let t = deadbox::ntfs::FileTime::parse_rfc3339(r["time"].as_str().unwrap())
            .unwrap()
            .ticks();
        t + hour >= c && t <= c + hour
    };
    assert_eq!(win.len(), all.iter().filter(inside).count());
    // Around a path: centred on its $FN creation.
    let p = "/inetpub/wwwroot/aspnet_client/discover.aspx";
    let fn_created = all
        .iter()
        .find(|r| r["path"] == p && r["source"] == "mft_fn")
        .map(|r| r["time"].as_str().unwrap().to_string())
        .unwrap();
    let near = timeline(&[img, "--around", p, "--window", "2s", "--no-scan"]);
    assert!(near
        .iter()
        .any(|r| r["path"] == p && r["time"] == fn_created.as_str()));
    for bad in [
        ["--around", "first", "--window", "soon"],
        ["--around", "/no/such", "--window", "1h"],
    ] {
        let mut a = vec!["timeline", img];
        a.extend_from_slice(&bad);
        let (code, _, err) = run(&a);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
}

/// The Python that has the `timesketch-import-client` package: `DEADBOX_TIMESKETCH_PYTHON`,
/// else the venv `.ci/run` makes, else `python3`.
fn timesketch_python() -> Option<String> {
    let candidates = [
        std::env::var("DEADBOX_TIMESKETCH_PYTHON").ok(),
        Some("/var/tmp/deadbox-ts-venv/bin/python".to_string()),
        Some("python3".to_string()),
    ];
    for py in candidates.into_iter().flatten() {
        let ok = Command::new(&py)
            .args(["-c", "import timesketch_import_client.importer"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(py);
        }
    }
    // .ci/run sets this when the package could not be installed (no package registry).
    if let Ok(why) = std::env::var("DEADBOX_NO_TIMESKETCH_CLIENT") {
        eprintln!(
            "NOTICE: timesketch-import-client not installable ({why}): importer check skipped"
        );
        return None;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "timesketch-import-client is missing under CI"
    );
    eprintln!("NOTICE: timesketch-import-client not installed: importer check skipped");
    None
}

#[test]
fn the_timesketch_importer_accepts_every_line() {
    let Some(py) = timesketch_python() else {
        return;
    };
    let img = fixture("ntfs-shells.img");
    let (code, out, err) = run(&[
        "timeline",
        img.to_str().unwrap(),
        "-q",
        "--all-log-entries",
        "--format",
        "timesketch",
    ]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    for s in ["mft_si", "mft_fn", "finding", "log"] {
        assert!(rows.iter().any(|r| r["source"] == s), "no {s} line");
    }
    let p = scratch().join("sketch.jsonl");
    std::fs::write(&p, &out).unwrap();
    let script = common::root().join("tests/support/timesketch_check.py");
    let o = Command::new(py).arg(script).arg(&p).output().unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(said.trim(), format!("ok {}", rows.len()));
}

#[test]
fn spilled_runs_write_the_same_bytes_as_the_in_memory_sort() {
    use deadbox::timeline::{self, Options, Sources, SpillOptions, TimelineFormat};
    let img = fixture("ntfs-shells.img");
    let image = deadbox::Image::open(&img, deadbox::volume::VolumeSelect::default()).unwrap();
    let mut findings = Vec::new();
    deadbox::scan::Scan::builder()
        .build()
        .unwrap()
        .run_image(&image, &mut findings)
        .unwrap();
    let opts = Options {
        sources: Sources {
            index_slack: true,
            log_entries: true,
            ..Sources::default()
        },
        ..Options::default()
    };
    let dir = tempfile::tempdir().unwrap();
    for format in [
        TimelineFormat::Jsonl,
        TimelineFormat::Csv,
        TimelineFormat::Timesketch,
    ] {
        let mut memory = Vec::new();
        timeline::print_image_timeline(&image, format, &opts, &findings, &mut memory, &mut |_| {})
            .unwrap();
        // 4 KiB runs: dozens of run files merged.
        let spill = SpillOptions {
            dir: dir.path().to_path_buf(),
            run_bytes: 4096,
        };
        let mut spilled = Vec::new();
        timeline::write_spilled(
            &image,
            &opts,
            &findings,
            format,
            &spill,
            &mut spilled,
            &mut |_| {},
        )
        .unwrap();
        assert!(
            memory.len() > 20 * 4096,
            "{format:?}: {} bytes: 20+ runs",
            memory.len()
        );
        assert!(
            memory == spilled,
            "{format:?}: the spilled sort differs from the in-memory one"
        );
        // The run files were unnamed: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    // The CLI's flags take the same path.
    let (code, a, err) = run(&["timeline", img.to_str().unwrap(), "-q"]);
    assert_eq!(code, 0, "{err}");
    let d = dir.path().to_str().unwrap();
    let (code, b, err) = run(&["timeline", img.to_str().unwrap(), "-q", "--spill-dir", d]);
    assert_eq!(code, 0, "{err}");
    assert!(a == b && !a.is_empty());
    let (code, _, err) = run(&[
        "timeline",
        img.to_str().unwrap(),
        "--spill-dir",
        "/no/such/dir",
    ]);
    assert_eq!(code, 2, "an unusable spill folder is an error: {err}");
}
