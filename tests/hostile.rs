//! Hostile evidence, round two (issue 14): inputs built here that amplify work or change under a
//! scan, each checked through the library and, where cheap, the CLI (under `ulimit -v` and a
//! timeout, as in `tests/corrupt.rs`): the run ends, exits 0/1/2, is never killed by a signal,
//! and reports what it cut.

mod common;
#[path = "support/peak.rs"]
mod peak;
#[path = "support/synth_volume.rs"]
mod synth_volume;

use deadbox::finding::{Finding, FindingKind};
use deadbox::scan::Scan;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A hung CLI run is killed and fails the test after this long.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// Address-space limit of CLI runs, in KiB (2 GiB).
const CLI_MEMORY_KIB: u64 = 2 << 20;

/// A private copy of the binary (other worktrees relink the shared one while tests run).
fn exe() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| {
        let dst = common::scratch().join("deadbox-under-test");
        std::fs::copy(common::exe(), &dst).unwrap();
        dst
    })
    .clone()
}

struct CliOut {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs the binary under `ulimit -v` and a timeout; fails on a hang, a signal, an exit code
/// other than 0/1/2 or a panic message.
fn cli(args: &[&str]) -> CliOut {
    let dir = common::scratch().join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let k = N.fetch_add(1, Ordering::Relaxed);
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
            panic!("deadbox {args:?} did not finish within {CLI_TIMEOUT:?} (blocked?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = CliOut {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: String::from_utf8_lossy(&std::fs::read(&e).unwrap()).into_owned(),
    };
    let _ = std::fs::remove_file(&o);
    let _ = std::fs::remove_file(&e);
    assert!(
        out.status.code().is_some(),
        "deadbox {args:?} killed by a signal ({:?}); stderr:\n{}",
        out.status,
        out.stderr
    );
    let code = out.status.code().unwrap();
    assert!(
        (0..=2).contains(&code) && !out.stderr.contains("panicked"),
        "deadbox {args:?}: exit {code} stderr:\n{}",
        out.stderr
    );
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Loose files that change under a scan.
// ---------------------------------------------------------------------------------------------

/// Size of each file in the changing folder.
const LIVE_FILE: usize = 4 << 20;
/// Files in the changing folder.
const LIVE_FILES: usize = 12;

fn live_bytes(i: usize) -> Vec<u8> {
    (0..LIVE_FILE).map(|k| (k * 31 + i * 7) as u8).collect()
}

/// Makes a FIFO at `p`.
fn mkfifo(p: &Path) -> bool {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    unsafe { libc::mkfifo(c.as_ptr(), 0o600) == 0 }
}

/// Makes a character device like `/dev/zero` at `p` (needs CAP_MKNOD; false without it).
fn mkdev(p: &Path) -> bool {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 5)) == 0 }
}

/// Fills `dir` with regular files, then, until `stop`, keeps changing them: truncated to
/// nothing and grown back, halved, removed, replaced by a FIFO or a device node and back.
/// Returns the number of changes made and whether device nodes could be made.
fn mutate(dir: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, bool)> {
    std::fs::create_dir_all(&dir).unwrap();
    let contents: Vec<Vec<u8>> = (0..LIVE_FILES).map(live_bytes).collect();
    for (i, c) in contents.iter().enumerate() {
        std::fs::write(dir.join(format!("f{i:02}.bin")), c).unwrap();
    }
    std::thread::spawn(move || {
        let mut n = 0u64;
        let mut devices = false;
        let mut k = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let i = k % LIVE_FILES;
            let p = dir.join(format!("f{i:02}.bin"));
            let regular = |p: &Path| {
                let _ = std::fs::remove_file(p);
                let _ = std::fs::write(p, &contents[i]);
            };
            match (k / LIVE_FILES) % 6 {
                // Shrinks to nothing, then grows back.
                0 => {
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) {
                        let _ = f.set_len(0);
                        std::thread::sleep(Duration::from_micros(200));
                        let _ = f.set_len(LIVE_FILE as u64);
                    }
                }
                // Halved.
                1 => {
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&p) {
                        let _ = f.set_len(LIVE_FILE as u64 / 2);
                    }
                }
                // Vanishes, then comes back as a FIFO.
                2 => {
                    let _ = std::fs::remove_file(&p);
                    mkfifo(&p);
                }
                // A regular file again.
                3 => regular(&p),
                // A device node (`/dev/zero`), where the test may make one.
                4 => {
                    let _ = std::fs::remove_file(&p);
                    devices |= mkdev(&p);
                }
                _ => regular(&p),
            }
            n += 1;
            k += 1;
            if k % LIVE_FILES == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        (n, devices)
    })
}

