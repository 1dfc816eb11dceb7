//! Windows event logs (EVTX) beyond `Application.evtx`: the post-exploitation traces a
//! ProxyLogon intrusion leaves in the MSExchange Management, Defender, Security, Sysmon and
//! PowerShell logs.
//!
//! The EVTX file is parsed by the `evtx` crate into one JSON value per record
//! ([`EvtxRecord`], [`read_records`]); each log's matcher then looks at one record at a time
//! and never at the bytes. The split is what lets a scan parse the file in a child process
//! (see [`crate::scan::ScanBuilder::evtx_isolation`]) and still run the same matchers here:
//! [`EventLogChecker`] takes records from either source.
//!
//! | log | what fires |
//! |---|---|
//! | `MSExchange Management.evtx` | [`cmdlets`]: cmdlet audit events 1 (success) / 6 (failure) of `Set-*VirtualDirectory` with script in a parameter, mailbox export requests, role assignments, mailbox permissions, transport agents, mail forwarding |
//! | `Microsoft-Windows-Windows Defender%4Operational.evtx` | [`defender`]: detections 1006/1007/1008/1015/1116/1117/1118/1119, protection turned off 5001/5010/5012, settings changed 5007 |
//! | `Security.evtx` | [`process`]: 4688 process creation by the IIS/UM worker, LSASS dumping; 4720/4728/4732/4756 accounts; 4698 scheduled tasks |
//! | `Microsoft-Windows-Sysmon%4Operational.evtx` | [`process`]: event 1 process creation, as 4688; event 10 LSASS opened to read its memory |
//! | `Microsoft-Windows-PowerShell%4Operational.evtx` | [`powershell`]: 4104 script blocks |
//!
//! Every trace carries the record id and the event's own time (`System/TimeCreated/@SystemTime`;
//! the record header's time only when the event has none: in exported files the two differ,
//! and a header time of 0 is common), and quotes the data that made it fire.

pub mod cmdlets;
pub mod defender;
pub mod powershell;
pub mod process;

use std::io::Cursor;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::group::Grouper;
use super::text::{truncate, Coverage, Diags};
use super::{LogReport, Trace, MAX_EVTX_RECORDS};
use crate::finding::detail::EventHeader;
use crate::finding::Severity;
use crate::ntfs::{Diagnostic, DiagnosticKind};

/// Which event log a file is (see [`super::classify_log`]: by its name under
/// `Windows/System32/winevt/Logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventLog {
    /// `MSExchange Management.evtx`: Exchange cmdlet audit events.
    ExchangeManagement,
    /// `Microsoft-Windows-Windows Defender%4Operational.evtx`.
    Defender,
    /// `Security.evtx`.
    Security,
    /// `Microsoft-Windows-Sysmon%4Operational.evtx`.
    Sysmon,
    /// `Microsoft-Windows-PowerShell%4Operational.evtx`.
    PowerShell,
}

impl EventLog {
    /// The log's file name as Windows writes it under `Windows/System32/winevt/Logs`.
    pub fn file_name(self) -> &'static str {
        match self {
            EventLog::ExchangeManagement => "MSExchange Management.evtx",
            EventLog::Defender => "Microsoft-Windows-Windows Defender%4Operational.evtx",
            EventLog::Security => "Security.evtx",
            EventLog::Sysmon => "Microsoft-Windows-Sysmon%4Operational.evtx",
            EventLog::PowerShell => "Microsoft-Windows-PowerShell%4Operational.evtx",
        }
    }

    /// The stable name of the log in findings (`detail.log`, `log_coverage`):
    /// `exchange_management_evtx`, `defender_evtx`, `security_evtx`, `sysmon_evtx`,
    /// `powershell_evtx`.
    pub fn name(self) -> &'static str {
        match self {
            EventLog::ExchangeManagement => "exchange_management_evtx",
            EventLog::Defender => "defender_evtx",
            EventLog::Security => "security_evtx",
            EventLog::Sysmon => "sysmon_evtx",
            EventLog::PowerShell => "powershell_evtx",
        }
    }

    /// Every event log with a check, in a fixed order.
    pub const ALL: [EventLog; 5] = [
        EventLog::ExchangeManagement,
        EventLog::Defender,
        EventLog::Security,
        EventLog::Sysmon,
        EventLog::PowerShell,
    ];

    /// The log named `file` (compared ignoring ASCII case), if it has a check.
    pub fn from_file_name(file: &str) -> Option<EventLog> {
        EventLog::ALL
            .into_iter()
            .find(|l| l.file_name().eq_ignore_ascii_case(file))
    }
}

