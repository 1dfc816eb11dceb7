//! The machine's compute limit for hashing and YARA-X scanning, in MiB/s, measured in memory on
//! mixed data (half random, half text-like), so benchmark figures can be printed as a fraction
//! of what the CPU can do at best.
//!
//! `cargo run --release --example compute_limit -- [--mib N] [RULES_DIR_OR_FILE]…`
//! Prints one `key=value` line per figure (MiB/s; `_per_core` = one thread, `_total` = all cores
//! working at once, each thread on the whole buffer). Rules get the externals deadbox defines.
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The "file" size hashed and scanned per call (4 MiB).
const CHUNK: usize = 4 << 20;
const EXTERNALS: &[&str] = &["filename", "filepath", "extension", "filetype", "owner"];
/// Plain system/log vocabulary (the text of the generated bench volumes), not web-shell
/// keywords: text full of a rule's atoms would make YARA look slower than it is on real files.
const WORDS: &str = "system windows server microsoft update config service runtime data client \
    host request value error string public class return module session mailbox policy registry \
    security driver network storage process thread memory buffer cache index record stream";
/// What a worker does per chunk (bit set).
const MD5: u8 = 1;
const SHA1: u8 = 2;
const SHA256: u8 = 4;
const YARA: u8 = 8;
const HASH3: u8 = MD5 | SHA1 | SHA256;

fn fail(msg: String) -> ! {
    eprintln!("compute_limit: {msg}");
    std::process::exit(2)
}

/// Half xorshift random bytes, half lines of words (compressible, text-like).
fn make_data(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 64);
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    while v.len() < len / 2 {
        v.extend_from_slice(&next().to_le_bytes());
    }
    v.truncate(len / 2);
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    while v.len() < len {
        let r = next();
        v.extend_from_slice(words[(r % words.len() as u64) as usize].as_bytes());
        v.push(if r >> 40 & 15 == 0 { b'\n' } else { b' ' });
    }
    v.truncate(len);
    v
}

/// The `.yar`/`.yara` files of each folder (sorted) and each file given.
fn rule_files(args: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in args {
        let p = Path::new(a);
        if !p.is_dir() {
            out.push(p.to_path_buf());
            continue;
        }
        let rd = std::fs::read_dir(p).unwrap_or_else(|e| fail(format!("{a}: {e}")));
        let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        v.retain(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("yar" | "yara")));
        v.sort();
        out.extend(v);
    }
    out
}

/// One namespace per file, the externals deadbox defines, as `src/scan/load.rs` does.
fn compile(files: &[PathBuf]) -> yara_x::Rules {
    let mut c = yara_x::Compiler::new();
    for x in EXTERNALS {
        if let Err(e) = c.define_global(x, "") {
            fail(format!("external {x}: {e}"));
        }
    }
    for (i, f) in files.iter().enumerate() {
        let err = |e: &dyn std::fmt::Display| fail(format!("{}: {e}", f.display()));
        let src = std::fs::read_to_string(f).unwrap_or_else(|e| err(&e));
        c.new_namespace(&format!("r{i}"));
        if let Err(e) = c.add_source(src.as_str()) {
            err(&e);
        }
    }
    c.build()
}

fn run(job: u8, data: &[u8], rules: Option<&yara_x::Rules>) -> u64 {
    let mut scanner = rules.filter(|_| job & YARA != 0).map(yara_x::Scanner::new);
    let mut acc = 0u64;
    for chunk in data.chunks(CHUNK) {
        if job & MD5 != 0 {
            acc ^= Md5::digest(chunk)[0] as u64;
        }
        if job & SHA1 != 0 {
            acc ^= Sha1::digest(chunk)[0] as u64;
        }
        if job & SHA256 != 0 {
            acc ^= Sha256::digest(chunk)[0] as u64;
        }
        if let Some(s) = scanner.as_mut() {
            match s.scan(chunk) {
                Ok(r) => acc += r.matching_rules().len() as u64,
                Err(e) => fail(format!("scan: {e}")),
            }
        }
    }
    acc
}

/// MiB/s of `threads` workers each doing `job` over the whole buffer at the same time.
fn measure(job: u8, data: &[u8], rules: Option<&yara_x::Rules>, threads: usize) -> f64 {
    let t = Instant::now();
    let sink: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|_| s.spawn(move || run(job, data, rules)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    std::hint::black_box(sink);
    (threads * data.len()) as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut mib = 256usize;
    if let Some(i) = args.iter().position(|a| a == "--mib") {
        let v = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|&m| m > 0);
        mib = v.unwrap_or_else(|| fail("--mib N (MiB > 0)".into()));
        args.drain(i..i + 2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let files = rule_files(&args);
    let rules = (!files.is_empty()).then(|| compile(&files));
    let data = make_data(mib << 20);
    let r = rules.as_ref();
    let n = files.len();
    println!("# compute_limit: {mib} MiB half random half text, 4 MiB per call, {n} rule files");
    println!("cores={cores}");
    let mut figs = vec![
        ("sha256_mib_s_per_core", SHA256, 1),
        ("sha1_mib_s_per_core", SHA1, 1),
        ("md5_mib_s_per_core", MD5, 1),
        ("hash3_mib_s_per_core", HASH3, 1),
        ("hash3_mib_s_total", HASH3, cores),
    ];
    if rules.is_some() {
        figs.extend([
            ("yara_mib_s_per_core", YARA, 1),
            ("yara_mib_s_total", YARA, cores),
            ("sha256_yara_mib_s_per_core", SHA256 | YARA, 1),
            ("sha256_yara_mib_s_total", SHA256 | YARA, cores),
            ("hash3_yara_mib_s_per_core", HASH3 | YARA, 1),
            ("hash3_yara_mib_s_total", HASH3 | YARA, cores),
        ]);
    }
    measure(SHA256 | YARA, &data[..data.len().min(16 << 20)], r, 1); // warm-up
    for (key, job, threads) in figs {
        println!("{key}={:.1}", measure(job, &data, r, threads));
    }
}
