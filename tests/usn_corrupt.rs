//! Hostile change journals: garbage between records, lengths too large or too small, records cut
//! short, bit flips, long runs of garbage or zeros, thousands of damaged areas, and a volume
//! whose `$J` clusters are overwritten. Every case must finish quickly without a panic, return
//! every record the damage did not touch, and report each damaged area once (typed
//! diagnostics, capped); the CLI runs under an address-space limit.

mod common;
#[path = "support/mft_edit.rs"]
mod mft_edit;
#[path = "support/rng.rs"]
mod rng;

use deadbox::ntfs::usn::{UsnReader, UsnRecord, MAX_DIAGNOSTICS};
use deadbox::ntfs::DiagnosticKind;
use rng::Rng;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A `USN_RECORD_V2` (or V3 when `v3`) for `name`, at stream offset `usn`.
fn record(name: &str, usn: u64, v3: bool) -> Vec<u8> {
    let n: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let off = if v3 { 76 } else { 60 };
    let len = (off + n.len()).next_multiple_of(8);
    let mut b = vec![0u8; len];
    b[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    b[4..6].copy_from_slice(&(if v3 { 3u16 } else { 2 }).to_le_bytes());
    let (file, parent) = (0x1234u64 | 3 << 48, 5u64 | 5 << 48);
    let t = if v3 { 40 } else { 24 };
    if v3 {
        b[8..16].copy_from_slice(&file.to_le_bytes());
        b[24..32].copy_from_slice(&parent.to_le_bytes());
    } else {
        b[8..16].copy_from_slice(&file.to_le_bytes());
        b[16..24].copy_from_slice(&parent.to_le_bytes());
    }
    b[t..t + 8].copy_from_slice(&usn.to_le_bytes());
    b[t + 8..t + 16].copy_from_slice(&132_592_464_000_000_000u64.to_le_bytes());
    b[t + 16..t + 20].copy_from_slice(&0x8000_0100u32.to_le_bytes());
    b[t + 28..t + 32].copy_from_slice(&0x20u32.to_le_bytes());
    b[t + 32..t + 34].copy_from_slice(&(n.len() as u16).to_le_bytes());
    b[t + 34..t + 36].copy_from_slice(&(off as u16).to_le_bytes());
    b[off..off + n.len()].copy_from_slice(&n);
    b
}

/// A clean journal of `n` records (v2 and v3 mixed), laid out as Windows does (no record across
/// a 4 KiB page); with the offset and name of each record.
fn journal(n: usize) -> (Vec<u8>, Vec<(u64, String)>) {
    let mut b = Vec::new();
    let mut recs = Vec::new();
    for i in 0..n {
        let name = format!("file_{i:05}.aspx");
        let len = record(&name, 0, i % 3 == 0).len();
        if b.len() / 4096 != (b.len() + len - 1) / 4096 {
            b.resize(b.len().next_multiple_of(4096), 0);
        }
        let at = b.len() as u64;
        b.extend(record(&name, at, i % 3 == 0));
        recs.push((at, name));
    }
    (b, recs)
}

/// Reads `b` with a time bound; returns the records and the reader's diagnostics.
fn read(b: &[u8]) -> (Vec<UsnRecord>, Vec<deadbox::ntfs::Diagnostic>) {
    let start = Instant::now();
    let mut r = UsnReader::from_slice(b);
    let recs: Vec<UsnRecord> = r.by_ref().collect();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{} bytes took {:?}",
        b.len(),
        start.elapsed()
    );
    (recs, r.diagnostics().to_vec())
}

