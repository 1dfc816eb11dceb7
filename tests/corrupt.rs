//! A deterministic corpus of corrupt and hostile images, derived from the committed fixtures at
//! test time (fixed seeds, a small xorshift PRNG; nothing is committed), each checked with the
//! library and with the CLI:
//! - never a panic or a signal; the CLI exits 0, 1 or 2 and finishes (killed and failed after
//!   [`CLI_TIMEOUT`]) under a 2 GiB address-space limit (`ulimit -v`), so an unbounded
//!   allocation fails the test;
//! - problems are reported (image / walk diagnostics, entry errors, stream errors, stderr);
//! - what is still readable is still returned: where one structure is damaged, every other truth
//!   row of the fixture still hashes right.
//!
//! Record and attribute offsets come from the library (`NtfsVolume::record_offset`, stream
//! runs) and from walking the record's attributes here, never from hard-coded positions.

mod common;
#[path = "support/mft_edit.rs"]
mod mft_edit;
#[path = "support/rng.rs"]
mod rng;

use deadbox::hash::Algorithms;
use deadbox::rows::{hash_listing, FileRow, HashRow};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use mft_edit::*;
use rng::Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A hung CLI run is killed and fails the test after this long.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
/// Address-space limit of CLI runs, in KiB (2 GiB).
const CLI_MEMORY_KIB: u64 = 2 << 20;
/// Streams larger than this are not read by the library checks (the CLI's `--max-read`
/// default, 64 GiB, bounds the CLI).
const LIB_MAX_READ: u64 = 1 << 30;

/// The fixture's bytes.
fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture(name)).unwrap()
}

/// Geometry and record offsets of the bare ntfs-basic fixture, from the library.
struct Basic {
    bytes: Vec<u8>,
    record_size: usize,
    cluster_size: u64,
    image: Image,
}

