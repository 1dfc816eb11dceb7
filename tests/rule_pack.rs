//! The built-in YARA-X rule pack (`deadbox::rule_pack::BUILTIN_RULES`): it compiles cleanly, its
//! metadata follow the contract, it finds the shared corpus of real web shells without flagging
//! the real benign pages, and it sorts the synthetic samples of `tests/data/rules/` into the
//! intended families.

use std::path::{Path, PathBuf};

use deadbox::rule_pack::BUILTIN_RULES;

#[path = "support/dotnet_pe.rs"]
mod dotnet_pe;
use yara_x::{Compiler, MetaValue, Rules, Scanner};

const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];
const CATEGORIES: &[&str] = &[
    "webshell",
    "loader",
    "cmdshell",
    "filemanager",
    "database",
    "recon",
    "tunnel",
    "xslt",
    "handler",
    "oab_vdir",
    "lsass_dump",
];

/// Compiles the pack, one namespace per file; returns the rules and the warnings as text.
fn compile() -> (Rules, Vec<String>) {
    let mut compiler = Compiler::new();
    for (file, source) in BUILTIN_RULES {
        compiler.new_namespace(file.trim_end_matches(".yar"));
        if let Err(e) = compiler.add_source(*source) {
            panic!("{file} does not compile:\n{e}");
        }
    }
    let warnings = compiler.warnings().iter().map(|w| w.to_string()).collect();
    (compiler.build(), warnings)
}

/// One matching rule, owned.
#[derive(Debug, Clone)]
struct Hit {
    rule: String,
    severity: String,
    category: String,
}

impl Hit {
    fn rank(&self) -> usize {
        SEVERITIES
            .iter()
            .position(|s| *s == self.severity)
            .unwrap_or(0)
    }
}

fn meta_str(rule: &yara_x::Rule<'_, '_>, key: &str) -> String {
    rule.metadata()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| match v {
            MetaValue::String(s) => Some(s.to_string()),
            MetaValue::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

fn scan(rules: &Rules, data: &[u8]) -> Vec<Hit> {
    let mut scanner = Scanner::new(rules);
    let results = scanner.scan(data).expect("scan");
    results
        .matching_rules()
        .map(|r| Hit {
            rule: format!("{}.{}", r.namespace(), r.identifier()),
            severity: meta_str(&r, "severity"),
            category: meta_str(&r, "category"),
        })
        .collect()
}

fn is_high(hits: &[Hit]) -> bool {
    hits.iter().any(|h| h.rank() >= 2)
}

fn medium_or_above(hits: &[Hit]) -> Vec<&Hit> {
    hits.iter().filter(|h| h.rank() >= 1).collect()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The shared real-world corpus, or `None` (with a notice) when it is absent outside CI.
fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.join("webshells").is_dir() && dir.join("benign-aspx").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "shared corpus missing at {} (required when CI=true)",
            dir.display()
        );
    }
    println!(
        "NOTICE: shared corpus not found at {}; corpus checks skipped",
        dir.display()
    );
    None
}

fn data_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rules")
        .join(sub)
}

#[test]
fn pack_compiles_without_warnings() {
    let (rules, warnings) = compile();
    assert!(warnings.is_empty(), "warnings:\n{}", warnings.join("\n"));
    assert!(rules.iter().len() >= 20, "pack unexpectedly small");
}

/// Performance contract: every pattern is searched through atoms of at least 4 bytes (short
/// atoms match everywhere and make every scan slow).
#[test]
fn every_atom_is_at_least_four_bytes() {
    let (rules, _) = compile();
    for rule in rules.iter() {
        for pattern in rule.patterns() {
            let atoms: Vec<Vec<u8>> = pattern.atoms().map(|a| a.as_slice().to_vec()).collect();
            assert!(
                !atoms.is_empty(),
                "{}.{} {}: no atoms",
                rule.namespace(),
                rule.identifier(),
                pattern.identifier()
            );
            for atom in &atoms {
                assert!(
                    atom.len() >= 4,
                    "{}.{} {}: short atom {:?}",
                    rule.namespace(),
                    rule.identifier(),
                    pattern.identifier(),
                    String::from_utf8_lossy(atom)
                );
            }
        }
    }
}

