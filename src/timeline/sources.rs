//! The timeline's sources beside the MFT: findings at the times they point to, the USN change
//! journal, shadow copies, the names of `$I30` index slack and every entry of the logs the
//! assessment reads.

use super::{EventSource, Range, Timeline, TimelineEvent};
use crate::exchange::{self, LogKind};
use crate::finding::{Finding, FindingKind, Location};
use crate::ntfs::{FileTime, Listing, NtfsVolume, StreamKind, Tree};
use crate::Image;

/// Which sources [`Timeline::add_volume_with`] reads in its walk besides the MFT times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// The names carved from the slack of every directory's `$I30` index (their `$FILE_NAME`
    /// copy's times), flagged `i30_slack`.
    pub index_slack: bool,
    /// Every entry (line or EVTX record) of the logs the assessment reads, not only those a
    /// finding points to.
    pub log_entries: bool,
    /// Parse the event logs read for `log_entries` in child processes (as the scan does with
    /// [`crate::scan::ScanBuilder::evtx_isolation`]), so that the EVTX parser cannot end this
    /// process; `None`: in this process.
    pub evtx_isolation: Option<crate::scan::EvtxIsolation>,
}

/// Largest log read for its entries (as the assessment's bound).
const MAX_LOG_BYTES: u64 = 1 << 30;
/// At most this many entries of one log become events; a note-event says when more were cut.
pub const MAX_ENTRIES_PER_LOG: usize = 1_000_000;

fn location(evidence: &str, v: &NtfsVolume, path: &str, rec: Option<(u64, u16, bool)>) -> Location {
    let mut l = Location::new(evidence, v.partition(), Some(v.offset()), path, rec);
    l.snapshot = v.snapshot();
    l
}

/// The `$I30` slack names of the directories of `listing` inside `range`, as events.
pub(crate) fn slack_events(
    v: &NtfsVolume,
    listing: &Listing,
    evidence: &str,
    range: Range,
    out: &mut Vec<TimelineEvent>,
) {
    for d in listing.items().filter(|i| i.is_dir_row) {
        let ix = v.dir_index(d.file);
        for e in &ix.slack {
            let path = format!("{}/{}", d.path().trim_end_matches('/'), e.name.name);
            let times = &e.name.times;
            for (t, bits) in super::merged(times, range) {
                let ev = super::Event {
                    time: t,
                    subject: 0,
                    source: super::Source::FileName,
                    macb: bits,
                };
                out.push(TimelineEvent {
                    time: t,
                    source: EventSource::I30Slack,
                    timestamp_desc: super::write::macb_desc(bits, super::Source::FileName)
                        .replace("($FN)", "($FN in $I30 slack)"),
                    macb: Some(ev.macb_letters()),
                    message: format!("{path} (name in index slack of {})", d.path()),
                    location: location(evidence, v, &path, Some((e.entry, e.sequence, true))),
                    finding: None,
                    severity: None,
                });
            }
        }
    }
}

/// Reads every entry of the logs the assessment reads, batch by batch of a volume walk: the
/// volume's Exchange install folders (from the SOFTWARE hive, else the default folders that
/// exist) are found once, up front.
pub struct LogWalk<'v> {
    vol: &'v NtfsVolume,
    installs: Vec<String>,
    evidence: String,
    iso: Option<crate::scan::EvtxIsolation>,
}

impl<'v> LogWalk<'v> {
    /// The walk of `vol`'s logs; locations name `evidence`.
    pub fn new(vol: &'v NtfsVolume, evidence: &str) -> Self {
        LogWalk {
            vol,
            installs: install_dirs(vol),
            evidence: evidence.to_string(),
            iso: None,
        }
    }

    /// Event logs parsed in child processes (see [`Sources::evtx_isolation`]).
    pub fn isolated(mut self, iso: Option<crate::scan::EvtxIsolation>) -> Self {
        self.iso = iso;
        self
    }

    /// The Exchange install folders found.
    pub fn installs(&self) -> &[String] {
        &self.installs
    }

    /// The events of every entry of every log of `listing` inside `range`.
    pub fn events(&self, listing: &Listing, range: Range, out: &mut Vec<TimelineEvent>) {
        for i in listing.items() {
            let Some(s) = i.stream else { continue };
            if s.name.is_some() || i.is_dir_row || s.kind != StreamKind::Data {
                continue;
            }
            let Some(kind) = exchange::classify_log(i.path(), &self.installs) else {
                continue;
            };
            let rec = Some((i.file.entry, i.file.sequence, i.file.deleted));
            let loc = location(&self.evidence, self.vol, i.path(), rec);
            if !kind.is_evtx() {
                // Text logs are streamed line by line, never held whole.
                let mut src = self.vol.stream_reader(s);
                log_events(
                    &kind,
                    &mut |f| {
                        exchange::for_each_text_entry(&kind, &mut src, f);
                    },
                    &loc,
                    range,
                    out,
                );
                continue;
            }
            let mut buf = Vec::new();
            let bytes = match self.vol.read_stream(s, &mut buf, MAX_LOG_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    out.push(note_event(
                        &loc,
                        i.file.si.map(|x| x.times[1]),
                        format!("log unreadable: {e}"),
                    ));
                    continue;
                }
            };
            let mut problem = None;
            log_events(
                &kind,
                &mut |f| match &self.iso {
                    // The crate parses attacker-controlled bytes: in a child process, as the
                    // scan does, when the caller asked for it.
                    Some(iso) => {
                        let mut untimed = 0;
                        problem = crate::scan::isolate::for_each_record(bytes, iso, &mut |r| {
                            exchange::evtx_entry(r.as_ref().ok(), &mut untimed, f)
                        });
                    }
                    None => {
                        exchange::for_each_entry(&kind, bytes, f);
                    }
                },
                &loc,
                range,
                out,
            );
            if let Some((_, message)) = problem {
                out.push(note_event(&loc, i.file.si.map(|x| x.times[1]), message));
            }
        }
    }
}

