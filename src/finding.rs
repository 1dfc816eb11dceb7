//! Typed findings: what a scan reports, with exact provenance.
//!
//! A [`Finding`] has a [`FindingKind`], a [`Severity`], a title, a [`Location`] that says exactly
//! where it came from (evidence file, partition, volume offset, path, stream, MFT entry and
//! sequence, deleted or not; for a log, the line or EVTX record), the [`FileFacts`] of the
//! stream it is about, and kind-specific detail. Serialised with serde, it is the JSON contract
//! of `deadbox scan --format jsonl`.

use serde::{Deserialize, Serialize};

pub use crate::ntfs::FileTime;

pub mod detail;
pub use detail::Detail;

/// How much a finding matters. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Context for the analyst (log coverage, diagnostics).
    Info,
    /// Worth a look, usually benign.
    Low,
    /// Suspicious.
    Medium,
    /// Very likely malicious.
    High,
    /// Malicious, confirmed by several independent signals.
    Critical,
}

impl Severity {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is. Serialised in snake_case (`yara_match`, `ioc_hash`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingKind {
    /// A YARA rule matched a stream.
    YaraMatch,
    /// A stream's hash is on an IOC list.
    IocHash,
    /// Something could not be read or scanned; the scan went on.
    Diagnostic,
    /// A web script judged to be a web shell from several signals.
    WebShell,
    /// An LSASS process dump.
    LsassDump,
    /// An archive staged for exfiltration.
    StagedArchive,
    /// `$STANDARD_INFORMATION` times that look set back.
    Timestomp,
    /// CVE-2021-26855 SSRF traces in HttpProxy logs.
    ProxylogonSsrf,
    /// CVE-2021-27065 virtual-directory write traces (ECP / HttpProxy Ecp logs).
    ProxylogonVdirWrite,
    /// CVE-2021-26858 OAB arbitrary file write traces.
    ProxylogonOabWrite,
    /// CVE-2021-26857 Unified Messaging deserialization traces.
    ProxylogonUmDeserialization,
    /// A suspicious request in an IIS access log.
    IisSuspiciousRequest,
    /// Oldest and newest entry of a log folder.
    LogCoverage,
    /// Where (and from what) an Exchange install was found.
    ExchangeInstall,
    /// A web script whose name survives only in the `$I30` index slack of a drop folder: the
    /// file was deleted and its MFT record is gone or reused.
    DeletedWebScript,
    /// A suspicious Exchange cmdlet in the MSExchange Management event log (mailbox export,
    /// role assignment, mailbox permission, transport agent, mail forwarding).
    ExchangeCmdlet,
    /// A Windows Defender detection (1006/1007/1008/1015/1116/1117/1118/1119).
    DefenderDetection,
    /// Defender protection turned off or weakened (5001/5010/5012, 5007 settings changes).
    DefenderTampering,
    /// A process started by the IIS or UM worker, or an LSASS dump command line (Security
    /// 4688, Sysmon 1).
    SuspiciousProcess,
    /// An account created or added to a group (Security 4720/4728/4732/4756).
    AccountChange,
    /// A scheduled task created (Security 4698).
    ScheduledTask,
    /// A tool or interpreter opening LSASS to read its memory (Sysmon 10).
    LsassAccess,
    /// A PowerShell script block (4104) that loads the Exchange snap-in, dumps LSASS or
    /// downloads and runs code.
    PowershellScriptBlock,
    /// A compiled ASP.NET page (`*.compiled` and its `App_Web_*.dll` under `Temporary ASP.NET
    /// Files`) whose source page no longer exists on the volume.
    OrphanCompiledPage,
}

/// Where a listed name (an `ls` row, a deleted-web-script finding) comes from. Serialised in
/// snake_case: `mft`, `i30_slack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A file record of the MFT.
    Mft,
    /// A name carved from the slack of a directory's `$I30` index: the file may be gone and its
    /// MFT entry, as it was indexed, reused since; times are the index copy of `$FILE_NAME`.
    I30Slack,
}

impl Source {
    /// The snake_case name used in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Mft => "mft",
            Source::I30Slack => "i30_slack",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four timestamps of `$STANDARD_INFORMATION` or `$FILE_NAME`. Each serialises as RFC 3339
/// UTC text with 7 fractional digits (NTFS resolution is 100 ns), see [`FileTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Times {
    /// Creation time.
    pub created: FileTime,
    /// Last content modification.
    pub modified: FileTime,
    /// Last MFT record change.
    pub mft_modified: FileTime,
    /// Last access.
    pub accessed: FileTime,
}

impl Times {
    /// The times in on-disk order: created, modified, MFT modified, accessed.
    pub fn to_array(&self) -> [FileTime; 4] {
        [
            self.created,
            self.modified,
            self.mft_modified,
            self.accessed,
        ]
    }
}

impl From<[FileTime; 4]> for Times {
    /// From the on-disk order: created, modified, MFT modified, accessed.
    fn from(t: [FileTime; 4]) -> Self {
        Times {
            created: t[0],
            modified: t[1],
            mft_modified: t[2],
            accessed: t[3],
        }
    }
}

/// Where a finding came from. For a loose host file, `path` is its host path and the MFT
/// fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Evidence file as given on the command line (or the loose file's root).
    pub evidence: String,
    /// Partition index as listed by `deadbox info`; `None` for a bare volume or a loose file.
    pub partition: Option<u32>,
    /// Absolute byte offset of the volume in the evidence; `None` for a loose file.
    pub volume_offset: Option<u64>,
    /// Volume-rooted `/`-separated path (or host path for a loose file).
    pub path: String,
    /// Alternate data stream name; `None` for the unnamed stream.
    pub stream: Option<String>,
    /// MFT entry number.
    pub mft_entry: Option<u64>,
    /// MFT sequence number.
    pub mft_sequence: Option<u16>,
    /// True when the MFT record is not in use (deleted file).
    pub deleted: bool,
    /// 1-based line in a text log, for findings from logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// EVTX record id, for findings from event logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    /// The shadow copy the finding was read from (1 = oldest, as `deadbox info` lists them);
    /// `None` (null) for the live volume and for loose files.
    #[serde(default)]
    pub snapshot: Option<usize>,
    /// With `scan --snapshots all`: every shadow copy in which the same finding (same stream
    /// content and identity, times aside) was seen, ascending. The finding is reported once,
    /// where it was seen first (the live volume, when `snapshot` is null). Left out when empty.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub snapshots: Vec<usize>,
}

