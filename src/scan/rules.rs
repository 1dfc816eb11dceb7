//! YARA-X in the scan (the `yara` feature): compiling the rules (the built-in pack,
//! [`crate::rule_pack`], and `--rules` files), the builder's rule settings, and the per-worker
//! [`Matcher`] that scans a stream and turns what matched into `yara_match` findings.

use super::{diagnostic, escape_bytes, extension, parse_severity, Job, Scan, ScanBuilder};
use crate::error::{Error, Result};
use crate::finding::detail::Detail;
use crate::finding::{
    FileFacts, Finding, FindingKind, Location, PatternMatch, RuleMatch, Severity,
};
use crate::sniff::Magic;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Most pattern matches kept per pattern in a finding.
const MAX_MATCHES_PER_PATTERN: usize = 16;
/// Bytes of a match shown in a finding.
const MATCH_DATA_SHOWN: usize = 64;

/// External variables defined for every scanned stream, as the widely used signature-base rule
/// sets expect them.
pub const EXTERNALS: &[&str] = &["filename", "filepath", "extension", "filetype", "owner"];

/// External variable telling a rule which form of a stream it is looking at: `"raw"` (the
/// stream's bytes) or `"normalised"` (the normalised text of a web script, see
/// [`super::normalize`]). A rule meant for one form only tests it
/// (`deadbox_form == "normalised"`); a rule that does not mention it sees both.
pub const FORM_EXTERNAL: &str = "deadbox_form";

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
    compiler
        .define_global(FORM_EXTERNAL, "raw")
        .map_err(|e| Error::Rules(format!("defining external {FORM_EXTERNAL}: {e}")))?;
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

/// The builder's rule settings.
#[derive(Debug, Clone)]
pub(super) struct RuleConfig {
    /// Whether the built-in pack is compiled in.
    pub(super) builtin: bool,
    paths: Vec<PathBuf>,
    skip_bad: bool,
    precompiled: Option<Arc<yara_x::Rules>>,
    timeout: Duration,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            builtin: true,
            paths: Vec::new(),
            skip_bad: false,
            precompiled: None,
            timeout: Duration::from_secs(60),
        }
    }
}

impl RuleConfig {
    /// The rules of a scan: the precompiled ones, or the built-in pack (when on) and the rule
    /// files compiled now.
    pub(super) fn compile(&self) -> Result<CompiledRules> {
        let builtin: &[(&str, &str)] = if self.builtin {
            crate::rule_pack::BUILTIN_RULES
        } else {
            &[]
        };
        match &self.precompiled {
            Some(_) if !self.paths.is_empty() => Err(Error::Invalid(
                "precompiled rules and rule files cannot be combined: compile the files \
                 into the shared rules"
                    .into(),
            )),
            Some(r) => Ok(CompiledRules::from_rules(Arc::clone(r))),
            None => compile(builtin, &self.paths, self.skip_bad),
        }
    }
}

/// The YARA settings (the `yara` feature).
impl ScanBuilder {
    /// Adds a `.yar`/`.yara` file or a folder of them (one namespace per file).
    pub fn rules(mut self, path: impl Into<PathBuf>) -> Self {
        self.rules.paths.push(path.into());
        self
    }
    /// Leaves out rule files that fail to compile (with a warning) instead of failing.
    pub fn skip_bad_rules(mut self, yes: bool) -> Self {
        self.rules.skip_bad = yes;
        self
    }
    /// YARA timeout per stream (default 60 s); a timeout is a `diagnostic` finding.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.rules.timeout = t;
        self
    }

    /// Scans with rules the caller compiled and shares (between scans, or with its own
    /// scanners), instead of compiling the built-in pack and [`ScanBuilder::rules`] files:
    /// combining both is an error at [`ScanBuilder::build`]. The built-in IOC list still
    /// applies unless [`ScanBuilder::builtin_rules`] is off. See
    /// [`CompiledRules::from_rules`] for the externals the scan sets.
    pub fn yara_rules(mut self, rules: Arc<yara_x::Rules>) -> Self {
        self.rules.precompiled = Some(rules);
        self
    }
}

