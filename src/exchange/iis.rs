//! IIS W3C access logs (`#Fields:` header, space separated, spaces in values written as `+`).
//!
//! Rules, on the percent-decoded, lowercased `cs-uri-stem` (kind
//! [`FindingKind::IisSuspiciousRequest`]):
//! - POST to a web script under `/aspnet_client/`, or under `/owa/auth/`, `/ecp/auth/` that is
//!   not one of the product's pages there, or under `/oab/` (drop folders): **High**;
//! - POST to `/owa/auth/Current/…` or `/owa/auth/<version>/…` (static themes/resources files
//!   such as `logon.css`): **High**;
//! - POST to `/ecp/default.flt`, `/ecp/main.css` or `/ecp/<one character>.js` (the SSRF entry
//!   points, CVE-2021-26855): **High**;
//! - POST to a script with a campaign web-shell name (`shell.aspx`, `supp0rt.aspx`, …): **High**;
//! - a Tunna (`proxy&port=…&ip=…`) or reGeorg (`cmd=connect&target=…`, `cmd=forward`, …)
//!   tunnel request to a script, any method: **High**;
//! - POST with a user agent seen in the campaign (`ExchangeServicesClient/0.0.0.0`,
//!   `python-requests/2.19.1`, `antSword/v2.1`, crawler names, old `Chrome/51` on Linux):
//!   **Medium** alone, **Critical** together with one of the rules above.
//!
//! Matching rows are grouped per client IP and URI; each trace's `detail.reasons` lists the
//! rules, and `detail.requests`/`detail.posts` count every request (any method, matching or
//! not) from that client to that script.

use std::collections::HashMap;

use super::group::Grouper;
use super::paths::campaign_name;
use super::text::{col, fields_header, for_each_line, norm_time, percent_decode, quote};
use super::text::{no_time, Coverage, Diags};
use super::{is_web_script, LogReport, Trace};
use crate::finding::detail::{Detail, IisDetail};
use crate::finding::{FindingKind, Severity};
use crate::ntfs::{Diagnostic, DiagnosticKind};

/// Product pages under `owa/auth` and `ecp/auth` (Exchange 2016 CU19 known-good list).
const AUTH_PRODUCT_PAGES: &[&str] = &[
    "logon.aspx",
    "logoff.aspx",
    "errorfe.aspx",
    "expiredpassword.aspx",
    "frowny.aspx",
    "signout.aspx",
    "redirsuiteserviceproxy.aspx",
    "outlookcn.aspx",
    "error.aspx",
    "error2.aspx",
    "timeoutlogout.aspx",
];

/// User agents seen with ProxyLogon POSTs (lowercase substrings).
const SUSPICIOUS_AGENTS: &[&str] = &[
    "exchangeservicesclient/0.0.0.0",
    "python-requests/2.19.1",
    "python-requests/2.25.1",
    "antsword/v2.1",
    "duckduckbot/1.0",
    "facebookexternalhit/1.1",
    "baiduspider/2.0",
    "bingbot/2.0",
    "googlebot/2.1",
    "exabot-thumbnails",
    "yahoo! slurp",
    "yandexbot/3.0",
];

/// The W3C columns read, in the order of [`Col`].
const COL_NAMES: [&str; 9] = [
    "date",
    "time",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "cs(user-agent)",
    "c-ip",
    "sc-status",
    "s-ip",
];

/// Index into [`COL_NAMES`].
#[derive(Clone, Copy)]
enum Col {
    Date,
    Time,
    Method,
    Uri,
    Query,
    Agent,
    Client,
    Status,
    Server,
}

/// reGeorg tunnel commands, as they follow another query parameter.
const REGEORG: &[&str] = &[
    "&cmd=connect",
    "&cmd=forward",
    "&cmd=read",
    "&cmd=disconnect",
];

/// At most this many client+script pairs are counted for `detail.requests`.
const MAX_PAIRS: usize = 100_000;

