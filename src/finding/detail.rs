//! The kind-specific `detail` of a [`Finding`](super::Finding): one struct per finding kind that
//! carries detail, gathered in the [`Detail`] enum.
//!
//! Each struct serialises to the JSON object of `detail` in `deadbox scan --format jsonl`, keys
//! in field order; the field documentation is that contract. [`Detail`] is untagged: the JSON is
//! the object of its variant, and [`Detail::None`] (no detail) leaves `detail` out of the
//! finding.

use serde::Serialize;

use super::{Source, Times};
use crate::exchange::ArchiveKind;

/// The kind-specific detail of a finding.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Detail {
    /// No detail (`yara_match`, most `diagnostic`s): `detail` is left out of the JSON.
    #[default]
    None,
    /// `exchange_install`.
    ExchangeInstall(ExchangeInstallDetail),
    /// `ioc_hash`.
    IocHash(IocHashDetail),
    /// `web_shell`.
    WebShell(WebShellDetail),
    /// `lsass_dump`.
    LsassDump(LsassDumpDetail),
    /// `staged_archive`.
    StagedArchive(StagedArchiveDetail),
    /// `timestomp`.
    Timestomp(TimestompDetail),
    /// A finding without detail of its own (`yara_match`) about a timestomped file.
    TimestompNote(TimestompNote),
    /// `deleted_web_script`.
    DeletedWebScript(DeletedWebScriptDetail),
    /// `orphan_compiled_page`.
    OrphanCompiledPage(OrphanCompiledPageDetail),
    /// A `diagnostic` that sums up the problems of reading one log.
    LogDiagnostics(LogDiagnosticsDetail),
    /// `log_coverage`.
    LogCoverage(LogCoverageDetail),
    /// A trace in an Exchange HttpProxy log (`proxylogon_ssrf`, `proxylogon_vdir_write`).
    HttpProxy(HttpProxyDetail),
    /// A trace in an Exchange ECP Server log (`proxylogon_vdir_write`).
    EcpServer(EcpServerDetail),
    /// A trace in an Exchange OABGeneratorLog (`proxylogon_oab_write`).
    OabGenerator(OabGeneratorDetail),
    /// A trace in an IIS access log (`iis_suspicious_request`).
    Iis(IisDetail),
    /// A trace in the Application event log (`proxylogon_um_deserialization`).
    ApplicationEvtx(ApplicationEvtxDetail),
    /// Only the group counters of a log trace that has no parsed fields.
    Group(GroupStats),
    /// An Exchange cmdlet in the MSExchange Management event log (`exchange_cmdlet`,
    /// `proxylogon_vdir_write`).
    ExchangeCmdlet(ExchangeCmdletDetail),
    /// A Defender event (`defender_detection`, `defender_tampering`).
    Defender(DefenderDetail),
    /// A process creation event, Security 4688 or Sysmon 1 (`suspicious_process`).
    Process(ProcessDetail),
    /// An account created or added to a group, Security 4720/4728/4732/4756
    /// (`account_change`).
    Account(AccountDetail),
    /// A scheduled task created, Security 4698 (`scheduled_task`).
    ScheduledTask(ScheduledTaskDetail),
    /// LSASS opened to read its memory, Sysmon 10 (`lsass_access`).
    LsassAccess(LsassAccessDetail),
    /// A PowerShell script block, 4104 (`powershell_script_block`).
    ScriptBlock(ScriptBlockDetail),
}

impl Detail {
    /// True for [`Detail::None`].
    pub fn is_none(&self) -> bool {
        matches!(self, Detail::None)
    }

    /// The JSON of the detail (`null` for [`Detail::None`]).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Notes that the file the finding is about looks timestomped (`timestomp`: the reasons).
    /// A finding without detail gets a [`TimestompNote`]; kinds that are not about a file
    /// stream (logs, coverage, install, diagnostics) are left as they are.
    pub fn add_timestomp(&mut self, reasons: Vec<String>) {
        let slot = match self {
            Detail::None | Detail::TimestompNote(_) => {
                *self = Detail::TimestompNote(TimestompNote { timestomp: reasons });
                return;
            }
            Detail::IocHash(d) => &mut d.timestomp,
            Detail::WebShell(d) => &mut d.timestomp,
            Detail::LsassDump(d) => &mut d.timestomp,
            Detail::StagedArchive(d) => &mut d.timestomp,
            Detail::Timestomp(d) => &mut d.timestomp,
            _ => return,
        };
        *slot = Some(reasons);
    }

