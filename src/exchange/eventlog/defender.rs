//! `Microsoft-Windows-Windows Defender%4Operational.evtx`: what Defender detected, and whether
//! someone turned it off.
//!
//! Detections (`defender_detection`): 1116 (detected), 1117 (action taken), 1118/1119 (action
//! failed), and the older 1006/1007/1008 and 1015 (suspicious behaviour). Each fires, with the
//! threat name and the paths; the severity says what it is:
//!
//! - **critical**: a web-shell threat (platform `ASP`/`ASPX`/`JSP`/`PHP`, or a name with
//!   `WebShell`/`Chopper`, or the detected file is a web script) in a web or Exchange folder
//!   (`inetpub`, the Exchange install, a drop folder), or a threat named for this campaign
//!   (`Exmann`, `Hafnium`, `Chopper`, `ProxyLogon`, a CVE-2021-26855/26857/26858/27065 name);
//! - **high**: a web-shell threat elsewhere, any threat in a web or Exchange folder, a
//!   credential dumper (`Mimikatz`, `Lsass`, `DumpCreds`, `Procdump`), or a remediation that
//!   failed (1008/1118/1119: the file may still be there);
//! - **low**: potentially unwanted applications (`PUA:`/`PUADlManager`…);
//! - **medium**: anything else.
//!
//! Tampering (`defender_tampering`): 5001 (real-time protection disabled), 5010/5012 (scanning
//! for malware / viruses disabled): high. 5007 (a setting changed) fires only when the new
//! value turns protection off (`Disable…` set to 1: high; `SpynetReporting` 0: medium) or adds
//! an exclusion (medium; high when it excludes a web, Exchange, temporary or root folder, or a
//! web-script or dump extension); other changes (signature update settings, …) do not fire.

use serde_json::Value;

use super::{field, EventData, Hit, System};
use crate::exchange::{drop_folder, is_web_script, windows_path_to_volume_path};
use crate::finding::detail::{DefenderDetail, Detail};
use crate::finding::{FindingKind, Severity};

/// Settings that turn a protection off when set to 1.
const DISABLE_SETTINGS: &[&str] = &[
    "disablerealtimemonitoring",
    "disableantispyware",
    "disableantivirus",
    "disablebehaviormonitoring",
    "disableioavprotection",
    "disableonaccessprotection",
    "disablescanonrealtimeenable",
    "disablescriptscanning",
    "disableintrusionpreventionsystem",
    "disableblockatfirstseen",
    "disablearchivescanning",
    "disableemailscanning",
];

/// Threat names of this campaign (lowercase substrings).
const CAMPAIGN_THREATS: &[&str] = &[
    "exmann",
    "hafnium",
    "chopper",
    "proxylogon",
    "cve-2021-26855",
    "cve-2021-26857",
    "cve-2021-26858",
    "cve-2021-27065",
];

/// Credential-theft tools (lowercase substrings of threat names).
const CREDENTIAL_THREATS: &[&str] = &[
    "mimikatz",
    "lsass",
    "dumpcreds",
    "procdump",
    "credentialdump",
];

/// The resources of a detection's `Path` (`file:_C:\x.aspx; containerfile:_C:\y.zip;
/// file:_C:\y.zip->(SCRIPT0005)`) as Windows paths, once each.
fn resource_paths(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in raw.split(';') {
        let item = item.trim();
        let p = item.split_once(":_").map_or(item, |(scheme, rest)| {
            if scheme.chars().all(|c| c.is_ascii_alphabetic()) {
                rest
            } else {
                item
            }
        });
        // `->(SCRIPT0005)`: a part inside the file; the file is what is on disk.
        let p = p.split("->").next().unwrap_or(p).trim();
        if !p.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(p)) && out.len() < 32 {
            out.push(p.to_string());
        }
    }
    out
}

