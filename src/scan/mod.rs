//! The scan engine: select streams in images (every NTFS volume) or loose host files, hash them
//! and scan them whole with YARA-X, and deliver typed findings to a [`FindingSink`].
//!
//! Rules are compiled once ([`ScanBuilder::build`], before any evidence is opened) and shared;
//! each rayon worker has its own `yara_x::Scanner` and scratch buffer. A stream stored
//! contiguously in a memory-mapped image is hashed and scanned straight from the mapping;
//! others are assembled into the worker's buffer (bounded by `max_in_memory`). Findings come
//! out in a deterministic order whatever the thread count: streams are processed in batches,
//! in parallel within a batch, and delivered in listing order.
//!
//! Several rules matching one stream give one `yara_match` finding per rule.

mod assess;
mod rules;
mod select;
mod sink;

pub use rules::{compile, rule_files, CompiledRules, HashList, EXTERNALS};
pub use select::{extension, interesting_magic, Reason, Selection, WEB_EXTENSIONS};
pub use sink::{FindingSink, FnSink};

use crate::error::{Error, Result};
use crate::evidence::{self, open_read_only};
use crate::finding::{
    FileFacts, Finding, FindingKind, Location, PatternMatch, RuleMatch, Severity,
};
use crate::hash::{digest, Digests, HashSet, MultiHasher};
use crate::ntfs::{FileEntry, FileName, NtfsVolume, Stream};
use crate::rows::times;
use crate::volume::VolumeSelect;
use crate::Image;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Streams processed per batch (findings are delivered after each batch, in order).
const BATCH: usize = 256;
/// Most pattern matches kept per pattern in a finding.
const MAX_MATCHES_PER_PATTERN: usize = 16;
/// Bytes of a match shown in a finding.
const MATCH_DATA_SHOWN: usize = 64;

/// Configures a [`Scan`]. Obtain one with [`Scan::builder`].
#[derive(Debug, Clone)]
pub struct ScanBuilder {
    builtin_rules: bool,
    rule_paths: Vec<PathBuf>,
    skip_bad_rules: bool,
    ioc_files: Vec<PathBuf>,
    known_good_files: Vec<PathBuf>,
    builtin_iocs: bool,
    selection: Selection,
    hashes: HashSet,
    threads: Option<usize>,
    timeout: Duration,
    max_in_memory: u64,
    max_read: u64,
    volumes: VolumeSelect,
    progress: bool,
    exchange: bool,
    only_exchange: bool,
}

impl Default for ScanBuilder {
    fn default() -> Self {
        ScanBuilder {
            builtin_rules: true,
            rule_paths: Vec::new(),
            skip_bad_rules: false,
            ioc_files: Vec::new(),
            known_good_files: Vec::new(),
            builtin_iocs: true,
            selection: Selection::triage(),
            hashes: HashSet::default(),
            threads: None,
            timeout: Duration::from_secs(60),
            max_in_memory: 1 << 30,
            max_read: 64 << 30,
            volumes: VolumeSelect::default(),
            progress: false,
            exchange: true,
            only_exchange: false,
        }
    }
}

