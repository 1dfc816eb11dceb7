//! Owners (`$Secure:$SDS`, the security id of `$STANDARD_INFORMATION`, `$SECURITY_DESCRIPTOR`)
//! against The Sleuth Kit's `istat` on the shared corpus and the fixtures, in `ls`/`hash` rows
//! and findings, and the `$SDS` parser on hostile bytes.

mod common;

use deadbox::ntfs::secure::{descriptor_owner, SecureTable};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::path::Path;
use std::process::Command;

/// `istat`'s owner lines for `entry`: (owner id, security id, SID text or "").
fn istat(img: &Path, offset_sectors: u64, entry: u64) -> Option<(u32, u32, String)> {
    let out = Command::new("istat")
        .args(["-o", &offset_sectors.to_string()])
        .arg(img)
        .arg(entry.to_string())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let owner = text.lines().find_map(|l| l.strip_prefix("Owner ID: "))?;
    // "Security ID: 257  (S-1-5-18)"
    let sec = text.lines().find_map(|l| l.strip_prefix("Security ID: "))?;
    let (id, sid) = sec.split_once(' ')?;
    let sid = sid.trim().trim_start_matches('(').trim_end_matches(')');
    Some((
        owner.trim().parse().ok()?,
        id.parse().ok()?,
        sid.to_string(),
    ))
}

fn have_ntfsinfo() -> bool {
    let ok = Command::new("ntfsinfo").arg("-V").output().is_ok();
    if !ok {
        eprintln!(
            "notice: ntfsinfo (ntfs-3g) not found; skipping the $SECURITY_DESCRIPTOR comparison"
        );
    }
    ok
}

fn have_istat() -> bool {
    let ok = Command::new("istat").arg("-V").output().is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("istat (The Sleuth Kit) is missing and CI=true");
        }
        eprintln!("notice: istat not found; skipping the TSK owner comparison");
    }
    ok
}

/// ntfs-3g's `ntfsinfo` owner of a record's own `$SECURITY_DESCRIPTOR` attribute (`ntfsinfo`
/// reads a bare volume: `vol`), if it has one.
fn ntfsinfo_sd_owner(vol: &Path, entry: u64) -> Option<String> {
    let out = Command::new("ntfsinfo")
        .args(["-i", &entry.to_string()])
        .arg(vol)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let sd = text
        .split("Dumping attribute $SECURITY_DESCRIPTOR")
        .nth(1)?;
    let l = sd
        .lines()
        .find_map(|l| l.trim().strip_prefix("Owner SID:"))?;
    Some(l.trim().to_string())
}