impl Basic {
    fn load() -> Self {
        let image = Image::open(&common::fixture("ntfs-basic.img"), VolumeSelect::default())
            .expect("ntfs-basic.img opens");
        let g = *image.volumes()[0].geometry();
        Basic {
            bytes: fixture_bytes("ntfs-basic.img"),
            record_size: g.record_size as usize,
            cluster_size: g.cluster_size,
            image,
        }
    }
    /// Runs `f` on MFT record `entry` of `b` (a copy of the fixture), fixups undone around it.
    fn edit(&self, b: &mut [u8], entry: u64, f: impl FnOnce(&mut [u8])) {
        edit_record(b, self.record_offset(entry), self.record_size, f)
    }
    fn record_offset(&self, entry: u64) -> usize {
        self.image.volumes()[0]
            .record_offset(entry)
            .unwrap_or_else(|| panic!("no offset for entry {entry}")) as usize
    }
    /// A stream's runs as absolute byte ranges (allocated runs only).
    fn stream_extents(&self, entry: u64, stream: Option<&str>) -> Vec<(usize, usize)> {
        let v = &self.image.volumes()[0];
        let listing = v.walk();
        let f = listing.entry(entry).unwrap();
        let s = f
            .streams
            .iter()
            .find(|s| s.name.as_deref() == stream)
            .unwrap();
        s.runs()
            .iter()
            .filter_map(|r| {
                let lcn = r.lcn?;
                Some((
                    (v.offset() + lcn * self.cluster_size) as usize,
                    (r.len * self.cluster_size) as usize,
                ))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Truth

struct Truth {
    partition: Option<u32>,
    path: String,
    stream: Option<String>,
    is_dir: bool,
    entry: u64,
    sha256: String,
}

fn truth(name: &str) -> Vec<Truth> {
    let text = std::fs::read_to_string(common::fixture(&format!("{name}.truth.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Truth {
                partition: Some(c[0].parse().unwrap()).filter(|p| *p != 0),
                path: c[2].to_string(),
                stream: Some(c[3].to_string()).filter(|s| !s.is_empty()),
                is_dir: c[4] == "1",
                entry: c[6].parse().unwrap(),
                sha256: c[8].to_string(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Library check

/// What the library made of an image.
#[derive(Default)]
struct LibOut {
    /// `Image::open` failed with this error.
    open_error: Option<String>,
    /// `Image::diagnostics`.
    image_diags: Vec<String>,
    /// Walk diagnostics as `entry N: message` (or `-: message`).
    walk_diags: Vec<String>,
    /// Directory rows, then one hash row per file stream (sha256).
    dirs: Vec<FileRow>,
    hashes: Vec<HashRow>,
    /// Errors of `visit_stream` calls (entry, message).
    visit_errors: Vec<(u64, String)>,
    /// `dir_index` errors (directory entry, message).
    index_errors: Vec<(u64, String)>,
    /// Live `$I30` entries read per directory (directory entry, count).
    index_counts: Vec<(u64, usize)>,
}

impl LibOut {
    fn all_diags(&self) -> String {
        let mut v = self.image_diags.clone();
        v.extend(self.walk_diags.iter().cloned());
        v.join("\n")
    }
    fn hash_of(&self, part: Option<u32>, path: &str, stream: Option<&str>) -> Option<&HashRow> {
        self.hashes.iter().find(|h| {
            h.row.partition == part && h.row.path == path && h.row.stream.as_deref() == stream
        })
    }
    fn rows_of_entry(&self, entry: u64) -> Vec<&FileRow> {
        self.dirs
            .iter()
            .chain(self.hashes.iter().map(|h| &h.row))
            .filter(|r| r.mft_entry == entry)
            .collect()
    }
}

/// Opens, walks, hashes and visits every stream of the image at `path`, in a thread that must
/// finish within the CLI timeout (a hang fails the test; a panic fails it too).
fn lib_check(path: &Path) -> LibOut {
    let path = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let name = path.display().to_string();
    let h = std::thread::spawn(move || {
        let _ = tx.send(lib_check_inner(&path));
    });
    match rx.recv_timeout(CLI_TIMEOUT) {
        Ok(out) => out,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The thread ended without sending: it panicked. Re-raise its panic.
            match h.join() {
                Err(p) => std::panic::resume_unwind(p),
                Ok(()) => unreachable!("the checking thread always sends"),
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: the library did not finish within {CLI_TIMEOUT:?}")
        }
    }
}

fn lib_check_inner(path: &Path) -> LibOut {
    let mut out = LibOut::default();
    let image = match Image::open(path, VolumeSelect::default()) {
        Ok(i) => i,
        Err(e) => {
            out.open_error = Some(e.to_string());
            return out;
        }
    };
    out.image_diags = image
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect();
    let sha = Algorithms::parse("sha256").unwrap();
    for v in image.volumes() {
        let listing = v.walk();
        for d in &listing.diagnostics {
            out.walk_diags.push(format!(
                "{}: {}",
                d.entry
                    .map(|e| format!("entry {e}"))
                    .unwrap_or_else(|| "-".into()),
                d.message
            ));
        }
        for item in listing.items() {
            // Every path is volume-rooted.
            assert!(item.path().starts_with('/'), "{:?}", item.path());
            if item.is_dir_row {
                out.dirs.push(FileRow::new(&item, v.partition()));
            }
        }
        for f in &listing.files {
            let _ = v.record_offset(f.entry);
            for s in &f.streams {
                let _ = v.stream_offset(s);
                let _ = v.contiguous_slice(s);
                if s.size > LIB_MAX_READ {
                    continue;
                }
                let mut n = 0u64;
                match v.visit_stream(s, &mut |c| {
                    n += c.len() as u64;
                    Ok(())
                }) {
                    Ok(()) => assert_eq!(
                        n, s.size,
                        "entry {} stream {:?}: a successful visit delivers exactly size bytes",
                        f.entry, s.name
                    ),
                    Err(e) => out.visit_errors.push((f.entry, e.to_string())),
                }
                let mut buf = Vec::new();
                if let Ok(b) = v.read_stream(s, &mut buf, 64 << 20) {
                    assert_eq!(b.len() as u64, s.size);
                }
            }
        }
        for f in listing.files.iter().filter(|f| f.is_dir) {
            let ix = v.dir_index(f);
            // Carved names are only taken when their key names this directory as parent.
            assert!(ix.slack.iter().all(|e| e.name.parent_entry == f.entry));
            out.index_counts.push((f.entry, ix.entries.len()));
            out.index_errors
                .extend(ix.errors.into_iter().map(|e| (f.entry, e)));
        }
        out.hashes
            .extend(hash_listing(v, &listing, sha, LIB_MAX_READ));
    }
    out
}

/// Every truth row of `name` not excluded by `skip` is present with its entry and content hash.
fn assert_truth_except(out: &LibOut, name: &str, skip: &dyn Fn(&Truth) -> bool) {
    let mut bad = Vec::new();
    let mut checked = 0;
    for t in truth(name).iter().filter(|t| !skip(t)) {
        checked += 1;
        if t.is_dir && t.stream.is_none() {
            if !out
                .dirs
                .iter()
                .any(|r| r.partition == t.partition && r.path == t.path && r.mft_entry == t.entry)
            {
                bad.push(format!("directory {} missing", t.path));
            }
            continue;
        }
        match out.hash_of(t.partition, &t.path, t.stream.as_deref()) {
            None => bad.push(format!("{}:{:?} missing", t.path, t.stream)),
            Some(h) => {
                if h.row.mft_entry != t.entry || h.sha256.as_deref() != Some(t.sha256.as_str()) {
                    bad.push(format!(
                        "{}:{:?}: entry {} sha256 {:?} (truth {} {}) error {:?}",
                        t.path, t.stream, h.row.mft_entry, h.sha256, t.entry, t.sha256, h.row.error
                    ));
                }
            }
        }
    }
    assert!(checked > 0);
    assert!(
        bad.is_empty(),
        "{name}: {} of {checked} intact truth rows differ:\n{}\ndiagnostics:\n{}",
        bad.len(),
        bad.join("\n"),
        out.all_diags()
    );
}

// ---------------------------------------------------------------------------------------------
// CLI check

/// Result of one CLI run.
struct CliOut {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// A private copy of the binary, taken once: other worktrees building into a shared target
/// directory relink `target/debug/deadbox` while these tests run, which made CLI runs fail
/// spuriously (or run another build's binary).
fn exe() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let dst = common::scratch().join("deadbox-under-test");
        std::fs::copy(common::exe(), &dst).unwrap();
        dst
    })
    .clone()
}

/// Runs the binary under `ulimit -v` and a timeout; fails on a signal, a hang, an exit code
/// other than 0/1/2, or a panic message.
fn cli(args: &[&str]) -> CliOut {
    let dir = common::scratch().join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let k = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (o, e) = (dir.join(format!("{k}.out")), dir.join(format!("{k}.err")));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {CLI_MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(exe())
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
        if start.elapsed() > CLI_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("deadbox {args:?} did not finish within {CLI_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = CliOut {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read(&o).unwrap(),
        stderr: String::from_utf8_lossy(&std::fs::read(&e).unwrap()).into_owned(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    assert!(
        status.code().is_some(),
        "deadbox {args:?} killed by a signal ({status:?}); stderr:\n{}",
        out.stderr
    );
    assert!(
        (0..=2).contains(&out.code) && !out.stderr.contains("panicked"),
        "deadbox {args:?}: exit {} stderr:\n{}",
        out.code,
        out.stderr
    );
    out
}

/// `info`, `ls --index-slack`, `hash` and `scan` of one image; returns the `hash` run.
fn cli_all(path: &Path) -> CliOut {
    let p = path.to_str().unwrap();
    cli(&["info", p, "--format", "jsonl"]);
    let ls = cli(&["ls", p, "--format", "jsonl", "--index-slack"]);
    common::jsonl(&ls.stdout);
    let scan = cli(&[
        "scan",
        "--all-files",
        "--no-builtin-rules",
        "--quiet",
        "--format",
        "jsonl",
        p,
    ]);
    common::jsonl(&scan.stdout);
    let hash = cli(&["hash", p, "--format", "jsonl", "--hashes", "sha256"]);
    common::jsonl(&hash.stdout);
    hash
}

/// Writes a case into the scratch folder.
fn write_case(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = common::scratch().join("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Library and CLI checks of one case.
fn check_case(name: &str, bytes: &[u8]) -> (LibOut, CliOut) {
    let p = write_case(name, bytes);
    let lib = lib_check(&p);
    let cli = cli_all(&p);
    if lib.open_error.is_some() {
        assert_eq!(cli.code, 2, "{name}: library refuses, CLI must fail");
    }
    (lib, cli)
}

/// The library reported something about this image: an error, a diagnostic, an entry or
/// stream error, or a failed read.
fn reported(lib: &LibOut) -> bool {
    lib.open_error.is_some()
        || !lib.image_diags.is_empty()
        || !lib.walk_diags.is_empty()
        || !lib.visit_errors.is_empty()
        || !lib.index_errors.is_empty()
        || lib.hashes.iter().any(|h| h.row.error.is_some())
        || lib.dirs.iter().any(|r| r.error.is_some())
}

// ---------------------------------------------------------------------------------------------
// Boot sector

#[test]
fn boot_sector_bit_flips() {
    let base = fixture_bytes("ntfs-basic.img");
    for seed in 0..24u64 {
        let mut rng = Rng::new(seed);
        let mut b = base.clone();
        // Even seeds: the BIOS parameter block only (where every bit matters); odd: anywhere.
        let range = if seed % 2 == 0 { 0x0B..0x54 } else { 0..512 };
        let n = 1 + rng.below(3) as usize;
        rng.flip_bits(&mut b, range, n);
        check_case(&format!("boot-flip-{seed}.img"), &b);
    }
}

#[test]
fn boot_sector_hostile_fields() {
    let base = fixture_bytes("ntfs-basic.img");
    // (name, offset, bytes)
    let edits: &[(&str, usize, &[u8])] = &[
        ("bps-0", 0x0B, &[0, 0]),
        ("bps-odd", 0x0B, &[0x01, 0x02]),
        ("spc-0", 0x0D, &[0]),
        ("spc-neg", 0x0D, &[0xF4]), // 2^12 sectors per cluster
        ("spc-neg-huge", 0x0D, &[0x80]),
        ("total-sectors-max", 0x28, &[0xFF; 8]),
        ("mft-lcn-max", 0x30, &[0xFF; 8]),
        ("mft-lcn-past-end", 0x30, &[0, 0, 0, 0x10, 0, 0, 0, 0]),
        ("mftmirr-lcn-max", 0x38, &[0xFF; 8]),
        ("record-size-neg-huge", 0x40, &[0x80]),
        ("record-size-0", 0x40, &[0]),
        ("record-size-64-clusters", 0x40, &[64]),
        ("index-size-0", 0x44, &[0]),
    ];
    for (name, off, bytes) in edits {
        let mut b = base.clone();
        b[*off..*off + bytes.len()].copy_from_slice(bytes);
        let (lib, _) = check_case(&format!("boot-{name}.img"), &b);
        assert!(
            lib.open_error.is_some() || !lib.hashes.is_empty(),
            "{name}: neither an error nor a listing"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// MFT records

#[test]
fn mft_record_bit_flips() {
    let basic = Basic::load();
    let entries = [
        0u64, 1, 3, 5, 64, 68, 69, 71, 76, 78, 84, 88, 90, 107, 112, 134, 139,
    ];
    for seed in 0..24u64 {
        let mut rng = Rng::new(1000 + seed);
        let entry = entries[rng.below(entries.len() as u64) as usize];
        let off = basic.record_offset(entry);
        let mut b = basic.bytes.clone();
        let n = 1 + rng.below(6) as usize;
        // Flip inside the fixed-up record so the damage reaches the parser.
        edit_record(&mut b, off, basic.record_size, |rec| {
            let len = rec.len();
            rng.flip_bits(rec, 0x30..len, n)
        });
        let (lib, _) = check_case(&format!("mft-flip-{seed}-entry{entry}.img"), &b);
        if entry >= 64 && lib.open_error.is_none() {
            // Only this record was touched: every file that is not it (nor under it, nor a link
            // of it) still reads right.
            let damaged_path = truth("ntfs-basic.img")
                .into_iter()
                .filter(|t| t.entry == entry)
                .map(|t| t.path)
                .collect::<Vec<_>>();
            assert_truth_except(&lib, "ntfs-basic.img", &|t| {
                t.entry == entry
                    || damaged_path
                        .iter()
                        .any(|p| t.path.starts_with(&format!("{p}/")))
            });
        }
    }
}

#[test]
fn run_list_bit_flips() {
    let basic = Basic::load();
    let entries = [68u64, 69, 71, 72, 74, 76, 77, 78, 81, 84, 85];
    for seed in 0..24u64 {
        let mut rng = Rng::new(2000 + seed);
        let entry = entries[rng.below(entries.len() as u64) as usize];
        let off = basic.record_offset(entry);
        let mut b = basic.bytes.clone();
        edit_record(&mut b, off, basic.record_size, |rec| {
            let (a, len) = find_attr(rec, 0x80, "");
            let runs = a + rd16(rec, a + 32) as usize;
            let n = 1 + rng.below(4) as usize;
            rng.flip_bits(rec, runs..a + len, n);
        });
        let (lib, _) = check_case(&format!("runs-flip-{seed}-entry{entry}.img"), &b);
        assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
    }
}

#[test]
fn broken_fixup_is_a_diagnostic_naming_the_entry() {
    let basic = Basic::load();
    let entry = 69; // /files/nonres_70001.bin
    let off = basic.record_offset(entry);
    let mut b = basic.bytes.clone();
    // The last two bytes of the first sector must equal the update sequence number.
    b[off + 510] ^= 0xFF;
    let (lib, cli) = check_case("fixup.img", &b);
    assert!(
        lib.walk_diags
            .iter()
            .any(|d| d.starts_with(&format!("entry {entry}:")) && d.contains("fixup")),
        "{}",
        lib.all_diags()
    );
    assert!(lib.rows_of_entry(entry).is_empty());
    assert!(
        cli.stderr.contains(&format!("entry {entry}")),
        "{}",
        cli.stderr
    );
    assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
}

#[test]
fn zeroed_mft_mirror_changes_nothing() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    for (o, n) in basic.stream_extents(1, None) {
        b[o..o + n].fill(0);
    }
    let (lib, _) = check_case("mftmirr-zero.img", &b);
    assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
}

#[test]
fn zeroed_mft_record_zero() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    let off = basic.record_offset(0);
    b[off..off + basic.record_size].fill(0);
    let (lib, cli) = check_case("mft0-zero.img", &b);
    // $MFT's own record is gone; its copy in $MFTMirr is used and that is reported.
    assert!(lib.open_error.is_none(), "{:?}", lib.open_error);
    assert!(lib.all_diags().contains("$MFTMirr"), "{}", lib.all_diags());
    assert!(cli.stderr.contains("$MFTMirr"), "{}", cli.stderr);
    assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
}

#[test]
fn zeroed_mft_record_zero_and_mirror() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    let off = basic.record_offset(0);
    b[off..off + basic.record_size].fill(0);
    for (o, n) in basic.stream_extents(1, None) {
        b[o..o + n].fill(0);
    }
    let (lib, cli) = check_case("mft0-mirr-zero.img", &b);
    let e = lib.open_error.expect("nothing to read the MFT from");
    assert!(e.contains("$MFT"), "{e}");
    assert_eq!(cli.code, 2);
}

#[test]
fn parent_reference_cycle_goes_under_orphan() {
    let basic = Basic::load();
    // /deep/d01 (112) gets /deep/d01/d02 (113) as its parent: d01 -> d02 -> d01.
    let (d01, d02) = (112u64, 113u64);
    let seq02 = {
        let o = basic.record_offset(d02);
        rd16(&basic.bytes, o + 16)
    };
    let mut b = basic.bytes.clone();
    edit_record(&mut b, basic.record_offset(d01), basic.record_size, |rec| {
        let v = file_name_value(rec);
        wr64(rec, v, d02 | (seq02 as u64) << 48);
    });
    let (lib, _) = check_case("parent-cycle.img", &b);
    assert!(
        lib.walk_diags.iter().any(|d| d.contains("loops")),
        "{}",
        lib.all_diags()
    );
    let bottom = lib.rows_of_entry(134);
    assert_eq!(bottom.len(), 1);
    assert!(
        bottom[0].path.starts_with("/$Orphan/") && bottom[0].path.ends_with("/d22/bottom.txt"),
        "{}",
        bottom[0].path
    );
    let h = lib.hashes.iter().find(|h| h.row.mft_entry == 134).unwrap();
    let t = truth("ntfs-basic.img");
    let want = t.iter().find(|t| t.entry == 134).unwrap();
    assert_eq!(h.sha256.as_deref(), Some(want.sha256.as_str()));
    assert_truth_except(&lib, "ntfs-basic.img", &|t| t.path.starts_with("/deep/"));
}

#[test]
fn self_parent_and_extension_record_of_itself() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    // /files/resident.txt (65) names itself as its parent.
    let seq = rd16(&b, basic.record_offset(65) + 16);
    edit_record(&mut b, basic.record_offset(65), basic.record_size, |rec| {
        let v = file_name_value(rec);
        wr64(rec, v, 65 | (seq as u64) << 48);
    });
    // /names/日本語.txt (139) claims to be an extension record of itself.
    let seq = rd16(&b, basic.record_offset(139) + 16);
    edit_record(&mut b, basic.record_offset(139), basic.record_size, |rec| {
        wr64(rec, 32, 139 | (seq as u64) << 48)
    });
    let (lib, _) = check_case("self-parent.img", &b);
    let r = lib.rows_of_entry(65);
    assert!(r[0].path.starts_with("/$Orphan/"), "{}", r[0].path);
    assert!(
        lib.walk_diags.iter().any(|d| d.starts_with("entry 139:")),
        "{}",
        lib.all_diags()
    );
    assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == 65 || t.entry == 139);
}

/// Replaces the run list of `entry`'s unnamed `$DATA` with `runs` (growing or shrinking the
/// attribute and moving the ones after it) and sets its sizes.
fn set_runs(basic: &Basic, b: &mut [u8], entry: u64, runs: &[u8], size: u64) {
    edit_record(b, basic.record_offset(entry), basic.record_size, |rec| {
        let (a, len) = find_attr(rec, 0x80, "");
        assert_ne!(rec[a + 8], 0, "non-resident");
        let ro = a + rd16(rec, a + 32) as usize;
        let new_len = (ro - a + runs.len()).next_multiple_of(8);
        let used = rd32(rec, 24) as usize;
        let new_used = used - len + new_len;
        assert!(new_used <= rec.len(), "no room for the run list");
        rec.copy_within(a + len..used, a + new_len);
        if new_used < used {
            rec[new_used..used].fill(0);
        }
        rec[ro..a + new_len].fill(0);
        rec[ro..ro + runs.len()].copy_from_slice(runs);
        wr32(rec, a + 4, new_len as u32);
        wr32(rec, 24, new_used as u32);
        let clusters = size.div_ceil(basic.cluster_size);
        wr64(rec, a + 24, clusters.saturating_sub(1)); // last VCN
        wr64(rec, a + 40, clusters.saturating_mul(basic.cluster_size));
        wr64(rec, a + 48, size);
        wr64(rec, a + 56, size);
    });
}

#[test]
fn run_lists_claiming_terabytes() {
    let basic = Basic::load();
    let entry = 69; // /files/nonres_70001.bin: one run of 18 clusters
    let lcn = basic.stream_extents(entry, None)[0].0 as u64 / basic.cluster_size;
    let lcn16 = (lcn as u16).to_le_bytes();
    let tib = 1u64 << 40;
    let cases: Vec<(&str, Vec<u8>, u64)> = vec![
        // 2^28 clusters (1 TiB) allocated from the file's own start: reads run off the volume.
        (
            "alloc-1t",
            vec![0x24, 0, 0, 0, 0x10, lcn16[0], lcn16[1], 0],
            tib,
        ),
        // The same as one hole: a sparse terabyte (over --max-read of the library check).
        ("hole-1t", vec![0x04, 0, 0, 0, 0x10, 0], tib),
        // A hole of 2^47 clusters and a size of 2^62 (sizes near u64::MAX: see
        // `scan_with_a_size_near_u64_max`).
        ("hole-huge", vec![0x06, 0, 0, 0, 0, 0, 0x80, 0], 1 << 62),
        // An LCN near 2^63: every offset computation overflows.
        (
            "lcn-2^62",
            vec![0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x40, 0],
            4096,
        ),
        // 512 MiB (under the library's read limit) from a real LCN: fails at the volume end.
        (
            "alloc-512m",
            vec![0x23, 0, 0, 2, lcn16[0], lcn16[1], 0],
            512 << 20,
        ),
        // Size 512 MiB, runs cover 18 clusters: the run list is incomplete.
        (
            "short-runs",
            vec![0x21, 18, lcn16[0], lcn16[1], 0],
            512 << 20,
        ),
    ];
    for (name, runs, size) in cases {
        let mut b = basic.bytes.clone();
        set_runs(&basic, &mut b, entry, &runs, size);
        let (lib, cli) = check_case(&format!("runs-{name}.img"), &b);
        let h = lib
            .hash_of(None, "/files/nonres_70001.bin", None)
            .unwrap_or_else(|| panic!("{name}: row missing"));
        assert_eq!(h.row.size, size, "{name}");
        assert!(h.row.error.is_some(), "{name}: no error on the stream");
        assert!(h.sha256.is_none(), "{name}");
        assert!(
            cli.stderr.contains("nonres_70001.bin"),
            "{name}: {}",
            cli.stderr
        );
        assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
    }
}

#[test]
fn fragment_starting_near_the_end_of_the_vcn_space() {
    // Regression of a `record` fuzz-target crash: a non-resident attribute whose start VCN is
    // 2^64 - 2 with a run of more clusters than that leaves; the end VCN overflowed in the
    // walk. Now the run is refused by the decoder and the stream reports it.
    let basic = Basic::load();
    let entry = 68; // /files/nonres_5000.bin
    let mut b = basic.bytes.clone();
    basic.edit(&mut b, entry, |rec| {
        let (a, _) = find_attr(rec, 0x80, "");
        wr64(rec, a + 16, u64::MAX - 1);
    });
    let (lib, _) = check_case("vcn-near-max.img", &b);
    let rows = lib.rows_of_entry(entry);
    assert!(!rows.is_empty());
    assert!(rows.iter().any(|r| r.error.is_some()), "{rows:?}");
    assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
}

#[test]
fn compressed_stream_claiming_huge_sizes() {
    let basic = Basic::load();
    let entry = 76; // /compressed/text_200k.txt
    for (name, size) in [
        ("512m", 512u64 << 20),
        ("1t", 1u64 << 40),
        ("2^62", 1u64 << 62),
    ] {
        let mut b = basic.bytes.clone();
        basic.edit(&mut b, entry, |rec| {
            let (a, _) = find_attr(rec, 0x80, "");
            wr64(rec, a + 48, size);
            wr64(rec, a + 56, size);
        });
        let (lib, _) = check_case(&format!("compressed-{name}.img"), &b);
        let h = lib
            .hash_of(None, "/compressed/text_200k.txt", None)
            .unwrap();
        assert!(h.row.error.is_some(), "{name}");
        assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
    }
    // Hostile compression units: 2^16 clusters (256 MiB units) and 2^255.
    for (name, cu) in [("cu16", 16u8), ("cu255", 255)] {
        let mut b = basic.bytes.clone();
        edit_record(
            &mut b,
            basic.record_offset(entry),
            basic.record_size,
            |rec| {
                let (a, _) = find_attr(rec, 0x80, "");
                rec[a + 34] = cu;
            },
        );
        let (lib, _) = check_case(&format!("compressed-{name}.img"), &b);
        let h = lib
            .hash_of(None, "/compressed/text_200k.txt", None)
            .unwrap();
        assert!(h.row.error.is_some(), "{name}");
        assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
    }
}

#[test]
fn scan_with_a_size_near_u64_max() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    edit_record(&mut b, basic.record_offset(76), basic.record_size, |rec| {
        let (a, _) = find_attr(rec, 0x80, "");
        wr64(rec, a + 48, u64::MAX);
        wr64(rec, a + 56, u64::MAX);
    });
    check_case("size-max.img", &b);
}

#[test]
fn duplicated_data_attribute_is_not_read_twice() {
    // A second unnamed $DATA attribute starting at VCN 0 (overlapping fragments): one reads, the
    // other is reported; the content is not doubled.
    let basic = Basic::load();
    let entry = 78; // /compressed/mixed_zeros.bin (compressed, several runs)
    let mut b = basic.bytes.clone();
    edit_record(
        &mut b,
        basic.record_offset(entry),
        basic.record_size,
        |rec| {
            let (a, len) = find_attr(rec, 0x80, "");
            let used = rd32(rec, 24) as usize;
            assert!(used + len <= rec.len());
            // Duplicate the attribute right after itself.
            rec.copy_within(a..used, a + len);
            wr32(rec, 24, (used + len) as u32);
            let id = rd16(rec, a + 14);
            wr16(rec, a + len + 14, id + 100);
        },
    );
    let (lib, _) = check_case("dup-data.img", &b);
    let h = lib
        .hash_of(None, "/compressed/mixed_zeros.bin", None)
        .unwrap();
    assert!(h.row.error.is_some(), "overlap must be reported");
    let want = truth("ntfs-basic.img")
        .into_iter()
        .find(|t| t.entry == entry)
        .unwrap();
    assert_eq!(h.sha256.as_deref(), Some(want.sha256.as_str()));
    assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
}

#[test]
fn mft_attribute_list_pointing_to_itself() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    edit_record(&mut b, basic.record_offset(0), basic.record_size, |rec| {
        // Insert a resident $ATTRIBUTE_LIST before the end marker: $DATA at VCN 0 in entry 0
        // (itself), $DATA at VCN 2 in entry 0 again, and one in entry 5 (the root: no base).
        let used = rd32(rec, 24) as usize;
        let end = used - 8;
        assert_eq!(rd32(rec, end), 0xFFFF_FFFF);
        let mut value = Vec::new();
        for (vcn, entry) in [(0u64, 0u64), (2, 0), (4, 5), (6, 1)] {
            let mut e = [0u8; 32];
            e[0..4].copy_from_slice(&0x80u32.to_le_bytes());
            e[4..6].copy_from_slice(&32u16.to_le_bytes());
            e[8..16].copy_from_slice(&vcn.to_le_bytes());
            e[16..24].copy_from_slice(&(entry | 1 << 48).to_le_bytes());
            value.extend_from_slice(&e);
        }
        let alen = 24 + value.len();
        assert!(used + alen <= rec.len());
        let mut attr = vec![0u8; alen];
        attr[0..4].copy_from_slice(&0x20u32.to_le_bytes());
        attr[4..8].copy_from_slice(&(alen as u32).to_le_bytes());
        attr[14..16].copy_from_slice(&200u16.to_le_bytes());
        attr[16..20].copy_from_slice(&(value.len() as u32).to_le_bytes());
        attr[20..22].copy_from_slice(&24u16.to_le_bytes());
        attr[24..].copy_from_slice(&value);
        rec[end..end + alen].copy_from_slice(&attr);
        wr32(rec, end + alen, 0xFFFF_FFFF);
        wr32(rec, end + alen + 4, 0);
        wr32(rec, 24, (used + alen) as u32);
    });
    let (lib, _) = check_case("mft-attrlist-self.img", &b);
    assert!(lib.open_error.is_none(), "{:?}", lib.open_error);
    assert!(
        lib.all_diags().contains("$MFT extension record"),
        "{}",
        lib.all_diags()
    );
    assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
}

#[test]
fn invalid_utf16_names() {
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    let entry = 139; // /names/日本語.txt
    edit_record(
        &mut b,
        basic.record_offset(entry),
        basic.record_size,
        |rec| {
            let v = file_name_value(rec);
            // A lone low surrogate, then two high surrogates without their low halves.
            let n = rec[v + 64] as usize;
            assert!(n >= 4);
            wr16(rec, v + 66, 0xDC00);
            wr16(rec, v + 68, 0xD800);
            wr16(rec, v + 70, 0xD800);
        },
    );
    let (lib, cli) = check_case("utf16.img", &b);
    let r = lib.rows_of_entry(entry);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].path.starts_with("/names/\u{FFFD}\u{FFFD}\u{FFFD}"),
        "{}",
        r[0].path
    );
    let h = lib
        .hashes
        .iter()
        .find(|h| h.row.mft_entry == entry)
        .unwrap();
    let want = truth("ntfs-basic.img")
        .into_iter()
        .find(|t| t.entry == entry)
        .unwrap();
    assert_eq!(h.sha256.as_deref(), Some(want.sha256.as_str()));
    assert!(String::from_utf8(cli.stdout).is_ok());
    assert_truth_except(&lib, "ntfs-basic.img", &|t| t.entry == entry);
}

// ---------------------------------------------------------------------------------------------
// Directory indexes ($I30)

/// Offsets of the INDX blocks (4 KiB, the fixture's index block and cluster size) whose live
/// keys name directory `dir` as their parent, found by scanning the image.
fn indx_blocks(img: &[u8], dir: u64) -> Vec<usize> {
    let mut out = Vec::new();
    for off in (0..img.len().saturating_sub(4096)).step_by(4096) {
        if &img[off..off + 4] != b"INDX" {
            continue;
        }
        let mut blk = img[off..off + 4096].to_vec();
        edit_record(&mut blk, 0, 4096, |b| {
            let first = 0x18 + rd32(b, 0x18) as usize;
            if rd64(b, first + 16) & 0xFFFF_FFFF_FFFF == dir {
                out.push(off);
            }
        });
    }
    out
}

/// Offsets of the live entries of an INDX block (fixups undone): (offset, length, flags).
fn indx_entries(b: &[u8]) -> Vec<(usize, usize, u16)> {
    let mut v = Vec::new();
    let mut o = 0x18 + rd32(b, 0x18) as usize;
    let end = 0x18 + rd32(b, 0x1C) as usize;
    while o + 16 <= end {
        let len = rd16(b, o + 8) as usize;
        let flags = rd16(b, o + 12);
        v.push((o, len, flags));
        if flags & 2 != 0 || len == 0 {
            break;
        }
        o += len;
    }
    v
}

/// Entry of `/manylinks` (120 hard links: a two-level `$I30` tree of several blocks).
const MANYLINKS: u64 = 89;

/// The library reported a loop in the index of /manylinks.
fn assert_loop_reported(lib: &LibOut) {
    assert!(
        lib.index_errors
            .iter()
            .any(|(d, e)| *d == MANYLINKS && e.contains("reached twice")),
        "{:?}",
        lib.index_errors
    );
}

#[test]
fn index_blocks_read_like_the_mft_says() {
    // The baseline the damage tests compare with: every directory's index agrees with the MFT.
    let basic = Basic::load();
    let v = &basic.image.volumes()[0];
    let listing = v.walk();
    let dir = listing.entry(MANYLINKS).unwrap();
    let ix = v.dir_index(dir);
    assert!(ix.errors.is_empty(), "{:?}", ix.errors);
    assert_eq!(ix.entries.len(), 120);
    assert!(ix
        .entries
        .iter()
        .any(|e| matches!(e.source, deadbox::ntfs::IndexSource::Node { .. })));
    assert!(indx_blocks(&basic.bytes, MANYLINKS).len() >= 2);
}

#[test]
fn index_node_pointing_to_itself() {
    let basic = Basic::load();
    let blocks = indx_blocks(&basic.bytes, MANYLINKS);
    let mut b = basic.bytes.clone();
    // The first block's end marker gets a sub-node: the block's own VCN.
    let off = blocks[0];
    edit_record(&mut b, off, 4096, |blk| {
        let vcn = rd64(blk, 0x10);
        let entries = indx_entries(blk);
        let &(end_off, _, _) = entries.last().unwrap();
        wr16(blk, end_off + 8, 24);
        wr16(blk, end_off + 12, 3);
        wr64(blk, end_off + 16, vcn);
        let used = rd32(blk, 0x1C);
        wr32(blk, 0x1C, used + 8);
        blk[0x18 + 12] |= 1; // the node has children now
    });
    let (lib, _) = check_case("i30-self-loop.img", &b);
    assert_loop_reported(&lib);
    // Nothing lost: all 120 names are still read once, and the MFT view is intact.
    assert!(
        lib.index_counts.contains(&(MANYLINKS, 120)),
        "{:?}",
        lib.index_counts
    );
    assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
    let ls = cli_ls_slack(&write_case("i30-self-loop.img", &b));
    assert!(
        ls.stderr.contains("$I30") && ls.stderr.contains("reached twice"),
        "{}",
        ls.stderr
    );
}

#[test]
fn index_children_pointing_to_one_node() {
    // Every sub-node VCN of the internal node of /manylinks (ntfs-3g gives it a root with one
    // entry and an internal INDX node above the leaves) set to the first leaf: that leaf is read
    // once, the rest is reported, nothing loops.
    let basic = Basic::load();
    let mut b = basic.bytes.clone();
    let internal: Vec<usize> = indx_blocks(&basic.bytes, MANYLINKS)
        .into_iter()
        .filter(|&o| {
            let mut blk = basic.bytes[o..o + 4096].to_vec();
            let mut has_children = false;
            edit_record(&mut blk, 0, 4096, |b| has_children = b[0x18 + 12] & 1 != 0);
            has_children
        })
        .collect();
    assert_eq!(internal.len(), 1, "one internal node expected");
    let mut first_child = None;
    edit_record(&mut b, internal[0], 4096, |blk| {
        for (o, len, flags) in indx_entries(blk) {
            if flags & 1 != 0 {
                let child = *first_child.get_or_insert(rd64(blk, o + len - 8));
                wr64(blk, o + len - 8, child);
            }
        }
    });
    let (lib, _) = check_case("i30-shared-child.img", &b);
    assert_loop_reported(&lib);
    let read = lib
        .index_counts
        .iter()
        .find(|(d, _)| *d == MANYLINKS)
        .unwrap()
        .1;
    assert!(read > 0 && read < 120, "{read}");
    assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
}

#[test]
fn index_block_bit_flips() {
    let basic = Basic::load();
    let mut blocks: Vec<usize> = Vec::new();
    for dir in [5u64, MANYLINKS] {
        blocks.extend(indx_blocks(&basic.bytes, dir));
    }
    assert!(blocks.len() >= 3, "{blocks:?}");
    for seed in 0..16u64 {
        let mut rng = Rng::new(7000 + seed);
        let off = blocks[rng.below(blocks.len() as u64) as usize];
        let mut b = basic.bytes.clone();
        let n = 1 + rng.below(8) as usize;
        if seed % 4 == 3 {
            // Raw: the fixups break, the block is reported and skipped.
            rng.flip_bits(&mut b, off..off + 4096, n);
        } else {
            // Inside the fixed-up block, so the damage reaches the entry parser.
            edit_record(&mut b, off, 4096, |blk| rng.flip_bits(blk, 0x18..4096, n));
        }
        let (lib, cli) = check_case(&format!("i30-flip-{seed}.img"), &b);
        // The index is a second copy of the names: the MFT view is untouched.
        assert_truth_except(&lib, "ntfs-basic.img", &|_| false);
        assert_eq!(cli.code, 0, "{}", cli.stderr);
    }
}

/// `ls --index-slack` of one image.
fn cli_ls_slack(p: &Path) -> CliOut {
    cli(&[
        "ls",
        p.to_str().unwrap(),
        "--format",
        "jsonl",
        "--index-slack",
    ])
}

// ---------------------------------------------------------------------------------------------
// Truncation

#[test]
fn truncation_at_many_lengths() {
    let basic = Basic::load();
    let mft = basic.record_offset(0);
    let rs = basic.record_size;
    let f70001 = basic.stream_extents(69, None)[0].0;
    let mut lengths = vec![
        0,
        1,
        511,
        512,
        513,
        4096,
        mft,
        mft + 1,
        mft + rs / 2,
        mft + 5 * rs,
        mft + 64 * rs + 100,
        mft + 100 * rs,
        f70001 + 30_000,
        basic.bytes.len() - 512,
        basic.bytes.len() - 1,
    ];
    let mut rng = Rng::new(3000);
    for _ in 0..6 {
        lengths.push(rng.below(basic.bytes.len() as u64) as usize);
    }
    for len in lengths {
        let (lib, cli) = check_case(&format!("trunc-{len}.img"), &basic.bytes[..len]);
        if len < 512 {
            assert!(lib.open_error.is_some());
            assert_eq!(cli.code, 2);
        } else if len < basic.bytes.len() - 512 {
            // Cut inside the volume (the last sector is the backup boot sector, outside it):
            // always reported, on stderr too.
            assert!(reported(&lib), "{len}: nothing reported");
            assert!(
                lib.open_error.is_some() || cli.stderr.contains("truncated"),
                "{len}: {}",
                cli.stderr
            );
        }
        if len > f70001 + 30_000 {
            assert!(lib.open_error.is_none(), "{len}: {:?}", lib.open_error);
        }
    }
    // Cut in the middle of /files/nonres_70001.bin: that stream errors, earlier files read.
    let (lib, _) = check_case("trunc-mid-file.img", &basic.bytes[..f70001 + 30_000]);
    let h = lib.hash_of(None, "/files/nonres_70001.bin", None).unwrap();
    assert!(h.row.error.is_some());
    let h = lib.hash_of(None, "/files/nonres_5000.bin", None).unwrap();
    let t = truth("ntfs-basic.img");
    assert_eq!(
        h.sha256.as_deref(),
        Some(t.iter().find(|t| t.entry == 68).unwrap().sha256.as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Partition tables

/// MBR slot `i` (0-based) of the sector at `b[0..512]`: (type, lba, count).
fn set_mbr_slot(b: &mut [u8], slot: usize, t: u8, lba: u32, count: u32) {
    let e = 446 + 16 * slot;
    b[e..e + 16].fill(0);
    b[e + 4] = t;
    wr32(b, e + 8, lba);
    wr32(b, e + 12, count);
}

#[test]
fn mbr_overlapping_out_of_range_and_ebr_loop() {
    let base = fixture_bytes("disk-mbr.img");
    let mut b = base.clone();
    // Slot 4 (free): the same sectors as partition 3 (overlap, and an NTFS volume twice).
    let p3 = &b[446 + 32..446 + 48];
    let (p3_lba, p3_cnt) = (rd32(p3, 8), rd32(p3, 12));
    set_mbr_slot(&mut b, 3, 0x07, p3_lba, p3_cnt);
    // Slot 1 (FAT16): past the end of the disk.
    set_mbr_slot(&mut b, 0, 0x06, 0xFFFF_FF00, 0xFF);
    // Second EBR (at ext + its own offset) points to itself.
    let ext_lba = rd32(&b, 446 + 16 + 8) as usize;
    let ebr1 = ext_lba * 512;
    let next_rel = rd32(&b, ebr1 + 462 + 8);
    let ebr2 = (ext_lba + next_rel as usize) * 512;
    wr32(&mut b, ebr2 + 462 + 8, next_rel);
    b[ebr2 + 462 + 4] = 0x05;
    wr32(&mut b, ebr2 + 462 + 12, 1);
    let (lib, cli) = check_case("mbr-hostile.img", &b);
    let d = lib.all_diags();
    assert!(d.contains("overlap"), "{d}");
    assert!(d.contains("past the end"), "{d}");
    assert!(d.contains("loops"), "{d}");
    assert!(cli.stderr.contains("loops"), "{}", cli.stderr);
    // Both NTFS volumes (3 and 6) still read right.
    assert_truth_except(&lib, "disk-mbr.img", &|_| false);

    // An extended partition whose first EBR points to itself, and a chain past the end.
    let mut b = base.clone();
    wr32(&mut b, ebr1 + 462 + 8, 0);
    let (lib, _) = check_case("mbr-ebr-self.img", &b);
    assert_truth_except(&lib, "disk-mbr.img", &|t| t.partition == Some(6));
    let mut b = base.clone();
    wr32(&mut b, ebr1 + 462 + 8, 0x7FFF_FFFF);
    b[ebr1 + 462 + 4] = 0x05;
    let (lib, _) = check_case("mbr-ebr-past-end.img", &b);
    assert!(
        lib.all_diags().contains("past the end"),
        "{}",
        lib.all_diags()
    );
    assert_truth_except(&lib, "disk-mbr.img", &|t| t.partition == Some(6));
}

#[test]
fn mbr_bit_flips() {
    let base = fixture_bytes("disk-mbr.img");
    let ext_lba = rd32(&base, 446 + 16 + 8) as usize;
    for seed in 0..12u64 {
        let mut rng = Rng::new(4000 + seed);
        let mut b = base.clone();
        let n = 1 + rng.below(4) as usize;
        if seed % 2 == 0 {
            rng.flip_bits(&mut b, 446..510, n);
        } else {
            let o = ext_lba * 512;
            rng.flip_bits(&mut b, o + 446..o + 510, n);
        }
        check_case(&format!("mbr-flip-{seed}.img"), &b);
    }
}

/// GPT geometry of disk-gpt4k.img: (sector size, primary header offset, backup header offset).
fn gpt_headers(b: &[u8]) -> (usize, usize, usize) {
    let ss = 4096;
    assert_eq!(&b[ss..ss + 8], b"EFI PART");
    let backup = rd64(b, ss + 32) as usize * ss;
    assert_eq!(&b[backup..backup + 8], b"EFI PART");
    (ss, ss, backup)
}

/// Recomputes a GPT header's CRC.
fn fix_header_crc(b: &mut [u8], off: usize) {
    let hsize = rd32(b, off + 12) as usize;
    wr32(b, off + 16, 0);
    let crc = crc32(&b[off..off + hsize]);
    wr32(b, off + 16, crc);
}

/// CRC-32 (IEEE), bitwise: the test has no dependency for it.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in data {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn gpt_bad_crc_uses_backup() {
    let base = fixture_bytes("disk-gpt4k.img");
    let (_, primary, _) = gpt_headers(&base);
    let mut b = base.clone();
    b[primary + 0x20] ^= 0x01; // my LBA: the header CRC no longer matches
    let (lib, cli) = check_case("gpt-bad-crc.img", &b);
    let d = lib.all_diags();
    assert!(d.contains("primary") && d.contains("CRC"), "{d}");
    assert!(cli.stderr.contains("CRC"), "{}", cli.stderr);
    assert_truth_except(&lib, "disk-gpt4k.img", &|_| false);
}

#[test]
fn gpt_entry_array_claiming_millions() {
    let base = fixture_bytes("disk-gpt4k.img");
    let (_, primary, backup) = gpt_headers(&base);
    let mut b = base.clone();
    wr32(&mut b, primary + 80, 4_000_000);
    fix_header_crc(&mut b, primary);
    let (lib, _) = check_case("gpt-millions.img", &b);
    let d = lib.all_diags();
    assert!(d.contains("4000000"), "{d}");
    assert_truth_except(&lib, "disk-gpt4k.img", &|_| false);
    // Both headers: nothing left to read.
    wr32(&mut b, backup + 80, u32::MAX);
    wr32(&mut b, backup + 84, u32::MAX);
    fix_header_crc(&mut b, backup);
    let (lib, cli) = check_case("gpt-millions-both.img", &b);
    assert!(lib.open_error.is_some());
    assert_eq!(cli.code, 2);
}

/// Rewrites the primary GPT's entry array with `entries` (each 128 bytes) and fixes both CRCs;
/// the backup header is destroyed so the primary is used.
fn with_gpt_entries(base: &[u8], entries: &[[u8; 128]]) -> Vec<u8> {
    let (ss, primary, backup) = gpt_headers(base);
    let mut b = base.to_vec();
    let arr = rd64(&b, primary + 72) as usize * ss;
    let mut bytes = Vec::new();
    for e in entries {
        bytes.extend_from_slice(e);
    }
    b[arr..arr + bytes.len()].copy_from_slice(&bytes);
    wr32(&mut b, primary + 80, entries.len() as u32);
    wr32(&mut b, primary + 84, 128);
    wr32(&mut b, primary + 88, crc32(&bytes));
    fix_header_crc(&mut b, primary);
    b[backup..backup + 8].fill(0);
    b
}

fn gpt_entry(first: u64, last: u64) -> [u8; 128] {
    let mut e = [0u8; 128];
    e[0] = 0xA2; // any non-zero type GUID
    e[16] = 1;
    e[32..40].copy_from_slice(&first.to_le_bytes());
    e[40..48].copy_from_slice(&last.to_le_bytes());
    for (i, u) in "hostile".encode_utf16().enumerate() {
        e[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    e
}

#[test]
fn gpt_hostile_entries() {
    let base = fixture_bytes("disk-gpt4k.img");
    let (ss, primary, _) = gpt_headers(&base);
    let arr = rd64(&base, primary + 72) as usize * ss;
    let p2 = rd64(&base, arr + 128 + 32);
    let p2_last = rd64(&base, arr + 128 + 40);
    // Overflowing ranges, a last LBA before the first, past the end.
    let b = with_gpt_entries(
        &base,
        &[
            gpt_entry(0, u64::MAX),
            gpt_entry(p2, p2_last),
            gpt_entry(1, u64::MAX),
            gpt_entry(u64::MAX, u64::MAX),
            gpt_entry(100, 50),
            gpt_entry(1 << 40, (1 << 40) + 10),
        ],
    );
    let (lib, _) = check_case("gpt-overflow.img", &b);
    assert!(lib.open_error.is_none(), "{:?}", lib.open_error);
    assert_truth_except(&lib, "disk-gpt4k.img", &|t| t.partition == Some(3));
    // Thousands of entries, all the same NTFS partition: overlaps are reported (bounded), the
    // volume is not opened thousands of times.
    let n = 8192;
    let entries = vec![gpt_entry(p2, p2_last); n];
    let b = with_gpt_entries(&base, &entries);
    // The array (1 MiB at LBA 2) overwrote the partitions before LBA 258; partition 2 is at 512.
    assert!(arr + n * 128 <= p2 as usize * ss);
    let (lib, cli) = check_case("gpt-8192-same.img", &b);
    assert!(lib.open_error.is_none(), "{:?}", lib.open_error);
    assert!(lib.all_diags().contains("overlap"));
    assert!(
        lib.image_diags.len() < 1000,
        "{} diagnostics",
        lib.image_diags.len()
    );
    assert!(cli.stderr.len() < 1 << 20);
    let vols: std::collections::HashSet<_> = lib.hashes.iter().map(|h| h.row.partition).collect();
    assert_eq!(vols.len(), 1, "{vols:?}");
}

#[test]
fn gpt_bit_flips() {
    let base = fixture_bytes("disk-gpt4k.img");
    let (_, primary, backup) = gpt_headers(&base);
    for seed in 0..12u64 {
        let mut rng = Rng::new(5000 + seed);
        let mut b = base.clone();
        let n = 1 + rng.below(4) as usize;
        // Flip header fields and keep the CRC valid, so the values reach the parser.
        let h = if seed % 3 == 0 { backup } else { primary };
        rng.flip_bits(&mut b, h + 24..h + 92, n);
        fix_header_crc(&mut b, h);
        if seed % 2 == 0 {
            b[primary + 0x10] ^= 1; // and break the primary's CRC half the time
        }
        check_case(&format!("gpt-flip-{seed}.img"), &b);
    }
}
