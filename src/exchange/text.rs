//! Shared text-log plumbing: decoding, line iteration, `#Fields:` headers, CSV splitting,
//! timestamp normalisation, log coverage and capped diagnostics.

use std::borrow::Cow;

use deadbox_evidence::bytes::utf16le_lossy;

use super::{LogReport, MAX_DIAGNOSTICS, MAX_QUOTE};
use crate::ntfs::{Diagnostic, DiagnosticKind};

/// Longest line kept whole, in bytes of the file: a longer one is cut there and the rest of it
/// (to its line break) is read past without being kept. IIS and Exchange lines are a few KiB;
/// a "log" of one endless line (a sparse file of zeros costs nothing to plant) stays bounded.
pub(crate) const MAX_LINE: usize = 1 << 20;
/// Bytes read from a log at a time.
const CHUNK: usize = 64 << 10;

/// What reading a log line by line met: lines cut at [`MAX_LINE`], and the read error that
/// ended it early.
#[derive(Debug, Default)]
pub(crate) struct LineStats {
    pub(crate) lines: u64,
    pub(crate) cut: u64,
    pub(crate) error: Option<std::io::Error>,
}

impl LineStats {
    /// The diagnostics of what was met, into `diags`.
    pub(crate) fn report(&self, diags: &mut Diags) {
        if self.cut > 0 {
            diags.push(Diagnostic::new(
                DiagnosticKind::Limit,
                format!(
                    "{} line(s) longer than {MAX_LINE} bytes: checked up to there, the rest of each skipped",
                    self.cut
                ),
            ));
        }
        if let Some(e) = &self.error {
            diags.push(Diagnostic::new(
                DiagnosticKind::Corrupt,
                format!(
                    "read error after line {}: {e}; the rest not read",
                    self.lines
                ),
            ));
        }
    }
}

/// Calls `f` with every line of the text log read from `src` and its 1-based number, `\r`
/// stripped, until `f` returns `false`: UTF-16LE when the log starts with its BOM, else UTF-8
/// (lossy, BOM dropped), decoded line by line. Memory is one chunk and one line (at most
/// [`MAX_LINE`]) whatever the log's size: logs are streamed, never read whole. As with
/// `split('\n')`, the text after the last line break is a last (possibly empty) line.
pub(crate) fn for_each_line(
    src: &mut dyn std::io::Read,
    f: &mut dyn FnMut(u64, &str) -> bool,
) -> LineStats {
    let mut stats = LineStats::default();
    let mut chunk = vec![0u8; CHUNK];
    // The first bytes, until the BOM (or its absence) is known.
    let mut head: Vec<u8> = Vec::new();
    let mut split: Option<Splitter> = None;
    let mut emit = |line: &mut Vec<u8>, utf16: bool, stats: &mut LineStats| -> bool {
        stats.lines = stats.lines.saturating_add(1);
        let text: Cow<'_, str> = if utf16 {
            Cow::Owned(utf16le_lossy(line))
        } else {
            String::from_utf8_lossy(line)
        };
        let go = f(stats.lines, text.strip_suffix('\r').unwrap_or(&text));
        line.clear();
        go
    };
    loop {
        let n = match src.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                stats.error = Some(e);
                break;
            }
        };
        let mut data = &chunk[..n];
        let first;
        if split.is_none() {
            head.extend_from_slice(data);
            if head.len() < 3 {
                continue;
            }
            first = std::mem::take(&mut head);
            let (skip, utf16) = bom(&first);
            split = Some(Splitter::new(utf16));
            data = &first[skip..];
        }
        if let Some(sp) = split.as_mut() {
            if !sp.feed(data, &mut stats, &mut emit) {
                return stats;
            }
        }
    }
    let mut sp = match split {
        Some(sp) => sp,
        None => {
            // Fewer than three bytes in all.
            let (skip, utf16) = bom(&head);
            let mut sp = Splitter::new(utf16);
            if !sp.feed(&head[skip..], &mut stats, &mut emit) {
                return stats;
            }
            sp
        }
    };
    if let Some(b) = sp.carry.take() {
        // An odd last byte: lossy, as the whole-text decoder did.
        sp.keep(&[b], &mut stats);
    }
    emit(&mut sp.line, sp.utf16, &mut stats);
    stats
}

