//! `MSExchange Management.evtx`: the cmdlet audit log of Exchange (provider `MSExchange
//! CmdletLogs`). Event 1 is a cmdlet that ran, event 6 one that failed; both carry unnamed data:
//! the cmdlet, its parameters as typed, the caller, two SIDs, the client application, the
//! process (`8372 w3wp#MSExchangePowerShellAppPool`), …, and for event 6 the error.
//!
//! What fires (a failed attempt fires as a successful one: it shows intent; the title says it
//! failed):
//!
//! | cmdlet | when | kind, severity |
//! |---|---|---|
//! | `Set-*VirtualDirectory` (and `New-`) | a parameter holds script or markup (`<script`, `runat=`, `<%`, `eval(`, `Request[`) — the CVE-2021-27065 write | `proxylogon_vdir_write`, critical |
//! | `Set-*VirtualDirectory` | a parameter names a web-script file by its path (`C:\…\x.aspx`, `\\host\…\x.aspx`; a URL does not count): the settings file written as a page | `proxylogon_vdir_write`, high |
//! | `New-MailboxExportRequest` | `-FilePath` to a web folder or a web-script name (the ProxyShell shell drop) | `exchange_cmdlet`, critical |
//! | `New-MailboxExportRequest` | to a UNC path | high; otherwise medium |
//! | `New-ManagementRoleAssignment` | role `Mailbox Import Export` | high; otherwise medium |
//! | `Add-MailboxPermission`, `Add-ADPermission` | always | medium |
//! | `Install-TransportAgent`, `Enable-TransportAgent` | always | medium |
//! | `Set-Mailbox`, `New-InboxRule`, `Set-InboxRule` | a forwarding or redirection parameter (`-ForwardingSmtpAddress`, `-ForwardTo`, …) | medium |
//! | `Remove-MailboxExportRequest` | always (the clean-up after an export) | low |
//!
//! Everything else (the many `Get-*`, routine `Set-*VirtualDirectory -ExternalUrl https://…`)
//! does not fire.

use serde_json::Value;

use super::{field, EventData, Hit, System};
use crate::exchange::{drop_folder, is_web_script, windows_path_to_volume_path};
use crate::finding::detail::{Detail, ExchangeCmdletDetail};
use crate::finding::{FindingKind, Severity};

/// Markup or script in a parameter value: what the CVE-2021-27065 vdir write plants.
const SCRIPT_MARKERS: &[&str] = &[
    "<script",
    "runat=",
    "<%",
    "eval(",
    "request[",
    "request.item",
];

/// Parameters that forward or redirect mail.
const FORWARDING: &[&str] = &[
    "-forwardingsmtpaddress",
    "-forwardingaddress",
    "-forwardto",
    "-redirectto",
    "-forwardasattachmentto",
];

fn has_script(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    SCRIPT_MARKERS.iter().any(|m| l.contains(m))
}

/// The value of `-Name` in a parameter string as logged (`-FilePath "\\h\s\x.pst"`), quotes
/// removed.
fn param(params: &str, name: &str) -> Option<String> {
    let lower = params.to_ascii_lowercase();
    let key = format!("-{}", name.to_ascii_lowercase());
    let mut from = 0;
    while let Some(i) = lower.get(from..)?.find(&key) {
        let start = from + i + key.len();
        from = start;
        // A whole parameter name: followed by a space, `:` or the end.
        let rest = params.get(start..)?;
        if !(rest.is_empty() || rest.starts_with([' ', ':'])) {
            continue;
        }
        let rest = rest.trim_start_matches([' ', ':']);
        let v = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest.get(1..).unwrap_or("").split(q).next().unwrap_or(""),
            _ => rest.split(' ').next().unwrap_or(""),
        };
        return Some(v.to_string());
    }
    None
}

/// Where a mailbox export goes: a web folder (or a web-script name), a UNC path, or elsewhere.
fn export_target(path: &str) -> (Severity, String) {
    let p = path.trim();
    // `\\host\share\rest`: the rest is what the share maps to, often a drive (`c$`).
    let local = p
        .strip_prefix(r"\\")
        .and_then(|r| r.splitn(3, '\\').nth(2).map(|rest| (r, rest)))
        .map(|(r, rest)| {
            let share = r.split('\\').nth(1).unwrap_or("");
            match share.strip_suffix('$') {
                Some(d) if d.len() == 1 => format!("{d}:\\{rest}"),
                _ => rest.to_string(),
            }
        })
        .unwrap_or_else(|| p.to_string());
    let (_, vp) = windows_path_to_volume_path(&local);
    let lower = vp.to_ascii_lowercase();
    let web_folder = lower.contains("/inetpub/")
        || lower.contains("/frontend/httpproxy/")
        || lower.contains("/clientaccess/")
        || drop_folder(&vp, &[]).is_some();
    if is_web_script(&vp) || web_folder {
        (
            Severity::Critical,
            format!("export written into a web folder or as a web script ({path})"),
        )
    } else if p.starts_with(r"\\") {
        (
            Severity::High,
            format!("mailbox exported to a UNC path ({path})"),
        )
    } else {
        (Severity::Medium, format!("mailbox exported to {path}"))
    }
}

