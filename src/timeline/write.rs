//! The sorted formats of the timeline: JSON lines, Timesketch JSONL and CSV, written from the
//! merged MFT and other events one line at a time (the bodyfile is streamed by
//! [`super::write_bodyfile`]).

use super::{
    Event, EventSource, Source, Subject, Timeline, TimelineEvent, TimelineFormat, A, B, C, M,
};
use crate::finding::{FindingKind, Severity};
use crate::ntfs::FileTime;
use crate::{Error, Result};
use serde::Serialize;
use std::io::Write;

/// One event of the merged order, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Merged<'a> {
    /// An MFT event (its row in [`Timeline::subjects`]).
    Mft(&'a Event),
    /// An event of another source.
    Other(&'a TimelineEvent),
}

impl Merged<'_> {
    /// The event's time.
    pub fn time(&self) -> FileTime {
        match self {
            Merged::Mft(e) => e.time,
            Merged::Other(e) => e.time,
        }
    }
}

/// The names of the times as Timesketch's `timestamp_desc` gives them, in MACB bit order.
const DESC: [(u8, &str); 4] = [
    (B, "Creation Time"),
    (M, "Content Modification Time"),
    (C, "Metadata Modification Time"),
    (A, "Last Access Time"),
];

/// What the merged times of an MFT event are, e.g. `Creation Time, Metadata Modification
/// Time ($SI)`.
pub(crate) fn macb_desc(macb: u8, source: Source) -> String {
    let names: Vec<&str> = DESC
        .iter()
        .filter(|(bit, _)| macb & bit != 0)
        .map(|(_, d)| *d)
        .collect();
    format!("{} ({})", names.join(", "), source.label())
}

/// `path[:stream][ (deleted)]`: the one-line message of an MFT event.
pub(crate) fn mft_message(s: &Subject) -> String {
    let del = if s.deleted { " (deleted)" } else { "" };
    match &s.stream {
        Some(st) => format!("{}:{st}{del}", s.path),
        None => format!("{}{del}", s.path),
    }
}

/// `mactime`'s MACB letters of `macb`.
fn macb_bytes(macb: u8) -> [u8; 4] {
    let mut l = *b"....";
    for (i, (bit, c)) in [(M, b'm'), (A, b'a'), (C, b'c'), (B, b'b')]
        .iter()
        .enumerate()
    {
        if macb & bit != 0 {
            l[i] = *c;
        }
    }
    l
}

/// [`mft_message`] as a JSON string, without building it.
fn json_message(b: &mut Vec<u8>, s: &Subject) {
    let plain = |t: &str| t.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\');
    if !plain(&s.path) || !s.stream.as_deref().is_none_or(plain) {
        json_str(b, &mft_message(s));
        return;
    }
    b.push(b'"');
    b.extend_from_slice(s.path.as_bytes());
    if let Some(st) = &s.stream {
        b.push(b':');
        b.extend_from_slice(st.as_bytes());
    }
    if s.deleted {
        b.extend_from_slice(b" (deleted)");
    }
    b.push(b'"');
}

/// A JSON line of `--format jsonl`: every event, MFT or not, has these fields in this order
/// (`line`, `record_id`, `snapshot`, `kind` and `severity` only when set).
#[derive(Serialize)]
struct Line<'a> {
    time: FileTime,
    macb: &'a str,
    source: &'static str,
    desc: &'a str,
    message: &'a str,
    #[serde(flatten)]
    at: At<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<FindingKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
}

/// A Timesketch line: the three required fields first, then the provenance.
#[derive(Serialize)]
struct Sketch<'a> {
    message: &'a str,
    datetime: FileTime,
    timestamp: i64,
    timestamp_desc: &'a str,
    #[serde(flatten)]
    at: At<'a>,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    macb: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<FindingKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
}

/// The provenance of a line.
#[derive(Serialize)]
struct At<'a> {
    evidence: &'a str,
    partition: Option<u32>,
    volume_offset: Option<u64>,
    path: &'a str,
    stream: Option<&'a str>,
    mft_entry: Option<u64>,
    mft_sequence: Option<u16>,
    deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    record_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot: Option<usize>,
}

