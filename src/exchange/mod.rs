//! ProxyLogon (March 2021) and Exchange post-exploitation analysis, as pure functions.
//!
//! Everything here takes bytes (or a volume-rooted path) and returns typed results; nothing
//! reads a disk, so the scan engine decides which files to feed in:
//!
//! 1. [`msi_install_paths`] reads the SOFTWARE hive for the Exchange install folder(s)
//!    (fall back to [`default_install_dirs`]), [`windows_path_to_volume_path`] turns them into
//!    volume-rooted paths.
//! 2. [`classify_log`] says which log check applies to a file, [`check_log`] runs it and returns
//!    a [`LogReport`]: [`Trace`]s (repeated entries grouped), entry count, oldest and newest
//!    entry time (log coverage), and capped diagnostics. The event logs ([`eventlog`]:
//!    MSExchange Management, Defender, Security, Sysmon, PowerShell, and `Application.evtx`)
//!    are checked record by record by an [`EventLogChecker`], which also takes records parsed
//!    elsewhere (the scan's isolated parser child).
//! 3. File-level helpers: [`is_web_script`], [`drop_folder`], [`campaign_name`] (web-shell
//!    locations and names), [`is_lsass_dump`] / [`lsass_name`] / [`minidump_modules`] (LSASS
//!    dumps), [`archive_kind`] / [`zip_members`] / [`archive_members`] (staged archives: zip, 7z
//!    and RAR member names), [`timestomp_reasons`].
//!
//! All parsers are bounded (see the `MAX_*` constants) and never panic on hostile bytes.
//!
//! ```
//! use deadbox::exchange::{check_log, classify_log, LogKind};
//! let installs = vec!["/Program Files/Microsoft/Exchange Server/V15".to_string()];
//! let path = "/Program Files/Microsoft/Exchange Server/V15/Logging/OABGeneratorLog/OABGeneratorLog_2021030301-1.LOG";
//! let kind = classify_log(path, &installs).unwrap();
//! assert_eq!(kind, LogKind::OabGenerator);
//! let log = b"2021-03-03T04:58:41.123Z,Download failed and temporary file 'C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx' needs to be removed\r\n";
//! let report = check_log(&kind, log);
//! assert_eq!(report.traces.len(), 1);
//! assert_eq!(report.traces[0].cve, ["CVE-2021-26858"]);
//! ```

mod application;
pub(crate) mod archive;
mod ecp;
mod entries;
pub mod eventlog;
mod group;
mod httpproxy;
mod iis;
mod lzma;
/// The LZMA decoder of packed 7z headers, for the fuzz targets (`fuzz/`) only.
#[cfg(fuzzing)]
pub use lzma::decode as lzma_decode;
mod minidump;
mod oab;
mod paths;
mod registry;
mod text;
mod timestomp;

#[cfg(test)]
mod fuzz_tests;

pub use application::{check_application_evtx, match_um_event};
pub use archive::{
    archive_kind, archive_members, rar_members, sevenzip_members, zip_entries, zip_member_data,
    zip_members, ArchiveKind, ZipEntry, MAX_LISTED_MEMBERS, MAX_ZIP_MEMBERS,
};
pub(crate) use entries::evtx_entry;
pub use entries::{for_each_entry, for_each_text_entry, LogEntry};
pub use eventlog::{check_event_log, EventLog, EventLogChecker, EvtxRecord};
pub use minidump::{is_lsass_dump, is_minidump, minidump_modules, MAX_MINIDUMP_MODULES};
pub use paths::{
    campaign_name, classify_log, default_install_dirs, drop_folder, is_web_script, lsass_name,
    windows_path_to_volume_path,
};
pub use registry::{msi_install_paths, Hive};
pub use timestomp::timestomp_reasons;

use serde::Serialize;

use crate::finding::{Detail, FileFacts, Finding, FindingKind, Location, Severity};

/// At most this many traces are kept per log; a diagnostic says when the cap was hit.
pub const MAX_TRACES: usize = 1000;
/// At most this many diagnostics are kept per log (the last one says how many were dropped).
pub const MAX_DIAGNOSTICS: usize = 50;
/// A [`Trace::quote`] holds at most this many bytes of the entry (cut on a character boundary).
pub const MAX_QUOTE: usize = 2048;
/// A grouped trace lists at most this many line numbers in `detail.lines`.
pub const MAX_GROUP_LINES: usize = 10;
/// At most this many EVTX records are read from one event log.
pub const MAX_EVTX_RECORDS: u64 = 2_000_000;

/// One suspicious entry (or a group of repeated ones) found in a log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// What the entry is evidence of.
    pub kind: FindingKind,
    /// How much it matters (each check documents its choice).
    pub severity: Severity,
    /// CVE ids the entry is evidence of (may be empty for generic IIS findings).
    pub cve: Vec<String>,
    /// One-line human summary.
    pub title: String,
    /// 1-based line of the (first) entry, for text logs.
    pub line: Option<u64>,
    /// EVTX record id, for event logs.
    pub record_id: Option<u64>,
    /// The (first) entry as written in the log, at most [`MAX_QUOTE`] bytes.
    pub quote: String,
    /// Parsed fields (one [`Detail`] variant per log kind: `time`, `client_ip`, `url`,
    /// `user_agent`, `status`, …) and the group counters `count`, `first_seen`, `last_seen` and
    /// `lines` (the first [`MAX_GROUP_LINES`]).
    pub detail: Detail,
}

