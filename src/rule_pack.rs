//! The built-in detection content: a YARA-X rule pack and a list of published hash IOCs.
//!
//! The rules live in `rules/*.yar` (one file per family) and are compiled into the binary with
//! `include_str!`. Each file is meant to be its own YARA namespace, named after the file stem
//! (`webshells_chopper.yar` → `webshells_chopper`). Every rule carries the metadata
//!
//! | key | values |
//! |---|---|
//! | `description` | one sentence saying what was seen |
//! | `severity` | `critical`, `high`, `medium` or `low` (see [`crate::finding::Severity`]) |
//! | `category` | `webshell`, `loader`, `cmdshell`, `filemanager`, `database`, `recon`, `tunnel`, `xslt`, `handler`, `oab_vdir` or `lsass_dump` |
//! | `author` | `deadbox` |
//!
//! Rules key on behaviour (server-side script *and* a dangerous sink fed by request data), not on
//! the strings of known samples, and use no external variables: a file is judged on its bytes
//! alone. The scan also runs them over the normalised text of each web script
//! ([`crate::scan::normalize`]: comments removed, strings joined, character codes decoded,
//! request values inlined), so they are written to hold on both forms; `rules/README.md` lists
//! the files and the measured recall. The pack compiles without warnings; its patterns are literals or regular expressions
//! anchored on literals of four bytes or more, so it stays cheap on large inputs.
//!
//! With the `yara` feature (the pack is only text without it):
//!
//! ```
//! # #[cfg(feature = "yara")] {
//! let mut compiler = yara_x::Compiler::new();
//! for (file, source) in deadbox::rule_pack::BUILTIN_RULES {
//!     compiler.new_namespace(file.trim_end_matches(".yar"));
//!     compiler.add_source(*source).expect("the built-in pack compiles");
//! }
//! assert!(compiler.warnings().is_empty());
//! let rules = compiler.build();
//! let mut scanner = yara_x::Scanner::new(&rules);
//! let shell = br#"<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>"#;
//! let results = scanner.scan(shell).expect("scan");
//! assert!(results.matching_rules().any(|r| r.identifier() == "chopper_jscript_eval_unsafe"));
//! # }
//! ```

/// The built-in rule pack: (file name, source), one YARA namespace per file (the file stem).
pub const BUILTIN_RULES: &[(&str, &str)] = &[
    (
        "webshells_chopper.yar",
        include_str!("../rules/webshells_chopper.yar"),
    ),
    (
        "webshells_loader.yar",
        include_str!("../rules/webshells_loader.yar"),
    ),
    (
        "webshells_cmdshell.yar",
        include_str!("../rules/webshells_cmdshell.yar"),
    ),
    (
        "webshells_filemanager.yar",
        include_str!("../rules/webshells_filemanager.yar"),
    ),
    (
        "webshells_tunnel.yar",
        include_str!("../rules/webshells_tunnel.yar"),
    ),
    (
        "webshells_xslt_handler.yar",
        include_str!("../rules/webshells_xslt_handler.yar"),
    ),
    (
        "webshells_database.yar",
        include_str!("../rules/webshells_database.yar"),
    ),
    (
        "webshells_compiled.yar",
        include_str!("../rules/webshells_compiled.yar"),
    ),
    (
        "webshells_recon.yar",
        include_str!("../rules/webshells_recon.yar"),
    ),
    (
        "webshells_obfuscated.yar",
        include_str!("../rules/webshells_obfuscated.yar"),
    ),
    ("lsass_dump.yar", include_str!("../rules/lsass_dump.yar")),
];

/// SHA-256 of the campaign's published web shells (reference doc), lowercase hex, with a comment.
///
/// These are the ProxyLogon (March 2021) web-shell hashes published by Microsoft and others.
/// A stream whose SHA-256 is in this list is a known web shell, whatever its name or location.
pub const BUILTIN_IOCS: &[(&str, &str)] = &[
    (
        "b75f163ca9b9240bf4b37ad92bc7556b40a17e27c2b8ed5c8991385fe07d17d0",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "097549cf7d0f76f0d99edf8b2d91c60977fd6a96e4b8c3c94b0b1733dc026d3e",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "2b6f1ebb2208e93ade4a6424555d6a8341fd6d9f60c25e44afe11008f5c1aad1",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "65149e036fff06026d80ac9ad4d156332822dc93142cf1a122b1841ec8de34b5",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "511df0e2df9bfa5521b588cc4bb5f8c5a321801b803394ebc493db1ef3c78fa1",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "4edc7770464a14f54d17f36dc9d0fe854f68b346b27b35a6f5839adf1f13f8ea",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "811157f9c7003ba8d17b45eb3cf09bef2cecd2701cedb675274949296a6a183d",
        "ProxyLogon web shell (published IOC)",
    ),
    (
        "1631a90eb5395c4e19c7dbcbf611bbe6444ff312eb7937e286e4637cb9e72944",
        "ProxyLogon web shell (published IOC)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iocs_are_lowercase_sha256_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (hash, comment) in BUILTIN_IOCS {
            assert_eq!(hash.len(), 64, "{hash}");
            assert!(
                hash.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{hash}"
            );
            assert!(!comment.is_empty());
            assert!(seen.insert(*hash), "duplicate {hash}");
        }
    }

    #[test]
    fn rule_files_are_distinct_yar_files() {
        let mut seen = std::collections::HashSet::new();
        for (file, source) in BUILTIN_RULES {
            assert!(file.ends_with(".yar"), "{file}");
            assert!(source.contains("rule "), "{file}");
            assert!(seen.insert(*file), "duplicate {file}");
        }
    }
}