impl<'a> At<'a> {
    fn of(e: &'a TimelineEvent) -> Self {
        let l = &e.location;
        At {
            evidence: &l.evidence,
            partition: l.partition,
            volume_offset: l.volume_offset,
            path: &l.path,
            stream: l.stream.as_deref(),
            mft_entry: l.mft_entry,
            mft_sequence: l.mft_sequence,
            deleted: l.deleted,
            line: l.line,
            record_id: l.record_id,
            snapshot: l.snapshot,
        }
    }

    fn subject(evidence: &'a str, volume_offset: Option<u64>, s: &'a Subject) -> Self {
        At {
            evidence,
            partition: s.partition,
            volume_offset,
            path: &s.path,
            stream: s.stream.as_deref(),
            mft_entry: Some(s.entry),
            mft_sequence: Some(s.sequence),
            deleted: s.deleted,
            line: None,
            record_id: None,
            snapshot: None,
        }
    }
}

fn micros(t: FileTime) -> i64 {
    i64::try_from(t.unix_nanos().div_euclid(1000)).unwrap_or(i64::MAX)
}

/// Appends the JSON line of `v`: the same bytes `serde_json` writes for it (a unit test
/// compares them), written by hand because `#[serde(flatten)]` buffers every field of the
/// flattened struct in a map, which made formatting most of the timeline's time.
fn json_line(v: &impl JsonLine, b: &mut Vec<u8>) {
    v.write_json(b);
    b.push(b'\n');
}

/// A line written by hand as `serde_json` would write the struct.
trait JsonLine: Serialize {
    fn write_json(&self, b: &mut Vec<u8>);
}

fn json_str(b: &mut Vec<u8>, s: &str) {
    // Plain text needs no escaping: copied; anything else as serde_json escapes it.
    if s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        b.push(b'"');
        b.extend_from_slice(s.as_bytes());
        b.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *b, s);
    }
}

fn json_num(b: &mut Vec<u8>, v: u64) {
    super::push_u64(b, v);
}

fn json_opt_num(b: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => json_num(b, v),
        None => b.extend_from_slice(b"null"),
    }
}

fn json_time(b: &mut Vec<u8>, t: FileTime) {
    b.push(b'"');
    t.push_rfc3339(b);
    b.push(b'"');
}

/// `,"key":` then the value of a field serde would write (finding kinds and severities are
/// few: serde writes those).
fn json_field(b: &mut Vec<u8>, key: &str) {
    b.extend_from_slice(b",\"");
    b.extend_from_slice(key.as_bytes());
    b.extend_from_slice(b"\":");
}

impl At<'_> {
    /// The fields, each with its leading comma, as flattened into the line.
    fn write_fields(&self, b: &mut Vec<u8>) {
        json_field(b, "evidence");
        json_str(b, self.evidence);
        self.write_rest(b);
    }

    /// The fields after `evidence`.
    fn write_rest(&self, b: &mut Vec<u8>) {
        json_field(b, "partition");
        json_opt_num(b, self.partition.map(u64::from));
        json_field(b, "volume_offset");
        json_opt_num(b, self.volume_offset);
        json_field(b, "path");
        json_str(b, self.path);
        json_field(b, "stream");
        match self.stream {
            Some(s) => json_str(b, s),
            None => b.extend_from_slice(b"null"),
        }
        json_field(b, "mft_entry");
        json_opt_num(b, self.mft_entry);
        json_field(b, "mft_sequence");
        json_opt_num(b, self.mft_sequence.map(u64::from));
        json_field(b, "deleted");
        b.extend_from_slice(if self.deleted { b"true" } else { b"false" });
        if let Some(l) = self.line {
            json_field(b, "line");
            json_num(b, l);
        }
        if let Some(r) = self.record_id {
            json_field(b, "record_id");
            json_num(b, r);
        }
        if let Some(s) = self.snapshot {
            json_field(b, "snapshot");
            json_num(b, s as u64);
        }
    }
}

