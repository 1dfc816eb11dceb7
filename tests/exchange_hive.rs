//! The hand-written regf reader against a hive built by a tiny writer, cross-checked with
//! hivex (`hivexget`, Debian package libhivex-bin) when it is installed.

#[path = "support/regf_writer.rs"]
mod regf_writer;

use std::process::Command;

use deadbox::exchange::{msi_install_paths, windows_path_to_volume_path, Hive};

const V15: &str = r"D:\Exchange Server\V15\";
const V14: &str = r"C:\Program Files\Microsoft\Exchange Server\V14\";

#[test]
fn reads_install_paths() {
    let hive = regf_writer::exchange_software_hive(V15, V14);
    assert_eq!(msi_install_paths(&hive).unwrap(), [V15, V14]);
    assert_eq!(
        windows_path_to_volume_path(V15),
        (Some('D'), "/Exchange Server/V15".to_string())
    );
    let h = Hive::new(&hive).unwrap();
    // Case-insensitive paths, either separator.
    assert_eq!(
        h.string_value("microsoft/EXCHANGESERVER/V15/setup", "msiinstallpath")
            .unwrap()
            .as_deref(),
        Some(V15)
    );
    // Not strings, or absent.
    assert_eq!(
        h.string_value(r"Microsoft\ExchangeServer\v15\Setup", "MsiProductMajor")
            .unwrap(),
        None
    );
    assert_eq!(
        h.string_value(r"Microsoft\ExchangeServer\v15\Setup", "Big")
            .unwrap(),
        None
    );
    assert_eq!(
        h.string_value(r"Microsoft\ExchangeServer\v16\Setup", "MsiInstallPath")
            .unwrap(),
        None
    );
    assert_eq!(h.string_value(r"Classes\x", "y").unwrap(), None);
}

#[test]
fn no_exchange_and_corrupt_hives() {
    let mut w = regf_writer::RegfWriter::new();
    let root = w.key("ROOT", true, &[], regf_writer::ListKind::Lf, &[], true);
    assert!(msi_install_paths(&w.finish(root)).unwrap().is_empty());
    assert!(msi_install_paths(b"").is_err());
    assert!(msi_install_paths(b"regf").is_err());
    let hive = regf_writer::exchange_software_hive(V15, V14);
    // Every truncation and every single-byte corruption gives a value or an error, never a panic.
    for n in (0..hive.len()).step_by(7) {
        let _ = msi_install_paths(&hive[..n]);
        let mut bad = hive.clone();
        bad[n] ^= 0xFF;
        let _ = msi_install_paths(&bad);
    }
}

#[test]
fn hivex_reads_the_test_hive_the_same() {
    let available = Command::new("hivexget").arg("--help").output().is_ok();
    if !available {
        eprintln!("hivexget not installed (Debian libhivex-bin): cross-check skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SOFTWARE");
    std::fs::write(&path, regf_writer::exchange_software_hive(V15, V14)).unwrap();
    for (key, want) in [
        (r"\Microsoft\ExchangeServer\v15\Setup", V15),
        (r"\Microsoft\ExchangeServer\V14\Setup", V14),
    ] {
        let out = Command::new("hivexget")
            .arg(&path)
            .arg(key)
            .arg("MsiInstallPath")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hivexget failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
            want
        );
    }
    let out = Command::new("hivexget")
        .arg(&path)
        .arg(r"\Microsoft\ExchangeServer\v15\Setup")
        .arg("MsiProductMajor")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "15");
}

/// An `ri` list whose entries all point at one big `lf` list: the lookup is bounded by the
/// key's subkey count instead of multiplying the lists into a huge allocation.
#[test]
fn ri_amplification_is_bounded() {
    use regf_writer::{ListKind, RegfWriter};
    let mut w = RegfWriter::new();
    let leaf = w.key("Leaf", true, &[], ListKind::Lf, &[], false);
    let kids: Vec<(u32, &str)> = (0..2000).map(|_| (leaf, "Leaf")).collect();
    let big = w.key("Big", true, &kids, ListKind::Lf, &[], false);
    let root = w.key("ROOT", true, &[(big, "Big")], ListKind::Lf, &[], true);
    let mut hive = w.finish(root);
    // Find Big's lf list and build an ri with 4000 pointers to it, then point Big at the ri.
    let h = Hive::new(&hive).unwrap();
    assert_eq!(h.string_value("Big/Leaf", "x").unwrap(), None);
    let big_abs = 4096 + big as usize + 4;
    let lf = u32::from_le_bytes(hive[big_abs + 28..big_abs + 32].try_into().unwrap());
    let mut ri = b"ri".to_vec();
    ri.extend_from_slice(&4000u16.to_le_bytes());
    for _ in 0..4000 {
        ri.extend_from_slice(&lf.to_le_bytes());
    }
    // Append a new hbin-less cell region at the end (cells are addressed by offset only).
    let ri_off = (hive.len() - 4096) as u32;
    let size = (4 + ri.len()).div_ceil(8) * 8;
    hive.extend_from_slice(&(-(size as i32)).to_le_bytes());
    hive.extend_from_slice(&ri);
    hive.resize(4096 + ri_off as usize + size, 0);
    hive[big_abs + 28..big_abs + 32].copy_from_slice(&ri_off.to_le_bytes());
    let h = Hive::new(&hive).unwrap();
    assert!(h.string_value("Big/Nothing", "x").is_err());
}