/// The traces in one MSExchange Management record (none for other providers or cmdlets).
pub(crate) fn check(record: &Value) -> Vec<Hit> {
    let sys = System::of(record);
    let provider = sys.provider().unwrap_or_default();
    if !provider.eq_ignore_ascii_case("MSExchange CmdletLogs") {
        return Vec::new();
    }
    let event_id = sys.event_id();
    let data = EventData::of(record);
    let list = data.list();
    let Some(cmdlet) = list.first().map(|s| s.trim().to_string()) else {
        return Vec::new();
    };
    let params = list.get(1).cloned().unwrap_or_default();
    let lc = cmdlet.to_ascii_lowercase();
    let lp = params.to_ascii_lowercase();

    let mut kind = FindingKind::ExchangeCmdlet;
    let mut cve = Vec::new();
    let (severity, reason) = if (lc.starts_with("set-") || lc.starts_with("new-"))
        && lc.ends_with("virtualdirectory")
    {
        kind = FindingKind::ProxylogonVdirWrite;
        cve.push("CVE-2021-27065".to_string());
        if has_script(&params) {
            (
                Severity::Critical,
                "script in a virtual-directory parameter (CVE-2021-27065 file write)".to_string(),
            )
        } else if params.split([' ', '"', '\'']).any(|w| {
            // A file path (drive or UNC), not a URL: a URL ending in `.aspx` is a routine
            // setting; a page file named in a vdir parameter is where settings get written.
            let file = w.starts_with("\\\\") || w.get(1..3) == Some(":\\");
            file && is_web_script(w)
        }) {
            (
                Severity::High,
                "virtual-directory parameter names a web-script file".to_string(),
            )
        } else {
            return Vec::new();
        }
    } else if lc == "new-mailboxexportrequest" {
        match param(&params, "FilePath") {
            Some(p) => export_target(&p),
            None => (Severity::Medium, "mailbox export request".to_string()),
        }
    } else if lc == "remove-mailboxexportrequest" {
        (
            Severity::Low,
            "mailbox export request removed (clean-up after an export)".to_string(),
        )
    } else if lc == "new-managementroleassignment" {
        if lp.contains("mailbox import export") {
            (
                Severity::High,
                "role Mailbox Import Export assigned (needed to export mailboxes)".to_string(),
            )
        } else {
            (Severity::Medium, "management role assigned".to_string())
        }
    } else if lc == "add-mailboxpermission" || lc == "add-adpermission" {
        (
            Severity::Medium,
            format!(
                "permission granted{}",
                if lp.contains("fullaccess") {
                    " (FullAccess)"
                } else {
                    ""
                }
            ),
        )
    } else if lc == "install-transportagent" || lc == "enable-transportagent" {
        (
            Severity::Medium,
            "transport agent installed or enabled (sees every message: persistence)".to_string(),
        )
    } else if matches!(
        lc.as_str(),
        "set-mailbox" | "new-inboxrule" | "set-inboxrule"
    ) && FORWARDING.iter().any(|f| {
        param(&params, &f[1..]).is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("$null"))
    }) {
        (Severity::Medium, "mail forwarded or redirected".to_string())
    } else {
        return Vec::new();
    };

    let succeeded = match event_id {
        Some(1) => Some(true),
        Some(6) => Some(false),
        _ => None,
    };
    let error = (succeeded == Some(false))
        .then(|| {
            list.iter()
                .skip(2)
                .find(|s| s.contains("Exception"))
                .and_then(|s| s.lines().next())
                .map(field)
        })
        .flatten();
    let non_empty = |i: usize| list.get(i).filter(|s| !s.trim().is_empty()).cloned();
    let user = non_empty(2);
    let process = non_empty(6);
    let title = format!(
        "{}{cmdlet} {}: {reason}",
        if succeeded == Some(false) {
            "failed: "
        } else {
            ""
        },
        super::super::text::truncate(&params, 200),
    );
    let quote = format!("{cmdlet} {params}");
    let key = format!("{cmdlet}\u{1}{params}\u{1}{}", event_id.unwrap_or(0));
    vec![Hit {
        key,
        kind,
        severity,
        cve,
        title,
        quote,
        detail: Box::new(move |event| {
            Detail::ExchangeCmdlet(ExchangeCmdletDetail {
                event,
                cmdlet,
                parameters: field(&params),
                succeeded,
                user,
                process,
                error,
                reasons: vec![reason],
                group: None,
            })
        }),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(id: u64, cmdlet: &str, params: &str) -> Value {
        json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "MSExchange CmdletLogs"}},
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": id}},
            "EventData": {"Data": {"#text": [cmdlet, params, "contoso.local/Users/Administrator", "S-1-5-21-1-500", "S-1-5-21-1-500", "Remote-ManagementShell-Unknown", "8372 w3wp#MSExchangePowerShellAppPool", ""]}}}})
    }

    fn one(v: &Value) -> Option<(FindingKind, Severity)> {
        let h = check(v);
        assert!(h.len() <= 1);
        h.first().map(|h| (h.kind, h.severity))
    }

    #[test]
    fn vdir_write_and_benign_url() {
        let evil = rec(
            1,
            "Set-OabVirtualDirectory",
            r#"-Identity "EX01\OAB (Default Web Site)" -ExternalUrl "http://f/<script language="JScript" runat="server">function Page_Load(){eval(Request["x"],"unsafe");}</script>""#,
        );
        assert_eq!(
            one(&evil),
            Some((FindingKind::ProxylogonVdirWrite, Severity::Critical))
        );
        let benign = rec(
            1,
            "Set-OwaVirtualDirectory",
            r#"-Identity "EX01\owa (Default Web Site)" -ExternalUrl "https://mail.contoso.com/owa""#,
        );
        assert_eq!(one(&benign), None);
        let page_url = rec(
            1,
            "Set-OwaVirtualDirectory",
            r#"-Identity "EX01\owa (Default Web Site)" -InternalUrl "https://mail.contoso.com/owa/auth/logon.aspx""#,
        );
        assert_eq!(one(&page_url), None);
        let page = rec(
            1,
            "Set-OabVirtualDirectory",
            r#"-Identity "x" -FilePathName "C:\inetpub\wwwroot\aspnet_client\y.aspx""#,
        );
        assert_eq!(
            one(&page),
            Some((FindingKind::ProxylogonVdirWrite, Severity::High))
        );
    }

    #[test]
    fn exports_roles_and_others() {
        let web = rec(
            1,
            "New-MailboxExportRequest",
            r#"-Mailbox "administrator" -FilePath "\\127.0.0.1\c$\inetpub\wwwroot\aspnet_client\x.aspx""#,
        );
        assert_eq!(
            one(&web),
            Some((FindingKind::ExchangeCmdlet, Severity::Critical))
        );
        let unc = rec(
            1,
            "New-MailboxExportRequest",
            r#"-Mailbox "ceo" -FilePath "\\fs01\pst\ceo.pst""#,
        );
        assert_eq!(
            one(&unc),
            Some((FindingKind::ExchangeCmdlet, Severity::High))
        );
        let role = rec(
            1,
            "New-ManagementRoleAssignment",
            r#"-Role "Mailbox Import Export" -User "attacker""#,
        );
        assert_eq!(
            one(&role),
            Some((FindingKind::ExchangeCmdlet, Severity::High))
        );
        assert_eq!(
            one(&rec(
                6,
                "Install-TransportAgent",
                r#"-Name "Evil" -AssemblyPath "x.dll""#
            )),
            Some((FindingKind::ExchangeCmdlet, Severity::Medium))
        );
        assert_eq!(
            one(&rec(
                1,
                "Set-Mailbox",
                r#"-Identity "a" -ForwardingSmtpAddress "smtp:x@example.com""#
            )),
            Some((FindingKind::ExchangeCmdlet, Severity::Medium))
        );
        // Benign records of the same events.
        assert_eq!(
            one(&rec(
                1,
                "Set-Mailbox",
                r#"-Identity "a" -ProhibitSendQuota "5GB""#
            )),
            None
        );
        assert_eq!(
            one(&rec(
                1,
                "Set-Mailbox",
                r#"-Identity "a" -ForwardingSmtpAddress $null"#
            )),
            None
        );
        assert_eq!(
            one(&rec(1, "Get-Mailbox", r#"-ResultSize "Unlimited""#)),
            None
        );
        // Not the cmdlet log.
        let mut other = rec(1, "New-MailboxExportRequest", "");
        other["Event"]["System"]["Provider"]["#attributes"]["Name"] = json!("MSExchange ADAccess");
        assert_eq!(one(&other), None);
    }

    #[test]
    fn parameter_values() {
        let p = r#"-Mailbox "a b" -FilePath '\\h\s\x.pst' -Foo:bar -FilePathX "no""#;
        assert_eq!(param(p, "FilePath").as_deref(), Some(r"\\h\s\x.pst"));
        assert_eq!(param(p, "foo").as_deref(), Some("bar"));
        assert_eq!(param(p, "Mailbox").as_deref(), Some("a b"));
        assert_eq!(param(p, "Missing"), None);
        assert_eq!(param("-X", "X").as_deref(), Some(""));
    }
}