    /// The trace fields of a log trace detail, when it is one.
    fn log_mut(&mut self) -> Option<(&mut String, &mut Option<GroupStats>)> {
        match self {
            Detail::HttpProxy(d) => Some((&mut d.log, &mut d.group)),
            Detail::EcpServer(d) => Some((&mut d.log, &mut d.group)),
            Detail::OabGenerator(d) => Some((&mut d.log, &mut d.group)),
            Detail::Iis(d) => Some((&mut d.log, &mut d.group)),
            Detail::ApplicationEvtx(d) => Some((&mut d.log, &mut d.group)),
            Detail::ExchangeCmdlet(d) => Some((&mut d.event.log, &mut d.group)),
            Detail::Defender(d) => Some((&mut d.event.log, &mut d.group)),
            Detail::Process(d) => Some((&mut d.event.log, &mut d.group)),
            Detail::Account(d) => Some((&mut d.event.log, &mut d.group)),
            Detail::ScheduledTask(d) => Some((&mut d.event.log, &mut d.group)),
            Detail::LsassAccess(d) => Some((&mut d.event.log, &mut d.group)),
            Detail::ScriptBlock(d) => Some((&mut d.event.log, &mut d.group)),
            _ => None,
        }
    }

    /// Sets `log` of a log trace detail (the scan names the log kind: `httpproxy/Ecp`, `iis`,
    /// …). Other details are left as they are.
    pub fn set_log(&mut self, name: String) {
        if let Some((log, _)) = self.log_mut() {
            *log = name;
        }
    }

    /// Sets the group counters of a log trace detail; a detail without fields becomes
    /// [`Detail::Group`]. Details that are not log traces are left as they are.
    pub fn set_group(&mut self, stats: GroupStats) {
        if self.is_none() {
            *self = Detail::Group(stats);
        } else if let Some((_, group)) = self.log_mut() {
            *group = Some(stats);
        }
    }
}

/// Where an Exchange install was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExchangeInstallDetail {
    /// Install folders, volume-rooted paths.
    pub installs: Vec<String>,
    /// Where they were read from: `MsiInstallPath in <hive path>` or `default install folder
    /// present`.
    pub source: String,
}

/// A stream whose hash is on an IOC list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IocHashDetail {
    /// The listed hash that matched (lowercase hex).
    pub hash: String,
    /// The list's comment for it (may be empty).
    pub comment: String,
    /// Timestomp reasons of the file, when it looks timestomped (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestomp: Option<Vec<String>>,
}

/// A web script judged to be a web shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebShellDetail {
    /// Every signal, as text (`YARA: …`, `hash on IOC list`, `in web-shell drop folder …`, …).
    pub signals: Vec<String>,
    /// YARA rules that matched the content, as `namespace:name`.
    pub rules: Vec<String>,
    /// The IOC list entry that matched, or null.
    pub ioc: Option<IocHashDetail>,
    /// The web-shell drop folder the script is in, or null.
    pub drop_folder: Option<String>,
    /// The campaign file name it has, or null.
    pub campaign_name: Option<String>,
    /// Under the Exchange install folder but not in the known-good baseline.
    pub not_product: bool,
    /// The alternate data stream name, for a script hidden in one (else null).
    pub alternate_stream: Option<String>,
    /// The file (or stream) name.
    pub leaf: String,
    /// Timestomp reasons of the file, when it looks timestomped (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestomp: Option<Vec<String>>,
}

