//! The ProxyLogon compromise assessment, wired into the scan: where Exchange is installed,
//! one ranked `web_shell` finding per web script from all its signals, LSASS dumps, staged
//! archives, timestomping, and the log checks of [`crate::exchange`].
//!
//! The analysis itself is in [`crate::exchange`] (pure functions over bytes); this module
//! decides what to read on a volume and turns results into findings with provenance.

use super::{diagnostic, Job};
use crate::exchange::{self, LogKind, LogReport};
use crate::finding::detail::{
    DeletedWebScriptDetail, Detail, DirectoryRef, ExchangeInstallDetail, LogCoverageDetail,
    LogDiagnosticsDetail, LsassDumpDetail, MftReference, TimestompDetail, WebShellDetail,
};
use crate::finding::{FileFacts, Finding, FindingKind, Location, Severity, Source};
use crate::ntfs::{Listing, NtfsVolume};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// Largest log (or hive) read whole for the assessment.
const MAX_LOG_BYTES: u64 = 1 << 30;

/// What the assessment knows about a volume before its streams are scanned.
#[derive(Debug, Clone, Default)]
pub(crate) struct VolumeContext {
    /// Exchange install folders (volume paths, no trailing `/`).
    pub installs: Vec<String>,
    /// Whether a known-good baseline was given (so "not in baseline" means something).
    pub baseline: bool,
}

fn lower_components(p: &str) -> Vec<String> {
    p.split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .map(|c| c.to_lowercase())
        .collect()
}

fn under(path: &str, dir: &str) -> bool {
    let p = lower_components(path);
    let d = lower_components(dir);
    p.len() > d.len() && p[..d.len()] == d[..]
}

/// Where the assessment reads the Exchange install path from.
pub(crate) const SOFTWARE_HIVE: &str = "/Windows/System32/config/SOFTWARE";

/// Finds the Exchange install folders of a volume: `MsiInstallPath` in the SOFTWARE hive,
/// else the default folders that exist. Returns the folders and an `exchange_install` finding
/// (or none when there is no install).
pub(crate) fn discover(
    vol: &NtfsVolume,
    listing: &Listing,
    evidence: &str,
    max_in_memory: u64,
    budget: &super::budget::MemoryBudget,
) -> (Vec<String>, Vec<Finding>) {
    let mut out = Vec::new();
    let loc = |path: &str, record: Option<(u64, u16, bool)>| {
        Location::new(evidence, vol.partition(), Some(vol.offset()), path, record)
    };
    let mut installs: Vec<String> = Vec::new();
    let mut source = String::new();
    let hive = listing.items().filter(|i| {
        i.stream.is_some_and(|s| s.name.is_none()) && i.path().eq_ignore_ascii_case(SOFTWARE_HIVE)
    });
    // Live hive first, then deleted copies.
    let mut hives: Vec<_> = hive.collect();
    hives.sort_by_key(|i| i.file.deleted);
    if let Some((item, s)) = hives.first().and_then(|i| Some((i, i.stream?))) {
        let max = max_in_memory.min(MAX_LOG_BYTES);
        // Read whole into memory counted in the run's budget.
        let grant = budget.acquire(s.size.min(max));
        let mut buf = Vec::new();
        let paths = match &grant {
            Some(_) => vol
                .read_stream(s, &mut buf, max)
                .and_then(exchange::msi_install_paths),
            None => Err(crate::Error::Invalid(format!(
                "not read: its {} bytes did not fit the memory budget (--max-memory) of {} bytes shared by all workers",
                s.size,
                budget.limit()
            ))),
        };
        drop(grant);
        match paths {
            Ok(paths) => {
                add_installs(&mut installs, &paths);
                if !installs.is_empty() {
                    source = format!("MsiInstallPath in {}", item.path());
                }
            }
            Err(e) => out.push(diagnostic(
                loc(
                    item.path(),
                    Some((item.file.entry, item.file.sequence, item.file.deleted)),
                ),
                None,
                &format!("SOFTWARE hive unreadable: {e}"),
            )),
        }
    }
    if installs.is_empty() {
        for d in exchange::default_install_dirs() {
            let exists = listing
                .items()
                .any(|i| i.is_dir_row && !i.file.deleted && i.path().eq_ignore_ascii_case(d));
            if exists {
                installs.push(d.to_string());
            }
        }
        if !installs.is_empty() {
            source = "default install folder present".into();
        }
    }
    if !installs.is_empty() {
        out.push(install_finding(&installs, source, loc(&installs[0], None)));
    }
    (installs, out)
}