fn json_finding(b: &mut Vec<u8>, kind: Option<FindingKind>, severity: Option<Severity>) {
    if let Some(k) = kind {
        json_field(b, "kind");
        let _ = serde_json::to_writer(&mut *b, &k);
    }
    if let Some(s) = severity {
        json_field(b, "severity");
        let _ = serde_json::to_writer(&mut *b, &s);
    }
}

impl JsonLine for Line<'_> {
    fn write_json(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"time\":");
        json_time(b, self.time);
        json_field(b, "macb");
        json_str(b, self.macb);
        json_field(b, "source");
        json_str(b, self.source);
        json_field(b, "desc");
        json_str(b, self.desc);
        json_field(b, "message");
        json_str(b, self.message);
        self.at.write_fields(b);
        json_finding(b, self.kind, self.severity);
        b.push(b'}');
    }
}

impl JsonLine for Sketch<'_> {
    fn write_json(&self, b: &mut Vec<u8>) {
        b.extend_from_slice(b"{\"message\":");
        json_str(b, self.message);
        json_field(b, "datetime");
        json_time(b, self.datetime);
        json_field(b, "timestamp");
        if self.timestamp < 0 {
            b.push(b'-');
        }
        json_num(b, self.timestamp.unsigned_abs());
        json_field(b, "timestamp_desc");
        json_str(b, self.timestamp_desc);
        self.at.write_fields(b);
        json_field(b, "source");
        json_str(b, self.source);
        if let Some(m) = self.macb {
            json_field(b, "macb");
            json_str(b, m);
        }
        json_finding(b, self.kind, self.severity);
        b.push(b'}');
    }
}

/// Writes the events of the sorted `tl` (call [`Timeline::sort`] first) in `format` (not
/// [`TimelineFormat::Bodyfile`], which [`super::write_bodyfile`] streams) to `out`.
pub fn write_events(tl: &Timeline, format: TimelineFormat, out: &mut dyn Write) -> Result<()> {
    let mut f = Formatter::new(format)?;
    let mut b: Vec<u8> = Vec::with_capacity(1 << 20);
    f.header(&mut b);
    for m in tl.merged() {
        match m {
            Merged::Mft(e) => {
                let s = &tl.subjects[e.subject as usize];
                f.mft(
                    &tl.evidence,
                    tl.offset_of(s.partition),
                    s,
                    e,
                    &mut |_, l| b.extend_from_slice(l),
                );
            }
            Merged::Other(e) => f.other(e, &mut b),
        }
        if b.len() >= 1 << 20 {
            out.write_all(&b).map_err(Error::Output)?;
            b.clear();
        }
    }
    out.write_all(&b).map_err(Error::Output)
}

/// Formats the lines of one sorted format, one event at a time (the in-memory writer and the
/// spilled runs share it, so both write the same bytes).
pub(crate) struct Formatter {
    format: TimelineFormat,
    /// The 32 descriptions of MFT events (2 attributes x 16 MACB sets) as JSON strings,
    /// made once.
    descs_json: Vec<Vec<u8>>,
    /// The same as CSV cells.
    descs_csv: Vec<Vec<u8>>,
    /// The last evidence name and its JSON string.
    evidence: (String, Vec<u8>),
    /// The line being written.
    line: Vec<u8>,
}

impl Formatter {
    pub(crate) fn new(format: TimelineFormat) -> Result<Self> {
        if format == TimelineFormat::Bodyfile {
            return Err(Error::Invalid(
                "a bodyfile is written by write_bodyfile".into(),
            ));
        }
        let descs: Vec<String> = (0..32u8)
            .map(|i| {
                let src = if i < 16 {
                    Source::StdInfo
                } else {
                    Source::FileName
                };
                macb_desc(i % 16, src)
            })
            .collect();
        let descs_json = descs
            .iter()
            .map(|d: &String| {
                let mut b = Vec::new();
                json_str(&mut b, d);
                b
            })
            .collect();
        let descs_csv = descs
            .iter()
            .map(|d: &String| {
                let mut b = Vec::new();
                csv_text(&mut b, d, true);
                b
            })
            .collect();
        Ok(Formatter {
            format,
            descs_json,
            descs_csv,
            evidence: (String::new(), b"\"\"".to_vec()),
            line: Vec::with_capacity(1024),
        })
    }