impl ScanBuilder {
    /// Whether the built-in rule pack and IOC list are used (default yes).
    pub fn builtin_rules(mut self, yes: bool) -> Self {
        self.builtin_rules = yes;
        self.builtin_iocs = yes;
        self
    }
    /// Adds a `.yar`/`.yara` file or a folder of them (one namespace per file).
    pub fn rules(mut self, path: impl Into<PathBuf>) -> Self {
        self.rule_paths.push(path.into());
        self
    }
    /// Leaves out rule files that fail to compile (with a warning) instead of failing.
    pub fn skip_bad_rules(mut self, yes: bool) -> Self {
        self.skip_bad_rules = yes;
        self
    }
    /// Adds an IOC hash list (`hash[;comment]` lines).
    pub fn ioc_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ioc_files.push(path.into());
        self
    }
    /// Adds a known-good list (plain hashes, or the Exchange baseline CSV).
    pub fn known_good_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_good_files.push(path.into());
        self
    }
    /// Which streams to scan.
    pub fn selection(mut self, s: Selection) -> Self {
        self.selection = s;
        self
    }
    /// Which hashes to compute.
    pub fn hashes(mut self, h: HashSet) -> Self {
        self.hashes = h;
        self
    }
    /// Worker threads (default: all cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }
    /// YARA timeout per stream (default 60 s); a timeout is a `diagnostic` finding.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Largest non-contiguous stream assembled in memory for YARA (default 1 GiB).
    pub fn max_in_memory(mut self, bytes: u64) -> Self {
        self.max_in_memory = bytes;
        self
    }
    /// Largest stream read at all (default 64 GiB).
    pub fn max_read(mut self, bytes: u64) -> Self {
        self.max_read = bytes;
        self
    }
    /// Which volumes of an image to scan.
    pub fn volumes(mut self, v: VolumeSelect) -> Self {
        self.volumes = v;
        self
    }
    /// Run the ProxyLogon assessment (default yes): Exchange install discovery, log checks,
    /// one ranked `web_shell` finding per web script, LSASS dumps, staged archives, timestomping.
    pub fn exchange(mut self, yes: bool) -> Self {
        self.exchange = yes;
        self
    }
    /// Report only the assessment's findings (no plain `yara_match`/`ioc_hash` on streams the
    /// assessment did not turn into a finding of its own).
    pub fn only_exchange(mut self, yes: bool) -> Self {
        self.only_exchange = yes;
        if yes {
            self.exchange = true;
        }
        self
    }
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub fn progress(mut self, yes: bool) -> Self {
        self.progress = yes;
        self
    }

    /// Compiles the rules and reads the lists. Fails on rules that do not compile (unless
    /// skipped) and on unreadable or malformed lists.
    pub fn build(self) -> Result<Scan> {
        let builtin: &[(&str, &str)] = if self.builtin_rules {
            crate::rules::BUILTIN_RULES
        } else {
            &[]
        };
        let compiled = compile(builtin, &self.rule_paths, self.skip_bad_rules)?;
        let mut iocs = HashList::new();
        if self.builtin_iocs {
            for (h, c) in crate::rules::BUILTIN_IOCS {
                iocs.insert(h, c)?;
            }
        }
        for f in &self.ioc_files {
            iocs.load(f)?;
        }
        let mut known_good = HashList::new();
        for f in &self.known_good_files {
            known_good.load(f)?;
        }
        let pool = match self.threads {
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| Error::Invalid(format!("thread pool: {e}")))?,
            ),
            None => None,
        };
        Ok(Scan {
            compiled,
            iocs,
            known_good,
            cfg: self,
            pool,
        })
    }
}

/// Counts of what a scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Streams selected.
    pub streams: u64,
    /// Bytes of the selected streams.
    pub bytes: u64,
    /// Findings delivered.
    pub findings: u64,
    /// Highest severity delivered (not counting diagnostics).
    pub max_severity: Option<Severity>,
    /// Diagnostic findings delivered.
    pub diagnostics: u64,
    /// Streams whose hash is on the known-good list.
    pub known_good: u64,
    /// The scan was stopped by the sink.
    pub stopped: bool,
}

impl Summary {
    fn add(&mut self, f: &Finding) {
        self.findings += 1;
        if f.kind == FindingKind::Diagnostic {
            self.diagnostics += 1;
        } else {
            self.max_severity = self.max_severity.max(Some(f.severity));
        }
    }
}

/// A compiled, reusable scan configuration.
pub struct Scan {
    compiled: CompiledRules,
    iocs: HashList,
    known_good: HashList,
    cfg: ScanBuilder,
    pool: Option<rayon::ThreadPool>,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("rules", &self.compiled)
            .field("iocs", &self.iocs.len())
            .finish()
    }
}