#[test]
fn every_rule_has_the_required_metadata() {
    let (rules, _) = compile();
    for rule in rules.iter() {
        let name = format!("{}.{}", rule.namespace(), rule.identifier());
        let description = meta_str(&rule, "description");
        assert!(description.len() >= 20, "{name}: description");
        let severity = meta_str(&rule, "severity");
        assert!(
            SEVERITIES.contains(&severity.as_str()),
            "{name}: {severity}"
        );
        let category = meta_str(&rule, "category");
        assert!(
            CATEGORIES.contains(&category.as_str()),
            "{name}: {category}"
        );
        assert_eq!(meta_str(&rule, "author"), "deadbox", "{name}: author");
    }
}

#[test]
fn every_category_is_covered() {
    let (rules, _) = compile();
    for category in CATEGORIES {
        assert!(
            rules.iter().any(|r| meta_str(&r, "category") == *category
                && meta_str(&r, "severity") != "low"),
            "no medium+ rule for {category}"
        );
    }
}

#[test]
fn corpus_webshells_detected_high_or_critical() {
    let Some(corpus) = corpus() else { return };
    let (rules, _) = compile();
    let files = files_in(&corpus.join("webshells"));
    assert!(files.len() >= 12, "expected the 12 shared web shells");
    let missed: Vec<String> = files
        .iter()
        .filter(|f| !is_high(&scan(&rules, &std::fs::read(f).expect("read"))))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missed.is_empty(), "not detected at high+: {missed:#?}");
}

#[test]
fn corpus_benign_pages_not_flagged() {
    let Some(corpus) = corpus() else { return };
    let (rules, _) = compile();
    let files = files_in(&corpus.join("benign-aspx"));
    assert!(files.len() >= 49, "expected the 49 shared benign pages");
    for f in &files {
        let hits = scan(&rules, &std::fs::read(f).expect("read"));
        assert!(
            medium_or_above(&hits).is_empty(),
            "{} flagged: {hits:?}",
            f.display()
        );
    }
}

/// `positive/<category>__<what>.txt` must be found at high+ by a rule of `<category>`.
#[test]
fn synthetic_positives_detected_by_their_family() {
    let (rules, _) = compile();
    let files = files_in(&data_dir("positive"));
    assert!(files.len() >= 12);
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        let (category, _) = name.split_once("__").expect("<category>__<what>.txt");
        let hits = scan(&rules, &std::fs::read(f).expect("read"));
        assert!(
            hits.iter().any(|h| h.category == category && h.rank() >= 2),
            "{name}: no high+ {category} rule in {hits:?}"
        );
    }
}

/// Each obfuscation has a rule of its own (not only a broader one that happens to match).
#[test]
fn synthetic_obfuscations_hit_their_specific_rule() {
    let (rules, _) = compile();
    let cases = [
        (
            "webshell__chopper_xescape.txt",
            "chopper_jscript_eval_obfuscated",
        ),
        (
            "webshell__chopper_concat.txt",
            "chopper_jscript_eval_obfuscated",
        ),
        (
            "webshell__chopper_gif89a.txt",
            "chopper_gif89a_server_script",
        ),
        (
            "webshell__chopper_csharp.txt",
            "chopper_csharp_jscriptevaluate",
        ),
        ("oab_vdir__externalurl_script.txt", "oab_vdir_script_in_url"),
        ("loader__aes_session_key.txt", "loader_aes_assembly_load"),
        ("loader__base64_assembly.txt", "loader_base64_assembly_load"),
        ("cmdshell__process_cmd.txt", "cmdshell_process_start_shell"),
        ("cmdshell__wscript_shell_asp.txt", "cmdshell_wscript_shell"),
        ("tunnel__regeorg_like.txt", "tunnel_regeorg_headers"),
        ("tunnel__socket_relay.txt", "tunnel_socket_relay"),
        ("xslt__msxsl_script.txt", "xslt_script_shell"),
        ("handler__ashx_exec.txt", "handler_executes_request_data"),
        (
            "webshell__chopper_jscript_vars.txt",
            "chopper_jscript_server_eval",
        ),
        (
            "cmdshell__powershell_runspace.txt",
            "cmdshell_powershell_runspace",
        ),
        (
            "filemanager__aspxspy_like.txt",
            "filemanager_browse_upload_delete_download",
        ),
        (
            "filemanager__upload_next_to_self.txt",
            "filemanager_upload_to_own_folder",
        ),
    ];
    for (file, rule) in cases {
        let data = std::fs::read(data_dir("positive").join(file)).expect("read");
        let hits = scan(&rules, &data);
        assert!(
            hits.iter().any(|h| h.rule.ends_with(&format!(".{rule}"))),
            "{file}: {rule} did not match ({hits:?})"
        );
    }
}

