//! Archives staged where attackers put them: zip, 7z and RAR (by their magic bytes) under
//! `ProgramData`, the web roots (`inetpub`), `Windows/Temp`, `PerfLogs` or an Exchange install
//! folder. HAFNIUM zipped LSASS and mailbox dumps under the web root to download them; an
//! archive holding a dump, a mailbox export, `ntds.dit` or a web script is a `staged_archive`
//! finding wherever among these it lies.

use crate::exchange;
use crate::finding::detail::{Detail, StagedArchiveDetail};
use crate::finding::{FileFacts, Finding, FindingKind, Location, Severity};

/// Member names kept in the finding's detail.
pub const MAX_DETAIL_MEMBERS: usize = 200;

fn components(p: &str) -> Vec<String> {
    p.split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Where an archive lies, if it is a staging place: its name for titles, and whether the
/// place alone (no telling member) is worth medium.
fn place(path: &str, installs: &[String]) -> Option<(&'static str, bool)> {
    let c = components(path);
    let first = c.first().map(String::as_str);
    match first {
        // ProgramData's root is where the campaign staged; vendors keep archives deeper.
        Some("programdata") => Some(("ProgramData", c.len() == 2)),
        // Served by IIS: anyone can download it.
        Some("inetpub") => Some(("inetpub", c.get(1).is_some_and(|s| s == "wwwroot"))),
        Some("perflogs") => Some(("PerfLogs", false)),
        Some("windows") if c.get(1).is_some_and(|s| s == "temp") => Some(("Windows/Temp", false)),
        _ => installs
            .iter()
            .any(|i| {
                let d = components(i);
                c.len() > d.len() && c[..d.len()] == d[..]
            })
            .then_some(("the Exchange folder", false)),
    }
}

/// What a member name tells: a dump or mailbox export (`"dump"`), a web script (`"web"`).
fn member_kind(name: &str) -> Option<&'static str> {
    let n = name.to_lowercase();
    if n.contains("lsass")
        || n.ends_with(".dmp")
        || n.ends_with(".mdmp")
        || n.ends_with(".pst")
        || n.ends_with(".ost")
        || n.ends_with(".ntds")
        || n.contains("ntds.dit")
    {
        Some("dump")
    } else if exchange::is_web_script(&n) {
        Some("web")
    } else {
        None
    }
}

/// The `staged_archive` finding for an archive (`data`: its bytes) at volume path `path`, or
/// `None` when it is no archive or lies in no staging place. Severity: high for a dump or
/// mailbox export inside; medium for a web script inside, or for any archive at the root of
/// `ProgramData` or under `inetpub/wwwroot`; low otherwise (vendors keep archives in
/// `ProgramData`, setup in the Exchange folders).
pub(crate) fn staged_archive(
    path: &str,
    data: &[u8],
    installs: &[String],
    location: &Location,
    facts: &FileFacts,
) -> Option<Finding> {
    let kind = exchange::archive_kind(data)?;
    let (where_, medium_place) = place(path, installs)?;
    let (members, unread) = match exchange::archive_members(kind, data) {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let kinds: Vec<&str> = members
        .iter()
        .flatten()
        .filter_map(|m| member_kind(m))
        .collect();
    let (severity, what) = if kinds.contains(&"dump") {
        (Severity::High, " holding a dump or mailbox export")
    } else if kinds.contains(&"web") {
        (Severity::Medium, " holding a web script")
    } else if medium_place {
        (
            Severity::Medium,
            if where_ == "ProgramData" {
                " (root: staging location)"
            } else {
                " (served by the web site)"
            },
        )
    } else {
        (Severity::Low, "")
    };
    Some(Finding {
        kind: FindingKind::StagedArchive,
        severity,
        title: format!("{kind} archive in {where_}{what}"),
        location: location.clone(),
        file: Some(facts.clone()),
        cve: Vec::new(),
        rule: None,
        quote: None,
        detail: Detail::StagedArchive(StagedArchiveDetail {
            format: kind,
            members: members.map(|m| m.into_iter().take(MAX_DETAIL_MEMBERS).collect()),
            members_unread: unread,
            timestomp: None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(path: &str, data: &[u8]) -> Option<(Severity, String)> {
        let installs = vec!["/Program Files/Microsoft/Exchange Server/V15".to_string()];
        let loc = Location::new("img", None, None, path, None);
        staged_archive(path, data, &installs, &loc, &FileFacts::default())
            .map(|f| (f.severity, f.title))
    }

    #[test]
    fn places_and_members() {
        use crate::exchange::archive::tests::{build, rar4, rar5};
        let dump = build(&["out/lsass.dmp", "notes.txt"], b"", false);
        let web = build(&["site/x.aspx"], b"", false);
        let plain = build(&["readme.txt"], b"", false);
        assert_eq!(
            run("/inetpub/wwwroot/aspnet_client/a.zip", &dump)
                .unwrap()
                .0,
            Severity::High
        );
        assert_eq!(run("/Windows/Temp/x.zip", &dump).unwrap().0, Severity::High);
        assert_eq!(run("/PerfLogs/x.zip", &dump).unwrap().0, Severity::High);
        assert_eq!(
            run(
                "/Program Files/Microsoft/Exchange Server/V15/FrontEnd/HttpProxy/owa/auth/a.zip",
                &dump
            )
            .unwrap()
            .0,
            Severity::High
        );
        assert_eq!(run("/PerfLogs/x.zip", &web).unwrap().0, Severity::Medium);
        assert_eq!(
            run("/ProgramData/x.zip", &plain).unwrap().0,
            Severity::Medium
        );
        assert_eq!(
            run("/ProgramData/Vendor/x.zip", &plain).unwrap().0,
            Severity::Low
        );
        assert_eq!(
            run("/inetpub/wwwroot/x.zip", &plain).unwrap().0,
            Severity::Medium
        );
        assert_eq!(run("/inetpub/logs/x.zip", &plain).unwrap().0, Severity::Low);
        assert_eq!(run("/Users/a/x.zip", &dump), None);
        assert_eq!(run("/Windows/Temp/x.txt", b"hello"), None);
        // 7z and RAR names count too
        let (s, t) = run("/Windows/Temp/x.rar", &rar5(&["a/lsass.dmp"])).unwrap();
        assert_eq!(s, Severity::High, "{t}");
        assert!(t.starts_with("rar archive in Windows/Temp"), "{t}");
        assert_eq!(
            run("/PerfLogs/x.rar", &rar4(&["shell.aspx"])).unwrap().0,
            Severity::Medium
        );
        let seven = include_bytes!("../../tests/data/archives/plain.7z");
        assert_eq!(
            run("/inetpub/wwwroot/x.7z", seven).unwrap().0,
            Severity::High
        );
        // a compressed 7z header (7-Zip's default) is unpacked for its names
        let enc = include_bytes!("../../tests/data/archives/enc.7z");
        assert_eq!(run("/PerfLogs/x.7z", enc).unwrap().0, Severity::High);
        // names that cannot be read: the finding says why, ranked by place
        let mut broken = enc.to_vec();
        let n = broken.len();
        broken.truncate(n - 8);
        let loc = Location::new("img", None, None, "/PerfLogs/x.7z", None);
        let f =
            staged_archive("/PerfLogs/x.7z", &broken, &[], &loc, &FileFacts::default()).unwrap();
        assert_eq!(f.severity, Severity::Low);
        let Detail::StagedArchive(d) = &f.detail else {
            panic!()
        };
        assert!(d.members.is_none());
        assert!(d.members_unread.is_some());
    }
}
