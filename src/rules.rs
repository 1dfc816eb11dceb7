//! The built-in rule pack and IOC list (placeholder until the pack lands).

/// The built-in rule pack: (file name, source), one YARA namespace per file.
pub const BUILTIN_RULES: &[(&str, &str)] = &[];

/// SHA-256 of the campaign's published web shells, with a comment.
pub const BUILTIN_IOCS: &[(&str, &str)] = &[];
