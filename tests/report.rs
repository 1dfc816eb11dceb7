//! The HTML report (`deadbox::report`): the verdict rule, the ranking, escaping of names from
//! the image (the hostile-name fixture `ntfs-hostile.img.gz`: web shells named
//! `<img src=x onerror=alert(1)>.aspx` and the like), a self-contained page (nothing loaded
//! from anywhere), one new file; and the page opened in headless Chromium: chart and table
//! rendered, the filter script ran, no console error, no refused load, no injected element or
//! event handler, a screenshot saved under the target dir. The browser test is skipped with a
//! notice when no Chromium is on PATH, and fails then under CI=true.

mod common;

use deadbox::finding::{FileTime, Finding, FindingKind, Severity};
use deadbox::output::{ImageInfo, VerifyInfo};
use deadbox::report::{self, ReportInput, Verdict};
use deadbox::scan::{Scan, Summary};
use deadbox::timeline::{EventSource, TimelineEvent};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hostile names of the fixture, as the image stores them.
const HOSTILE: [&str; 4] = [
    "<img src=x onerror=alert(1)>.aspx",
    "\"><svg onload=alert(2)>.aspx",
    "&lt;i&gt;pre-escaped&amp;.aspx",
    "'><b onmouseover=alert(4)>.aspx",
];

/// The same text HTML-escaped as the template engine writes it (`&`, `<`, `>`, `"`, `'` as
/// numeric character references).
fn escaped(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// A hand-made event at `time`.
fn event(
    time: FileTime,
    source: EventSource,
    desc: &str,
    message: &str,
    path: &str,
) -> TimelineEvent {
    TimelineEvent {
        time,
        source,
        timestamp_desc: desc.to_string(),
        macb: matches!(source, EventSource::MftSi | EventSource::MftFn).then(|| "m.cb".to_string()),
        message: message.to_string(),
        location: deadbox::finding::Location::new(
            "evidence.img",
            None,
            Some(0),
            path,
            Some((70, 1, false)),
        ),
        finding: None,
        severity: None,
    }
}

fn t(s: &str) -> FileTime {
    FileTime::parse_rfc3339(s).unwrap()
}

const HOUR: u64 = 3600 * 10_000_000;

/// Everything a report of one image is made from.
struct Made {
    info: Option<ImageInfo>,
    verify: Option<VerifyInfo>,
    summary: Summary,
    findings: Vec<Finding>,
    events: Vec<TimelineEvent>,
    window: Option<(FileTime, FileTime)>,
}

impl Made {
    fn input(&self) -> ReportInput<'_> {
        ReportInput {
            info: self.info.as_ref(),
            verify: self.verify.as_ref(),
            summary: &self.summary,
            findings: &self.findings,
            events: &self.events,
            events_omitted: 0,
            window: self.window,
            generated_by: "deadbox test",
        }
    }
}

