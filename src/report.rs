//! The HTML report (`deadbox report IMAGE -o report.html`): one self-contained file that an
//! analyst reads first.
//!
//! It shows, top to bottom:
//!
//! - the [`Verdict`] (compromised / traces / nothing found) and what it covers: the streams
//!   scanned, the logs read with their oldest and newest entry (`log_coverage` findings), the
//!   logs not found, and what could not be read (`diagnostic` findings, the image's problems);
//! - the findings ranked ([`rank`]: severity, then time), each with its provenance (evidence,
//!   partition, path, stream, MFT entry and sequence, log line or record), file facts, rule
//!   matches, quote and detail;
//! - the attack timeline as an inline SVG chart: events per hour over the window (wider buckets
//!   when the window is long), the findings marked on it;
//! - the timeline window as a table, filtered in the page by text and by source;
//! - the evidence's identity: container, size, partitions, volumes, media hashes.
//!
//! The file loads nothing: no network, no external script, style, image or font. Its
//! Content-Security-Policy is `default-src 'none'`, styles inline, and the one inline script
//! (the table filter) allowed by its SHA-256 hash only, so an injected script or event handler
//! would be refused by the browser even if it reached the page. It does not: the page is made
//! by the askama template engine with HTML escaping of every value, and file names, log lines
//! and volume labels come from the image (attacker-chosen) — a name like
//! `<img src=x onerror=alert(1)>.aspx` shows as text.
//!
//! [`render`] makes the page from a [`ReportInput`] (typed findings and timeline events);
//! [`write()`] writes it to a new file.
//!
//! ```
//! # fn main() -> deadbox::Result<()> {
//! # #[cfg(feature = "yara")]
//! # {
//! use deadbox::report::{self, ReportInput, Verdict};
//! use std::path::Path;
//!
//! let path = Path::new("fixtures/ntfs-shells.img");
//! let scan = deadbox::scan::Scan::builder().build()?;
//! let mut findings = Vec::new();
//! let summary = scan.run_path(path, &mut findings)?;
//! let info = deadbox::output::ImageInfo::read(path)?;
//! let html = report::render(&ReportInput {
//!     info: Some(&info),
//!     verify: None,
//!     summary: &summary,
//!     findings: &findings,
//!     events: &[], // the timeline window's events (deadbox::timeline)
//!     events_omitted: 0,
//!     window: None,
//!     generated_by: concat!("deadbox ", env!("CARGO_PKG_VERSION")),
//! })?;
//! assert_eq!(report::verdict(&findings), Verdict::Compromised);
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! # }
//! # Ok(())
//! # }
//! ```

use crate::finding::{Detail, FileTime, Finding, FindingKind, Location, Severity};
use crate::output::{ImageInfo, VerifyInfo};
use crate::scan::Summary;
use crate::timeline::{EventSource, TimelineEvent};
use crate::{Error, Result};
use askama::Template;
use std::io::Write;
use std::path::Path;

mod gather;
pub use gather::{for_evidence, for_image, nearest, Framing, MAX_REPORT_EVENTS};

/// What the findings say about the evidence, as the report's headline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// No finding above `info` (context findings aside): nothing was found in what was read.
    NothingFound,
    /// At least one `low` or `medium` finding, none `high` or `critical`.
    Traces,
    /// At least one `high` or `critical` finding.
    Compromised,
}

impl Verdict {
    /// `compromised`, `traces` or `nothing_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compromised => "compromised",
            Verdict::Traces => "traces",
            Verdict::NothingFound => "nothing_found",
        }
    }

    /// The headline: `Compromised`, `Traces found`, `Nothing found`.
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Compromised => "Compromised",
            Verdict::Traces => "Traces found",
            Verdict::NothingFound => "Nothing found",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True for the kinds that give context rather than evidence: `diagnostic`, `log_coverage`,
