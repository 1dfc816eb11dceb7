//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A committed fixture.
pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// `../shared/corpus`, or `None` (with a printed notice) when it is missing outside CI.
/// Under CI=true a missing corpus is a failure.
pub fn corpus() -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("corpus");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/corpus is missing and CI=true: the corpus tests cannot run");
    }
    eprintln!("notice: ../shared/corpus not found; skipping tests that need the shared corpus");
    None
}

/// A scratch folder for this test binary (under the target dir), created once.
pub fn scratch() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        // One folder per test binary, emptied when the binary starts.
        let exe = std::env::current_exe().unwrap();
        let stem = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let d = base.join(format!("deadbox-tests-{stem}"));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    })
    .clone()
}

/// Decompresses a `.gz` (or returns a plain file as is) into a cache folder under the target
/// dir, once (zero blocks are skipped, so large mostly-empty images stay sparse).
pub fn unpacked(src: &Path) -> PathBuf {
    use std::io::{Seek, SeekFrom, Write};
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if src.extension().and_then(|e| e.to_str()) != Some("gz") {
        return src.to_path_buf();
    }
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("deadbox-unpacked");
    std::fs::create_dir_all(&base).unwrap();
    let name = src.file_stem().unwrap().to_string_lossy().into_owned();
    let dst = base.join(&name);
    let stamp = base.join(format!("{name}.src-len"));
    let src_len = std::fs::metadata(src).unwrap().len().to_string();
    if dst.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(src_len.as_str()) {
        return dst;
    }
    let tmp = base.join(format!("{name}.{}.part", std::process::id()));
    let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(src).unwrap());
    let mut out = std::fs::File::create(&tmp).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let mut n = 0;
        while n < buf.len() {
            let k = gz.read(&mut buf[n..]).unwrap();
            if k == 0 {
                break;
            }
            n += k;
        }
        if n == 0 {
            break;
        }
        if buf[..n].iter().all(|&b| b == 0) {
            out.seek(SeekFrom::Current(n as i64)).unwrap();
        } else {
            out.write_all(&buf[..n]).unwrap();
        }
        len += n as u64;
    }
    out.set_len(len).unwrap();
    drop(out);
    std::fs::rename(&tmp, &dst).unwrap();
    std::fs::write(&stamp, src_len).unwrap();
    dst
}

/// The `deadbox` binary built for the tests.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_deadbox"))
}

/// Runs the binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = std::process::Command::new(exe())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Parses JSON lines.
pub fn jsonl(b: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(b)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// SHA-256 hex.
pub fn sha256(b: &[u8]) -> String {
    use sha2::Digest;
    deadbox::hash::hex(&sha2::Sha256::digest(b))
}

/// `mkntfs`, or `None` (with a printed notice naming `what` is skipped) when it is missing
/// outside CI; under CI=true a missing mkntfs is a failure.
pub fn mkntfs(what: &str) -> Option<PathBuf> {
    let found = ["/usr/sbin/mkntfs", "/sbin/mkntfs", "/usr/bin/mkntfs"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("mkntfs (ntfs-3g) is missing and CI=true");
        }
        eprintln!("notice: mkntfs not found; skipping {what}");
    }
    found
}

/// Makes `path` a sparse file of `bytes` and formats it with `mkntfs -Q -F` (label `label`).
pub fn mkntfs_sparse(mkntfs: &Path, path: &Path, bytes: u64, label: &str) {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path).unwrap().set_len(bytes).unwrap();
    let out = std::process::Command::new(mkntfs)
        .args(["-Q", "-F", "-q", "-L", label])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mkntfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