/// Adds the volume paths of the Windows paths `paths` (a hive's `MsiInstallPath`s) to
/// `installs`, once each (case-insensitively).
fn add_installs(installs: &mut Vec<String>, paths: &[String]) {
    for p in paths {
        let (_, vp) = exchange::windows_path_to_volume_path(p);
        if !vp.is_empty() && vp != "/" && !installs.iter().any(|x| x.eq_ignore_ascii_case(&vp)) {
            installs.push(vp);
        }
    }
}

/// The `exchange_install` finding: where the install is and what said so.
fn install_finding(installs: &[String], source: String, location: Location) -> Finding {
    Finding {
        kind: FindingKind::ExchangeInstall,
        severity: Severity::Info,
        title: format!(
            "Exchange install found at {} ({source})",
            installs.join(", ")
        ),
        location,
        file: None,
        cve: Vec::new(),
        rule: None,
        quote: None,
        detail: Detail::ExchangeInstall(ExchangeInstallDetail {
            installs: installs.to_vec(),
            source,
        }),
    }
}

/// A stable name of a log kind for `detail.log`: `httpproxy/<Protocol>`, `ecp_server`,
/// `oab_generator`, `iis`, `application_evtx`, and the other event logs' names
/// (`security_evtx`, …: [`exchange::EventLog::name`]).
fn log_name(kind: &LogKind) -> String {
    match kind {
        LogKind::HttpProxy { protocol } => format!("httpproxy/{protocol}"),
        LogKind::EcpServer => "ecp_server".into(),
        LogKind::OabGenerator => "oab_generator".into(),
        LogKind::Iis => "iis".into(),
        LogKind::ApplicationEvtx => "application_evtx".into(),
        LogKind::EventLog(l) => l.name().into(),
    }
}