    /// The CSV header line (nothing for the JSON formats).
    pub(crate) fn header(&mut self, b: &mut Vec<u8>) {
        if self.format == TimelineFormat::Csv {
            b.extend_from_slice(CSV_HEADER.join(",").as_bytes());
            b.push(b'\n');
        }
    }

    /// The line(s) of an MFT event of row `s`, each handed to `emit` with its number within
    /// the event (a Timesketch line per time; one line otherwise).
    pub(crate) fn mft(
        &mut self,
        evidence: &str,
        offset: Option<u64>,
        s: &Subject,
        e: &Event,
        emit: &mut dyn FnMut(u8, &[u8]),
    ) {
        // One line buffer, reused: most lines are written here.
        let mut b = std::mem::take(&mut self.line);
        b.clear();
        let at = At::subject(evidence, offset, s);
        match self.format {
            TimelineFormat::Jsonl => {
                // The line of most events, written straight: the description and evidence
                // pre-encoded, the message's parts escaped where they are.
                let d = e.macb as usize % 16 + 16 * (e.source == Source::FileName) as usize;
                b.extend_from_slice(b"{\"time\":");
                json_time(&mut b, e.time);
                b.extend_from_slice(b",\"macb\":\"");
                b.extend_from_slice(&macb_bytes(e.macb));
                b.extend_from_slice(b"\",\"source\":\"");
                b.extend_from_slice(src_name(e.source).as_bytes());
                b.extend_from_slice(b"\",\"desc\":");
                b.extend_from_slice(&self.descs_json[d]);
                b.extend_from_slice(b",\"message\":");
                json_message(&mut b, s);
                b.extend_from_slice(b",\"evidence\":");
                if self.evidence.0 != evidence {
                    self.evidence.0 = evidence.to_string();
                    self.evidence.1.clear();
                    json_str(&mut self.evidence.1, evidence);
                }
                b.extend_from_slice(&self.evidence.1);
                at.write_rest(&mut b);
                b.extend_from_slice(b"}\n");
                emit(0, &b);
            }
            TimelineFormat::Timesketch => {
                let msg = mft_message(s);
                // Timesketch: one line per time (its desc names one time).
                for (k, (bit, d)) in DESC.iter().enumerate() {
                    if e.macb & bit == 0 {
                        continue;
                    }
                    let desc = format!("{d} ({})", e.source.label());
                    let sketch = Sketch {
                        message: &format!("{desc}: {msg}"),
                        datetime: e.time,
                        timestamp: micros(e.time),
                        timestamp_desc: &desc,
                        at: At::subject(evidence, offset, s),
                        source: src_name(e.source),
                        macb: None,
                        kind: None,
                        severity: None,
                    };
                    b.clear();
                    json_line(&sketch, &mut b);
                    emit(k as u8, &b);
                }
            }
            TimelineFormat::Csv | TimelineFormat::Bodyfile => {
                // The typed event's record (csv_event) written straight from the row.
                let d = e.macb as usize % 16 + 16 * (e.source == Source::FileName) as usize;
                e.time.push_rfc3339(&mut b);
                b.push(b',');
                b.extend_from_slice(&macb_bytes(e.macb));
                b.push(b',');
                b.extend_from_slice(src_name(e.source).as_bytes());
                b.push(b',');
                csv_opt(&mut b, s.partition.map(u64::from));
                b.push(b',');
                csv_text(&mut b, &s.path, true);
                b.push(b',');
                csv_text(&mut b, s.stream.as_deref().unwrap_or(""), true);
                b.push(b',');
                super::push_u64(&mut b, s.entry);
                b.push(b',');
                super::push_u64(&mut b, u64::from(s.sequence));
                b.extend_from_slice(if s.deleted { b",true" } else { b",false" });
                b.extend_from_slice(b",,,,,,");
                b.extend_from_slice(&self.descs_csv[d]);
                b.push(b',');
                csv_text(&mut b, &mft_message(s), true);
                b.push(b',');
                csv_text(&mut b, evidence, true);
                b.push(b',');
                csv_opt(&mut b, offset);
                b.push(b'\n');
                emit(0, &b);
            }
        }
        self.line = b;
    }

