//! The library as a tool author links it: scanning what the caller already opened (an `Image`,
//! bytes), a precompiled shared rule set, findings pulled as an iterator, sink errors as
//! values, and the printers (CSV formula defusing).

mod common;

use deadbox::finding::{Finding, FindingKind, Severity};
use deadbox::output::{self, FindingPrinter, Format};
use deadbox::scan::{FindingSink, Scan, SinkError, SinkResult};
use deadbox::volume::VolumeSelect;
use deadbox::{Image, OpenOptions};
use std::sync::Arc;

fn shells() -> std::path::PathBuf {
    common::fixture("ntfs-shells.img")
}

/// Findings as JSON text (what the contract compares), in delivery order.
fn texts(v: &[Finding]) -> Vec<String> {
    v.iter()
        .map(|f| serde_json::to_string(f).unwrap())
        .collect()
}

#[test]
fn an_image_opened_once_scans_like_its_path() {
    let scan = Scan::builder().build().unwrap();
    for name in ["ntfs-shells.img", "disk-mbr.img", "disk-gpt4k.img"] {
        let path = common::fixture(name);
        let mut by_path = Vec::new();
        let s1 = scan.run_path(&path, &mut by_path).unwrap();
        let image = Image::open(&path, VolumeSelect::default()).unwrap();
        let mut by_image = Vec::new();
        let s2 = scan.run_image(&image, &mut by_image).unwrap();
        assert_eq!(s1, s2, "{name}: summaries differ");
        assert_eq!(texts(&by_path), texts(&by_image), "{name}: findings differ");
        if name == "ntfs-shells.img" {
            assert!(
                by_image.iter().any(|f| f.kind == FindingKind::WebShell),
                "the shells fixture has web shells"
            );
        }
        // The same image scanned again: nothing in the image is consumed by a scan.
        let mut again = Vec::new();
        scan.run_image(&image, &mut again).unwrap();
        assert_eq!(texts(&by_image), texts(&again));
    }
}

/// An image opened with the scan's memory budget draws its namespace from it: with room, the
/// same findings as the path; with 4 KiB, the namespace is charged past the budget and the
/// scan says so (and still runs).
#[test]
fn an_image_opened_with_the_scan_budget_shares_it() {
    let path = shells();
    let open = |scan: &Scan| {
        Image::open_with(
            &path,
            &OpenOptions {
                budget: Some(scan.budget().clone()),
                ..OpenOptions::default()
            },
        )
        .unwrap()
    };
    let scan = Scan::builder().max_memory(1 << 30).build().unwrap();
    let mut by_path = Vec::new();
    scan.run_path(&path, &mut by_path).unwrap();
    let image = open(&scan);
    let mut by_image = Vec::new();
    scan.run_image(&image, &mut by_image).unwrap();
    assert_eq!(texts(&by_path), texts(&by_image));
    assert!(scan.budget().available() < 1 << 30, "the namespace is held");
    drop(image);
    assert_eq!(scan.budget().available(), 1 << 30);

    let tiny = Scan::builder().max_memory(4 << 10).build().unwrap();
    let image = open(&tiny);
    let mut cut = Vec::new();
    tiny.run_image(&image, &mut cut).unwrap();
    assert!(
        cut.iter().any(|f| f.kind == FindingKind::Diagnostic
            && f.title.contains("the namespace of this volume")),
        "{:#?}",
        texts(&cut)
    );
}