/// Turns the plain findings of one NTFS stream (`out`: YARA, IOC) into the assessment's view:
/// one ranked `web_shell` finding for a web script, `lsass_dump`, `staged_archive`,
/// `timestomp`; and adds the timestomp reasons to every finding about the file.
pub(crate) fn assess_stream(
    ctx: &VolumeContext,
    job: &Job<'_>,
    data: Option<&[u8]>,
    out: &mut Vec<Finding>,
    location: &Location,
    facts: &FileFacts,
) {
    let (path, stream_name, times) = match job {
        Job::Ntfs {
            path,
            stream,
            file,
            name,
            ..
        } => (
            path.to_string(),
            stream.name.clone(),
            match (file.si, name) {
                (Some(si), Some(n)) => Some((si.times, n.times)),
                _ => None,
            },
        ),
        Job::Loose {
            vpath: Some((v, stream)),
            ..
        } => (v.clone(), stream.clone(), None),
        Job::Loose { path, .. } => (path.display().to_string(), None, None),
        Job::Mem { name, .. } => (name.to_string(), None, None),
    };
    // A stream with its volume path: on a volume, or collected from one (triage collection).
    let ntfs = matches!(job, Job::Ntfs { .. } | Job::Loose { vpath: Some(_), .. });
    let stomp = times
        .map(|(si, fnt)| exchange::timestomp_reasons(&si, &fnt))
        .unwrap_or_default();
    let leaf = match &stream_name {
        Some(s) => s.clone(),
        None => path.rsplit('/').next().unwrap_or("").to_string(),
    };
    let web = exchange::is_web_script(&path)
        || stream_name.as_deref().is_some_and(exchange::is_web_script);

    // LSASS dumps by content (wherever, however named), and by name.
    if let Some(d) = data {
        let lsass_content = exchange::is_lsass_dump(d);
        let minidump = exchange::is_minidump(d);
        let by_name = exchange::lsass_name(&path);
        if lsass_content || (by_name && ntfs) {
            let rules: Vec<String> = out
                .iter()
                .filter_map(|f| {
                    f.rule
                        .as_ref()
                        .map(|r| format!("{}:{}", r.namespace, r.name))
                })
                .collect();
            let modules = if minidump {
                exchange::minidump_modules(d).unwrap_or_default()
            } else {
                Vec::new()
            };
            let (severity, title) = if lsass_content {
                (
                    Severity::Critical,
                    "LSASS process dump (minidump with lsass.exe module): credential theft"
                        .to_string(),
                )
            } else if minidump {
                (
                    Severity::High,
                    "minidump named like an LSASS dump".to_string(),
                )
            } else {
                (
                    Severity::Medium,
                    "file named like an LSASS dump".to_string(),
                )
            };
            out.retain(|f| {
                f.kind != FindingKind::YaraMatch
                    || !f.rule.as_ref().is_some_and(|r| {
                        r.meta.get("category").and_then(Value::as_str) == Some("lsass_dump")
                    })
            });
            out.push(Finding {
                kind: FindingKind::LsassDump,
                severity,
                title,
                location: location.clone(),
                file: Some(facts.clone()),
                cve: Vec::new(),
                rule: None,
                quote: None,
                detail: Detail::LsassDump(LsassDumpDetail {
                    by_content: lsass_content,
                    by_name,
                    modules: modules.into_iter().take(32).collect(),
                    rules,
                    timestomp: None,
                }),
            });
        }
        // Archives staged in ProgramData, the web roots, Windows/Temp, PerfLogs, Exchange.
        if ntfs {
            out.extend(super::staged::staged_archive(
                &path,
                d,
                &ctx.installs,
                location,
                facts,
            ));
        }
    }

    if web && ntfs {
        let drop = exchange::drop_folder(&path, &ctx.installs);
        let campaign = exchange::campaign_name(&path)
            .or_else(|| stream_name.as_deref().and_then(exchange::campaign_name));
        let in_install = ctx.installs.iter().any(|i| under(&path, i));
        // Known-good streams never reach here; with a baseline, the rest under the install
        // folder are not product files.
        let not_product = ctx.baseline && in_install;
        let content: Vec<&Finding> = out
            .iter()
            .filter(|f| {
                matches!(f.kind, FindingKind::YaraMatch | FindingKind::IocHash)
                    && f.severity >= Severity::Medium
            })
            .collect();
        // A rule that matched only the normalised text of the script says so.
        let yara: Vec<String> = content
            .iter()
            .filter_map(|f| {
                f.rule.as_ref().map(|r| {
                    let normalised =
                        r.meta.get("form").and_then(Value::as_str) == Some("normalised");
                    format!(
                        "{}:{}{}",
                        r.namespace,
                        r.name,
                        if normalised { " (normalised text)" } else { "" }
                    )
                })
            })
            .collect();
        let ioc = content.iter().any(|f| f.kind == FindingKind::IocHash);
        let mut signals: Vec<String> = Vec::new();
        if !yara.is_empty() {
            signals.push(format!("YARA: {}", yara.join(", ")));
        }
        if ioc {
            signals.push("hash on IOC list".into());
        }
        if let Some(d) = drop {
            signals.push(format!("in web-shell drop folder {d}"));
        }
        if let Some(c) = campaign {
            signals.push(format!("campaign name ({c})"));
        }
        if not_product {
            signals.push("not in the known-good baseline".into());
        }
        if stream_name.is_some() {
            signals.push("hidden in an alternate data stream".into());
        }
        if !stomp.is_empty() {
            signals.push("timestomped".into());
        }
        // Who wrote it, in an Exchange or IIS folder: SYSTEM (the Exchange app pools and the
        // ProxyLogon file writes run as SYSTEM) or an IIS app-pool identity. Supporting only:
        // Exchange setup leaves its own pages owned by SYSTEM too.
        let web_folder = drop.is_some() || in_install || under(&path, "/inetpub");
        let writer = web_folder
            .then(|| writer_signal(facts.owner.as_deref()))
            .flatten();
        if let Some(w) = writer {
            signals.push(w.into());
        }
        let has_content = !content.is_empty();
        let aspnet =
            drop.is_some_and(|d| d.starts_with("aspnet_client") || d.starts_with("Temporary"));
        let location_signal = drop.is_some()
            || campaign.is_some()
            || not_product
            || stream_name.is_some()
            || writer.is_some();
        let severity = if has_content && location_signal {
            Some(Severity::Critical)
        } else if has_content
            || (drop.is_some() && campaign.is_some())
            || (aspnet && !stomp.is_empty())
            || (writer.is_some() && (aspnet || campaign.is_some() || not_product))
        {
            Some(Severity::High)
        } else if aspnet
            || campaign.is_some()
            || not_product
            || (drop.is_some() && !stomp.is_empty())
        {
            Some(Severity::Medium)
        } else if drop.is_some() {
            Some(Severity::Low)
        } else {
            None
        };
        if let Some(severity) = severity {
            let first_rule = out
                .iter()
                .find(|f| f.kind == FindingKind::YaraMatch && f.severity >= Severity::Medium)
                .and_then(|f| f.rule.clone());
            let ioc_detail = out
                .iter()
                .find(|f| f.kind == FindingKind::IocHash)
                .and_then(|f| match &f.detail {
                    Detail::IocHash(d) => Some(d.clone()),
                    _ => None,
                });
            if has_content {
                out.retain(|f| {
                    !(matches!(f.kind, FindingKind::YaraMatch | FindingKind::IocHash)
                        && f.severity >= Severity::Medium)
                });
            }
            out.push(Finding {
                kind: FindingKind::WebShell,
                severity,
                title: format!(
                    "web shell {}: {}",
                    if has_content {
                        "(content)"
                    } else {
                        "suspected"
                    },
                    signals.join("; ")
                ),
                location: location.clone(),
                file: Some(facts.clone()),
                cve: if drop.is_some() {
                    vec!["CVE-2021-26855".into(), "CVE-2021-27065".into()]
                } else {
                    Vec::new()
                },
                rule: first_rule,
                quote: None,
                detail: Detail::WebShell(WebShellDetail {
                    signals,
                    rules: yara,
                    ioc: ioc_detail,
                    drop_folder: drop.map(str::to_string),
                    campaign_name: campaign.map(str::to_string),
                    not_product,
                    alternate_stream: stream_name,
                    leaf,
                    timestomp: None,
                }),
            });
        }
        if drop.is_some() && !stomp.is_empty() {
            out.push(Finding {
                kind: FindingKind::Timestomp,
                severity: Severity::Medium,
                title: format!(
                    "timestomped web script in drop folder: {}",
                    stomp.join("; ")
                ),
                location: location.clone(),
                file: Some(facts.clone()),
                cve: Vec::new(),
                rule: None,
                quote: None,
                detail: Detail::Timestomp(TimestompDetail {
                    reasons: stomp.clone(),
                    timestomp: None,
                }),
            });
        }
    }
    if !stomp.is_empty() {
        for f in out.iter_mut().filter(|f| f.kind != FindingKind::Diagnostic) {
            f.detail.add_timestomp(stomp.clone());
        }
    }
}