/// One EVTX record as the `evtx` crate renders it to JSON, with its record id and the time of
/// the record header. This is also what the isolated parser child writes, one per line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvtxRecord {
    /// `EventRecordID` from the record header.
    pub record_id: u64,
    /// The record header's time, RFC 3339 UTC (the time the record was written to this file).
    pub written: String,
    /// The record: `{"Event": {"System": …, "EventData": …}}`.
    pub data: Value,
}

/// Parses `bytes` as an EVTX file in this process and calls `f` with every record (or the
/// text of the error that made one unreadable), at most `max` of them, until `f` returns
/// `false`. Returns an error when the file is not EVTX at all, or when the parser panicked (the
/// records before are delivered). An allocation failure inside the crate is **not** caught:
/// that takes the process down; parse in a child process to survive it.
pub fn read_records(
    bytes: &[u8],
    max: u64,
    f: &mut dyn FnMut(Result<EvtxRecord, String>) -> bool,
) -> Result<(), String> {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let parser = ::evtx::EvtxParser::from_read_seek(Cursor::new(bytes))
            .map_err(|e| format!("not a readable EVTX file: {e}"))?;
        let mut parser = parser.with_configuration(::evtx::ParserSettings::new().num_threads(1));
        for (n, rec) in parser.records_json_value().enumerate() {
            if n as u64 >= max {
                return Err(format!(
                    "record limit of {max} reached: rest of the log not read"
                ));
            }
            let item = rec
                .map(|r| EvtxRecord {
                    record_id: r.event_record_id,
                    written: r.timestamp.to_string(),
                    data: r.data,
                })
                .map_err(|e| format!("unreadable record: {e}"));
            if !f(item) {
                break;
            }
        }
        Ok(())
    }));
    match result {
        Ok(r) => r,
        Err(_) => Err("EVTX parser panicked; records read before it are reported".into()),
    }
}

/// The text of a rendered value: a string as is, a number or boolean printed, an element with
/// attributes by its `#text`; `None` for null, arrays and other objects.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(m) => m.get("#text").and_then(text),
        _ => None,
    }
}

/// The `System` element of a record, the fields every event has.
pub(crate) struct System<'a> {
    sys: Option<&'a Value>,
}

impl<'a> System<'a> {
    /// The `System` of `record` (`{"Event": {"System": …}}`, or `{"System": …}`).
    pub(crate) fn of(record: &'a Value) -> Self {
        let event = record.get("Event").unwrap_or(record);
        System {
            sys: event.get("System"),
        }
    }

    /// A field's text (`Level`, `Computer`, …).
    pub(crate) fn field(&self, name: &str) -> Option<String> {
        self.sys?.get(name).and_then(text)
    }

    /// `EventID` as a number.
    pub(crate) fn event_id(&self) -> Option<u64> {
        self.field("EventID")?.trim().parse().ok()
    }

    /// The provider's name (`Provider/@Name`, in either attribute rendering).
    pub(crate) fn provider(&self) -> Option<String> {
        let sys = self.sys?;
        sys.get("Provider")
            .and_then(|p| p.get("#attributes"))
            .and_then(|a| a.get("Name"))
            .or_else(|| sys.get("Provider_attributes").and_then(|a| a.get("Name")))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// `TimeCreated/@SystemTime`, the time the event happened.
    pub(crate) fn time_created(&self) -> Option<String> {
        let sys = self.sys?;
        sys.get("TimeCreated")
            .and_then(|t| t.get("#attributes"))
            .or_else(|| sys.get("TimeCreated_attributes"))
            .and_then(|a| a.get("SystemTime"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }
}

/// The `EventData` (or `UserData`) of a record: named `<Data Name="…">` values, or unnamed
/// ones in order (MSExchange CmdletLogs writes them unnamed).
pub(crate) struct EventData<'a> {
    named: Option<&'a serde_json::Map<String, Value>>,
    list: Vec<String>,
}

impl<'a> EventData<'a> {
    /// The event data of `record`.
    pub(crate) fn of(record: &'a Value) -> Self {
        let event = record.get("Event").unwrap_or(record);
        let data = event
            .get("EventData")
            .filter(|d| !d.is_null())
            .or_else(|| event.get("UserData"));
        let mut out = EventData {
            named: None,
            list: Vec::new(),
        };
        let Some(Value::Object(m)) = data else {
            return out;
        };
        // Unnamed data: {"Data": {"#text": [..]}}, {"Data": [..]} or {"Data": "x"}.
        if let Some(d) = m.get("Data") {
            let items = d.get("#text").unwrap_or(d);
            match items {
                Value::Array(a) => {
                    out.list = a.iter().map(|v| text(v).unwrap_or_default()).collect()
                }
                v => out.list.extend(text(v)),
            }
            if m.len() == 1 {
                return out;
            }
        }
        out.named = Some(m);
        out
    }

    /// A named value's text.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.named?.get(name).and_then(text)
    }

    /// A named value's text, the empty string and `-` (Windows' "none") read as absent.
    pub(crate) fn value(&self, name: &str) -> Option<String> {
        self.get(name)
            .filter(|s| !s.trim().is_empty() && s.trim() != "-")
    }

    /// The unnamed values, in order.
    pub(crate) fn list(&self) -> &[String] {
        &self.list
    }
}

/// A trace a matcher found in one record, before it becomes a [`Trace`]: the matcher gives
/// what is specific, [`EventLogChecker`] adds the record id, time and grouping.
pub(crate) struct Hit {
    /// Records with the same key are grouped into one trace.
    pub key: String,
    /// Finding kind.
    pub kind: crate::finding::FindingKind,
    /// Severity.
    pub severity: Severity,
    /// CVE ids.
    pub cve: Vec<String>,
    /// Title.
    pub title: String,
    /// The relevant data, verbatim (cut to [`super::MAX_QUOTE`]).
    pub quote: String,
    /// The detail, given the record's common fields.
    pub detail: Box<dyn FnOnce(EventHeader) -> crate::finding::Detail>,
}

/// Which matcher a checker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matcher {
    /// `Application.evtx` (CVE-2021-26857, [`super::application`]).
    Application,
    /// One of the [`EventLog`]s.
    Log(EventLog),
}

