//! Event logs parsed in a child process, so that the `evtx` crate cannot take the scan down.
//!
//! The crate is third-party code over attacker-controlled bytes. A panic in it is caught
//! (`catch_unwind`), but an allocation failure is not a panic: Rust aborts the process, and
//! the crate has had allocations sized from corrupt length fields (evtx issues #291–#294). With
//! [`EvtxIsolation`] set on the [`super::ScanBuilder`], each EVTX file is parsed by a child:
//! the given executable, run with the given arguments plus `--max-memory N --max-records M`,
//! reading the file's bytes on stdin and writing one JSON line per record on stdout
//! ([`child_main`] is that child's body; the `deadbox` binary runs it as its hidden
//! `__evtx-records` command). The matchers run here, in the parent, on the records as they
//! arrive ([`crate::exchange::EventLogChecker`]), so what the child had written before it died
//! is still checked. The child:
//!
//! - limits its own address space (`RLIMIT_AS`) to `--max-memory` on Unix, so a huge
//!   allocation fails inside it, not in the machine;
//! - is killed when it runs longer than the time limit;
//! - dying (a signal, an abort, a non-zero exit, a line longer than [`MAX_LINE`], no final
//!   line) becomes one diagnostic for that file, naming the cause, the records read before and
//!   the child's first stderr line; the scan goes on with the other files.
//!
//! Without the hook, EVTX files are parsed in the scan's own process (as a library user who
//! cannot spawn processes needs).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exchange::{eventlog, EventLogChecker, EvtxRecord, LogKind, LogReport};
use crate::ntfs::DiagnosticKind;

/// The longest line accepted from the child (one record as JSON): 16 MiB.
pub const MAX_LINE: u64 = 16 << 20;

/// How EVTX files are parsed in a child process (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvtxIsolation {
    exe: PathBuf,
    args: Vec<OsString>,
    max_memory: u64,
    timeout: Duration,
}

impl EvtxIsolation {
    /// Children of `exe`, run as `exe __evtx-records --max-memory N --max-records M` (the
    /// `deadbox` binary's hidden command: pass `std::env::current_exe()`). Defaults: 2 GiB of
    /// address space, 300 s per file.
    ///
    /// ```
    /// use deadbox::scan::{EvtxIsolation, Scan};
    /// let iso = EvtxIsolation::new("/usr/local/bin/deadbox")
    ///     .max_memory(1 << 30)
    ///     .timeout(std::time::Duration::from_secs(60));
    /// let scan = Scan::builder().evtx_isolation(iso);
    /// ```
    pub fn new(exe: impl Into<PathBuf>) -> Self {
        EvtxIsolation {
            exe: exe.into(),
            args: vec!["__evtx-records".into()],
            max_memory: 2 << 30,
            timeout: Duration::from_secs(300),
        }
    }

    /// Replaces the arguments put before `--max-memory …` (default `__evtx-records`): for
    /// another program that speaks the same protocol ([`child_main`]).
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<OsString>>) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The child's address-space limit in bytes, on top of twice the file's size (the child
    /// holds the file). Applied by the child to itself (`RLIMIT_AS`, Unix only).
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// How long one file may take before its child is killed, plus one second per MiB of
    /// the file (a 1 GiB `Security.evtx` of two million records takes minutes).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// One line of the child's output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    /// A record.
    Record(EvtxRecord),
    /// A record that could not be parsed, why.
    Unreadable(String),
    /// The last line: the child finished; why it stopped early, if it did.
    End(Option<String>),
}

/// The child's body: applies the memory limit to this process, reads an EVTX file from
/// stdin (at most 1 GiB), and writes its records (at most `max_records`) to stdout as JSON
/// lines, then an end line. Returns the exit code (0; 2 when stdin cannot be read or the limit
/// cannot be set). Meant for a process of its own: it changes the process's limits.
pub fn child_main(max_memory: u64, max_records: u64) -> i32 {
    if let Err(e) = limit_memory(max_memory) {
        eprintln!("deadbox: cannot limit memory: {e}");
        return 2;
    }
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin()
        .lock()
        .take(1 << 30)
        .read_to_end(&mut bytes)
    {
        eprintln!("deadbox: cannot read the EVTX file from stdin: {e}");
        return 2;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut write = |line: &Line| {
        serde_json::to_writer(&mut out, line)
            .ok()
            .and_then(|_| out.write_all(b"\n").ok())
            .is_some()
    };
    let r = eventlog::read_records(&bytes, max_records, &mut |rec| {
        write(&match rec {
            Ok(r) => Line::Record(r),
            Err(e) => Line::Unreadable(e),
        })
    });
    write(&Line::End(r.err()));
    let _ = out.flush();
    0
}

#[cfg(unix)]
fn limit_memory(bytes: u64) -> std::io::Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    // Never above a hard limit already set on us (`ulimit -v` on the scan): lowering is
    // allowed, raising is not.
    let bytes = getrlimit(Resource::As)
        .maximum
        .map_or(bytes, |hard| hard.min(bytes));
    setrlimit(
        Resource::As,
        Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        },
    )
    .map_err(std::io::Error::from)
}

#[cfg(not(unix))]
fn limit_memory(_bytes: u64) -> std::io::Result<()> {
    // No address-space limit here: the time limit and the process boundary still hold.
    Ok(())
}

/// Checks one EVTX log of `kind` by parsing `bytes` in a child process (see the module
/// docs). Text logs are checked in this process.
pub(crate) fn check(kind: &LogKind, bytes: &[u8], iso: &EvtxIsolation) -> LogReport {
    let Some(mut checker) = EventLogChecker::for_kind(kind) else {
        return crate::exchange::check_log(kind, bytes);
    };
    let problem = for_each_record(bytes, iso, &mut |r| {
        checker.record(r);
        true
    });
    if let Some((kind, message)) = problem {
        checker.problem(kind, message);
    }
    checker.finish()
}

