//! Hostile evidence, round two (issue 14): inputs built here that amplify work or change under a
//! scan, each checked through the library and, where cheap, the CLI (under `ulimit -v` and a
//! timeout, as in `tests/corrupt.rs`): the run ends, exits 0/1/2, is never killed by a signal,
//! and reports what it cut.

mod common;
#[path = "support/peak.rs"]
mod peak;

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
    while runs < 10 || (start.elapsed() < Duration::from_secs(20) && runs < 60) {
        let mut all: Vec<Finding> = Vec::new();
        // A file vanishing between the listing and the read is a diagnostic, never an error.
        scan.run_path(&dir, &mut all).unwrap();
        diagnostics += all
            .iter()
            .filter(|f| f.kind == FindingKind::Diagnostic)
            .count();
        runs += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let (n, _) = m.join().unwrap();
    eprintln!("{runs} library scans, {n} changes, {diagnostics} diagnostics");
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
// 6. One in-memory budget for all workers.
// ---------------------------------------------------------------------------------------------

/// Ten loose files of 40 MiB scanned by 8 workers: with a 1 GiB limit each worker holds its
/// file (peak anonymous memory ~8 × 40 MiB); with `--max-in-memory` 48 MiB, one budget shared
/// by all workers, one file is held at a time: peak ≤ 48 MiB + the baseline, and every file is
/// still scanned (workers wait for the budget rather than cut work that fits it alone).
#[test]
fn max_in_memory_is_one_budget_for_all_workers() {
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
            "--max-in-memory",
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
    assert!(!text.contains("did not fit the in-memory budget"), "{text}");
    assert!(shared.anon < (48 + 64) << 10, "{shared:?}");
    assert!(
        wide.anon > shared.anon + (64 << 10),
        "{wide:?} vs {shared:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