/// One selected stream.
enum Job<'a> {
    Ntfs {
        vol: &'a NtfsVolume,
        file: &'a FileEntry,
        name: Option<&'a FileName>,
        stream: &'a Stream,
        path: &'a str,
    },
    Loose {
        path: PathBuf,
        size: u64,
    },
}

impl Job<'_> {
    fn size(&self) -> u64 {
        match self {
            Job::Ntfs { stream, .. } => stream.size,
            Job::Loose { size, .. } => *size,
        }
    }
}

/// Bytes of a stream: borrowed (map, resident) or assembled in a worker buffer.
enum Bytes<'a> {
    Slice(&'a [u8]),
    Map(memmap2::Mmap),
    /// Too large to assemble: hashed by streaming only.
    Streamed(Digests),
}

/// Per-worker state: a YARA scanner and a scratch buffer.
struct Worker<'r> {
    scanner: yara_x::Scanner<'r>,
    buf: Vec<u8>,
}

impl Scan {
    /// A builder with the defaults: built-in rules and IOCs, triage selection, all hashes.
    pub fn builder() -> ScanBuilder {
        ScanBuilder::default()
    }

    /// What compiling the rules said (warnings, skipped files).
    pub fn rules(&self) -> &CompiledRules {
        &self.compiled
    }

    /// Scans `target` — a disk image (every selected NTFS volume), a loose file, or a folder of
    /// loose files — and delivers findings to `sink` in a deterministic order.
    pub fn run(&self, target: &Path, sink: &mut dyn FindingSink) -> Result<Summary> {
        self.run_inner(target, sink)
    }

    /// Runs `f` on the configured thread pool (or the global one).
    fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    fn run_inner(&self, target: &Path, sink: &mut dyn FindingSink) -> Result<Summary> {
        let mut summary = Summary::default();
        let evidence_name = target.display().to_string();
        let meta = std::fs::metadata(target).map_err(|e| Error::io(target, e))?;
        if meta.is_dir() {
            sink.begin(&evidence_name);
            let files = walk_folder(target)?;
            let mut jobs = Vec::new();
            for (p, size) in files {
                let head = read_head(&p);
                let shown = p.display().to_string();
                if self
                    .cfg
                    .selection
                    .select(&shown, None, size, false, &head)
                    .is_some()
                {
                    jobs.push(Job::Loose { path: p, size });
                }
            }
            let ctx = assess::VolumeContext::default();
            self.process(&evidence_name, jobs, &ctx, sink, &mut summary);
            sink.finish();
            return Ok(summary);
        }
        let ev = evidence::open(target)?;
        let image = match Image::from_evidence(target, ev.clone(), self.cfg.volumes) {
            Ok(i) => i,
            Err(e) if ev.format() == "raw" && self.cfg.volumes == VolumeSelect::default() => {
                // Not a disk image: a loose file (a collected dump, a web page, a memory image).
                let _ = e;
                sink.begin(&evidence_name);
                let jobs = vec![Job::Loose {
                    path: target.to_path_buf(),
                    size: ev.len(),
                }];
                let ctx = assess::VolumeContext::default();
                self.process(&evidence_name, jobs, &ctx, sink, &mut summary);
                sink.finish();
                return Ok(summary);
            }
            Err(e) => return Err(e),
        };
        for d in image.diagnostics() {
            let f = diagnostic(Location::new(&evidence_name, None, None, "", None), None, d);
            summary.add(&f);
            if !sink.finding(f) {
                summary.stopped = true;
                return Ok(summary);
            }
        }
        for vol in image.volumes() {
            sink.begin(&format!(
                "{evidence_name}{}",
                vol.partition()
                    .map(|p| format!(" partition {p}"))
                    .unwrap_or_default()
            ));
            let listing = self.in_pool(|| vol.walk());
            for d in &listing.diagnostics {
                let f = diagnostic(
                    Location {
                        mft_entry: d.entry,
                        ..Location::new(
                            &evidence_name,
                            vol.partition(),
                            Some(vol.offset()),
                            "",
                            None,
                        )
                    },
                    None,
                    &d.message,
                );
                summary.add(&f);
                if !sink.finding(f) {
                    summary.stopped = true;
                    return Ok(summary);
                }
            }
            let mut ctx = assess::VolumeContext {
                installs: Vec::new(),
                baseline: !self.known_good.is_empty(),
            };
            if self.cfg.exchange {
                let (installs, found) =
                    assess::discover(vol, &listing, &evidence_name, self.cfg.max_in_memory);
                ctx.installs = installs;
                for f in found {
                    summary.add(&f);
                    if !sink.finding(f) {
                        summary.stopped = true;
                        return Ok(summary);
                    }
                }
            }
            let mut jobs = Vec::new();
            for item in listing.items() {
                let Some(stream) = item.stream else { continue };
                let head = stream_head(vol, stream);
                if self
                    .cfg
                    .selection
                    .select(
                        item.path(),
                        stream.name.as_deref(),
                        stream.size,
                        item.file.deleted,
                        &head,
                    )
                    .is_some()
                {
                    jobs.push(Job::Ntfs {
                        vol,
                        file: item.file,
                        name: item.name,
                        stream,
                        path: item.path(),
                    });
                }
            }
            self.process(&evidence_name, jobs, &ctx, sink, &mut summary);
            if summary.stopped {
                break;
            }
            if self.cfg.exchange {
                let logs = self.in_pool(|| {
                    let mut v = assess::slack_web_scripts(vol, &listing, &ctx, &evidence_name);
                    v.extend(assess::check_logs(
                        vol,
                        &listing,
                        &ctx,
                        &evidence_name,
                        self.cfg.max_in_memory,
                    ));
                    v
                });
                for f in logs {
                    summary.add(&f);
                    if !sink.finding(f) {
                        summary.stopped = true;
                        return Ok(summary);
                    }
                }
            }
        }
        sink.finish();
        Ok(summary)
    }

