//! `deadbox timeline` and `deadbox report`: the scan's findings put on one time axis with the
//! MFT, the USN journal, shadow copies and the logs.

use crate::args::{ReportArgs, StoryArgs, TimelineArgs, TimelineFormat};
use crate::progress::Bar;
use deadbox::finding::Finding;
use deadbox::report::Framing;
use deadbox::scan::{FindingSink, SinkResult, Summary};
use deadbox::timeline::{self, parse_time, Center, Options, Range, Sources};
use deadbox::volume::VolumeSelect;
use deadbox::{Image, MemoryBudget, OpenOptions, Result};
use std::path::Path;
use std::sync::Arc;

/// The scan of `deadbox timeline`/`report`: built-in rules and `story.rules`, with a progress
/// bar unless quiet.
fn scanner(
    sel: VolumeSelect,
    story: &StoryArgs,
    budget: &Arc<MemoryBudget>,
) -> Result<deadbox::scan::Scan> {
    let mut b = deadbox::scan::Scan::builder()
        .volumes(sel)
        .memory_budget(budget.clone());
    if let Some(iso) = crate::evtx_isolation() {
        b = b.evtx_isolation(iso);
    }
    if let Some(bar) = Bar::new("scanned").filter(|_| !story.quiet) {
        b = b.progress(Arc::new(bar));
    }
    b = story.rules.iter().fold(b, |b, r| b.rules(r));
    b.build()
}

/// The findings of an opened image (its volumes' namespaces are kept for the timeline); the
/// scan draws on `budget`, the run's memory budget.
pub fn image_findings(
    image: &Image,
    story: &StoryArgs,
    budget: &Arc<MemoryBudget>,
) -> Result<(Vec<Finding>, Summary)> {
    let mut out: Vec<Finding> = Vec::new();
    let summary = scanner(VolumeSelect::default(), story, budget)?.run_image(image, &mut out)?;
    Ok((out, summary))
}

/// Opens the image at `path` (volumes `sel`) drawing on the run's memory budget.
pub fn open_image(path: &Path, sel: VolumeSelect, budget: &Arc<MemoryBudget>) -> Result<Image> {
    Image::open_with(
        path,
        &OpenOptions {
            select: sel,
            budget: Some(budget.clone()),
            ..OpenOptions::default()
        },
    )
}

