//! Container readers against images made at test time by `qemu-img` and `ewfacquire` from one
//! generated raw disk: detection, length, sequential, random and concurrent reads byte-identical
//! to the raw disk, and broken variants that must give typed errors without panicking.
//!
//! Needs the Debian packages `qemu-utils` (qemu-img) and `ewf-tools` (ewfacquire). Without them
//! the tests are skipped with a notice, or fail when `CI=true`.

#[path = "support/rng.rs"]
mod rng;

use deadbox::evidence::{open, verify, Evidence};
use deadbox::Error;
use rng::Rng;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Size of the generated raw disk: 12 MiB plus 7 sectors, so the last E01 chunk, qcow2 cluster
/// and VMDK grain are partial.
const RAW_LEN: usize = 12 * 1024 * 1024 + 7 * 512;

/// A deterministic disk: pseudo-random blocks, text, zero blocks, half-filled blocks and one long
/// zero run, so sparse handling and compression are both exercised.
fn raw_disk(len: usize) -> Vec<u8> {
    let mut rng = Rng(0x00de_adb0_c5ee_d001);
    let mut v = vec![0u8; len];
    for (i, block) in v.chunks_mut(64 * 1024).enumerate() {
        let zero_run = (4 * 16..7 * 16).contains(&i); // 4 MiB .. 7 MiB
        match (zero_run, rng.below(4)) {
            (true, _) | (false, 2) => {}
            (false, 0) => block.iter_mut().for_each(|b| *b = rng.next() as u8),
            (false, 1) => {
                let text =
                    format!("deadbox test line in block {i}: <%@ Page Language=\"C#\" %>\r\n");
                for (b, t) in block.iter_mut().zip(text.bytes().cycle()) {
                    *b = t;
                }
            }
            _ => {
                let half = block.len() / 2;
                block[..half].iter_mut().for_each(|b| *b = rng.next() as u8);
            }
        }
    }
    v
}

/// True when `tool` runs; else a skip notice (or a failure when CI=true).
fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is missing (install qemu-utils and ewf-tools)");
        }
        eprintln!("NOTICE: {tool} not found, skipping container test");
    }
    ok
}

struct Fixture {
    dir: tempfile::TempDir,
    raw: Vec<u8>,
    raw_path: PathBuf,
}

fn fixture(len: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let raw = raw_disk(len);
    let raw_path = dir.path().join("disk.raw");
    std::fs::write(&raw_path, &raw).unwrap();
    Fixture { dir, raw, raw_path }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `qemu-img convert -f raw -O <fmt> <opts> disk.raw <name>`.
    fn qemu(&self, fmt: &str, opts: &[&str], name: &str) -> PathBuf {
        let out = self.path(name);
        run(Command::new("qemu-img")
            .args(["convert", "-f", "raw", "-O", fmt])
            .args(opts)
            .arg(&self.raw_path)
            .arg(&out));
        out
    }

    /// `ewfacquire -u` into `<name>.E01` (and more segments), returning the first segment.
    fn ewf(&self, opts: &[&str], name: &str) -> PathBuf {
        let target = self.path(name);
        run(Command::new("ewfacquire")
            .args(["-u", "-q", "-d", "sha1", "-t"])
            .arg(&target)
            .args(opts)
            .arg(&self.raw_path));
        self.path(&format!("{name}.E01"))
    }
}

fn read_all(ev: &dyn Evidence) -> deadbox::Result<Vec<u8>> {
    let mut out = vec![0u8; ev.len() as usize];
    // 1,000,000-byte reads: not aligned to any chunk, grain, cluster or block.
    for (i, c) in out.chunks_mut(1_000_000).enumerate() {
        ev.read_exact_at(i as u64 * 1_000_000, c)?;
    }
    Ok(out)
}

fn random_reads(ev: &dyn Evidence, raw: &[u8], seed: u64, count: usize) {
    let mut rng = Rng(seed);
    let lens = [1u64, 511, 512, 4096, 65_536 + 3, 300_000];
    for _ in 0..count {
        let off = rng.below(raw.len() as u64);
        let want = if rng.below(3) == 0 {
            rng.below(200_000) + 1
        } else {
            lens[rng.below(lens.len() as u64) as usize]
        };
        let len = want.min(raw.len() as u64 - off) as usize;
        let mut buf = vec![0xA5u8; len];
        ev.read_exact_at(off, &mut buf).unwrap();
        assert!(
            buf == raw[off as usize..off as usize + len],
            "{}: {len} bytes at {off:#x} differ",
            ev.format()
        );
    }
}