impl Scan {
    /// What compiling the rules said (warnings, skipped files).
    pub fn rules(&self) -> &CompiledRules {
        &self.compiled
    }

    /// A matcher for one worker.
    pub(super) fn matcher(&self) -> Matcher<'_> {
        let mut scanner = yara_x::Scanner::new(&self.compiled.rules);
        scanner.set_timeout(self.cfg.rules.timeout);
        scanner.max_matches_per_pattern(MAX_MATCHES_PER_PATTERN);
        Matcher {
            scanner,
            name_externals: self.compiled.name_externals,
        }
    }
}

/// What scanning one stream gave: the matching rules, or why the rules were not evaluated.
pub(super) type Outcome = std::result::Result<Vec<RuleMatch>, String>;

/// One worker's YARA scanner over the scan's rules.
pub(super) struct Matcher<'r> {
    scanner: yara_x::Scanner<'r>,
    name_externals: bool,
}

impl Matcher<'_> {
    /// Whether the rules read the name externals: then each name of a stream (hard links)
    /// is scanned with its own.
    pub(super) fn reads_names(&self) -> bool {
        self.name_externals
    }

    /// Scans `data`, the stream of `job` shown as `path`, with the externals set for it; a web
    /// script (by name, or by server-side markers in its text) is scanned a second time in its
    /// normalised form ([`super::normalize`]), with [`FORM_EXTERNAL`] set to `"normalised"`.
    /// A rule that matched only there is reported with `form = "normalised"` in its metadata
    /// (and says so in its finding's title); one that matched both forms is reported once,
    /// from the raw bytes. When the second scan fails (timeout), the raw results stand.
    pub(super) fn scan(&mut self, path: &str, job: &Job<'_>, data: &[u8]) -> Outcome {
        self.set_externals(path, job, data);
        let _ = self.scanner.set_global(FORM_EXTERNAL, "raw");
        let mut found = scan_rules(&mut self.scanner, data)?;
        let web = extension(path).is_some_and(|e| super::WEB_EXTENSIONS.contains(&e.as_str()));
        if super::normalize::looks_like_server_script(web, data) {
            let text = super::normalize::normalize(data);
            if text != data {
                let _ = self.scanner.set_global(FORM_EXTERNAL, "normalised");
                if let Ok(more) = scan_rules(&mut self.scanner, &text) {
                    for mut m in more {
                        if found
                            .iter()
                            .any(|f| f.namespace == m.namespace && f.name == m.name)
                        {
                            continue;
                        }
                        m.meta
                            .insert("form".into(), serde_json::Value::from("normalised"));
                        found.push(m);
                    }
                }
            }
        }
        Ok(found)
    }

    fn set_externals(&mut self, path: &str, job: &Job<'_>, data: &[u8]) {
        let name = match job {
            Job::Ntfs { path, stream, .. } => {
                let base = path.rsplit('/').next().unwrap_or("").to_string();
                match &stream.name {
                    Some(s) => format!("{base}:{s}"),
                    None => base,
                }
            }
            Job::Loose {
                vpath: Some((v, stream)),
                ..
            } => {
                let base = v.rsplit('/').next().unwrap_or("");
                match stream {
                    Some(s) => format!("{base}:{s}"),
                    None => base.to_string(),
                }
            }
            Job::Loose { path, .. } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Job::Mem { name, .. } => name.rsplit(['/', '\\']).next().unwrap_or("").to_string(),
        };
        let ext = extension(&name)
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let filetype = filetype(data);
        let scanner = &mut self.scanner;
        let _ = scanner.set_global("filename", name.as_str());
        let _ = scanner.set_global("filepath", path);
        let _ = scanner.set_global("extension", ext.as_str());
        let _ = scanner.set_global("filetype", filetype);
        // The owner's well-known name (`NT AUTHORITY\SYSTEM`, `IIS APPPOOL`), else its SID;
        // "" when unknown (loose files, volumes without owners).
        let owner = match job {
            Job::Ntfs { vol, file, .. } => vol
                .file_owner(file)
                .map(|o| o.name.unwrap_or(o.sid.as_str()))
                .unwrap_or(""),
            _ => "",
        };
        let _ = scanner.set_global("owner", owner);
    }
}