/// `exchange_install`. They never count towards the [`Verdict`].
pub fn is_context(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::Diagnostic | FindingKind::LogCoverage | FindingKind::ExchangeInstall
    )
}

/// The verdict of a set of findings. The rule: context findings ([`is_context`]) are left
/// out; any other finding `high` or `critical` → [`Verdict::Compromised`]; else any `low` or
/// `medium` → [`Verdict::Traces`]; else (none, or `info` only) → [`Verdict::NothingFound`].
pub fn verdict(findings: &[Finding]) -> Verdict {
    let max = findings
        .iter()
        .filter(|f| !is_context(f.kind))
        .map(|f| f.severity)
        .max();
    match max {
        Some(s) if s >= Severity::High => Verdict::Compromised,
        Some(s) if s >= Severity::Low => Verdict::Traces,
        _ => Verdict::NothingFound,
    }
}

/// The time a finding points to: the log entry's time (or its group's first), for findings
/// from logs; the `$FILE_NAME` creation time of a file (harder to set back than
/// `$STANDARD_INFORMATION`'s), else its `$STANDARD_INFORMATION` creation time; the index copy
/// of `$FILE_NAME` for a deleted web script. `None` when it has none.
pub fn finding_time(f: &Finding) -> Option<FileTime> {
    let parse = |s: &Option<String>| s.as_deref().and_then(FileTime::parse_rfc3339);
    let group = |g: &Option<crate::finding::detail::GroupStats>| {
        g.as_ref().and_then(|g| parse(&g.first_seen))
    };
    let event = |e: &crate::finding::detail::EventHeader| FileTime::parse_rfc3339(&e.time);
    let from_detail = match &f.detail {
        Detail::HttpProxy(d) => parse(&d.time).or_else(|| group(&d.group)),
        Detail::EcpServer(d) => parse(&d.time).or_else(|| group(&d.group)),
        Detail::OabGenerator(d) => parse(&d.time).or_else(|| group(&d.group)),
        Detail::Iis(d) => parse(&d.time).or_else(|| group(&d.group)),
        Detail::ApplicationEvtx(d) => FileTime::parse_rfc3339(&d.time).or_else(|| group(&d.group)),
        Detail::ExchangeCmdlet(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::Defender(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::Process(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::Account(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::ScheduledTask(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::LsassAccess(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::ScriptBlock(d) => event(&d.event).or_else(|| group(&d.group)),
        Detail::Group(g) => parse(&g.first_seen),
        Detail::DeletedWebScript(d) => Some(d.fn_.created),
        _ => None,
    };
    let nonzero = |t: FileTime| (!t.is_zero()).then_some(t);
    from_detail.and_then(nonzero).or_else(|| {
        let file = f.file.as_ref()?;
        file.fn_
            .and_then(|t| nonzero(t.created))
            .or_else(|| file.si.and_then(|t| nonzero(t.created)))
    })
}

/// The findings the report lists, ranked: context findings that are not evidence
/// (`diagnostic`, `log_coverage`: the report shows them as coverage) left out, then by
/// severity (highest first), then by [`finding_time`] (earliest first, none last), then by
/// path.
pub fn rank(findings: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings
        .iter()
        .filter(|f| !matches!(f.kind, FindingKind::Diagnostic | FindingKind::LogCoverage))
        .collect();
    v.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| {
                let (ta, tb) = (finding_time(a), finding_time(b));
                ta.is_none().cmp(&tb.is_none()).then(ta.cmp(&tb))
            })
            .then_with(|| a.location.path.cmp(&b.location.path))
    });
    v
}

/// What the report is made from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// What `deadbox info` shows about the image; `None` for loose files or folders.
    pub info: Option<&'a ImageInfo>,
    /// The media hashes (recomputed and stored), when they were computed.
    pub verify: Option<&'a VerifyInfo>,
    /// The scan's counts.
    pub summary: &'a Summary,
    /// Every finding of the scan (diagnostics and log coverage included).
    pub findings: &'a [Finding],
    /// The events of the timeline window, in time order (the table shows them as given).
    pub events: &'a [TimelineEvent],
    /// Events of the window left out of `events` (a cap on the table), shown as a note.
    pub events_omitted: u64,
    /// The timeline window (inclusive); `None`: from the first to the last event.
    pub window: Option<(FileTime, FileTime)>,
    /// What made the report, e.g. `deadbox 0.1.0`.
    pub generated_by: &'a str,
}

/// The one inline script: the timeline table's filter (text and source). Allowed by the
/// page's CSP through its SHA-256 hash; it carries no data from the image.
const FILTER_SCRIPT: &str = include_str!("report/filter.js");

/// Renders the report as one HTML document.
pub fn render(input: &ReportInput) -> Result<String> {
    Page::new(input)
        .render()
        .map_err(|e| Error::Invalid(format!("report template: {e}")))
}

/// Renders the report and writes it to `path`, a new file (an existing file is never
/// overwritten: [`Error::Output`] then, as for any write failure).
pub fn write(path: &Path, input: &ReportInput) -> Result<()> {
    let html = render(input)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(Error::Output)?;
    f.write_all(html.as_bytes()).map_err(Error::Output)?;
    f.sync_all().map_err(Error::Output)
}

// ---------------------------------------------------------------------------------------------
// The page model: every value formatted as text here; the template escapes it.

/// A label and a value.
struct Field {
    name: &'static str,
    value: String,
}

struct FindingView {
    rank: usize,
    /// Path, `:stream`, `line N` / `record N`: where, in one line.
    place: String,
    severity: &'static str,
    kind: String,
    title: String,
    time: String,
    provenance: Vec<Field>,
    facts: Vec<Field>,
    cve: String,
    rules: Vec<String>,
    quote: Option<String>,
    detail: Vec<(String, String)>,
}

struct CoverageRow {
    log: String,
    path: String,
    oldest: String,
    newest: String,
    entries: u64,
    files: u64,
}

struct Problem {
    what: String,
    path: String,
}

struct Bar {
    /// The bucket's first instant and the next bucket's, as the table's times are written.
    from: String,
    to: String,
    x: String,
    y: String,
    w: String,
    h: String,
    title: String,
}

struct Mark {
    x: String,
    /// The triangle above the plot.
    points: String,
    severity: &'static str,
    title: String,
}

struct Tick {
    x: String,
    label: String,
}

struct Chart {
    width: u32,
    height: u32,
    plot_top: u32,
    plot_bottom: u32,
    plot_left: u32,
    plot_right: u32,
    ymax: u64,
    bucket: &'static str,
    from: String,
    to: String,
    bars: Vec<Bar>,
    marks: Vec<Mark>,
    ticks: Vec<Tick>,
}

struct Row {
    time: String,
    source: &'static str,
    desc: String,
    macb: String,
    message: String,
    path: String,
    stream: String,
    entry: String,
    deleted: bool,
    line: String,
    severity: &'static str,
}

struct VolumeRow {
    partition: String,
    offset: u64,
    label: String,
    serial: String,
    cluster_size: u64,
    records: u64,
    size: u64,
    snapshots: String,
}

struct PartitionRow {
    index: u32,
    kind: String,
    offset: u64,
    size: u64,
    name: String,
    ntfs: bool,
}

#[derive(Template)]
#[template(path = "report.html", config = "src/report/askama.toml")]
struct Page {
    title: String,
    generated_by: String,
    csp: String,
    script: &'static str,
    verdict: &'static str,
    headline: &'static str,
    reason: String,
    scope: Vec<Field>,
    coverage: Vec<CoverageRow>,
    logs_missing: Vec<&'static str>,
    problems: Vec<Problem>,
    findings: Vec<FindingView>,
    chart: Option<Chart>,
    rows: Vec<Row>,
    sources: Vec<&'static str>,
    events_omitted: u64,
    identity: Vec<Field>,
    partitions: Vec<PartitionRow>,
    volumes: Vec<VolumeRow>,
}

/// The log kinds the assessment reads, as `log_coverage` names them (prefixes).
const LOG_KINDS: [&str; 10] = [
    "httpproxy",
    "ecp_server",
    "oab_generator",
    "iis",
    "application_evtx",
    "exchange_management_evtx",
    "defender_evtx",
    "security_evtx",
    "sysmon_evtx",
    "powershell_evtx",
];

fn field(name: &'static str, value: impl ToString) -> Field {
    Field {
        name,
        value: visible(&value.to_string(), false),
    }
}

/// Text from the image made safe to read: control characters, bidirectional overrides and
/// isolates, zero-width and line/paragraph separators shown as `\u{…}` (a name like
/// `x\u{202e}xpsa.gpj` would otherwise display as `xjpg.aspx`); with `keep_lines`, newlines
/// and tabs stay (quoted log entries). HTML escaping is the template's.
pub fn visible(s: &str, keep_lines: bool) -> String {
    let hidden = |c: char| {
        (c.is_control() && !(keep_lines && matches!(c, '\n' | '\t' | '\r')))
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{061c}')
    };
    if !s.chars().any(hidden) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

fn provenance(l: &Location) -> Vec<Field> {
    let mut v = vec![field("evidence", &l.evidence)];
    if let Some(p) = l.partition {
        v.push(field("partition", p));
    }
    if let Some(o) = l.volume_offset {
        v.push(field("volume offset", o));
    }
    v.push(field("path", &l.path));
    if let Some(s) = &l.stream {
        v.push(field("stream", s));
    }
    if let (Some(e), s) = (l.mft_entry, l.mft_sequence) {
        v.push(field("MFT entry", format!("{e} (sequence {})", opt(&s))));
    }
    if l.deleted {
        v.push(field("deleted", "yes (MFT record not in use)"));
    }
    if let Some(n) = l.line {
        v.push(field("line", n));
    }
    if let Some(n) = l.record_id {
        v.push(field("EVTX record", n));
    }
    if let Some(n) = l.snapshot {
        v.push(field("shadow copy", n));
    }
    if !l.snapshots.is_empty() {
        let s: Vec<String> = l.snapshots.iter().map(usize::to_string).collect();
        v.push(field("also in shadow copies", s.join(", ")));
    }
    v
}

fn finding_view(rank: usize, f: &Finding) -> FindingView {
    let mut facts = Vec::new();
    if let Some(file) = &f.file {
        facts.push(field("size", format!("{} bytes", file.size)));
        for (name, h) in [
            ("SHA-256", &file.sha256),
            ("SHA-1", &file.sha1),
            ("MD5", &file.md5),
        ] {
            if let Some(h) = h {
                facts.push(field(name, h));
            }
        }
        let times = |t: &crate::finding::Times| {
            format!(
                "created {} · modified {} · MFT modified {} · accessed {}",
                t.created, t.modified, t.mft_modified, t.accessed
            )
        };
        if let Some(t) = &file.si {
            facts.push(field("$SI times", times(t)));
        }
        if let Some(t) = &file.fn_ {
            facts.push(field("$FN times", times(t)));
        }
        if let Some(o) = &file.owner {
            let name = file
                .owner_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            facts.push(field("owner", format!("{o}{name}")));
        }
    }
    let rules = f
        .rule
        .iter()
        .map(|r| {
            let m: Vec<String> = r
                .matches
                .iter()
                .take(8)
                .map(|m| format!("{} at {}: {}", m.id, m.offset, m.data))
                .collect();
            visible(
                &format!("{}:{} — {}", r.namespace, r.name, m.join("; ")),
                false,
            )
        })
        .collect();
    let detail = match f.detail.to_value() {
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Array(a) if a.iter().all(|x| x.is_string()) => a
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(" · "),
                    other => other.to_string(),
                };
                (visible(&k, false), visible(&text, false))
            })
            .collect(),
        _ => Vec::new(),
    };
    let l = &f.location;
    let mut place = visible(&l.path, false);
    if let Some(st) = &l.stream {
        place = format!("{place}:{}", visible(st, false));
    }
    if let Some(n) = l.line {
        place = format!("{place} line {n}");
    } else if let Some(n) = l.record_id {
        place = format!("{place} record {n}");
    }
    if l.deleted {
        place.push_str(" (deleted)");
    }
    FindingView {
        rank,
        place,
        severity: f.severity.as_str(),
        kind: kind_name(f.kind),
        title: visible(&f.title, false),
        time: finding_time(f).map(|t| t.to_string()).unwrap_or_default(),
        provenance: provenance(&f.location),
        facts,
        cve: f.cve.join(", "),
        rules,
        quote: f.quote.as_deref().map(|q| visible(q, true)),
        detail,
    }
}