/// Opens `path` and checks everything against the raw disk.
fn check(path: &Path, raw: &[u8], format_prefix: &str) {
    let ev = open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let format = ev.format().to_string();
    assert!(
        format.starts_with(format_prefix),
        "{}: format {format:?}, expected {format_prefix:?}",
        path.display()
    );
    let media = read_all(ev.as_ref()).unwrap();
    if format.starts_with("VHD (") {
        // VHD rounds the disk size up to a CHS geometry: the common prefix must match and the
        // rest be zeros.
        assert!(
            media.len() >= raw.len(),
            "{format}: shorter than the raw disk"
        );
        assert!(media[raw.len()..].iter().all(|&b| b == 0));
    } else {
        assert_eq!(media.len(), raw.len(), "{format}: length");
    }
    assert!(
        media[..raw.len()] == *raw,
        "{format}: sequential read differs"
    );
    random_reads(ev.as_ref(), raw, 0x5eed, 400);
    // Four threads at once.
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let ev = Arc::clone(&ev);
            s.spawn(move || random_reads(ev.as_ref(), raw, 0x1000 + t, 150));
        }
    });
    // Past the end: a typed error.
    let mut b = [0u8; 2];
    assert!(matches!(
        ev.read_exact_at(ev.len() - 1, &mut b),
        Err(Error::OutOfBounds { .. })
    ));
}

#[test]
fn qcow2_variants() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(RAW_LEN);
    check(&fx.qemu("qcow2", &[], "a.qcow2"), &fx.raw, "qcow2");
    check(&fx.qemu("qcow2", &["-c"], "c.qcow2"), &fx.raw, "qcow2");
    check(
        &fx.qemu("qcow2", &["-o", "compat=0.10"], "v2.qcow2"),
        &fx.raw,
        "qcow2 (v2)",
    );
    check(
        &fx.qemu("qcow2", &["-c", "-o", "compat=0.10"], "v2c.qcow2"),
        &fx.raw,
        "qcow2 (v2)",
    );
    // Small clusters: many L2 tables, compressed descriptors with a wide offset field.
    check(
        &fx.qemu("qcow2", &["-c", "-o", "cluster_size=4096"], "small.qcow2"),
        &fx.raw,
        "qcow2",
    );
}

#[test]
fn vhd_variants() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(RAW_LEN);
    check(&fx.qemu("vpc", &[], "d.vhd"), &fx.raw, "VHD (dynamic)");
    check(
        &fx.qemu("vpc", &["-o", "subformat=fixed"], "f.vhd"),
        &fx.raw,
        "VHD (fixed)",
    );
}

#[test]
fn vhdx_variants() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(RAW_LEN);
    check(&fx.qemu("vhdx", &[], "d.vhdx"), &fx.raw, "VHDX");
    check(
        &fx.qemu("vhdx", &["-o", "subformat=fixed"], "f.vhdx"),
        &fx.raw,
        "VHDX",
    );
}

#[test]
fn vmdk_variants() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(RAW_LEN);
    check(
        &fx.qemu("vmdk", &[], "s.vmdk"),
        &fx.raw,
        "VMDK (monolithic sparse)",
    );
    check(
        &fx.qemu("vmdk", &["-o", "subformat=monolithicFlat"], "f.vmdk"),
        &fx.raw,
        "VMDK (flat)",
    );
    check(
        &fx.qemu("vmdk", &["-o", "subformat=streamOptimized"], "o.vmdk"),
        &fx.raw,
        "VMDK (streamOptimized)",
    );
    check(
        &fx.qemu("vmdk", &["-o", "subformat=twoGbMaxExtentSparse"], "t.vmdk"),
        &fx.raw,
        "VMDK (split sparse)",
    );
    check(
        &fx.qemu("vmdk", &["-o", "subformat=twoGbMaxExtentFlat"], "tf.vmdk"),
        &fx.raw,
        "VMDK (split flat)",
    );
}