/// The length of a byte-order mark at the start of `head`, and whether it says UTF-16LE.
fn bom(head: &[u8]) -> (usize, bool) {
    if head.starts_with(&[0xFF, 0xFE]) {
        (2, true)
    } else if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (3, false)
    } else {
        (0, false)
    }
}

/// Cuts the bytes of a log into lines (see [`for_each_line`]).
struct Splitter {
    utf16: bool,
    /// UTF-16: a code unit split across two reads waits here.
    carry: Option<u8>,
    /// The current line, at most [`MAX_LINE`] bytes.
    line: Vec<u8>,
    /// The current line was cut: the rest of it, to its line break, is read past.
    skipping: bool,
}

type Emit<'a> = dyn FnMut(&mut Vec<u8>, bool, &mut LineStats) -> bool + 'a;

impl Splitter {
    fn new(utf16: bool) -> Self {
        Splitter {
            utf16,
            carry: None,
            line: Vec::new(),
            skipping: false,
        }
    }

    /// Adds `part` (no line break in it) to the current line, up to [`MAX_LINE`].
    fn keep(&mut self, part: &[u8], stats: &mut LineStats) {
        if self.skipping {
            return;
        }
        let room = MAX_LINE.saturating_sub(self.line.len());
        if part.len() > room {
            // Cut on a code-unit boundary.
            let room = if self.utf16 { room & !1 } else { room };
            self.line.extend_from_slice(&part[..room]);
            self.skipping = true;
            stats.cut = stats.cut.saturating_add(1);
        } else {
            self.line.extend_from_slice(part);
        }
    }

    /// Ends the current line with `part` and gives it to `emit`.
    fn end_line(&mut self, part: &[u8], stats: &mut LineStats, emit: &mut Emit<'_>) -> bool {
        self.keep(part, stats);
        self.skipping = false;
        emit(&mut self.line, self.utf16, stats)
    }

    /// Splits `data` into the current line and the lines it completes; `false` when `emit`
    /// asked to stop.
    fn feed(&mut self, mut data: &[u8], stats: &mut LineStats, emit: &mut Emit<'_>) -> bool {
        if !self.utf16 {
            let mut from = 0;
            while let Some(p) = memchr::memchr(b'\n', &data[from..]) {
                if !self.end_line(&data[from..from + p], stats, emit) {
                    return false;
                }
                from += p + 1;
            }
            self.keep(&data[from..], stats);
            return true;
        }
        if let Some(b) = self.carry.take() {
            let Some((&next, rest)) = data.split_first() else {
                self.carry = Some(b);
                return true;
            };
            data = rest;
            if [b, next] == [b'\n', 0] {
                if !self.end_line(&[], stats, emit) {
                    return false;
                }
            } else {
                self.keep(&[b, next], stats);
            }
        }
        let even = data.len() & !1;
        let (mut from, mut at) = (0, 0);
        // memchr finds the candidate bytes fast (logs of gigabytes, debug builds too); a line
        // break is a 0x0A at an even offset followed by a zero byte.
        while let Some(p) = memchr::memchr(b'\n', &data[at..even]) {
            let i = at + p;
            if i % 2 == 1 || data[i + 1] != 0 {
                at = i + 1;
                continue;
            }
            if !self.end_line(&data[from..i], stats, emit) {
                return false;
            }
            from = i + 2;
            at = from;
        }
        self.keep(&data[from..even], stats);
        if even < data.len() {
            self.carry = Some(data[even]);
        }
        true
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// A log line as quoted in a trace.
pub(crate) fn quote(line: &str) -> String {
    truncate(line, MAX_QUOTE)
}

/// Splits one CSV record: `,` separated, fields optionally in `"…"` with `""` as an escaped
/// quote. An unterminated quote runs to the end of the line.
pub(crate) fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut in_quotes = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                out.push(std::mem::take(&mut cur));
                at_field_start = true;
                continue;
            }
            '"' if at_field_start => in_quotes = true,
            _ => cur.push(c),
        }
        at_field_start = false;
    }
    out.push(cur);
    out
}

