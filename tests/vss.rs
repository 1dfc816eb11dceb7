//! Volume Shadow Copies against the published oracles of the corpus (`vss/`): the Windows Server
//! 2003 volume with 6 snapshots (MD5s of 512-byte blocks per snapshot, every line of both hash
//! files), the Windows 7+ volume with one snapshot of itself (`vss_2_stor`), and the volume whose
//! two snapshots keep their storage on that second image (`vss_1_vol`); and, with no corpus
//! needed, a fixture volume given one synthetic shadow copy through every command.

mod common;

use deadbox::evidence::{open, Evidence, Region};
use deadbox::ntfs::vss::Shadows;
use deadbox::ntfs::NtfsVolume;
use md5::{Digest, Md5};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Unpacks a corpus tarball (sparse) once into the target dir; returns the folder.
fn untar(corpus: &Path, name: &str) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let src = corpus.join("vss").join(name);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("deadbox-vss");
    std::fs::create_dir_all(&dir).unwrap();
    let stamp = dir.join(format!("{name}.src-len"));
    let len = std::fs::metadata(&src).unwrap().len().to_string();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(len.as_str()) {
        let ok = std::process::Command::new("tar")
            .arg("xzf")
            .arg(&src)
            .arg("-C")
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tar xzf {}", src.display());
        std::fs::write(&stamp, len).unwrap();
    }
    dir
}

fn volume(path: &Path, offset: u64) -> Region {
    let ev = open(path).unwrap();
    let len = ev.len() - offset;
    Region::new(ev, offset, len).unwrap()
}

fn md5_hex(b: &[u8]) -> String {
    let d = Md5::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

fn read(ev: &dyn Evidence, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    ev.read_exact_at(off, &mut b).unwrap();
    b
}

/// Every line of an oracle file: (snapshot, volume offset, 32 MD5s).
fn oracle_lines(text: &str, flags_column: bool) -> Vec<(usize, u64, Vec<String>)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let md5s = cols[if flags_column { 3 } else { 2 }];
            if flags_column {
                assert_eq!(cols[2], "0", "{l}");
            }
            (
                cols[0].parse().unwrap(),
                cols[1].parse().unwrap(),
                md5s.split(' ').map(str::to_owned).collect(),
            )
        })
        .collect()
}

#[test]
fn server_2003_six_snapshots_match_every_oracle_line() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = untar(&corpus, "vss_2003.tgz");
    let vol = volume(&dir.join("vss_2003.raw"), 63 * 512);
    let shadows = Shadows::open(&vol).unwrap().expect("a VSS header");
    assert!(shadows.header().storage_is_local());
    let snaps = shadows.snapshots();
    assert_eq!(snaps.len(), 6);
    for (i, s) in snaps.iter().enumerate() {
        assert_eq!(s.number, i + 1);
        assert_eq!(s.position, i as u64 + 1);
        assert!(s.store_size.is_some_and(|n| n > 0), "{s:?}");
        if i > 0 {
            assert!(s.created > snaps[i - 1].created, "oldest first");
        }
    }
    assert!(
        shadows.diagnostics().is_empty(),
        "{:?}",
        shadows.diagnostics()
    );
    let views: Vec<_> = (1..=6).map(|n| shadows.snapshot(n).unwrap()).collect();
    let mut checked = 0;
    for (file, flags) in [
        ("vss_2003_hashes.txt", true),
        ("vss_2003_all_hashes.txt", false),
    ] {
        let text = std::fs::read_to_string(corpus.join("vss").join(file)).unwrap();
        let lines = oracle_lines(&text, flags);
        assert!(lines.len() >= 80, "{file}");
        for (snap, off, want) in lines {
            assert_eq!(want.len(), 32);
            let got = read(&views[snap - 1], off, 32 * 512);
            for (k, w) in want.iter().enumerate() {
                assert_eq!(
                    &md5_hex(&got[k * 512..(k + 1) * 512]),
                    w,
                    "{file}: snapshot {snap}, offset {off} + block {k}"
                );
            }
            checked += 1;
        }
    }
    // 80 lines of vss_2003_hashes.txt and 176 of vss_2003_all_hashes.txt.
    assert_eq!(checked, 256);
    // The oracles check real differences: some checked block differs from the live volume.
    let live = read(vol.evidence().as_ref(), 63 * 512 + 3154116608, 16384);
    assert_ne!(read(&views[0], 3154116608, 16384), live);
}