/// Allocates an `ri` list of `n` entries all pointing at an `ri` list of `n` entries all pointing
/// at one empty `li` list; returns (inner, outer).
fn nested_ri(w: &mut regf_writer::RegfWriter, n: usize) -> (u32, u32) {
    let empty_li = w.alloc(b"li\0\0");
    let ri = |target: u32| {
        let mut v = b"ri".to_vec();
        v.extend_from_slice(&(n as u16).to_le_bytes());
        for _ in 0..n {
            v.extend_from_slice(&target.to_le_bytes());
        }
        v
    };
    let inner = w.alloc(&ri(empty_li));
    let outer = w.alloc(&ri(inner));
    (inner, outer)
}

/// Nested `ri` lists (which Windows never writes): an `ri` of 20,000 entries all pointing at a
/// second `ri` of 20,000 entries all pointing at one empty `li` made 400 million list visits
/// from a 160 KB hive (three levels of such lists, 8·10^12). Refused: the lookup is an error
/// naming the nesting, after at most one visit of the inner list.
#[test]
fn nested_ri_lists_are_refused() {
    use regf_writer::{ListKind, RegfWriter};
    const N: usize = 20_000;
    let mut w = RegfWriter::new();
    let leaf = w.key("Leaf", true, &[], ListKind::Lf, &[], false);
    let big = w.key("Big", true, &[(leaf, "Leaf")], ListKind::Lf, &[], false);
    let root = w.key("ROOT", true, &[(big, "Big")], ListKind::Lf, &[], true);
    let (inner, outer) = nested_ri(&mut w, N);
    let mut hive = w.finish(root);
    assert!(hive.len() < 200_000, "{}", hive.len());
    // Point Big's subkey list at the outer ri.
    let big_abs = 4096 + big as usize + 4;
    hive[big_abs + 28..big_abs + 32].copy_from_slice(&outer.to_le_bytes());
    let h = Hive::new(&hive).unwrap();
    let start = std::time::Instant::now();
    let e = h.string_value("Big/Leaf", "x").unwrap_err();
    assert!(e.to_string().contains("ri list inside an ri list"), "{e}");
    eprintln!("refused in {:?}", start.elapsed());
    // One level of ri (what Windows writes) is still read.
    let mut one = hive.clone();
    one[big_abs + 28..big_abs + 32].copy_from_slice(&inner.to_le_bytes());
    assert_eq!(
        Hive::new(&one)
            .unwrap()
            .string_value("Big/Leaf", "x")
            .unwrap(),
        None
    );
}

/// The nested-`ri` hive of [`nested_ri_lists_are_refused`] as the `SOFTWARE` hive of a triage
/// collection, under the key the assessment looks up (`Microsoft`'s subkeys): `deadbox scan`
/// of the folder ends within a minute under a 2 GiB address-space limit, exit 0/1, with a
/// diagnostic naming the nesting (400 million list visits before).
#[test]
fn a_nested_ri_hive_in_a_collection_through_the_cli() {
    use regf_writer::{ListKind, RegfWriter};
    const N: usize = 20_000;
    let mut w = RegfWriter::new();
    let setup = w.key("Setup", true, &[], ListKind::Lf, &[], false);
    let v15 = w.key("v15", true, &[(setup, "Setup")], ListKind::Lf, &[], false);
    let ex = w.key(
        "ExchangeServer",
        true,
        &[(v15, "v15")],
        ListKind::Lf,
        &[],
        false,
    );
    let ms = w.key(
        "Microsoft",
        true,
        &[(ex, "ExchangeServer")],
        ListKind::Lf,
        &[],
        false,
    );
    let root = w.key("ROOT", true, &[(ms, "Microsoft")], ListKind::Lf, &[], true);
    let (_, outer) = nested_ri(&mut w, N);
    let mut hive = w.finish(root);
    let ms_abs = 4096 + ms as usize + 4;
    hive[ms_abs + 28..ms_abs + 32].copy_from_slice(&outer.to_le_bytes());

    let dir = std::env::temp_dir().join(format!("deadbox-ri-{}", std::process::id()));
    let config = dir.join("C/Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("SOFTWARE"), &hive).unwrap();
    let start = std::time::Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152 && exec timeout 120 \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_deadbox"))
        .args(["scan", "--format", "jsonl", "--quiet"])
        .arg(&dir)
        .output()
        .unwrap();
    let took = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?} after {took:?}: {stderr}",
        out.status
    );
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("SOFTWARE hive unreadable")
                && l.contains("ri list inside an ri list")),
        "{stdout}"
    );
}

/// 20,000 subkeys that all point at one key with a 30,000-character name, and the real key
/// last: a lookup compares stored name lengths before decoding (each child decoded and
/// lowercased was 6·10^8 character operations per path step), and still finds the key.
#[test]
fn long_names_are_not_decoded_for_every_child() {
    use regf_writer::{ListKind, RegfWriter};
    let mut w = RegfWriter::new();
    let long_name = "L".repeat(30_000);
    let long = w.key(&long_name, true, &[], ListKind::Lf, &[], false);
    let leaf = w.key("Leaf", true, &[], ListKind::Lf, &[], false);
    let mut kids: Vec<(u32, &str)> = vec![(long, long_name.as_str()); 20_000];
    kids.push((leaf, "Leaf"));
    let big = w.key("Big", true, &kids, ListKind::Lf, &[], false);
    let root = w.key("ROOT", true, &[(big, "Big")], ListKind::Lf, &[], true);
    let hive = w.finish(root);
    let h = Hive::new(&hive).unwrap();
    assert_eq!(h.string_value("Big/Leaf", "x").unwrap(), None);
    assert_eq!(h.string_value("Big/Nothing", "x").unwrap(), None);
    assert!(h.string_value("Big/Leaf/Deeper", "x").unwrap().is_none());
}