fn kind_name(k: FindingKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{k:?}"))
}

const HOUR: u64 = 3600 * 10_000_000;

/// Bucket widths tried, smallest first, with their label.
const BUCKETS: [(u64, &str); 9] = [
    (HOUR, "hour"),
    (2 * HOUR, "2 hours"),
    (3 * HOUR, "3 hours"),
    (6 * HOUR, "6 hours"),
    (12 * HOUR, "12 hours"),
    (24 * HOUR, "day"),
    (7 * 24 * HOUR, "week"),
    (30 * 24 * HOUR, "30 days"),
    (365 * 24 * HOUR, "365 days"),
];

/// At most this many bars.
const MAX_BARS: u64 = 240;

/// `2021-03-03 12:00` (minutes, UTC) of a time.
fn short_time(t: FileTime) -> String {
    let s = t.to_string();
    s.get(..16).unwrap_or(&s).replace('T', " ")
}

/// The chart of `events` over `window` (from the first to the last event or finding when
/// `None`). The findings marked are the events of source `finding`; when there are none, the
/// `findings` themselves at [`finding_time`].
fn chart(
    events: &[TimelineEvent],
    findings: &[&Finding],
    window: Option<(FileTime, FileTime)>,
) -> Option<Chart> {
    let mut points: Vec<(FileTime, Severity, String)> = events
        .iter()
        .filter(|e| e.source == EventSource::Finding)
        .map(|e| {
            let sev = e.severity.unwrap_or(Severity::Info);
            (e.time, sev, e.message.clone())
        })
        .collect();
    if points.is_empty() {
        points = findings
            .iter()
            .filter(|f| !is_context(f.kind))
            .filter_map(|f| Some((finding_time(f)?, f.severity, f.title.clone())))
            .collect();
    }
    let (from, to) = match window {
        Some(w) => w,
        None => {
            let times = || {
                events
                    .iter()
                    .map(|e| e.time)
                    .chain(points.iter().map(|p| p.0))
            };
            (times().min()?, times().max()?)
        }
    };
    let (from, to) = (from.min(to), from.max(to));
    let (bucket, bucket_label) = BUCKETS
        .iter()
        .copied()
        .find(|(b, _)| (to.ticks() / b - from.ticks() / b) < MAX_BARS)
        .unwrap_or(BUCKETS[BUCKETS.len() - 1]);
    let start = from.ticks() / bucket * bucket;
    let n = ((to.ticks() - start) / bucket + 1) as usize;
    let mut counts = vec![0u64; n];
    for e in events {
        let t = e.time.ticks();
        if t < from.ticks() || t > to.ticks() {
            continue;
        }
        counts[((t - start) / bucket) as usize] += 1;
    }
    let ymax = counts.iter().copied().max().unwrap_or(0).max(1);
    let (width, height) = (1200u32, 300u32);
    let (left, right, top, bottom) = (60u32, 1185u32, 24u32, 250u32);
    let plot_w = (right - left) as f64;
    let plot_h = (bottom - top) as f64;
    let bw = plot_w / n as f64;
    let x_of = |t: u64| left as f64 + (t.saturating_sub(start)) as f64 / bucket as f64 * bw;
    let bars = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| {
            let h = c as f64 / ymax as f64 * plot_h;
            let b0 = FileTime::from_ticks(start + i as u64 * bucket);
            let b1 = FileTime::from_ticks(start + (i as u64 + 1) * bucket);
            Bar {
                from: b0.to_string(),
                to: b1.to_string(),
                x: format!("{:.2}", left as f64 + i as f64 * bw),
                y: format!("{:.2}", bottom as f64 - h),
                w: format!("{:.2}", (bw * 0.9).max(0.5)),
                h: format!("{h:.2}"),
                title: format!(
                    "{} – {} UTC: {c} event{}",
                    short_time(b0),
                    short_time(b1),
                    if c == 1 { "" } else { "s" }
                ),
            }
        })
        .collect();
    // One mark per finding position (findings at the same x merged), worst severity shown.
    let mut marks: Vec<(u64, Severity, Vec<String>)> = Vec::new();
    points.retain(|p| p.0 >= from && p.0 <= to);
    points.sort_by_key(|p| p.0);
    for (time, sev, message) in points {
        let px = (x_of(time.ticks()) * 2.0).round() as u64; // half-pixel positions
        let line = format!("{time} {sev}: {}", visible(&message, false));
        match marks.last_mut() {
            Some((x, s, lines)) if *x == px => {
                *s = (*s).max(sev);
                if lines.len() < 20 {
                    lines.push(line);
                }
            }
            _ => marks.push((px, sev, vec![line])),
        }
    }
    let marks = marks
        .into_iter()
        .map(|(px, s, lines)| Mark {
            x: format!("{:.1}", px as f64 / 2.0),
            points: {
                let (x, t) = (px as f64 / 2.0, top as f64);
                format!(
                    "{:.1},{:.1} {:.1},{:.1} {x:.1},{t:.1}",
                    x - 6.0,
                    t - 12.0,
                    x + 6.0,
                    t - 12.0
                )
            },
            severity: s.as_str(),
            title: lines.join("\n"),
        })
        .collect();
    let every = n.div_ceil(8).max(1);
    let ticks = (0..n)
        .step_by(every)
        .map(|i| Tick {
            x: format!("{:.2}", left as f64 + i as f64 * bw),
            label: short_time(FileTime::from_ticks(start + i as u64 * bucket)),
        })
        .collect();
    Some(Chart {
        width,
        height,
        plot_top: top,
        plot_bottom: bottom,
        plot_left: left,
        plot_right: right,
        ymax,
        bucket: bucket_label,
        from: from.to_string(),
        to: to.to_string(),
        bars,
        marks,
        ticks,
    })
}