fn names(recs: &[UsnRecord]) -> Vec<&str> {
    recs.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn garbage_between_records_is_skipped_once_per_area() {
    let (clean, expected) = journal(200);
    let mut rng = Rng::new(12);
    // Insert garbage (non-zero first word, 8-byte multiples) before 20 records.
    let picks: Vec<usize> = (0..20).map(|i| 5 + i * 9).collect();
    let mut b = Vec::new();
    let mut last = 0usize;
    for &k in &picks {
        let at = expected[k].0 as usize;
        b.extend_from_slice(&clean[last..at]);
        let n = 8 * (1 + rng.index(40));
        let mut g: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        g[0] |= 0x80; // a length no record has
        b.extend(g);
        last = at;
    }
    b.extend_from_slice(&clean[last..]);
    let (recs, diags) = read(&b);
    let want: Vec<&str> = expected.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(names(&recs), want, "every record survives");
    assert_eq!(diags.len(), picks.len(), "{diags:#?}");
    assert!(diags
        .iter()
        .all(|d| d.kind == DiagnosticKind::Corrupt && d.contains("are not USN records")));
}

#[test]
fn huge_tiny_and_odd_lengths_lose_only_their_record() {
    let (clean, expected) = journal(50);
    for (i, bad_len) in [
        u32::MAX,
        0x8000_0000,
        1 << 20,
        (64 << 10) + 8,
        8,
        16,
        1,
        63,
        0x0000_0051,
    ]
    .into_iter()
    .enumerate()
    {
        let victim = 10 + i * 3;
        let mut b = clean.clone();
        let at = expected[victim].0 as usize;
        b[at..at + 4].copy_from_slice(&bad_len.to_le_bytes());
        let (recs, diags) = read(&b);
        let mut want: Vec<&str> = expected.iter().map(|(_, n)| n.as_str()).collect();
        want.remove(victim);
        assert_eq!(names(&recs), want, "length {bad_len:#x}");
        assert_eq!(diags.len(), 1, "length {bad_len:#x}: {diags:?}");
        assert!(
            diags[0].contains(&format!("stream bytes {at}..")),
            "{}",
            diags[0]
        );
    }
}

#[test]
fn zero_length_records_do_not_loop() {
    // Length 0 with other fields set: not padding, not a record; each is skipped, one
    // diagnostic each (the zero words inside them do not split them).
    let (clean, expected) = journal(30);
    let mut b = clean.clone();
    for (at, _) in expected.iter().step_by(2) {
        b[*at as usize..*at as usize + 4].fill(0);
    }
    let (recs, diags) = read(&b);
    assert_eq!(recs.len(), 15);
    assert_eq!(diags.len(), 15);
}

#[test]
fn truncated_journals() {
    let (clean, expected) = journal(40);
    let last = expected.last().unwrap().0 as usize;
    for cut in [last + 8, last + 30, last + 64, clean.len() - 8] {
        let (recs, diags) = read(&clean[..cut]);
        assert_eq!(recs.len(), 39, "cut at {cut}");
        assert_eq!(diags.len(), 1);
        assert!(
            matches!(
                diags[0].kind,
                DiagnosticKind::Truncated | DiagnosticKind::Corrupt
            ),
            "{:?}",
            diags[0]
        );
    }
    // A cut inside the header (fewer than 8 bytes) is damage at the end, reported once.
    let (recs, diags) = read(&clean[..last + 5]);
    assert_eq!((recs.len(), diags.len()), (39, 1));
    // A name whose length runs past the record (record 4 is a v2 record).
    let mut b = clean.clone();
    let at = expected[4].0 as usize;
    b[at + 56..at + 58].copy_from_slice(&400u16.to_le_bytes());
    let (recs, diags) = read(&b);
    assert_eq!((recs.len(), diags.len()), (39, 1));
}

#[test]
fn bit_flips_never_panic_and_stay_bounded() {
    let (clean, _) = journal(300);
    let mut rng = Rng::new(7);
    for round in 0..300 {
        let mut b = clean.clone();
        let n = 1 + rng.index(64);
        rng.flip_bits(&mut b, 0..clean.len(), n);
        let (recs, diags) = read(&b);
        assert!(recs.len() <= 300 + n, "round {round}");
        assert!(diags.len() <= MAX_DIAGNOSTICS + 1);
        for r in &recs {
            assert!(r.record_length as usize <= 64 << 10);
            assert!(r.name.chars().count() <= 255);
        }
    }
}

#[test]
fn long_garbage_and_long_zeros_are_fast() {
    // 32 MiB of 0xFF: one damaged area. 64 MiB of zeros: nothing at all.
    let (recs, diags) = read(&vec![0xFF; 32 << 20]);
    assert_eq!((recs.len(), diags.len()), (0, 1));
    let mut z = vec![0u8; 64 << 20];
    let (tail, expected) = journal(5);
    z.extend(&tail);
    let (recs, diags) = read(&z);
    assert_eq!(recs.len(), expected.len());
    assert!(diags.is_empty());
    assert_eq!(recs[0].offset, 64 << 20);
}

#[test]
fn thousands_of_damaged_areas_are_capped() {
    // 3000 areas: a garbage word then a record, 3000 times.
    let mut b = Vec::new();
    for i in 0..3000 {
        b.extend_from_slice(&[0xEE; 8]);
        let at = b.len() as u64;
        b.extend(record(&format!("r{i}"), at, false));
    }
    let (recs, diags) = read(&b);
    assert_eq!(recs.len(), 3000);
    assert_eq!(diags.len(), MAX_DIAGNOSTICS + 1);
    let last = diags.last().unwrap();
    assert_eq!(last.kind, DiagnosticKind::Limit);
    assert!(last.contains(&format!("{} more damaged areas", 3000 - MAX_DIAGNOSTICS)));
}

#[test]
fn corpus_journal_with_flips_keeps_most_records() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let clean = std::fs::read(corpus.join("mft/usnjrnlj.bin")).unwrap();
    let total = UsnReader::from_slice(&clean).count();
    let mut rng = Rng::new(99);
    for _ in 0..100 {
        let mut b = clean.clone();
        // One damaged byte in a random record costs at most a few records.
        let at = rng.index(b.len());
        b[at] ^= 0x5A;
        let (recs, _) = read(&b);
        assert!(
            recs.len() + 3 >= total && recs.len() <= total + 1,
            "{}",
            recs.len()
        );
    }
}