#[test]
fn synthetic_negatives_not_flagged() {
    let (rules, _) = compile();
    let files = files_in(&data_dir("negative"));
    assert!(files.len() >= 6);
    for f in &files {
        let hits = scan(&rules, &std::fs::read(f).expect("read"));
        assert!(
            medium_or_above(&hits).is_empty(),
            "{} flagged: {hits:?}",
            f.display()
        );
    }
}

/// A minimal Windows minidump: header, one ModuleListStream (type 4), the modules' UTF-16LE
/// names, then `tail` (stands for memory content).
fn minidump(modules: &[&str], tail: &[u8]) -> Vec<u8> {
    const MODULE_SIZE: u32 = 108;
    let n = modules.len() as u32;
    let list_rva = 32 + 12;
    let names_rva = list_rva + 4 + MODULE_SIZE * n;
    let mut out = Vec::new();
    out.extend_from_slice(b"MDMP");
    out.extend_from_slice(&0xA793u32.to_le_bytes()); // version
    out.extend_from_slice(&1u32.to_le_bytes()); // NumberOfStreams
    out.extend_from_slice(&32u32.to_le_bytes()); // StreamDirectoryRva
    out.extend_from_slice(&[0; 16]); // checksum, timestamp, flags
    out.extend_from_slice(&4u32.to_le_bytes()); // ModuleListStream
    out.extend_from_slice(&(4 + MODULE_SIZE * n).to_le_bytes());
    out.extend_from_slice(&list_rva.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    let mut names = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        let rva = names_rva + names.len() as u32;
        let utf16: Vec<u8> = m.encode_utf16().flat_map(u16::to_le_bytes).collect();
        names.extend_from_slice(&(utf16.len() as u32).to_le_bytes());
        names.extend_from_slice(&utf16);
        names.extend_from_slice(&[0, 0]);
        let mut module = vec![0u8; MODULE_SIZE as usize];
        module[..8].copy_from_slice(&(0x7ff7_0000_0000u64 + i as u64 * 0x10_0000).to_le_bytes());
        module[8..12].copy_from_slice(&0x1000u32.to_le_bytes());
        module[20..24].copy_from_slice(&rva.to_le_bytes());
        out.extend_from_slice(&module);
    }
    out.extend_from_slice(&names);
    out.extend_from_slice(tail);
    out
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn lsass_minidump_detected_critical() {
    let (rules, _) = compile();
    for modules in [
        &[
            r"C:\Windows\System32\lsass.exe",
            r"C:\Windows\SYSTEM32\ntdll.dll",
        ][..],
        &[
            r"C:\Windows\SYSTEM32\ntdll.dll",
            r"C:\Windows\system32\LSASS.EXE",
        ][..],
    ] {
        let hits = scan(&rules, &minidump(modules, &[]));
        assert!(
            hits.iter()
                .any(|h| h.category == "lsass_dump" && h.severity == "critical"),
            "{modules:?}: {hits:?}"
        );
    }
}

#[test]
fn other_process_minidump_not_flagged() {
    let (rules, _) = compile();
    let plain = minidump(&[r"C:\Windows\System32\notepad.exe"], &[]);
    assert!(scan(&rules, &plain).is_empty());
    // A dump of another process whose memory merely names lsass.exe: low at most.
    let mentions = minidump(
        &[r"C:\Windows\System32\taskmgr.exe"],
        &utf16("csrss.exe wininit.exe lsass.exe services.exe"),
    );
    let hits = scan(&rules, &mentions);
    assert!(medium_or_above(&hits).is_empty(), "{hits:?}");
    assert!(hits.iter().any(|h| h.category == "lsass_dump"), "{hits:?}");
}

/// Hostile minidump headers (huge counts, offsets past the end, truncation) end the scan
/// normally: the rule's loops have fixed bounds and out-of-range reads are undefined, not errors.
#[test]
fn corrupt_minidumps_scan_cleanly() {
    let (rules, _) = compile();
    let critical = |data: &[u8]| {
        scan(&rules, data)
            .iter()
            .any(|h| h.category == "lsass_dump" && h.severity == "critical")
    };
    let good = minidump(&[r"C:\Windows\System32\lsass.exe"], &[]);
    assert!(critical(&good));
    assert!(!critical(b"MDMP"));
    assert!(!critical(&[]));
    for cut in [8, 16, 44, 60, good.len() - 3] {
        assert!(!critical(&good[..cut]), "cut at {cut}");
    }
    // Counts of u32::MAX: the loops stay within their fixed bounds, the real entry is found.
    let mut huge = good.clone();
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes()); // NumberOfStreams
    huge[44..48].copy_from_slice(&u32::MAX.to_le_bytes()); // NumberOfModules
    assert!(critical(&huge));
    // Directory and name offsets pointing past the end: nothing is read, nothing matches.
    let mut wild = good.clone();
    wild[12..16].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes()); // StreamDirectoryRva
    assert!(!critical(&wild));
    let mut wild_name = good.clone();
    wild_name[48 + 20..48 + 24].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes()); // ModuleNameRva
    assert!(!critical(&wild_name));
}