    fn process(
        &self,
        evidence: &str,
        jobs: Vec<Job<'_>>,
        ctx: &assess::VolumeContext,
        sink: &mut dyn FindingSink,
        summary: &mut Summary,
    ) {
        // Sizes come from disk: a hostile record may claim u64::MAX.
        let total: u64 = jobs.iter().fold(0u64, |a, j| a.saturating_add(j.size()));
        summary.streams += jobs.len() as u64;
        summary.bytes = summary.bytes.saturating_add(total);
        let bar = self.progress_bar(jobs.len() as u64, total);
        let done_bytes = AtomicU64::new(0);
        let known_good = AtomicU64::new(0);
        for batch in jobs.chunks(BATCH) {
            let results: Vec<Vec<Finding>> = self.in_pool(|| {
                batch
                    .par_iter()
                    .map_init(
                        || Worker {
                            scanner: self.new_scanner(),
                            buf: Vec::new(),
                        },
                        |w, job| {
                            let (f, kg) = self.scan_job(evidence, job, w, ctx);
                            if kg {
                                known_good.fetch_add(1, Ordering::Relaxed);
                            }
                            if let Some(b) = &bar {
                                b.inc(1);
                                let n = done_bytes
                                    .fetch_add(job.size(), Ordering::Relaxed)
                                    .saturating_add(job.size());
                                b.set_message(format!("{}", indicatif::HumanBytes(n)));
                            }
                            f
                        },
                    )
                    .collect()
            });
            for f in results.into_iter().flatten() {
                summary.add(&f);
                if !sink.finding(f) {
                    summary.stopped = true;
                    break;
                }
            }
            if summary.stopped {
                break;
            }
        }
        summary.known_good += known_good.load(Ordering::Relaxed);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }

    fn progress_bar(&self, n: u64, bytes: u64) -> Option<indicatif::ProgressBar> {
        use std::io::IsTerminal;
        if !self.cfg.progress || !std::io::stderr().is_terminal() || n == 0 {
            return None;
        }
        let b = indicatif::ProgressBar::new(n);
        let style = indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} streams, {{msg}} of {} ({{per_sec}}, ETA {{eta}})",
            indicatif::HumanBytes(bytes)
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        b.set_style(style);
        b.enable_steady_tick(std::time::Duration::from_millis(250));
        Some(b)
    }

    fn new_scanner(&self) -> yara_x::Scanner<'_> {
        let mut s = yara_x::Scanner::new(&self.compiled.rules);
        s.set_timeout(self.cfg.timeout);
        s.max_matches_per_pattern(MAX_MATCHES_PER_PATTERN);
        s
    }

    /// Hashes and scans one stream; returns its findings and whether it is known-good.
    fn scan_job(
        &self,
        evidence: &str,
        job: &Job<'_>,
        w: &mut Worker<'_>,
        ctx: &assess::VolumeContext,
    ) -> (Vec<Finding>, bool) {
        let (location, mut facts, display_path) = describe(evidence, job);
        let mut out = Vec::new();
        let mut set = self.cfg.hashes;
        if !self.iocs.is_empty() || !self.known_good.is_empty() {
            set.sha256 = true;
            if self.iocs_need_all() {
                set.md5 = true;
                set.sha1 = true;
            }
        }
        if job.size() > self.cfg.max_read {
            out.push(diagnostic(
                location,
                Some(facts),
                &format!(
                    "not read: {} bytes exceeds the read limit of {} bytes",
                    job.size(),
                    self.cfg.max_read
                ),
            ));
            return (out, false);
        }
        if let Job::Ntfs { stream, .. } = job {
            if stream.is_hole_only() && stream.size > crate::rows::MAX_HOLE_HASH {
                out.push(diagnostic(
                    location,
                    Some(facts),
                    &format!(
                        "not read: {} bytes with no allocated cluster (all zeros)",
                        stream.size
                    ),
                ));
                return (out, false);
            }
        }
        let bytes = match self.load(job, &mut w.buf, set) {
            Ok(b) => b,
            Err(e) => {
                out.push(diagnostic(
                    location,
                    Some(facts),
                    &format!("cannot read stream: {e}"),
                ));
                return (out, false);
            }
        };
        let data: Option<&[u8]> = match &bytes {
            Bytes::Slice(s) => Some(s),
            Bytes::Map(m) => Some(&m[..]),
            Bytes::Streamed(_) => None,
        };
        // Hash beside the YARA scan (on another worker when the stream is large).
        let mut digests = match &bytes {
            Bytes::Streamed(d) => Some(d.clone()),
            _ => None,
        };
        let mut yara: Option<std::result::Result<Vec<RuleMatch>, String>> = None;
        if let Some(data) = data {
            self.set_externals(&mut w.scanner, &display_path, job, data);
            if data.len() >= 1 << 20 && !set.is_empty() {
                rayon::in_place_scope(|s| {
                    s.spawn(|_| digests = Some(digest(set, data)));
                    yara = Some(scan_rules(&mut w.scanner, data));
                });
            } else {
                digests = Some(digest(set, data));
                yara = Some(scan_rules(&mut w.scanner, data));
            }
        }
        let d = digests.unwrap_or_default();
        facts.md5 = d.md5.clone();
        facts.sha1 = d.sha1.clone();
        facts.sha256 = d.sha256.clone();
        let hashes = [d.sha256.as_deref(), d.sha1.as_deref(), d.md5.as_deref()];
        if self.known_good.lookup(&hashes).is_some() {
            return (out, true);
        }
        if let Some((h, comment)) = self.iocs.lookup(&hashes) {
            out.push(Finding {
                kind: FindingKind::IocHash,
                severity: Severity::Critical,
                title: format!(
                    "hash on IOC list: {}",
                    if comment.is_empty() { h } else { comment }
                ),
                location: location.clone(),
                file: Some(facts.clone()),
                cve: Vec::new(),
                rule: None,
                quote: None,
                detail: serde_json::json!({ "hash": h, "comment": comment }),
            });
        }
        match yara {
            Some(Ok(matches)) => {
                for m in matches {
                    let severity = m
                        .meta
                        .get("severity")
                        .and_then(|v| v.as_str())
                        .and_then(parse_severity)
                        .unwrap_or(Severity::High);
                    let desc = m.meta.get("description").and_then(|v| v.as_str()).unwrap_or("").to_string();
                    out.push(Finding {
                        kind: FindingKind::YaraMatch,
                        severity,
                        title: if desc.is_empty() {
                            format!("YARA rule {}:{} matched", m.namespace, m.name)
                        } else {
                            format!("{} ({}:{})", desc, m.namespace, m.name)
                        },
                        location: location.clone(),
                        file: Some(facts.clone()),
                        cve: Vec::new(),
                        rule: Some(m),
                        quote: None,
                        detail: serde_json::Value::Null,
                    });
                }
            }
            Some(Err(e)) => out.push(diagnostic(location.clone(), Some(facts.clone()), &e)),
            None => out.push(diagnostic(
                location.clone(),
                Some(facts.clone()),
                &format!(
                    "not scanned by YARA: the stream is stored in pieces and larger than the in-memory limit ({} bytes); hashed only",
                    self.cfg.max_in_memory
                ),
            )),
        }
        if self.cfg.exchange {
            assess::assess_stream(ctx, job, data, &mut out, &location, &facts);
        }
        if self.cfg.only_exchange {
            out.retain(|f| !matches!(f.kind, FindingKind::YaraMatch | FindingKind::IocHash));
        }
        (out, false)
    }

    fn iocs_need_all(&self) -> bool {
        // Lists may hold MD5 or SHA-1 entries: compute those too when any is present.
        self.iocs.len() + self.known_good.len() > 0
    }

    fn load<'b>(&self, job: &'b Job<'_>, buf: &'b mut Vec<u8>, set: HashSet) -> Result<Bytes<'b>> {
        match job {
            Job::Ntfs { vol, stream, .. } => {
                if let Some(s) = vol.contiguous_slice(stream) {
                    return Ok(Bytes::Slice(s));
                }
                if stream.size > self.cfg.max_in_memory {
                    let mut h = MultiHasher::new(set);
                    vol.visit_stream(stream, &mut |c| {
                        h.update(c);
                        Ok(())
                    })?;
                    return Ok(Bytes::Streamed(h.finish()));
                }
                Ok(Bytes::Slice(vol.read_stream(
                    stream,
                    buf,
                    self.cfg.max_in_memory,
                )?))
            }
            Job::Loose { path, size } => {
                if *size == 0 {
                    return Ok(Bytes::Slice(&[]));
                }
                let f = open_read_only(path)?;
                // SAFETY: read-only private map of a file deadbox does not modify; a file
                // truncated by another process during the scan can raise SIGBUS (documented in
                // the evidence module).
                let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(path, e))?;
                Ok(Bytes::Map(m))
            }
        }
    }

    fn set_externals(
        &self,
        scanner: &mut yara_x::Scanner<'_>,
        path: &str,
        job: &Job<'_>,
        data: &[u8],
    ) {
        let name = match job {
            Job::Ntfs { path, stream, .. } => {
                let base = path.rsplit('/').next().unwrap_or("").to_string();
                match &stream.name {
                    Some(s) => format!("{base}:{s}"),
                    None => base,
                }
            }
            Job::Loose { path, .. } => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let ext = extension(&name)
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let filetype = filetype(data);
        let _ = scanner.set_global("filename", name.as_str());
        let _ = scanner.set_global("filepath", path);
        let _ = scanner.set_global("extension", ext.as_str());
        let _ = scanner.set_global("filetype", filetype);
        let _ = scanner.set_global("owner", "");
    }
}