/// vss_2_stor (one snapshot of itself) and vss_1_vol (two, stored on vss_2_stor).
struct Pair {
    stor: Region,
    vol: Region,
}

fn pair(corpus: &Path) -> Pair {
    let d1 = untar(corpus, "vss_1_vol.tar.gz");
    let d2 = untar(corpus, "vss_2_stor.tar.gz");
    Pair {
        vol: volume(&d1.join("vss_1_vol.raw"), 67584 * 512),
        stor: volume(&d2.join("vss_2_stor.raw"), 67584 * 512),
    }
}

fn storage_pattern(word: &[u8]) -> Vec<u8> {
    let mut v = word.repeat(1100);
    v.resize(8192, 0);
    v
}

#[test]
fn storage_volume_snapshot_shows_published_contents() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let p = pair(&corpus);
    let shadows = Shadows::open(&p.stor).unwrap().expect("a VSS header");
    assert!(shadows.header().storage_is_local());
    assert_eq!(shadows.snapshots().len(), 1);
    let snap = shadows.snapshot(1).unwrap();
    assert_eq!(read(&snap, 40 * 4096, 8192), storage_pattern(b"STORAGE"));
    assert_eq!(
        read(p.stor.evidence().as_ref(), p.stor.start() + 40 * 4096, 8192),
        storage_pattern(b"5TORAGE")
    );
    assert_eq!(
        md5_hex(&read(&snap, 44 * 4096, 8192)),
        "5149c33b9453e2bf30a5e6ec944654f7"
    );
    assert!(shadows.snapshot(2).is_err());
    assert!(shadows.snapshot(0).is_err());

    // The snapshot opens as an NTFS volume; its $MFT reads as published.
    let ntfs = NtfsVolume::open(shadows.snapshot_region(1).unwrap(), None).unwrap();
    let mut mft = Vec::new();
    ntfs.open_stream("/$MFT", None)
        .unwrap()
        .read_to_end(&mut mft)
        .unwrap();
    assert_eq!(md5_hex(&mft), "58f3e851fa2c9b9c7a631db912386e21");
    // And walks: the whole tree, with the root's files.
    let listing = ntfs.walk();
    assert!(listing.items().any(|i| i.path() == "/$MFT"));
    assert!(listing.files.len() > 16);
}

fn bitmap_md5(snap: &dyn Evidence, bitmap: &[u8], zero_diff_area: bool) -> String {
    let bits = bitmap.len() * 8;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 4096];
    for bit in 0..bits - 1 {
        if (bitmap[bit / 8] >> (bit % 8)) & 1 == 0 {
            continue;
        }
        let off = bit as u64 * 4096;
        if off + 4096 > snap.len() {
            break;
        }
        snap.read_exact_at(off, &mut buf).unwrap();
        if zero_diff_area && buf.starts_with(&deadbox::ntfs::vss::DIFF_AREA_GUID) {
            buf.fill(0);
        }
        h.update(&buf);
    }
    h.finalize().iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn remote_storage_snapshots_show_published_contents() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let p = pair(&corpus);
    // Without the storage the snapshots list but do not read.
    let listed = Shadows::open(&p.vol).unwrap().expect("a VSS header");
    assert!(!listed.header().storage_is_local());
    assert_eq!(listed.snapshots().len(), 2);
    assert!(!listed.is_readable());
    assert!(listed.snapshot(1).is_err());
    // The storage volume is the one the header names.
    let stor_header = deadbox::ntfs::vss::read_header(&p.stor).unwrap().unwrap();
    assert_eq!(stor_header.volume_id, listed.header().storage_id);
    // A wrong storage (the shadowed volume itself) is refused.
    assert!(Shadows::open_with_storage(&p.vol, &p.vol).is_err());

    let shadows = Shadows::open_with_storage(&p.vol, &p.stor)
        .unwrap()
        .unwrap();
    assert_eq!(shadows.snapshots().len(), 2);
    assert!(
        shadows.diagnostics().is_empty(),
        "{:?}",
        shadows.diagnostics()
    );
    let at = 1837 * 4096;
    for (n, ch) in [(1usize, b'1'), (2, b'2')] {
        let snap = shadows.snapshot(n).unwrap();
        let got = read(&snap, at, 172 * 4096);
        assert!(got[..703800].iter().all(|&b| b == ch), "snapshot {n}");
        assert!(got[703800..].iter().all(|&b| b == 0), "snapshot {n}");
    }
    let live = read(p.vol.evidence().as_ref(), p.vol.start() + at, 172 * 4096);
    assert!(live[..703800].iter().all(|&b| b == b'3'));

    let bitmap = std::fs::read(corpus.join("vss").join("vss_1_vol_bm.bin")).unwrap();
    let s1 = shadows.snapshot(1).unwrap();
    let s2 = shadows.snapshot(2).unwrap();
    assert_eq!(
        bitmap_md5(&s1, &bitmap, false),
        "1c3920a329d6ce78bd6b837fad79e4e4"
    );
    assert_eq!(
        bitmap_md5(&s2, &bitmap, true),
        "2f2e7ea121b37b2d83ff6a86648441fd"
    );
    // Both snapshots open as NTFS volumes.
    for n in 1..=2 {
        let v = NtfsVolume::open(shadows.snapshot_region(n).unwrap(), None).unwrap();
        assert!(v.walk().items().any(|i| i.path() == "/$MFT"));
    }
}