/// A compiled page assembly (App_Web_*.dll) of a JScript chopper page, reduced to the strings
/// the rule looks at; the JScript runtime itself (same API names, no page class) is not flagged.
#[test]
fn compiled_chopper_page_detected() {
    let (rules, _) = compile();
    let mut page = b"MZ".to_vec();
    page.extend_from_slice(&[0; 126]);
    page.extend_from_slice(b"App_Web_k3j2h1g0\0ASP.errorpage_aspx\0JScriptEvaluate\0");
    page.extend_from_slice(&utf16("unsafe"));
    let hits = scan(&rules, &page);
    assert!(
        hits.iter()
            .any(|h| h.rule.ends_with(".chopper_compiled_page") && h.rank() >= 2),
        "{hits:?}"
    );
    let mut runtime = b"MZ".to_vec();
    runtime.extend_from_slice(&[0; 126]);
    runtime.extend_from_slice(b"Microsoft.JScript\0Eval\0JScriptEvaluate\0");
    runtime.extend_from_slice(&utf16("unsafe"));
    assert!(scan(&rules, &runtime).is_empty());
}

/// A settings dump saved as UTF-16LE (with BOM) is still recognised.
#[test]
fn oab_vdir_dump_in_utf16_detected() {
    let (rules, _) = compile();
    let text =
        std::fs::read_to_string(data_dir("positive").join("oab_vdir__externalurl_script.txt"))
            .expect("read");
    let mut data = vec![0xFF, 0xFE];
    data.extend_from_slice(&utf16(&text));
    let hits = scan(&rules, &data);
    assert!(
        hits.iter()
            .any(|h| h.category == "oab_vdir" && h.severity == "critical"),
        "{hits:?}"
    );
}