/// The findings of one stream's scan: one `yara_match` per matching rule, a diagnostic when
/// the scan failed, or when the stream was not scanned (`None`) for being too large to
/// assemble in memory (`max_in_memory`); nothing for a stream of zeros by construction.
pub(super) fn push_findings(
    outcome: Option<&Outcome>,
    known_zero: bool,
    max_in_memory: u64,
    location: &Location,
    facts: &FileFacts,
    out: &mut Vec<Finding>,
) {
    match outcome {
        Some(Ok(matches)) => {
            for m in matches {
                out.push(yara_finding(m.clone(), location, facts));
            }
        }
        Some(Err(e)) => out.push(diagnostic(location.clone(), Some(facts.clone()), e)),
        None if known_zero => {}
        None => out.push(diagnostic(
            location.clone(),
            Some(facts.clone()),
            &format!(
                "not scanned by YARA: the stream is stored in pieces and larger than the in-memory limit ({max_in_memory} bytes); hashed only"
            ),
        )),
    }
}

fn yara_finding(m: RuleMatch, location: &Location, facts: &FileFacts) -> Finding {
    let severity = m
        .meta
        .get("severity")
        .and_then(|v| v.as_str())
        .and_then(parse_severity)
        .unwrap_or(Severity::High);
    let desc = m
        .meta
        .get("description")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let form = if m.meta.get("form").and_then(|v| v.as_str()) == Some("normalised") {
        " [matched the normalised text: comments removed, strings joined, character codes \
         decoded, variables inlined; offsets are into that text]"
    } else {
        ""
    };
    Finding {
        kind: FindingKind::YaraMatch,
        severity,
        title: if desc.is_empty() {
            format!("YARA rule {}:{} matched{form}", m.namespace, m.name)
        } else {
            format!("{} ({}:{}){form}", desc, m.namespace, m.name)
        },
        location: location.clone(),
        file: Some(facts.clone()),
        cve: Vec::new(),
        rule: Some(m),
        quote: None,
        detail: Detail::None,
    }
}

/// A short file type name from magic bytes, as signature-base's `filetype` external expects.
fn filetype(data: &[u8]) -> &'static str {
    Magic::of(data).map_or("", Magic::filetype)
}

fn scan_rules(
    scanner: &mut yara_x::Scanner<'_>,
    data: &[u8],
) -> std::result::Result<Vec<RuleMatch>, String> {
    match scanner.scan(data) {
        Ok(results) => Ok(results
            .matching_rules()
            .map(|r| {
                let mut matches = Vec::new();
                for p in r.patterns() {
                    for m in p.matches().take(MAX_MATCHES_PER_PATTERN) {
                        let range = m.range();
                        let d = m.data();
                        matches.push(PatternMatch {
                            id: p.identifier().to_string(),
                            offset: range.start as u64,
                            length: range.len() as u64,
                            data: escape_bytes(&d[..d.len().min(MATCH_DATA_SHOWN)]),
                        });
                    }
                }
                let mut meta = serde_json::Map::new();
                for (k, v) in r.metadata() {
                    let v = match v {
                        yara_x::MetaValue::Integer(i) => serde_json::Value::from(i),
                        yara_x::MetaValue::Float(f) => serde_json::Value::from(f),
                        yara_x::MetaValue::Bool(b) => serde_json::Value::from(b),
                        yara_x::MetaValue::String(s) => serde_json::Value::from(s),
                        yara_x::MetaValue::Bytes(b) => serde_json::Value::from(escape_bytes(b)),
                    };
                    // The first value of a repeated key wins.
                    meta.entry(k.to_string()).or_insert(v);
                }
                RuleMatch {
                    name: r.identifier().to_string(),
                    namespace: r.namespace().to_string(),
                    tags: r.tags().map(|t| t.identifier().to_string()).collect(),
                    meta,
                    matches,
                }
            })
            .collect()),
        Err(yara_x::ScanError::Timeout) => {
            Err("YARA scan timed out: rules not fully evaluated".into())
        }
        Err(e) => Err(format!("YARA scan failed: {e}")),
    }
}