impl Location {
    /// A location in `evidence`: the volume (partition, byte offset), a path, and the MFT
    /// identity (entry, sequence, deleted) when the finding is about one record. No stream, line
    /// or record id (set them after).
    pub fn new(
        evidence: &str,
        partition: Option<u32>,
        volume_offset: Option<u64>,
        path: &str,
        record: Option<(u64, u16, bool)>,
    ) -> Self {
        Location {
            evidence: evidence.to_string(),
            partition,
            volume_offset,
            path: path.to_string(),
            stream: None,
            mft_entry: record.map(|r| r.0),
            mft_sequence: record.map(|r| r.1),
            deleted: record.is_some_and(|r| r.2),
            line: None,
            record_id: None,
            snapshot: None,
            snapshots: Vec::new(),
        }
    }
}

/// Facts about the stream a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FileFacts {
    /// Logical size in bytes.
    pub size: u64,
    /// MD5, lowercase hex, when computed.
    pub md5: Option<String>,
    /// SHA-1, lowercase hex, when computed.
    pub sha1: Option<String>,
    /// SHA-256, lowercase hex, when computed.
    pub sha256: Option<String>,
    /// `$STANDARD_INFORMATION` times (NTFS only).
    pub si: Option<Times>,
    /// `$FILE_NAME` times of the name the path was built from (NTFS only).
    #[serde(rename = "fn")]
    pub fn_: Option<Times>,
    /// The file's owner SID, e.g. `S-1-5-18` (NTFS only; see `ls` rows' `owner`).
    pub owner: Option<String>,
    /// The owner's well-known name (`NT AUTHORITY\SYSTEM`, `IIS APPPOOL`, …), when it has one.
    pub owner_name: Option<String>,
}

impl FileFacts {
    /// Sets the owner fields from an NTFS owner.
    pub fn with_owner(mut self, owner: Option<&crate::ntfs::Owner>) -> Self {
        self.owner = owner.map(|o| o.sid.clone());
        self.owner_name = owner.and_then(|o| o.name).map(str::to_string);
        self
    }
}

/// One string match of a YARA rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternMatch {
    /// Pattern identifier, e.g. `$eval`.
    pub id: String,
    /// Offset in the stream.
    pub offset: u64,
    /// Length of the match.
    pub length: u64,
    /// Matched bytes, escaped as printable text (at most 64 bytes shown).
    pub data: String,
}

/// A matching YARA rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMatch {
    /// Rule identifier.
    pub name: String,
    /// Namespace (the rule file's stem).
    pub namespace: String,
    /// Rule tags.
    pub tags: Vec<String>,
    /// Rule metadata.
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// String matches (at most 16 per pattern are kept).
    pub matches: Vec<PatternMatch>,
}

/// A typed finding. Serialised (not read back): `detail` has no self-describing tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// What it is.
    pub kind: FindingKind,
    /// How much it matters.
    pub severity: Severity,
    /// One-line human summary.
    pub title: String,
    /// Where it came from.
    pub location: Location,
    /// The stream's facts, when the finding is about a stream.
    pub file: Option<FileFacts>,
    /// CVE ids this finding is evidence of.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub cve: Vec<String>,
    /// The matching rule, for `yara_match`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rule: Option<RuleMatch>,
    /// The quoted log entry, for findings from logs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quote: Option<String>,
    /// Kind-specific detail (signals, reasons, parsed log fields, …); left out of the JSON when
    /// [`Detail::None`].
    #[serde(skip_serializing_if = "Detail::is_none")]
    pub detail: Detail,
}
