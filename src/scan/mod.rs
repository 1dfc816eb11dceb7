//! The scan engine: select streams in images (every NTFS volume) or loose host files, hash them
//! and scan them whole with YARA-X (the `yara` feature), check the IOC and known-good lists,
//! run the ProxyLogon assessment, and deliver typed findings to a [`FindingSink`].
//!
//! Rules are compiled once ([`ScanBuilder::build`], before any evidence is opened) and shared;
//! each rayon worker has its own `yara_x::Scanner` and scratch buffer. A stream stored
//! contiguously in a memory-mapped image is hashed and scanned straight from the mapping;
//! others, and loose files of a folder (never mapped: a live folder's files may be truncated
//! under us), are read into the worker's buffer, all workers together within one budget
//! (`max_in_memory`, see the `budget` module). Findings come
//! out in a deterministic order whatever the thread count: streams are processed in batches,
//! in parallel within a batch, and delivered in listing order.
//!
//! Several rules matching one stream give one `yara_match` finding per rule.
//!
//! Without the `yara` feature there are no rules: `ScanBuilder::rules`,
//! `ScanBuilder::yara_rules`, `ScanBuilder::skip_bad_rules`, `ScanBuilder::timeout`,
//! `Scan::rules`, `compile` and `CompiledRules` do not exist, no `yara_match` finding is made,
//! and [`ScanBuilder::builtin_rules`] only turns the built-in IOC list on or off. Everything else
//! is the same: hashes, IOC and known-good lists, selection, and the assessment, whose
//! `web_shell` ranking then rests on the IOC list and the location signals.

mod assess;
use deadbox_evidence::budget;
mod collection;
mod compiled;
/// The `.compiled` record parser and the web-script index, for the fuzz targets.
#[cfg(fuzzing)]
pub use compiled::{parse_compiled, WebIndex};
pub mod isolate;
mod load;
#[cfg(feature = "yara")]
mod members;
pub mod normalize;
mod progress;
#[cfg(feature = "yara")]
mod rules;
mod select;
mod sink;
mod staged;

pub use isolate::{child_main as evtx_child_main, EvtxIsolation};
pub use load::HashList;
/// Where the assessment reads the Exchange install path from (`MsiInstallPath`).
pub const SOFTWARE_HIVE_PATH: &str = assess::SOFTWARE_HIVE;
pub use progress::Progress;
#[cfg(feature = "yara")]
pub use rules::{compile, rule_files, CompiledRules, EXTERNALS, FORM_EXTERNAL};
pub use select::{extension, interesting_magic, Reason, Selection, WEB_EXTENSIONS};
pub use sink::{FindingSink, FnSink, SinkError, SinkResult};

use crate::error::{Error, Result};
use crate::evidence::{self, open_read_only};
use crate::finding::detail::{Detail, IocHashDetail};
use crate::finding::{FileFacts, Finding, FindingKind, Location, Severity};
use crate::hash::{digest, Algorithms, Digests, MultiHasher};
use crate::image::{OpenOptions, SnapshotSelect};
use crate::ntfs::{FileEntry, FileName, NtfsVolume, Stream};
use crate::rows::times;
use crate::sniff::{file_range, stream_range};
use crate::volume::VolumeSelect;
use crate::Image;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Streams processed per batch (findings are delivered after each batch, in order).
const BATCH: usize = 256;

/// Configures a [`Scan`]. Obtain one with [`Scan::builder`].
#[derive(Debug, Clone)]
pub struct ScanBuilder {
    #[cfg(feature = "yara")]
    rules: rules::RuleConfig,
    ioc_files: Vec<PathBuf>,
    known_good_files: Vec<PathBuf>,
    builtin_iocs: bool,
    selection: Selection,
    hashes: Algorithms,
    threads: Option<usize>,
    max_in_memory: u64,
    max_memory: Option<u64>,
    shared_budget: Option<Arc<budget::MemoryBudget>>,
    max_read: u64,
    volumes: VolumeSelect,
    snapshots: SnapshotSelect,
    vss_storage: Option<PathBuf>,
    progress: Option<progress::Handle>,
    exchange: bool,
    only_exchange: bool,
    evtx_isolation: Option<EvtxIsolation>,
}

impl Default for ScanBuilder {
    fn default() -> Self {
        ScanBuilder {
            #[cfg(feature = "yara")]
            rules: rules::RuleConfig::default(),
            ioc_files: Vec::new(),
            known_good_files: Vec::new(),
            builtin_iocs: true,
            selection: Selection::triage(),
            hashes: Algorithms::default(),
            threads: None,
            max_in_memory: 1 << 30,
            max_memory: None,
            shared_budget: None,
            max_read: 64 << 30,
            volumes: VolumeSelect::default(),
            snapshots: SnapshotSelect::Live,
            vss_storage: None,
            progress: None,
            exchange: true,
            only_exchange: false,
            evtx_isolation: None,
        }
    }
}