/// `deadbox scan` of a folder whose files are truncated, grown, removed and replaced by FIFOs
/// and device nodes while it is scanned, many times over: never killed by a signal (the old
/// memory maps of loose files died of SIGBUS), never blocked on a FIFO, exit 0/1/2.
#[test]
fn folder_changing_under_the_cli_never_kills_it() {
    let dir = common::scratch().join("live-cli");
    let stop = Arc::new(AtomicBool::new(false));
    let m = mutate(dir.clone(), stop.clone());
    let d = dir.to_str().unwrap();
    let start = Instant::now();
    let mut runs = 0;
    let mut changed = 0;
    while runs < 6 || (start.elapsed() < Duration::from_secs(20) && runs < 40) {
        let out = cli(&["scan", "--all-files", "--format", "jsonl", "--quiet", d]);
        let rows = common::jsonl(&out.stdout);
        changed += rows
            .iter()
            .filter(|r| r.to_string().contains("changed during the scan"))
            .count();
        runs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let (n, devices) = m.join().unwrap();
    eprintln!("{runs} CLI scans, {n} changes to the folder (device nodes: {devices}), {changed} changes reported");
    assert!(n > 100, "the folder hardly changed ({n} changes)");
}

/// The same through the library, in this process: a SIGBUS would kill the test binary.
#[test]
fn folder_changing_under_the_library_never_kills_it() {
    let dir = common::scratch().join("live-lib");
    let stop = Arc::new(AtomicBool::new(false));
    let m = mutate(dir.clone(), stop.clone());
    let scan = Scan::builder()
        .threads(2)
        .selection(deadbox::scan::Selection::triage().all_files(true))
        .build()
        .unwrap();
    let start = Instant::now();
    let mut runs = 0;
    let mut diagnostics = 0;
    let mut kinds = std::collections::BTreeMap::<String, u32>::new();
    while runs < 10 || (start.elapsed() < Duration::from_secs(20) && runs < 60) {
        let mut all: Vec<Finding> = Vec::new();
        // A file vanishing between the listing and the read is a diagnostic, never an error.
        scan.run_path(&dir, &mut all).unwrap();
        for f in all.iter().filter(|f| f.kind == FindingKind::Diagnostic) {
            diagnostics += 1;
            *kinds
                .entry(f.title.split(':').next().unwrap_or("").to_string())
                .or_insert(0) += 1;
        }
        runs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let (n, _) = m.join().unwrap();
    eprintln!("{runs} library scans, {n} changes, {diagnostics} diagnostics: {kinds:?}");
    assert!(n > 100, "the folder hardly changed ({n} changes)");
}

/// A FIFO and a device node in a folder (present when it is listed) are skipped, never opened;
/// a FIFO swapped in after the listing is refused, not read (it would block forever).
#[test]
fn fifos_and_devices_are_never_read() {
    let dir = common::scratch().join("fifo");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), b"hello").unwrap();
    assert!(mkfifo(&dir.join("pipe")));
    let dev = mkdev(&dir.join("zero"));
    let out = cli(&[
        "scan",
        "--all-files",
        "--format",
        "jsonl",
        "--quiet",
        dir.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("\"pipe\"") && !text.contains("/pipe\""),
        "{text}"
    );
    eprintln!("device node made: {dev}");
    // Swapped in after the listing: the open refuses it.
    let p = dir.join("late");
    std::fs::write(&p, b"x").unwrap();
    std::fs::remove_file(&p).unwrap();
    assert!(mkfifo(&p));
    let e = deadbox::evidence::open_loose(&p).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// 6. One memory budget for all workers.
// ---------------------------------------------------------------------------------------------

/// Ten loose files of 40 MiB scanned by 8 workers: with a 1 GiB limit each worker holds its
/// file (peak anonymous memory ~8 × 40 MiB); with `--max-memory` 48 MiB, one budget shared
/// by all workers, one file is held at a time: peak ≤ 48 MiB + the baseline, and every file is
/// still scanned (workers wait for the budget rather than cut work that fits it alone).
#[test]
fn max_memory_is_one_budget_for_all_workers() {
    let dir = common::scratch().join("budget");
    std::fs::create_dir_all(&dir).unwrap();
    let file: Vec<u8> = (0..40u32 << 20).map(|k| (k % 251) as u8).collect();
    for i in 0..10 {
        std::fs::write(dir.join(format!("dump{i}.bin")), &file).unwrap();
    }
    let d = dir.to_str().unwrap();
    let out = common::scratch().join("budget.jsonl");
    let run = |max: &str| {
        let _ = std::fs::remove_file(&out);
        let args = [
            "scan",
            "--all-files",
            "--no-builtin-rules",
            "--threads",
            "8",
            "--max-memory",
            max,
            "--format",
            "jsonl",
            d,
        ];
        let (code, p) = peak::peak_rss(&args, std::fs::File::create(&out).unwrap().into());
        assert!(code == 0 || code == 1, "exit {code}");
        let rows = common::jsonl(&std::fs::read(&out).unwrap());
        (p, rows)
    };
    let (wide, _) = run(&(1u64 << 30).to_string());
    let (shared, rows) = run(&(48u64 << 20).to_string());
    let text = rows
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!(
        "peak anonymous memory: {} KiB with 1 GiB, {} KiB with a shared 48 MiB (resident: {} / {} KiB)",
        wide.anon, shared.anon, wide.rss, shared.rss
    );
    assert!(!text.contains("did not fit the memory budget"), "{text}");
    assert!(shared.anon < (48 + 64) << 10, "{shared:?}");
    assert!(
        wide.anon > shared.anon + (64 << 10),
        "{wide:?} vs {shared:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 2. Names × streams.
// ---------------------------------------------------------------------------------------------

fn wr16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn wr32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn wr64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Appends a resident attribute at `off`; returns the offset after it, or `None` when it would
/// not fit the record.
fn put_resident(
    rec: &mut [u8],
    off: usize,
    t: u32,
    name: &str,
    id: u16,
    value: &[u8],
) -> Option<usize> {
    let name16: Vec<u16> = name.encode_utf16().collect();
    let value_off = (0x18 + 2 * name16.len()).next_multiple_of(8);
    let len = (value_off + value.len()).next_multiple_of(8);
    if off + len + 8 > rec.len() - 8 {
        return None;
    }
    wr32(rec, off, t);
    wr32(rec, off + 4, len as u32);
    rec[off + 9] = name16.len() as u8;
    wr16(rec, off + 10, 0x18);
    wr16(rec, off + 14, id);
    wr32(rec, off + 16, value.len() as u32);
    wr16(rec, off + 20, value_off as u16);
    rec[off + 22] = u8::from(t == 0x30);
    for (i, u) in name16.iter().enumerate() {
        wr16(rec, off + 0x18 + 2 * i, *u);
    }
    rec[off + value_off..off + value_off + value.len()].copy_from_slice(value);
    Some(off + len)
}

/// An in-use file record `entry` (sequence 1): a base record when `base` is `None`, else an
/// extension record of `base`; attributes `(type, name, value)` as many as fit; returns how
/// many were written.
fn file_record(
    rec: &mut [u8],
    entry: u64,
    base: Option<u64>,
    attrs: &[(u32, String, Vec<u8>)],
) -> usize {
    let mut off = begin_record(rec, entry, base);
    let mut n = 0;
    for (i, (t, name, value)) in attrs.iter().enumerate() {
        match put_resident(rec, off, *t, name, i as u16, value) {
            Some(o) => off = o,
            None => break,
        }
        n += 1;
    }
    end_record(rec, off, n);
    n
}

/// The header of an in-use file record (see [`file_record`]); returns where attributes start.
fn begin_record(rec: &mut [u8], entry: u64, base: Option<u64>) -> usize {
    let rs = rec.len();
    rec.fill(0);
    rec[0..4].copy_from_slice(b"FILE");
    let usa_count = rs / 512 + 1;
    wr16(rec, 4, 0x30);
    wr16(rec, 6, usa_count as u16);
    wr16(rec, 16, 1);
    wr16(rec, 18, 1);
    let first = (0x30 + 2 * usa_count).next_multiple_of(8);
    wr16(rec, 20, first as u16);
    wr16(rec, 22, 1);
    wr32(rec, 28, rs as u32);
    wr64(rec, 32, base.map_or(0, |b| b | 1 << 48));
    wr32(rec, 44, entry as u32);
    first
}

/// Ends a record begun by [`begin_record`] whose `n` attributes end at `off`: the end marker,
/// the used size, the next attribute id and the update sequence array.
fn end_record(rec: &mut [u8], off: usize, n: usize) {
    let usa_count = rec.len() / 512 + 1;
    wr32(rec, off, 0xFFFF_FFFF);
    wr32(rec, 24, (off + 8) as u32);
    wr16(rec, 40, n as u16);
    let usn = 7u16;
    wr16(rec, 0x30, usn);
    for i in 0..usa_count - 1 {
        let pos = (i + 1) * 512 - 2;
        let (a, b) = (rec[pos], rec[pos + 1]);
        rec[0x30 + 2 + 2 * i] = a;
        rec[0x30 + 3 + 2 * i] = b;
        wr16(rec, pos, usn);
    }
}

/// A `$FILE_NAME` value: `name` in the root directory (entry 5, sequence 5).
fn file_name_value(name: &str) -> Vec<u8> {
    let name16: Vec<u16> = name.encode_utf16().collect();
    let mut f = vec![0u8; 66 + 2 * name16.len()];
    wr64(&mut f, 0, 5 | 5 << 48);
    wr32(&mut f, 56, 0x20);
    f[64] = name16.len() as u8;
    f[65] = 1; // Win32
    for (i, u) in name16.iter().enumerate() {
        wr16(&mut f, 66 + 2 * i, *u);
    }
    f
}

/// A writable copy, named `name` in the scratch folder, of the generated volume of `records`
/// MFT records: the plan, the copy's path, the file opened for writing, the `$MFT`'s byte
/// offset and the record size. `None` where mkntfs is missing.
fn synth_copy(
    records: u64,
    name: &str,
) -> Option<(synth_volume::Synth, PathBuf, std::fs::File, u64, usize)> {
    let v = synth_volume::synth_volume(records)?;
    let img = common::scratch().join(name);
    std::fs::copy(&v.path, &img).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    let (mft, rs) = mft_geometry(&f);
    Some((v, img, f, mft, rs))
}

/// Byte offset of the `$MFT` and the MFT record size of the volume in `f`, from its boot sector.
fn mft_geometry(f: &std::fs::File) -> (u64, usize) {
    use std::os::unix::fs::FileExt;
    let mut boot = [0u8; 512];
    f.read_exact_at(&mut boot, 0).unwrap();
    let bps = u16::from_le_bytes([boot[0x0B], boot[0x0C]]) as u64;
    let cs = bps * boot[0x0D] as u64;
    let mft = u64::from_le_bytes(boot[0x30..0x38].try_into().unwrap()) * cs;
    let rs = match boot[0x40] as i8 {
        x if x < 0 => 1usize << (-x as u32),
        x => x as usize * cs as usize,
    };
    (mft, rs)
}

/// A generated volume where entry 600 is a base record whose 300 extension records (no
/// attribute list needed by the walk) add 576 hard links and 4,332 named resident `$DATA`
/// streams: unbounded, 577 names × 4,333 streams = 2.5 million rows (a ~2 GB `ls` from
/// 300 KiB of MFT). `ls` lists at most 8,192 rows for the entry, 4,096 streams, and says both in the
/// rows' errors; `scan --all-files` finishes under the memory limit.
#[test]
fn names_times_streams_bomb_through_the_cli() {
    let Some((_, img, f, mft, rs)) = synth_copy(2048, "names-streams.img") else {
        return;
    };
    use std::os::unix::fs::FileExt;
    const BASE: u64 = 600;
    let mut rec = vec![0u8; rs];
    let mut si = vec![0u8; 72];
    wr32(&mut si, 32, 0x20);
    file_record(
        &mut rec,
        BASE,
        None,
        &[
            (0x10, String::new(), si),
            (0x30, String::new(), file_name_value("bomb.bin")),
            (0x80, String::new(), b"base".to_vec()),
        ],
    );
    f.write_all_at(&rec, mft + BASE * rs as u64).unwrap();
    let (mut names, mut streams) = (0usize, 0usize);
    for k in 1..=300u64 {
        let e = BASE + k;
        let attrs: Vec<(u32, String, Vec<u8>)> = if k <= 72 {
            (0..9)
                .map(|i| {
                    (
                        0x30,
                        String::new(),
                        file_name_value(&format!("link{:04}", names + i)),
                    )
                })
                .collect()
        } else {
            (0..20)
                .map(|i| (0x80, format!("s{:04}", streams + i), vec![1u8]))
                .collect()
        };
        let n = file_record(&mut rec, e, Some(BASE), &attrs);
        if k <= 72 {
            names += n;
        } else {
            streams += n;
        }
        f.write_all_at(&rec, mft + e * rs as u64).unwrap();
    }
    drop(f);
    // 8 names or 19 streams fit a 1 KiB record.
    assert!(
        names > 500 && streams > 4096,
        "{names} names, {streams} streams"
    );
    let (names, streams) = (names + 1, streams + 1);
    let p = img.to_str().unwrap();
    let ls = cli(&["ls", p, "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = common::jsonl(&ls.stdout)
        .into_iter()
        .filter(|r| r["mft_entry"] == BASE)
        .collect();
    assert_eq!(rows.len(), 8192);
    let err = rows[0]["error"].as_str().unwrap_or_default().to_string();
    let cut = format!("{streams} streams, more than the 4096 kept per file");
    assert!(err.contains(&cut), "{err}");
    let rows_cut = format!(
        "{names} names × 4096 streams make {} rows, more than the 8192 listed per entry",
        names * 4096
    );
    assert!(err.contains(&rows_cut), "{err}");
    // Every kept stream is listed under the first name.
    let first = rows[0]["path"].as_str().unwrap().to_string();
    assert_eq!(
        rows.iter().filter(|r| r["path"] == first.as_str()).count(),
        4096
    );
    let scan = cli(&[
        "scan",
        "--all-files",
        "--no-builtin-rules",
        "--quiet",
        "--format",
        "jsonl",
        p,
    ]);
    let n = common::jsonl(&scan.stdout).len();
    eprintln!(
        "ls: {} rows of entry {BASE}; scan: {n} findings",
        rows.len()
    );
    let _ = std::fs::remove_file(&img);
}

// ---------------------------------------------------------------------------------------------
// Logs read as streams, line by line.
// ---------------------------------------------------------------------------------------------

/// A collected IIS log of 1.5 GiB: a hole of zeros (one endless "line", free to plant as a
/// sparse file) and then real lines. Read whole, it was refused (over the 1 GiB a log could
/// take in memory) or would cost 1.5 GiB; streamed, the lines after the hole are checked
/// under a 2 GiB address-space limit, and the cut line is reported.
#[test]
fn a_log_past_a_gigabyte_of_zeros_is_streamed_line_by_line() {
    let dir = common::scratch().join("streamed-log");
    let logs = dir.join("inetpub/logs/LogFiles/W3SVC1");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("u_ex210303.log");
    let hole: u64 = 3 << 29;
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(&log).unwrap();
        f.seek(SeekFrom::Start(hole)).unwrap();
        f.write_all(
            b"\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username \
              c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n\
              2021-03-03 01:00:05 10.0.0.10 POST /aspnet_client/system_web/Ab3dEf9h.aspx - 443 - \
              203.0.113.5 antSword/v2.1 - 200 0 0 15\r\n",
        )
        .unwrap();
    }
    let out = cli(&[
        "scan",
        "--format",
        "jsonl",
        "--quiet",
        dir.to_str().unwrap(),
    ]);
    let found = common::jsonl(&out.stdout);
    let iis: Vec<_> = found
        .iter()
        .filter(|f| f["kind"] == "iis_suspicious_request")
        .collect();
    assert_eq!(iis.len(), 1, "{found:#?}");
    assert_eq!(iis[0]["location"]["line"], 3, "{:#?}", iis[0]);
    assert!(
        iis[0]["title"].as_str().unwrap().contains("Ab3dEf9h.aspx"),
        "{:#?}",
        iis[0]
    );
    let cut = found.iter().any(|f| {
        f["kind"] == "diagnostic"
            && f.to_string()
                .contains("1 line(s) longer than 1048576 bytes")
    });
    assert!(cut, "the cut line is reported: {found:#?}");
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 7. One memory budget for the whole run, on a volume.
// ---------------------------------------------------------------------------------------------

/// A generated volume of 100,000 MFT records scanned with room to spare (1 GiB) and with a run
/// budget of 4 MiB, below what its namespace alone takes: the small-budget run still ends
/// (exit 0/1 under `ulimit -v`), reads every stream the other run reads, and says what it cut
/// (the namespace charged past the budget, the names listed under `/$Orphan` for want of room
/// for their paths), where the roomy run cuts nothing; `ls` and `timeline` under the same
/// budget list every entry.
#[test]
fn a_tiny_max_memory_cuts_work_with_diagnostics_and_the_scan_goes_on() {
    let Some(v) = synth_volume::synth_volume(100_000) else {
        return;
    };
    let img = v.path.to_str().unwrap();
    let run = |budget: u64| {
        let b = budget.to_string();
        let out = cli(&[
            "scan",
            img,
            "--all-files",
            "--no-builtin-rules",
            "--hashes",
            "sha256",
            "--max-memory",
            &b,
            "--format",
            "jsonl",
        ]);
        let streams: u64 = out
            .stderr
            .split(" streams (")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no stream count in {}", out.stderr));
        let budget_diags: Vec<String> = common::jsonl(&out.stdout)
            .iter()
            .map(|r| r["title"].as_str().unwrap_or_default().to_string())
            .filter(|t| t.contains("memory budget"))
            .collect();
        (streams, budget_diags)
    };
    let (roomy, none) = run(1 << 30);
    assert!(none.is_empty(), "{none:#?}");
    assert!(roomy > 90_000, "{roomy}");
    let (tight, cut) = run(4 << 20);
    assert_eq!(tight, roomy);
    assert!(
        cut.iter()
            .any(|t| t.contains("the namespace of this volume")),
        "{cut:#?}"
    );
    assert!(
        cut.iter().any(|t| t.contains("listed under /$Orphan")),
        "{cut:#?}"
    );
    // `ls` draws on a budget too: every entry is still listed, under `/$Orphan`, and the
    // warnings say why.
    let ls = |budget: &str| {
        let out = cli(&["ls", img, "--format", "jsonl", "--max-memory", budget]);
        let rows = common::jsonl(&out.stdout);
        let entries: std::collections::BTreeSet<u64> = rows
            .iter()
            .map(|r| r["mft_entry"].as_u64().unwrap())
            .collect();
        let orphans = rows
            .iter()
            .filter(|r| r["path"].as_str().unwrap().starts_with("/$Orphan/"))
            .count();
        (entries, orphans, rows.len(), out.stderr)
    };
    let (all, few, n, _) = ls("1073741824");
    let (cut_entries, orphans, cut_n, warnings) = ls("4194304");
    assert_eq!(cut_entries, all);
    assert_eq!(cut_n, n);
    assert!(few < 100 && orphans + 1 >= n, "{few} {orphans} of {n}");
    assert!(
        warnings.contains("the namespace of this volume"),
        "{warnings}"
    );
    // So does `timeline`: the same number of bodyfile lines, names under `/$Orphan`.
    let bodyfile = |budget: &str| {
        let out = cli(&[
            "timeline",
            img,
            "--format",
            "bodyfile",
            "--max-memory",
            budget,
            "--quiet",
        ]);
        (out.stdout.split(|&b| b == b'\n').count(), out.stderr)
    };
    let (lines, _) = bodyfile("1073741824");
    let (cut_lines, warnings) = bodyfile("4194304");
    assert!(lines > 100_000, "{lines}");
    assert_eq!(cut_lines, lines);
    assert!(
        warnings.contains("the namespace of this volume"),
        "{warnings}"
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Whole-MFT copies: records widened in memory.
// ---------------------------------------------------------------------------------------------

/// A file record whose non-resident `$DATA` is as many one-cluster holes as fit (2 bytes each
/// on disk, a 32-byte `Run` in memory: a 1 KiB record becomes ~10 KB). Returns the runs.
fn runs_record(rec: &mut [u8], entry: u64) -> usize {
    let mut si = vec![0u8; 72];
    wr32(&mut si, 32, 0x20);
    let mut off = begin_record(rec, entry, None);
    off = put_resident(rec, off, 0x10, "", 0, &si).unwrap();
    let name = file_name_value(&format!("r{entry}.bin"));
    off = put_resident(rec, off, 0x30, "", 1, &name).unwrap();
    // Non-resident header of 0x40 bytes, then the run list and its 0 terminator.
    let room = rec.len() - 8 - off - 0x40 - 8;
    let runs = room / 2;
    let len = (0x40 + 2 * runs + 1).next_multiple_of(8);
    wr32(rec, off, 0x80);
    wr32(rec, off + 4, len as u32);
    rec[off + 8] = 1;
    wr16(rec, off + 10, 0x40);
    wr16(rec, off + 14, 2);
    wr64(rec, off + 0x18, runs as u64 - 1);
    wr16(rec, off + 0x20, 0x40);
    for k in [0x28, 0x30, 0x38] {
        wr64(rec, off + k, runs as u64 * 4096);
    }
    for r in 0..runs {
        rec[off + 0x40 + 2 * r] = 0x01;
        rec[off + 0x41 + 2 * r] = 1;
    }
    end_record(rec, off + len, 3);
    runs
}

/// A generated volume whose 60,000 records each hold ~340 data runs: what the walk holds per
/// record is ~10 times the record. Held whole, the MFT would take ~600 MB; the streaming walk
/// keeps a window of batches (4,096 records each) in flight, 4 per thread, and under a run
/// budget only as many as half the budget holds at their worst (16 × the MFT bytes of a
/// batch). With 8 threads and a 128 MiB budget (one batch in flight) the scan's anonymous
/// memory stays under the budget plus 64 MiB (the allocator keeps some freed batches in its
/// per-thread arenas), far below the same scan with 8 threads and a roomy budget (32 batches
/// wanted, ~8 built at once; measured: 387–388 MiB against 125–162 MiB), and both give the
/// same findings.
#[test]
fn records_widened_in_memory_stay_within_the_run_budget() {
    let Some((v, img, f, mft, rs)) = synth_copy(60_000, "runs-bomb.img") else {
        return;
    };
    use std::os::unix::fs::FileExt;
    let first = synth_volume::FIRST;
    let mut all = vec![0u8; rs * (v.records - first) as usize];
    let mut runs = 0;
    for (k, rec) in all.chunks_mut(rs).enumerate() {
        runs = runs_record(rec, first + k as u64);
    }
    f.write_all_at(&all, mft + first * rs as u64).unwrap();
    drop(f);
    assert!(runs > 250, "{runs} runs per record");
    let p = img.to_str().unwrap();
    let out = common::scratch().join("runs-bomb.jsonl");
    let run = |budget: u64| {
        let b = budget.to_string();
        let args = [
            "scan",
            p,
            "--threads",
            "8",
            "--max-memory",
            &b,
            "--hashes",
            "sha256",
            "--format",
            "jsonl",
        ];
        let (code, peak) = peak::peak_rss(&args, std::fs::File::create(&out).unwrap().into());
        assert!(code == 0 || code == 1, "exit {code}");
        let titles: Vec<String> = common::jsonl(&std::fs::read(&out).unwrap())
            .iter()
            .map(|r| r["title"].as_str().unwrap_or_default().to_string())
            .collect();
        (peak, titles)
    };
    let (roomy, roomy_out) = run(4 << 30);
    let (tight, tight_out) = run(128 << 20);
    eprintln!(
        "{} records of {runs} runs: peak anonymous memory {} KiB with 4 GiB, {} KiB with 128 MiB",
        v.records, roomy.anon, tight.anon
    );
    assert_eq!(tight_out, roomy_out);
    assert!(tight.anon < (128 + 64) << 10, "{tight:?}");
    assert!(
        roomy.anon > tight.anon + (100 << 10),
        "{roomy:?} vs {tight:?}"
    );
    let _ = std::fs::remove_file(&img);
}