/// The web-shell signal of a script's owner SID: written by SYSTEM or by an IIS app-pool
/// identity (`S-1-5-82-…`); `None` for any other owner or none.
fn writer_signal(owner: Option<&str>) -> Option<&'static str> {
    match owner? {
        "S-1-5-18" => Some("written by SYSTEM"),
        o if o.starts_with("S-1-5-82-") => Some("written by an IIS app pool identity"),
        _ => None,
    }
}

/// Web-script names that only the `$I30` slack of a drop folder still holds: a file deleted
/// there whose MFT record is gone or reused (a deleted record still in the MFT is assessed as a
/// file, with its content). Only drop folders are read: their indexes are small, and a name
/// alone is evidence only where shells are dropped.
pub(crate) fn slack_web_scripts(
    vol: &NtfsVolume,
    listing: &Listing,
    tree: &crate::ntfs::Tree,
    ctx: &VolumeContext,
    evidence: &str,
) -> Vec<Finding> {
    let dirs: Vec<crate::ntfs::Item<'_>> = listing
        .items()
        .filter(|i| {
            i.is_dir_row
                && exchange::drop_folder(&format!("{}/x.aspx", i.path()), &ctx.installs).is_some()
        })
        .collect();
    if dirs.is_empty() {
        return Vec::new();
    }
    // Names the MFT still has in those folders (live or deleted records), lowercased.
    let wanted: std::collections::HashSet<u64> = dirs.iter().map(|d| d.file.entry).collect();
    let known: std::collections::HashSet<(u64, String)> = tree
        .names_in(&wanted)
        .into_iter()
        .map(|(parent, name)| (parent, name.to_lowercase()))
        .collect();
    let per_dir: Vec<Vec<Finding>> = dirs
        .par_iter()
        .map(|d| {
            let ix = vol.dir_index(d.file);
            let mut out = Vec::new();
            for e in &ix.slack {
                let name = &e.name.name;
                if e.is_dir()
                    || !exchange::is_web_script(name)
                    || known.contains(&(d.file.entry, name.to_lowercase()))
                {
                    continue;
                }
                let path = format!("{}/{name}", d.path().trim_end_matches('/'));
                let drop = exchange::drop_folder(&path, &ctx.installs);
                let campaign = exchange::campaign_name(&path);
                let fn_times = crate::rows::times(&e.name.times);
                let mut location =
                    Location::new(evidence, vol.partition(), Some(vol.offset()), &path, None);
                location.deleted = true;
                out.push(Finding {
                    kind: FindingKind::DeletedWebScript,
                    severity: if campaign.is_some() {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    title: format!(
                        "deleted web script {name} in drop folder {}: only the directory index still names it (created {}){}",
                        drop.unwrap_or("?"),
                        fn_times.created,
                        campaign
                            .map(|c| format!("; campaign name: {c}"))
                            .unwrap_or_default()
                    ),
                    location,
                    file: None,
                    cve: vec!["CVE-2021-26855".into(), "CVE-2021-27065".into()],
                    rule: None,
                    quote: None,
                    detail: Detail::DeletedWebScript(DeletedWebScriptDetail {
                        source: Source::I30Slack,
                        directory: DirectoryRef {
                            path: d.path().to_string(),
                            mft_entry: d.file.entry,
                            mft_sequence: d.file.sequence,
                        },
                        indexed_reference: MftReference {
                            mft_entry: e.entry,
                            mft_sequence: e.sequence,
                        },
                        key_offset: e.offset,
                        size: e.name.size,
                        fn_: fn_times,
                        drop_folder: drop.map(str::to_string),
                        campaign_name: campaign.map(str::to_string),
                    }),
                });
            }
            for err in ix.errors {
                out.push(diagnostic(
                    Location::new(
                        evidence,
                        vol.partition(),
                        Some(vol.offset()),
                        d.path(),
                        Some((d.file.entry, d.file.sequence, d.file.deleted)),
                    ),
                    None,
                    &format!("$I30 index: {err}"),
                ));
            }
            out
        })
        .collect();
    per_dir.into_iter().flatten().collect()
}

/// Findings of one log, and its report (path, kind, report) when it could be read.
type LogResult = (Vec<Finding>, Option<(String, LogKind, LogReport)>);
/// Coverage of one log folder: (kind, oldest, newest, entries, files).
type Coverage = (String, Option<String>, Option<String>, u64, u64);

/// The checks of one log (its bytes, or why they could not be read): traces as findings
/// pointing at the log and line, and a diagnostic for the problems met reading it.
pub(crate) fn check_one_log(
    kind: &LogKind,
    path: &str,
    bytes: crate::Result<&[u8]>,
    location: Location,
    facts: FileFacts,
    iso: Option<&super::EvtxIsolation>,
) -> LogResult {
    let report = bytes.map(|bytes| match iso {
        Some(iso) if kind.is_evtx() => super::isolate::check(kind, bytes, iso),
        _ => exchange::check_log(kind, bytes),
    });
    log_result(kind, path, report, location, facts)
}

/// The check of a text log (`kind` not EVTX) streamed from `src` line by line: whatever its
/// size, nothing of it is held but one chunk and one line (see [`exchange::check_text_log`]).
fn check_text_log(
    kind: &LogKind,
    path: &str,
    src: crate::Result<&mut dyn std::io::Read>,
    location: Location,
    facts: FileFacts,
) -> LogResult {
    let report = src.map(|src| exchange::check_text_log(kind, src).unwrap_or_default());
    log_result(kind, path, report, location, facts)
}

/// The findings of one checked log (its traces and a diagnostic summing up its problems),
/// and its report for the coverage findings.
fn log_result(
    kind: &LogKind,
    path: &str,
    report: crate::Result<exchange::LogReport>,
    location: Location,
    facts: FileFacts,
) -> LogResult {
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            return (
                vec![diagnostic(
                    location,
                    Some(facts),
                    &format!("log unreadable: {e}"),
                )],
                None,
            )
        }
    };
    let mut out: Vec<Finding> = report
        .traces
        .iter()
        .cloned()
        .map(|t| {
            let mut f = t.into_finding(location.clone(), Some(facts.clone()));
            f.detail.set_log(log_name(kind));
            f
        })
        .collect();
    if !report.diagnostics.is_empty() {
        let mut d = diagnostic(
            location.clone(),
            Some(facts.clone()),
            &format!(
                "{} problem(s) reading this log: {}",
                report.diagnostics.len(),
                report.diagnostics[0]
            ),
        );
        d.detail = Detail::LogDiagnostics(LogDiagnosticsDetail {
            diagnostics: report.diagnostics.clone(),
        });
        out.push(d);
    }
    (out, Some((path.to_string(), kind.clone(), report)))
}