/// An LSASS process dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LsassDumpDetail {
    /// The content is a minidump with an `lsass.exe` module.
    pub by_content: bool,
    /// The name looks like an LSASS dump.
    pub by_name: bool,
    /// Module names of the minidump (the first 32).
    pub modules: Vec<String>,
    /// YARA rules that matched the content, as `namespace:name`.
    pub rules: Vec<String>,
    /// Timestomp reasons of the file, when it looks timestomped (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestomp: Option<Vec<String>>,
}

/// An archive staged in ProgramData, a web root, `Windows/Temp`, `PerfLogs` or an Exchange
/// folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagedArchiveDetail {
    /// Archive format: `zip`, `7z` or `rar`.
    pub format: ArchiveKind,
    /// Member names (the first 200) when they could be read (zip central directory, 7z header,
    /// RAR file headers), else null.
    pub members: Option<Vec<String>>,
    /// Why the member names could not be read (an encrypted 7z header, encrypted RAR headers,
    /// a damaged archive); absent when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members_unread: Option<String>,
    /// Timestomp reasons of the file, when it looks timestomped (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestomp: Option<Vec<String>>,
}

/// A timestomped web script in a drop folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimestompDetail {
    /// Why the `$STANDARD_INFORMATION` times look set back.
    pub reasons: Vec<String>,
    /// The same reasons, as on every finding about the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestomp: Option<Vec<String>>,
}

/// The timestomp note of a finding without detail of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimestompNote {
    /// Why the file's `$STANDARD_INFORMATION` times look set back.
    pub timestomp: Vec<String>,
}

/// A directory, by path and MFT identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirectoryRef {
    /// Volume-rooted path.
    pub path: String,
    /// MFT entry.
    pub mft_entry: u64,
    /// MFT sequence number.
    pub mft_sequence: u16,
}

/// An MFT file reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MftReference {
    /// MFT entry.
    pub mft_entry: u64,
    /// MFT sequence number.
    pub mft_sequence: u16,
}

/// A web script named only in the `$I30` slack of a drop folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedWebScriptDetail {
    /// Always `i30_slack`.
    pub source: Source,
    /// The directory whose index holds the name.
    pub directory: DirectoryRef,
    /// The file reference as it was indexed (the entry may be reused since).
    pub indexed_reference: MftReference,
    /// Byte offset of the key in the directory's index allocation, or null.
    pub key_offset: Option<u64>,
    /// The file size the index recorded.
    pub size: u64,
    /// The index copy of the `$FILE_NAME` times.
    #[serde(rename = "fn")]
    pub fn_: Times,
    /// The drop folder, or null.
    pub drop_folder: Option<String>,
    /// The campaign file name it has, or null.
    pub campaign_name: Option<String>,
}

/// A compiled page whose source is gone: what its `.compiled` file names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanCompiledPageDetail {
    /// The source page's virtual path (`virtualPath`, e.g. `/owa/auth/x.aspx`).
    pub virtual_path: String,
    /// The assembly compiled from it (`assembly`, e.g. `App_Web_x.aspx.cdcab7d2.abcd1234`),
    /// or null.
    pub assembly: Option<String>,
    /// The page's type (`type`, e.g. `ASP.owa_auth_x_aspx`), or null.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// The assembly's path beside the `.compiled` file when it is there, else null.
    pub assembly_path: Option<String>,
    /// Web-shell rules that matched the assembly (`namespace:rule`), empty when none did.
    pub assembly_rules: Vec<String>,
}

/// The problems of reading one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogDiagnosticsDetail {
    /// Every problem (at most [`crate::exchange::MAX_DIAGNOSTICS`]), serialised as its text.
    pub diagnostics: Vec<crate::ntfs::Diagnostic>,
}

/// Oldest and newest entry of a log folder (of one file, for the event logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogCoverageDetail {
    /// Log kind: `httpproxy/<Protocol>`, `ecp_server`, `oab_generator`, `iis`,
    /// `application_evtx`, `exchange_management_evtx`, `defender_evtx`, `security_evtx`,
    /// `sysmon_evtx`, `powershell_evtx`.
    pub log: String,
    /// Time of the oldest entry, as the log gives it (RFC 3339 UTC), or null.
    pub oldest: Option<String>,
    /// Time of the newest entry, or null.
    pub newest: Option<String>,
    /// Number of entries read.
    pub entries: u64,
    /// Number of log files.
    pub files: u64,
}