/// Column names of a `#Fields:` header line (lowercased), split on `,` (Exchange) or on
/// whitespace (IIS W3C). `None` when `line` is not a `#Fields:` line.
pub(crate) fn fields_header(line: &str) -> Option<Vec<String>> {
    let rest = strip_prefix_ci(line.trim_start(), "#Fields:")?;
    let names: Vec<String> = if rest.contains(',') {
        rest.split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect()
    } else {
        rest.split_whitespace()
            .map(|s| s.to_ascii_lowercase())
            .collect()
    };
    Some(names)
}

/// `s` without `prefix`, compared ASCII case-insensitively.
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Index of the column `name` (lowercase) in a header.
pub(crate) fn col(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name)
}

/// The value of column `idx` in a record, `None` when absent or empty.
pub(crate) fn get(rec: &[String], idx: Option<usize>) -> Option<&str> {
    let v = rec.get(idx?)?.as_str();
    if v.is_empty() {
        None
    } else {
        Some(v)
    }
}

/// Normalises `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z]` (leading/trailing spaces allowed) to RFC
/// 3339 UTC `YYYY-MM-DDTHH:MM:SS[.fraction]Z`. Exchange and IIS logs are written in UTC.
pub(crate) fn norm_time(s: &str) -> Option<String> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let ok = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        .iter()
        .all(|&i| digit(i))
        && at(4, b'-')
        && at(7, b'-')
        && (at(10, b'T') || at(10, b't') || at(10, b' '))
        && at(13, b':')
        && at(16, b':');
    if !ok {
        return None;
    }
    let month: u32 = s.get(5..7)?.parse().ok()?;
    let day: u32 = s.get(8..10)?.parse().ok()?;
    let hour: u32 = s.get(11..13)?.parse().ok()?;
    let min: u32 = s.get(14..16)?.parse().ok()?;
    let sec: u32 = s.get(17..19)?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut frac = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        frac = r.get(..n)?;
        rest = r.get(n..)?;
    }
    if !(rest.is_empty() || rest == "Z" || rest == "z" || rest == "+00:00") {
        return None;
    }
    let mut out = String::with_capacity(31);
    out.push_str(s.get(..10)?);
    out.push('T');
    out.push_str(s.get(11..19)?);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out.push('Z');
    Some(out)
}