/// The findings of checked logs, then one `log_coverage` finding per log folder (per file for
/// the event logs; located by `location(folder)`).
pub(crate) fn coverage(
    results: Vec<LogResult>,
    location: &dyn Fn(&str) -> Location,
) -> Vec<Finding> {
    let mut out = Vec::new();
    // folder -> (kind, oldest, newest, entries, files, deleted files)
    let mut cover: BTreeMap<String, Coverage> = BTreeMap::new();
    for (f, rep) in results {
        out.extend(f);
        if let Some((path, kind, r)) = rep {
            // Text logs roll over into many files of one folder: one coverage per folder. The
            // event logs of all kinds share one folder, one file each: one coverage per file.
            let folder = if kind.is_evtx() {
                path.clone()
            } else {
                path.rsplit_once('/')
                    .map(|(d, _)| d.to_string())
                    .unwrap_or_default()
            };
            let e = cover
                .entry(folder)
                .or_insert_with(|| (log_name(&kind), None, None, 0, 0));
            if let Some(o) = r.oldest {
                if e.1.as_ref().is_none_or(|x| o < *x) {
                    e.1 = Some(o);
                }
            }
            if let Some(n) = r.newest {
                if e.2.as_ref().is_none_or(|x| n > *x) {
                    e.2 = Some(n);
                }
            }
            e.3 += r.entries;
            e.4 += 1;
        }
    }
    for (folder, (kind, oldest, newest, entries, files)) in cover {
        out.push(Finding {
            kind: FindingKind::LogCoverage,
            severity: Severity::Info,
            title: format!(
                "{folder}: {files} log file(s), {entries} entries, from {} to {}",
                oldest.as_deref().unwrap_or("?"),
                newest.as_deref().unwrap_or("?")
            ),
            location: location(&folder),
            file: None,
            cve: Vec::new(),
            rule: None,
            quote: None,
            detail: Detail::LogCoverage(LogCoverageDetail {
                log: kind,
                oldest,
                newest,
                entries,
                files,
            }),
        });
    }
    out
}

