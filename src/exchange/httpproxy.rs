//! HttpProxy logs: CVE-2021-26855 (SSRF) and CVE-2021-27065 (vdir reset through the proxy).
//!
//! Rows are read by the `#Fields:` header in force (column order differs between builds, a
//! file may hold several headers). A row is a trace when its `AnchorMailbox`
//! (case-insensitive):
//! - starts with `ServerInfo~`, contains `/`, does not contain `/autodiscover` and does not
//!   start with `ServerInfo~localhost`: **CVE-2021-26855**, kind
//!   [`FindingKind::ProxylogonSsrf`], severity **High** (the SSRF cookie is never set by a
//!   legitimate client);
//! - additionally, in the `Ecp` protocol folder, looks like `ServerInfo~…/…Reset…VirtualDirectory#`
//!   with `HttpStatus` 200: **CVE-2021-27065** (and 26855), kind
//!   [`FindingKind::ProxylogonVdirWrite`], severity **Critical** (the reset that writes the
//!   shell succeeded).
//!
//! Repeated rows with the same client IP, target server and URL are grouped into one trace.

use super::group::Grouper;
use super::text::{col, for_each_csv_row, quote, Coverage, Diags};
use super::{LogReport, Trace};
use crate::finding::detail::{Detail, HttpProxyDetail};
use crate::finding::{FindingKind, Severity};
use crate::ntfs::{Diagnostic, DiagnosticKind};

/// What an `AnchorMailbox` value is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// CVE-2021-26855 SSRF.
    Ssrf,
    /// CVE-2021-27065 virtual-directory reset through the SSRF, succeeded.
    VdirReset,
}

/// Classifies an `AnchorMailbox` value (see the module docs).
pub(crate) fn classify_anchor(anchor: &str, is_ecp: bool, status: Option<&str>) -> Option<Anchor> {
    let a = anchor.trim().to_ascii_lowercase();
    let rest = a.strip_prefix("serverinfo~")?;
    if !rest.contains('/') || rest.starts_with("localhost") || rest.contains("/autodiscover") {
        return None;
    }
    if is_ecp && status.map(str::trim) == Some("200") {
        if let Some((_, path)) = rest.split_once('/') {
            // `…/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory&msExchEcpCanary=…#`:
            // the reset schema may be followed by query parameters before the closing `#`.
            if let Some(pos) = path.find("reset") {
                if path.ends_with('#')
                    && path
                        .get(pos..)
                        .is_some_and(|p| p.contains("virtualdirectory"))
                {
                    return Some(Anchor::VdirReset);
                }
            }
        }
    }
    Some(Anchor::Ssrf)
}