fn row(e: &TimelineEvent) -> Row {
    let l = &e.location;
    let entry = match (l.mft_entry, l.mft_sequence) {
        (Some(n), Some(s)) => format!("{n}-{s}"),
        (Some(n), None) => n.to_string(),
        _ => String::new(),
    };
    let line = match (l.line, l.record_id) {
        (Some(n), _) => format!("line {n}"),
        (None, Some(r)) => format!("record {r}"),
        _ => String::new(),
    };
    Row {
        time: e.time.to_string(),
        source: e.source.as_str(),
        desc: visible(&e.timestamp_desc, false),
        macb: e.macb.clone().unwrap_or_default(),
        message: visible(&e.message, false),
        path: visible(&l.path, false),
        stream: visible(l.stream.as_deref().unwrap_or_default(), false),
        entry,
        deleted: l.deleted,
        line,
        severity: e.severity.map_or("", Severity::as_str),
    }
}

/// Standard base64 of `b` (for the CSP hash source).
fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The page's Content-Security-Policy: nothing loaded from anywhere; inline styles; the one
/// inline script by its hash (so no injected script or event handler would run); images only
/// as `data:` URLs (none are used).
fn csp() -> String {
    use sha2::Digest;
    let hash = base64(&sha2::Sha256::digest(FILTER_SCRIPT.as_bytes()));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
         img-src data:; base-uri 'none'; form-action 'none'"
    )
}

fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < U.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {} ({n} bytes)", U[u])
    }
}

impl Page {
    fn new(input: &ReportInput) -> Page {
        let v = verdict(input.findings);
        let ranked = rank(input.findings);
        let evidence = input.info.map(|i| i.evidence.clone()).unwrap_or_else(|| {
            let mut e: Vec<&str> = input
                .findings
                .iter()
                .map(|f| f.location.evidence.as_str())
                .collect();
            e.sort_unstable();
            e.dedup();
            e.join(", ")
        });
        let count = |pred: &dyn Fn(Severity) -> bool| {
            ranked
                .iter()
                .filter(|f| !is_context(f.kind) && pred(f.severity))
                .count()
        };
        let (high, traces) = (
            count(&|s| s >= Severity::High),
            count(&|s| (Severity::Low..=Severity::Medium).contains(&s)),
        );
        let s = input.summary;
        let reason = match v {
            Verdict::Compromised => format!(
                "{high} finding{} rated high or critical, {traces} low or medium.",
                if high == 1 { "" } else { "s" }
            ),
            Verdict::Traces => format!(
                "{traces} finding{} rated low or medium, none high or critical.",
                if traces == 1 { "" } else { "s" }
            ),
            Verdict::NothingFound => format!(
                "No finding above info in what was read: {} stream{} ({}), the logs listed \
                 below. What could not be read is listed too.",
                s.streams,
                if s.streams == 1 { "" } else { "s" },
                human_bytes(s.bytes)
            ),
        };
        let mut scope = vec![
            field("streams scanned", s.streams),
            field("bytes scanned", human_bytes(s.bytes)),
            field("known-good streams", s.known_good),
            field("zero streams (not read)", s.known_zero),
            field("findings", s.findings),
            field("diagnostics", s.diagnostics),
        ];
        if s.stopped {
            scope.push(field("stopped", "the scan was stopped before the end"));
        }
        let coverage: Vec<CoverageRow> = input
            .findings
            .iter()
            .filter_map(|f| match &f.detail {
                Detail::LogCoverage(c) => Some(CoverageRow {
                    log: c.log.clone(),
                    path: visible(&f.location.path, false),
                    oldest: opt(&c.oldest),
                    newest: opt(&c.newest),
                    entries: c.entries,
                    files: c.files,
                }),
                _ => None,
            })
            .collect();
        let logs_missing = LOG_KINDS
            .iter()
            .copied()
            .filter(|k| !coverage.iter().any(|c| c.log.starts_with(k)))
            .collect();
        let mut problems: Vec<Problem> = input
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Diagnostic)
            .map(|f| Problem {
                what: visible(&f.title, false),
                path: visible(&f.location.path, false),
            })
            .collect();
        if let Some(info) = input.info {
            problems.extend(info.diagnostics.iter().map(|d| Problem {
                what: visible(d, false),
                path: String::new(),
            }));
        }
        let mut identity = vec![field("evidence", &evidence)];
        let (mut partitions, mut volumes) = (Vec::new(), Vec::new());
        if let Some(i) = input.info {
            identity.push(field("container", &i.container));
            identity.push(field("media size", human_bytes(i.size)));
            identity.push(field(
                "partitioning",
                format!(
                    "{} ({}-byte sectors)",
                    format!("{:?}", i.scheme).to_lowercase(),
                    i.sector_size
                ),
            ));
            partitions = i
                .partitions
                .iter()
                .map(|p| PartitionRow {
                    index: p.index,
                    kind: p.partition_type.to_string(),
                    offset: p.offset,
                    size: p.size,
                    name: visible(&opt(&p.name), false),
                    ntfs: p.ntfs,
                })
                .collect();
            volumes = i
                .volumes
                .iter()
                .map(|v| VolumeRow {
                    partition: v
                        .partition
                        .map_or_else(|| "bare volume".into(), |p| p.to_string()),
                    offset: v.offset,
                    label: visible(&opt(&v.label), false),
                    serial: v.serial.clone(),
                    cluster_size: v.cluster_size,
                    records: v.record_count,
                    size: v.size,
                    snapshots: v
                        .snapshots
                        .iter()
                        .map(|s| format!("#{} {}", s.number, s.created))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect();
        }
        if let Some(h) = input.verify {
            let stored = |s: &Option<String>, m: Option<bool>| match (s, m) {
                (Some(s), Some(true)) => format!(" (stored {s}: matches)"),
                (Some(s), _) => format!(" (stored {s}: DOES NOT MATCH)"),
                (None, _) => " (none stored)".to_string(),
            };
            identity.push(field(
                "media MD5",
                format!("{}{}", h.md5, stored(&h.stored_md5, h.md5_matches)),
            ));
            identity.push(field(
                "media SHA-1",
                format!("{}{}", h.sha1, stored(&h.stored_sha1, h.sha1_matches)),
            ));
            identity.push(field(
                "verified",
                match (
                    h.verified,
                    h.stored_md5.is_some() || h.stored_sha1.is_some(),
                ) {
                    (true, _) => "yes: every stored hash matches",
                    (false, true) => "NO: a stored hash does not match",
                    (false, false) => "no hash stored in the container to verify against",
                },
            ));
        }
        let rows: Vec<Row> = input.events.iter().map(row).collect();
        let mut sources: Vec<&'static str> = rows.iter().map(|r| r.source).collect();
        sources.sort_unstable();
        sources.dedup();
        Page {
            title: format!("deadbox report: {evidence}"),
            generated_by: input.generated_by.to_string(),
            csp: csp(),
            script: FILTER_SCRIPT,
            verdict: v.as_str(),
            headline: v.headline(),
            reason,
            scope,
            coverage,
            logs_missing,
            problems,
            findings: ranked
                .iter()
                .enumerate()
                .map(|(i, f)| finding_view(i + 1, f))
                .collect(),
            chart: chart(input.events, &ranked, input.window),
            rows,
            sources,
            events_omitted: input.events_omitted,
            identity,
            partitions,
            volumes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn hidden_characters_are_shown() {
        assert_eq!(visible("a.aspx", false), "a.aspx");
        assert_eq!(visible("x\u{202e}xpsa.gpj", false), "x\\u{202e}xpsa.gpj");
        assert_eq!(
            visible("a\u{200b}b\u{0}c\nd", false),
            "a\\u{200b}b\\u{0000}c\\u{000a}d"
        );
        assert_eq!(visible("line 1\n\tline 2", true), "line 1\n\tline 2");
        assert_eq!(
            visible("Düsseldorf/файл/日本語 😀", false),
            "Düsseldorf/файл/日本語 😀"
        );
    }

    #[test]
    fn buckets_widen_with_the_window() {
        let t0 = FileTime::parse_rfc3339("2021-03-01T00:30:00Z").unwrap();
        let over = |hours: u64| {
            let w = (t0, FileTime::from_ticks(t0.ticks() + hours * HOUR));
            chart(&[], &[], Some(w)).unwrap()
        };
        assert_eq!(over(48).bucket, "hour");
        assert_eq!(over(48).bars.len(), 0, "no event, no bar");
        assert_eq!(over(400).bucket, "2 hours");
        assert_eq!(over(50 * 365 * 24).bucket, "365 days");
        assert!(chart(&[], &[], None).is_none());
    }
}
