//! OABGeneratorLog: CVE-2021-26858 (arbitrary file write through the OAB download).
//!
//! Lines `Download failed and temporary file '<PATH>' needs to be removed` are normal when PATH
//! (normalised: `..` resolved, `/` or `\`, case) is inside a `…\ClientAccess\OAB\` folder, where
//! the generator keeps its temporary files. The check does not know the install folder (the
//! log itself sits in it and its OAB folder is always `<install>\ClientAccess\OAB`), so any
//! `ClientAccess\OAB` folder counts as inside.
//!
//! - PATH outside it: kind [`FindingKind::ProxylogonOabWrite`], severity **High** (the
//!   product never writes there; detail `web_script` says whether it is a script);
//! - PATH inside it but with a web-script extension (`.aspx`, …): severity **Medium** (the OAB
//!   folder is itself a known drop location; temporary files are not scripts).

use super::group::Grouper;
use super::paths::components;
use super::text::{for_each_csv_row, quote, Coverage, Diags};
use super::{is_web_script, LogReport, Trace};
use crate::finding::detail::{Detail, OabGeneratorDetail};
use crate::finding::{FindingKind, Severity};

const NEEDLE: &str = "download failed and temporary file '";

/// The PATH of a `Download failed and temporary file '<PATH>' needs to be removed` message.
pub(crate) fn temp_path(s: &str) -> Option<&str> {
    let lower = s.to_ascii_lowercase();
    let start = lower.find(NEEDLE)?.checked_add(NEEDLE.len())?;
    let rest_lower = lower.get(start..)?;
    let end = rest_lower
        .find("' needs to be removed")
        .or_else(|| rest_lower.find('\''))?;
    s.get(start..start.checked_add(end)?)
}

/// True when `path` (normalised) lies inside a `ClientAccess\OAB` folder.
pub(crate) fn inside_oab(path: &str) -> bool {
    let c = components(path);
    c.windows(2)
        .position(|w| w[0] == "clientaccess" && w[1] == "oab")
        .is_some_and(|i| c.len() > i + 2)
}

pub(crate) fn check(src: &mut dyn std::io::Read) -> LogReport {
    let mut report = LogReport::default();
    let mut cov = Coverage::default();
    let mut diags = Diags::default();
    let mut groups = Grouper::default();
    for_each_csv_row(
        src,
        "download failed and temporary file",
        &mut report,
        &mut cov,
        &mut diags,
        |row| {
            // Look in the unquoted fields first, then in the raw line.
            let Some(path) = row
                .rec
                .iter()
                .find_map(|f| temp_path(f))
                .or_else(|| temp_path(row.line))
            else {
                return;
            };
            let script = is_web_script(path);
            let severity = if !inside_oab(path) {
                Severity::High
            } else if script {
                Severity::Medium
            } else {
                return;
            };
            let normalised = format!("/{}", components(path).join("/"));
            let time = row.time.clone();
            groups.push(
                normalised.clone(),
                Some(row.line_no),
                None,
                severity,
                time.as_deref(),
                || Trace {
                    kind: FindingKind::ProxylogonOabWrite,
                    severity,
                    cve: vec!["CVE-2021-26858".into()],
                    title: if severity == Severity::High {
                        format!("CVE-2021-26858 OAB file write outside the OAB folder: {path}")
                    } else {
                        format!("CVE-2021-26858 OAB temporary file is a web script: {path}")
                    },
                    line: Some(row.line_no),
                    record_id: None,
                    quote: quote(row.line),
                    detail: Detail::OabGenerator(OabGeneratorDetail {
                        log: "OABGeneratorLog".into(),
                        time: time.clone(),
                        path: path.to_string(),
                        normalised_path: normalised,
                        web_script: script,
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

    const HDR: &str = "#Software: Microsoft Exchange Server\r\n#Log-type: OABGenerator Log\r\n#Fields: date-time,process-id,thread-id,event-type,message\r\n";

    fn line(time: &str, path: &str) -> String {
        format!("{time},1234,56,Warning,\"Download failed and temporary file '{path}' needs to be removed, retrying\"\r\n")
    }

    #[test]
    fn outside_flagged_inside_not() {
        let mut log = String::from(HDR);
        log += &line(
            "2021-03-03T04:58:41.123Z",
            r"C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\Temp\5b7bd4ab-1234\oab.tmp",
        );
        log += &line(
            "2021-03-03T04:59:00Z",
            r"C:\Program Files\Microsoft\Exchange Server\V15\ClientAccess\OAB\..\..\..\..\..\..\inetpub\wwwroot\aspnet_client\system_web\Xy12Ab34.aspx",
        );
        log += &line(
            "2021-03-03T05:00:00Z",
            r"c:/inetpub/wwwroot/ASPNET_CLIENT/system_web/xy12ab34.aspx",
        );
        log += &line(
            "2021-03-03T05:01:00Z",
            r"C:\PROGRAM FILES\Microsoft\Exchange Server\V15\clientaccess\oab\shell.aspx",
        );
        log += "2021-03-03T05:02:00Z,1,1,Information,OAB generation finished\r\n";
        let r = check(&mut log.as_bytes());
        assert_eq!(r.entries, 5);
        assert_eq!(r.traces.len(), 2, "{:#?}", r.traces);
        let t = &r.traces[0];
        assert_eq!(t.severity, Severity::High);
        assert_eq!(t.kind, FindingKind::ProxylogonOabWrite);
        assert_eq!(t.line, Some(5));
        assert_eq!(t.detail.to_value()["count"], 2, "same file, two spellings");
        assert_eq!(
            t.detail.to_value()["normalised_path"],
            "/c:/inetpub/wwwroot/aspnet_client/system_web/xy12ab34.aspx"
        );
        assert_eq!(t.detail.to_value()["web_script"], true);
        assert_eq!(r.traces[1].severity, Severity::Medium);
        assert_eq!(r.oldest.as_deref(), Some("2021-03-03T04:58:41.123Z"));
        assert_eq!(r.newest.as_deref(), Some("2021-03-03T05:02:00Z"));
    }

    #[test]
    fn helpers() {
        assert_eq!(
            temp_path("x Download failed and temporary file 'a b' needs to be removed"),
            Some("a b")
        );
        assert_eq!(
            temp_path("DOWNLOAD FAILED AND TEMPORARY FILE 'c:\\x'"),
            Some("c:\\x")
        );
        assert_eq!(
            temp_path("Download failed and temporary file 'unterminated"),
            None
        );
        assert!(inside_oab(r"C:\X\ClientAccess\OAB\t\a.tmp"));
        assert!(!inside_oab(r"C:\X\ClientAccess\OAB"));
        assert!(!inside_oab(r"C:\X\ClientAccess\OAB\..\a.aspx"));
        // Non-ASCII around the message must not break byte offsets.
        assert_eq!(
            temp_path("é Download failed and temporary file 'ü' needs to be removed"),
            Some("ü")
        );
    }
}