pub(crate) fn check(protocol: &str, src: &mut dyn std::io::Read) -> LogReport {
    let mut report = LogReport::default();
    let mut cov = Coverage::default();
    let mut diags = Diags::default();
    let mut groups = Grouper::default();
    let is_ecp = protocol.eq_ignore_ascii_case("ecp");
    let mut warned_header = false;
    for_each_csv_row(
        src,
        "serverinfo~",
        &mut report,
        &mut cov,
        &mut diags,
        |row| {
            if col(row.header, "anchormailbox").is_none() {
                warned_header = true;
                return;
            }
            let Some(anchor) = row.get("anchormailbox") else {
                return;
            };
            let status = row.get("httpstatus");
            let Some(what) = classify_anchor(anchor, is_ecp, status) else {
                return;
            };
            let client = row.get("clientipaddress").unwrap_or("");
            let target = row.get("targetserver").unwrap_or("");
            let url = row.get("urlstem").unwrap_or("");
            let (kind, severity, cve, label) = match what {
                Anchor::Ssrf => (
                    FindingKind::ProxylogonSsrf,
                    Severity::High,
                    vec!["CVE-2021-26855".to_string()],
                    "CVE-2021-26855 SSRF",
                ),
                Anchor::VdirReset => (
                    FindingKind::ProxylogonVdirWrite,
                    Severity::Critical,
                    vec!["CVE-2021-26855".to_string(), "CVE-2021-27065".to_string()],
                    "CVE-2021-27065 virtual directory reset through SSRF",
                ),
            };
            let key = format!("{kind:?}\u{1}{client}\u{1}{target}\u{1}{url}");
            let time = row.time.clone();
            groups.push(
                key,
                Some(row.line_no),
                None,
                severity,
                time.as_deref(),
                || Trace {
                    kind,
                    severity,
                    cve,
                    title: format!(
                        "{label}: AnchorMailbox {anchor} ({} {url} from {client})",
                        row.get("method").unwrap_or("request")
                    ),
                    line: Some(row.line_no),
                    record_id: None,
                    quote: quote(row.line),
                    detail: Detail::HttpProxy(HttpProxyDetail {
                        log: "HttpProxy".into(),
                        protocol: protocol.to_string(),
                        time: time.clone(),
                        client_ip: row.get("clientipaddress").map(str::to_string),
                        method: row.get("method").map(str::to_string),
                        url: row.get("urlstem").map(str::to_string),
                        url_query: row.get("urlquery").map(str::to_string),
                        user_agent: row.get("useragent").map(str::to_string),
                        status: status.map(str::to_string),
                        anchor_mailbox: anchor.to_string(),
                        target_server: row.get("targetserver").map(str::to_string),
                        authenticated_user: row.get("authenticateduser").map(str::to_string),
                        group: None,
                    }),
                },
            );
        },
    );
    if warned_header {
        diags.push(Diagnostic::new(
            DiagnosticKind::Unsupported,
            "rows without an AnchorMailbox column (no or unexpected #Fields: header) were not checked",
        ));
    }
    groups.finish(&mut report, &mut diags);
    cov.finish(&mut report);
    diags.finish(&mut report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_A: &str = "#Fields: DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,FrontEndServer,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus";

    /// Builds a row for HEADER_A from the few columns that matter.
    fn row_a(
        time: &str,
        url: &str,
        anchor: &str,
        ua: &str,
        ip: &str,
        status: &str,
        target: &str,
    ) -> String {
        let names: Vec<&str> = HEADER_A
            .trim_start_matches("#Fields: ")
            .split(',')
            .collect();
        names
            .iter()
            .map(|n| match *n {
                "DateTime" => time.to_string(),
                "UrlStem" => url.to_string(),
                "AnchorMailbox" => anchor.to_string(),
                "UserAgent" => ua.to_string(),
                "ClientIpAddress" => ip.to_string(),
                "HttpStatus" => status.to_string(),
                "TargetServer" => target.to_string(),
                "Method" => "POST".to_string(),
                "Protocol" => "Ecp".to_string(),
                "GenericInfo" => "\"a,b \"\"quoted\"\"\"".to_string(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn log(rows: &[String]) -> Vec<u8> {
        let mut s = String::from("#Software: Microsoft Exchange Server\r\n#Version: 15.01.2106.002\r\n#Log-type: HttpProxy Logs\r\n#Date: 2021-03-03T00:00:00.000Z\r\n");
        s.push_str(HEADER_A);
        s.push_str("\r\n");
        for r in rows {
            s.push_str(r);
            s.push_str("\r\n");
        }
        s.into_bytes()
    }

    #[test]
    fn ssrf_rows_flagged_and_grouped() {
        let anchor = "ServerInfo~a]@exch01.contoso.local:444/ecp/proxyLogon.ecp?#";
        let rows = vec![
            row_a(
                "2021-03-03T05:03:58.123Z",
                "/ecp/y.js",
                anchor,
                "ExchangeServicesClient/0.0.0.0",
                "203.0.113.5",
                "241",
                "exch01.contoso.local",
            ),
            row_a(
                "2021-03-03T05:04:10.000Z",
                "/ecp/y.js",
                anchor,
                "ExchangeServicesClient/0.0.0.0",
                "203.0.113.5",
                "241",
                "exch01.contoso.local",
            ),
            row_a(
                "2021-03-03T05:02:00Z",
                "/ecp/y.js",
                anchor,
                "ExchangeServicesClient/0.0.0.0",
                "203.0.113.9",
                "241",
                "exch01.contoso.local",
            ),
            // Normal rows.
            row_a(
                "2021-03-03T06:00:00Z",
                "/autodiscover/autodiscover.xml",
                "ServerInfo~exch01/autodiscover/autodiscover.xml?#",
                "Outlook",
                "10.0.0.1",
                "200",
                "exch01",
            ),
            row_a(
                "2021-03-03T06:00:01Z",
                "/ecp/",
                "ServerInfo~localhost~1942062522/ecp/#",
                "Mozilla",
                "::1",
                "200",
                "localhost",
            ),
            row_a(
                "2021-03-03T06:00:02Z",
                "/owa/",
                "SMTP:user@contoso.com",
                "Mozilla",
                "10.0.0.2",
                "200",
                "exch01",
            ),
            row_a(
                "2021-03-03T06:00:03Z",
                "/owa/",
                "ServerInfo~exch01",
                "Mozilla",
                "10.0.0.2",
                "200",
                "exch01",
            ),
        ];
        let r = check("Owa", &mut &log(&rows)[..]);
        assert_eq!(r.entries, 7);
        assert_eq!(r.traces.len(), 2, "{:#?}", r.traces);
        let t = &r.traces[0];
        assert_eq!(t.kind, FindingKind::ProxylogonSsrf);
        assert_eq!(t.severity, Severity::High);
        assert_eq!(t.cve, ["CVE-2021-26855"]);
        assert_eq!(t.line, Some(6));
        assert_eq!(t.detail.to_value()["count"], 2);
        assert_eq!(t.detail.to_value()["lines"], serde_json::json!([6, 7]));
        assert_eq!(
            t.detail.to_value()["first_seen"],
            "2021-03-03T05:03:58.123Z"
        );
        assert_eq!(t.detail.to_value()["last_seen"], "2021-03-03T05:04:10.000Z");
        assert_eq!(t.detail.to_value()["client_ip"], "203.0.113.5");
        assert_eq!(
            t.detail.to_value()["user_agent"],
            "ExchangeServicesClient/0.0.0.0"
        );
        assert_eq!(t.detail.to_value()["status"], "241");
        assert_eq!(t.detail.to_value()["anchor_mailbox"], anchor);
        assert!(t.quote.starts_with("2021-03-03T05:03:58.123Z,"));
        assert_eq!(r.traces[1].detail.to_value()["client_ip"], "203.0.113.9");
        assert_eq!(r.oldest.as_deref(), Some("2021-03-03T05:02:00Z"));
        assert_eq!(r.newest.as_deref(), Some("2021-03-03T06:00:03Z"));
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    }

    #[test]
    fn vdir_reset_in_ecp_log() {
        let anchor = "ServerInfo~a]@exch01.contoso.local:444/ecp/DDI/DDIService.svc/SetObject?schema=ResetOABVirtualDirectory#";
        let ok = row_a(
            "2021-03-03T05:05:00Z",
            "/ecp/y.js",
            anchor,
            "python-requests/2.25.1",
            "203.0.113.5",
            "200",
            "exch01",
        );
        let failed = row_a(
            "2021-03-03T05:05:01Z",
            "/ecp/y.js",
            anchor,
            "python-requests/2.25.1",
            "203.0.113.6",
            "500",
            "exch01",
        );
        let r = check("Ecp", &mut &log(&[ok.clone(), failed])[..]);
        assert_eq!(r.traces.len(), 2);
        assert_eq!(r.traces[0].kind, FindingKind::ProxylogonVdirWrite);
        assert_eq!(r.traces[0].severity, Severity::Critical);
        assert_eq!(r.traces[0].cve, ["CVE-2021-26855", "CVE-2021-27065"]);
        // A failed reset is still an SSRF trace.
        assert_eq!(r.traces[1].kind, FindingKind::ProxylogonSsrf);
        // Outside the Ecp folder the reset rule does not apply.
        let r = check("Owa", &mut &log(&[ok])[..]);
        assert_eq!(r.traces[0].kind, FindingKind::ProxylogonSsrf);
    }

    #[test]
    fn other_column_orders_and_several_headers() {
        let log = "#Fields: AnchorMailbox,DateTime,HttpStatus,UrlStem,ClientIpAddress,TargetServer,UserAgent\n\
            \"ServerInfo~x]@e.c:444/ecp/proxyLogon.ecp?#\",2021-03-03T01:00:00Z,241,/ecp/a.js,198.51.100.1,e.c,\"Mozilla/5.0 (X11, Linux)\"\n\
            #Fields: DateTime,UserAgent,UrlStem,ClientIpAddress,AnchorMailbox,HttpStatus\n\
            2021-03-03T02:00:00Z,\"a \"\"b\"\", c\",/ews/exchange.asmx,198.51.100.2,ServerInfo~e.c:444/ews/exchange.asmx?#,200\n\
            2021-03-03T02:00:01Z,ua,/ews/exchange.asmx,198.51.100.3,ServerInfo~e.c/Autodiscover/x,200\n";
        let r = check("Ews", &mut log.as_bytes());
        assert_eq!(r.entries, 3);
        assert_eq!(r.traces.len(), 2);
        assert_eq!(
            r.traces[0].detail.to_value()["user_agent"],
            "Mozilla/5.0 (X11, Linux)"
        );
        assert_eq!(r.traces[0].detail.to_value()["client_ip"], "198.51.100.1");
        assert_eq!(r.traces[1].detail.to_value()["user_agent"], "a \"b\", c");
        assert_eq!(r.traces[1].detail.to_value()["url"], "/ews/exchange.asmx");
        assert_eq!(r.traces[1].line, Some(4));
    }

    #[test]
    fn no_header_is_a_diagnostic() {
        let r = check(
            "Owa",
            &mut &b"2021-03-03T01:00:00Z,ServerInfo~x/ecp/y\n"[..],
        );
        assert!(r.traces.is_empty());
        assert_eq!(r.entries, 1);
        assert_eq!(r.diagnostics.len(), 1);
    }

    #[test]
    fn anchors() {
        assert_eq!(
            classify_anchor("ServerInfo~a]@x:444/ecp/y", false, None),
            Some(Anchor::Ssrf)
        );
        assert_eq!(
            classify_anchor("SERVERINFO~a/x", false, None),
            Some(Anchor::Ssrf)
        );
        assert_eq!(classify_anchor("ServerInfo~a", false, None), None);
        assert_eq!(
            classify_anchor("ServerInfo~Localhost/ecp", false, None),
            None
        );
        assert_eq!(
            classify_anchor("ServerInfo~a/AutoDiscover/x", false, None),
            None
        );
        assert_eq!(
            classify_anchor(
                "ServerInfo~a/ecp/ResetOabVirtualDirectory#",
                true,
                Some("200")
            ),
            Some(Anchor::VdirReset)
        );
        assert_eq!(
            classify_anchor(
                "ServerInfo~a/ecp/ResetOabVirtualDirectory",
                true,
                Some("200")
            ),
            Some(Anchor::Ssrf)
        );
    }
}
