//! `--around` and `--window`: a time window centred on a finding, a path or a time.

use super::Range;
use crate::finding::{Finding, FindingKind, Severity};
use crate::ntfs::FileTime;
use crate::{Error, Image, Result};

/// What `--around` centres the window on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Center {
    /// A time (RFC 3339 UTC or `YYYY-MM-DD`).
    Time(FileTime),
    /// A volume path: the file's `$FILE_NAME` creation time (which user-mode tools cannot
    /// set back), else its `$STANDARD_INFORMATION` creation time.
    Path(String),
    /// `first`: the earliest time a finding of severity medium or above points to (any
    /// finding with a time when none is medium or above), log entries first, then `$FN`
    /// creation, then other times (see README "Timeline").
    FirstFinding,
    /// A finding kind (`web_shell`, `proxylogon_ssrf`, …) or `rule:NAME` (a YARA rule): the
    /// earliest time such a finding points to.
    Finding(String),
}

impl Center {
    /// Reads an `--around` value: `first`, a path (starts with `/`), a time, else a finding
    /// kind or `rule:NAME`.
    pub fn parse(s: &str) -> Center {
        if s == "first" {
            Center::FirstFinding
        } else if s.starts_with('/') {
            Center::Path(s.to_string())
        } else if let Ok(t) = super::parse_time(s, false) {
            Center::Time(t)
        } else {
            Center::Finding(s.to_string())
        }
    }

    /// The centre's time: paths are looked up in every volume of `image` (the first that
    /// has it), findings among `findings`.
    pub fn resolve(&self, image: &Image, findings: &[Finding]) -> Result<FileTime> {
        match self {
            Center::Time(t) => Ok(*t),
            Center::Path(p) => {
                for v in image.volumes() {
                    let Ok(f) = v.open_path(p) else { continue };
                    let t = f
                        .names
                        .first()
                        .map(|n| n.times[0])
                        .filter(|t| !t.is_zero())
                        .or_else(|| f.si.map(|s| s.times[0]).filter(|t| !t.is_zero()));
                    if let Some(t) = t {
                        return Ok(t);
                    }
                }
                Err(Error::NotFound(format!(
                    "--around {p}: no such path with a time on any volume"
                )))
            }
            _ => self.resolve_in(findings),
        }
    }

    /// The centre's time without an image: a time, or a finding among `findings` (a path
    /// cannot be looked up: an error).
    pub fn resolve_in(&self, findings: &[Finding]) -> Result<FileTime> {
        match self {
            Center::Time(t) => Ok(*t),
            Center::Path(p) => Err(Error::Invalid(format!(
                "--around {p}: a path needs a disk image"
            ))),
            Center::FirstFinding => {
                let timed = |min: Severity| {
                    earliest(
                        findings
                            .iter()
                            .filter(|f| f.severity >= min && f.kind != FindingKind::Diagnostic),
                    )
                };
                timed(Severity::Medium)
                    .or_else(|| timed(Severity::Info))
                    .ok_or_else(|| Error::NotFound("--around first: no finding with a time".into()))
            }
            Center::Finding(k) => {
                let want = |f: &&Finding| match k.strip_prefix("rule:") {
                    Some(r) => f.rule.as_ref().is_some_and(|x| x.name == r),
                    None => serde_json::to_value(f.kind).is_ok_and(|v| v == k.as_str()),
                };
                earliest(findings.iter().filter(want)).ok_or_else(|| {
                    Error::NotFound(format!("--around {k}: no such finding with a time"))
                })
            }
        }
    }
}

/// The earliest time any of `findings` points to, in tiers of trust, the first tier that
/// has a time winning:
/// 1. log entries (the server wrote them when the request came; an attacker can delete lines
///    but not easily make earlier ones);
/// 2. `$FN` creation of a file the finding is about (user-mode tools cannot set it back) —
///    not of a file that merely carries a finding's alternate data stream: a stream added to
///    `iisstart.htm` in 2021 keeps the file's creation of the install;
/// 3. any other time but `$SI` ones; 4. `$SI` times (a timestomped web shell's `$SI` creation
///    in 2019 must not move the window away from the intrusion while a firmer time exists).
pub(crate) fn earliest<'a>(findings: impl Iterator<Item = &'a Finding>) -> Option<FileTime> {
    let mut best: [Option<FileTime>; 4] = [None; 4];
    for f in findings {
        for (t, what) in super::sources::finding_times(f) {
            let tier = if what.contains("log entry") {
                0
            } else if what.contains("($FN)") && f.location.stream.is_none() {
                1
            } else if !what.contains("($SI)") {
                2
            } else {
                3
            };
            best[tier] = Some(best[tier].map_or(t, |b| b.min(t)));
        }
    }
    best.into_iter().flatten().next()
}

/// Parses a `--window` length: a number and a unit, `s`, `m`, `h` or `d` (`48h`, `2d`).
/// Returns 100 ns ticks.
pub fn parse_window(s: &str) -> Result<u64> {
    let bad = || {
        Error::Invalid(format!(
            "--window {s:?}: expected a number and s, m, h or d (48h)"
        ))
    };
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .and_then(|x| x.checked_mul(10_000_000))
        .filter(|&t| t > 0)
        .ok_or_else(bad)
}

/// The window of `width` ticks centred on `center` (half before, half after).
pub fn window(center: FileTime, width: u64) -> Range {
    let half = width / 2;
    Range {
        from: Some(FileTime(center.ticks().saturating_sub(half))),
        to: Some(FileTime(center.ticks().saturating_add(half))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_centres_parse() {
        assert_eq!(parse_window("48h").unwrap(), 48 * 3600 * 10_000_000);
        assert_eq!(parse_window("2d").unwrap(), parse_window("48h").unwrap());
        assert!(
            parse_window("0h").is_err()
                && parse_window("h").is_err()
                && parse_window("5y").is_err()
        );
        let c = super::super::parse_time("2021-03-03T00:00:00Z", false).unwrap();
        let r = window(c, parse_window("2h").unwrap());
        assert_eq!(r.from.unwrap().to_string(), "2021-03-02T23:00:00.0000000Z");
        assert_eq!(r.to.unwrap().to_string(), "2021-03-03T01:00:00.0000000Z");
        assert_eq!(Center::parse("first"), Center::FirstFinding);
        assert_eq!(
            Center::parse("/inetpub/x.aspx"),
            Center::Path("/inetpub/x.aspx".into())
        );
        assert_eq!(Center::parse("2021-03-03"), Center::Time(c));
        assert_eq!(
            Center::parse("web_shell"),
            Center::Finding("web_shell".into())
        );
    }
}