/// Parses the EVTX file `bytes` in a child process (see the module docs) and gives `f` each
/// record as it arrives (or why one could not be read), until `f` returns `false` (the child
/// is then killed). Returns what ended the child early, if anything did: the record limit,
/// the time or memory limit, its death; the records given before it stand. The scan's event
/// log checks and `timeline --all-log-entries` read event logs through it.
pub fn for_each_record(
    bytes: &[u8],
    iso: &EvtxIsolation,
    f: &mut dyn FnMut(Result<EvtxRecord, String>) -> bool,
) -> Option<(DiagnosticKind, String)> {
    let limit = iso
        .max_memory
        .saturating_add((bytes.len() as u64).saturating_mul(2));
    let timeout = iso
        .timeout
        .saturating_add(Duration::from_secs(bytes.len() as u64 >> 20));
    let spawned = Command::new(&iso.exe)
        .args(&iso.args)
        .arg("--max-memory")
        .arg(limit.to_string())
        .arg("--max-records")
        .arg(crate::exchange::MAX_EVTX_RECORDS.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Some((
                DiagnosticKind::Unreadable,
                format!(
                    "not read: the EVTX parser process {} could not start: {e}",
                    iso.exe.display()
                ),
            ));
        }
    };
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let child = Mutex::new(child);
    let done = AtomicBool::new(false);
    let timed_out = AtomicBool::new(false);
    let started = Instant::now();
    let mut records = 0u64;
    let mut end: Option<Option<String>> = None;
    let mut broken: Option<String> = None;
    let mut stopped = false;
    let mut first_err = String::new();
    std::thread::scope(|s| {
        // The file goes in on its own thread: the child writes while it reads.
        s.spawn(move || {
            if let Some(mut w) = stdin {
                let _ = w.write_all(bytes);
            }
        });
        let err_reader = s.spawn(move || {
            let mut text = Vec::new();
            if let Some(e) = stderr {
                let mut e = e;
                let _ = (&mut e).take(4096).read_to_end(&mut text);
                // Drain the rest so the child never blocks on a full pipe.
                let _ = std::io::copy(&mut e, &mut std::io::sink());
            }
            String::from_utf8_lossy(&text).into_owned()
        });
        // The watchdog: kills the child at the time limit.
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if started.elapsed() >= timeout {
                    timed_out.store(true, Ordering::Relaxed);
                    if let Ok(mut c) = child.lock() {
                        let _ = c.kill();
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        if let Some(out) = stdout {
            let mut r = BufReader::new(out);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut r).take(MAX_LINE).read_until(b'\n', &mut buf) {
                    Ok(0) => break,
                    Ok(_) if buf.last() != Some(&b'\n') && buf.len() as u64 >= MAX_LINE => {
                        broken = Some(format!("a record line longer than {MAX_LINE} bytes"));
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        broken = Some(format!("reading its output: {e}"));
                        break;
                    }
                }
                match serde_json::from_slice::<Line>(&buf) {
                    Ok(Line::Record(rec)) => {
                        records += 1;
                        stopped = !f(Ok(rec));
                    }
                    Ok(Line::Unreadable(e)) => stopped = !f(Err(e)),
                    Ok(Line::End(e)) => {
                        end = Some(e);
                        break;
                    }
                    // A torn last line (the child died while writing it) is no record: its
                    // death is reported. A whole line that does not read back (JSON nested
                    // deeper than serde_json's limit) is one unreadable record.
                    Err(e) if buf.last() == Some(&b'\n') => {
                        stopped = !f(Err(format!(
                            "record not readable from the parser process: {e}"
                        )))
                    }
                    Err(_) => {}
                }
                if stopped {
                    break;
                }
            }
        }
        if broken.is_some() || stopped {
            if let Ok(mut c) = child.lock() {
                let _ = c.kill();
            }
        }
        done.store(true, Ordering::Relaxed);
        first_err = err_reader.join().unwrap_or_default();
    });
    let status = child.lock().ok().and_then(|mut c| c.wait().ok());
    let stderr_line = first_err
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!(" (it said: {})", l.trim()))
        .unwrap_or_default();
    let after = format!("{records} record(s) read before are checked");
    match end {
        _ if stopped => None,
        Some(None) => None,
        Some(Some(e)) => {
            let kind = if e.starts_with("record limit") {
                DiagnosticKind::Limit
            } else {
                DiagnosticKind::Unreadable
            };
            Some((kind, e))
        }
        None if timed_out.load(Ordering::Relaxed) => Some((
            DiagnosticKind::Limit,
            format!(
                "EVTX parser process killed at the time limit of {} s; {after}",
                timeout.as_secs()
            ),
        )),
        None => {
            let how = broken.unwrap_or_else(|| describe(status));
            Some((
                DiagnosticKind::Unreadable,
                format!(
                    "EVTX parser process failed: {how}, memory limit {limit} bytes{stderr_line}; {after}"
                ),
            ))
        }
    }
}

/// How a child ended, in words.
fn describe(status: Option<std::process::ExitStatus>) -> String {
    let Some(status) = status else {
        return "its exit status is unknown".into();
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            // The numbers POSIX systems share.
            let name = match sig {
                6 => " (SIGABRT: an abort, e.g. an allocation that failed)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                _ => "",
            };
            return format!("killed by signal {sig}{name}");
        }
    }
    match status.code() {
        Some(c) => format!("exited with code {c} before its last line"),
        None => "ended without an exit code".into(),
    }
}
