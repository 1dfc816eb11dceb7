//! The USN change journal against oracles: a real `$J` extract (corpus `mft/usnjrnlj.bin`)
//! compared record by record with what Windows' own `fsutil usn readjournal` printed for it
//! (`mft/usnjrnlj.fsutil.txt`), and the journal of an NTFS volume read in place, its paths
//! compared with the MFT walk's.

mod common;

use deadbox::ntfs::usn::{attribute_text, resolve_path, PathSource, UsnReader, UsnRecord};
use std::collections::HashMap;

/// One record as fsutil printed it: field name → text after the colon.
type FsutilRecord = HashMap<String, String>;

/// The header fields and the records of fsutil's text output. A record starts at a `Usn`
/// line; v4 records end with an `Extents` list whose lines (`[1: 0, 2228224]`) are gathered
/// under the key `Extents`.
fn parse_fsutil(text: &str) -> (FsutilRecord, Vec<FsutilRecord>) {
    let mut header = FsutilRecord::new();
    let mut records: Vec<FsutilRecord> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with("    [") {
            let r = records.last_mut().expect("extent line before any record");
            let e = r.entry("Extents".into()).or_default();
            e.push_str(line.trim());
            continue;
        }
        let (k, v) = line
            .split_once(" :")
            .unwrap_or_else(|| panic!("line {line:?}"));
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        if k == "Usn" {
            records.push(FsutilRecord::new());
        }
        match records.last_mut() {
            Some(r) => {
                assert!(r.insert(k.clone(), v).is_none(), "field {k} twice");
            }
            None => {
                header.insert(k, v);
            }
        }
    }
    (header, records)
}

/// fsutil's "0x00000100: File create" → (0x100, "File create").
fn flags(v: &str) -> (u32, &str) {
    let (hex, text) = v.split_once(": ").unwrap_or((v, ""));
    let n = u32::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
    (n, text)
}