/// Runs the log checks on every log of the volume (deleted logs included): traces as findings
/// pointing at the log and line, per-log diagnostics, and one `log_coverage` finding per folder.
pub(crate) fn check_logs(
    vol: &NtfsVolume,
    listing: &Listing,
    ctx: &VolumeContext,
    evidence: &str,
    max_in_memory: u64,
    budget: &super::budget::MemoryBudget,
    iso: Option<&super::EvtxIsolation>,
) -> Vec<Finding> {
    let logs: Vec<_> = listing
        .items()
        .filter_map(|i| {
            let s = i.stream?;
            if s.name.is_some() || i.is_dir_row {
                return None;
            }
            exchange::classify_log(i.path(), &ctx.installs).map(|k| (i, s, k))
        })
        .collect();
    let results: Vec<LogResult> = logs
        .par_iter()
        .map(|(item, s, kind)| {
            let (location, facts) = item_provenance(evidence, vol, item, s);
            if !kind.is_evtx() {
                let mut src = vol.stream_reader(s);
                return check_text_log(kind, item.path(), Ok(&mut src), location, facts);
            }
            let mut buf = Vec::new();
            let max = max_in_memory.min(MAX_LOG_BYTES);
            // Logs are read in parallel: one assembled in memory is counted in the scan's
            // shared budget (a contiguous one is read from the mapped image, no copy).
            let assembled = vol.contiguous_slice(s).is_none() && s.size <= max;
            let grant = assembled.then(|| budget.acquire(s.size));
            let bytes = match grant {
                Some(None) => Err(crate::Error::Limit(format!(
                    "not read: its {} bytes did not fit the memory budget (--max-memory) of {} bytes shared by all workers",
                    s.size,
                    budget.limit()
                ))),
                _ => vol.read_stream(s, &mut buf, max),
            };
            let found = check_one_log(kind, item.path(), bytes, location, facts, iso);
            drop(buf);
            drop(grant);
            found
        })
        .collect();
    coverage(results, &|folder: &str| {
        Location::new(evidence, vol.partition(), Some(vol.offset()), folder, None)
    })
}