/// A web or Exchange folder (any web root, the Exchange install, a web-shell drop folder).
fn in_web_folder(windows_path: &str) -> bool {
    let (_, vp) = windows_path_to_volume_path(windows_path);
    let l = vp.to_ascii_lowercase();
    l.contains("/inetpub/")
        || l.contains("/microsoft/exchange server/")
        || l.contains("/frontend/httpproxy/")
        || drop_folder(&vp, &[]).is_some()
}

/// Severity and reasons of a detection of `threat` at `paths`.
fn judge_detection(event_id: u64, threat: &str, paths: &[String]) -> (Severity, Vec<String>) {
    let t = threat.to_ascii_lowercase();
    let platform = t
        .split_once(':')
        .map_or(t.as_str(), |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or("");
    let mut reasons = Vec::new();
    let web_name = matches!(platform, "asp" | "aspx" | "jsp" | "php")
        || t.contains("webshell")
        || t.contains("chopper");
    let web_file = paths.iter().any(|p| is_web_script(p));
    let web_folder = paths.iter().any(|p| in_web_folder(p));
    let campaign = CAMPAIGN_THREATS.iter().find(|c| t.contains(*c));
    let credential = CREDENTIAL_THREATS.iter().any(|c| t.contains(c));
    if web_name || web_file {
        reasons.push("web shell (threat name or a web-script file)".to_string());
    }
    if web_folder {
        reasons.push("in a web or Exchange folder".to_string());
    }
    if let Some(c) = campaign {
        reasons.push(format!("threat named for the ProxyLogon campaign ({c})"));
    }
    if credential {
        reasons.push("credential theft tool".to_string());
    }
    let failed = matches!(event_id, 1008 | 1118 | 1119);
    if failed {
        reasons.push("remediation failed: the threat may still be there".to_string());
    }
    let severity = if ((web_name || web_file) && web_folder) || campaign.is_some() {
        Severity::Critical
    } else if web_name || web_file || web_folder || credential || failed {
        Severity::High
    } else if t.starts_with("pua:") || t.contains("puadlmanager") || t.contains("puabundler") {
        reasons.push("potentially unwanted application".to_string());
        Severity::Low
    } else {
        Severity::Medium
    };
    (severity, reasons)
}

/// The setting name and value of a 5007 value (`HKLM\…\Real-Time Protection\DisableRealtimeMonitoring = 0x1`).
fn setting(v: &str) -> (String, String) {
    let (key, value) = v.rsplit_once(" = ").unwrap_or((v, ""));
    (key.trim().to_string(), value.trim().to_string())
}

/// Severity and reason of a 5007 settings change, `None` when it does not weaken protection.
fn judge_change(new: &str, old: &str) -> Option<(Severity, String)> {
    let (key, value) = setting(new);
    let lk = key.to_ascii_lowercase();
    let name = lk.rsplit('\\').next().unwrap_or("");
    let on = matches!(value.to_ascii_lowercase().as_str(), "0x1" | "1");
    if DISABLE_SETTINGS.contains(&name) && on {
        return Some((
            Severity::High,
            format!("protection turned off ({name} = {value})"),
        ));
    }
    if name == "spynetreporting" && matches!(value.as_str(), "0x0" | "0") {
        return Some((
            Severity::Medium,
            "cloud-delivered protection turned off".into(),
        ));
    }
    if let Some(at) = lk.find("\\exclusions\\") {
        if key.eq_ignore_ascii_case(setting(old).0.as_str()) {
            return None;
        }
        // `…\Exclusions\Paths\C:\inetpub\wwwroot`: the list, then the excluded item (a path,
        // an extension or a process), which may hold backslashes itself.
        let rest = key.get(at + "\\exclusions\\".len()..).unwrap_or("");
        let (list, item) = rest.split_once('\\').unwrap_or((rest, ""));
        let list = list.to_ascii_lowercase();
        if !matches!(list.as_str(), "paths" | "extensions" | "processes") || item.is_empty() {
            return None;
        }
        let li = item.to_ascii_lowercase();
        let (_, vp) = windows_path_to_volume_path(item);
        let broad = in_web_folder(item)
            || li.contains("\\temp")
            || li.contains("\\programdata")
            || (list == "paths" && vp == "/")
            || matches!(
                li.trim_start_matches(['.', '*']),
                "aspx" | "ashx" | "asmx" | "asp" | "dmp" | "ps1" | "exe" | "dll"
            );
        return Some(if broad {
            (
                Severity::High,
                format!("exclusion added for {item} (a web, Exchange, temporary or root folder, or a risky extension)"),
            )
        } else {
            (Severity::Medium, format!("exclusion added for {item}"))
        });
    }
    None
}

/// The traces in one Defender record.
pub(crate) fn check(record: &Value) -> Vec<Hit> {
    let sys = System::of(record);
    let Some(event_id) = sys.event_id() else {
        return Vec::new();
    };
    let provider = sys.provider().unwrap_or_default();
    if !provider.to_ascii_lowercase().contains("windows defender") {
        return Vec::new();
    }
    let d = EventData::of(record);
    let (kind, severity, reasons, title, quote, threat, paths, new_value, old_value) =
        match event_id {
            1006 | 1007 | 1008 | 1015 | 1116 | 1117 | 1118 | 1119 => {
                let threat = d.value("Threat Name").unwrap_or_default();
                let raw = d
                    .value("Path")
                    .or_else(|| d.value("Path Found"))
                    .unwrap_or_default();
                let paths = resource_paths(&raw);
                let (severity, reasons) = judge_detection(event_id, &threat, &paths);
                let what = match event_id {
                    1007 | 1117 => "action taken on",
                    1008 | 1118 | 1119 => "action failed on",
                    1015 => "suspicious behaviour",
                    _ => "detected",
                };
                let title = format!(
                    "Defender {what} {} at {}",
                    if threat.is_empty() { "?" } else { &threat },
                    paths.first().map_or("?", String::as_str)
                );
                let quote = format!("{threat} {raw}");
                (
                    FindingKind::DefenderDetection,
                    severity,
                    reasons,
                    title,
                    quote,
                    Some(threat),
                    paths,
                    None,
                    None,
                )
            }
            5001 | 5010 | 5012 => {
                let what = match event_id {
                    5001 => "real-time protection disabled",
                    5010 => "scanning for malware and other unwanted software disabled",
                    _ => "scanning for viruses disabled",
                };
                (
                    FindingKind::DefenderTampering,
                    Severity::High,
                    vec![what.to_string()],
                    format!("Defender {what}"),
                    format!("event {event_id}: {what}"),
                    None,
                    Vec::new(),
                    None,
                    None,
                )
            }
            5007 => {
                let new = d.value("New Value").unwrap_or_default();
                let old = d.value("Old Value").unwrap_or_default();
                let Some((severity, reason)) = judge_change(&new, &old) else {
                    return Vec::new();
                };
                (
                    FindingKind::DefenderTampering,
                    severity,
                    vec![reason.clone()],
                    format!("Defender setting changed: {reason}"),
                    format!("old: {old} new: {new}"),
                    None,
                    Vec::new(),
                    Some(field(&new)),
                    Some(field(&old)),
                )
            }
            _ => return Vec::new(),
        };
    let key = format!(
        "{event_id}\u{1}{}\u{1}{}\u{1}{}",
        threat.as_deref().unwrap_or(""),
        paths.join(";"),
        new_value.as_deref().unwrap_or("")
    );
    let threat_severity = d.value("Severity Name");
    let category = d.value("Category Name");
    let process = d.value("Process Name");
    let user = d.value("Detection User").or_else(|| d.value("User"));
    let action = d
        .value("Action Name")
        .filter(|a| !a.starts_with("%%"))
        .or_else(|| d.value("Status Description"))
        .or_else(|| d.value("Error Description"));
    vec![Hit {
        key,
        kind,
        severity,
        cve: Vec::new(),
        title,
        quote,
        detail: Box::new(move |event| {
            Detail::Defender(DefenderDetail {
                event,
                threat: threat.filter(|t| !t.is_empty()),
                threat_severity,
                category,
                paths,
                process,
                user,
                action,
                new_value,
                old_value,
                reasons,
                group: None,
            })
        }),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(id: u64, data: Value) -> Value {
        json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Windows Defender"}},
            "EventID": id}, "EventData": data}})
    }

    fn sev(v: &Value) -> Option<Severity> {
        check(v).first().map(|h| h.severity)
    }

    #[test]
    fn detections_by_what_and_where() {
        let shell = rec(
            1116,
            json!({"Threat Name": "Backdoor:ASP/Chopper.F!dha",
            "Path": "file:_C:\\inetpub\\wwwroot\\aspnet_client\\x.aspx"}),
        );
        assert_eq!(sev(&shell), Some(Severity::Critical));
        let elsewhere = rec(
            1116,
            json!({"Threat Name": "Backdoor:ASP/Ace.T",
            "Path": "file:_C:\\Users\\a\\cmd.aspx"}),
        );
        assert_eq!(sev(&elsewhere), Some(Severity::High));
        let mimi = rec(
            1117,
            json!({"Threat Name": "HackTool:Win32/Mimikatz.D", "Path": "file:_C:\\Windows\\Temp\\m.exe"}),
        );
        assert_eq!(sev(&mimi), Some(Severity::High));
        let pua = rec(
            1116,
            json!({"Threat Name": "PUA:Win32/Presenoker", "Path": "file:_C:\\Users\\a\\Downloads\\setup.exe"}),
        );
        assert_eq!(sev(&pua), Some(Severity::Low));
        let other = rec(
            1116,
            json!({"Threat Name": "Trojan:Win32/Wacatac.B!ml", "Path": "file:_C:\\Users\\a\\Downloads\\x.exe"}),
        );
        assert_eq!(sev(&other), Some(Severity::Medium));
        assert_eq!(
            resource_paths("containerfile:_C:\\a\\b.jsp; file:_C:\\a\\b.jsp->(SCRIPT0005); file:_C:\\a\\b.jsp->(SCRIPT0037)"),
            ["C:\\a\\b.jsp"]
        );
        // Not a detection: a scan finished (1001).
        assert_eq!(sev(&rec(1001, json!({"Scan ID": "{x}"}))), None);
    }

    #[test]
    fn tampering_and_benign_settings() {
        assert_eq!(sev(&rec(5001, json!(null))), Some(Severity::High));
        let off = rec(
            5007,
            json!({"Old Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring = 0x0",
            "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring = 0x1"}),
        );
        assert_eq!(sev(&off), Some(Severity::High));
        let excl = rec(
            5007,
            json!({"Old Value": "",
            "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths\\C:\\inetpub\\wwwroot = 0x0"}),
        );
        assert_eq!(sev(&excl), Some(Severity::High));
        let narrow = rec(
            5007,
            json!({"Old Value": "",
            "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths\\D:\\Backup\\Veeam\\Repo = 0x0"}),
        );
        assert_eq!(sev(&narrow), Some(Severity::Medium));
        // Benign 5007s: signature updates, protection turned back on.
        let sig = rec(
            5007,
            json!({"Old Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\SignatureUpdateLastAttempted = 0x1",
            "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\SignatureUpdateLastAttempted = 0x2"}),
        );
        assert_eq!(sev(&sig), None);
        let back_on = rec(
            5007,
            json!({"Old Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring = 0x1",
            "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Real-Time Protection\\DisableRealtimeMonitoring = 0x0"}),
        );
        assert_eq!(sev(&back_on), None);
    }
}