/// Runs the binary under a 2 GiB address-space limit and a timeout.
fn cli(args: &[&str]) -> (i32, Vec<u8>, String) {
    let dir = common::scratch();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (o, e) = (
        dir.join(format!("cli{k}.out")),
        dir.join(format!("cli{k}.err")),
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152 && exec \"$0\" \"$@\"")
        .arg(common::exe())
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("deadbox {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let err = String::from_utf8_lossy(&std::fs::read(&e).unwrap()).into_owned();
    assert!(status.code().is_some(), "{args:?}: signal; {err}");
    assert!(!err.contains("panicked"), "{err}");
    (status.code().unwrap(), std::fs::read(&o).unwrap(), err)
}

#[test]
fn cli_on_damaged_journals() {
    // A loose $J: 48 MiB of garbage after a valid start, streamed in bounded memory.
    let (mut b, expected) = journal(100);
    let mut rng = Rng::new(3);
    b.extend((0..48 << 20).map(|_| (rng.next() | 0x80) as u8));
    b.extend(journal(10).0);
    let path = common::scratch().join("damaged_J.bin");
    std::fs::write(&path, &b).unwrap();
    let (code, out, err) = cli(&["usn", path.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::jsonl(&out).len(), expected.len() + 10);
    assert_eq!(err.matches("are not USN records").count(), 1, "{err}");

    // The fixture volume with the $J clusters overwritten in the middle.
    let img = common::unpacked(&common::fixture("ntfs-usn.img.gz"));
    let mut bytes = std::fs::read(&img).unwrap();
    let image = deadbox::Image::open(&img, Default::default()).unwrap();
    let v = &image.volumes()[0];
    let cs = v.geometry().cluster_size;
    let j = v.open_stream("/$Extend/$UsnJrnl", Some("$J")).unwrap();
    let run = j.stream().runs().iter().find(|r| r.lcn.is_some()).copied();
    let at = (v.offset() + run.unwrap().lcn.unwrap() * cs) as usize;
    bytes[at + 200..at + 400].fill(0xC3);
    let case = common::scratch().join("usn_damaged.img");
    std::fs::write(&case, &bytes).unwrap();
    let (code, out, err) = cli(&["usn", case.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    assert!(rows.len() >= 17 - 4 && rows.len() < 17, "{}", rows.len());
    assert_eq!(err.matches("are not USN records").count(), 1, "{err}");
    assert!(rows.iter().all(|r| r["path"].as_str().is_some()));
}

#[test]
fn carving_random_free_space_finds_nothing() {
    use std::io::Read;
    let img = common::unpacked(&common::fixture("ntfs-usn.img.gz"));
    let mut bytes = std::fs::read(&img).unwrap();
    let image = deadbox::Image::open(&img, Default::default()).unwrap();
    let v = &image.volumes()[0];
    let cs = v.geometry().cluster_size;
    let mut bitmap = Vec::new();
    v.open_stream("/$Bitmap", None)
        .unwrap()
        .read_to_end(&mut bitmap)
        .unwrap();
    let mut rng = Rng::new(5);
    let mut filled = 0;
    for c in 0..v.geometry().size / cs {
        if bitmap[(c / 8) as usize] >> (c % 8) & 1 == 0 {
            let at = (c * cs) as usize;
            bytes[at..at + cs as usize]
                .iter_mut()
                .for_each(|b| *b = rng.next() as u8);
            filled += 1;
        }
    }
    assert!(filled > 100);
    let case = common::scratch().join("usn_random_free.img");
    std::fs::write(&case, &bytes).unwrap();
    let image = deadbox::Image::open(&case, Default::default()).unwrap();
    let mut carve = image.volumes()[0].usn_carve().unwrap();
    assert_eq!(carve.by_ref().count(), 0);
    assert!(
        carve.diagnostics().is_empty(),
        "garbage is expected in free space"
    );
    let (code, out, err) = cli(&[
        "usn",
        case.to_str().unwrap(),
        "--carve",
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::jsonl(&out).len(), 17);
}

#[test]
fn a_loose_journal_starting_inside_a_record_is_still_one() {
    // An extract cut in the middle of a record (and after a stretch of zeros).
    let (b, expected) = journal(20);
    let mut cut = vec![0u8; 4096];
    cut.extend_from_slice(&b[expected[1].0 as usize + 16..]);
    let path = common::scratch().join("cut_J.bin");
    std::fs::write(&path, &cut).unwrap();
    let (code, out, err) = cli(&["usn", path.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::jsonl(&out).len(), 18);
    assert_eq!(err.matches("are not USN records").count(), 1, "{err}");
}

/// The fixture with the `$J` attribute of `$UsnJrnl`'s record edited by `f` (given the record,
/// fixups undone, and the attribute's offset).
fn patched_j(f: impl FnOnce(&mut [u8], usize)) -> std::path::PathBuf {
    let img = common::unpacked(&common::fixture("ntfs-usn.img.gz"));
    let mut bytes = std::fs::read(&img).unwrap();
    let image = deadbox::Image::open(&img, Default::default()).unwrap();
    let v = &image.volumes()[0];
    let entry = v.open_path("/$Extend/$UsnJrnl").unwrap().entry;
    let off = v.record_offset(entry).unwrap() as usize;
    let rs = v.geometry().record_size as usize;
    mft_edit::edit_record(&mut bytes, off, rs, |rec| {
        let (a, _) = mft_edit::find_attr(rec, 0x80, "$J");
        f(rec, a)
    });
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let case = common::scratch().join(format!("usn_patched_{n}.img"));
    std::fs::write(&case, &bytes).unwrap();
    case
}

#[test]
fn a_journal_claiming_a_petabyte_reads_only_its_clusters() {
    // Allocated, data and initialized sizes of 2^50 bytes: the run list still maps 1 MiB of
    // hole and two clusters; the reader reads those two clusters, not a petabyte of zeros.
    let case = patched_j(|rec, a| {
        for field in [0x28, 0x30, 0x38] {
            mft_edit::wr64(rec, a + field, 1 << 50);
        }
    });
    let image = deadbox::Image::open(&case, Default::default()).unwrap();
    let v = &image.volumes()[0];
    let start = Instant::now();
    let mut j = v.usn_journal().unwrap();
    assert_eq!(j.by_ref().count(), 17);
    assert_eq!(j.bytes_read(), 2 * 4096);
    assert!(start.elapsed() < Duration::from_secs(10));
    let (code, out, err) = cli(&["usn", case.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(common::jsonl(&out).len(), 17);
}

#[test]
fn a_journal_run_outside_the_volume_is_a_diagnostic() {
    // The run list `02 00 01 | 21 02 EC 00 | 00`: the allocated run moved to LCN 0x7FEC
    // (128 MiB into a 4 MiB volume).
    let case = patched_j(|rec, a| {
        let mp = a + mft_edit::rd16(rec, a + 0x20) as usize;
        assert_eq!(
            &rec[mp..mp + 7],
            &[0x02, 0x00, 0x01, 0x21, 0x02, 0xEC, 0x00]
        );
        rec[mp + 6] = 0x7F;
    });
    let image = deadbox::Image::open(&case, Default::default()).unwrap();
    let v = &image.volumes()[0];
    let mut j = v.usn_journal().unwrap();
    assert_eq!(j.by_ref().count(), 0);
    let d = j.diagnostics();
    assert!(!d.is_empty() && d.len() <= 16, "{d:?}");
    assert_eq!(d[0].kind, DiagnosticKind::Unreadable, "{d:?}");
    let (code, out, err) = cli(&["usn", case.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("unreadable"), "{err}");
}