/// A short file type name from magic bytes, as signature-base's `filetype` external expects.
fn filetype(data: &[u8]) -> &'static str {
    if data.starts_with(b"MZ") {
        "EXE"
    } else if data.starts_with(b"MDMP") {
        "MDMP"
    } else if data.starts_with(b"PK\x03\x04") {
        "ZIP"
    } else if data.starts_with(b"7z\xBC\xAF") {
        "7Z"
    } else if data.starts_with(b"Rar!") {
        "RAR"
    } else if data.starts_with(b"\x7fELF") {
        "ELF"
    } else if data.starts_with(b"%PDF") {
        "PDF"
    } else if data.starts_with(b"GIF8") {
        "GIF"
    } else {
        ""
    }
}

/// Parses a severity name.
pub fn parse_severity(s: &str) -> Option<Severity> {
    Some(match s.to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" => Severity::Low,
        "info" => Severity::Info,
        _ => return None,
    })
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

/// Printable text of matched bytes: ASCII as is, others as `\xNN`.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7f).contains(&c) && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

fn describe(evidence: &str, job: &Job<'_>) -> (Location, FileFacts, String) {
    match job {
        Job::Ntfs {
            vol,
            file,
            name,
            stream,
            path,
        } => (
            Location {
                stream: stream.name.clone(),
                ..Location::new(
                    evidence,
                    vol.partition(),
                    Some(vol.offset()),
                    path,
                    Some((file.entry, file.sequence, file.deleted)),
                )
            },
            FileFacts {
                size: stream.size,
                si: file.si.map(|s| times(&s.times)),
                fn_: name.map(|n| times(&n.times)),
                ..FileFacts::default()
            },
            path.to_string(),
        ),
        Job::Loose { path, size } => {
            let p = path.display().to_string();
            (
                Location::new(evidence, None, None, &p, None),
                FileFacts {
                    size: *size,
                    ..FileFacts::default()
                },
                p,
            )
        }
    }
}