/// The Exchange install of a triage collection rooted at `root` (volume paths are paths under
/// it): from a collected `SOFTWARE` hive, else the default install folders that are present;
/// with the `exchange_install` finding. Findings name `evidence` (the collection folder).
pub(crate) fn discover_collection(
    root: &std::path::Path,
    evidence: &str,
    exchange: bool,
) -> (VolumeContext, Vec<Finding>) {
    let mut ctx = VolumeContext::default();
    let mut out = Vec::new();
    if !exchange {
        return (ctx, out);
    }
    let host = |vp: &str| root.join(vp.trim_start_matches('/'));
    let loc = |vp: &str| Location::new(evidence, None, None, vp, None);
    let mut source = String::new();
    let hive = host(SOFTWARE_HIVE);
    if hive.is_file() {
        let bytes = read_bounded(&hive);
        match bytes.and_then(|b| exchange::msi_install_paths(&b)) {
            Ok(paths) => {
                add_installs(&mut ctx.installs, &paths);
                if !ctx.installs.is_empty() {
                    source = format!("MsiInstallPath in {SOFTWARE_HIVE}");
                }
            }
            Err(e) => out.push(diagnostic(
                Location::new(&hive.display().to_string(), None, None, SOFTWARE_HIVE, None),
                None,
                &format!("SOFTWARE hive unreadable: {e}"),
            )),
        }
    }
    if ctx.installs.is_empty() {
        for d in exchange::default_install_dirs() {
            if host(d).is_dir() {
                ctx.installs.push(d.to_string());
            }
        }
        if !ctx.installs.is_empty() {
            source = "default install folder present".into();
        }
    }
    if !ctx.installs.is_empty() {
        out.push(install_finding(
            &ctx.installs,
            source,
            loc(&ctx.installs[0]),
        ));
    }
    (ctx, out)
}