    /// The line of an event of another source.
    pub(crate) fn other(&mut self, e: &TimelineEvent, b: &mut Vec<u8>) {
        match self.format {
            TimelineFormat::Jsonl => {
                let line = Line {
                    time: e.time,
                    macb: e.macb.as_deref().unwrap_or("...."),
                    source: e.source.as_str(),
                    desc: &e.timestamp_desc,
                    message: &e.message,
                    at: At::of(e),
                    kind: e.finding,
                    severity: e.severity,
                };
                json_line(&line, b);
            }
            TimelineFormat::Timesketch => {
                let sketch = Sketch {
                    message: &e.message,
                    datetime: e.time,
                    timestamp: micros(e.time),
                    timestamp_desc: &e.timestamp_desc,
                    at: At::of(e),
                    source: e.source.as_str(),
                    macb: e.macb.as_deref(),
                    kind: e.finding,
                    severity: e.severity,
                };
                json_line(&sketch, b);
            }
            TimelineFormat::Csv | TimelineFormat::Bodyfile => csv_event(e, b),
        }
    }
}

/// One CSV cell as the `csv` crate writes it (quoted, inner quotes doubled, when it holds a
/// comma, a quote or a line break), defused first when `defuse` (text from the image that
/// starts like a spreadsheet formula, as every CSV deadbox writes).
fn csv_text(b: &mut Vec<u8>, s: &str, defuse: bool) {
    let prefix = defuse && s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = s.bytes().any(|c| matches!(c, b',' | b'"' | b'\r' | b'\n'));
    if quote {
        b.push(b'"');
    }
    if prefix {
        b.push(b'\'');
    }
    if quote {
        for c in s.bytes() {
            if c == b'"' {
                b.push(b'"');
            }
            b.push(c);
        }
        b.push(b'"');
    } else {
        b.extend_from_slice(s.as_bytes());
    }
}

fn csv_opt(b: &mut Vec<u8>, v: Option<u64>) {
    if let Some(v) = v {
        super::push_u64(b, v);
    }
}

/// The CSV record of `ev` ([`CSV_HEADER`]'s columns), written by hand: the timeline writes
/// millions (a unit test compares it with the `csv` crate's record).
fn csv_event(ev: &TimelineEvent, b: &mut Vec<u8>) {
    let l = &ev.location;
    ev.time.push_rfc3339(b);
    b.push(b',');
    b.extend_from_slice(ev.macb.as_deref().unwrap_or("....").as_bytes());
    b.push(b',');
    b.extend_from_slice(ev.source.as_str().as_bytes());
    b.push(b',');
    csv_opt(b, l.partition.map(u64::from));
    b.push(b',');
    csv_text(b, &l.path, true);
    b.push(b',');
    csv_text(b, l.stream.as_deref().unwrap_or(""), true);
    b.push(b',');
    csv_opt(b, l.mft_entry);
    b.push(b',');
    csv_opt(b, l.mft_sequence.map(u64::from));
    b.push(b',');
    b.extend_from_slice(if l.deleted { b"true" } else { b"false" });
    b.push(b',');
    csv_opt(b, l.line);
    b.push(b',');
    csv_opt(b, l.record_id);
    b.push(b',');
    csv_opt(b, l.snapshot.map(|v| v as u64));
    b.push(b',');
    if let Some(k) = ev.finding {
        if let Ok(serde_json::Value::String(k)) = serde_json::to_value(k) {
            csv_text(b, &k, false);
        }
    }
    b.push(b',');
    if let Some(s) = ev.severity {
        b.extend_from_slice(s.as_str().as_bytes());
    }
    b.push(b',');
    csv_text(b, &ev.timestamp_desc, true);
    b.push(b',');
    csv_text(b, &ev.message, true);
    b.push(b',');
    csv_text(b, &l.evidence, true);
    b.push(b',');
    csv_opt(b, l.volume_offset);
    b.push(b'\n');
}