/// Orders two normalised times (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`) without allocating:
/// fractions of different lengths compare as the numbers they are.
pub(crate) fn cmp_time(a: &str, b: &str) -> std::cmp::Ordering {
    let (ha, hb) = (a.get(..19).unwrap_or(a), b.get(..19).unwrap_or(b));
    ha.cmp(hb).then_with(|| {
        let fa = a
            .get(19..)
            .unwrap_or("")
            .trim_start_matches('.')
            .trim_end_matches('Z');
        let fb = b
            .get(19..)
            .unwrap_or("")
            .trim_start_matches('.')
            .trim_end_matches('Z');
        // Pad the shorter fraction with zeros, digit by digit.
        let (fa, fb) = (fa.as_bytes(), fb.as_bytes());
        (0..fa.len().max(fb.len()))
            .map(|i| (*fa.get(i).unwrap_or(&b'0'), *fb.get(i).unwrap_or(&b'0')))
            .map(|(x, y)| x.cmp(&y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    })
}

/// Oldest and newest entry time seen so far.
#[derive(Default)]
pub(crate) struct Coverage {
    oldest: Option<String>,
    newest: Option<String>,
}

impl Coverage {
    /// Records one (normalised) entry time.
    pub(crate) fn see(&mut self, t: &str) {
        if self
            .oldest
            .as_deref()
            .is_none_or(|o| cmp_time(t, o).is_lt())
        {
            self.oldest = Some(t.to_string());
        }
        if self
            .newest
            .as_deref()
            .is_none_or(|n| cmp_time(t, n).is_gt())
        {
            self.newest = Some(t.to_string());
        }
    }

    /// Writes oldest/newest into the report.
    pub(crate) fn finish(self, report: &mut LogReport) {
        report.oldest = self.oldest;
        report.newest = self.newest;
    }
}

/// The diagnostic of a log line without an entry time.
pub(crate) fn no_time(line_no: u64) -> Diagnostic {
    Diagnostic::new(
        DiagnosticKind::Corrupt,
        format!("line {line_no}: no entry time"),
    )
    .at_line(line_no)
}

/// Diagnostics, capped at [`MAX_DIAGNOSTICS`].
#[derive(Default)]
pub(crate) struct Diags {
    list: Vec<Diagnostic>,
    dropped: u64,
}

impl Diags {
    /// Adds one diagnostic (or counts it as dropped past the cap); its text is cut to 512
    /// bytes.
    pub(crate) fn push(&mut self, mut d: Diagnostic) {
        if self.list.len() < MAX_DIAGNOSTICS.saturating_sub(1) {
            d.message = truncate(&d.message, 512);
            self.list.push(d);
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// Moves the diagnostics into the report, with a last line counting dropped ones.
    pub(crate) fn finish(mut self, report: &mut LogReport) {
        if self.dropped > 0 {
            self.list.push(Diagnostic::new(
                DiagnosticKind::Limit,
                format!("{} more diagnostics not shown", self.dropped),
            ));
        }
        report.diagnostics = self.list;
    }
}

/// Percent-decodes `%XX` sequences (and `+` as space when `plus` is set), lossy.
pub(crate) fn percent_decode(s: &str, plus: bool) -> String {
    if !(s.contains('%') || plus && s.contains('+')) {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if plus && c == b'+' { b' ' } else { c });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One data row of an Exchange CSV log (`#Fields:`-headed, comma separated).
pub(crate) struct Row<'a> {
    /// 1-based line number.
    pub(crate) line_no: u64,
    /// The raw line.
    pub(crate) line: &'a str,
    /// Lowercased column names of the header in force (empty when none was seen).
    pub(crate) header: &'a [String],
    /// The row's fields.
    pub(crate) rec: &'a [String],
    /// The row's normalised time (`DateTime`/`date-time` column, else the first field).
    pub(crate) time: Option<String>,
}

impl Row<'_> {
    /// Value of a column by lowercase name.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        get(self.rec, col(self.header, name))
    }
}

/// True when `hay` contains `needle` (lowercase ASCII), ignoring ASCII case.
pub(crate) fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    h.iter().enumerate().any(|(i, b)| {
        b.to_ascii_lowercase() == first
            && h.get(i..i + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
}

/// Walks the data rows of an Exchange CSV log, following every `#Fields:` header (a file may
/// hold several, with different column orders), counting entries and recording coverage.
/// Rows that do not contain `needle` (lowercase ASCII, compared ignoring case) cannot match
/// the caller's check: only their time is read, and `f` is not called for them.
pub(crate) fn for_each_csv_row(
    src: &mut dyn std::io::Read,
    needle: &str,
    report: &mut LogReport,
    cov: &mut Coverage,
    diags: &mut Diags,
    mut f: impl FnMut(&Row<'_>),
) {
    let mut header: Vec<String> = Vec::new();
    let mut time_col = None;
    let stats = for_each_line(src, &mut |line_no, line| {
        if line.starts_with('#') {
            if let Some(h) = fields_header(line) {
                header = h;
                time_col = col(&header, "datetime").or_else(|| col(&header, "date-time"));
            }
            return true;
        }
        if line.trim().is_empty() {
            return true;
        }
        report.entries = report.entries.saturating_add(1);
        let wanted = contains_ci(line, needle);
        let (rec, time) = if !wanted && time_col.unwrap_or(0) == 0 {
            // Fast path: the time is the first field; nothing else is needed.
            let first = line.split(',').next().unwrap_or("").trim_matches('"');
            (Vec::new(), norm_time(first))
        } else {
            let rec = split_csv(line);
            let time = get(&rec, time_col)
                .or_else(|| rec.first().map(String::as_str))
                .and_then(norm_time);
            (rec, time)
        };
        match &time {
            Some(t) => cov.see(t),
            None => diags.push(no_time(line_no)),
        }
        if wanted {
            f(&Row {
                line_no,
                line,
                header: &header,
                rec: &rec,
                time,
            });
        }
        true
    });
    stats.report(diags);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_commas() {
        assert_eq!(
            split_csv(r#"a,"b,c","say ""hi""",,"unterminated,x"#),
            vec!["a", "b,c", r#"say "hi""#, "", "unterminated,x"]
        );
        assert_eq!(split_csv(""), vec![""]);
        // A quote inside an unquoted field is kept literally.
        assert_eq!(split_csv(r#"ab"c,d"#), vec![r#"ab"c"#, "d"]);
    }

    #[test]
    fn headers() {
        assert_eq!(
            fields_header("#Fields: DateTime,RequestId, UrlStem").unwrap(),
            vec!["datetime", "requestid", "urlstem"]
        );
        assert_eq!(
            fields_header("#Fields: date time c-ip").unwrap(),
            vec!["date", "time", "c-ip"]
        );
        assert!(fields_header("#Software: x").is_none());
        assert!(fields_header("#F").is_none());
    }

    #[test]
    fn times() {
        assert_eq!(
            norm_time("2021-03-03T05:03:58.123Z").as_deref(),
            Some("2021-03-03T05:03:58.123Z")
        );
        assert_eq!(
            norm_time("2019-09-03 10:13:36").as_deref(),
            Some("2019-09-03T10:13:36Z")
        );
        assert_eq!(norm_time("2021-13-03T05:03:58Z"), None);
        assert_eq!(norm_time("2021-03-03T05:03:58.Z"), None);
        assert_eq!(norm_time("2021-03-03T05:03:58+02:00"), None);
        assert_eq!(norm_time("garbage"), None);
        assert_eq!(norm_time("2021-03-03T05:03:5é"), None);
        let mut c = Coverage::default();
        for t in [
            "2021-03-03T05:03:58Z",
            "2021-03-03T05:03:58.5Z",
            "2021-03-03T05:03:57.999Z",
        ] {
            c.see(t);
        }
        let mut r = LogReport::default();
        c.finish(&mut r);
        assert_eq!(r.oldest.as_deref(), Some("2021-03-03T05:03:57.999Z"));
        assert_eq!(r.newest.as_deref(), Some("2021-03-03T05:03:58.5Z"));
    }

    #[test]
    fn csv_walk_fast_path_keeps_coverage() {
        let log = "#Fields: DateTime,Msg\n2021-03-03T01:00:00Z,x\n\"2021-03-03T00:00:00Z\",y\n\
            #Fields: Msg,DateTime\nhello,2021-03-04T00:00:00Z\nNEEDLE,2021-03-02T00:00:00Z\nno time\n";
        let (mut r, mut c, mut d) = (LogReport::default(), Coverage::default(), Diags::default());
        let mut seen = Vec::new();
        for_each_csv_row(
            &mut log.as_bytes(),
            "needle",
            &mut r,
            &mut c,
            &mut d,
            |row| {
                seen.push((
                    row.line_no,
                    row.get("msg").map(str::to_string),
                    row.time.clone(),
                ));
            },
        );
        c.finish(&mut r);
        d.finish(&mut r);
        assert_eq!(r.entries, 5);
        assert_eq!(
            seen,
            vec![(
                6,
                Some("NEEDLE".into()),
                Some("2021-03-02T00:00:00Z".into())
            )]
        );
        assert_eq!(r.oldest.as_deref(), Some("2021-03-02T00:00:00Z"));
        assert_eq!(r.newest.as_deref(), Some("2021-03-04T00:00:00Z"));
        assert_eq!(r.diagnostics, ["line 7: no entry time"]);
        assert!(contains_ci("xxServerInfo~a", "serverinfo~"));
        assert!(!contains_ci("serverinf", "serverinfo~"));
        assert!(contains_ci("é", ""));
    }

    /// All lines of `bytes` read through `for_each_line`, `step` bytes per read.
    fn read_lines(bytes: &[u8], step: usize) -> (Vec<(u64, String)>, LineStats) {
        struct Dribble<'a>(&'a [u8], usize);
        impl std::io::Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let stats = for_each_line(&mut Dribble(bytes, step), &mut |n, l| {
            out.push((n, l.to_string()));
            true
        });
        (out, stats)
    }

    fn owned(v: &[(u64, &str)]) -> Vec<(u64, String)> {
        v.iter().map(|(n, s)| (*n, s.to_string())).collect()
    }

    #[test]
    fn lines_are_decoded_as_they_are_read() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a\r\nbé\n".encode_utf16().flat_map(u16::to_le_bytes))
            .chain([1])
            .collect();
        // Every read size, down to one byte: BOMs and UTF-16 code units split across reads.
        for step in [1, 2, 3, 5, 64 << 10] {
            assert_eq!(
                read_lines(b"a\r\nb\n", step).0,
                owned(&[(1, "a"), (2, "b"), (3, "")])
            );
            assert_eq!(read_lines(b"\xEF\xBB\xBFab", step).0, owned(&[(1, "ab")]));
            assert_eq!(
                read_lines(&utf16, step).0,
                owned(&[(1, "a"), (2, "bé"), (3, "")])
            );
            assert_eq!(read_lines(b"", step).0, owned(&[(1, "")]));
            assert_eq!(read_lines(&[0xFF, 0xFE], step).0, owned(&[(1, "")]));
            assert_eq!(read_lines(b"x\xFFy", step).0, owned(&[(1, "x\u{FFFD}y")]));
        }
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(percent_decode("%3Cscript%3e+x%zz%", true), "<script> x%zz%");
    }

    #[test]
    fn an_endless_line_is_cut_and_read_past_in_bounded_memory() {
        // 3 MiB of one line (a sparse "log" of zeros), then a real line.
        let mut log = vec![b'z'; 3 << 20];
        log.extend_from_slice(b"\nlast");
        for step in [4096, 64 << 10, 1 << 20] {
            let (lines, stats) = read_lines(&log, step);
            assert_eq!(lines.len(), 2);
            assert_eq!(lines[0].1.len(), MAX_LINE);
            assert_eq!(lines[1], (2, "last".to_string()));
            assert_eq!(stats.cut, 1);
            let mut diags = Diags::default();
            stats.report(&mut diags);
            assert_eq!(diags.list.len(), 1);
            assert!(diags.list[0].message.contains("longer than"));
        }
        // UTF-16: cut on a code-unit boundary.
        let mut log16 = vec![0xFF, 0xFE];
        log16.extend(std::iter::repeat_n([b'z', 0], (MAX_LINE / 2) + 7).flatten());
        let (lines, stats) = read_lines(&log16, 4099);
        assert_eq!(stats.cut, 1);
        assert_eq!(lines[0].1.len(), MAX_LINE / 2);
    }

    #[test]
    fn a_read_error_ends_the_log_with_a_diagnostic() {
        struct Broken(u8);
        impl std::io::Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("bad sector"));
                }
                self.0 -= 1;
                buf[..4].copy_from_slice(b"ab\nc");
                Ok(4)
            }
        }
        let mut seen = Vec::new();
        let stats = for_each_line(&mut Broken(2), &mut |n, l| {
            seen.push((n, l.to_string()));
            true
        });
        // The lines before the error count; the line it cut is still given.
        assert_eq!(seen, owned(&[(1, "ab"), (2, "cab"), (3, "c")]));
        let mut diags = Diags::default();
        stats.report(&mut diags);
        assert!(
            diags.list[0].message.contains("bad sector"),
            "{:?}",
            diags.list
        );
        // A caller stops the reading by returning false.
        let mut n = 0;
        for_each_line(&mut &b"a\nb\nc\n"[..], &mut |_, _| {
            n += 1;
            n < 2
        });
        assert_eq!(n, 2);
    }
}