/// The counters of a group of repeated log entries, after the parsed fields of its first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct GroupStats {
    /// Number of entries in the group.
    pub count: u64,
    /// Earliest entry time (RFC 3339 UTC as the log gives it), or null.
    pub first_seen: Option<String>,
    /// Latest entry time, or null.
    pub last_seen: Option<String>,
    /// The first line numbers (at most [`crate::exchange::MAX_GROUP_LINES`]); absent for event
    /// logs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<u64>,
    /// The first EVTX record ids (at most [`crate::exchange::MAX_GROUP_LINES`]); absent for
    /// text logs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub record_ids: Vec<u64>,
}

/// A suspicious Exchange HttpProxy log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpProxyDetail {
    /// Log kind: `HttpProxy` from the parser, `httpproxy/<Protocol>` in scan findings.
    pub log: String,
    /// The protocol folder (`Ecp`, `Owa`, …).
    pub protocol: String,
    /// Entry time, or null.
    pub time: Option<String>,
    /// `ClientIpAddress`, or null.
    pub client_ip: Option<String>,
    /// `Method`, or null.
    pub method: Option<String>,
    /// `UrlStem`, or null.
    pub url: Option<String>,
    /// `UrlQuery`, or null.
    pub url_query: Option<String>,
    /// `UserAgent`, or null.
    pub user_agent: Option<String>,
    /// `HttpStatus`, or null.
    pub status: Option<String>,
    /// The `AnchorMailbox` cookie value.
    pub anchor_mailbox: String,
    /// `TargetServer`, or null.
    pub target_server: Option<String>,
    /// `AuthenticatedUser`, or null.
    pub authenticated_user: Option<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `lines`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A virtual-directory cmdlet in an Exchange ECP Server log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcpServerDetail {
    /// Log kind: `ECP Server` from the parser, `ecp_server` in scan findings.
    pub log: String,
    /// Entry time, or null.
    pub time: Option<String>,
    /// The cmdlet (`Set-OabVirtualDirectory`, …).
    pub cmdlet: String,
    /// The URL parameter set (`ExternalUrl`, …).
    pub parameter: String,
    /// The value it was set to (holding a script tag).
    pub value: String,
    /// Client IP address, or null.
    pub client_ip: Option<String>,
    /// Authenticated user, or null.
    pub user: Option<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `lines`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// An OAB file write in an Exchange OABGeneratorLog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OabGeneratorDetail {
    /// Log kind: `OABGeneratorLog` from the parser, `oab_generator` in scan findings.
    pub log: String,
    /// Entry time, or null.
    pub time: Option<String>,
    /// The temporary file path as logged.
    pub path: String,
    /// The path normalised (`/`-separated, lowercase components).
    pub normalised_path: String,
    /// The file is a web script.
    pub web_script: bool,
    /// Group counters (`count`, `first_seen`, `last_seen`, `lines`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A suspicious request in an IIS access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IisDetail {
    /// Log kind: `IIS` from the parser, `iis` in scan findings.
    pub log: String,
    /// Entry time, or null.
    pub time: Option<String>,
    /// `c-ip` (empty when absent).
    pub client_ip: String,
    /// `cs-method`, uppercase (empty when absent).
    pub method: String,
    /// `cs-uri-stem` as logged (empty when absent).
    pub url: String,
    /// `cs-uri-query` (empty when absent).
    pub url_query: String,
    /// `cs(User-Agent)`, decoded.
    pub user_agent: String,
    /// `sc-status`, or null.
    pub status: Option<String>,
    /// `s-ip`, or null.
    pub server_ip: Option<String>,
    /// Why the request is suspicious.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `lines`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
    /// Requests (any method) from this client to this script in the log; absent when not
    /// counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// POST requests among them; absent when not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posts: Option<u64>,
}

