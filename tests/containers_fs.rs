//! The same results from every container as from the raw image: `ls`, `hash` and `scan` on
//! fixture disks converted at test time with `qemu-img` (VHD fixed/dynamic, VHDX, VMDK sparse
//! and stream-optimized, qcow2 compressed) and `ewfacquire` (E01, also split into segments).
//! Without the tools: a failure under CI=true, a printed notice elsewhere.

mod common;

use common::{fixture, jsonl, run};
use std::path::{Path, PathBuf};
use std::process::Command;

fn have(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool).arg(arg).output().is_ok();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{tool} is missing and CI=true (Debian: qemu-utils, ewf-tools)");
        }
        eprintln!("notice: {tool} not installed; skipping container tests");
    }
    ok
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The containers of `raw`, made once per test binary, with the format name `info` must print.
fn containers(raw: &Path, tag: &str) -> Vec<(PathBuf, &'static str)> {
    let dir = common::scratch().join(format!("containers-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = Vec::new();
    if have("qemu-img", "--version") {
        for (fmt, opts, name, shown) in [
            ("vpc", &["-o", "subformat=fixed"][..], "d-fixed.vhd", "VHD"),
            ("vpc", &[][..], "d-dynamic.vhd", "VHD"),
            ("vhdx", &[][..], "d.vhdx", "VHDX"),
            ("vmdk", &[][..], "d.vmdk", "VMDK"),
            (
                "vmdk",
                &["-o", "subformat=streamOptimized"][..],
                "d-stream.vmdk",
                "VMDK",
            ),
            ("qcow2", &["-c"][..], "d.qcow2", "qcow2"),
        ] {
            let p = dir.join(name);
            if !p.exists() {
                sh(Command::new("qemu-img")
                    .args(["convert", "-f", "raw", "-O", fmt])
                    .args(opts)
                    .arg(raw)
                    .arg(&p));
            }
            out.push((p, shown));
        }
    }
    if have("ewfacquire", "-V") {
        for (name, opts) in [
            ("d", &["-c", "deflate:fast"][..]),
            ("d-split", &["-c", "deflate:best", "-S", "1.0MiB"][..]),
        ] {
            let target = dir.join(name);
            let first = dir.join(format!("{name}.E01"));
            if !first.exists() {
                sh(Command::new("ewfacquire")
                    .args(["-u", "-q", "-t"])
                    .arg(&target)
                    .args(opts)
                    .arg(raw));
            }
            out.push((first, "E01"));
        }
    }
    out
}

fn output(args: &[&str]) -> Vec<u8> {
    let (code, out, err) = run(args);
    assert!(code == 0 || code == 1, "{args:?}: {err}");
    out
}

fn same_listing(raw: &Path, tag: &str) {
    let r = raw.to_str().unwrap();
    let ls = output(&["ls", r, "--format", "jsonl"]);
    let hash = output(&["hash", r, "--format", "jsonl"]);
    assert!(jsonl(&ls).len() > 10);
    for (c, shown) in containers(raw, tag) {
        let p = c.to_str().unwrap();
        let (_, info, _) = run(&["info", p, "--format", "json"]);
        let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
        assert!(
            info["container"].as_str().unwrap().contains(shown),
            "{p}: {}",
            info["container"]
        );
        assert!(
            output(&["ls", p, "--format", "jsonl"]) == ls,
            "ls differs for {p}"
        );
        assert!(
            output(&["hash", p, "--format", "jsonl"]) == hash,
            "hash differs for {p}"
        );
    }
}

#[test]
fn mbr_disk_lists_and_hashes_the_same_in_every_container() {
    same_listing(&fixture("disk-mbr.img"), "mbr");
}

#[test]
fn scan_findings_are_the_same_in_every_container() {
    let raw = fixture("ntfs-shells.img");
    let strip = |out: Vec<u8>| -> Vec<serde_json::Value> {
        jsonl(&out)
            .into_iter()
            .map(|mut f| {
                f["location"]["evidence"] = serde_json::Value::Null;
                f
            })
            .collect()
    };
    let want = strip(output(&[
        "scan",
        raw.to_str().unwrap(),
        "--format",
        "jsonl",
        "-q",
    ]));
    assert!(want.len() > 10);
    for (c, _) in containers(&raw, "shells") {
        let got = strip(output(&[
            "scan",
            c.to_str().unwrap(),
            "--format",
            "jsonl",
            "-q",
        ]));
        assert_eq!(got, want, "scan differs for {}", c.display());
    }
}

#[test]
fn verify_checks_the_stored_e01_hashes() {
    if !have("ewfacquire", "-V") {
        return;
    }
    let raw = fixture("disk-mbr.img");
    let e01 = containers(&raw, "mbr")
        .into_iter()
        .find(|(_, f)| *f == "E01")
        .unwrap()
        .0;
    let (code, out, err) = run(&["verify", e01.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["md5_matches"], true);
    use md5::Digest;
    let want = deadbox::hash::hex(&md5::Md5::digest(std::fs::read(&raw).unwrap()));
    assert_eq!(v["md5"], want.as_str());
    // A raw image stores nothing to verify against: exit 2 with a message.
    let (code, _, err) = run(&["verify", raw.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no media hash"));
}