/// Compares every in-use base record (the first 400) of the image's NTFS volumes with istat;
/// returns (entries compared with a 72-byte `$STANDARD_INFORMATION`, distinct SIDs seen).
/// `mkntfs`: TSK resolves no SID at all on volumes made by mkntfs (istat prints `()` for every
/// security id, although the `$SDS` entries are whole: mkntfs makes Administrators,
/// `S-1-5-32-544`, the owner of every descriptor it writes), so that is what is expected there;
/// and there ntfs-3g's `ntfsinfo` is the oracle of the files' own `$SECURITY_DESCRIPTOR`s.
fn compare(img: &Path, mkntfs: bool) -> (usize, std::collections::BTreeSet<String>) {
    let image = Image::open(img, VolumeSelect::default()).expect("image opens");
    let mut n = 0;
    let mut sids = std::collections::BTreeSet::new();
    for v in image.volumes() {
        let sectors = v.offset() / 512;
        // ntfsinfo reads bare volumes only: a copy of the partition.
        let bare = (mkntfs && have_ntfsinfo()).then(|| {
            let p = common::scratch().join(format!(
                "{}-{sectors}.vol",
                img.file_name().unwrap().to_string_lossy()
            ));
            let all = std::fs::read(img).unwrap();
            std::fs::write(
                &p,
                &all[v.offset() as usize..][..v.geometry().size as usize],
            )
            .unwrap();
            p
        });
        let mut sd_owners = 0;
        for entry in 0..v.record_count().min(400) {
            let Ok(f) = v.file(entry) else { continue };
            if f.deleted {
                continue;
            }
            let Some((owner_id, sec_id, sid)) = istat(img, sectors, entry) else {
                continue;
            };
            let si = f.si.expect("istat found $STANDARD_INFORMATION");
            match si.security_id {
                Some(id) => {
                    assert_eq!(id, sec_id, "{img:?} entry {entry}: security id");
                    assert_eq!(si.owner_id, Some(owner_id), "{img:?} entry {entry}");
                    let ours = v.owner_of(id).map(|o| o.sid.clone()).unwrap_or_default();
                    let want = if mkntfs && sid.is_empty() && id != 0 {
                        "S-1-5-32-544".to_string()
                    } else {
                        sid.clone()
                    };
                    assert_eq!(ours, want, "{img:?} entry {entry}: SID of security id {id}");
                    if !ours.is_empty() {
                        assert_eq!(v.file_owner(&f).map(|o| &o.sid), Some(&ours));
                    }
                    if !sid.is_empty() {
                        sids.insert(sid);
                    }
                    n += 1;
                }
                // The 48-byte form: istat prints 0 and no SID.
                None => assert_eq!(
                    (owner_id, sec_id, sid.as_str()),
                    (0, 0, ""),
                    "{img:?} entry {entry}"
                ),
            }
            if let Some(vol) = &bare {
                let want = ntfsinfo_sd_owner(vol, entry);
                assert_eq!(
                    f.sd_owner.as_ref().map(|o| &o.sid),
                    want.as_ref(),
                    "{img:?} entry {entry}"
                );
                if si.security_id.is_none_or(|i| i == 0) {
                    assert_eq!(v.file_owner(&f).map(|o| &o.sid), want.as_ref());
                }
                sd_owners += usize::from(want.is_some());
            }
        }
        if bare.is_some() {
            assert!(
                sd_owners > 10,
                "{img:?}: {sd_owners} $SECURITY_DESCRIPTOR owners compared"
            );
        }
        assert!(
            v.secure().diagnostics().is_empty(),
            "{:?}",
            v.secure().diagnostics()
        );
    }
    (n, sids)
}

#[test]
fn owners_agree_with_istat_on_windows_images() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    if !have_istat() {
        return;
    }
    let mut all = std::collections::BTreeSet::new();
    for name in [
        "ntfs-si-vs-fn.raw.gz",
        "ntfs_index.raw.gz",
        "ntfs-lastaccess.raw.gz",
    ] {
        let img = common::unpacked(&corpus.join("ntfs").join(name));
        let (n, sids) = compare(&img, false);
        eprintln!("{name}: {n} entries agree with istat; SIDs {sids:?}");
        assert!(n >= 20, "{name}: {n} entries with a security id compared");
        assert!(!sids.is_empty(), "{name}: no SID resolved");
        all.extend(sids);
    }
    // Windows' own owners: SYSTEM, Administrators and a local user at least.
    assert!(
        all.contains("S-1-5-18") && all.contains("S-1-5-32-544"),
        "{all:?}"
    );
    assert!(all.iter().any(|s| s.starts_with("S-1-5-21-")), "{all:?}");
}

#[test]
fn owners_agree_with_istat_on_fixtures() {
    if !have_istat() {
        return;
    }
    for name in ["ntfs-basic.img", "ntfs-shells.img", "disk-mbr.img"] {
        let (n, _) = compare(&common::fixture(name), true);
        eprintln!("{name}: {n} entries agree with istat");
        assert!(n >= 10, "{name}: {n}");
    }
}