/// Scans `image` and builds the timeline window around its first finding the way the glue
/// does: the findings at their times, plus hand-made MFT, USN and log events (some hostile)
/// spread over the hours before and after.
fn made(image: &Path) -> Made {
    let scan = Scan::builder().build().unwrap();
    let mut findings: Vec<Finding> = Vec::new();
    let summary = scan.run_path(image, &mut findings).unwrap();
    let info = ImageInfo::read(image).unwrap();
    let verify = VerifyInfo::read(image).unwrap();
    let mut events: Vec<TimelineEvent> = findings
        .iter()
        .filter(|f| !report::is_context(f.kind))
        .filter_map(|f| {
            let time = report::finding_time(f)?;
            Some(TimelineEvent {
                time,
                source: EventSource::Finding,
                timestamp_desc: format!("Finding: {:?}", f.kind),
                macb: None,
                message: f.title.clone(),
                location: f.location.clone(),
                finding: Some(f.kind),
                severity: Some(f.severity),
            })
        })
        .collect();
    let first = events
        .iter()
        .map(|e| e.time)
        .min()
        .unwrap_or(t("2021-03-03T12:00:00Z"));
    for f in findings.iter().filter(|f| f.file.is_some()) {
        let l = &f.location;
        let name = l
            .stream
            .as_deref()
            .map_or(l.path.clone(), |s| format!("{}:{s}", l.path));
        let mut e = event(
            first,
            EventSource::MftSi,
            "Creation Time ($SI)",
            &name,
            &l.path,
        );
        e.location = l.clone();
        events.push(e);
    }
    // Background activity: events every 40 minutes for a day before and half a day after.
    for k in 0..54u64 {
        let time = FileTime::from_ticks(first.ticks() - 24 * HOUR + k * 2 * HOUR / 3);
        let source = [EventSource::MftSi, EventSource::MftFn, EventSource::Usn][k as usize % 3];
        events.push(event(
            time,
            source,
            "Modification Time",
            &format!("/Windows/Temp/tmp{k}.log"),
            &format!("/Windows/Temp/tmp{k}.log"),
        ));
    }
    // Log lines and USN records carrying attacker text.
    let mut log = event(
        FileTime::from_ticks(first.ticks() - HOUR),
        EventSource::Log,
        "Log entry",
        "POST /owa/auth/x.js </script><script>alert(5)</script> \"><img src=y onerror=alert(6)>",
        "/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log",
    );
    log.location.line = Some(17);
    log.location.mft_entry = None;
    log.location.mft_sequence = None;
    events.push(log);
    events.push(event(
        FileTime::from_ticks(first.ticks() - 2 * HOUR),
        EventSource::Usn,
        "USN: FileCreate|Close",
        &format!("/inetpub/wwwroot/aspnet_client/{}", HOSTILE[0]),
        &format!("/inetpub/wwwroot/aspnet_client/{}", HOSTILE[0]),
    ));
    // A right-to-left override: `invoice\u{202e}xpsa.gpj` would display as `invoicejpg.aspx`.
    events.push(event(
        FileTime::from_ticks(first.ticks() - 3 * HOUR),
        EventSource::MftFn,
        "Creation Time ($FN)",
        "/Users/Public/invoice\u{202e}xpsa.gpj",
        "/Users/Public/invoice\u{202e}xpsa.gpj",
    ));
    events.sort_by_key(|e| e.time);
    let window = Some((
        FileTime::from_ticks(first.ticks() - 24 * HOUR),
        FileTime::from_ticks(first.ticks() + 24 * HOUR),
    ));
    Made {
        info: Some(info),
        verify: Some(verify),
        summary,
        findings,
        events,
        window,
    }
}

fn hostile() -> Made {
    made(&common::unpacked(&common::fixture("ntfs-hostile.img.gz")))
}

/// The tags of an HTML text (or a browser's DOM dump): what lies between `<` and `>`, the
/// raw text of `script` and `style` elements skipped. Text from the image is escaped, so
/// every other `<` opens a tag.
fn tags(html: &str) -> Vec<&str> {
    let mut v = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let after = &rest[i + 1..];
        let j = after.find('>').unwrap_or(after.len());
        let tag = &after[..j];
        v.push(tag);
        rest = &after[j..];
        let name = tag_name(tag);
        if name == "script" || name == "style" {
            let end = format!("</{name}");
            let k = rest.to_ascii_lowercase().find(&end).unwrap_or(rest.len());
            rest = &rest[k..];
        }
    }
    v
}

/// The tag's name, lowercase.
fn tag_name(tag: &str) -> String {
    tag.split(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// Attribute names of a tag (crude: the words before `=`, outside quotes).
fn attr_names(tag: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut quote = None;
    let mut word = String::new();
    for c in tag.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => {
                names.push(word.to_ascii_lowercase());
                word.clear();
            }
            (None, c) if c.is_whitespace() => word.clear(),
            (None, c) => word.push(c),
        }
    }
    names
}

/// What must hold of any page the report writes, or of the DOM the browser built from it: the
/// hostile names only as text, no element or handler from them, nothing loaded from outside.
fn assert_safe(html: &str, what: &str) {
    for name in HOSTILE {
        assert!(!html.contains(name), "{what}: raw hostile name {name:?}");
    }
    for raw in [
        "<img",
        "<svg onload",
        "<b onmouseover",
        "</script><script>alert",
        "<iframe",
        "<object",
        "<embed",
        "<link",
        "<base",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(raw), "{what}: {raw:?} in the page");
    }
    let mut scripts = 0;
    for tag in tags(html) {
        let name = tag_name(tag);
        if name == "script" {
            scripts += 1;
            assert!(
                !attr_names(tag).iter().any(|a| a == "src"),
                "{what}: external script <{tag}>"
            );
        }
        for a in attr_names(tag) {
            assert!(!a.starts_with("on"), "{what}: event handler in <{tag}>");
            // Links inside the page only: `href="#…"`.
            if a == "href" && tag.matches("href=").count() == tag.matches("href=\"#").count() {
                continue;
            }
            if matches!(
                a.as_str(),
                "src" | "href" | "action" | "srcset" | "poster" | "data" | "formaction"
            ) {
                panic!("{what}: <{tag}> points somewhere");
            }
        }
        let lower = tag.to_ascii_lowercase();
        assert!(
            !lower.contains("http:") && !lower.contains("https:") && !lower.contains("//"),
            "{what}: URL in <{tag}>"
        );
    }
    assert_eq!(
        scripts, 1,
        "{what}: one script element (the table filter), no other"
    );
    assert!(
        !html.contains('\u{202e}'),
        "{what}: a bidirectional override reached the page"
    );
}

