//! The cargo features keep the heavy and the command-line dependencies where they belong:
//! `cargo tree` (offline: Cargo.lock and the registry cache are there after a build) of the NTFS
//! and evidence crates and of the library without default features has no yara-x, wasmtime,
//! clap or indicatif; the default `deadbox` has yara-x (so this test can see a dependency).

use std::path::Path;
use std::process::Command;

const HEAVY: &[&str] = &["yara-x", "wasmtime", "clap", "indicatif"];

/// The crate names in the normal-dependency tree of `args` (`-p …` and features).
fn tree(args: &[&str]) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--manifest-path"])
        .arg(&manifest)
        .args(["-e", "normal", "--prefix", "none"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "cargo tree {args:?} printed nothing");
    names
}

fn heavy_in(names: &[String]) -> Vec<&str> {
    HEAVY
        .iter()
        .copied()
        .filter(|h| names.iter().any(|n| n == h))
        .collect()
}

#[test]
fn ntfs_and_evidence_crates_are_light() {
    for krate in ["deadbox-ntfs", "deadbox-evidence"] {
        let names = tree(&["-p", krate]);
        assert_eq!(names[0], krate);
        assert_eq!(heavy_in(&names), Vec::<&str>::new(), "{krate}");
    }
}

#[test]
fn library_without_default_features_has_no_yara_and_no_cli() {
    let names = tree(&["-p", "deadbox", "--no-default-features"]);
    assert_eq!(names[0], "deadbox");
    assert!(names.iter().any(|n| n == "deadbox-ntfs"));
    assert_eq!(heavy_in(&names), Vec::<&str>::new());
}

#[test]
fn library_with_yara_only_has_no_cli() {
    let names = tree(&[
        "-p",
        "deadbox",
        "--no-default-features",
        "--features",
        "yara",
    ]);
    assert_eq!(heavy_in(&names), vec!["yara-x", "wasmtime"]);
}

#[test]
fn default_features_have_yara_and_cli() {
    let names = tree(&["-p", "deadbox"]);
    assert_eq!(heavy_in(&names), HEAVY.to_vec());
}