/// A collected file's bytes, at most [`MAX_LOG_BYTES`] (a larger file is an error, not read;
/// anything but a regular file is refused: see [`crate::evidence::open_loose`]).
fn read_bounded(path: &std::path::Path) -> crate::Result<Vec<u8>> {
    read_bounded_in(path, None).map(|(b, _)| b)
}

/// [`read_bounded`], counted in `budget` when given (the grant is held as long as the bytes
/// are): the file is read to the length it has when opened (a file still being written is
/// read as it was then), into a buffer of exactly that size.
fn read_bounded_in<'b>(
    path: &std::path::Path,
    budget: Option<&'b super::budget::MemoryBudget>,
) -> crate::Result<(Vec<u8>, Option<super::budget::Grant<'b>>)> {
    use std::io::Read;
    let f = crate::evidence::open_loose(path)?;
    let len = f.metadata().map_err(|e| crate::Error::io(path, e))?.len();
    if len > MAX_LOG_BYTES {
        return Err(crate::Error::Limit(format!(
            "{}: more than {MAX_LOG_BYTES} bytes",
            path.display()
        )));
    }
    let grant = match budget {
        Some(b) => Some(b.acquire(len).ok_or_else(|| {
            crate::Error::Limit(format!(
                "{}: not read: its {len} bytes did not fit the memory budget (--max-memory) of {} bytes shared by all workers",
                path.display(),
                b.limit()
            ))
        })?),
        None => None,
    };
    let mut b = Vec::new();
    b.try_reserve_exact(len as usize)
        .map_err(|e| crate::Error::Limit(format!("{}: {e}", path.display())))?;
    f.take(len)
        .read_to_end(&mut b)
        .map_err(|e| crate::Error::io(path, e))?;
    Ok((b, grant))
}

/// The log checks on the logs of a triage collection: `(host file, volume path, kind)`, read
/// from the host in parallel; findings name the file as evidence and its volume path; then one
/// `log_coverage` finding per log folder (evidence: the collection, `evidence`).
pub(crate) fn check_collected_logs(
    logs: &[(std::path::PathBuf, String, LogKind)],
    evidence: &str,
    budget: &super::budget::MemoryBudget,
    iso: Option<&super::EvtxIsolation>,
) -> Vec<Finding> {
    let results: Vec<LogResult> = logs
        .par_iter()
        .map(|(host, vp, kind)| {
            let size = std::fs::metadata(host).map(|m| m.len()).unwrap_or(0);
            let location = Location::new(&host.display().to_string(), None, None, vp, None);
            let facts = FileFacts {
                size,
                ..FileFacts::default()
            };
            if !kind.is_evtx() {
                // Streamed: a collected log is read line by line, never whole.
                return match crate::evidence::open_loose(host) {
                    Ok(mut f) => check_text_log(kind, vp, Ok(&mut f), location, facts),
                    Err(e) => check_text_log(kind, vp, Err(e), location, facts),
                };
            }
            match read_bounded_in(host, Some(budget)) {
                Ok((b, _grant)) => check_one_log(kind, vp, Ok(&b), location, facts, iso),
                Err(e) => check_one_log(kind, vp, Err(e), location, facts, iso),
            }
        })
        .collect();
    coverage(results, &|folder: &str| {
        Location::new(evidence, None, None, folder, None)
    })
}

/// Where a stream of a volume item is (location) and what the file is (size, times, owner),
/// as a finding about it reports them.
pub(super) fn item_provenance(
    evidence: &str,
    vol: &NtfsVolume,
    item: &crate::ntfs::Item<'_>,
    s: &crate::ntfs::Stream,
) -> (Location, FileFacts) {
    let location = Location::new(
        evidence,
        vol.partition(),
        Some(vol.offset()),
        item.path(),
        Some((item.file.entry, item.file.sequence, item.file.deleted)),
    );
    let facts = FileFacts {
        size: s.size,
        si: item.file.si.map(|x| crate::rows::times(&x.times)),
        fn_: item.name.map(|n| crate::rows::times(&n.times)),
        ..FileFacts::default()
    }
    .with_owner(vol.file_owner(item.file));
    (location, facts)
}