impl Trace {
    /// The finding for this trace, found in the log at `location` (whose `line` and
    /// `record_id` are set from the trace) with the log file's `file` facts.
    pub fn into_finding(self, mut location: Location, file: Option<FileFacts>) -> Finding {
        location.line = self.line;
        location.record_id = self.record_id;
        Finding {
            kind: self.kind,
            severity: self.severity,
            title: self.title,
            location,
            file,
            cve: self.cve,
            rule: None,
            quote: Some(self.quote),
            detail: self.detail,
        }
    }
}

/// What a log check found in one log file.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LogReport {
    /// Suspicious entries, grouped, in order of first appearance (at most [`MAX_TRACES`]).
    pub traces: Vec<Trace>,
    /// Time of the oldest entry, RFC 3339 UTC.
    pub oldest: Option<String>,
    /// Time of the newest entry, RFC 3339 UTC.
    pub newest: Option<String>,
    /// Number of entries (data lines or EVTX records) read.
    pub entries: u64,
    /// Unparsable lines, caps hit, read errors (at most [`MAX_DIAGNOSTICS`]).
    pub diagnostics: Vec<crate::ntfs::Diagnostic>,
}

/// Which log check applies to a file (see [`classify_log`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum LogKind {
    /// `<install>/Logging/HttpProxy/<Protocol>/*.log` (CVE-2021-26855, CVE-2021-27065).
    HttpProxy {
        /// The protocol folder name as found (`Ecp`, `Owa`, `Autodiscover`, …).
        protocol: String,
    },
    /// `<install>/Logging/ECP/Server/*.log` (CVE-2021-27065).
    EcpServer,
    /// `<install>/Logging/OABGeneratorLog/*.log` (CVE-2021-26858).
    OabGenerator,
    /// IIS W3C access log, `…/LogFiles/W3SVC<n>/*.log`.
    Iis,
    /// `/Windows/System32/winevt/Logs/Application.evtx` (CVE-2021-26857).
    ApplicationEvtx,
    /// Another event log with a check, `/Windows/System32/winevt/Logs/<name>.evtx` (see
    /// [`eventlog`]).
    EventLog(EventLog),
}

impl LogKind {
    /// True for the EVTX logs (parsed by the `evtx` crate, records not lines).
    pub fn is_evtx(&self) -> bool {
        matches!(self, LogKind::ApplicationEvtx | LogKind::EventLog(_))
    }
}

/// Runs the check of `kind` over the whole log. Never fails: unreadable parts become
/// diagnostics, and everything read before them still counts.
pub fn check_log(kind: &LogKind, bytes: &[u8]) -> LogReport {
    match kind {
        LogKind::ApplicationEvtx => application::check_application_evtx(bytes),
        LogKind::EventLog(log) => eventlog::check_event_log(*log, bytes),
        text => check_text_log(text, &mut &bytes[..]).unwrap_or_default(),
    }
}

/// Runs the check of a text log (`kind` not [`LogKind::is_evtx`]; `None` for an EVTX kind)
/// over the log read from `src`, line by line: memory is one 64 KiB chunk and one line (at
/// most 1 MiB; a longer line is checked up to there, with a diagnostic) whatever the log's
/// size. A read error ends the log with a diagnostic; the lines before it count.
pub fn check_text_log(kind: &LogKind, src: &mut dyn std::io::Read) -> Option<LogReport> {
    Some(match kind {
        LogKind::HttpProxy { protocol } => httpproxy::check(protocol, src),
        LogKind::EcpServer => ecp::check(src),
        LogKind::OabGenerator => oab::check(src),
        LogKind::Iis => iis::check(src),
        LogKind::ApplicationEvtx | LogKind::EventLog(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_into_finding() {
        let t = Trace {
            kind: FindingKind::ProxylogonSsrf,
            severity: Severity::High,
            cve: vec!["CVE-2021-26855".into()],
            title: "t".into(),
            line: Some(7),
            record_id: None,
            quote: "q".into(),
            detail: Detail::Group(crate::finding::detail::GroupStats {
                count: 1,
                ..Default::default()
            }),
        };
        let loc = Location {
            evidence: "e.raw".into(),
            partition: Some(1),
            volume_offset: Some(1_048_576),
            path: "/x.log".into(),
            stream: None,
            mft_entry: Some(40),
            mft_sequence: Some(2),
            deleted: false,
            line: None,
            record_id: Some(9),
            snapshot: None,
            snapshots: Vec::new(),
        };
        let f = t.into_finding(loc, None);
        assert_eq!(f.location.line, Some(7));
        assert_eq!(f.location.record_id, None);
        assert_eq!(f.quote.as_deref(), Some("q"));
        assert_eq!(f.cve, ["CVE-2021-26855"]);
        assert_eq!(f.detail.to_value()["count"], 1);
    }
}