/// A `diagnostic` finding (severity info).
pub fn diagnostic(location: Location, file: Option<FileFacts>, message: &str) -> Finding {
    Finding {
        kind: FindingKind::Diagnostic,
        severity: Severity::Info,
        title: message.to_string(),
        location,
        file,
        cve: Vec::new(),
        rule: None,
        quote: None,
        detail: serde_json::Value::Null,
    }
}

/// First bytes of a stream (for magic-byte selection); empty when unreadable.
fn stream_head(vol: &NtfsVolume, s: &Stream) -> Vec<u8> {
    if s.size == 0 {
        return Vec::new();
    }
    if let Some(sl) = vol.contiguous_slice(s) {
        return sl[..sl.len().min(16)].to_vec();
    }
    let mut head = Vec::new();
    let _ = vol.visit_stream(s, &mut |c| {
        head.extend_from_slice(&c[..c.len().min(16 - head.len())]);
        if head.len() >= 16 {
            Err(Error::Limit("enough".into()))
        } else {
            Ok(())
        }
    });
    head
}

fn read_head(p: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut b = vec![0u8; 16];
    match open_read_only(p).and_then(|mut f| f.read(&mut b).map_err(|e| Error::io(p, e))) {
        Ok(n) => {
            b.truncate(n);
            b
        }
        Err(_) => Vec::new(),
    }
}

/// Regular files under `root` (symlinks not followed), sorted, with sizes; depth bounded.
fn walk_folder(root: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(r) => r,
            Err(e) if d == root => return Err(Error::io(&d, e)),
            Err(_) => continue,
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries.into_iter().rev() {
            let Ok(m) = std::fs::symlink_metadata(&e) else {
                continue;
            };
            if m.is_dir() && depth < 64 {
                stack.push((e, depth + 1));
            } else if m.is_file() {
                out.push((e, m.len()));
            }
        }
    }
    out.sort();
    Ok(out)
}