/// A FILETIME as fsutil prints it on a machine set to UTC: `1/22/2019 21:36:10` (seconds
/// truncated).
fn fsutil_time(ticks: u64) -> String {
    let secs = (ticks / 10_000_000) as i64 - 11_644_473_600;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{m}/{d}/{y} {}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Compares one record with fsutil's; returns the fields compared.
fn compare(r: &UsnRecord, f: &FsutilRecord) -> usize {
    let ctx = format!("usn {}", r.usn);
    let get = |k: &str| {
        f.get(k)
            .unwrap_or_else(|| panic!("{ctx}: fsutil has no {k}"))
            .as_str()
    };
    let n = std::cell::Cell::new(0);
    let eq = |k: &str, ours: String| {
        assert_eq!(ours, get(k), "{ctx}: {k}");
        n.set(n.get() + 1);
    };
    eq("Usn", r.usn.to_string());
    let (reason, reason_text) = flags(get("Reason"));
    assert_eq!(r.reason, reason, "{ctx}: reason");
    assert_eq!(r.reason_text(), reason_text, "{ctx}: reason names");
    eq("File ID", format!("{:032x}", r.file_id));
    eq("Parent file ID", format!("{:032x}", r.parent_file_id));
    let (source, _) = flags(get("Source info"));
    assert_eq!(r.source_info, source, "{ctx}: source info");
    eq("Minor version", r.minor_version.to_string());
    n.set(n.get() + 3);
    if r.major_version == 4 {
        eq("Major version", "4".into());
        eq("Record length", r.record_length.to_string());
        eq("Number of extents", r.extents.len().to_string());
        eq("Remaining extents", r.remaining_extents.to_string());
        let extents: String = (r.extents.iter().enumerate())
            .map(|(i, e)| format!("[{}: {}, {}]", i + 1, e.offset, e.length))
            .collect();
        eq("Extents", extents);
        assert!(r.name.is_empty() && r.timestamp.is_none());
        return n.get();
    }
    eq("File name", r.name.clone());
    eq(
        "File name length",
        (r.name.encode_utf16().count() * 2).to_string(),
    );
    eq("Time stamp", fsutil_time(r.timestamp.unwrap().ticks()));
    let (attrs, attrs_text) = flags(get("File attributes"));
    assert_eq!(r.attributes, attrs, "{ctx}: attributes");
    assert_eq!(
        attribute_text(r.attributes),
        attrs_text,
        "{ctx}: attribute names"
    );
    eq("Security ID", r.security_id.to_string());
    n.set(n.get() + 2);
    // The journal holds v2 records; fsutil, asked for versions 2 to 4, hands them out as
    // USN_RECORD_V3 (128-bit ids, so 16 bytes longer).
    match r.major_version {
        2 => {
            eq("Major version", "3".into());
            let v3_len = (76 + r.name.encode_utf16().count() * 2).next_multiple_of(8);
            assert_eq!(r.record_length as usize + 16, v3_len, "{ctx}");
            eq("Record length", v3_len.to_string());
        }
        v => {
            eq("Major version", v.to_string());
            eq("Record length", r.record_length.to_string());
        }
    }
    n.get()
}

#[test]
fn loose_journal_agrees_with_fsutil() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bin = std::fs::read(corpus.join("mft/usnjrnlj.bin")).unwrap();
    let text = std::fs::read_to_string(corpus.join("mft/usnjrnlj.fsutil.txt")).unwrap();
    let (header, expected) = parse_fsutil(&text);
    let next_usn: i64 = header["Next USN"].parse().unwrap();
    assert_eq!(expected.len(), 268);

    let mut reader = UsnReader::from_slice(&bin);
    let records: Vec<UsnRecord> = reader.by_ref().collect();
    assert!(
        reader.diagnostics().is_empty(),
        "{:?}",
        reader.diagnostics()
    );

    // fsutil ran before the last three records were written: they lie at or past its
    // "Next USN".
    let (seen, later): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.usn < next_usn);
    assert_eq!(later.len(), 3);
    assert!(later.iter().all(|r| r.usn >= next_usn));
    assert_eq!(seen.len(), expected.len(), "every record fsutil printed");

    let mut fields = 0;
    for (r, f) in seen.iter().zip(&expected) {
        fields += compare(r, f);
        // On a volume the USN is the record's offset in $J (this extract starts at 0).
        assert_eq!(r.usn as u64, r.offset);
    }
    let v4 = seen.iter().filter(|r| r.major_version == 4).count();
    assert_eq!(v4, 7, "the range-tracking (v4) records");
    eprintln!(
        "{} records agree with fsutil ({fields} fields compared, {v4} of them v4)",
        seen.len()
    );
}

#[test]
fn loose_journal_from_a_reader_equals_the_slice() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let path = corpus.join("mft/usnjrnlj.bin");
    let bin = std::fs::read(&path).unwrap();
    let a: Vec<UsnRecord> = UsnReader::from_slice(&bin).collect();
    let b: Vec<UsnRecord> = UsnReader::new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .collect();
    assert_eq!(a, b);
    // A leading hole kept as zeros (an extract that keeps the stream's size) reads the same,
    // at shifted offsets.
    let mut padded = vec![0u8; 3 << 20];
    padded.extend_from_slice(&bin);
    let c: Vec<UsnRecord> = UsnReader::from_slice(&padded).collect();
    assert_eq!(c.len(), a.len());
    assert!(c
        .iter()
        .zip(&a)
        .all(|(c, a)| c.offset == a.offset + (3 << 20) && c.usn == a.usn && c.name == a.name));
}

#[test]
fn orphan_paths_without_a_namespace() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let bin = std::fs::read(corpus.join("mft/usnjrnlj.bin")).unwrap();
    let tree = deadbox::ntfs::Tree::default();
    let mut path = String::new();
    for r in UsnReader::from_slice(&bin).filter(|r| !r.name.is_empty()) {
        assert_eq!(resolve_path(&tree, &r, &mut path), PathSource::Orphan);
        assert_eq!(path, format!("/$Orphan/{}", r.name));
    }
}