/// A Unified Messaging error event in the Application event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationEvtxDetail {
    /// Log kind: `Application.evtx` from the parser, `application_evtx` in scan findings.
    pub log: String,
    /// Event time (RFC 3339 UTC).
    pub time: String,
    /// Event provider.
    pub provider: String,
    /// Event id, or null.
    pub event_id: Option<String>,
    /// Event level (2: error).
    pub level: u8,
    /// The event message text.
    pub message: String,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// The fields every event-log trace starts with (flattened into its detail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventHeader {
    /// Log: the file name (`Security.evtx`, …) from the parser, its kind
    /// (`security_evtx`, `sysmon_evtx`, `defender_evtx`, `powershell_evtx`,
    /// `exchange_management_evtx`) in scan findings.
    pub log: String,
    /// When the event happened: `System/TimeCreated/@SystemTime` (RFC 3339 UTC), else the
    /// record header's time.
    pub time: String,
    /// Event provider (`MSExchange CmdletLogs`, `Microsoft-Windows-Sysmon`, …).
    pub provider: String,
    /// Event id.
    pub event_id: u64,
    /// The computer that logged it, or null.
    pub computer: Option<String>,
    /// `System/EventRecordID` as the event gives it, or null. `location.record_id` is the
    /// record header's id, the record's place in this file; the two differ in exported or
    /// forwarded logs (the event keeps the id it had on the machine that logged it).
    pub event_record_id: Option<u64>,
}

/// A cmdlet from the MSExchange Management event log (MSExchange CmdletLogs events 1 and 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExchangeCmdletDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The cmdlet (`Set-OabVirtualDirectory`, `New-MailboxExportRequest`, …).
    pub cmdlet: String,
    /// Its parameters as logged (`-Identity "x" -ExternalUrl "…"`; at most 4 KiB).
    pub parameters: String,
    /// True for event 1 (the cmdlet ran), false for event 6 (it failed), null otherwise.
    pub succeeded: Option<bool>,
    /// Who ran it (the caller as logged), or null.
    pub user: Option<String>,
    /// The process that ran it (`8372 w3wp#MSExchangePowerShellAppPool`), or null.
    pub process: Option<String>,
    /// The first line of the error, for a failed cmdlet, or null.
    pub error: Option<String>,
    /// Why it is suspicious.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A Defender detection or a change to its protection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefenderDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// Threat name (`Backdoor:ASP/Ace.T`), or null.
    pub threat: Option<String>,
    /// Defender's severity of the threat (`Severe`, `High`, …), or null.
    pub threat_severity: Option<String>,
    /// Threat category (`Backdoor`, `Trojan`, `Tool`, …), or null.
    pub category: Option<String>,
    /// The detected resources as Windows paths (`file:_`/`containerfile:_` prefixes removed).
    pub paths: Vec<String>,
    /// The process Defender names, or null.
    pub process: Option<String>,
    /// The user Defender names, or null.
    pub user: Option<String>,
    /// The action or status (`Action Name`, `Status Description`), or null.
    pub action: Option<String>,
    /// For a settings change (5007): the new value (`…\DisableRealtimeMonitoring = 0x1`).
    pub new_value: Option<String>,
    /// For a settings change (5007): the old value.
    pub old_value: Option<String>,
    /// Why it matters.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A process creation (Security 4688, Sysmon 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The new process's image (`NewProcessName` / `Image`).
    pub image: String,
    /// Its command line (at most 4 KiB), or null when not logged.
    pub command_line: Option<String>,
    /// The parent's image (`ParentProcessName` / `ParentImage`), or null.
    pub parent_image: Option<String>,
    /// The parent's command line (Sysmon), or null.
    pub parent_command_line: Option<String>,
    /// The account it ran as, or null.
    pub user: Option<String>,
    /// Its process id as logged, or null.
    pub process_id: Option<String>,
    /// A PowerShell `-EncodedCommand` decoded (UTF-16LE base64; at most 4 KiB), or null.
    pub decoded_command: Option<String>,
    /// Why it is suspicious.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// An account created or added to a group (Security 4720, 4728, 4732, 4756).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// `account created` or `added to group`.
    pub action: String,
    /// The account (`DOMAIN\name`, or the member's name or SID).
    pub account: String,
    /// The account's SID, or null.
    pub account_sid: Option<String>,
    /// The group, for an addition (`Builtin\Administrators`), or null.
    pub group_name: Option<String>,
    /// The group's SID, or null.
    pub group_sid: Option<String>,
    /// Who did it (`DOMAIN\name` of the subject), or null.
    pub subject: Option<String>,
    /// Why it matters.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A scheduled task created (Security 4698).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledTaskDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The task's name (`\Microsoft\Windows\x`).
    pub task_name: String,
    /// The `<Command>` of its first `<Exec>` action, or null.
    pub command: Option<String>,
    /// The `<Arguments>` of that action, or null.
    pub arguments: Option<String>,
    /// Who created it (`DOMAIN\name`), or null.
    pub subject: Option<String>,
    /// Why it matters.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A process opening LSASS to read its memory (Sysmon 10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LsassAccessDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`, `event_record_id`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// The process that opened LSASS (`SourceImage`).
    pub source_image: String,
    /// Its process id, or null.
    pub source_process_id: Option<String>,
    /// The account it ran as (`SourceUser`, newer Sysmon), or null.
    pub user: Option<String>,
    /// `TargetImage` (`…\\lsass.exe`).
    pub target_image: String,
    /// The access granted (`0x1fffff`, `0x1410`, …).
    pub granted_access: String,
    /// The call stack of the open (`CallTrace`; at most 4 KiB).
    pub call_trace: String,
    /// Why it matters.
    pub reasons: Vec<String>,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

