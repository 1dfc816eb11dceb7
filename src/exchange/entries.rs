//! Every entry of a log the assessment reads, with its own time: what `deadbox timeline
//! --all-log-entries` puts on the axis. The checks ([`super::check_log`]) keep only the
//! suspicious entries; this visits all of them, with the same parsing (the same `#Fields:`
//! headers, time columns and EVTX reader), and the same bounds ([`MAX_EVTX_RECORDS`]).

use super::text::{
    col, fields_header, for_each_csv_row, for_each_line, norm_time, Coverage, Diags,
};
use super::{LogKind, LogReport, MAX_EVTX_RECORDS};

/// One entry of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry<'a> {
    /// 1-based line, for text logs.
    pub line: Option<u64>,
    /// Record id, for EVTX logs.
    pub record_id: Option<u64>,
    /// The entry's time, RFC 3339 UTC.
    pub time: String,
    /// The entry as written (a text line), or the EVTX record's provider and event id.
    pub text: std::borrow::Cow<'a, str>,
}

/// Calls `f` with every entry of the log of `kind` in `bytes` that has a time, in file order,
/// until `f` returns `false`. Returns how many entries had no readable time (they are not
/// visited). Never fails: what cannot be parsed is skipped and counted.
pub fn for_each_entry(
    kind: &LogKind,
    bytes: &[u8],
    f: &mut dyn FnMut(LogEntry<'_>) -> bool,
) -> u64 {
    match kind {
        LogKind::ApplicationEvtx | LogKind::EventLog(_) => evtx(bytes, f),
        text => for_each_text_entry(text, &mut &bytes[..], f).unwrap_or(0),
    }
}

/// [`for_each_entry`] for a text log (`None` for an EVTX kind), read from `src` line by line
/// (see [`super::check_text_log`]): the log is never held whole.
pub fn for_each_text_entry(
    kind: &LogKind,
    src: &mut dyn std::io::Read,
    f: &mut dyn FnMut(LogEntry<'_>) -> bool,
) -> Option<u64> {
    Some(match kind {
        LogKind::HttpProxy { .. } | LogKind::EcpServer | LogKind::OabGenerator => csv(src, f),
        LogKind::Iis => iis(src, f),
        LogKind::ApplicationEvtx | LogKind::EventLog(_) => return None,
    })
}

fn csv(src: &mut dyn std::io::Read, f: &mut dyn FnMut(LogEntry<'_>) -> bool) -> u64 {
    let (mut report, mut cov, mut diags) =
        (LogReport::default(), Coverage::default(), Diags::default());
    let (mut untimed, mut go) = (0u64, true);
    // The empty needle makes every row "wanted": each is split and its time column read.
    for_each_csv_row(src, "", &mut report, &mut cov, &mut diags, |row| {
        if !go {
            return;
        }
        match &row.time {
            Some(t) => {
                go = f(LogEntry {
                    line: Some(row.line_no),
                    record_id: None,
                    time: t.clone(),
                    text: row.line.into(),
                })
            }
            None => untimed += 1,
        }
    });
    untimed
}

fn iis(src: &mut dyn std::io::Read, f: &mut dyn FnMut(LogEntry<'_>) -> bool) -> u64 {
    let (mut date, mut time) = (None, None);
    let mut untimed = 0u64;
    for_each_line(src, &mut |line_no, line| {
        if line.starts_with('#') {
            if let Some(h) = fields_header(line) {
                date = col(&h, "date");
                time = col(&h, "time");
            }
            return true;
        }
        if line.trim().is_empty() {
            return true;
        }
        let rec: Vec<&str> = line.split(' ').collect();
        let at = |c: Option<usize>| c.and_then(|i| rec.get(i).copied());
        let t = match (at(date), at(time)) {
            (Some(d), Some(t)) => norm_time(&format!("{d} {t}")),
            _ => None,
        };
        let Some(t) = t else {
            untimed += 1;
            return true;
        };
        let e = LogEntry {
            line: Some(line_no),
            record_id: None,
            time: t,
            text: line.into(),
        };
        f(e)
    });
    untimed
}

fn evtx(bytes: &[u8], f: &mut dyn FnMut(LogEntry<'_>) -> bool) -> u64 {
    let mut untimed = 0u64;
    // The crate is third-party code over untrusted bytes: a panic in it ends this log only
    // (read_records catches it).
    let r = super::eventlog::read_records(bytes, MAX_EVTX_RECORDS, &mut |rec| {
        evtx_entry(rec.as_ref().ok(), &mut untimed, f)
    });
    untimed + u64::from(r.as_ref().is_err_and(|e| e.contains("panicked")))
}

/// Gives `f` the entry of one EVTX record (`None`: one that could not be read), or counts it
/// in `untimed` when it has no time; returns what `f` returned (`true` to go on).
pub(crate) fn evtx_entry(
    rec: Option<&super::EvtxRecord>,
    untimed: &mut u64,
    f: &mut dyn FnMut(LogEntry<'_>) -> bool,
) -> bool {
    let Some(rec) = rec else {
        *untimed += 1;
        return true;
    };
    let sys = super::eventlog::System::of(&rec.data);
    let text = format!(
        "{} event {} ({})",
        sys.provider().unwrap_or_else(|| "?".into()),
        sys.field("EventID").unwrap_or_else(|| "?".into()),
        sys.field("Level")
            .map_or("no level".into(), |l| format!("level {l}"))
    );
    let time = super::eventlog::event_time(rec);
    if time.starts_with("1601") {
        *untimed += 1;
        return true;
    }
    f(LogEntry {
        line: None,
        record_id: Some(rec.record_id),
        time,
        text: text.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(kind: &LogKind, log: &str) -> (Vec<(Option<u64>, String)>, u64) {
        let mut v = Vec::new();
        let untimed = for_each_entry(kind, log.as_bytes(), &mut |e| {
            v.push((e.line, e.time));
            true
        });
        (v, untimed)
    }

    #[test]
    fn csv_and_iis_entries_carry_their_line_and_time() {
        let http = "#Fields: DateTime,RequestId,UrlStem\n\
                    2021-03-03T03:21:14.213Z,a,/ecp/x.js\n\
                    garbage\n\
                    2021-03-03T03:21:15Z,b,/owa/\n";
        let kind = LogKind::HttpProxy {
            protocol: "Ecp".into(),
        };
        let (v, untimed) = collect(&kind, http);
        assert_eq!(
            v,
            [
                (Some(2), "2021-03-03T03:21:14.213Z".to_string()),
                (Some(4), "2021-03-03T03:21:15Z".to_string())
            ]
        );
        assert_eq!(untimed, 1);
        let iis_log = "#Fields: date time cs-method cs-uri-stem\r\n\
                       2021-03-02 22:01:02 POST /ecp/y.js\r\n\
                       2021-03-02 bad GET /\r\n";
        let (v, untimed) = collect(&LogKind::Iis, iis_log);
        assert_eq!(v, [(Some(2), "2021-03-02T22:01:02Z".to_string())]);
        assert_eq!(untimed, 1);
    }

    #[test]
    fn a_false_return_stops_the_walk_and_junk_is_no_evtx() {
        let http = "#Fields: DateTime,X\n2021-03-03T03:21:14Z,a\n2021-03-03T03:21:15Z,b\n";
        let mut n = 0;
        for_each_entry(&LogKind::EcpServer, http.as_bytes(), &mut |_| {
            n += 1;
            false
        });
        assert_eq!(n, 1);
        let mut m = 0;
        for_each_entry(
            &LogKind::ApplicationEvtx,
            b"not an evtx file at all",
            &mut |_| {
                m += 1;
                true
            },
        );
        assert_eq!(m, 0);
    }
}