fn src_name(s: Source) -> &'static str {
    match s {
        Source::StdInfo => EventSource::MftSi.as_str(),
        Source::FileName => EventSource::MftFn.as_str(),
    }
}

/// The CSV columns, in order.
pub const CSV_HEADER: [&str; 18] = [
    "time",
    "macb",
    "source",
    "partition",
    "path",
    "stream",
    "mft_entry",
    "mft_sequence",
    "deleted",
    "line",
    "record_id",
    "snapshot",
    "kind",
    "severity",
    "desc",
    "message",
    "evidence",
    "volume_offset",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(path: &'a str, stream: Option<&'a str>, line: Option<u64>) -> At<'a> {
        At {
            evidence: "C:\\evidence \"x\".E01",
            partition: Some(2),
            volume_offset: None,
            path,
            stream,
            mft_entry: Some(u64::MAX),
            mft_sequence: None,
            deleted: true,
            line,
            record_id: line.map(|l| l + 1),
            snapshot: line.map(|_| 3),
        }
    }

    #[test]
    fn hand_written_lines_are_serdes_bytes() {
        let t = FileTime::parse_rfc3339("2021-03-03T02:41:55.1234567Z").unwrap();
        let names = [
            "/plain/path.aspx",
            "/tab\there \"quoted\" back\\slash \u{1}\u{1f}",
            "/ünïcödé/名前/\u{202e}xpsa.gpj",
            "",
        ];
        for (i, p) in names.iter().enumerate() {
            let stream = (i % 2 == 1).then_some("ads:\n");
            let line_no = (i % 2 == 0).then_some(i as u64 * 1000);
            let (kind, severity) = if i == 1 {
                (Some(FindingKind::WebShell), Some(Severity::Critical))
            } else {
                (None, None)
            };
            let line = Line {
                time: t,
                macb: "m.cb",
                source: "mft_fn",
                desc: p,
                message: p,
                at: at(p, stream, line_no),
                kind,
                severity,
            };
            let mut ours = Vec::new();
            json_line(&line, &mut ours);
            let mut serde = serde_json::to_vec(&line).unwrap();
            serde.push(b'\n');
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&serde)
            );
            for ts in [micros(t), -5, 0] {
                let sketch = Sketch {
                    message: p,
                    datetime: t,
                    timestamp: ts,
                    timestamp_desc: p,
                    at: at(p, stream, line_no),
                    source: "usn",
                    macb: stream,
                    kind,
                    severity,
                };
                let mut ours = Vec::new();
                json_line(&sketch, &mut ours);
                let mut serde = serde_json::to_vec(&sketch).unwrap();
                serde.push(b'\n');
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&serde)
                );
            }
        }
    }

    #[test]
    fn the_mft_line_fast_path_is_the_typed_line() {
        let s = Subject {
            partition: None,
            path: "/inetpub/wwwroot/aspnet_client/\"x\".aspx".into(),
            stream: Some("hidden.aspx".into()),
            entry: 42,
            sequence: 3,
            deleted: true,
        };
        let s2 = Subject {
            path: "/plain.aspx".into(),
            stream: None,
            deleted: false,
            ..s.clone()
        };
        for subject in [&s, &s2] {
            for macb in 1..16u8 {
                let e = Event {
                    time: FileTime(132_590_000_000_000_000),
                    subject: 0,
                    source: if macb % 2 == 0 {
                        Source::StdInfo
                    } else {
                        Source::FileName
                    },
                    macb,
                };
                let mut f = Formatter::new(TimelineFormat::Jsonl).unwrap();
                let mut fast = Vec::new();
                f.mft("ev \"1\".img", Some(1 << 20), subject, &e, &mut |_, l| {
                    fast.extend_from_slice(l)
                });
                // The same event written through the typed event's line.
                let ev = super::super::mft_event_of("ev \"1\".img", Some(1 << 20), subject, &e);
                let mut typed = Vec::new();
                let line = Line {
                    time: ev.time,
                    macb: ev.macb.as_deref().unwrap(),
                    source: ev.source.as_str(),
                    desc: &ev.timestamp_desc,
                    message: &ev.message,
                    at: At::of(&ev),
                    kind: None,
                    severity: None,
                };
                typed.extend(serde_json::to_vec(&line).unwrap());
                typed.push(b'\n');
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&typed)
                );
                let mut f = Formatter::new(TimelineFormat::Csv).unwrap();
                let mut fast = Vec::new();
                f.mft("=ev,1.img", Some(1 << 20), subject, &e, &mut |_, l| {
                    fast.extend_from_slice(l)
                });
                let ev = super::super::mft_event_of("=ev,1.img", Some(1 << 20), subject, &e);
                let mut typed = Vec::new();
                csv_event(&ev, &mut typed);
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&typed)
                );
            }
        }
    }

    #[test]
    fn hand_written_csv_records_are_the_csv_crates() {
        let t = FileTime::parse_rfc3339("2021-03-03T02:41:55.1234567Z").unwrap();
        let texts = [
            "/plain/path.aspx",
            "=cmd|' /C calc'!A0",
            "-2+3",
            "a,b \"c\"\r\nd",
            "@x,\"y\"",
            "",
            "ünï,cödé \u{202e}",
        ];
        for (i, text) in texts.iter().enumerate() {
            let mut location = crate::finding::Location::new(
                text,
                (i % 2 == 0).then_some(3),
                (i % 3 == 0).then_some(1 << 20),
                text,
                (i % 2 == 1).then_some((7, 2, i % 4 == 1)),
            );
            location.stream = (i % 3 == 1).then(|| text.to_string());
            location.line = (i % 2 == 0).then_some(12);
            location.record_id = (i == 3).then_some(99);
            location.snapshot = (i == 4).then_some(2);
            let ev = TimelineEvent {
                time: t,
                source: EventSource::Log,
                timestamp_desc: text.to_string(),
                macb: (i % 2 == 0).then(|| "m.c.".to_string()),
                message: text.to_string(),
                location,
                finding: (i == 2).then_some(FindingKind::WebShell),
                severity: (i == 2).then_some(Severity::High),
            };
            let mut ours = Vec::new();
            csv_event(&ev, &mut ours);
            // The reference: the csv crate writing the cells as strings.
            let opt = |v: Option<String>| v.unwrap_or_default();
            let cell = |s: &str| crate::output::csv_cell(s).into_owned();
            let l = &ev.location;
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                ev.time.to_string(),
                ev.macb.clone().unwrap_or_else(|| "....".into()),
                ev.source.as_str().to_string(),
                opt(l.partition.map(|p| p.to_string())),
                cell(&l.path),
                cell(l.stream.as_deref().unwrap_or("")),
                opt(l.mft_entry.map(|v| v.to_string())),
                opt(l.mft_sequence.map(|v| v.to_string())),
                l.deleted.to_string(),
                opt(l.line.map(|v| v.to_string())),
                opt(l.record_id.map(|v| v.to_string())),
                opt(l.snapshot.map(|v| v.to_string())),
                opt(ev.finding.map(|k| {
                    serde_json::to_value(k)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })),
                opt(ev.severity.map(|s| s.as_str().to_string())),
                cell(&ev.timestamp_desc),
                cell(&ev.message),
                cell(&l.evidence),
                opt(l.volume_offset.map(|v| v.to_string())),
            ])
            .unwrap();
            let theirs = w.into_inner().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{text:?}"
            );
        }
        let mut h = Vec::new();
        Formatter::new(TimelineFormat::Csv).unwrap().header(&mut h);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER).unwrap();
        assert_eq!(h, w.into_inner().unwrap());
    }
}