/// A PowerShell script block (4104) that does something an intruder does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptBlockDetail {
    /// `log`, `time`, `provider`, `event_id`, `computer`.
    #[serde(flatten)]
    pub event: EventHeader,
    /// `ScriptBlockId`, or null.
    pub script_block_id: Option<String>,
    /// `MessageNumber/MessageTotal` (a long block is split across records), or null.
    pub part: Option<String>,
    /// The script's path, or null (typed or run from memory).
    pub path: Option<String>,
    /// What it does (`loads the Exchange snap-in`, `dumps LSASS memory`, …).
    pub reasons: Vec<String>,
    /// The text around the first match (at most 1 KiB).
    pub excerpt: String,
    /// Group counters (`count`, `first_seen`, `last_seen`, `record_ids`).
    #[serde(flatten)]
    pub group: Option<GroupStats>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_the_contract_order() {
        let mut d = Detail::None;
        assert_eq!(d.to_value(), serde_json::Value::Null);
        d.add_timestomp(vec!["r".into()]);
        assert_eq!(serde_json::to_string(&d).unwrap(), r#"{"timestomp":["r"]}"#);

        let mut iis = Detail::Iis(IisDetail {
            log: "IIS".into(),
            time: None,
            client_ip: "203.0.113.5".into(),
            method: "POST".into(),
            url: "/x.aspx".into(),
            url_query: String::new(),
            user_agent: "ua".into(),
            status: Some("200".into()),
            server_ip: None,
            reasons: vec!["why".into()],
            group: None,
            requests: None,
            posts: None,
        });
        iis.set_log("iis".into());
        iis.set_group(GroupStats {
            count: 2,
            first_seen: Some("t1".into()),
            last_seen: None,
            lines: vec![3, 4],
            record_ids: Vec::new(),
        });
        if let Detail::Iis(d) = &mut iis {
            d.requests = Some(5);
            d.posts = Some(1);
        }
        assert_eq!(
            serde_json::to_string(&iis).unwrap(),
            concat!(
                r#"{"log":"iis","time":null,"client_ip":"203.0.113.5","method":"POST","#,
                r#""url":"/x.aspx","url_query":"","user_agent":"ua","status":"200","#,
                r#""server_ip":null,"reasons":["why"],"count":2,"first_seen":"t1","#,
                r#""last_seen":null,"lines":[3,4],"requests":5,"posts":1}"#
            )
        );
        // Details that are not about a stream take no timestomp note.
        let before = iis.clone();
        iis.add_timestomp(vec!["r".into()]);
        assert_eq!(iis, before);
    }
}