#[test]
fn ls_and_hash_rows_carry_the_owner() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let img = common::unpacked(&corpus.join("ntfs").join("ntfs-si-vs-fn.raw.gz"));
    let img = img.to_str().unwrap();
    for cmd in ["ls", "hash"] {
        let (code, out, err) = common::run(&[cmd, img, "--format", "jsonl"]);
        assert_eq!(code, 0, "{err}");
        let rows = common::jsonl(&out);
        let by_path = |p: &str| {
            rows.iter()
                .find(|r| r["path"] == p && r["stream"].is_null())
                .unwrap_or_else(|| panic!("{cmd}: no row {p}"))
        };
        // istat: 39 test.txt is the user's (S-1-5-21-…-1001), 37 WPSettings.dat SYSTEM's.
        let t = by_path("/test/test.txt");
        assert_eq!(t["owner"], "S-1-5-21-2709547600-3263920637-3444635992-1001");
        assert!(t["owner_name"].is_null());
        let w = by_path("/System Volume Information/WPSettings.dat");
        assert_eq!(w["owner"], "S-1-5-18");
        assert_eq!(w["owner_name"], "NT AUTHORITY\\SYSTEM");
        // Appended after every field that was there before.
        let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
        assert_eq!(
            keys[keys.len() - 2..],
            ["owner", "owner_name"],
            "{cmd}: {keys:?}"
        );
    }
    let (code, out, _) = common::run(&["ls", img, "--format", "csv"]);
    assert_eq!(code, 0);
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().next().unwrap().ends_with(",owner,owner_name"));
    assert!(text.contains(",S-1-5-18,NT AUTHORITY\\SYSTEM"));
}

#[test]
fn findings_carry_the_owner() {
    let img = common::fixture("ntfs-shells.img");
    let (_, out, err) = common::run(&["scan", img.to_str().unwrap(), "--format", "jsonl"]);
    let findings = common::jsonl(&out);
    let on_files: Vec<_> = findings
        .iter()
        .filter(|f| f["location"]["mft_entry"].is_u64() && f["file"].is_object())
        .collect();
    assert!(!on_files.is_empty(), "{err}");
    // ntfs-3g gives its files a $SECURITY_DESCRIPTOR of their own (resident, or not when the
    // record is full, as for the shell in an alternate stream): owner Administrators.
    for f in &on_files {
        assert_eq!(f["file"]["owner"], "S-1-5-32-544", "{f}");
        assert_eq!(f["file"]["owner_name"], "BUILTIN\\Administrators", "{f}");
    }
    // Findings of a loose file have no owner.
    let shell = common::root().join("fixtures/shells");
    let (_, out, _) = common::run(&["scan", shell.to_str().unwrap(), "--format", "jsonl"]);
    for f in common::jsonl(&out) {
        if f["file"].is_object() {
            assert!(f["file"]["owner"].is_null(), "{f}");
        }
    }
}