#[test]
fn the_verdict_follows_the_most_severe_evidence() {
    let m = hostile();
    assert_eq!(report::verdict(&m.findings), Verdict::Compromised);
    assert_eq!(report::verdict(&[]), Verdict::NothingFound);
    let shell = m
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::WebShell)
        .unwrap()
        .clone();
    let with = |kind, severity| Finding {
        kind,
        severity,
        ..shell.clone()
    };
    assert_eq!(
        report::verdict(&[with(FindingKind::WebShell, Severity::Medium)]),
        Verdict::Traces
    );
    assert_eq!(
        report::verdict(&[with(FindingKind::IocHash, Severity::Low)]),
        Verdict::Traces
    );
    assert_eq!(
        report::verdict(&[with(FindingKind::YaraMatch, Severity::Info)]),
        Verdict::NothingFound
    );
    assert_eq!(
        report::verdict(&[with(FindingKind::StagedArchive, Severity::High)]),
        Verdict::Compromised
    );
    // Context findings never count, whatever their severity.
    let context = [
        with(FindingKind::Diagnostic, Severity::Critical),
        with(FindingKind::LogCoverage, Severity::High),
        with(FindingKind::ExchangeInstall, Severity::Medium),
    ];
    assert_eq!(report::verdict(&context), Verdict::NothingFound);
    assert_eq!(Verdict::Compromised.as_str(), "compromised");
    assert_eq!(Verdict::NothingFound.to_string(), "nothing_found");
}

#[test]
fn findings_are_ranked_by_severity_then_time() {
    let m = hostile();
    let shell = m.findings[0].clone();
    let mut low = shell.clone();
    low.severity = Severity::Low;
    let mut early = shell.clone();
    let mut fn_ = early.file.as_ref().unwrap().fn_.unwrap();
    fn_.created = t("2020-01-01T00:00:00Z");
    early.file.as_mut().unwrap().fn_ = Some(fn_);
    let mut diag = shell.clone();
    diag.kind = FindingKind::Diagnostic;
    let all = vec![low.clone(), shell.clone(), diag, early.clone()];
    let ranked = report::rank(&all);
    assert_eq!(ranked.len(), 3, "diagnostics are coverage, not ranked");
    assert_eq!(ranked[0], &early);
    assert_eq!(ranked[1], &shell);
    assert_eq!(ranked[2], &low);
    assert_eq!(
        report::finding_time(&early),
        Some(t("2020-01-01T00:00:00Z"))
    );
}

#[test]
fn hostile_names_show_as_text_and_the_page_loads_nothing() {
    let m = hostile();
    let shells: Vec<&Finding> = m
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::WebShell)
        .collect();
    assert_eq!(
        shells.len(),
        4,
        "the fixture's four shells are found: {:#?}",
        m.findings
    );
    let html = report::render(&m.input()).unwrap();
    assert_safe(&html, "rendered page");
    for name in HOSTILE {
        assert!(html.contains(&escaped(name)), "escaped {name:?} missing");
    }
    // The pre-escaped name is escaped once more: it shows as `&lt;i&gt;…`, not as `<i>`.
    assert!(html.contains("&#38;lt;i&#38;gt;pre-escaped&#38;amp;.aspx"));
    assert!(html.contains(&escaped("</script><script>alert(5)</script>")));
    assert!(html.contains("/Users/Public/invoice\\u{202e}xpsa.gpj"));
    // The volume label is attacker-chosen too.
    assert!(html.contains(&escaped("<b>hostile</b>")) && !html.contains("<b>hostile"));
    // Self-contained: a strict policy, no URL anywhere.
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;;"
    ));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no URL in the page"
    );
    // Verdict, findings, chart, table, identity.
    assert!(html.contains("data-verdict=\"compromised\""));
    assert_eq!(
        html.matches("<div class=\"finding sev-critical\"").count(),
        4
    );
    assert!(
        html.matches("<rect class=\"bar\"").count() >= 20,
        "bars over the day"
    );
    assert!(
        html.contains("<g class=\"mark sev-critical\">"),
        "the findings are marked"
    );
    assert_eq!(html.matches("<tr data-source=").count(), m.events.len());
    assert!(html.contains("Events per hour"));
    let v = m.verify.as_ref().unwrap();
    assert!(
        html.contains(&v.sha1) && html.contains(&v.md5),
        "media hashes shown"
    );
    assert!(html.contains("013E3C0000000000"), "volume serial shown");
    // No log on this image: the report says which logs it did not cover.
    assert!(html.contains("Not found on the evidence (so not covered)"));
}