/// Runs one event log's checks over records from any source (this process's parser, or the
/// lines of an isolated child) and builds its [`LogReport`].
pub struct EventLogChecker {
    matcher: Matcher,
    report: LogReport,
    diags: Diags,
    cov: Coverage,
    groups: Grouper,
    processes: process::ProcessTable,
}

impl EventLogChecker {
    /// A checker for one file of `log`.
    pub fn new(log: EventLog) -> Self {
        Self::with(Matcher::Log(log))
    }

    /// A checker for one `Application.evtx` (CVE-2021-26857).
    pub fn application() -> Self {
        Self::with(Matcher::Application)
    }

    /// The checker of an EVTX log kind; `None` for the text logs.
    pub fn for_kind(kind: &super::LogKind) -> Option<Self> {
        match kind {
            super::LogKind::ApplicationEvtx => Some(Self::application()),
            super::LogKind::EventLog(l) => Some(Self::new(*l)),
            _ => None,
        }
    }

    fn with(matcher: Matcher) -> Self {
        EventLogChecker {
            matcher,
            report: LogReport::default(),
            diags: Diags::default(),
            cov: Coverage::default(),
            groups: Grouper::default(),
            processes: process::ProcessTable::default(),
        }
    }

    /// Checks one record (an unreadable one becomes a diagnostic).
    pub fn record(&mut self, rec: Result<EvtxRecord, String>) {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                self.problem(DiagnosticKind::Unreadable, e);
                return;
            }
        };
        self.report.entries = self.report.entries.saturating_add(1);
        let sys = System::of(&rec.data);
        let time = event_time(&rec);
        if !time.starts_with("1601") {
            self.cov.see(&time);
        }
        let event_id = sys.event_id();
        let hits = match self.matcher {
            Matcher::Application => super::application::check(&rec.data),
            Matcher::Log(EventLog::ExchangeManagement) => cmdlets::check(&rec.data),
            Matcher::Log(EventLog::Defender) => defender::check(&rec.data),
            Matcher::Log(EventLog::Security | EventLog::Sysmon) => {
                process::check(&rec.data, &mut self.processes)
            }
            Matcher::Log(EventLog::PowerShell) => powershell::check(&rec.data),
        };
        let log_file = match self.matcher {
            Matcher::Application => "Application.evtx",
            Matcher::Log(l) => l.file_name(),
        };
        for hit in hits {
            let header = EventHeader {
                log: log_file.into(),
                time: time.clone(),
                provider: sys.provider().unwrap_or_default(),
                event_id: event_id.unwrap_or(0),
                computer: sys.field("Computer"),
                event_record_id: sys
                    .field("EventRecordID")
                    .and_then(|s| s.trim().parse().ok()),
            };
            let record_id = rec.record_id;
            let Hit {
                key,
                kind,
                severity,
                cve,
                title,
                quote,
                detail,
            } = hit;
            self.groups
                .push(key, None, Some(record_id), severity, Some(&time), || {
                    Trace {
                        kind,
                        severity,
                        cve,
                        title,
                        line: None,
                        record_id: Some(record_id),
                        quote: truncate(&quote, super::MAX_QUOTE),
                        detail: detail(header),
                    }
                });
        }
    }

    /// Notes a problem reading the file (a record limit, a parser failure, a child that died).
    pub fn problem(&mut self, kind: DiagnosticKind, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(kind, message.into()));
    }

    /// The report: traces grouped, coverage, diagnostics.
    pub fn finish(mut self) -> LogReport {
        self.groups.finish(&mut self.report, &mut self.diags);
        self.cov.finish(&mut self.report);
        self.diags.finish(&mut self.report);
        self.report
    }
}

