//! Scale: the memory of `ls`, `hash` and `scan --all-files` grows at most by a small, fixed
//! amount per MFT record, on a generated volume of 300,000 records (tests/support/
//! synth_volume.rs: a Windows-like tree of a few hundred directories, resident files, 1 %
//! deleted, a few hard links, parents spread over the MFT).
//!
//! The bound: peak anonymous memory ≤ 256 bytes × records + 64 MiB. Anonymous memory (`RssAnon`
//! sampled from /proc every 2 ms, as tests/resources.rs does) is what deadbox allocates; the
//! peak resident set (from `wait4`) also counts the pages of the memory-mapped image that were
//! read, so it is printed but not bounded here. A walk that keeps every record in memory
//! (about 4 KB each) needs more than a gigabyte on this volume and fails.
//!
//! So that a broken walk cannot pass by listing nothing, the output of the measured `ls` (written
//! to a file; `hash` and `scan` write to /dev/null) is checked row by row against the
//! generator's plan: one row per directory and per name of a file, each exactly once, with the
//! right path, entry, sequence, size, `is_dir` and `deleted` flag; the system files' rows
//! (entries below 64) must be those `ls` gives on a fresh mkntfs volume of the same size. The
//! figures are printed (`--nocapture`).
//!
//! The walk that kept every record in memory (release build, this volume): `ls` 1.05 GiB of
//! anonymous memory (3,764 bytes per record), `hash` 0.94 GiB, `scan --all-files` 0.87 GiB,
//! against a limit of 137 MiB.

mod common;
#[path = "support/peak.rs"]
mod peak;
#[path = "support/synth_volume.rs"]
mod synth_volume;

use peak::peak_rss;
use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;
use synth_volume::{Synth, FIRST, SEQUENCE};

/// MFT records of the generated volume.
const RECORDS: u64 = 300_000;
/// Anonymous memory allowed per MFT record, and on top of that.
const BYTES_PER_RECORD: i64 = 256;
const FIXED_KIB: i64 = 64 << 10;

/// `deadbox ls IMG --format jsonl` into a file of the scratch folder.
fn ls_to_file(img: &Path, out: &Path) {
    let status = Command::new(common::exe())
        .args(["ls", img.to_str().unwrap(), "--format", "jsonl"])
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success(), "ls {}: {status}", img.display());
}

/// Calls `each` for every JSON line of `out` (then removes the file).
fn rows_of(out: &Path, mut each: impl FnMut(serde_json::Value)) {
    let r = std::io::BufReader::new(std::fs::File::open(out).unwrap());
    for line in r.lines() {
        let line = line.unwrap();
        if line.trim().is_empty() {
            continue;
        }
        each(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}")));
    }
    let _ = std::fs::remove_file(out);
}

/// The identity of a system file's row (the size of `$MFT` differs, so it is left out).
fn sys_key(row: &serde_json::Value) -> (u64, String, String, bool, bool) {
    (
        row["mft_entry"].as_u64().unwrap(),
        row["path"].as_str().unwrap_or("").to_string(),
        row["stream"].as_str().unwrap_or("").to_string(),
        row["deleted"].as_bool().unwrap_or(false),
        row["is_dir"].as_bool().unwrap_or(false),
    )
}