/// Why a request to `uri` (decoded, lowercase) with `query` is suspicious, regardless of user
/// agent; `post` says whether it was a POST.
pub(crate) fn uri_reasons(uri: &str, query: &str, post: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let name = uri.rsplit('/').next().unwrap_or("");
    let script = is_web_script(uri);
    if post {
        if script
            && (uri.starts_with("/aspnet_client/")
                || uri.starts_with("/oab/")
                || ((uri.starts_with("/owa/auth/") || uri.starts_with("/ecp/auth/"))
                    && !AUTH_PRODUCT_PAGES.contains(&name)))
        {
            out.push("POST to a script in a web-shell drop folder");
        }
        if let Some(rest) = uri.strip_prefix("/owa/auth/") {
            let first = rest.split('/').next().unwrap_or("");
            let versioned = !first.is_empty()
                && first.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && first.contains('.');
            if (first == "current" || versioned) && rest.contains('/') {
                out.push("POST to an OWA static resource folder (/owa/auth/Current or version)");
            }
        }
        let one_char_js = uri
            .strip_prefix("/ecp/")
            .and_then(|n| n.strip_suffix(".js"))
            .is_some_and(|n| n.chars().count() == 1);
        if uri == "/ecp/default.flt" || uri == "/ecp/main.css" || one_char_js {
            out.push("POST to an ECP SSRF entry point (CVE-2021-26855)");
        }
        if script && campaign_name(uri).is_some() {
            out.push("POST to a script with a campaign web-shell name");
        }
    }
    let q = query.to_ascii_lowercase();
    let tunna = q.starts_with("proxy&port=") || (q.contains("&port=") && q.contains("&ip="));
    let regeorg = REGEORG
        .iter()
        .any(|c| q.starts_with(c.get(1..).unwrap_or(c)) || q.contains(c))
        && (q.contains("target=") || !q.contains("cmd=connect"));
    if script && (tunna || regeorg) {
        out.push("web-shell tunnel request (Tunna/reGeorg parameters)");
    }
    out
}

/// True when the (`+`-decoded) user agent is one seen with ProxyLogon POSTs.
pub(crate) fn suspicious_agent(ua: &str) -> bool {
    let l = ua.to_ascii_lowercase();
    SUSPICIOUS_AGENTS.iter().any(|a| l.contains(a))
        || (l.contains("chrome/51.0.2704.103") && l.contains("linux"))
}

