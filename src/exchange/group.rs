//! Groups repeated suspicious entries into one [`Trace`] with count, first/last seen and the
//! first line numbers, and enforces [`MAX_TRACES`].

use std::collections::HashMap;

use super::text::{cmp_time, Diags};
use super::{LogReport, Trace, MAX_GROUP_LINES, MAX_TRACES};
use crate::finding::detail::GroupStats;
use crate::ntfs::{Diagnostic, DiagnosticKind};

struct Group {
    trace: Trace,
    count: u64,
    first_seen: Option<String>,
    last_seen: Option<String>,
    lines: Vec<u64>,
    records: Vec<u64>,
}

/// Collects traces, merging those with the same key.
#[derive(Default)]
pub(crate) struct Grouper {
    groups: Vec<Group>,
    index: HashMap<String, usize>,
    dropped: u64,
}

impl Grouper {
    /// Adds one matching entry. `make` builds the trace for the first entry of a group; later
    /// entries only update the count, times and line list, and raise the group's severity to
    /// the highest seen (`trace.severity` of the new entry is passed as `severity`).
    pub(crate) fn add(
        &mut self,
        key: String,
        severity: crate::finding::Severity,
        time: Option<&str>,
        make: impl FnOnce() -> Trace,
    ) {
        if let Some(&i) = self.index.get(&key) {
            if let Some(g) = self.groups.get_mut(i) {
                g.count = g.count.saturating_add(1);
                if severity > g.trace.severity {
                    g.trace.severity = severity;
                }
                if let Some(t) = time {
                    if g.first_seen
                        .as_deref()
                        .is_none_or(|f| cmp_time(t, f).is_lt())
                    {
                        g.first_seen = Some(t.to_string());
                    }
                    if g.last_seen
                        .as_deref()
                        .is_none_or(|l| cmp_time(t, l).is_gt())
                    {
                        g.last_seen = Some(t.to_string());
                    }
                }
            }
            return;
        }
        if self.groups.len() >= MAX_TRACES {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        let trace = make();
        let mut g = Group {
            lines: trace.line.into_iter().collect(),
            records: trace.record_id.into_iter().collect(),
            trace,
            count: 1,
            first_seen: time.map(str::to_string),
            last_seen: time.map(str::to_string),
        };
        g.trace.severity = g.trace.severity.max(severity);
        self.index.insert(key, self.groups.len());
        self.groups.push(g);
    }

    /// Records the line (or EVTX record) of an entry already merged by [`Grouper::add`].
    pub(crate) fn add_position(&mut self, key: &str, line: Option<u64>, record: Option<u64>) {
        let Some(g) = self.index.get(key).and_then(|&i| self.groups.get_mut(i)) else {
            return;
        };
        if let Some(l) = line {
            if g.lines.len() < MAX_GROUP_LINES && g.lines.last() != Some(&l) {
                g.lines.push(l);
            }
        }
        if let Some(r) = record {
            if g.records.len() < MAX_GROUP_LINES && g.records.last() != Some(&r) {
                g.records.push(r);
            }
        }
    }

    /// Convenience: [`Grouper::add`] then [`Grouper::add_position`].
    pub(crate) fn push(
        &mut self,
        key: String,
        line: Option<u64>,
        record: Option<u64>,
        severity: crate::finding::Severity,
        time: Option<&str>,
        make: impl FnOnce() -> Trace,
    ) {
        self.add(key.clone(), severity, time, make);
        self.add_position(&key, line, record);
    }

    /// Moves the traces into the report, adding group fields to each `detail`.
    pub(crate) fn finish(self, report: &mut LogReport, diags: &mut Diags) {
        if self.dropped > 0 {
            diags.push(Diagnostic::new(
                DiagnosticKind::Limit,
                format!(
                    "trace limit of {MAX_TRACES} reached: {} further matching entries in new groups not reported",
                    self.dropped
                ),
            ));
        }
        for g in self.groups {
            let mut t = g.trace;
            t.detail.set_group(GroupStats {
                count: g.count,
                first_seen: g.first_seen,
                last_seen: g.last_seen,
                lines: g.lines,
                record_ids: g.records,
            });
            report.traces.push(t);
        }
    }
}