/// Checks the `ls` rows of the generated volume (in `listing`) against its plan; problems go
/// to `failures`.
fn check_listing(v: &Synth, listing: &Path, failures: &mut Vec<String>) {
    let plain = synth_volume::plain_volume(&common::scratch().join("plain.img"), v.records)
        .expect("mkntfs was found a moment ago");
    let plain_ls = common::scratch().join("plain-ls.jsonl");
    ls_to_file(&plain, &plain_ls);
    let mut base: BTreeSet<(u64, String, String, bool, bool)> = BTreeSet::new();
    let mut base_rows = 0u64;
    rows_of(&plain_ls, |row| {
        base_rows += 1;
        base.insert(sys_key(&row));
    });
    let _ = std::fs::remove_file(&plain);

    let mut bad: Vec<String> = Vec::new();
    let mut seen = vec![0u8; v.entries.len()];
    let mut sys: BTreeSet<(u64, String, String, bool, bool)> = BTreeSet::new();
    let (mut rows, mut sys_rows) = (0u64, 0u64);
    let (mut deleted_rows, mut link_rows) = (0u64, 0u64);
    rows_of(listing, |row| {
        rows += 1;
        let entry = row["mft_entry"].as_u64().unwrap_or(u64::MAX);
        if entry < FIRST {
            sys_rows += 1;
            sys.insert(sys_key(&row));
            return;
        }
        let Some(p) = v.entry(entry) else {
            bad.push(format!("row for an entry that was not generated: {row}"));
            return;
        };
        let path = row["path"].as_str().unwrap_or("");
        let paths = v.paths(entry);
        let Some(i) = paths.iter().position(|x| x == path) else {
            bad.push(format!(
                "entry {entry}: path {path:?}, expected one of {paths:?}"
            ));
            return;
        };
        if seen[(entry - FIRST) as usize] & (1 << i) != 0 {
            bad.push(format!("entry {entry}: {path:?} listed twice"));
        }
        seen[(entry - FIRST) as usize] |= 1 << i;
        let mut want = vec![
            ("mft_sequence", serde_json::json!(SEQUENCE)),
            ("deleted", serde_json::json!(p.deleted)),
            ("is_dir", serde_json::json!(p.is_dir)),
            ("stream", serde_json::Value::Null),
        ];
        if !p.is_dir {
            want.push(("size", serde_json::json!(p.size)));
        }
        for (k, w) in want {
            if row[k] != w {
                bad.push(format!(
                    "entry {entry} {path:?}: {k} is {}, expected {w}",
                    row[k]
                ));
            }
        }
        deleted_rows += p.deleted as u64;
        link_rows += (p.names.len() > 1) as u64;
    });
    let expected = v.expected_rows();
    eprintln!(
        "ls: {rows} rows ({sys_rows} system, {} generated of which {deleted_rows} deleted and \
         {link_rows} names of hard-linked files); expected {} + {expected}",
        rows - sys_rows,
        base_rows,
    );
    if rows != base_rows + expected {
        bad.push(format!(
            "ls printed {rows} rows, expected {} ({base_rows} system rows + {expected} generated)",
            base_rows + expected
        ));
    }
    let missing: Vec<String> = v
        .entries
        .iter()
        .zip(&seen)
        .enumerate()
        .filter(|(_, (p, s))| **s as usize != (1 << p.names.len()) - 1)
        .map(|(i, _)| {
            let e = FIRST + i as u64;
            format!("entry {e} {:?}", v.paths(e))
        })
        .collect();
    if !missing.is_empty() {
        bad.push(format!(
            "{} generated entries or names not listed, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        ));
    }
    if sys != base {
        let extra: Vec<_> = sys.difference(&base).take(5).collect();
        let gone: Vec<_> = base.difference(&sys).take(5).collect();
        bad.push(format!(
            "system rows differ from a fresh volume's: extra {extra:?}, missing {gone:?}"
        ));
    }
    if bad.len() > 12 {
        let n = bad.len();
        bad.truncate(12);
        bad.push(format!("... {} more listing problems", n - 12));
    }
    failures.extend(bad);
}

#[test]
fn peak_memory_per_mft_record_is_bounded() {
    let t = Instant::now();
    let Some(v) = synth_volume::synth_volume(RECORDS) else {
        return;
    };
    eprintln!(
        "generated {} MFT records ({} directories, {} deleted files, {} hard-linked files) in {:.1?}",
        v.records,
        v.dirs(),
        v.deleted(),
        v.hard_links(),
        t.elapsed()
    );
    // The plan's own samples: a deleted file, a hard link, a file listed after its directory.
    for e in [
        v.entries.iter().position(|p| p.deleted),
        v.entries.iter().position(|p| p.names.len() > 1),
        v.entries
            .iter()
            .enumerate()
            .position(|(i, p)| !p.is_dir && p.names[0].0 > FIRST + i as u64),
    ]
    .into_iter()
    .flatten()
    {
        let e = FIRST + e as u64;
        eprintln!(
            "sample entry {e}: {:?} {:?}",
            v.paths(e),
            v.entry(e).unwrap()
        );
    }

    let img = v.path.to_str().unwrap();
    let limit_kib = BYTES_PER_RECORD * v.records as i64 / 1024 + FIXED_KIB;
    let mut failures = Vec::new();
    // The rows of the measured `ls` go to a file, read afterwards (writing a file costs the
    // child no memory; the others write to /dev/null).
    let listing = common::scratch().join("synth-ls.jsonl");
    let runs: [(&str, Vec<&str>, &[i32]); 3] = [
        ("ls", vec!["ls", img, "--format", "jsonl"], &[0]),
        ("hash", vec!["hash", img, "--format", "jsonl"], &[0]),
        (
            "scan --all-files",
            vec!["scan", img, "--all-files", "--format", "jsonl"],
            &[0, 1],
        ),
    ];
    for (what, args, codes) in runs {
        let t = Instant::now();
        let stdout = if what == "ls" {
            Stdio::from(std::fs::File::create(&listing).unwrap())
        } else {
            Stdio::null()
        };
        let (code, p) = peak_rss(&args, stdout);
        eprintln!(
            "{what}: {} records, exit {code}, {:.1?}: peak anon {} KiB, peak RSS {} KiB, \
             {:.0} bytes of anonymous memory per record (limit {limit_kib} KiB = {BYTES_PER_RECORD} \
             bytes per record + {} MiB)",
            v.records,
            t.elapsed(),
            p.anon,
            p.rss,
            p.anon as f64 * 1024.0 / v.records as f64,
            FIXED_KIB >> 10
        );
        if !codes.contains(&code) {
            failures.push(format!(
                "{what}: exit code {code}, expected one of {codes:?}"
            ));
        }
        if p.anon <= 0 {
            failures.push(format!("{what}: no RssAnon sample ({p:?})"));
        }
        if p.anon > limit_kib {
            failures.push(format!(
                "{what}: peak anonymous memory {} KiB > {limit_kib} KiB ({:.0} bytes per record)",
                p.anon,
                p.anon as f64 * 1024.0 / v.records as f64
            ));
        }
    }
    check_listing(&v, &listing, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