pub(crate) fn check(src: &mut dyn std::io::Read) -> LogReport {
    let mut report = LogReport::default();
    let mut cov = Coverage::default();
    let mut diags = Diags::default();
    let mut groups = Grouper::default();
    let mut pairs: HashMap<String, (u64, u64)> = HashMap::new();
    let mut pairs_full = false;
    let mut header: Vec<String> = Vec::new();
    let mut cols: [Option<usize>; 9] = [None; 9];
    let stats = for_each_line(src, &mut |line_no, line| {
        if line.starts_with('#') {
            if let Some(h) = fields_header(line) {
                header = h;
                cols = COL_NAMES.map(|n| col(&header, n));
            }
            return true;
        }
        if line.trim().is_empty() {
            return true;
        }
        report.entries = report.entries.saturating_add(1);
        let rec: Vec<&str> = line.split(' ').collect();
        let field = |c: Col| {
            cols[c as usize]
                .and_then(|i| rec.get(i).copied())
                .filter(|v| !v.is_empty() && *v != "-")
        };
        if header.is_empty() {
            diags.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!("line {line_no}: data before any #Fields: header"),
                )
                .at_line(line_no),
            );
            return true;
        }
        if rec.len() != header.len() {
            diags.push(
                Diagnostic::new(
                    DiagnosticKind::Corrupt,
                    format!(
                        "line {line_no}: {} fields where the header has {}",
                        rec.len(),
                        header.len()
                    ),
                )
                .at_line(line_no),
            );
        }
        let time = match (field(Col::Date), field(Col::Time)) {
            (Some(d), Some(t)) => norm_time(&format!("{d} {t}")),
            _ => None,
        };
        match &time {
            Some(t) => cov.see(t),
            None => diags.push(no_time(line_no)),
        }
        let method = field(Col::Method).unwrap_or("").to_ascii_uppercase();
        let post = method == "POST";
        let uri_raw = field(Col::Uri).unwrap_or("");
        let uri = percent_decode(uri_raw, false).to_lowercase();
        let query = field(Col::Query).unwrap_or("");
        let ua = percent_decode(field(Col::Agent).unwrap_or(""), true);
        let client = field(Col::Client).unwrap_or("");
        let key = format!("{client} {uri}");
        if is_web_script(&uri) {
            if let Some(p) = pairs.get_mut(&key) {
                p.0 = p.0.saturating_add(1);
                p.1 = p.1.saturating_add(u64::from(post));
            } else if pairs.len() < MAX_PAIRS {
                pairs.insert(key.clone(), (1, u64::from(post)));
            } else {
                pairs_full = true;
            }
        }
        let mut reasons = uri_reasons(&uri, query, post);
        let agent = post && suspicious_agent(&ua);
        let severity = match (reasons.is_empty(), agent) {
            (true, false) => return true,
            (true, true) => Severity::Medium,
            (false, false) => Severity::High,
            (false, true) => Severity::Critical,
        };
        if agent {
            reasons.push("POST with a user agent seen in the campaign");
        }
        let cve: Vec<String> = if reasons.iter().any(|r| r.contains("CVE-2021-26855")) {
            vec!["CVE-2021-26855".into()]
        } else {
            Vec::new()
        };
        let status = field(Col::Status);
        groups.push(key, Some(line_no), None, severity, time.as_deref(), || {
            Trace {
                kind: FindingKind::IisSuspiciousRequest,
                severity,
                cve,
                title: format!(
                    "IIS: {} {uri_raw} from {client}: {}",
                    if method.is_empty() {
                        "request"
                    } else {
                        &method
                    },
                    reasons.join("; ")
                ),
                line: Some(line_no),
                record_id: None,
                quote: quote(line),
                detail: Detail::Iis(IisDetail {
                    log: "IIS".into(),
                    time: time.clone(),
                    client_ip: client.to_string(),
                    method: method.clone(),
                    url: uri_raw.to_string(),
                    url_query: query.to_string(),
                    user_agent: ua.to_string(),
                    status: status.map(str::to_string),
                    server_ip: field(Col::Server).map(str::to_string),
                    reasons: reasons.iter().map(|r| r.to_string()).collect(),
                    group: None,
                    requests: None,
                    posts: None,
                }),
            }
        });
        true
    });
    stats.report(&mut diags);
    if pairs_full {
        diags.push(Diagnostic::new(
            DiagnosticKind::Limit,
            format!("more than {MAX_PAIRS} client/script pairs: request counts incomplete"),
        ));
    }
    groups.finish(&mut report, &mut diags);
    for t in &mut report.traces {
        let Detail::Iis(d) = &mut t.detail else {
            continue;
        };
        let key = format!(
            "{} {}",
            d.client_ip,
            percent_decode(&d.url, false).to_lowercase()
        );
        if let Some(&(n, p)) = pairs.get(&key) {
            d.requests = Some(n);
            d.posts = Some(p);
        }
    }
    cov.finish(&mut report);
    diags.finish(&mut report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: &str = "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-03-03 00:00:00\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\r\n";

    fn row(time: &str, method: &str, uri: &str, query: &str, ip: &str, ua: &str) -> String {
        format!(
            "2021-03-03 {time} 10.0.0.10 {method} {uri} {query} 443 - {ip} {ua} - 200 0 0 15\r\n"
        )
    }

    #[test]
    fn rules() {
        let rows = [
            row(
                "01:00:00",
                "POST",
                "/aspnet_client/system_web/Ab3dEf9h.aspx",
                "-",
                "203.0.113.5",
                "Mozilla/5.0+(Windows+NT+10.0)",
            ),
            row(
                "01:00:05",
                "POST",
                "/aspnet_client/system_web/Ab3dEf9h.aspx",
                "-",
                "203.0.113.5",
                "antSword/v2.1",
            ),
            row(
                "01:01:00",
                "POST",
                "/owa/auth/Current/themes/resources/logon.css",
                "-",
                "203.0.113.6",
                "-",
            ),
            row(
                "01:02:00",
                "POST",
                "/ecp/y.js",
                "-",
                "203.0.113.7",
                "ExchangeServicesClient/0.0.0.0",
            ),
            row(
                "01:03:00",
                "POST",
                "/owa/auth.owa",
                "-",
                "198.51.100.1",
                "python-requests/2.25.1",
            ),
            row(
                "01:04:00",
                "POST",
                "/owa/auth/15.1.2106/themes/resources/SegoeUI-SemiLight.ttf",
                "-",
                "203.0.113.6",
                "-",
            ),
            // Benign.
            row(
                "02:00:00",
                "GET",
                "/owa/auth/logon.aspx",
                "url=https%3a%2f%2fmail",
                "10.1.1.1",
                "Mozilla/5.0",
            ),
            row(
                "02:00:01",
                "GET",
                "/owa/auth/Current/themes/resources/logon.css",
                "-",
                "10.1.1.1",
                "Mozilla/5.0",
            ),
            row(
                "02:00:02",
                "POST",
                "/owa/auth.owa",
                "-",
                "10.1.1.1",
                "Mozilla/5.0",
            ),
            row(
                "02:00:03",
                "POST",
                "/owa/auth/expiredpassword.aspx",
                "-",
                "10.1.1.1",
                "Mozilla/5.0",
            ),
            row(
                "02:00:04",
                "POST",
                "/EWS/Exchange.asmx",
                "-",
                "10.1.1.2",
                "Outlook",
            ),
            row(
                "02:00:05",
                "GET",
                "/ecp/y.js",
                "-",
                "10.1.1.2",
                "Googlebot/2.1",
            ),
            row(
                "02:00:06",
                "GET",
                "/aspnet_client/system_web/Ab3dEf9h.aspx",
                "-",
                "203.0.113.5",
                "-",
            ),
        ];
        let log = format!("{HDR}{}", rows.concat());
        let r = check(&mut log.as_bytes());
        assert_eq!(r.entries, 13);
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        assert_eq!(r.traces.len(), 5, "{:#?}", r.traces);
        let t = &r.traces[0];
        assert_eq!(t.severity, Severity::Critical, "raised by the antSword row");
        assert_eq!(t.detail.to_value()["count"], 2);
        assert_eq!(t.detail.to_value()["requests"], 3);
        assert_eq!(t.detail.to_value()["posts"], 2);
        assert_eq!(t.line, Some(5));
        assert_eq!(r.traces[1].severity, Severity::High);
        assert_eq!(r.traces[1].detail.to_value()["count"], 1);
        assert_eq!(r.traces[2].cve, ["CVE-2021-26855"]);
        assert_eq!(r.traces[2].severity, Severity::Critical);
        assert_eq!(r.traces[3].severity, Severity::Medium);
        assert_eq!(
            r.traces[3].detail.to_value()["user_agent"],
            "python-requests/2.25.1"
        );
        assert_eq!(r.traces[4].detail.to_value()["client_ip"], "203.0.113.6");
        assert_eq!(r.oldest.as_deref(), Some("2021-03-03T01:00:00Z"));
        assert_eq!(r.newest.as_deref(), Some("2021-03-03T02:00:06Z"));
    }

    #[test]
    fn helper_rules() {
        assert!(uri_reasons("/ecp/main.css", "-", true).len() == 1);
        assert!(uri_reasons("/ecp/default.flt", "-", true).len() == 1);
        assert!(uri_reasons("/ecp/ab.js", "-", true).is_empty());
        assert!(uri_reasons("/ecp/é.js", "-", true).len() == 1);
        assert!(uri_reasons("/owa/auth/current", "-", true).is_empty());
        assert!(uri_reasons("/x/shell.aspx", "-", true).len() == 1);
        assert!(uri_reasons("/x/shell.aspx", "-", false).is_empty());
        assert!(uri_reasons("/erp/conn.aspx", "proxy&port=3389&ip=127.0.0.1", false).len() == 1);
        assert!(
            uri_reasons(
                "/erp/conn.aspx",
                "cmd=connect&target=10.0.0.1&port=22",
                true
            )
            .len()
                == 1
        );
        assert!(uri_reasons("/erp/conn.aspx", "proxy", true).is_empty());
        assert!(suspicious_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.103 Safari/537.36"));
        assert!(!suspicious_agent(
            "Mozilla/5.0 (Windows NT 10.0) Chrome/51.0.2704.103"
        ));
    }

    #[test]
    fn missing_header_and_short_rows() {
        let r = check(&mut &b"2021-03-03 01:00:00 POST /aspnet_client/x.aspx\n#Fields: date time cs-method cs-uri-stem\n2021-03-03 01:00:00 POST\n"[..]);
        assert_eq!(r.entries, 2);
        assert!(r.traces.is_empty());
        assert_eq!(r.diagnostics.len(), 2);
    }
}
