//! Loading a scan's detection content: compiling YARA rules (the built-in pack,
//! [`crate::rule_pack`], and `--rules` files) and reading hash lists.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// External variables defined for every scanned stream, as the widely used signature-base rule
/// sets expect them.
pub const EXTERNALS: &[&str] = &["filename", "filepath", "extension", "filetype", "owner"];

/// Compiled rules plus what compiling them said.
pub struct CompiledRules {
    /// The rules (shared: several scans, or the caller's own scanner, may hold them).
    pub rules: Arc<yara_x::Rules>,
    /// Whether any rule source mentions a name external (`filename`, `filepath`,
    /// `extension`): then each name of a file with hard links is scanned with its own;
    /// otherwise a stream is scanned once for all its names.
    pub name_externals: bool,
    /// Compiler warnings (`file: warning`).
    pub warnings: Vec<String>,
    /// Rule files left out by `--skip-bad-rules`, with the reason.
    pub skipped: Vec<String>,
    /// Number of rule files compiled.
    pub files: usize,
}

impl CompiledRules {
    /// Rules the caller compiled (with [`yara_x::Compiler`]) and shares. The externals of
    /// [`EXTERNALS`] are set for every stream when the rules define them (define them with
    /// `Compiler::define_global(name, "")`). Not knowing whether the rules read the name
    /// externals, a stream with several names (hard links) is scanned once per name.
    pub fn from_rules(rules: Arc<yara_x::Rules>) -> Self {
        CompiledRules {
            rules,
            name_externals: true,
            warnings: Vec::new(),
            skipped: Vec::new(),
            files: 0,
        }
    }
}

impl std::fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRules")
            .field("files", &self.files)
            .field("warnings", &self.warnings)
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// `.yar`/`.yara` files named by `paths` (files as given; folders walked recursively, sorted).
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_dir() {
            let mut stack = vec![(p.clone(), 0usize)];
            while let Some((d, depth)) = stack.pop() {
                let mut entries: Vec<_> = std::fs::read_dir(&d)
                    .map_err(|e| Error::io(&d, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for e in entries {
                    let Ok(m) = std::fs::symlink_metadata(&e) else {
                        continue;
                    };
                    if m.is_dir() && depth < 32 {
                        stack.push((e, depth + 1));
                    } else if m.is_file()
                        && e.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                            x.eq_ignore_ascii_case("yar") || x.eq_ignore_ascii_case("yara")
                        })
                    {
                        out.push(e);
                    }
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn namespace_for(name: &str, used: &mut HashMap<String, usize>) -> String {
    let stem: String = Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rules")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let n = used.entry(stem.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        stem
    } else {
        format!("{stem}_{n}")
    }
}

/// Compiles the built-in pack (when `builtin`) and the rule files under `paths`, one namespace
/// per file. A file that fails to compile is an [`Error::Rules`] naming file and line, or, with
/// `skip_bad`, is left out and reported in [`CompiledRules::skipped`].
pub fn compile(
    builtin: &[(&str, &str)],
    paths: &[PathBuf],
    skip_bad: bool,
) -> Result<CompiledRules> {
    let mut compiler = yara_x::Compiler::new();
    compiler.colorize_errors(false);
    for x in EXTERNALS {
        compiler
            .define_global(x, "")
            .map_err(|e| Error::Rules(format!("defining external {x}: {e}")))?;
    }
    let mut used = HashMap::new();
    let mut skipped = Vec::new();
    let mut files = 0;
    let mut name_externals = false;
    let mut sources: Vec<(String, String)> = builtin
        .iter()
        .map(|(n, s)| (format!("builtin:{n}"), s.to_string()))
        .collect();
    for f in rule_files(paths)? {
        let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
        match String::from_utf8(bytes) {
            Ok(s) => sources.push((f.display().to_string(), s)),
            Err(_) if skip_bad => skipped.push(format!("{}: not UTF-8 text", f.display())),
            Err(_) => return Err(Error::Rules(format!("{}: not UTF-8 text", f.display()))),
        }
    }
    for (origin, src) in &sources {
        let ns = namespace_for(origin.trim_start_matches("builtin:"), &mut used);
        compiler.new_namespace(&ns);
        let code = yara_x::SourceCode::from(src.as_str()).with_origin(origin.as_str());
        match compiler.add_source(code) {
            Ok(_) => {
                files += 1;
                name_externals |= mentions_name_external(src);
            }
            Err(e) => {
                let msg = first_lines(&e.to_string());
                if skip_bad && !origin.starts_with("builtin:") {
                    skipped.push(msg);
                } else {
                    return Err(Error::Rules(msg));
                }
            }
        }
    }
    let warnings = compiler
        .warnings()
        .iter()
        .map(|w| first_lines(&w.to_string()))
        .collect();
    Ok(CompiledRules {
        name_externals,
        rules: Arc::new(compiler.build()),
        warnings,
        skipped,
        files,
    })
}

/// True when `src` has one of the name externals as a whole word (a mention in a comment or a
/// string counts too: that only costs a second scan).
fn mentions_name_external(src: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    ["filename", "filepath", "extension"].iter().any(|x| {
        src.match_indices(x).any(|(i, _)| {
            let before = src[..i].chars().next_back().is_none_or(|c| !word(c));
            let after = src[i + x.len()..].chars().next().is_none_or(|c| !word(c));
            before && after
        })
    })
}

/// The first line of a yara-x report plus its `--> file:line:col` locator.
fn first_lines(report: &str) -> String {
    let mut lines = report.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("").to_string();
    match report
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("-->") || l.starts_with("╭─["))
    {
        Some(loc) => format!(
            "{} at {}",
            first,
            loc.trim_start_matches("-->")
                .trim_start_matches("╭─[")
                .trim_end_matches(']')
                .trim()
        ),
        None => first,
    }
}

/// A list of hashes (MD5, SHA-1, SHA-256 told apart by length), each with a comment.
#[derive(Debug, Clone, Default)]
pub struct HashList {
    map: HashMap<String, String>,
}

impl HashList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds one hash (hex, any case) with a comment; refuses anything that is not 32, 40 or 64
    /// hex digits.
    pub fn insert(&mut self, hash: &str, comment: &str) -> Result<()> {
        let h = hash.trim().to_ascii_lowercase();
        if !matches!(h.len(), 32 | 40 | 64) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "{hash:?} is not an MD5, SHA-1 or SHA-256"
            )));
        }
        self.map.insert(h, comment.trim().to_string());
        Ok(())
    }

    /// Reads a list: lines `hash[;comment]` or the Exchange baseline CSV `HASH,build,relative
    /// path`; `#` comments and blank lines skipped. A malformed line is an error naming it.
    pub fn load(&mut self, path: &Path) -> Result<usize> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let before = self.map.len();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (hash, comment) = match line.split_once([';', ',']) {
                Some((h, rest)) => (h, rest),
                None => (line, ""),
            };
            if i == 0 && !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue; // a CSV header
            }
            self.insert(hash, comment)
                .map_err(|e| Error::Invalid(format!("{}:{}: {e}", path.display(), i + 1)))?;
        }
        Ok(self.map.len() - before)
    }

    /// The comment of the first of `hashes` that is listed.
    pub fn lookup<'a>(&'a self, hashes: &[Option<&str>]) -> Option<(&'a str, &'a str)> {
        hashes.iter().flatten().find_map(|h| {
            self.map
                .get_key_value(*h)
                .map(|(k, v)| (k.as_str(), v.as_str()))
        })
    }
}