#[test]
fn a_clean_image_says_what_nothing_covers() {
    let image = common::fixture("ntfs-basic.img");
    let mut m = made(&image);
    m.findings.retain(|f| report::is_context(f.kind));
    m.events.retain(|e| e.source != EventSource::Finding);
    assert_eq!(report::verdict(&m.findings), Verdict::NothingFound);
    let html = report::render(&m.input()).unwrap();
    assert!(html.contains("data-verdict=\"nothing_found\""));
    assert!(html.contains("No finding above info in what was read"));
    for log in [
        "httpproxy",
        "ecp_server",
        "oab_generator",
        "iis",
        "application_evtx",
    ] {
        assert!(
            html.contains(&format!("<span class=\"mono\">{log}</span>")),
            "{log} not covered"
        );
    }
}

#[test]
fn logs_read_are_listed_with_their_coverage() {
    let m = made(&common::fixture("ntfs-shells.img"));
    let coverage = m
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::LogCoverage)
        .count();
    assert!(coverage > 0, "the shells fixture has logs");
    let html = report::render(&m.input()).unwrap();
    let table = &html[html.find("<table id=\"coverage\">").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr><td>").count(), coverage);
    assert!(table.contains("iis"));
    // Kept for a person to look at.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("shells.html"), &html).unwrap();
}

#[test]
fn the_report_is_one_new_file() {
    let m = hostile();
    let path = common::scratch().join("one-file.html");
    report::write(&path, &m.input()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, report::render(&m.input()).unwrap());
    // Never overwritten.
    let err = report::write(&path, &m.input()).unwrap_err();
    assert!(matches!(err, deadbox::Error::Output(_)), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

// ------------------------------------------------------------------------------- the browser

/// Chromium on PATH, or `None` (with a notice) where there is none; under CI=true a missing
/// browser is a failure.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("no chromium on PATH and CI=true: the browser test cannot run");
    }
    eprintln!("notice: no chromium on PATH; skipping the headless browser test of the report");
    None
}

/// Runs headless Chromium on `page` (`#fragment` appended when not empty) with `args`; kills
/// it after 60 s. Returns (stdout, stderr).
fn run_chromium(bin: &Path, page: &Path, fragment: &str, args: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}{fragment}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (o.join().unwrap(), e.join().unwrap())
}

/// The lines of Chromium's log that report a page problem: any console message (a failed
/// request is one: `Failed to load resource: net::ERR_…`), an uncaught exception, a refused
/// load or script (CSP). The browser's own services (dbus, GCM, …) log other lines, ignored.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            // Console messages (errors included) are logged at INFO level; the page logs none.
            l.contains(":CONSOLE")
                || [
                    "Uncaught",
                    "Refused to",
                    "Content Security Policy",
                    "violates",
                    "Not allowed to load",
                ]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect()
}