#[test]
fn bytes_the_caller_holds_scan_like_the_file() {
    let file = common::fixture("shells/src/chopper_system_web.aspx");
    let data = std::fs::read(&file).unwrap();
    let scan = Scan::builder().build().unwrap();
    let mut from_file = Vec::new();
    scan.run_path(&file, &mut from_file).unwrap();
    let mut from_bytes = Vec::new();
    let name = "memory/chopper_system_web.aspx";
    let s = scan.run_bytes(name, &data, &mut from_bytes).unwrap();
    assert_eq!(s.streams, 1);
    assert_eq!(s.bytes, data.len() as u64);
    let rules = |v: &[Finding]| -> Vec<String> {
        v.iter()
            .filter_map(|f| f.rule.as_ref().map(|r| r.name.clone()))
            .collect()
    };
    assert!(
        !rules(&from_bytes).is_empty(),
        "a China Chopper page matches"
    );
    assert_eq!(rules(&from_file), rules(&from_bytes));
    for f in &from_bytes {
        assert_eq!(f.location.evidence, name);
        assert_eq!(f.location.path, name);
        assert_eq!(f.location.mft_entry, None);
        let facts = f.file.as_ref().unwrap();
        assert_eq!(
            facts.sha256.as_deref(),
            Some(common::sha256(&data).as_str())
        );
    }
}

#[test]
fn findings_pulled_as_an_iterator_equal_the_pushed_ones() {
    let scan = Arc::new(Scan::builder().build().unwrap());
    let mut pushed = Vec::new();
    let expected = scan.run_path(&shells(), &mut pushed).unwrap();
    let mut pulled = scan.findings(shells());
    let all: Vec<Finding> = pulled.by_ref().collect();
    assert_eq!(texts(&pushed), texts(&all));
    assert_eq!(pulled.finish().unwrap(), expected);

    // Filtered by severity, as a caller would.
    let high: Vec<Finding> = scan
        .findings(shells())
        .filter(|f| f.severity >= Severity::High)
        .collect();
    assert!(!high.is_empty());
    assert!(high.iter().all(|f| f.severity >= Severity::High));

    // Taking a few and finishing stops the scan early (one finding may wait in the channel:
    // the scan is blocked sending the next one): the summary says so.
    let mut few = scan.findings_bounded(shells(), 1);
    assert_eq!(few.by_ref().take(2).count(), 2);
    let s = few.finish().unwrap();
    assert!(s.stopped, "a dropped iterator stops the scan");
    assert!(s.findings < expected.findings, "{s:?}");

    // An unreadable target is an error from finish, not a panic.
    let missing = scan.findings(common::scratch().join("no-such-image.raw"));
    let mut missing = missing;
    assert!(missing.next().is_none());
    assert!(matches!(missing.finish(), Err(deadbox::Error::Io { .. })));
}

#[test]
fn a_shared_precompiled_rule_set_serves_several_scans() {
    let mut c = yara_x::Compiler::new();
    for x in deadbox::scan::EXTERNALS {
        c.define_global(x, "").unwrap();
    }
    c.add_source(
        r#"rule caller_rule { strings: $a = "Request.Item" condition: $a and filename matches /\.aspx$/ }"#,
    )
    .unwrap();
    let rules = Arc::new(c.build());
    let scan = |threads| {
        Scan::builder()
            .yara_rules(Arc::clone(&rules))
            .threads(threads)
            .build()
            .unwrap()
    };
    let (a, b) = (scan(4), scan(1));
    let run = |s: &Scan| {
        let mut v = Vec::new();
        s.run_path(&shells(), &mut v).unwrap();
        v
    };
    let (fa, fb) = std::thread::scope(|t| {
        let ha = t.spawn(|| run(&a));
        let hb = t.spawn(|| run(&b));
        (ha.join().unwrap(), hb.join().unwrap())
    });
    assert_eq!(
        texts(&fa),
        texts(&fb),
        "4 threads and 1 give the same findings"
    );
    let hits: Vec<&Finding> = fa
        .iter()
        .filter(|f| f.rule.as_ref().is_some_and(|r| r.name == "caller_rule"))
        .collect();
    assert!(!hits.is_empty(), "the caller's rule matched");
    assert!(hits.iter().all(|f| f.location.path.ends_with(".aspx")));
    // The built-in pack is not compiled in beside the caller's rules.
    assert!(fa
        .iter()
        .filter_map(|f| f.rule.as_ref())
        .all(|r| r.name == "caller_rule"));
    // Rule files cannot be added to a precompiled set.
    let mixed = Scan::builder()
        .yara_rules(Arc::clone(&rules))
        .rules(common::root().join("rules"))
        .build();
    assert!(matches!(mixed, Err(deadbox::Error::Invalid(_))));
}