impl ScanBuilder {
    /// Whether the built-in rule pack and IOC list are used (default yes). Without the `yara`
    /// feature there is no rule pack: only the IOC list.
    pub fn builtin_rules(mut self, yes: bool) -> Self {
        #[cfg(feature = "yara")]
        {
            self.rules.builtin = yes;
        }
        self.builtin_iocs = yes;
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
    pub fn hashes(mut self, h: Algorithms) -> Self {
        self.hashes = h;
        self
    }
    /// Worker threads (default: all cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }
    /// Largest non-contiguous stream assembled in memory for YARA (default 1 GiB); larger
    /// ones are hashed by streaming. The bytes assembled are drawn from the run's memory
    /// budget ([`ScanBuilder::max_memory`]).
    pub fn max_in_memory(mut self, bytes: u64) -> Self {
        self.max_in_memory = bytes;
        self
    }
    /// The run's one memory budget, shared by all workers and everything that holds
    /// evidence-derived data: streams, loose files, logs and archive members assembled in
    /// memory, each volume's namespace and path strings, the MFT batches the walk keeps in
    /// flight and the directory indexes being read (default
    /// [`deadbox_evidence::budget::default_limit`]: a quarter of the machine's memory, at most
    /// 4 GiB). Work that does not fit waits for memory to be returned or, where it cannot
    /// wait, is cut with a diagnostic that says what was not done; the rest goes on.
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }
    /// Draws on an existing memory budget (shared with images the caller opened with it, or
    /// with other scans) instead of one of its own; [`ScanBuilder::max_memory`] then does not
    /// apply.
    pub fn memory_budget(mut self, budget: Arc<budget::MemoryBudget>) -> Self {
        self.shared_budget = Some(budget);
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
    /// Which shadow copies to scan (default: the live volumes only). With
    /// [`SnapshotSelect::All`], every volume and each of its snapshots is scanned and a finding
    /// seen in several of them is reported once, naming them all (`location.snapshots`).
    pub fn snapshots(mut self, s: SnapshotSelect) -> Self {
        self.snapshots = s;
        self
    }
    /// A second image holding the shadow storage of the scanned volumes (when Windows kept it
    /// on another disk); volumes of the scanned image itself are searched first.
    pub fn vss_storage(mut self, image: impl Into<PathBuf>) -> Self {
        self.vss_storage = Some(image.into());
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
    /// Parses event logs (EVTX) in child processes (see [`isolate`]): a crash, an allocation
    /// abort, the memory or the time limit of the `evtx` crate on one hostile file then ends
    /// that child only, and becomes a diagnostic for that file while the scan goes on. Without
    /// it (the default) they are parsed in this process, where a panic is caught but an
    /// allocation failure aborts the process.
    pub fn evtx_isolation(mut self, iso: EvtxIsolation) -> Self {
        self.evtx_isolation = Some(iso);
        self
    }
    /// Reports progress to `p` (the library draws nothing itself).
    pub fn progress(mut self, p: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress::Handle(p));
        self
    }

    /// Compiles the rules and reads the lists. Fails on rules that do not compile (unless
    /// skipped) and on unreadable or malformed lists.
    pub fn build(self) -> Result<Scan> {
        #[cfg(feature = "yara")]
        let compiled = self.rules.compile()?;
        let mut iocs = HashList::new();
        if self.builtin_iocs {
            for (h, c) in crate::rule_pack::BUILTIN_IOCS {
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
            #[cfg(feature = "yara")]
            compiled,
            iocs,
            known_good,
            budget: match &self.shared_budget {
                Some(b) => b.clone(),
                None => Arc::new(budget::MemoryBudget::new(
                    self.max_memory.unwrap_or_else(budget::default_limit),
                )),
            },
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

/// The sink of one run, with its summary and the error the sink reported, if any.
struct Out<'s> {
    sink: &'s mut dyn FindingSink,
    summary: Summary,
    failed: Option<std::io::Error>,
    /// The shadow copy being scanned (set on every finding delivered).
    snapshot: Option<usize>,
    /// With every snapshot scanned: the findings of the states of one volume, held back and
    /// merged until the last state is scanned.
    group: Option<Group>,
    /// Compiled page assemblies that matched web-shell rules (lowercased path → rules), for
    /// the check of orphaned compiled pages after the walk.
    compiled_hits: std::collections::HashMap<String, Vec<String>>,
}

/// Findings held back by [`Out`]: in order of first sight, with an index by content.
#[derive(Default)]
struct Group {
    findings: Vec<Finding>,
    index: std::collections::HashMap<String, usize>,
}

/// What makes two findings of different states of a volume the same: everything but the
/// snapshot and the stream's times.
fn same_key(f: &Finding) -> String {
    let mut k = f.clone();
    k.location.snapshot = None;
    k.location.snapshots.clear();
    if let Some(file) = &mut k.file {
        file.si = None;
        file.fn_ = None;
    }
    serde_json::to_string(&k).unwrap_or_default()
}

impl<'s> Out<'s> {
    fn new(sink: &'s mut dyn FindingSink) -> Self {
        Out {
            sink,
            summary: Summary::default(),
            failed: None,
            snapshot: None,
            group: None,
            compiled_hits: std::collections::HashMap::new(),
        }
    }

    /// Notes what the sink said; false when the scan must stop.
    fn check(&mut self, r: SinkResult) -> bool {
        match r {
            Ok(()) => true,
            Err(e) => {
                self.summary.stopped = true;
                if let SinkError::Io(e) = e {
                    self.failed.get_or_insert(e);
                }
                false
            }
        }
    }

    /// A new source or volume; false when the scan must stop.
    fn begin(&mut self, what: &str) -> bool {
        !self.summary.stopped && {
            let r = self.sink.begin(what);
            self.check(r)
        }
    }

    /// Delivers `f` (held back when grouping); false when the scan must stop.
    fn deliver(&mut self, mut f: Finding) -> bool {
        if self.summary.stopped {
            return false;
        }
        f.location.snapshot = self.snapshot;
        if let Some((path, rule)) = compiled::assembly_hit(&f) {
            let rules = self.compiled_hits.entry(path).or_default();
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        if let Some(g) = &mut self.group {
            let key = same_key(&f);
            match g.index.get(&key) {
                Some(&i) => {
                    let seen = &mut g.findings[i].location.snapshots;
                    if let Some(n) = self.snapshot.filter(|n| seen.last() != Some(n)) {
                        seen.push(n);
                    }
                }
                None => {
                    f.location.snapshots.extend(self.snapshot);
                    g.index.insert(key, g.findings.len());
                    g.findings.push(f);
                }
            }
            return true;
        }
        self.send(f)
    }

    /// Passes `f` to the sink; false when the scan must stop.
    fn send(&mut self, f: Finding) -> bool {
        if self.summary.stopped {
            return false;
        }
        self.summary.add(&f);
        let r = self.sink.finding(f);
        self.check(r)
    }

    /// Delivers the findings held back, if any; false when the scan must stop.
    fn flush_group(&mut self) -> bool {
        let Some(g) = self.group.take() else {
            return true;
        };
        g.findings.into_iter().all(|f| self.send(f))
    }

    /// Adds a batch's counts.
    fn count(&mut self, stats: BatchStats) {
        let s = &mut self.summary;
        s.streams += stats.streams;
        s.bytes = s.bytes.saturating_add(stats.bytes);
        s.known_good += stats.known_good;
        s.known_zero += stats.known_zero;
    }

    /// Ends the run: the sink finishes (unless it failed) and the summary or its error is
    /// returned.
    fn end(mut self) -> Result<Summary> {
        if self.failed.is_none() {
            let r = self.sink.finish();
            if let Err(SinkError::Io(e)) = r {
                self.failed = Some(e);
            }
        }
        match self.failed {
            Some(e) => Err(Error::Output(e)),
            None => Ok(self.summary),
        }
    }
}

/// Findings of a scan running on its own thread, pulled as an iterator ([`Scan::findings`]).
#[derive(Debug)]
pub struct Findings {
    rx: std::sync::mpsc::Receiver<Finding>,
    handle: Option<std::thread::JoinHandle<Result<Summary>>>,
}

impl Iterator for Findings {
    type Item = Finding;
    fn next(&mut self) -> Option<Finding> {
        self.rx.recv().ok()
    }
}

impl Findings {
    /// Waits for the scan to end (findings not yet pulled are dropped, which stops it early)
    /// and returns its summary, or the error that stopped it (an unreadable image).
    pub fn finish(mut self) -> Result<Summary> {
        let handle = self.handle.take();
        drop(self);
        match handle.map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(Error::Invalid("the scan was already finished".into())),
        }
    }
}

/// A compiled, reusable scan configuration.
pub struct Scan {
    #[cfg(feature = "yara")]
    compiled: CompiledRules,
    iocs: HashList,
    known_good: HashList,
    cfg: ScanBuilder,
    pool: Option<rayon::ThreadPool>,
    /// `max_memory`, one budget for all workers (and all runs of this scan): assembled
    /// streams, logs and archive members, each volume's namespace and paths, MFT batches in
    /// flight and directory indexes.
    budget: Arc<budget::MemoryBudget>,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Scan");
        #[cfg(feature = "yara")]
        d.field("rules", &self.compiled);
        d.field("iocs", &self.iocs.len()).finish()
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
        /// In a triage collection: the file's original volume path and stream.
        vpath: Option<(String, Option<String>)>,
        /// The file the user named as the evidence (memory-mapped, as images are), not a
        /// member of a scanned folder (read with bounded reads: see [`Scan::load`]).
        named: bool,
    },
    /// Bytes the caller holds ([`Scan::run_bytes`]), shown as `name`.
    Mem { name: &'a str, data: &'a [u8] },
}

impl Job<'_> {
    fn size(&self) -> u64 {
        match self {
            Job::Ntfs { stream, .. } => stream.size,
            Job::Loose { size, .. } => *size,
            Job::Mem { data, .. } => data.len() as u64,
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

/// Largest scratch buffer a worker keeps between streams (outside the shared budget).
const KEEP_BUF: usize = 16 << 20;

/// Something to report about how a job's bytes were read.
enum Note {
    /// A loose file changed size since it was listed.
    Changed(String),
    /// Not assembled in memory (so not scanned by YARA): the shared budget was taken.
    Cut(String),
}

/// Per-worker state: a YARA scanner (with the `yara` feature) and a scratch buffer.
struct Worker<'r> {
    #[cfg(feature = "yara")]
    matcher: rules::Matcher<'r>,
    buf: Vec<u8>,
    _scan: std::marker::PhantomData<&'r Scan>,
}

impl Scan {
    /// A builder with the defaults: built-in rules and IOCs, triage selection, all hashes.
    pub fn builder() -> ScanBuilder {
        ScanBuilder::default()
    }

    /// Scans `target` — a disk image (every selected NTFS volume), a loose file, or a folder of
    /// loose files — and delivers findings to `sink` in a deterministic order.
    ///
    /// A file that is no disk image (raw, with no partition table or NTFS boot sector) is
    /// scanned as one loose file: a collected dump, a web page, a memory image.
    pub fn run_path(&self, target: &Path, sink: &mut dyn FindingSink) -> Result<Summary> {
        let name = target.display().to_string();
        let mut out = Out::new(sink);
        let meta = std::fs::metadata(target).map_err(|e| Error::io(target, e))?;
        if meta.is_dir() {
            if out.begin(&name) {
                let files = walk_folder(target)?;
                // A triage collection: files keep their volume paths for the assessment.
                let root = collection::find_root(target);
                let mut ctx = assess::VolumeContext::default();
                if let Some(root) = &root {
                    let (c, found) = assess::discover_collection(root, &name, self.cfg.exchange);
                    ctx = assess::VolumeContext {
                        baseline: !self.known_good.is_empty(),
                        ..c
                    };
                    if !found.into_iter().all(|f| out.deliver(f)) {
                        return out.end();
                    }
                }
                let mut jobs = Vec::new();
                let mut logs = Vec::new();
                let mut pages = compiled::WebIndex::default();
                let mut records = Vec::new();
                for (p, size) in files {
                    let vpath = root.as_deref().and_then(|r| collection::volume_path(r, &p));
                    let shown = match &vpath {
                        Some((v, _)) => v.clone(),
                        None => p.display().to_string(),
                    };
                    let stream = vpath.as_ref().and_then(|(_, s)| s.as_deref());
                    if self.cfg.exchange && stream.is_none() {
                        if crate::exchange::is_web_script(&shown) {
                            pages.add(&shown);
                        } else if compiled::is_compiled_record(&shown) {
                            records.push((p.clone(), vpath.clone(), shown.clone()));
                        }
                    }
                    if self.cfg.exchange && vpath.as_ref().is_some_and(|(_, s)| s.is_none()) {
                        if let Some(kind) = crate::exchange::classify_log(&shown, &ctx.installs) {
                            logs.push((p.clone(), shown.clone(), kind));
                        }
                    }
                    if self
                        .cfg
                        .selection
                        .select_probing(&shown, stream, size, false, |o, n| file_range(&p, o, n))
                        .is_some()
                    {
                        jobs.push(Job::Loose {
                            path: p,
                            size,
                            vpath,
                            named: false,
                        });
                    }
                }
                let done = self.process_loose(&name, jobs, &ctx, &mut out);
                if done && !records.is_empty() {
                    let found =
                        self.loose_compiled_records(&name, &records, &pages, &out.compiled_hits);
                    if !found.into_iter().all(|f| out.deliver(f)) {
                        return out.end();
                    }
                }
                if done && !logs.is_empty() {
                    let found = self.in_pool(|| {
                        assess::check_collected_logs(
                            &logs,
                            &name,
                            &self.budget,
                            self.cfg.evtx_isolation.as_ref(),
                        )
                    });
                    let _ = found.into_iter().all(|f| out.deliver(f));
                }
            }
            return out.end();
        }
        let ev = evidence::open(target)?;
        match Image::from_evidence_with(target, ev.clone(), &self.open_options()) {
            Ok(image) => {
                self.scan_image(&name, &image, &mut out);
                out.end()
            }
            Err(_)
                if ev.format() == evidence::Format::Raw { segments: 1 }
                    && self.cfg.volumes == VolumeSelect::default() =>
            {
                if out.begin(&name) {
                    let jobs = vec![Job::Loose {
                        path: target.to_path_buf(),
                        size: ev.len(),
                        vpath: None,
                        named: true,
                    }];
                    let ctx = assess::VolumeContext::default();
                    self.process_loose(&name, jobs, &ctx, &mut out);
                }
                out.end()
            }
            Err(e) => Err(e),
        }
    }

    /// The same as [`Scan::run_path`] (kept for callers of the first releases).
    pub fn run(&self, target: &Path, sink: &mut dyn FindingSink) -> Result<Summary> {
        self.run_path(target, sink)
    }

    /// The run's memory budget ([`ScanBuilder::max_memory`]): give it to
    /// [`Image::open_with`] (`OpenOptions::budget`) so that an image the caller opens for
    /// [`Scan::run_image`] draws its namespace, paths, walk and indexes from it too.
    pub fn budget(&self) -> &Arc<budget::MemoryBudget> {
        &self.budget
    }

    /// Scans an image the caller already opened (every volume it holds, as selected when it
    /// was opened; the builder's [`ScanBuilder::volumes`] does not apply). Findings name
    /// [`Image::path`] as their evidence. Gives the same findings as [`Scan::run_path`] on the
    /// image's path. The image's volumes draw on the memory budget they were opened with (see
    /// [`Scan::budget`]); streams assembled for the scan draw on this scan's.
    pub fn run_image(&self, image: &Image, sink: &mut dyn FindingSink) -> Result<Summary> {
        let mut out = Out::new(sink);
        self.scan_image(&image.path().display().to_string(), image, &mut out);
        out.end()
    }

    /// Scans bytes the caller holds (a memory dump it mapped, a file it extracted) as one
    /// loose file named `name`: hashes, rules and IOC lists as for a file; the selection does
    /// not apply (the caller chose these bytes). Findings name `name` as evidence and path.
    pub fn run_bytes(
        &self,
        name: &str,
        data: &[u8],
        sink: &mut dyn FindingSink,
    ) -> Result<Summary> {
        let mut out = Out::new(sink);
        if out.begin(name) {
            let ctx = assess::VolumeContext::default();
            self.process_loose(name, vec![Job::Mem { name, data }], &ctx, &mut out);
        }
        out.end()
    }

    /// Starts scanning `target` (as [`Scan::run_path`]) on a thread of its own and returns the
    /// findings as an iterator: for callers that pull. At most 256 findings wait in the
    /// channel ([`Scan::findings_bounded`] sets another bound), so a slow consumer slows the
    /// scan instead of growing memory; dropping the iterator stops a scan still running. [`Findings::finish`] gives the summary (or the error).
    ///
    /// ```no_run
    /// use deadbox::finding::Severity;
    /// use deadbox::scan::Scan;
    /// use std::sync::Arc;
    /// # fn main() -> deadbox::Result<()> {
    /// let scan = Arc::new(Scan::builder().build()?);
    /// let mut findings = scan.findings("disk.E01");
    /// for f in findings.by_ref().filter(|f| f.severity >= Severity::High) {
    ///     println!("{} {}", f.severity, f.title);
    /// }
    /// let summary = findings.finish()?;
    /// println!("{} streams", summary.streams);
    /// # Ok(())
    /// # }
    /// ```
    pub fn findings(self: &Arc<Self>, target: impl Into<PathBuf>) -> Findings {
        self.findings_bounded(target, 256)
    }

    /// [`Scan::findings`] with at most `bound` findings waiting in the channel (at least 1).
    pub fn findings_bounded(
        self: &Arc<Self>,
        target: impl Into<PathBuf>,
        bound: usize,
    ) -> Findings {
        let (tx, rx) = std::sync::mpsc::sync_channel(bound.max(1));
        let scan = Arc::clone(self);
        let target = target.into();
        let handle = std::thread::spawn(move || {
            let mut tx = tx;
            scan.run_path(&target, &mut tx)
        });
        Findings {
            rx,
            handle: Some(handle),
        }
    }

    /// Runs `f` on the configured thread pool (or the global one).
    fn in_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    /// Scans every volume of an opened image; the image's own diagnostics first.
    fn scan_image(&self, evidence_name: &str, image: &Image, out: &mut Out<'_>) {
        for d in image.diagnostics() {
            let f = diagnostic(
                Location::new(evidence_name, None, None, "", None),
                None,
                &d.message,
            );
            if !out.deliver(f) {
                return;
            }
        }
        if self.cfg.snapshots != SnapshotSelect::Live {
            return self.scan_views(evidence_name, image, out);
        }
        for vol in image.volumes() {
            let what = format!(
                "{evidence_name}{}",
                vol.partition()
                    .map(|p| format!(" partition {p}"))
                    .unwrap_or_default()
            );
            if !out.begin(&what) || !self.scan_volume(evidence_name, vol, out) {
                return;
            }
        }
    }

    /// How this scan opens evidence: its volume selection and memory budget.
    fn open_options(&self) -> OpenOptions {
        OpenOptions {
            select: self.cfg.volumes,
            budget: Some(self.budget.clone()),
            ..OpenOptions::default()
        }
    }

    /// Scans the live volumes and/or shadow copies [`ScanBuilder::snapshots`] selects; with
    /// every snapshot, findings seen in several states of a volume are reported once.
    fn scan_views(&self, evidence_name: &str, image: &Image, out: &mut Out<'_>) {
        let vol_diag =
            |m: &str| diagnostic(Location::new(evidence_name, None, None, "", None), None, m);
        let storage = match &self.cfg.vss_storage {
            Some(p) => match Image::open_with(
                p,
                &OpenOptions {
                    select: VolumeSelect::default(),
                    ..self.open_options()
                },
            ) {
                Ok(i) => Some(i),
                Err(e) => {
                    let m = format!("VSS storage {}: {e}", p.display());
                    if !out.deliver(vol_diag(&m)) {
                        return;
                    }
                    None
                }
            },
            None => None,
        };
        let (views, diags) = match image.views(self.cfg.snapshots, storage.as_ref()) {
            Ok(v) => v,
            Err(e) => {
                out.deliver(vol_diag(&e.to_string()));
                return;
            }
        };
        for d in diags {
            let f = diagnostic(
                Location::new(evidence_name, d.location.partition, None, "", None),
                None,
                &d.message,
            );
            if !out.deliver(f) {
                return;
            }
        }
        let group = self.cfg.snapshots == SnapshotSelect::All;
        let mut last_live: Option<u64> = None;
        for view in &views {
            let vol = view.volume();
            if group && last_live != Some(vol.offset()) {
                // A new live volume: what its states found goes out first.
                if !out.flush_group() {
                    return;
                }
                last_live = Some(vol.offset());
                out.group = Some(Default::default());
            }
            let what = format!(
                "{evidence_name}{}{}",
                vol.partition()
                    .map(|p| format!(" partition {p}"))
                    .unwrap_or_default(),
                vol.snapshot()
                    .map(|n| format!(" snapshot {n}"))
                    .unwrap_or_default()
            );
            out.snapshot = vol.snapshot();
            if !out.begin(&what) || !self.scan_volume(evidence_name, vol, out) {
                return;
            }
        }
        out.snapshot = None;
        out.flush_group();
    }

    /// Scans one NTFS volume: the namespace pass, the Exchange install, then the MFT streamed
    /// in batches (selected streams hashed and scanned in parallel, findings delivered in MFT
    /// order as each batch completes), then the logs and index slack the assessment reads.
    /// Returns false when the sink stopped the scan.
    fn scan_volume(&self, evidence: &str, vol: &NtfsVolume, out: &mut Out<'_>) -> bool {
        let tree = self.in_pool(|| vol.shared_tree());
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
            if !out.deliver(f) {
                return false;
            }
        }
        // Owners: `$Secure` read now, so that its problems come first.
        for d in vol.secure().diagnostics() {
            let f = diagnostic(
                Location {
                    mft_entry: Some(9),
                    ..vol_loc()
                },
                None,
                &d.message,
            );
            if !out.deliver(f) {
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
            let (installs, found) =
                assess::discover(vol, &few, evidence, self.cfg.max_in_memory, &self.budget);
            ctx.installs = installs;
            for f in found {
                if !out.deliver(f) {
                    return false;
                }
            }
        }
        let bar = self.progress_start(evidence, vol.partition(), tree.len() as u64, "records");
        // What the assessment reads after the walk: logs and drop folders, by entry.
        let mut logs: Vec<u64> = Vec::new();
        let mut drops: Vec<u64> = Vec::new();
        // What the orphaned-compiled-page check reads after the walk.
        let mut pages = compiled::WebIndex::default();
        let mut records: Vec<u64> = Vec::new();
        let ctx = &ctx;
        let completed = vol.walk_batches_in(
            self.pool.as_ref(),
            &tree,
            |listing| {
                let mut jobs = Vec::new();
                let mut batch_logs = Vec::new();
                let mut batch_drops = Vec::new();
                let mut batch_pages = Vec::new();
                let mut batch_records = Vec::new();
                for item in listing.items() {
                    if self.cfg.exchange && !item.is_dir_row {
                        // Live web scripts and `.compiled` records, for the orphan check.
                        if item.stream.is_some_and(|s| s.name.is_none()) {
                            if !item.file.deleted && crate::exchange::is_web_script(item.path()) {
                                batch_pages.push(item.path().to_string());
                            } else if compiled::is_compiled_record(item.path()) {
                                batch_records.push(item.file.entry);
                            }
                        }
                    }
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
                    // do not (magic bytes), and only its first bytes, except for a small
                    // carrier or source file (head and tail probed for server code).
                    let selected = self.cfg.selection.select_probing(
                        item.path(),
                        stream.name.as_deref(),
                        stream.size,
                        item.file.deleted,
                        |o, n| stream_range(vol, stream, o, n),
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
                if let Some(b) = bar {
                    b.advance(listing.files.len() as u64, stats.bytes);
                }
                batch_logs.dedup();
                batch_records.dedup();
                (
                    findings,
                    stats,
                    batch_logs,
                    batch_drops,
                    batch_pages,
                    batch_records,
                )
            },
            |(findings, stats, batch_logs, batch_drops, batch_pages, batch_records)| {
                out.count(stats);
                logs.extend(batch_logs);
                drops.extend(batch_drops);
                for p in &batch_pages {
                    pages.add(p);
                }
                records.extend(batch_records);
                findings.into_iter().all(|f| out.deliver(f))
            },
        );
        if let Some(b) = bar {
            b.finish();
        }
        if !completed {
            return false;
        }
        if self.cfg.exchange && !records.is_empty() {
            records.sort_unstable();
            records.dedup();
            let hits = &out.compiled_hits;
            let found = self.in_pool(|| {
                let listing = vol.listing_of(&tree, &records);
                self.volume_compiled_records(evidence, vol, &listing, &pages, hits)
            });
            for f in found {
                if !out.deliver(f) {
                    return false;
                }
            }
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
                    &self.budget,
                    self.cfg.evtx_isolation.as_ref(),
                ));
                v
            });
            for f in found {
                if !out.deliver(f) {
                    return false;
                }
            }
        }
        true
    }

    /// Scans loose files (a folder, or one file) in chunks, delivering findings in order.
    /// Returns false when the sink stopped the scan.
    fn process_loose(
        &self,
        evidence: &str,
        jobs: Vec<Job<'_>>,
        ctx: &assess::VolumeContext,
        out: &mut Out<'_>,
    ) -> bool {
        let bar = self.progress_start(evidence, None, jobs.len() as u64, "files");
        for chunk in jobs.chunks(BATCH) {
            let (findings, stats) = self.in_pool(|| self.process_batch(evidence, chunk, ctx));
            out.count(stats);
            if let Some(b) = bar {
                b.advance(chunk.len() as u64, stats.bytes);
            }
            if !findings.into_iter().all(|f| out.deliver(f)) {
                break;
            }
        }
        if let Some(b) = bar {
            b.finish();
        }
        !out.summary.stopped
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
                Job::Loose { .. } | Job::Mem { .. } => {
                    stats.bytes = stats.bytes.saturating_add(job.size());
                    groups.push(vec![i]);
                }
            }
        }
        let known_good = AtomicU64::new(0);
        let results: Vec<Vec<(usize, Vec<Finding>)>> = groups
            .par_iter()
            .map_init(
                || Worker {
                    #[cfg(feature = "yara")]
                    matcher: self.matcher(),
                    buf: Vec::new(),
                    _scan: std::marker::PhantomData,
                },
                |w, g| {
                    let group: Vec<&Job<'_>> = g.iter().map(|&i| &jobs[i]).collect();
                    let mut grant = None;
                    let (per_job, kg) = self.scan_group(evidence, &group, w, ctx, &mut grant);
                    // A large buffer is not kept between streams: the budget counts it only
                    // while its grant is held (workers keep at most KEEP_BUF each).
                    if w.buf.capacity() > KEEP_BUF {
                        w.buf = Vec::new();
                    }
                    drop(grant);
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

    /// Starts a progress phase, when the caller asked for progress and there is work.
    fn progress_start(
        &self,
        evidence: &str,
        partition: Option<u32>,
        n: u64,
        unit: &str,
    ) -> Option<&dyn Progress> {
        let p = self.cfg.progress.as_ref().filter(|_| n > 0)?;
        let what = match partition {
            Some(i) => format!("{evidence} partition {i}"),
            None => evidence.to_string(),
        };
        p.0.start(&what, n, unit);
        Some(p.0.as_ref())
    }

    /// Hashes and scans one stream, reached by one or more jobs (the names of a file with
    /// hard links); returns each job's findings and whether the stream is known-good.
    #[cfg_attr(not(feature = "yara"), allow(unused_variables))]
    fn scan_group<'s>(
        &'s self,
        evidence: &str,
        jobs: &[&Job<'_>],
        w: &mut Worker<'_>,
        ctx: &assess::VolumeContext,
        grant: &mut Option<budget::Grant<'s>>,
    ) -> (Vec<Vec<Finding>>, bool) {
        let job = jobs[0];
        let described: Vec<_> = jobs.iter().map(|j| describe(evidence, j)).collect();
        let mut set = self.cfg.hashes;
        // The hash lists are matched on the digests they hold: the built-in IOCs are all
        // SHA-256, so a scan with `--hashes none` computes SHA-256 alone (not MD5 and SHA-1
        // too, which cost as much again as the rule pack on plain text).
        set.sha256 |= self.lists_hold(64);
        set.sha1 |= self.lists_hold(40);
        set.md5 |= self.lists_hold(32);
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
        // A loose file that changed size, or a stream cut from the shared budget.
        let mut note = None;
        let bytes = if known_zero {
            // Zeros by construction: nothing to read or scan. Digests when cheap.
            Bytes::Zero(
                (job.size() <= ZERO_DIGEST_MAX).then(|| crate::hash::zero_digests(set, job.size())),
            )
        } else {
            match self.load(job, &mut w.buf, set, &mut note, grant) {
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
        #[cfg(feature = "yara")]
        let mut yara = None;
        // Cut from the budget: the YARA diagnostic says why (not "larger than the limit").
        #[cfg(feature = "yara")]
        if let Some(Note::Cut(msg)) = note.take() {
            yara = Some(Err(msg));
        }
        if let Some(data) = scan_data {
            #[cfg(feature = "yara")]
            if data.len() >= 1 << 20 && !set.is_empty() {
                rayon::in_place_scope(|s| {
                    s.spawn(|_| digests = Some(digest(set, data)));
                    yara = Some(w.matcher.scan(&described[0].2, job, data));
                });
            } else {
                digests = Some(digest(set, data));
                yara = Some(w.matcher.scan(&described[0].2, job, data));
            }
            #[cfg(not(feature = "yara"))]
            {
                digests = Some(digest(set, data));
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
            if let Some(Note::Changed(msg) | Note::Cut(msg)) = &note {
                out.push(diagnostic(location.clone(), Some(facts.clone()), msg));
            }
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
            #[cfg(feature = "yara")]
            {
                // Another name of the same stream: scan again only when the rules read the name.
                if k > 0 && w.matcher.reads_names() {
                    if let Some(data) = scan_data {
                        yara = Some(w.matcher.scan(&display_path, j, data));
                    }
                }
                let max = self.cfg.max_in_memory;
                rules::push_findings(yara.as_ref(), known_zero, max, &location, &facts, &mut out);
            }
            if self.cfg.exchange {
                assess::assess_stream(ctx, j, data, &mut out, &location, &facts);
            }
            // The members of a zip archive, as streams of their own (first name only).
            #[cfg(feature = "yara")]
            if k == 0 {
                if let Some(data) = scan_data {
                    let members =
                        self.scan_zip_members(j, data, set, &mut w.matcher, &location, &facts);
                    out.extend(members);
                }
            }
            if self.cfg.only_exchange {
                out.retain(|f| !matches!(f.kind, FindingKind::YaraMatch | FindingKind::IocHash));
            }
            per_job.push(out);
        }
        (per_job, false)
    }

    /// Whether the IOC or known-good lists hold digests of `hex_len` hex digits.
    fn lists_hold(&self, hex_len: usize) -> bool {
        self.iocs.holds_len(hex_len) || self.known_good.holds_len(hex_len)
    }

    /// The bytes of one job. `note` is set when a loose file was found to have changed size
    /// since it was listed (what is read is what is hashed and scanned), or when the bytes
    /// could not be assembled in memory within the shared budget (hashed by streaming only).
    /// Bytes assembled in `buf` are counted in the budget by `grant`, held until the caller
    /// is done with them.
    fn load<'s, 'b>(
        &'s self,
        job: &'b Job<'_>,
        buf: &'b mut Vec<u8>,
        set: Algorithms,
        note: &mut Option<Note>,
        grant: &mut Option<budget::Grant<'s>>,
    ) -> Result<Bytes<'b>> {
        let cut = |size: u64| {
            Note::Cut(format!(
                "not scanned by YARA: its {size} bytes did not fit the memory budget (--max-memory) of {} bytes shared by all workers (streams assembled beside it held the rest); hashed only",
                self.budget.limit()
            ))
        };
        match job {
            Job::Ntfs { vol, stream, .. } => {
                if let Some(s) = vol.contiguous_slice(stream) {
                    return Ok(Bytes::Slice(s));
                }
                if stream.size <= self.cfg.max_in_memory {
                    *grant = self.budget.acquire(stream.size);
                    if grant.is_none() {
                        *note = Some(cut(stream.size));
                    }
                }
                if grant.is_none() {
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
            Job::Loose {
                path,
                size,
                named: true,
                ..
            } => {
                if *size == 0 {
                    return Ok(Bytes::Slice(&[]));
                }
                let f = open_read_only(path)?;
                // SAFETY: read-only private map of the file the user named as the evidence,
                // mapped as images are (the design: evidence at rest, read from the page cache
                // without a copy). Truncated by another process during the scan it would raise
                // SIGBUS, as an image would (README, bounds table).
                let m = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(path, e))?;
                Ok(Bytes::Map(m))
            }
            Job::Loose { path, size, .. } => {
                // A member of a scanned folder is not mapped: a folder may be live (a rotating
                // log, a dump still being written), and a mapped file truncated by another
                // process raises SIGBUS, which kills the process; a SIGBUS handler would have
                // to cooperate with wasmtime's (YARA-X) and patch pages from a signal context.
                // Plain reads of the descriptor are robust instead: a file that shrank gives a
                // short read, one that grew is read to the length it had when opened, a FIFO or
                // device swapped in is refused by `open_loose` (never read, never blocks). The
                // cost is one copy into the worker's buffer, bounded by `max_in_memory`; larger
                // files are hashed by streaming (as fragmented NTFS streams are), not scanned.
                use std::io::Read;
                let f = evidence::open_loose(path)?;
                let now = f.metadata().map_err(|e| Error::io(path, e))?.len();
                let changed = |read: u64| {
                    (read != *size).then(|| {
                        Note::Changed(format!(
                            "the file changed during the scan: {size} bytes when listed, {read} bytes read (hashed and scanned as read)"
                        ))
                    })
                };
                if now <= self.cfg.max_in_memory {
                    *grant = self.budget.acquire(now);
                }
                if grant.is_none() {
                    let mut h = MultiHasher::new(set);
                    let mut chunk = vec![0u8; 1 << 20];
                    let mut r = f.take(now);
                    let mut read = 0u64;
                    loop {
                        let n = match r.read(&mut chunk) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(Error::io(path, e)),
                        };
                        h.update(&chunk[..n]);
                        read += n as u64;
                    }
                    *note =
                        changed(read).or_else(|| (now <= self.cfg.max_in_memory).then(|| cut(now)));
                    return Ok(Bytes::Streamed(h.finish()));
                }
                buf.clear();
                buf.try_reserve_exact(now as usize)
                    .map_err(|e| Error::Limit(format!("{}: {e}", path.display())))?;
                f.take(now)
                    .read_to_end(buf)
                    .map_err(|e| Error::io(path, e))?;
                *note = changed(buf.len() as u64);
                Ok(Bytes::Slice(&buf[..]))
            }
            Job::Mem { data, .. } => Ok(Bytes::Slice(data)),
        }
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
            }
            .with_owner(vol.file_owner(file)),
            path.to_string(),
        ),
        Job::Loose {
            path, size, vpath, ..
        } => {
            let p = path.display().to_string();
            let facts = FileFacts {
                size: *size,
                ..FileFacts::default()
            };
            match vpath {
                // A collected file: the evidence is the file, the path its volume path.
                Some((v, stream)) => (
                    Location {
                        stream: stream.clone(),
                        ..Location::new(&p, None, None, v, None)
                    },
                    facts,
                    v.clone(),
                ),
                None => (Location::new(evidence, None, None, &p, None), facts, p),
            }
        }
        Job::Mem { name, data } => (
            Location::new(evidence, None, None, name, None),
            FileFacts {
                size: data.len() as u64,
                ..FileFacts::default()
            },
            name.to_string(),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::detail::Detail;

    /// A loose file read after it changed: a file shorter than listed is read as it is, with
    /// a note; a FIFO swapped in is refused (never opened for reading, never blocks); a file
    /// that does not fit what is left of the shared budget, on a thread already holding part
    /// of it, is hashed only, with a note saying why.
    #[test]
    fn loose_files_that_changed_are_read_safely() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.log");
        std::fs::write(&p, vec![b'a'; 50]).unwrap();
        let scan = Scan::builder()
            .builtin_rules(false)
            .max_in_memory(64)
            .max_memory(64)
            .build()
            .unwrap();
        let job = |size| Job::Loose {
            path: p.clone(),
            size,
            vpath: None,
            named: false,
        };
        let (mut buf, mut note, mut grant) = (Vec::new(), None, None);
        let set = Algorithms::default();
        let j = job(100);
        let b = scan.load(&j, &mut buf, set, &mut note, &mut grant).unwrap();
        assert!(matches!(b, Bytes::Slice(s) if s.len() == 50));
        assert!(
            matches!(&note, Some(Note::Changed(m)) if m.contains("100 bytes when listed, 50 bytes read"))
        );
        assert!(grant.is_some());
        drop(grant.take());
        // Cut: this thread holds 40 of the 64 bytes already.
        let held = scan.budget.acquire(40).unwrap();
        let j = job(50);
        let (mut buf, mut note, mut grant) = (Vec::new(), None, None);
        let b = scan.load(&j, &mut buf, set, &mut note, &mut grant).unwrap();
        assert!(matches!(b, Bytes::Streamed(_)));
        assert!(
            matches!(&note, Some(Note::Cut(m)) if m.contains("did not fit the memory budget (--max-memory) of 64 bytes"))
        );
        drop(held);
        // A FIFO in its place.
        std::fs::remove_file(&p).unwrap();
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let j = job(50);
        let (mut buf, mut note, mut grant) = (Vec::new(), None, None);
        let e = scan
            .load(&j, &mut buf, set, &mut note, &mut grant)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    /// The assessment on the shells fixture, with and without the `yara` feature: web shells
    /// are ranked from the signals there are (YARA content only with the feature).
    #[test]
    fn web_shells_are_ranked_with_or_without_yara() {
        let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ntfs-shells.img");
        let scan = Scan::builder().threads(2).build().unwrap();
        let mut all: Vec<Finding> = Vec::new();
        scan.run_path(&image, &mut all).unwrap();
        let shells: Vec<_> = all
            .iter()
            .filter_map(|f| match &f.detail {
                Detail::WebShell(d) => Some((f, d)),
                _ => None,
            })
            .collect();
        // Location signals need no rules: a script in a drop folder is ranked either way.
        assert!(shells.iter().any(|(_, d)| d.drop_folder.is_some()));
        assert!(all.iter().any(|f| f.kind == FindingKind::LsassDump));
        let by_yara = shells.iter().any(|(_, d)| !d.rules.is_empty());
        let yara_match = all.iter().any(|f| f.kind == FindingKind::YaraMatch);
        assert_eq!(by_yara, cfg!(feature = "yara"));
        if !cfg!(feature = "yara") {
            assert!(!yara_match);
            assert!(shells
                .iter()
                .all(|(_, d)| d.signals.iter().all(|s| !s.starts_with("YARA"))));
        }
    }
}