/// An `$SDS` entry: header, then a self-relative descriptor owned by `sid` (sub-authorities
/// of authority 5).
fn entry(id: u32, at: u64, subs: &[u32]) -> Vec<u8> {
    let mut sd = vec![
        1, 0, 0x04, 0x80, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    sd.extend([1, subs.len() as u8, 0, 0, 0, 0, 0, 5]);
    for s in subs {
        sd.extend(s.to_le_bytes());
    }
    let mut e = Vec::new();
    e.extend(0u32.to_le_bytes());
    e.extend(id.to_le_bytes());
    e.extend(at.to_le_bytes());
    e.extend(((20 + sd.len()) as u32).to_le_bytes());
    e.extend(sd);
    while e.len() % 16 != 0 {
        e.push(0);
    }
    e
}

#[test]
fn sds_entries_and_mirrors() {
    let mut sds = entry(256, 0, &[18]);
    let second = sds.len() as u64;
    sds.extend(entry(257, second, &[32, 544]));
    sds.resize(256 << 10, 0);
    // The mirror of the first block: a different owner under id 256 would be wrong if read.
    let mirror = entry(256, 0, &[19]);
    sds.extend(&mirror);
    sds.resize(512 << 10, 0);
    sds.extend(entry(300, 512 << 10, &[20]));
    let t = SecureTable::parse(&sds);
    assert_eq!(t.len(), 3, "{:?}", t.diagnostics());
    assert_eq!(t.get(256).unwrap().sid, "S-1-5-18");
    assert_eq!(t.get(257).unwrap().name, Some("BUILTIN\\Administrators"));
    assert_eq!(
        t.get(300).unwrap().name,
        Some("NT AUTHORITY\\NETWORK SERVICE")
    );
    assert!(t.diagnostics().is_empty());
}

#[test]
fn hostile_sds_is_bounded() {
    // An entry whose offset field points back at the first (a loop if followed): the rest of
    // the block is skipped, with a diagnostic.
    let mut sds = entry(256, 0, &[18]);
    let at = sds.len();
    sds.extend(entry(257, 0, &[19]));
    sds.extend(entry(258, (at + 48) as u64, &[20]));
    let t = SecureTable::parse(&sds);
    assert_eq!(t.len(), 1);
    assert!(t.get(257).is_none() && t.get(258).is_none());
    assert!(
        t.diagnostics()[0].contains("names offset 0"),
        "{:?}",
        t.diagnostics()
    );

    // A length running over the next entries and past the block.
    let mut sds = entry(256, 0, &[18]);
    let mut huge = entry(258, sds.len() as u64, &[20]);
    huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    sds.extend(&huge);
    sds.extend(entry(259, sds.len() as u64, &[20]));
    let t = SecureTable::parse(&sds);
    assert_eq!(t.len(), 1);
    assert!(
        t.diagnostics()[0].contains("does not fit"),
        "{:?}",
        t.diagnostics()
    );

    // An owner offset outside its descriptor, a SID claiming 255 sub-authorities, a length
    // shorter than the header: each skipped, none panics.
    let mut sds = Vec::new();
    for (i, patch) in [(4usize, 250u8), (21, 255)].iter().enumerate() {
        let at = sds.len();
        let mut e = entry(400 + i as u32, at as u64, &[18]);
        e[20 + patch.0] = patch.1;
        sds.extend(e);
    }
    sds.extend(entry(402, sds.len() as u64, &[18]));
    let at = sds.len();
    let mut short = entry(403, at as u64, &[18]);
    short[16..20].copy_from_slice(&4u32.to_le_bytes());
    sds.extend(short);
    let t = SecureTable::parse(&sds);
    assert_eq!(t.len(), 1, "only 402 is whole");
    assert_eq!(t.diagnostics().len(), 3, "{:?}", t.diagnostics());

    // 8 MiB of entries whose owners are all out of place: diagnostics stay bounded.
    let mut sds = Vec::new();
    while sds.len() < (8 << 20) {
        let mut e = entry(300, (sds.len() % (256 << 10)) as u64, &[18]);
        e[24] = 0xF0;
        if sds.len() % (256 << 10) + e.len() > 256 << 10 {
            sds.resize(sds.len().next_multiple_of(256 << 10), 0);
            continue;
        }
        sds.extend(e);
    }
    let t = SecureTable::parse(&sds);
    assert!(t.is_empty());
    assert_eq!(t.diagnostics().len(), 64);

    // A descriptor that is not self-relative, or empty.
    let mut sd = entry(1, 0, &[18])[20..].to_vec();
    sd[3] = 0;
    assert!(descriptor_owner(&sd).is_err());
    assert!(descriptor_owner(&[]).is_err());
}

/// A copy of fixtures/ntfs-shells.img in which the resident `$SECURITY_DESCRIPTOR` owner of
/// each MFT entry of `entries` (Administrators, `S-1-5-32-544`, as ntfs-3g wrote it) is
/// patched to SYSTEM (`S-1-5-18`: one sub-authority fewer, the same place).
fn shells_owned_by_system(entries: &[u64]) -> std::path::PathBuf {
    let src = common::fixture("ntfs-shells.img");
    let mut img = std::fs::read(&src).unwrap();
    let image = Image::open(&src, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    let g = v.geometry();
    for &e in entries {
        // The fixture's MFT is one run at its start.
        let rec = (v.offset() + g.mft_offset + e * g.record_size) as usize;
        let r = &mut img[rec..rec + g.record_size as usize];
        assert_eq!(&r[..4], b"FILE");
        let mut a = u16::from_le_bytes([r[0x14], r[0x15]]) as usize;
        let sd = loop {
            let t = u32::from_le_bytes(r[a..a + 4].try_into().unwrap());
            assert_ne!(t, 0xFFFF_FFFF, "entry {e}: no $SECURITY_DESCRIPTOR");
            let len = u32::from_le_bytes(r[a + 4..a + 8].try_into().unwrap()) as usize;
            if t == 0x50 {
                assert_eq!(r[a + 8], 0, "entry {e}: resident");
                break a + u16::from_le_bytes([r[a + 20], r[a + 21]]) as usize;
            }
            a += len;
        };
        let owner = sd + u32::from_le_bytes(r[sd + 4..sd + 8].try_into().unwrap()) as usize;
        assert_eq!(
            r[owner..owner + 16],
            [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0]
        );
        // Clear of the update sequence slots at the end of each sector.
        assert!((owner..owner + 12).all(|i| i % 512 < 510), "entry {e}");
        r[owner + 1] = 1;
        r[owner + 8] = 18;
    }
    let p = common::scratch().join(format!("shells-system-{entries:?}.img"));
    std::fs::write(&p, img).unwrap();
    p
}

#[test]
fn web_shell_assessment_takes_a_system_writer_as_a_supporting_signal() {
    use deadbox::finding::{Finding, FindingKind, Severity};
    use deadbox::scan::Scan;
    // 112: the product-like OWA logon.aspx (benign); 108: a benign app page in wwwroot.
    let img = shells_owned_by_system(&[112, 108]);
    let run = |b: deadbox::scan::ScanBuilder, img: &Path| {
        let mut v: Vec<Finding> = Vec::new();
        b.build().unwrap().run(img, &mut v).unwrap();
        v
    };
    let web = |all: &[Finding], leaf: &str| -> Option<Finding> {
        all.iter()
            .find(|f| f.kind == FindingKind::WebShell && f.location.path.ends_with(leaf))
            .cloned()
    };
    let signals = |f: &Finding| f.detail.to_value()["signals"].to_string();

    // Without a baseline: logon.aspx is in a drop folder only (low); SYSTEM alone does not
    // raise it, but is named. The benign app page stays quiet.
    let all = run(Scan::builder(), &img);
    let logon = web(&all, "/owa/auth/logon.aspx").expect("logon.aspx ranked");
    assert_eq!(logon.severity, Severity::Low);
    assert!(
        signals(&logon).contains("written by SYSTEM"),
        "{}",
        signals(&logon)
    );
    assert_eq!(
        logon.file.as_ref().unwrap().owner.as_deref(),
        Some("S-1-5-18")
    );
    assert!(web(&all, "/app/Default.aspx").is_none());
    let plain = run(Scan::builder(), &common::fixture("ntfs-shells.img"));
    let before = web(&plain, "/owa/auth/logon.aspx").unwrap();
    assert_eq!(before.severity, Severity::Low);
    assert!(!signals(&before).contains("written by"));

    // With the baseline, logon.aspx is "not product" (medium); written by SYSTEM: high.
    let Some(corpus) = common::corpus() else {
        return;
    };
    let base = corpus.join("baselines/exchange_15.1.2106.2.csv");
    let all = run(Scan::builder().known_good_file(&base), &img);
    assert_eq!(
        web(&all, "/owa/auth/logon.aspx").unwrap().severity,
        Severity::High
    );
    let plain = run(
        Scan::builder().known_good_file(&base),
        &common::fixture("ntfs-shells.img"),
    );
    assert_eq!(
        web(&plain, "/owa/auth/logon.aspx").unwrap().severity,
        Severity::Medium
    );
}

#[test]
fn yara_external_owner_is_the_well_known_name_else_the_sid() {
    let rules = common::scratch().join("owner.yar");
    std::fs::write(
        &rules,
        r#"rule admins { meta: severity = "low" condition: owner == "BUILTIN\\Administrators" and filename == "errorPage.aspx" }
rule system_sid { meta: severity = "low" condition: owner == "S-1-5-18" }
rule system_name { meta: severity = "low" condition: owner == "NT AUTHORITY\\SYSTEM" and filename == "logon.aspx" }
rule nobody { meta: severity = "low" condition: owner == "" and filename == "errorPage.aspx" }
"#,
    )
    .unwrap();
    let img = shells_owned_by_system(&[112]);
    let (_, out, err) = common::run(&[
        "scan",
        img.to_str().unwrap(),
        "--no-builtin-rules",
        "--rules",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let hits: Vec<(String, String)> = common::jsonl(&out)
        .iter()
        .filter(|f| f["kind"] == "yara_match")
        .map(|f| {
            let p = f["location"]["path"].as_str().unwrap();
            (
                f["rule"]["name"].as_str().unwrap().to_string(),
                p.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        hits.contains(&("admins".into(), "errorPage.aspx".into())),
        "{hits:?} {err}"
    );
    assert!(
        hits.contains(&("system_name".into(), "logon.aspx".into())),
        "{hits:?}"
    );
    assert!(
        !hits.iter().any(|(r, _)| r == "system_sid" || r == "nobody"),
        "{hits:?}"
    );
}

#[test]
fn damaged_secure_on_a_volume_is_a_diagnostic() {
    // ntfs-basic.img with the length of its first $SDS entry (security id 256) made huge.
    let src = common::fixture("ntfs-basic.img");
    let mut img = std::fs::read(&src).unwrap();
    {
        let image = Image::open(&src, VolumeSelect::default()).unwrap();
        let v = &image.volumes()[0];
        assert_eq!(v.owner_of(256).unwrap().sid, "S-1-5-32-544");
        // $MFTMirr's security id is 256.
        let mirr = v.file(1).unwrap();
        assert_eq!(v.file_owner(&mirr).unwrap().sid, "S-1-5-32-544");
        let f = v.file(9).unwrap();
        let sds = f.stream(Some("$SDS")).unwrap();
        let at = (v.offset() + sds.runs()[0].lcn.unwrap() * v.geometry().cluster_size) as usize;
        assert_eq!(img[at + 4..at + 8], 256u32.to_le_bytes());
        img[at + 16..at + 20].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    }
    let p = common::scratch().join("basic-bad-sds.img");
    std::fs::write(&p, img).unwrap();
    let image = Image::open(&p, VolumeSelect::default()).unwrap();
    let v = &image.volumes()[0];
    assert!(v.owner_of(256).is_none());
    let d = v.secure().diagnostics();
    assert!(d.iter().any(|d| d.contains("does not fit")), "{d:?}");
    // The listing goes on; files whose descriptor was lost have no owner from $Secure.
    let (code, out, err) = common::run(&["ls", p.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("entry 9: $SDS entry at 0: length"), "{err}");
    let rows = common::jsonl(&out);
    let mft = rows.iter().find(|r| r["path"] == "/$MFTMirr").unwrap();
    assert!(mft["owner"].is_null(), "{mft}");
    let (_, out, _) = common::run(&["scan", p.to_str().unwrap(), "--format", "jsonl"]);
    let diag = common::jsonl(&out)
        .into_iter()
        .find(|f| f["kind"] == "diagnostic" && f["location"]["mft_entry"] == 9)
        .expect("a diagnostic finding for $Secure");
    assert!(
        diag["title"].as_str().unwrap().contains("does not fit"),
        "{diag}"
    );
}

/// The fuzz target `secure`'s assertions (fuzz/fuzz_targets/secure.rs), on deterministic
/// random and mutated `$SDS` bytes: bounded entries and diagnostics, well-formed SID texts.
#[test]
fn sds_bytes_of_any_shape_stay_in_bounds() {
    use deadbox::ntfs::secure::{descriptor_owner, parse_sid, MAX_SDS_ENTRIES};
    use deadbox::ntfs::SecureTable;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..300 {
        let len = (next() % 9000) as usize + round;
        let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Plausible headers now and then: offsets pointing at themselves, small lengths.
        let mut at = 0;
        while at + 20 <= data.len() && round % 2 == 0 {
            data[at + 8..at + 16].copy_from_slice(&(at as u64).to_le_bytes());
            data[at + 16..at + 20].copy_from_slice(&((next() % 200) as u32 + 20).to_le_bytes());
            at += 16 * ((next() % 8) as usize + 2);
        }
        let t = SecureTable::parse(&data);
        assert!(
            t.len() <= (data.len() / 20).min(MAX_SDS_ENTRIES),
            "entry bound"
        );
        assert!(t.diagnostics().len() <= 65, "diagnostic bound");
        if let Ok(o) = descriptor_owner(&data) {
            assert!(o.sid.starts_with("S-1-"), "owner SID text {}", o.sid);
        }
        if let Some((sid, used)) = parse_sid(&data) {
            assert!(sid.starts_with("S-") && used <= data.len() && used <= 8 + 4 * 15);
        }
    }
}
