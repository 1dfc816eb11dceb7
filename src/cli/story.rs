//! `deadbox timeline` and `deadbox report`: the scan's findings put on one time axis with the
//! MFT, the USN journal, shadow copies and the logs.

use crate::args::{StoryArgs, TimelineArgs, TimelineFormat};
use crate::progress::Bar;
use deadbox::finding::Finding;
use deadbox::timeline::{self, parse_time, Center, Options, Range, Sources};
use deadbox::volume::VolumeSelect;
use deadbox::{Image, Result};
use std::path::Path;
use std::sync::Arc;

/// The findings of the image at `path` (built-in rules and `story.rules`), with a progress
/// bar unless quiet.
pub fn findings(path: &Path, sel: VolumeSelect, story: &StoryArgs) -> Result<Vec<Finding>> {
    let mut b = deadbox::scan::Scan::builder().volumes(sel);
    if let Some(bar) = Bar::new("scanned").filter(|_| !story.quiet) {
        b = b.progress(Arc::new(bar));
    }
    b = story.rules.iter().fold(b, |b, r| b.rules(r));
    let scan = b.build()?;
    let mut out: Vec<Finding> = Vec::new();
    scan.run_path(path, &mut out)?;
    Ok(out)
}

/// The range of `--around`/`--window`, intersected with `from`/`to`.
pub fn range(
    path: &Path,
    sel: VolumeSelect,
    story: &StoryArgs,
    findings: &[Finding],
    mut range: Range,
) -> Result<Range> {
    if let Some(a) = &story.around {
        let image = Image::open(path, sel)?;
        let c = Center::parse(a).resolve(&image, findings)?;
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
        let (path, sel) = (&self.evidence, self.vol.into());
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
            findings(path, sel, &self.story)?
        };
        let opts = Options {
            range: range(path, sel, &self.story, &findings, bounds)?,
            sources: Sources {
                index_slack: self.index_slack,
                log_entries: self.all_log_entries,
            },
            no_usn: self.no_usn,
            no_snapshots: self.no_snapshots,
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        timeline::print_timeline(
            path,
            sel,
            self.format.lib(),
            &opts,
            &findings,
            &mut out,
            warn,
        )
    }
}