#[test]
fn cli_reads_a_loose_journal() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let j = corpus.join("mft/usnjrnlj.bin");
    let j = j.to_str().unwrap();
    let (code, out, err) = common::run(&["usn", j, "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    let rows = common::jsonl(&out);
    assert_eq!(rows.len(), 271);
    let r = &rows[0];
    assert_eq!(r["usn"], 0);
    assert_eq!(r["name"], "New folder");
    assert_eq!(r["reasons"], serde_json::json!(["USN_REASON_FILE_CREATE"]));
    assert_eq!(
        r["attributes"],
        serde_json::json!(["FILE_ATTRIBUTE_DIRECTORY"])
    );
    assert_eq!(
        (r["file_entry"].as_u64(), r["file_sequence"].as_u64()),
        (Some(0x28), Some(1))
    );
    assert_eq!(
        (r["parent_entry"].as_u64(), r["parent_sequence"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(r["timestamp"], "2019-01-22T21:36:10.9243619Z");
    assert!(
        r["path"].is_null() && r["path_source"].is_null(),
        "no MFT: names only"
    );
    let v4 = rows.iter().filter(|r| r["major_version"] == 4).count();
    assert_eq!(v4, 7);

    let (code, csv, _) = common::run(&["usn", j, "--format", "csv"]);
    assert_eq!(code, 0);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("partition,offset,usn,timestamp,reasons,"));
    assert_eq!(csv.lines().count(), 272);
    assert!(csv.contains("USN_REASON_FILE_CREATE|USN_REASON_CLOSE"));
}

#[test]
fn cli_rejects_what_is_neither_image_nor_journal() {
    let f = common::scratch().join("not_a_journal.bin");
    std::fs::write(&f, vec![0x41u8; 8192]).unwrap();
    let (code, out, err) = common::run(&["usn", f.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("error"), "{err}");
    // A volume without a journal: no rows, a warning.
    let img = common::fixture("ntfs-basic.img");
    let (code, out, err) = common::run(&["usn", img.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("no USN change journal"), "{err}");
}

/// The journal of a volume read in place (fixtures/ntfs-usn.img.gz, built by
/// fixtures/build_usn.sh): only the allocated clusters of the sparse `$J` are read, and every
/// record's path agrees with the MFT walk: the walk's path of the parent directory plus the
/// record's name when the parent still has the reference's sequence number (and, for records
/// of files still there under that name, the walk's path of the file itself); `/$Orphan/<name>`
/// otherwise.
#[test]
fn volume_journal_paths_agree_with_the_walk() {
    use deadbox::ntfs::volume::VolumeSelect;
    use std::collections::HashMap;
    let img = common::unpacked(&common::fixture("ntfs-usn.img.gz"));
    let image = deadbox::Image::open(&img, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let listing = v.walk();
    /// (path, name, parent entry, parent sequence) of each name.
    type Names = Vec<(String, String, u64, u16)>;
    // entry -> (sequence, is_dir, names)
    let mut walk: HashMap<u64, (u16, bool, Names)> = HashMap::new();
    for i in listing.items() {
        let e = walk
            .entry(i.file.entry)
            .or_insert((i.file.sequence, i.file.is_dir, Vec::new()));
        if let Some(n) = i.name {
            let row = (
                i.path().to_string(),
                n.name.clone(),
                n.parent_entry,
                n.parent_sequence,
            );
            if !e.2.contains(&row) {
                e.2.push(row);
            }
        }
    }

    let j_size = v
        .open_stream("/$Extend/$UsnJrnl", Some("$J"))
        .unwrap()
        .len();
    let mut journal = v.usn_journal().unwrap();
    let records: Vec<UsnRecord> = journal.by_ref().collect();
    assert!(
        journal.diagnostics().is_empty(),
        "{:?}",
        journal.diagnostics()
    );
    // 1 MiB of hole, then the records (two clusters, the second one partly used): the hole
    // is never read.
    assert!(
        j_size > (1 << 20) + 4096 && j_size < (1 << 20) + 8192,
        "{j_size}"
    );
    assert_eq!(journal.bytes_read(), journal.allocated_bytes());
    assert_eq!(journal.bytes_read(), j_size - (1 << 20));
    assert_eq!(records.len(), 17);
    let versions = |m| records.iter().filter(|r| r.major_version == m).count();
    assert_eq!((versions(2), versions(3), versions(4)), (14, 2, 1));
    assert!(records.iter().all(|r| r.usn as u64 == r.offset));

    let tree = v.tree();
    let mut path = String::new();
    let (mut from_mft, mut orphans, mut same_as_file) = (0, Vec::new(), 0);
    for r in &records {
        let src = resolve_path(&tree, r, &mut path);
        if r.major_version == 4 {
            // No name: the file's own path.
            let f = &walk[&r.file_reference.entry];
            assert_eq!(f.0, r.file_reference.sequence);
            assert_eq!((src, path.as_str()), (PathSource::Mft, f.2[0].0.as_str()));
            continue;
        }
        let p = r.parent_reference;
        match walk.get(&p.entry) {
            Some((seq, true, names)) if *seq == p.sequence => {
                assert_eq!(src, PathSource::Mft, "{r:?}");
                let dir = if p.entry == 5 { "" } else { &names[0].0 };
                assert_eq!(path, format!("{dir}/{}", r.name));
                from_mft += 1;
            }
            _ => {
                assert_eq!(src, PathSource::Orphan, "{r:?}");
                assert_eq!(path, format!("/$Orphan/{}", r.name));
                orphans.push(r.name.as_str());
            }
        }
        // The file itself still there under this name and parent: the walk gives the same.
        let f = r.file_reference;
        if let Some((seq, _, names)) = walk.get(&f.entry) {
            if *seq == f.sequence {
                for (wp, n, pe, ps) in names {
                    if *n == r.name && (*pe, *ps) == (p.entry, p.sequence) {
                        assert_eq!(&path, wp);
                        same_as_file += 1;
                    }
                }
            }
        }
    }
    // /staging was deleted (its record's sequence bumped): what was in it is orphaned; the
    // reference to a reused /inetpub/wwwroot too.
    assert_eq!(
        orphans,
        [
            "tmp_shell.aspx",
            "tmp_shell.aspx",
            "tmp_shell.aspx",
            "old_site",
            "tmp_shell.aspx"
        ]
    );
    assert_eq!(from_mft, 11);
    // discover.aspx ×2, errorEE.aspx ×2, iisstart.htm (the deleted have new sequence numbers).
    assert_eq!(same_as_file, 5);
    let deleted_but_named = records
        .iter()
        .filter(|r| r.name == "gone.aspx")
        .map(|r| {
            resolve_path(&tree, r, &mut path);
            path.clone()
        })
        .collect::<Vec<_>>();
    assert_eq!(
        deleted_but_named,
        ["/inetpub/wwwroot/gone.aspx", "/inetpub/wwwroot/gone.aspx"]
    );
}

#[test]
fn cli_on_an_image_gives_paths() {
    let img = common::unpacked(&common::fixture("ntfs-usn.img.gz"));
    let (code, out, err) = common::run(&["usn", img.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    assert_eq!(rows.len(), 17);
    let shell = rows.iter().find(|r| r["name"] == "discover.aspx").unwrap();
    assert_eq!(
        shell["path"],
        "/inetpub/wwwroot/aspnet_client/system_web/discover.aspx"
    );
    assert_eq!(shell["path_source"], "mft");
    assert_eq!(shell["major_version"], 3);
    let orphan = rows.iter().find(|r| r["name"] == "old_site").unwrap();
    assert_eq!(orphan["path"], "/$Orphan/old_site");
    assert_eq!(orphan["path_source"], "orphan");
    let v4 = rows.iter().find(|r| r["major_version"] == 4).unwrap();
    assert!(v4["timestamp"].is_null());
    let (code, table, _) = common::run(&["usn", img.to_str().unwrap(), "--format", "table"]);
    assert_eq!(code, 0);
    let table = String::from_utf8(table).unwrap();
    assert_eq!(table.lines().count(), 18);
    assert!(table.contains("FILE_DELETE|CLOSE"));
}

/// A journal page freed into unallocated space (as Windows frees old pages of `$J`): copied
/// here into a free cluster of a copy of the fixture, found again by carving, with the same
/// records and paths as in the journal; the pristine fixture's free space gives none.
#[test]
fn carving_finds_a_freed_journal_page() {
    use deadbox::ntfs::volume::VolumeSelect;
    use std::io::Read;
    let img = common::unpacked(&common::fixture("ntfs-usn.img.gz"));
    let image = deadbox::Image::open(&img, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    assert_eq!(
        v.usn_carve().unwrap().count(),
        0,
        "no records in free space"
    );

    let cs = v.geometry().cluster_size;
    let mut bitmap = Vec::new();
    v.open_stream("/$Bitmap", None)
        .unwrap()
        .read_to_end(&mut bitmap)
        .unwrap();
    let clusters = v.geometry().size / cs;
    let free: Vec<u64> = (0..clusters)
        .filter(|&c| bitmap[(c / 8) as usize] >> (c % 8) & 1 == 0)
        .collect();
    assert!(free.len() > 16);
    let target = free[free.len() / 2];
    let j = v.open_stream("/$Extend/$UsnJrnl", Some("$J")).unwrap();
    let first = j.stream().runs().iter().find(|r| r.lcn.is_some()).copied();
    let src = (first.unwrap().lcn.unwrap() * cs) as usize;
    let live: Vec<UsnRecord> = v
        .usn_journal()
        .unwrap()
        .take_while(|r| r.offset < (1 << 20) + cs)
        .collect();

    let mut bytes = std::fs::read(&img).unwrap();
    let dst = (target * cs) as usize;
    bytes.copy_within(src..src + cs as usize, dst);
    let case = common::scratch().join("usn_freed_page.img");
    std::fs::write(&case, &bytes).unwrap();
    let image = deadbox::Image::open(&case, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let carved: Vec<UsnRecord> = v.usn_carve().unwrap().collect();
    // The v4 record on that page is not carved (too little to tell it from noise).
    let expected: Vec<&UsnRecord> = live.iter().filter(|r| r.major_version != 4).collect();
    assert_eq!(carved.len(), expected.len());
    let tree = v.tree();
    let (mut a, mut b) = (String::new(), String::new());
    for (c, l) in carved.iter().zip(&expected) {
        assert_eq!(c.offset, target * cs + (l.offset - (1 << 20)));
        assert_eq!((c.usn, &c.name, c.reason), (l.usn, &l.name, l.reason));
        assert_eq!(
            resolve_path(&tree, c, &mut a),
            resolve_path(&tree, l, &mut b)
        );
        assert_eq!(a, b);
    }

    let (code, out, err) = common::run(&["usn", case.to_str().unwrap(), "--carve"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    assert_eq!(rows.len(), 17 + expected.len());
    let carved_rows: Vec<_> = rows
        .iter()
        .filter(|r| r["source"] == "unallocated")
        .collect();
    assert_eq!(carved_rows.len(), expected.len());
    assert_eq!(carved_rows[0]["offset"], target * cs);
    assert_eq!(carved_rows[0]["path"], "/staging");
}