/// A zero-time-free note about a log, placed at `time` (the log's modification time) when
/// known.
fn note_event(loc: &Location, time: Option<FileTime>, message: String) -> TimelineEvent {
    TimelineEvent {
        time: time.unwrap_or(FileTime(0)),
        source: EventSource::Log,
        timestamp_desc: "Log note".into(),
        macb: None,
        message,
        location: loc.clone(),
        finding: None,
        severity: None,
    }
}

/// What takes each entry of a log (and returns `false` to stop).
type EntrySink<'a> = dyn FnMut(exchange::LogEntry<'_>) -> bool + 'a;

/// The events of every entry of one log, whose entries `each` visits.
fn log_events(
    kind: &LogKind,
    each: &mut dyn FnMut(&mut EntrySink<'_>),
    loc: &Location,
    range: Range,
    out: &mut Vec<TimelineEvent>,
) {
    let desc = format!("Log entry ({})", log_label(kind));
    let mut n = 0usize;
    let mut last = None;
    each(&mut |e| {
        let Some(t) = FileTime::parse_rfc3339(&e.time) else {
            return true;
        };
        last = Some(t);
        if !range.contains(t) {
            return true;
        }
        if n >= MAX_ENTRIES_PER_LOG {
            return false;
        }
        n += 1;
        let mut location = loc.clone();
        location.line = e.line;
        location.record_id = e.record_id;
        out.push(TimelineEvent {
            time: t,
            source: EventSource::Log,
            timestamp_desc: desc.clone(),
            macb: None,
            message: exchange_quote(&e.text),
            location,
            finding: None,
            severity: None,
        });
        true
    });
    if n >= MAX_ENTRIES_PER_LOG {
        out.push(note_event(
            loc,
            last,
            format!("more than {MAX_ENTRIES_PER_LOG} entries in this log: the rest are left out"),
        ));
    }
}

/// A log line cut to 512 bytes for a message.
fn exchange_quote(s: &str) -> String {
    let mut end = s.len().min(512);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn log_label(kind: &LogKind) -> String {
    match kind {
        LogKind::HttpProxy { protocol } => format!("HttpProxy/{protocol}"),
        LogKind::EcpServer => "ECP Server".into(),
        LogKind::OabGenerator => "OABGenerator".into(),
        LogKind::Iis => "IIS".into(),
        LogKind::ApplicationEvtx => "Application.evtx".into(),
        LogKind::EventLog(l) => l.file_name().into(),
    }
}

/// The Exchange install folders of `vol`: `MsiInstallPath` from the SOFTWARE hive, else the
/// default folders that exist.
fn install_dirs(vol: &NtfsVolume) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(hive) = vol.open_path(crate::scan::SOFTWARE_HIVE_PATH) {
        let mut buf = Vec::new();
        let data = hive
            .streams
            .iter()
            .find(|s| s.name.is_none() && s.kind == StreamKind::Data)
            .and_then(|s| vol.read_stream(s, &mut buf, MAX_LOG_BYTES).ok());
        if let Some(paths) = data.and_then(|b| exchange::msi_install_paths(b).ok()) {
            for p in paths {
                let (_, vp) = exchange::windows_path_to_volume_path(&p);
                let vp = vp.trim_end_matches('/').to_string();
                if !vp.is_empty() && !out.iter().any(|x: &String| x.eq_ignore_ascii_case(&vp)) {
                    out.push(vp);
                }
            }
        }
    }
    if out.is_empty() {
        for d in exchange::default_install_dirs() {
            if vol.open_path(d).is_ok_and(|f| f.is_dir) {
                out.push(d.to_string());
            }
        }
    }
    out
}

/// The times a finding points to, with what each is: a log entry's time (or its group's first
/// and last), the file's `$FN` creation and `$SI` creation and modification.
pub(crate) fn finding_times(f: &Finding) -> Vec<(FileTime, &'static str)> {
    let mut out: Vec<(FileTime, &'static str)> = Vec::new();
    let mut add = |t: Option<FileTime>, what: &'static str| {
        if let Some(t) = t.filter(|t| !t.is_zero()) {
            if !out.iter().any(|(u, _)| *u == t) {
                out.push((t, what));
            }
        }
    };
    let d = f.detail.to_value();
    let at = |k: &str| {
        d.get(k)
            .and_then(|v| v.as_str())
            .and_then(FileTime::parse_rfc3339)
    };
    add(at("time"), "log entry");
    add(at("first_seen"), "first log entry");
    add(at("last_seen"), "last log entry");
    if let Some(file) = &f.file {
        add(file.fn_.map(|t| t.created), "file created ($FN)");
        add(file.si.map(|t| t.created), "file created ($SI)");
        add(file.si.map(|t| t.modified), "file modified ($SI)");
    }
    out
}

impl Timeline {
    /// Adds the findings of a scan at the times they point to (see README "Timeline"):
    /// log traces at their entries' times, findings about a file at its creation and
    /// modification times. Diagnostics, log coverage and install findings carry no time of
    /// their own and are left out.
    pub fn add_findings(&mut self, findings: &[Finding], range: Range) {
        for f in findings {
            if matches!(
                f.kind,
                FindingKind::Diagnostic | FindingKind::LogCoverage | FindingKind::ExchangeInstall
            ) {
                continue;
            }
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            for (t, what) in finding_times(f) {
                if !range.contains(t) {
                    continue;
                }
                self.push_extra(TimelineEvent {
                    time: t,
                    source: EventSource::Finding,
                    timestamp_desc: format!("Finding: {kind} ({what})"),
                    macb: None,
                    message: format!("[{}] {}", f.severity, f.title),
                    location: f.location.clone(),
                    finding: Some(f.kind),
                    severity: Some(f.severity),
                });
            }
        }
    }

    /// Adds the records of volume `v`'s USN change journal inside `range`, with paths resolved
    /// in `tree`. A volume without a journal, or one that cannot be read, gets a note.
    pub fn add_usn(&mut self, v: &NtfsVolume, tree: &Tree, range: Range) {
        let part = crate::output::volume_prefix(v);
        let reader = match v.usn_journal() {
            Ok(r) => r,
            Err(crate::Error::NotFound(_)) => {
                self.notes
                    .push(format!("{part}no USN change journal: not in the timeline"));
                return;
            }
            Err(e) => {
                self.notes
                    .push(format!("{part}USN change journal unreadable: {e}"));
                return;
            }
        };
        let mut reader = reader;
        let mut path = String::new();
        let mut untimed = 0u64;
        for rec in reader.by_ref() {
            let Some(t) = rec.timestamp else {
                untimed += 1;
                continue;
            };
            if !range.contains(t) {
                continue;
            }
            path.clear();
            crate::ntfs::usn::resolve_path(tree, &rec, &mut path);
            let reasons = rec.reason_text();
            let r = rec.file_reference;
            let mut location = Location::new(
                &self.evidence,
                v.partition(),
                Some(v.offset()),
                &path,
                Some((r.entry, r.sequence, false)),
            );
            location.snapshot = v.snapshot();
            self.push_extra(TimelineEvent {
                time: t,
                source: EventSource::Usn,
                timestamp_desc: format!("USN: {reasons}"),
                macb: None,
                message: format!("{path}: {reasons} (usn {})", rec.usn),
                location,
                finding: None,
                severity: None,
            });
        }
        for d in reader.take_diagnostics() {
            self.notes.push(format!("{part}USN journal: {d}"));
        }
        if untimed > 0 {
            self.notes.push(format!(
                "{part}{untimed} USN v4 records carry no time: not in the timeline"
            ));
        }
    }

    /// Adds the creation of every shadow copy of `image`'s volumes inside `range` (and a note
    /// for shadow copies that cannot be read).
    pub fn add_snapshots(&mut self, image: &Image, range: Range) {
        for vs in image.shadows(None) {
            let Some(v) = image.volumes().get(vs.volume) else {
                continue;
            };
            let part = crate::output::volume_prefix(v);
            let sh = match vs.shadows {
                Ok(s) => s,
                Err(e) => {
                    self.notes
                        .push(format!("{part}shadow copies unreadable: {e}"));
                    continue;
                }
            };
            for s in sh.snapshots() {
                if s.created.is_zero() || !range.contains(s.created) {
                    continue;
                }
                let mut location =
                    Location::new(&self.evidence, v.partition(), Some(v.offset()), "/", None);
                location.snapshot = Some(s.number);
                let machine = s
                    .machine
                    .as_deref()
                    .map(|m| format!(" on {m}"))
                    .unwrap_or_default();
                self.push_extra(TimelineEvent {
                    time: s.created,
                    source: EventSource::Snapshot,
                    timestamp_desc: "Shadow copy created".into(),
                    macb: None,
                    message: format!(
                        "{part}shadow copy {} created{machine} (store {})",
                        s.number, s.id
                    ),
                    location,
                    finding: None,
                    severity: None,
                });
            }
        }
    }
}
