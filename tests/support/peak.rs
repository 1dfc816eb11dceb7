//! Peak memory of one run of the deadbox binary: the resident set from `wait4` and anonymous
//! memory (`RssAnon`) sampled from /proc every 2 ms (tests/resources.rs, tests/scale.rs).

use super::common;
use std::process::{Command, Stdio};

/// Peak figures of one run, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Peak {
    /// Peak resident set (wait4), KiB.
    pub rss: i64,
    /// Peak anonymous memory (RssAnon sampled every 2 ms), KiB.
    pub anon: i64,
}

/// Runs the binary with stdout to `stdout` (/dev/null or a file: never a pipe the test would
/// have to drain) and stderr to /dev/null; returns its exit code and its peak memory (the
/// sampler of tests/resources.rs).
pub fn peak_rss(args: &[&str], stdout: Stdio) -> (i32, Peak) {
    // Reaped with wait4 below, not with `Child::wait` (which gives no resource usage).
    #[allow(clippy::zombie_processes)]
    let child = Command::new(common::exe())
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // Sample RssAnon until the process is a zombie (no memory lines) or gone.
    let sampler = std::thread::spawn(move || {
        let mut peak = 0i64;
        while let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(kib) = s
                .lines()
                .find_map(|l| l.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            else {
                break;
            };
            peak = peak.max(kib);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        peak
    });
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in; `pid` is our child, which
    // nothing else waits for (the `Child` handle is not waited on).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status),
        "deadbox {args:?} did not exit normally ({status})"
    );
    let anon = sampler.join().unwrap();
    (
        libc::WEXITSTATUS(status),
        Peak {
            rss: ru.ru_maxrss,
            anon,
        },
    )
}