/// The hand-made test assembly is a .NET assembly to YARA-X's `dotnet` module: its name,
/// references, classes and user strings are read (the compiled-page rules depend on them).
#[test]
fn test_assembly_is_read_by_the_dotnet_module() {
    let dll = dotnet_pe::assembly(&dotnet_pe::Spec {
        name: "App_Web_x.aspx.cdcab7d2.abcd1234",
        refs: &["mscorlib", "System.Web"],
        type_refs: &[("System.Web.UI", "Page")],
        types: &[("ASP", "owa_auth_x_aspx")],
        names: &["get_Request"],
        user_strings: &["cmd.exe"],
    });
    let mut compiler = Compiler::new();
    compiler
        .add_source(
            r#"import "dotnet"
rule t { condition:
  dotnet.is_dotnet and dotnet.assembly.name == "App_Web_x.aspx.cdcab7d2.abcd1234" and
  for any r in dotnet.assembly_refs : (r.name == "System.Web") and
  for any c in dotnet.classes : (c.namespace == "ASP" and c.name == "owa_auth_x_aspx") and
  for any s in dotnet.user_strings : (s == "c\x00m\x00d\x00.\x00e\x00x\x00e\x00")
}"#,
        )
        .unwrap();
    let rules = compiler.build();
    let mut scanner = Scanner::new(&rules);
    let results = scanner.scan(&dll).expect("scan");
    assert_eq!(results.matching_rules().count(), 1);
}

/// A compiled page for the rules of `webshells_compiled.yar`: an `App_Web_*` assembly (or, with
/// `asp_class`, any name and a class in the `ASP` namespace) referencing `refs`.
fn compiled_page(asp_class: bool, refs: &[&str], names: &[&str], user: &[&str]) -> Vec<u8> {
    dotnet_pe::assembly(&dotnet_pe::Spec {
        name: if asp_class {
            "Precompiled.Site"
        } else {
            "App_Web_shell.aspx.cdcab7d2.x1y2z3w4"
        },
        refs,
        type_refs: &[("System.Web.UI", "Page")],
        types: &[(if asp_class { "ASP" } else { "" }, "shell_aspx")],
        names,
        user_strings: user,
    })
}

/// Each compiled-page rule finds the metadata of its family, at high, in a hand-made assembly;
/// compiled benign pages and .NET programs that are not compiled pages stay quiet.
#[test]
fn compiled_page_rules() {
    let (rules, _) = compile();
    let web = &["mscorlib", "System", "System.Web"][..];
    let cases: &[(&str, Vec<u8>)] = &[
        (
            "compiled_page_command_shell",
            compiled_page(
                false,
                web,
                &[
                    "System.Diagnostics",
                    "Process",
                    "ProcessStartInfo",
                    "Start",
                    "get_Request",
                    "get_Item",
                ],
                &["cmd.exe", "/c "],
            ),
        ),
        (
            "compiled_page_command_shell",
            compiled_page(
                true,
                web,
                &[
                    "System.Diagnostics",
                    "Process",
                    "Start",
                    "get_Text",
                    "set_RedirectStandardOutput",
                ],
                &["output"],
            ),
        ),
        (
            "compiled_page_jscript_eval",
            compiled_page(
                false,
                &["mscorlib", "System.Web", "Microsoft.JScript"],
                &[
                    "Microsoft.JScript",
                    "Eval",
                    "JScriptEvaluate",
                    "LateBinding",
                ],
                &["Request", "Item", "unsafe"],
            ),
        ),
        (
            "compiled_page_assembly_loader",
            compiled_page(
                false,
                web,
                &[
                    "System.Reflection",
                    "Assembly",
                    "Load",
                    "CreateInstance",
                    "get_Request",
                    "BinaryRead",
                    "TransformFinalBlock",
                    "get_Session",
                ],
                &["k"],
            ),
        ),
        (
            "compiled_page_file_manager",
            compiled_page(
                false,
                web,
                &[
                    "GetLogicalDrives",
                    "GetFiles",
                    "GetDirectories",
                    "Delete",
                    "SaveAs",
                    "get_QueryString",
                ],
                &["path"],
            ),
        ),
        (
            "compiled_page_os_procedures",
            compiled_page(
                false,
                web,
                &["SqlConnection", "SqlCommand", "get_Form"],
                &["exec master..xp_cmdshell '"],
            ),
        ),
    ];
    for (rule, dll) in cases {
        let hits = scan(&rules, dll);
        assert!(
            hits.iter()
                .any(|h| h.rule == format!("webshells_compiled.{rule}") && h.rank() >= 2),
            "{rule}: {hits:?}"
        );
    }
    let quiet: &[(&str, Vec<u8>)] = &[
        // a compiled page that reads the request and writes a response
        (
            "benign page",
            compiled_page(
                false,
                web,
                &["get_Request", "get_QueryString", "Write", "get_Response"],
                &["Hello "],
            ),
        ),
        // a compiled page that runs a converter it names itself, output not sent back
        (
            "thumbnail page",
            compiled_page(
                false,
                web,
                &[
                    "System.Diagnostics",
                    "Process",
                    "Start",
                    "get_Request",
                    "WaitForExit",
                ],
                &["convert.exe"],
            ),
        ),
        // a .NET program (not a compiled page) that starts cmd.exe for a web request
        (
            "service",
            dotnet_pe::assembly(&dotnet_pe::Spec {
                name: "Contoso.Agent",
                refs: web,
                type_refs: &[("System", "Object")],
                types: &[("Contoso", "Agent")],
                names: &["System.Diagnostics", "Process", "Start", "get_Request"],
                user_strings: &["cmd.exe"],
            }),
        ),
    ];
    for (what, dll) in quiet {
        let hits = scan(&rules, dll);
        assert!(medium_or_above(&hits).is_empty(), "{what}: {hits:?}");
    }
}