#[test]
fn e01_variants_and_verify() {
    if !have("ewfacquire", "-V") {
        return;
    }
    let fx = fixture(RAW_LEN);
    let plain = fx.ewf(&["-c", "none"], "plain");
    check(&plain, &fx.raw, "E01");
    let split = fx.ewf(&["-c", "best", "-S", "1MiB"], "split");
    assert!(fx.path("split.E03").exists(), "expected several segments");
    check(&split, &fx.raw, "E01 (");
    let fast = fx.ewf(&["-c", "fast", "-b", "128"], "fast");
    check(&fast, &fx.raw, "E01");

    for p in [&plain, &split, &fast] {
        let ev = open(p).unwrap();
        let (md5, sha1) = ev.stored_hashes();
        assert!(md5.is_some() && sha1.is_some(), "{}: hashes", p.display());
        let r = verify(ev.as_ref()).unwrap();
        assert_eq!(r.media_len, RAW_LEN as u64);
        assert!(r.verified(), "{r:?}");
    }

    // A flipped byte inside chunk data is detected: Adler-32 of an uncompressed chunk, zlib's
    // own check of a compressed one.
    for (p, at) in [(&plain, 1_500_000u64), (&split, 200_000u64)] {
        let copy = fx.path("flip.E01");
        let mut bytes = std::fs::read(p).unwrap();
        bytes[at as usize] ^= 0x40;
        std::fs::write(&copy, &bytes).unwrap();
        // the other segments of the split set go with it
        for n in 2..=20 {
            let src = p.with_extension(format!("E{n:02}"));
            if src.exists() {
                std::fs::copy(&src, fx.path(&format!("flip.E{n:02}"))).unwrap();
            }
        }
        let ev = open(&copy).unwrap();
        match verify(ev.as_ref()) {
            Err(Error::Format { .. }) => {}
            Ok(r) => assert!(!r.verified(), "flip at {at} not detected"),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

/// Walks the EWF section chain of a segment: (type, descriptor offset).
fn ewf_sections(bytes: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut off = 13usize;
    loop {
        let t = String::from_utf8_lossy(&bytes[off..off + 16])
            .trim_end_matches('\0')
            .to_string();
        let next = u64::from_le_bytes(bytes[off + 16..off + 24].try_into().unwrap()) as usize;
        out.push((t.clone(), off));
        if t == "done" || t == "next" || next <= off {
            return out;
        }
        off = next;
    }
}

fn is_err_somewhere(p: &Path) -> bool {
    match open(p) {
        Err(_) => true,
        Ok(ev) => read_all(ev.as_ref()).is_err(),
    }
}

#[test]
fn broken_e01() {
    if !have("ewfacquire", "-V") {
        return;
    }
    let fx = fixture(RAW_LEN);
    let split = fx.ewf(&["-c", "best", "-S", "1MiB"], "s");
    // A missing segment.
    std::fs::rename(fx.path("s.E02"), fx.path("away")).unwrap();
    assert!(matches!(open(&split), Err(Error::Format { .. })));
    std::fs::rename(fx.path("away"), fx.path("s.E02")).unwrap();

    let plain = fx.ewf(&["-c", "none"], "p");
    let good = std::fs::read(&plain).unwrap();
    let secs = ewf_sections(&good);
    let table = secs.iter().find(|(t, _)| t == "table").unwrap().1;
    let b = fx.path("b.E01");

    // A damaged table entry: the table2 backup is used and reads stay correct.
    let mut bytes = good.clone();
    bytes[table + 76 + 24 + 8] ^= 0xff;
    std::fs::write(&b, &bytes).unwrap();
    let ev = open(&b).unwrap();
    assert!(read_all(ev.as_ref()).unwrap() == fx.raw);

    // Both tables damaged: a typed error.
    let table2 = secs.iter().find(|(t, _)| t == "table2").unwrap().1;
    bytes[table2 + 76 + 24 + 8] ^= 0xff;
    std::fs::write(&b, &bytes).unwrap();
    assert!(matches!(open(&b), Err(Error::Format { .. })));

    // A damaged section descriptor.
    let mut bytes = good.clone();
    bytes[table + 20] ^= 1;
    std::fs::write(&b, &bytes).unwrap();
    assert!(matches!(open(&b), Err(Error::Format { .. })));

    // Truncated files (cut before the 8-byte magic it would be a raw image).
    for cut in [20, 100, 2000, good.len() / 2, good.len() - 10] {
        std::fs::write(&b, &good[..cut]).unwrap();
        assert!(is_err_somewhere(&b), "cut at {cut}");
    }
}

#[test]
fn broken_qemu_images() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(RAW_LEN);
    let b = fx.path("broken");

    // Truncated images of every sparse/compressed kind.
    for (fmt, opts, name) in [
        ("qcow2", &[][..], "t.qcow2"),
        ("qcow2", &["-c"][..], "tc.qcow2"),
        ("vpc", &[][..], "t.vhd"),
        ("vhdx", &[][..], "t.vhdx"),
        ("vhdx", &["-o", "subformat=fixed"][..], "tf.vhdx"),
        ("vmdk", &[][..], "t.vmdk"),
        ("vmdk", &["-o", "subformat=streamOptimized"][..], "to.vmdk"),
    ] {
        let good = std::fs::read(fx.qemu(fmt, opts, name)).unwrap();
        for cut in [100, 4000, good.len() * 6 / 10] {
            std::fs::write(&b, &good[..cut]).unwrap();
            assert!(is_err_somewhere(&b), "{name} cut at {cut}");
        }
        // The tail may hold only metadata that reading does not need (qcow2 refcounts): any
        // result, but no panic.
        std::fs::write(&b, &good[..good.len() - 600]).unwrap();
        let _ = is_err_somewhere(&b);
    }

    // qcow2: an L1 entry pointing past the end; an absurd virtual size.
    let good = std::fs::read(fx.qemu("qcow2", &[], "l1.qcow2")).unwrap();
    let l1 = u64::from_be_bytes(good[40..48].try_into().unwrap()) as usize;
    let mut bytes = good.clone();
    bytes[l1..l1 + 8].copy_from_slice(&(0x8000_0000_0010_0000u64 | 1 << 40).to_be_bytes());
    std::fs::write(&b, &bytes).unwrap();
    let ev = open(&b).unwrap();
    assert!(matches!(read_all(ev.as_ref()), Err(Error::Format { .. })));
    let mut bytes = good.clone();
    bytes[24..32].copy_from_slice(&(1u64 << 62).to_be_bytes());
    std::fs::write(&b, &bytes).unwrap();
    assert!(matches!(open(&b), Err(Error::Format { .. })));

    // VMDK: a grain directory entry pointing past the end.
    let good = std::fs::read(fx.qemu("vmdk", &[], "gd.vmdk")).unwrap();
    let gd = u64::from_le_bytes(good[56..64].try_into().unwrap()) as usize * 512;
    let mut bytes = good.clone();
    bytes[gd..gd + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    std::fs::write(&b, &bytes).unwrap();
    let ev = open(&b).unwrap();
    assert!(matches!(read_all(ev.as_ref()), Err(Error::Format { .. })));

    // VMDK flat: the extent file removed.
    let flat = fx.qemu("vmdk", &["-o", "subformat=monolithicFlat"], "fl.vmdk");
    std::fs::remove_file(fx.path("fl-flat.vmdk")).unwrap();
    assert!(matches!(open(&flat), Err(Error::Io { .. })));

    // VHD: a bad footer checksum.
    let good = std::fs::read(fx.qemu("vpc", &["-o", "subformat=fixed"], "ck.vhd")).unwrap();
    let mut bytes = good.clone();
    let n = bytes.len();
    bytes[n - 512 + 48] ^= 1; // current size, checksum now wrong
    std::fs::write(&b, &bytes).unwrap();
    assert!(matches!(open(&b), Err(Error::Format { .. })));

    // VHDX: one header damaged is survivable (the other is used), both is an error.
    let good = std::fs::read(fx.qemu("vhdx", &[], "h.vhdx")).unwrap();
    let mut bytes = good.clone();
    bytes[65536 + 100] ^= 1;
    std::fs::write(&b, &bytes).unwrap();
    assert!(read_all(open(&b).unwrap().as_ref()).unwrap() == fx.raw);
    bytes[2 * 65536 + 100] ^= 1;
    std::fs::write(&b, &bytes).unwrap();
    assert!(matches!(open(&b), Err(Error::Format { .. })));
    // A damaged region table (both copies).
    let mut bytes = good.clone();
    bytes[3 * 65536 + 20] ^= 1;
    bytes[4 * 65536 + 20] ^= 1;
    std::fs::write(&b, &bytes).unwrap();
    assert!(matches!(open(&b), Err(Error::Format { .. })));
}

/// Random byte damage in the metadata area never panics (any result is fine).
#[test]
fn random_damage_never_panics() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(2 * 1024 * 1024);
    let b = fx.path("damaged");
    let mut rng = Rng(77);
    for (fmt, opts, name) in [
        ("qcow2", &["-c"][..], "r.qcow2"),
        ("vpc", &[][..], "r.vhd"),
        ("vhdx", &[][..], "r.vhdx"),
        ("vmdk", &[][..], "r.vmdk"),
        ("vmdk", &["-o", "subformat=streamOptimized"][..], "ro.vmdk"),
    ] {
        let good = std::fs::read(fx.qemu(fmt, opts, name)).unwrap();
        for _ in 0..40 {
            let mut bytes = good.clone();
            for _ in 0..8 {
                // Headers and tables sit in the first 1 MiB (and at the end for VHD/stream).
                let at = if rng.below(4) == 0 {
                    bytes.len() - 1 - rng.below(2048) as usize
                } else {
                    rng.below(bytes.len().min(1 << 20) as u64) as usize
                };
                bytes[at] = rng.next() as u8;
            }
            std::fs::write(&b, &bytes).unwrap();
            if let Ok(ev) = open(&b) {
                let _ = read_all(ev.as_ref());
            }
        }
    }
}

#[test]
fn backing_chains_are_unsupported() {
    if !have("qemu-img", "--version") {
        return;
    }
    let fx = fixture(RAW_LEN);
    let base = fx.qemu("qcow2", &[], "base.qcow2");
    let child = fx.path("child.qcow2");
    run(Command::new("qemu-img")
        .args(["create", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&base)
        .arg(&child));
    assert!(matches!(open(&child), Err(Error::Unsupported(_))));

    let base = fx.qemu("vmdk", &[], "base.vmdk");
    let child = fx.path("child.vmdk");
    run(Command::new("qemu-img")
        .args(["create", "-f", "vmdk", "-F", "vmdk", "-b"])
        .arg(&base)
        .arg(&child));
    assert!(matches!(open(&child), Err(Error::Unsupported(_))));

    // qemu-img cannot create VHD/VHDX differencing disks (`Backing file not supported`), so
    // turn dynamic ones into differencing ones by hand.
    let good = std::fs::read(fx.qemu("vpc", &[], "d.vhd")).unwrap();
    let mut bytes = good.clone();
    let n = bytes.len();
    for at in [0, n - 512] {
        let f = &mut bytes[at..at + 512];
        f[60..64].copy_from_slice(&4u32.to_be_bytes());
        f[64..68].fill(0);
        let sum = f.iter().fold(0u32, |s, &b| s.wrapping_add(b as u32));
        f[64..68].copy_from_slice(&(!sum).to_be_bytes());
    }
    let diff = fx.path("diff.vhd");
    std::fs::write(&diff, &bytes).unwrap();
    assert!(matches!(open(&diff), Err(Error::Unsupported(_))));

    let mut bytes = std::fs::read(fx.qemu("vhdx", &[], "d.vhdx")).unwrap();
    // Region table at 192 KiB: find the metadata region, then its file parameters item.
    let meta_guid = [
        0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88,
        0x6E,
    ];
    let params_guid = [
        0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7,
        0x6B,
    ];
    let rt = 3 * 65536;
    let count = u32::from_le_bytes(bytes[rt + 8..rt + 12].try_into().unwrap()) as usize;
    let meta = (0..count)
        .map(|i| rt + 16 + i * 32)
        .find(|&e| bytes[e..e + 16] == meta_guid)
        .map(|e| u64::from_le_bytes(bytes[e + 16..e + 24].try_into().unwrap()) as usize)
        .unwrap();
    let items = u16::from_le_bytes(bytes[meta + 10..meta + 12].try_into().unwrap()) as usize;
    let item = (0..items)
        .map(|i| meta + 32 + i * 32)
        .find(|&e| bytes[e..e + 16] == params_guid)
        .map(|e| u32::from_le_bytes(bytes[e + 16..e + 20].try_into().unwrap()) as usize)
        .unwrap();
    let clean = bytes.clone();
    bytes[meta + item + 4] |= 2; // HasParent
    let diff = fx.path("diff.vhdx");
    std::fs::write(&diff, &bytes).unwrap();
    assert!(matches!(open(&diff), Err(Error::Unsupported(_))));

    // A VHDX whose log must be replayed: a non-zero log GUID in both headers (CRCs redone).
    let mut bytes = clean;
    for h in [65536usize, 2 * 65536] {
        bytes[h + 48] = 0x42;
        bytes[h + 4..h + 8].fill(0);
        let crc = crc32c(&bytes[h..h + 4096]);
        bytes[h + 4..h + 8].copy_from_slice(&crc.to_le_bytes());
    }
    let logged = fx.path("log.vhdx");
    std::fs::write(&logged, &bytes).unwrap();
    assert!(matches!(open(&logged), Err(Error::Unsupported(_))));
}

fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn unknown_bytes_are_raw() {
    let fx = fixture(64 * 1024);
    let ev = open(&fx.raw_path).unwrap();
    assert_eq!(ev.format().to_string(), "raw");
    assert!(read_all(ev.as_ref()).unwrap() == fx.raw);
    // A container named like a raw image is still detected by content.
    if have("qemu-img", "--version") {
        let q = fx.qemu("qcow2", &[], "looks-raw.dd");
        assert!(open(&q).unwrap().format().to_string().starts_with("qcow2"));
    }
}
