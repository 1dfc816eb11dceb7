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
use crate::finding::detail::{Detail, IocHashDetail};
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
use std::sync::Arc;
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
    /// Selected streams that are zeros by construction (initialized size 0, or no allocated
    /// cluster): not read, not YARA-scanned, not counted in `bytes`.
    pub known_zero: u64,
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
    /// Zeros by construction, not read; digests when computed.
    Zero(Option<Digests>),
}

/// What one batch of selected streams cost.
#[derive(Debug, Clone, Copy, Default)]
struct BatchStats {
    /// Jobs (stream names) selected.
    streams: u64,
    /// Bytes read (each stream once; zeros by construction not counted).
    bytes: u64,
    /// Streams on the known-good list.
    known_good: u64,
    /// Streams that are zeros by construction (not read or scanned).
    known_zero: u64,
}

/// Largest stream of zeros by construction whose digests `scan` reports (computed once per
/// length); larger ones have null digests. `hash` reports them up to [`crate::rows::MAX_HOLE_HASH`].
const ZERO_DIGEST_MAX: u64 = 64 << 20;

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
                let shown = p.display().to_string();
                if self
                    .cfg
                    .selection
                    .select_with(&shown, None, size, false, || read_head(&p))
                    .is_some()
                {
                    jobs.push(Job::Loose { path: p, size });
                }
            }
            self.process_loose(&evidence_name, jobs, sink, &mut summary);
            sink.finish();
            return Ok(summary);
        }
        let ev = evidence::open(target)?;
        let image = match Image::from_evidence(target, ev.clone(), self.cfg.volumes) {
            Ok(i) => i,
            Err(e)
                if ev.format() == evidence::Format::Raw { segments: 1 }
                    && self.cfg.volumes == VolumeSelect::default() =>
            {
                // Not a disk image: a loose file (a collected dump, a web page, a memory image).
                let _ = e;
                sink.begin(&evidence_name);
                let jobs = vec![Job::Loose {
                    path: target.to_path_buf(),
                    size: ev.len(),
                }];
                self.process_loose(&evidence_name, jobs, sink, &mut summary);
                sink.finish();
                return Ok(summary);
            }
            Err(e) => return Err(e),
        };
        for d in image.diagnostics() {
            let f = diagnostic(
                Location::new(&evidence_name, None, None, "", None),
                None,
                &d.message,
            );
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
            if !self.scan_volume(&evidence_name, vol, sink, &mut summary) {
                summary.stopped = true;
                return Ok(summary);
            }
        }
        sink.finish();
        Ok(summary)
    }

    /// Delivers `f`; false when the sink stops the scan.
    fn deliver(sink: &mut dyn FindingSink, summary: &mut Summary, f: Finding) -> bool {
        summary.add(&f);
        sink.finding(f)
    }

    /// Scans one NTFS volume: the namespace pass, the Exchange install, then the MFT streamed
    /// in batches (selected streams hashed and scanned in parallel, findings delivered in MFT
    /// order as each batch completes), then the logs and index slack the assessment reads.
    /// Returns false when the sink stopped the scan.
    fn scan_volume(
        &self,
        evidence: &str,
        vol: &NtfsVolume,
        sink: &mut dyn FindingSink,
        summary: &mut Summary,
    ) -> bool {
        let tree = Arc::new(self.in_pool(|| vol.tree()));
        let vol_loc = || Location::new(evidence, vol.partition(), Some(vol.offset()), "", None);
        for d in tree.diagnostics() {
            let f = diagnostic(
                Location {
                    mft_entry: d.entry,
                    ..vol_loc()
                },
                None,
                &d.message,
            );
            if !Self::deliver(sink, summary, f) {
                return false;
            }
        }
        let mut ctx = assess::VolumeContext {
            installs: Vec::new(),
            baseline: !self.known_good.is_empty(),
        };
        if self.cfg.exchange {
            // The hive and the default install folders, found through the namespace.
            let mut wanted = tree.find(assess::SOFTWARE_HIVE);
            for d in crate::exchange::default_install_dirs() {
                wanted.extend(tree.find(d));
            }
            wanted.sort_unstable();
            wanted.dedup();
            let few = vol.listing_of(&tree, &wanted);
            let (installs, found) = assess::discover(vol, &few, evidence, self.cfg.max_in_memory);
            ctx.installs = installs;
            for f in found {
                if !Self::deliver(sink, summary, f) {
                    return false;
                }
            }
        }
        let bar = self.progress_bar(tree.len() as u64, "records");
        let done_bytes = AtomicU64::new(0);
        // What the assessment reads after the walk: logs and drop folders, by entry.
        let mut logs: Vec<u64> = Vec::new();
        let mut drops: Vec<u64> = Vec::new();
        let ctx = &ctx;
        let completed = vol.walk_batches_in(
            self.pool.as_ref(),
            &tree,
            |listing| {
                let mut jobs = Vec::new();
                let mut batch_logs = Vec::new();
                let mut batch_drops = Vec::new();
                for item in listing.items() {
                    if self.cfg.exchange {
                        if item.is_dir_row {
                            let probe = format!("{}/x.aspx", item.path());
                            if crate::exchange::drop_folder(&probe, &ctx.installs).is_some() {
                                batch_drops.push(item.file.entry);
                            }
                        } else if item.stream.is_some_and(|s| s.name.is_none())
                            && crate::exchange::classify_log(item.path(), &ctx.installs).is_some()
                        {
                            batch_logs.push(item.file.entry);
                        }
                    }
                    let Some(stream) = item.stream else { continue };
                    // Name, metadata and size decide first; the head is read only when they
                    // do not (magic bytes), and only its first bytes.
                    let selected = self.cfg.selection.select_with(
                        item.path(),
                        stream.name.as_deref(),
                        stream.size,
                        item.file.deleted,
                        || stream_head(vol, stream),
                    );
                    if selected.is_some() {
                        jobs.push(Job::Ntfs {
                            vol,
                            file: item.file,
                            name: item.name,
                            stream,
                            path: item.path(),
                        });
                    }
                }
                let (findings, stats) = self.process_batch(evidence, &jobs, ctx);
                if let Some(b) = &bar {
                    b.inc(listing.files.len() as u64);
                    let n = done_bytes
                        .fetch_add(stats.bytes, Ordering::Relaxed)
                        .saturating_add(stats.bytes);
                    b.set_message(format!("{} scanned", indicatif::HumanBytes(n)));
                }
                batch_logs.dedup();
                (findings, stats, batch_logs, batch_drops)
            },
            |(findings, stats, batch_logs, batch_drops)| {
                summary.streams += stats.streams;
                summary.bytes = summary.bytes.saturating_add(stats.bytes);
                summary.known_good += stats.known_good;
                summary.known_zero += stats.known_zero;
                logs.extend(batch_logs);
                drops.extend(batch_drops);
                findings
                    .into_iter()
                    .all(|f| Self::deliver(sink, summary, f))
            },
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if !completed {
            return false;
        }
        if self.cfg.exchange {
            drops.dedup();
            let found = self.in_pool(|| {
                let dirs = vol.listing_of(&tree, &drops);
                let mut v = assess::slack_web_scripts(vol, &dirs, &tree, ctx, evidence);
                let logs = vol.listing_of(&tree, &logs);
                v.extend(assess::check_logs(
                    vol,
                    &logs,
                    ctx,
                    evidence,
                    self.cfg.max_in_memory,
                ));
                v
            });
            for f in found {
                if !Self::deliver(sink, summary, f) {
                    return false;
                }
            }
        }
        true
    }

    /// Scans loose files (a folder, or one file) in chunks, delivering findings in order.
    fn process_loose(
        &self,
        evidence: &str,
        jobs: Vec<Job<'_>>,
        sink: &mut dyn FindingSink,
        summary: &mut Summary,
    ) {
        let ctx = assess::VolumeContext::default();
        let bar = self.progress_bar(jobs.len() as u64, "files");
        for chunk in jobs.chunks(BATCH) {
            let (findings, stats) = self.in_pool(|| self.process_batch(evidence, chunk, &ctx));
            summary.streams += stats.streams;
            summary.bytes = summary.bytes.saturating_add(stats.bytes);
            summary.known_good += stats.known_good;
            if let Some(b) = &bar {
                b.inc(chunk.len() as u64);
            }
            for f in findings {
                if !Self::deliver(sink, summary, f) {
                    summary.stopped = true;
                    break;
                }
            }
            if summary.stopped {
                break;
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    }

    /// Hashes and scans the selected streams of one batch in parallel; findings in job order.
    /// Jobs that reach the same stream (hard links) are grouped: the stream is read and
    /// hashed once, and YARA-scanned once unless the rules read the name externals.
    fn process_batch(
        &self,
        evidence: &str,
        jobs: &[Job<'_>],
        ctx: &assess::VolumeContext,
    ) -> (Vec<Finding>, BatchStats) {
        let mut stats = BatchStats::default();
        // Groups of job indexes by stream, in order of first appearance.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut seen: std::collections::HashMap<*const Stream, usize> =
            std::collections::HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            stats.streams += 1;
            match job {
                Job::Ntfs { stream, .. } => {
                    let key: *const Stream = *stream;
                    match seen.get(&key) {
                        Some(&g) => groups[g].push(i),
                        None => {
                            seen.insert(key, groups.len());
                            groups.push(vec![i]);
                            if stream.is_known_zero() {
                                stats.known_zero += 1;
                            } else {
                                // Sizes come from disk: a hostile record may claim u64::MAX.
                                stats.bytes = stats.bytes.saturating_add(stream.size);
                            }
                        }
                    }
                }
                Job::Loose { size, .. } => {
                    stats.bytes = stats.bytes.saturating_add(*size);
                    groups.push(vec![i]);
                }
            }
        }
        let known_good = AtomicU64::new(0);
        let results: Vec<Vec<(usize, Vec<Finding>)>> = groups
            .par_iter()
            .map_init(
                || Worker {
                    scanner: self.new_scanner(),
                    buf: Vec::new(),
                },
                |w, g| {
                    let group: Vec<&Job<'_>> = g.iter().map(|&i| &jobs[i]).collect();
                    let (per_job, kg) = self.scan_group(evidence, &group, w, ctx);
                    if kg {
                        known_good.fetch_add(1, Ordering::Relaxed);
                    }
                    g.iter().copied().zip(per_job).collect()
                },
            )
            .collect();
        stats.known_good = known_good.load(Ordering::Relaxed);
        let mut by_job: Vec<(usize, Vec<Finding>)> = results.into_iter().flatten().collect();
        by_job.sort_by_key(|(i, _)| *i);
        (by_job.into_iter().flat_map(|(_, f)| f).collect(), stats)
    }

    fn progress_bar(&self, n: u64, unit: &str) -> Option<indicatif::ProgressBar> {
        use std::io::IsTerminal;
        if !self.cfg.progress || !std::io::stderr().is_terminal() || n == 0 {
            return None;
        }
        let b = indicatif::ProgressBar::new(n);
        let style = indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit}, {{msg}} ({{per_sec}}, ETA {{eta}})"
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

    /// Hashes and scans one stream, reached by one or more jobs (the names of a file with
    /// hard links); returns each job's findings and whether the stream is known-good.
    fn scan_group(
        &self,
        evidence: &str,
        jobs: &[&Job<'_>],
        w: &mut Worker<'_>,
        ctx: &assess::VolumeContext,
    ) -> (Vec<Vec<Finding>>, bool) {
        let job = jobs[0];
        let described: Vec<_> = jobs.iter().map(|j| describe(evidence, j)).collect();
        let mut set = self.cfg.hashes;
        if !self.iocs.is_empty() || !self.known_good.is_empty() {
            set.sha256 = true;
            if self.iocs_need_all() {
                set.md5 = true;
                set.sha1 = true;
            }
        }
        let each_diag = |msg: &str| -> (Vec<Vec<Finding>>, bool) {
            let v = described
                .iter()
                .map(|(location, facts, _)| {
                    vec![diagnostic(location.clone(), Some(facts.clone()), msg)]
                })
                .collect();
            (v, false)
        };
        if job.size() > self.cfg.max_read {
            return each_diag(&format!(
                "not read: {} bytes exceeds the read limit of {} bytes",
                job.size(),
                self.cfg.max_read
            ));
        }
        let known_zero = matches!(job, Job::Ntfs { stream, .. } if stream.is_known_zero());
        let bytes = if known_zero {
            // Zeros by construction: nothing to read or scan. Digests when cheap.
            Bytes::Zero(
                (job.size() <= ZERO_DIGEST_MAX).then(|| crate::hash::zero_digests(set, job.size())),
            )
        } else {
            match self.load(job, &mut w.buf, set) {
                Ok(b) => b,
                Err(e) => return each_diag(&format!("cannot read stream: {e}")),
            }
        };
        let data: Option<&[u8]> = match &bytes {
            Bytes::Slice(s) => Some(s),
            Bytes::Map(m) => Some(&m[..]),
            Bytes::Streamed(_) => None,
            Bytes::Zero(_) => Some(&[]),
        };
        // Hash beside the YARA scan (on another worker when the stream is large).
        let mut digests = match &bytes {
            Bytes::Streamed(d) => Some(d.clone()),
            Bytes::Zero(d) => Some(d.clone().unwrap_or_default()),
            _ => None,
        };
        let scan_data = data.filter(|_| !known_zero);
        let mut yara: Option<std::result::Result<Vec<RuleMatch>, String>> = None;
        if let Some(data) = scan_data {
            self.set_externals(&mut w.scanner, &described[0].2, job, data);
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
        let hashes = [d.sha256.as_deref(), d.sha1.as_deref(), d.md5.as_deref()];
        if !known_zero && self.known_good.lookup(&hashes).is_some() {
            return (vec![Vec::new(); jobs.len()], true);
        }
        let ioc = self.iocs.lookup(&hashes);
        let mut per_job = Vec::with_capacity(jobs.len());
        for (k, (j, (location, mut facts, display_path))) in jobs.iter().zip(described).enumerate()
        {
            let mut out = Vec::new();
            facts.md5 = d.md5.clone();
            facts.sha1 = d.sha1.clone();
            facts.sha256 = d.sha256.clone();
            if let Some((h, comment)) = ioc.filter(|_| !known_zero) {
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
                    detail: Detail::IocHash(IocHashDetail {
                        hash: h.to_string(),
                        comment: comment.to_string(),
                        timestomp: None,
                    }),
                });
            }
            // Another name of the same stream: scan again only when the rules read the name.
            if k > 0 && self.compiled.name_externals {
                if let Some(data) = scan_data {
                    self.set_externals(&mut w.scanner, &display_path, j, data);
                    yara = Some(scan_rules(&mut w.scanner, data));
                }
            }
            match &yara {
                Some(Ok(matches)) => {
                    for m in matches {
                        out.push(self.yara_finding(m.clone(), &location, &facts));
                    }
                }
                Some(Err(e)) => out.push(diagnostic(location.clone(), Some(facts.clone()), e)),
                None if known_zero => {}
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
                assess::assess_stream(ctx, j, data, &mut out, &location, &facts);
            }
            if self.cfg.only_exchange {
                out.retain(|f| !matches!(f.kind, FindingKind::YaraMatch | FindingKind::IocHash));
            }
            per_job.push(out);
        }
        (per_job, false)
    }

    fn yara_finding(&self, m: RuleMatch, location: &Location, facts: &FileFacts) -> Finding {
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
        Finding {
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
            detail: Detail::None,
        }
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
        detail: Detail::None,
    }
}

/// First bytes of a stream (for magic-byte selection); empty when unreadable.
fn stream_head(vol: &NtfsVolume, s: &Stream) -> Vec<u8> {
    vol.read_head(s, 16)
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