// ---------------------------------------------------------------------------------------------
// The command line

fn md5_of_byte(b: u8, n: usize) -> String {
    md5_hex(&vec![b; n])
}

#[test]
fn cli_info_lists_snapshots_oldest_first() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = untar(&corpus, "vss_2003.tgz");
    let img = dir.join("vss_2003.raw");
    let (code, out, err) = common::run(&["info", img.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let snaps = doc["volumes"][0]["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 6);
    let mut prev = String::new();
    for (i, s) in snaps.iter().enumerate() {
        assert_eq!(s["number"], i + 1);
        assert_eq!(s["id"].as_str().unwrap().len(), 36);
        let created = s["created"].as_str().unwrap().to_string();
        assert!(
            created.starts_with("2019-06-0") && created > prev,
            "{created}"
        );
        prev = created;
        assert!(s["store_size"].as_u64().unwrap() > 0);
    }
    assert_eq!(snaps[0]["id"], "12e5a133-8722-11e9-9178-525400123456");
    // From the store header (read independently of deadbox from the bytes at 0x90 and 0xC0).
    assert_eq!(
        snaps[0]["shadow_copy_id"],
        "f0168553-348c-4d9b-9e18-80c0592168f8"
    );
    assert_eq!(snaps[0]["set_id"], "5e5d08f8-deb9-45e5-88b3-741013575af9");
    assert_eq!(snaps[0]["machine"], "fe-2hsrc5vl41me");

    // Storage on a second image: listed without it (store size unknown), sized with it.
    let p = untar(&corpus, "vss_1_vol.tar.gz").join("vss_1_vol.raw");
    let s = untar(&corpus, "vss_2_stor.tar.gz").join("vss_2_stor.raw");
    let (code, out, _) = common::run(&["info", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let snaps = doc["volumes"][0]["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps[0]["store_size"].is_null());
    let diags = doc["diagnostics"].to_string();
    assert!(diags.contains("shadow storage"), "{diags}");
    let (code, out, _) = common::run(&[
        "info",
        p.to_str().unwrap(),
        "--vss-storage",
        s.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(
        doc["volumes"][0]["snapshots"][1]["store_size"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        doc["volumes"][0]["snapshots"][1]["machine"],
        "WIN-BJQQCVN4IUD"
    );
    assert_eq!(doc["diagnostics"].as_array().unwrap().len(), 0);
}

#[test]
fn cli_cat_ls_hash_read_snapshots() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let stor = untar(&corpus, "vss_2_stor.tar.gz").join("vss_2_stor.raw");
    let vol = untar(&corpus, "vss_1_vol.tar.gz").join("vss_1_vol.raw");
    let (stor, vol) = (stor.to_str().unwrap(), vol.to_str().unwrap());

    let (code, out, err) = common::run(&["cat", stor, "--snapshot", "1", "/test.txt"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"STORAGE".repeat(1100));
    let (_, out, _) = common::run(&["cat", stor, "/test.txt"]);
    assert_eq!(out, b"5TORAGE".repeat(1100));
    let (code, _, err) = common::run(&["cat", stor, "--snapshot", "2", "/test.txt"]);
    assert_eq!(code, 2);
    assert!(err.contains("snapshot 2"), "{err}");

    // ls: every row names its snapshot, last but for the owner fields; the live volume's rows
    // have null.
    let (code, out, err) = common::run(&["ls", stor, "--snapshots", "all", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let text = String::from_utf8(out).unwrap();
    let rows = common::jsonl(text.as_bytes());
    let live = rows.iter().filter(|r| r["snapshot"].is_null()).count();
    let snap = rows.iter().filter(|r| r["snapshot"] == 1).count();
    assert!(live > 20 && snap > 20, "{live} {snap}");
    assert_eq!(live + snap, rows.len());
    assert!(text
        .lines()
        .all(|l| l.contains(",\"snapshot\":null,\"owner\":")
            || l.contains(",\"snapshot\":1,\"owner\":")));

    // hash: the published contents of vss_1_vol's /test.txt in each state, storage on the
    // second image.
    let (code, out, err) = common::run(&[
        "hash",
        vol,
        "--snapshots",
        "all",
        "--vss-storage",
        stor,
        "--format",
        "jsonl",
    ]);
    assert_eq!(code, 0, "{err}");
    let md5s: Vec<(serde_json::Value, String)> = common::jsonl(&out)
        .into_iter()
        .filter(|r| r["path"] == "/test.txt")
        .map(|r| {
            (
                r["snapshot"].clone(),
                r["md5"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        md5s,
        [
            (serde_json::Value::Null, md5_of_byte(b'3', 703800)),
            (1.into(), md5_of_byte(b'1', 703800)),
            (2.into(), md5_of_byte(b'2', 703800)),
        ]
    );
    // Without the storage, one snapshot cannot be read: an error naming the storage volume.
    let (code, _, err) = common::run(&["ls", vol, "--snapshot", "1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bbaa763c-8204-11eb-90f4-080027768df7"),
        "{err}"
    );
}

#[test]
fn cli_scan_all_snapshots_reports_unchanged_content_once() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let stor = untar(&corpus, "vss_2_stor.tar.gz").join("vss_2_stor.raw");
    let rules = common::scratch().join("vss.yar");
    std::fs::write(
        &rules,
        "rule torage { strings: $a = \"TORAGE\" condition: $a }\n\
         rule ini { strings: $a = \"[.ShellClassInfo]\" nocase condition: $a }\n",
    )
    .unwrap();
    let (code, out, err) = common::run(&[
        "scan",
        stor.to_str().unwrap(),
        "--snapshots",
        "all",
        "--all-files",
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "-q",
        "--format",
        "jsonl",
    ]);
    assert!(code < 2, "{err}");
    let found = common::jsonl(&out);
    let of = |rule: &str, path: &str| -> Vec<&serde_json::Value> {
        found
            .iter()
            .filter(|f| f["rule"]["name"] == rule && f["location"]["path"] == path)
            .collect()
    };
    // desktop.ini is the same in the live volume and the snapshot: one finding naming both.
    let ini = of(
        "ini",
        "/$RECYCLE.BIN/S-1-5-21-3544599609-778476966-3151826751-500/desktop.ini",
    );
    assert_eq!(ini.len(), 1, "{ini:?}");
    assert!(ini[0]["location"]["snapshot"].is_null());
    assert_eq!(ini[0]["location"]["snapshots"], serde_json::json!([1]));
    // test.txt changed: a finding for each content, each naming where it was seen.
    let t = of("torage", "/test.txt");
    assert_eq!(t.len(), 2, "{t:?}");
    assert!(t[0]["location"]["snapshot"].is_null());
    assert!(t[0]["location"].get("snapshots").is_none());
    assert_eq!(t[0]["file"]["md5"], "0fcf3cfce4d17246a0a221e0ed033188");
    assert_eq!(t[1]["location"]["snapshot"], 1);
    assert_eq!(t[1]["location"]["snapshots"], serde_json::json!([1]));
    assert_eq!(t[1]["file"]["md5"], "e15a1a62c9ba3b7ed2c4bb90fe16b095");
    assert_eq!(
        t[1]["file"]["md5"],
        md5_hex(&b"STORAGE".repeat(1100)),
        "the snapshot's content"
    );

    // CSV: the two columns last.
    let (_, out, _) = common::run(&[
        "scan",
        stor.to_str().unwrap(),
        "--snapshots",
        "all",
        "--all-files",
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "-q",
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(out).unwrap();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .ends_with(",rule,snapshot,snapshots"));
    assert!(
        text.lines()
            .any(|l| l.contains("desktop.ini") && l.ends_with("ini,,1")),
        "{text}"
    );

    // One snapshot only: its findings name it; the live volume is not scanned.
    let (_, out, _) = common::run(&[
        "scan",
        stor.to_str().unwrap(),
        "--snapshot",
        "1",
        "--all-files",
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "-q",
        "--format",
        "jsonl",
    ]);
    let found = common::jsonl(&out);
    assert!(!found.is_empty());
    assert!(found.iter().all(|f| f["location"]["snapshot"] == 1));
    // Without snapshots, findings still carry the field, null.
    let (_, out, _) = common::run(&[
        "scan",
        stor.to_str().unwrap(),
        "--all-files",
        "--no-builtin-rules",
        "--no-exchange",
        "--rules",
        rules.to_str().unwrap(),
        "-q",
        "--format",
        "jsonl",
    ]);
    let found = common::jsonl(&out);
    assert!(!found.is_empty());
    assert!(found
        .iter()
        .all(|f| f["location"]["snapshot"].is_null() && f["location"].get("snapshots").is_none()));
}

// ---------------------------------------------------------------------------------------------
// A fixture volume given one synthetic shadow copy (no corpus needed)

const FILE: &str = "/files/nonres_5000.bin";

fn put(b: &mut [u8], at: usize, v: u64, n: usize) {
    b[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
}

/// `fixtures/ntfs-basic.img` with a VSS catalog and one store appended after the volume: the
/// snapshot shows `FILE` as "SNAPSHOT" repeated; every other block is the live one. With
/// `looping`, the catalog's next block is itself.
fn fixture_with_snapshot(name: &str, looping: bool) -> PathBuf {
    const B: usize = 0x4000;
    let mut img = std::fs::read(common::fixture("ntfs-basic.img")).unwrap();
    let vol_len = img.len();
    let (store, catalog, list, bitmap) = (vol_len, vol_len + B, vol_len + 2 * B, vol_len + 3 * B);
    // Where the file's data is.
    let ev: Arc<dyn Evidence> = Arc::new(deadbox::evidence::MemoryEvidence::new(img.clone()));
    let vol = NtfsVolume::open(Region::whole(ev), None).unwrap();
    let file = vol.open_path(FILE).unwrap();
    let s = vol.select_stream(&file, None).unwrap();
    let at = vol.stream_offset(s).unwrap() as usize;
    let block = at - at % B;
    img.resize(vol_len + 4 * B, 0);
    // The store's copy of that block, with the file's bytes changed.
    let (live, copy) = img.split_at_mut(store);
    copy[..B].copy_from_slice(&live[block..block + B]);
    let within = at - block;
    for (i, x) in copy[within..within + 5000].iter_mut().enumerate() {
        *x = b"SNAPSHOT"[i % 8];
    }
    let header = |img: &mut Vec<u8>, at: usize, kind: u64, next: u64| {
        img[at..at + 16].copy_from_slice(&deadbox::ntfs::vss::DIFF_AREA_GUID);
        put(img, at + 16, 1, 4);
        put(img, at + 20, kind, 4);
        put(img, at + 32, at as u64, 8);
        put(img, at + 40, next, 8);
    };
    header(&mut img, 0x1E00, 1, 0);
    put(&mut img, 0x1E00 + 48, catalog as u64, 8);
    img[0x1E00 + 64..0x1E00 + 96].fill(0x5A);
    header(
        &mut img,
        catalog,
        2,
        if looping { catalog as u64 } else { 0 },
    );
    let e = catalog + 0x80;
    put(&mut img, e, 2, 8);
    put(&mut img, e + 8, vol_len as u64, 8);
    img[e + 16..e + 32].fill(0x11);
    put(&mut img, e + 32, 1, 8);
    put(&mut img, e + 48, 132_000_000_000_000_000, 8);
    put(&mut img, e + 128, 3, 8);
    put(&mut img, e + 136, list as u64, 8);
    img[e + 144..e + 160].fill(0x11);
    put(&mut img, e + 176, bitmap as u64, 8);
    header(&mut img, list, 3, 0);
    put(&mut img, list + 0x80, block as u64, 8);
    put(&mut img, list + 0x90, store as u64, 8);
    header(&mut img, bitmap, 6, 0);
    let p = common::scratch().join(name);
    std::fs::write(&p, img).unwrap();
    p
}

#[test]
fn fixture_snapshot_through_every_command() {
    let img = fixture_with_snapshot("vss-basic.img", false);
    let img = img.to_str().unwrap();
    let (code, out, err) = common::run(&["info", img, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let snaps = &doc["volumes"][0]["snapshots"];
    assert_eq!(snaps.as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(snaps[0]["id"], "11111111-1111-1111-1111-111111111111");
    assert_eq!(snaps[0]["store_size"], 16384);
    assert_eq!(snaps[0]["created"], "2019-04-17T18:40:00.0000000Z");

    let want = b"SNAPSHOT".repeat(625);
    let (code, out, err) = common::run(&["cat", img, "--snapshot", "1", FILE]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, want);
    let (_, live, _) = common::run(&["cat", img, FILE]);
    assert_eq!(live.len(), 5000);
    assert_ne!(live, want);

    // hash: only that file differs between the two states.
    let (code, out, err) = common::run(&["hash", img, "--snapshots", "all", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows = common::jsonl(&out);
    let by = |snap: &serde_json::Value| -> std::collections::BTreeMap<String, String> {
        rows.iter()
            .filter(|r| &r["snapshot"] == snap && !r["md5"].is_null())
            .map(|r| {
                (
                    format!("{}:{}", r["path"], r["stream"]),
                    r["md5"].to_string(),
                )
            })
            .collect()
    };
    let (live, snap) = (by(&serde_json::Value::Null), by(&1.into()));
    assert!(live.len() > 50);
    assert_eq!(live.len(), snap.len());
    let differ: Vec<&String> = live.keys().filter(|k| live[*k] != snap[*k]).collect();
    assert_eq!(differ, [&format!("\"{FILE}\":null")]);
    assert_eq!(
        snap[&format!("\"{FILE}\":null")],
        format!("\"{}\"", md5_hex(&want))
    );

    // scan: the changed file is found in the snapshot only; an unchanged one once, naming both.
    let rules = common::scratch().join("basic.yar");
    std::fs::write(
        &rules,
        "rule snap { strings: $a = \"SNAPSHOTSNAPSHOT\" condition: $a }\n\
         rule fixture { strings: $a = \"deadbox fixture\" condition: $a }\n",
    )
    .unwrap();
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            img,
            "--all-files",
            "--no-builtin-rules",
            "--no-exchange",
        ];
        args.extend([
            "--rules",
            rules.to_str().unwrap(),
            "-q",
            "--format",
            "jsonl",
        ]);
        args.extend(extra);
        let (code, out, err) = common::run(&args);
        assert!(code < 2, "{err}");
        common::jsonl(&out)
    };
    let all = scan(&["--snapshots", "all"]);
    let snap_hits: Vec<_> = all.iter().filter(|f| f["rule"]["name"] == "snap").collect();
    assert_eq!(snap_hits.len(), 1, "{snap_hits:?}");
    assert_eq!(snap_hits[0]["location"]["path"], FILE);
    assert_eq!(snap_hits[0]["location"]["snapshot"], 1);
    assert_eq!(
        snap_hits[0]["location"]["snapshots"],
        serde_json::json!([1])
    );
    let fixture_hits: Vec<_> = all
        .iter()
        .filter(|f| f["rule"]["name"] == "fixture")
        .collect();
    assert!(!fixture_hits.is_empty());
    for f in &fixture_hits {
        assert!(f["location"]["snapshot"].is_null(), "{f}");
        assert_eq!(f["location"]["snapshots"], serde_json::json!([1]), "{f}");
    }
    // The live scan alone has the same unchanged findings, each once, and not the snapshot's.
    let live_only = scan(&[]);
    assert_eq!(
        live_only
            .iter()
            .filter(|f| f["rule"]["name"] == "fixture")
            .count(),
        fixture_hits.len()
    );
    assert!(live_only.iter().all(|f| f["rule"]["name"] != "snap"));
}

#[test]
fn fixture_with_a_looping_catalog_still_reads_the_live_volume() {
    let img = fixture_with_snapshot("vss-loop.img", true);
    let img = img.to_str().unwrap();
    let (code, out, err) = common::run(&["info", img, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(doc["diagnostics"].to_string().contains("loops"), "{doc}");
    let (code, out, err) = common::run(&["ls", img, "--snapshots", "all", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("loops"), "{err}");
    let rows = common::jsonl(&out);
    assert!(rows.len() > 50 && rows.iter().all(|r| r["snapshot"].is_null()));
    let (code, _, err) = common::run(&["cat", img, "--snapshot", "1", FILE]);
    assert_eq!(code, 2);
    assert!(err.contains("loops"), "{err}");
}
