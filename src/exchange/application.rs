//! Application event log: CVE-2021-26857 (Unified Messaging deserialization).
//!
//! A record is a trace when its provider is `MSExchange Unified Messaging`, its level is Error
//! (2) and any of its data (event data, user data, rendered message) contains
//! `System.InvalidCastException`. Kind [`FindingKind::ProxylogonUmDeserialization`], severity
//! **Medium**: the exception is what the exploit leaves, but a UM fault can raise it too, so
//! it calls for a look at the time frame rather than proving compromise. Records with the
//! same event id and exception text are grouped. The time is the event's own
//! (`TimeCreated/@SystemTime`), the record header's only when the event has none.

use serde_json::Value;

use super::eventlog::{EventLogChecker, Hit};
use super::text::truncate;
use super::{LogReport, MAX_EVTX_RECORDS, MAX_QUOTE};
use crate::finding::detail::{ApplicationEvtxDetail, Detail};
use crate::finding::{FindingKind, Severity};

const PROVIDER: &str = "MSExchange Unified Messaging";
const NEEDLE: &str = "System.InvalidCastException";
/// Depth and node budget of the search through one record's JSON.
const MAX_DEPTH: usize = 32;
const MAX_NODES: usize = 10_000;

fn provider_name(system: &Value) -> Option<&str> {
    let p = system.get("Provider")?;
    p.get("#attributes")
        .and_then(|a| a.get("Name"))
        .or_else(|| {
            system
                .get("Provider_attributes")
                .and_then(|a| a.get("Name"))
        })
        .or_else(|| p.get("Name"))
        .and_then(Value::as_str)
}

fn level(system: &Value) -> Option<u64> {
    let l = system.get("Level")?;
    let l = l.get("#text").unwrap_or(l);
    l.as_u64()
        .or_else(|| l.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The first string in `v` (depth-first, bounded) containing the exception name.
fn find_needle<'a>(v: &'a Value, depth: usize, budget: &mut usize) -> Option<&'a str> {
    if depth > MAX_DEPTH || *budget == 0 {
        return None;
    }
    *budget -= 1;
    match v {
        Value::String(s) => s.contains(NEEDLE).then_some(s.as_str()),
        Value::Array(a) => a.iter().find_map(|x| find_needle(x, depth + 1, budget)),
        Value::Object(m) => m.values().find_map(|x| find_needle(x, depth + 1, budget)),
        _ => None,
    }
}

/// Matches one record as rendered by the `evtx` crate to JSON (`{"Event": {"System": …,
/// "EventData": …}}`). Returns the text holding `System.InvalidCastException` (at most 1 KiB)
/// when the record is a CVE-2021-26857 trace (see the module docs), else `None`.
pub fn match_um_event(record: &Value) -> Option<String> {
    let event = record.get("Event").unwrap_or(record);
    let system = event.get("System")?;
    if !provider_name(system)?.eq_ignore_ascii_case(PROVIDER) || level(system)? != 2 {
        return None;
    }
    let mut budget = MAX_NODES;
    let obj = event.as_object()?;
    obj.iter()
        .filter(|(k, _)| k.as_str() != "System")
        .find_map(|(_, v)| find_needle(v, 0, &mut budget))
        .map(|s| truncate(s, 1024))
}

/// Reads an `Application.evtx` from its bytes (at most [`MAX_EVTX_RECORDS`] records) and
/// reports CVE-2021-26857 traces, the record count and the oldest/newest event time. An
/// unreadable file or record becomes a diagnostic; a panic inside the EVTX parser is caught
/// and reported as a diagnostic too.
pub fn check_application_evtx(bytes: &[u8]) -> LogReport {
    super::eventlog::check_records(EventLogChecker::application(), bytes, MAX_EVTX_RECORDS)
}

/// The CVE-2021-26857 trace in one Application record, if it is one: what
/// [`EventLogChecker::application`] runs on each record.
pub(crate) fn check(record: &Value) -> Vec<Hit> {
    let Some(text) = match_um_event(record) else {
        return Vec::new();
    };
    let system = record.get("Event").and_then(|e| e.get("System"));
    let event_id = system.and_then(|s| s.get("EventID")).map(|v| {
        let v = v.get("#text").unwrap_or(v);
        v.as_u64()
            .map_or_else(|| v.as_str().unwrap_or("").to_string(), |n| n.to_string())
    });
    let key = format!(
        "{}\u{1}{}",
        event_id.as_deref().unwrap_or(""),
        text.lines().next().unwrap_or("")
    );
    vec![Hit {
        key,
        kind: FindingKind::ProxylogonUmDeserialization,
        severity: Severity::Medium,
        cve: vec!["CVE-2021-26857".into()],
        title: format!(
            "CVE-2021-26857: {PROVIDER} error with {NEEDLE} (event {})",
            event_id.as_deref().unwrap_or("?")
        ),
        quote: truncate(&record.to_string(), MAX_QUOTE),
        detail: Box::new(move |event| {
            Detail::ApplicationEvtx(ApplicationEvtxDetail {
                log: "Application.evtx".into(),
                time: event.time,
                provider: PROVIDER.into(),
                event_id,
                level: 2,
                message: text,
                group: None,
            })
        }),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(provider: &str, level: Value, data: Value) -> Value {
        json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": provider}},
                "EventID": {"#attributes": {"Qualifiers": 49152}, "#text": 1001},
                "Level": level,
                "EventRecordID": 42,
            },
            "EventData": data,
        }})
    }

    #[test]
    fn matcher() {
        let msg = json!({"Data": ["UM worker", "System.InvalidCastException: Unable to cast object of type 'X' to type 'Y'.\r\n   at ..."]});
        let hit = event("MSExchange Unified Messaging", json!(2), msg.clone());
        assert!(match_um_event(&hit)
            .unwrap()
            .starts_with("System.InvalidCastException"));
        assert!(match_um_event(&event(
            "MSExchange Unified Messaging",
            json!("2"),
            msg.clone()
        ))
        .is_some());
        assert!(match_um_event(&event(
            "MSExchange Unified Messaging",
            json!(3),
            msg.clone()
        ))
        .is_none());
        assert!(match_um_event(&event("MSExchange ADAccess", json!(2), msg.clone())).is_none());
        let other = json!({"Data": "System.NullReferenceException"});
        assert!(match_um_event(&event("MSExchange Unified Messaging", json!(2), other)).is_none());
        // Separate-attributes rendering and nested user data.
        let sep = json!({"Event": {"System": {"Provider": null, "Provider_attributes": {"Name": "MSExchange Unified Messaging"}, "Level": 2},
            "UserData": {"X": {"Y": [1, {"Z": "System.InvalidCastException"}]}}}});
        assert!(match_um_event(&sep).is_some());
        assert!(match_um_event(&json!(null)).is_none());
        assert!(match_um_event(&json!({"Event": {"System": 3}})).is_none());
    }

    #[test]
    fn not_evtx() {
        let r = check_application_evtx(b"ElfFile\0 garbage");
        assert_eq!(r.entries, 0);
        assert_eq!(r.diagnostics.len(), 1);
        let r = check_application_evtx(b"");
        assert_eq!(r.diagnostics.len(), 1);
    }
}