/// Reads `bytes` as the event log `log` in this process (at most [`MAX_EVTX_RECORDS`]
/// records) and runs its checks. Never fails: an unreadable file or record is a diagnostic.
pub fn check_event_log(log: EventLog, bytes: &[u8]) -> LogReport {
    check_records(EventLogChecker::new(log), bytes, MAX_EVTX_RECORDS)
}

/// Parses `bytes` in this process (at most `max` records) into `checker` and returns its
/// report.
pub(crate) fn check_records(mut checker: EventLogChecker, bytes: &[u8], max: u64) -> LogReport {
    let r = read_records(bytes, max, &mut |rec| {
        checker.record(rec);
        true
    });
    if let Err(e) = r {
        let kind = if e.starts_with("record limit") {
            DiagnosticKind::Limit
        } else {
            DiagnosticKind::Unreadable
        };
        checker.problem(kind, e);
    }
    checker.finish()
}

/// When a record's event happened: `System/TimeCreated/@SystemTime` (fraction cut to 7
/// digits); the record header's time only when the event has none (the header time is when
/// the record was written to this file: in exported files it differs, and is 0, 1601, in
/// some).
pub(crate) fn event_time(rec: &EvtxRecord) -> String {
    System::of(&rec.data)
        .time_created()
        .filter(|t| !t.starts_with("1601"))
        .map(|t| seven_digits(&t))
        .unwrap_or_else(|| rec.written.clone())
}

/// An RFC 3339 time with its fraction cut to 7 digits (NTFS/FILETIME resolution, what
/// [`crate::finding::FileTime::parse_rfc3339`] reads): forwarded events render `SystemTime`
/// as text with 9 (`…33.833733500Z`).
pub(crate) fn seven_digits(t: &str) -> String {
    let Some(dot) = t.find('.') else {
        return t.to_string();
    };
    let frac = t.get(dot + 1..).unwrap_or("");
    let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
    if digits <= 7 {
        return t.to_string();
    }
    format!(
        "{}{}",
        t.get(..dot + 8).unwrap_or(t),
        frac.get(digits..).unwrap_or("")
    )
}

/// Lowercased file name of a Windows path (`C:\Windows\System32\cmd.exe` → `cmd.exe`).
pub(crate) fn base_name(path: &str) -> String {
    path.trim()
        .trim_matches('"')
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A value cut for a detail field (command lines, parameters): at most 4 KiB.
pub(crate) fn field(s: &str) -> String {
    truncate(s, 4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_data_shapes() {
        assert_eq!(
            EventLog::from_file_name("microsoft-windows-sysmon%4operational.EVTX"),
            Some(EventLog::Sysmon)
        );
        assert_eq!(EventLog::from_file_name("System.evtx"), None);
        let unnamed = json!({"Event": {"System": {"EventID": {"#text": "6"}},
            "EventData": {"Data": {"#text": ["Set-Mailbox", 5]}}}});
        let d = EventData::of(&unnamed);
        assert_eq!(d.list(), ["Set-Mailbox", "5"]);
        assert_eq!(System::of(&unnamed).event_id(), Some(6));
        let named =
            json!({"Event": {"EventData": {"Image": "C:\\x.exe", "ProcessId": 7, "User": "-"}}});
        let d = EventData::of(&named);
        assert_eq!(d.get("ProcessId").as_deref(), Some("7"));
        assert_eq!(d.value("User"), None);
        assert!(d.list().is_empty());
        let none = json!({"Event": {"EventData": null}});
        assert!(EventData::of(&none).get("x").is_none());
        assert_eq!(base_name("\"C:\\Windows\\System32\\CMD.exe\""), "cmd.exe");
        assert_eq!(
            seven_digits("2021-11-19T16:52:33.833733500Z"),
            "2021-11-19T16:52:33.8337335Z"
        );
        assert_eq!(
            seven_digits("2021-11-19T16:52:33.83Z"),
            "2021-11-19T16:52:33.83Z"
        );
        assert_eq!(seven_digits("2021-11-19T16:52:33Z"), "2021-11-19T16:52:33Z");
    }

    #[test]
    fn junk_is_a_diagnostic() {
        let r = check_event_log(EventLog::Sysmon, b"ElfFile\0 garbage");
        assert_eq!(r.entries, 0);
        assert_eq!(r.diagnostics.len(), 1);
        assert!(r.traces.is_empty());
    }
}
