//! Sequential 1 MiB read throughput of each container reader against the raw image it was made
//! from (64 MiB, generated with `qemu-img` and `ewfacquire` into a temporary folder; formats
//! whose tool is missing are skipped with a notice).
//!
//! Run briefly: `cargo bench --bench containers -- --warm-up-time 1 --measurement-time 3`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use deadbox::evidence::open;
use std::path::{Path, PathBuf};
use std::process::Command;

const LEN: usize = 64 << 20;
const READ: usize = 1 << 20;

/// Deterministic mixed disk: random, text and zero blocks (xorshift64*).
fn raw_disk() -> Vec<u8> {
    let mut s = 0x0bad_5eed_u64;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut v = vec![0u8; LEN];
    for (i, block) in v.chunks_mut(64 * 1024).enumerate() {
        match next() % 4 {
            0 => block.iter_mut().for_each(|b| *b = next() as u8),
            1 => {
                let text = format!("block {i}: <%@ Page Language=\"C#\" %> lorem ipsum\r\n");
                block
                    .iter_mut()
                    .zip(text.bytes().cycle())
                    .for_each(|(b, t)| *b = t);
            }
            2 => {}
            _ => block[..32 * 1024]
                .iter_mut()
                .for_each(|b| *b = next() as u8),
        }
    }
    v
}

fn make(dir: &Path, raw: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut out = vec![("raw", raw.to_path_buf())];
    let qemu: [(&str, &str, &[&str]); 6] = [
        ("qcow2", "qcow2", &[]),
        ("qcow2 compressed", "qcow2", &["-c"]),
        ("VHD dynamic", "vpc", &[]),
        ("VHDX dynamic", "vhdx", &[]),
        ("VMDK sparse", "vmdk", &[]),
        (
            "VMDK streamOptimized",
            "vmdk",
            &["-o", "subformat=streamOptimized"],
        ),
    ];
    for (i, (name, fmt, opts)) in qemu.iter().enumerate() {
        let p = dir.join(format!("img{i}"));
        let ok = Command::new("qemu-img")
            .args(["convert", "-f", "raw", "-O", fmt])
            .args(*opts)
            .arg(raw)
            .arg(&p)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            out.push((name, p));
        } else {
            eprintln!("NOTICE: qemu-img missing or failed, {name} not measured");
        }
    }
    for (name, c) in [("E01 uncompressed", "none"), ("E01 best", "best")] {
        let t = dir.join(c);
        let ok = Command::new("ewfacquire")
            .args(["-u", "-q", "-c", c, "-t"])
            .arg(&t)
            .arg(raw)
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            out.push((name, t.with_extension("E01")));
        } else {
            eprintln!("NOTICE: ewfacquire missing or failed, {name} not measured");
        }
    }
    out
}

fn sequential(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("disk.raw");
    std::fs::write(&raw, raw_disk()).expect("write raw");
    let images = make(dir.path(), &raw);
    let mut g = c.benchmark_group("sequential_1MiB");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.sample_size(10);
    let mut buf = vec![0u8; READ];
    for (name, path) in images {
        let ev = open(&path).expect("open");
        assert!(ev.len() >= LEN as u64);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut off = 0u64;
                while off < LEN as u64 {
                    ev.read_exact_at(off, &mut buf).expect("read");
                    off += READ as u64;
                }
                std::hint::black_box(&buf);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, sequential);
criterion_main!(benches);
