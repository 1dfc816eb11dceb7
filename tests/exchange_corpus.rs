//! Exchange checks against real logs of the shared corpus (`../shared/corpus`, see its
//! README). Missing corpus: skipped with a notice, except under `CI=true` where it fails.

use std::path::PathBuf;

use deadbox::exchange::{check_log, classify_log, LogKind};
use deadbox::finding::{FindingKind, Severity};

fn corpus(rel: &str) -> Option<Vec<u8>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(rel);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("corpus file {} missing under CI=true: {e}", p.display());
            }
            eprintln!("skipped: corpus file {} not available ({e})", p.display());
            None
        }
    }
}

/// A real IIS 10 log of a Tunna web-shell tunnel: 4,298 requests (2,561 GET, 1,737 POST) from
/// 10.0.2.17 to /erp/conn.aspx. /erp is no Exchange drop folder and no campaign user agent
/// is used, so only the Tunna rule fires, on the three `proxy&port=3389&ip=127.0.0.1` session
/// openings; they group into ONE trace (not thousands) that counts every request of that
/// client to that script.
#[test]
fn tunna_iis_log_yields_one_grouped_trace() {
    let Some(log) = corpus("logs/Tunna_rdp_tunnel_IIS.log") else {
        return;
    };
    let kind = classify_log("/inetpub/logs/LogFiles/W3SVC1/u_ex190903.log", &[]).unwrap();
    assert_eq!(kind, LogKind::Iis);
    let r = check_log(&kind, &log);
    assert_eq!(r.entries, 4298);
    assert_eq!(r.oldest.as_deref(), Some("2019-09-03T10:13:36Z"));
    assert!(r.newest.as_deref().unwrap() > "2019-09-03T11:04");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.traces.len(), 1, "{:#?}", r.traces);
    let t = &r.traces[0];
    assert_eq!(t.kind, FindingKind::IisSuspiciousRequest);
    assert_eq!(t.severity, Severity::High);
    assert_eq!(t.line, Some(7));
    assert_eq!(t.detail.to_value()["client_ip"], "10.0.2.17");
    assert_eq!(t.detail.to_value()["url"], "/erp/conn.aspx");
    assert_eq!(t.detail.to_value()["count"], 3);
    assert_eq!(
        t.detail.to_value()["lines"],
        serde_json::json!([7, 2606, 2629])
    );
    assert_eq!(t.detail.to_value()["first_seen"], "2019-09-03T10:13:36Z");
    assert_eq!(t.detail.to_value()["last_seen"], "2019-09-03T11:04:55Z");
    assert_eq!(t.detail.to_value()["requests"], 4298);
    assert_eq!(t.detail.to_value()["posts"], 1737);
    assert!(t.quote.contains("proxy&port=3389&ip=127.0.0.1"));
}

/// A real EVTX file (MSExchange Management cmdlet audit events): it must parse, count its
/// records and give its time range, and raise no CVE-2021-26857 trace.
#[test]
fn real_evtx_parses_without_false_hit() {
    let Some(evtx) = corpus("evtx/MSExchange_Management_wec.evtx") else {
        return;
    };
    let r = check_log(&LogKind::ApplicationEvtx, &evtx);
    eprintln!(
        "entries {} oldest {:?} newest {:?} diagnostics {:?}",
        r.entries, r.oldest, r.newest, r.diagnostics
    );
    assert!(r.entries >= 1);
    assert!(r.traces.is_empty(), "{:#?}", r.traces);
    assert!(r.oldest.is_some() && r.newest.is_some());
    assert!(r.oldest <= r.newest);
}

/// The CVE-2021-26857 matcher on a record exactly as the `evtx` crate renders the real file,
/// then patched into the shape of a UM error: provider, level and exception text all needed.
#[test]
fn um_matcher_on_real_evtx_rendering() {
    let Some(evtx) = corpus("evtx/MSExchange_Management_wec.evtx") else {
        return;
    };
    let mut parser = evtx::EvtxParser::from_buffer(evtx).unwrap();
    let rec = parser.records_json_value().next().unwrap().unwrap().data;
    assert!(deadbox::exchange::match_um_event(&rec).is_none());
    let mut um = rec.clone();
    let system = &mut um["Event"]["System"];
    system["Provider"]["#attributes"]["Name"] = "MSExchange Unified Messaging".into();
    system["Level"] = 2.into();
    assert!(
        deadbox::exchange::match_um_event(&um).is_none(),
        "no exception text yet"
    );
    um["Event"]["EventData"] = serde_json::json!({"Data": {"#text": [
        "UMWorkerProcess", "System.InvalidCastException: Unable to cast object"]}});
    let hit = deadbox::exchange::match_um_event(&um).unwrap();
    assert!(hit.starts_with("System.InvalidCastException"));
    um["Event"]["System"]["Level"] = 4.into();
    assert!(deadbox::exchange::match_um_event(&um).is_none());
}
