//! Evidence is never written: only one function opens evidence (read-only), nothing in the
//! library writes files, and running every command leaves every fixture byte-identical with an
//! unchanged modification time.

mod common;

use common::{fixture, run};

#[test]
fn one_place_opens_evidence_and_it_is_read_only() {
    // The top-level crate and the workspace crates under crates/ (evidence, NTFS).
    let mut offenders = Vec::new();
    let mut stack = vec![common::root().join("src"), common::root().join("crates")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let rel = p
                .strip_prefix(common::root())
                .unwrap()
                .display()
                .to_string();
            // Unit tests (after the file's `#[cfg(test)]`) write their own temporary files.
            for (i, line) in text
                .lines()
                .enumerate()
                .take_while(|(_, l)| !l.trim_start().starts_with("#[cfg(test)]"))
            {
                let writes = [
                    "File::create",
                    ".write(true)",
                    ".append(true)",
                    "fs::write(",
                    "OpenOptions::new()",
                    "MmapMut",
                    "map_mut",
                ];
                if writes.iter().any(|w| line.contains(w)) {
                    offenders.push(format!("{rel}:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    // The only writers: `scan -o FILE`, `extract --out DIR` and the HTML report
    // (`report::write`), which create new files (create_new: never truncating, never following
    // a planted symlink) outside the evidence.
    let creators = ["src/extract.rs", "src/report.rs"];
    offenders.retain(|o| {
        !((o.starts_with("src/main.rs") || creators.iter().any(|c| o.starts_with(c)))
            && o.contains(".write(true)"))
            && !(creators.iter().any(|c| o.starts_with(c)) && o.contains("OpenOptions::new()"))
    });
    for c in creators {
        let text = std::fs::read_to_string(common::root().join(c)).unwrap();
        assert_eq!(
            text.matches(".write(true)").count(),
            text.matches(".create_new(true)").count(),
            "{c}"
        );
    }
    assert!(
        offenders.is_empty(),
        "write-capable calls in src/: {offenders:#?}"
    );
    let ev =
        std::fs::read_to_string(common::root().join("crates/deadbox-evidence/src/lib.rs")).unwrap();
    assert!(ev.contains("pub fn open_read_only"));
}

#[test]
fn commands_leave_evidence_untouched() {
    let names = [
        "ntfs-basic.img",
        "disk-mbr.img",
        "disk-gpt4k.img",
        "ntfs-shells.img",
    ];
    let before: Vec<(Vec<u8>, std::time::SystemTime)> = names
        .iter()
        .map(|n| {
            let p = fixture(n);
            (
                std::fs::read(&p).unwrap(),
                std::fs::metadata(&p).unwrap().modified().unwrap(),
            )
        })
        .collect();
    for n in names {
        let p = fixture(n);
        let p = p.to_str().unwrap();
        let out = common::scratch().join(format!("extract-{n}"));
        let out = out.to_str().unwrap();
        for args in [
            vec!["info", p],
            vec!["ls", p, "--format", "jsonl"],
            vec!["ls", p, "--format", "jsonl", "--index-slack"],
            vec!["hash", p, "--format", "jsonl"],
            vec!["scan", p, "--all-files", "--format", "jsonl", "-q"],
            vec!["cat", p, "--entry", "5:$I30", "--partition", "1"],
            vec!["extract", p, "--out", out, "--all-files"],
            vec!["verify", p],
        ] {
            let (code, _, err) = run(&args);
            // cat of a directory's index and verify of a raw image fail cleanly (exit 2).
            assert!((0..=2).contains(&code), "{args:?}: {err}");
            if !matches!(args[0], "cat" | "verify") {
                assert!(code == 0 || code == 1, "{args:?}: {err}");
            }
        }
        // `-o` pointed at the evidence is refused, not obeyed.
        let (code, _, _) = run(&["scan", p, "-o", p, "-q"]);
        assert_eq!(code, 2);
    }
    for (n, (bytes, mtime)) in names.iter().zip(before) {
        let p = fixture(n);
        assert!(std::fs::read(&p).unwrap() == bytes, "{n} changed");
        assert_eq!(
            std::fs::metadata(&p).unwrap().modified().unwrap(),
            mtime,
            "{n} mtime changed"
        );
    }
}