/// A sink that fails or stops after `n` findings.
struct Failing {
    n: usize,
    seen: usize,
    stop: bool,
}

impl FindingSink for Failing {
    fn finding(&mut self, _: Finding) -> SinkResult {
        self.seen += 1;
        if self.seen < self.n {
            Ok(())
        } else if self.stop {
            Err(SinkError::Stop)
        } else {
            Err(SinkError::Io(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "reader went away",
            )))
        }
    }
}

#[test]
fn sink_errors_end_the_scan_as_values() {
    let scan = Scan::builder().build().unwrap();
    let mut failing = Failing {
        n: 3,
        seen: 0,
        stop: false,
    };
    match scan.run_path(&shells(), &mut failing) {
        Err(deadbox::Error::Output(e)) => assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe),
        other => panic!("expected an output error, got {other:?}"),
    }
    assert_eq!(failing.seen, 3, "no finding is offered after the error");
    let mut stopping = Failing {
        n: 3,
        seen: 0,
        stop: true,
    };
    let s = scan.run_path(&shells(), &mut stopping).unwrap();
    assert!(s.stopped);
    assert_eq!(stopping.seen, 3);
    assert_eq!(s.findings, 3);
}

/// A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@`: names in an image are
/// chosen by the attacker, so the CSV printers write such cells with a leading `'`.
#[test]
fn csv_cells_that_a_spreadsheet_would_run_are_defused() {
    let evil = "=cmd|' /C calc'!A0.aspx";
    let data = std::fs::read(common::fixture("shells/src/chopper_system_web.aspx")).unwrap();
    let scan = Scan::builder().build().unwrap();
    let mut printer = FindingPrinter::new(Vec::new(), Format::Csv);
    scan.run_bytes(evil, &data, &mut printer).unwrap();
    let text = String::from_utf8(printer.into_inner()).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let path_col = header.iter().position(|h| h == "path").unwrap();
    let evidence_col = header.iter().position(|h| h == "evidence").unwrap();
    let mut n = 0;
    for r in rows.records() {
        let r = r.unwrap();
        assert_eq!(&r[path_col], format!("'{evil}"));
        assert_eq!(&r[evidence_col], format!("'{evil}"));
        assert!(r.iter().all(|c| !c.starts_with(['=', '+', '-', '@'])));
        n += 1;
    }
    assert!(n > 0, "the page has findings: {text}");

    // The `ls` rows: the same rule.
    let row = deadbox::rows::FileRow {
        partition: Some(1),
        path: format!("/inetpub/wwwroot/{evil}"),
        stream: Some("+SUM(1)".into()),
        mft_entry: 42,
        mft_sequence: 1,
        deleted: false,
        is_dir: false,
        size: 5,
        allocated: 8,
        initialized: 5,
        storage: vec![],
        attributes: None,
        si: None,
        fn_: None,
        error: Some("@error".into()),
        source: deadbox::rows::Source::Mft,
        snapshot: None,
        owner: Some("=S-1-5-18".into()),
        owner_name: None,
    };
    let chunk = output::format_rows(Format::Csv, &[row]).unwrap();
    let mut w = output::RowWriter::new::<deadbox::rows::FileRow>(Vec::new(), Format::Csv);
    w.begin_volume().unwrap();
    w.chunk(&chunk).unwrap();
    w.end_volume().unwrap();
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    let r = rows.records().next().unwrap().unwrap();
    let col = |name: &str| &r[header.iter().position(|h| h == name).unwrap()];
    assert_eq!(
        col("path"),
        format!("/inetpub/wwwroot/{evil}"),
        "a path starts with /"
    );
    assert_eq!(col("stream"), "'+SUM(1)");
    assert_eq!(col("error"), "'@error");
    assert_eq!(col("owner"), "'=S-1-5-18");
}