/// The DOM after the scripts ran, and Chromium's log.
fn dump_dom(bin: &Path, page: &Path, fragment: &str) -> (String, String) {
    run_chromium(bin, page, fragment, &["--dump-dom".to_string()])
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).unwrap();
    let m = hostile();
    let html = report::render(&m.input()).unwrap();
    let page = dir.join("hostile.html");
    std::fs::write(&page, &html).unwrap();

    // The harness sees an injection: the same page with a raw `<img onerror>` put in (which
    // the template never does) shows the element in the DOM and a refusal in the log.
    let control = dir.join("control.html");
    std::fs::write(
        &control,
        html.replacen(
            "<h1>",
            "<img src=x onerror=\"document.title='pwned'\"><h1>",
            1,
        ),
    )
    .unwrap();
    let (dom, log) = dump_dom(&bin, &control, "");
    assert!(
        dom.contains("<img src=\"x\" onerror="),
        "control: the injected element is in the DOM"
    );
    let refused = page_errors(&log);
    assert!(
        refused
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "control: the browser log shows the refused image or handler; log:\n{log}"
    );
    assert!(
        !dom.contains("<title>pwned"),
        "control: the CSP stopped the handler"
    );

    let (dom, log) = dump_dom(&bin, &page, "");
    let errors = page_errors(&log);
    assert!(
        errors.is_empty(),
        "console errors or refused loads: {errors:#?}"
    );
    assert!(
        dom.contains("data-filter-ready=\"1\""),
        "the filter script ran (its CSP hash matches)"
    );
    assert_safe(&dom, "browser DOM");
    for name in HOSTILE {
        // The DOM serialiser escapes only `&`, `<`, `>` and no-break spaces in text.
        let text = name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(dom.contains(&text), "{name:?} shows as text");
    }
    assert!(
        dom.contains("<svg class=\"chart\" id=\"chart\""),
        "the chart is in the DOM"
    );
    assert!(dom.matches("<rect class=\"bar\"").count() >= 20);
    assert_eq!(
        dom.matches("<tr data-source=").count(),
        m.events.len(),
        "every table row"
    );
    assert!(dom.contains(&format!(
        "<span id=\"rows-shown\">{}</span>",
        m.events.len()
    )));

    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    // The filter, given by the link: text and source.
    let rows = m.events.len();
    for (fragment, want) in [
        ("#filter=ONERROR&source=usn", 1),
        ("#source=finding", 4),
        ("#filter=%2Fwindows%2Ftemp%2Ftmp1", 11), // tmp1, tmp10..tmp19
        ("#filter=no%20such%20text", 0),
    ] {
        let (dom, log) = dump_dom(&bin, &page, fragment);
        assert!(page_errors(&log).is_empty(), "{fragment}: {log}");
        assert!(
            dom.contains(&format!("<span id=\"rows-shown\">{want}</span>")),
            "{fragment}: {want} rows shown"
        );
        assert_eq!(
            dom.matches(" hidden=\"\"><td").count(),
            rows - want,
            "{fragment}"
        );
    }

    let (_, log) = run_chromium(
        &bin,
        &page,
        "",
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000".to_string(),
        ],
    );
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("no screenshot {}: {e}\n{log}", shot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 20_000,
        "a screenshot with content ({} bytes)",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn findings_are_marked_even_without_their_events() {
    let mut m = hostile();
    m.events.retain(|e| e.source != EventSource::Finding);
    let html = report::render(&m.input()).unwrap();
    assert_eq!(
        html.matches("<g class=\"mark sev-critical\">").count(),
        1,
        "one position"
    );
    // Without events nor window, the chart spans the findings.
    m.events.clear();
    m.window = None;
    let html = report::render(&m.input()).unwrap();
    assert!(html.contains("<svg class=\"chart\" id=\"chart\""));
    assert!(html.contains("<g class=\"mark sev-critical\">"));
    assert_eq!(html.matches("<tr data-source=").count(), 0);
    // The findings at a glance link to their cards, inside the page.
    let glance = &html[html.find("<table id=\"findings-glance\">").unwrap()..];
    let glance = &glance[..glance.find("</table>").unwrap()];
    assert_eq!(glance.matches("<a href=\"#finding-").count(), 4);
}

// ------------------------------------------------------------------------------- the commands

/// `deadbox ARGS` with the progress bar off; (exit code, stdout, stderr).
fn deadbox(args: &[&str]) -> (i32, Vec<u8>, String) {
    let mut a = args.to_vec();
    a.push("-q");
    common::run(&a)
}

#[test]
fn the_report_command_writes_the_page_with_the_scans_exit_code() {
    let img = common::fixture("ntfs-shells.img");
    let img = img.to_str().unwrap();
    let dir = common::scratch();
    let page = dir.join("cli-report.html");
    let page_s = page.to_str().unwrap();
    let (scan_code, scan_out, _) = deadbox(&["scan", img, "--format", "jsonl"]);
    let (code, out, err) = deadbox(&["report", img, "-o", page_s]);
    assert_eq!(code, scan_code, "{err}");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "the page goes to the file, not stdout");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Compromised"), "the verdict");
    // Every finding is on the page: one card per finding that is not context.
    let findings = common::jsonl(&scan_out);
    assert!(!findings.is_empty());
    for f in &findings {
        let p = f["location"]["path"].as_str().unwrap();
        assert!(html.contains(&escaped(p)), "{p} on the page");
    }
    // The window is centred on the first log trace (2021-03-03T02:41:55Z, the first POST of
    // the campaign in the fixture's IIS log), not on the install-time creation of the file
    // that carries the ADS shell nor on the timestomped shell's 2019 $SI: so it holds the
    // shells dropped at 02:53 with their MFT times and findings.
    let rows = |source: &str| {
        html.matches(&format!("<tr data-source=\"{source}\""))
            .count()
    };
    assert!(
        rows("mft_fn") > 0 && rows("mft_si") > 0,
        "MFT events in the table"
    );
    assert!(
        rows("finding") >= 20,
        "the findings of the window: {}",
        rows("finding")
    );
    let times: Vec<&str> = html
        .split("data-time=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(!times.is_empty());
    assert!(
        times
            .iter()
            .all(|t| ("2021-03-02T02:41:55"..="2021-03-04T02:41:55").contains(&&t[..19])),
        "every row inside the 48 h window: {:?}",
        times.iter().min()
    );
    // Never overwritten: refused before the scan, exit 2, the page unchanged.
    let (code, _, err) = deadbox(&["report", img, "-o", page_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must not exist"), "{err}");
    assert_eq!(std::fs::read_to_string(&page).unwrap(), html);

    // scan --report: the same findings on stdout, the same page in the file.
    let page2 = dir.join("cli-scan-report.html");
    let (code, out, err) = deadbox(&[
        "scan",
        img,
        "--format",
        "jsonl",
        "--report",
        page2.to_str().unwrap(),
    ]);
    assert_eq!(code, scan_code, "{err}");
    let mut a: Vec<String> = findings.iter().map(|v| v.to_string()).collect();
    let mut b: Vec<String> = common::jsonl(&out).iter().map(|v| v.to_string()).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "scan --report prints what scan prints");
    assert_eq!(std::fs::read_to_string(&page2).unwrap(), html);
    // One evidence argument only; an existing file refused before the scan.
    let (code, out, err) = deadbox(&["scan", img, img, "--report", page_s]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty() && err.contains("one evidence"), "{err}");
}

#[test]
fn a_report_on_a_clean_image_or_a_folder_says_nothing_found() {
    let dir = common::scratch();
    let img = common::fixture("ntfs-basic.img");
    let page = dir.join("cli-clean.html");
    let (code, _, err) = deadbox(&[
        "report",
        img.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Nothing found"), "the verdict");
    assert!(html.contains("Evidence"), "the identity section");
    // A folder of loose files: the findings' own times, no image identity.
    let shells = common::root().join("fixtures/shells");
    let page = dir.join("cli-folder.html");
    let (code, _, err) = deadbox(&[
        "report",
        shells.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<tr data-source=\"mft_"),
        "no MFT for a folder"
    );
}

#[test]
fn the_cli_page_of_the_hostile_fixture_renders_clean_in_chromium() {
    let Some(bin) = chromium() else { return };
    let img = common::unpacked(&common::fixture("ntfs-hostile.img.gz"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("cli-hostile.html");
    let _ = std::fs::remove_file(&page);
    let (code, _, err) = deadbox(&[
        "report",
        img.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_safe(&html, "CLI page");
    let (dom, log) = dump_dom(&bin, &page, "");
    let errors = page_errors(&log);
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        dom.contains("data-filter-ready=\"1\""),
        "the filter script ran"
    );
    assert_safe(&dom, "CLI page in the browser");
    assert!(dom.contains("<svg class=\"chart\" id=\"chart\""));
    let rows = dom.matches("<tr data-source=").count();
    assert!(rows > 0, "the table");
    assert!(dom.contains(&format!("<span id=\"rows-shown\">{rows}</span>")));
    for name in HOSTILE {
        let text = name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(dom.contains(&text), "{name:?} shows as text");
    }
}