/// The compiled shell of `fixtures/ntfs-compiled.img` (`tests/data/compiled/`, copied in by
/// `fixtures/build_compiled.sh`) is this helper's output; `DEADBOX_WRITE_FIXTURES=1` writes it
/// again. It matches the compiled command-shell rule.
#[test]
fn committed_compiled_shell_is_current() {
    let dll = dotnet_pe::assembly(&dotnet_pe::Spec {
        name: "App_Web_x.aspx.cdcab7d2.x1y2z3w4",
        refs: &["mscorlib", "System", "System.Web"],
        type_refs: &[("System.Web.UI", "Page")],
        types: &[("ASP", "owa_auth_x_aspx")],
        names: &[
            "System.Diagnostics",
            "Process",
            "ProcessStartInfo",
            "Start",
            "get_Request",
            "set_RedirectStandardOutput",
        ],
        user_strings: &["cmd.exe", "/c "],
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/compiled/App_Web_x.aspx.cdcab7d2.x1y2z3w4.dll");
    if std::env::var("DEADBOX_WRITE_FIXTURES").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &dll).unwrap();
    }
    assert_eq!(std::fs::read(&path).expect("committed assembly"), dll);
    let (rules, _) = compile();
    assert!(scan(&rules, &dll)
        .iter()
        .any(|h| h.rule == "webshells_compiled.compiled_page_command_shell"));
}

/// Real compiler output: page classes compiled by Mono's C# compiler into `App_Web_*.dll`
/// assemblies (`tests/data/compiled/build_real.sh`, sources in `src/`): each shell is found by
/// its compiled-page rule, the benign pages (a greeting, a page that runs a converter) are not.
#[test]
fn compiled_page_rules_on_real_assemblies() {
    let (rules, _) = compile();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compiled");
    let cases = [
        (
            "App_Web_cmd.aspx.cdcab7d2.mcs00001.dll",
            Some("compiled_page_command_shell"),
        ),
        (
            "App_Web_x.aspx.cdcab7d2.mcs00002.dll",
            Some("compiled_page_assembly_loader"),
        ),
        (
            "App_Web_fm.aspx.cdcab7d2.mcs00003.dll",
            Some("compiled_page_file_manager"),
        ),
        ("App_Web_default.aspx.cdcab7d2.mcs00004.dll", None),
        ("App_Web_thumbs.aspx.cdcab7d2.mcs00005.dll", None),
    ];
    for (file, rule) in cases {
        let hits = scan(
            &rules,
            &std::fs::read(dir.join(file)).expect("committed assembly"),
        );
        match rule {
            Some(rule) => assert!(
                hits.iter()
                    .any(|h| h.rule == format!("webshells_compiled.{rule}") && h.rank() >= 2),
                "{file}: {hits:?}"
            ),
            None => assert!(medium_or_above(&hits).is_empty(), "{file}: {hits:?}"),
        }
    }
}