/// The range of `--around`/`--window`, intersected with `from`/`to`.
pub fn range(
    image: &Image,
    story: &StoryArgs,
    findings: &[Finding],
    mut range: Range,
) -> Result<Range> {
    if let Some(a) = &story.around {
        let c = Center::parse(a).resolve(image, findings)?;
        let w = timeline::window(c, timeline::parse_window(&story.window)?);
        range.from = range.from.max(w.from);
        range.to = match (range.to, w.to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(range)
}

impl TimelineArgs {
    /// Runs `deadbox timeline` to stdout.
    pub fn run(&self, warn: &mut dyn FnMut(String)) -> Result<()> {
        let bounds = Range {
            from: self
                .from
                .as_deref()
                .map(|s| parse_time(s, false))
                .transpose()?,
            to: self
                .to
                .as_deref()
                .map(|s| parse_time(s, true))
                .transpose()?,
        };
        let budget = Arc::new(MemoryBudget::new(self.story.mem.bytes()));
        let image = open_image(&self.evidence, self.vol.into(), &budget)?;
        let bodyfile = matches!(self.format, TimelineFormat::Bodyfile);
        // A bodyfile holds MFT times only; findings are needed for the other formats and for
        // an --around that names one.
        let around_finding =
            self.story.around.as_deref().is_some_and(|a| {
                matches!(Center::parse(a), Center::FirstFinding | Center::Finding(_))
            });
        let findings = if self.no_scan || (bodyfile && !around_finding) {
            Vec::new()
        } else {
            image_findings(&image, &self.story, &budget)?.0
        };
        let opts = Options {
            range: range(&image, &self.story, &findings, bounds)?,
            sources: Sources {
                index_slack: self.index_slack,
                log_entries: self.all_log_entries,
                evtx_isolation: crate::evtx_isolation(),
            },
            no_usn: self.no_usn,
            no_snapshots: self.no_snapshots,
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let spill = self.spill_dir.as_ref().map(|d| timeline::SpillOptions {
            dir: d.clone(),
            run_bytes: self.sort_memory.max(1) << 20,
        });
        timeline::print_image_timeline_with(
            &image,
            self.format.lib(),
            &opts,
            &findings,
            spill.as_ref(),
            &mut out,
            warn,
        )
    }
}

/// How the report frames its timeline: `--around` (default the first finding) and `--window`.
pub fn framing(story: &StoryArgs, verify: bool) -> Result<Framing> {
    Ok(Framing {
        center: story.around.as_deref().map(Center::parse),
        width: timeline::parse_window(&story.window)?,
        verify,
        ..Framing::default()
    })
}

impl ReportArgs {
    /// Runs `deadbox report`: scans, then writes the report. Returns the scan's exit code.
    pub fn run(&self, warn: &mut dyn FnMut(String)) -> Result<u8> {
        check_report(Some(&self.output), 1)?;
        let framing = framing(&self.story, self.verify)?;
        let sel = self.vol.into();
        let path = &self.evidence;
        let budget = Arc::new(MemoryBudget::new(self.story.mem.bytes()));
        // An image is opened once: the scan and the timeline share its namespaces. A loose
        // file or a folder is scanned by path.
        let image = if path.is_dir() {
            None
        } else {
            open_image(path, sel, &budget).ok()
        };
        let (found, summary) = match &image {
            Some(img) => image_findings(img, &self.story, &budget)?,
            None => {
                let mut out: Vec<Finding> = Vec::new();
                let summary = scanner(sel, &self.story, &budget)?.run_path(path, &mut out)?;
                (out, summary)
            }
        };
        deadbox::report::for_image(
            path,
            image.as_ref(),
            &summary,
            &found,
            &framing,
            &self.output,
            warn,
        )?;
        if !self.story.quiet {
            eprintln!(
                "deadbox: {}: {} findings; report: {}",
                self.evidence.display(),
                summary.findings,
                self.output.display()
            );
        }
        Ok(deadbox::output::exit_code(summary.max_severity))
    }
}

/// `scan --report`: one evidence argument, and a report file that does not exist yet
/// (refused before the scan, not after it).
pub fn check_report(report: Option<&Path>, evidence: usize) -> Result<()> {
    match report {
        Some(_) if evidence != 1 => Err(deadbox::Error::Invalid(
            "--report takes one evidence argument (run `deadbox report` per image)".into(),
        )),
        Some(p) if p.exists() => Err(deadbox::Error::Output(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{}: the report file must not exist", p.display()),
        ))),
        _ => Ok(()),
    }
}

/// `scan --report`: the report of `evidence` (the image the scan read, `None` for a loose file
/// or a folder), scanned into `summary` and `findings`.
pub fn scan_report(
    evidence: &Path,
    image: Option<&Image>,
    summary: &Summary,
    findings: &[Finding],
    out: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let framing = Framing::default();
    deadbox::report::for_image(evidence, image, summary, findings, &framing, out, warn)
}

/// A sink that hands each finding on and, when `on`, keeps a copy (for `scan --report`).
pub struct Keep<'a> {
    /// Where findings go on.
    inner: &'a mut dyn FindingSink,
    on: bool,
    /// The copies.
    pub kept: Vec<Finding>,
}

impl<'a> Keep<'a> {
    /// Hands findings on to `inner`, keeping copies when `on`.
    pub fn new(inner: &'a mut dyn FindingSink, on: bool) -> Self {
        Keep {
            inner,
            on,
            kept: Vec::new(),
        }
    }
}

impl FindingSink for Keep<'_> {
    fn begin(&mut self, what: &str) -> SinkResult {
        self.inner.begin(what)
    }
    fn finding(&mut self, finding: Finding) -> SinkResult {
        if self.on {
            self.kept.push(finding.clone());
        }
        self.inner.finding(finding)
    }
    fn finish(&mut self) -> SinkResult {
        self.inner.finish()
    }
}
