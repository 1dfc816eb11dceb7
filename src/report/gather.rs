//! The report of one piece of evidence as `deadbox report` and `scan --report` make it: the
//! scan's findings, the image's identity and the timeline window around the first finding.

use super::{ReportInput, Summary};
use crate::finding::{FileTime, Finding};
use crate::output::{ImageInfo, VerifyInfo};
use crate::timeline::{self, Center, EventSource, Merged, Options, Range, Timeline, TimelineEvent};
use crate::volume::VolumeSelect;
use crate::{Image, Result};
use std::path::Path;

/// Events the report's table and chart hold at most. A page with more grows past what a
/// browser shows smoothly (each row is ~0.5 KB of HTML); the ones nearest the window's centre
/// are kept, the others counted in [`ReportInput::events_omitted`].
pub const MAX_REPORT_EVENTS: usize = 25_000;

/// How [`for_evidence`] frames the timeline.
#[derive(Debug, Clone)]
pub struct Framing {
    /// The window's centre; `None`: the first finding with a time (then, if no finding has
    /// one, the whole timeline, capped at `max_events` around its middle).
    pub center: Option<Center>,
    /// The window's width in 100 ns ticks ([`timeline::parse_window`] reads `48h`).
    pub width: u64,
    /// Events kept at most (the nearest to the centre).
    pub max_events: usize,
    /// Recompute the media hashes (reads the whole image once more).
    pub verify: bool,
    /// What made the report, e.g. `deadbox 0.1.0`.
    pub generated_by: String,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            center: None,
            width: 48 * 3600 * 10_000_000,
            max_events: MAX_REPORT_EVENTS,
            verify: false,
            generated_by: concat!("deadbox ", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Writes the report of the evidence at `path` (an image, a loose file or a folder), scanned
/// into `summary` and `findings`, to `out` (a new file). For an image: its identity
/// (`deadbox info`), the timeline of its volumes (MFT, USN, shadow copies, findings) inside
/// the window. For a loose file or a folder: the findings' own times. What the timeline could
/// not read goes to `warn`.
pub fn for_evidence(
    path: &Path,
    sel: VolumeSelect,
    summary: &Summary,
    findings: &[Finding],
    framing: &Framing,
    out: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let image = if path.is_dir() {
        None
    } else {
        Image::open(path, sel).ok()
    };
    for_image(path, image.as_ref(), summary, findings, framing, out, warn)
}

/// [`for_evidence`] with the image already opened (and scanned: the volumes' namespaces are
/// shared with the scan), `None` for a loose file or a folder at `path`.
pub fn for_image(
    path: &Path,
    image: Option<&Image>,
    summary: &Summary,
    findings: &[Finding],
    framing: &Framing,
    out: &Path,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let info = match &image {
        Some(img) => Some(ImageInfo::of_image(img)?),
        None => None,
    };
    let verify = match (&image, framing.verify) {
        (Some(_), true) => Some(VerifyInfo::read(path)?),
        _ => None,
    };
    let center = match (&framing.center, &image) {
        (Some(c), Some(img)) => Some(c.resolve(img, findings)?),
        (Some(Center::Time(t)), None) => Some(*t),
        (Some(c), None) => Some(c.resolve_in(findings)?),
        (None, Some(img)) => Center::FirstFinding.resolve(img, findings).ok(),
        (None, None) => Center::FirstFinding.resolve_in(findings).ok(),
    };
    let range = center.map_or_else(Range::default, |c| timeline::window(c, framing.width));
    let evidence = path.display().to_string();
    let tl = match &image {
        Some(img) => {
            let opts = Options {
                range,
                ..Options::default()
            };
            timeline::build(img, &evidence, &opts, findings, warn)
        }
        None => {
            let mut tl = Timeline::new(&evidence);
            tl.add_findings(findings, range);
            tl.sort();
            tl
        }
    };
    let (events, omitted) = nearest(&tl, center, framing.max_events);
    let window = match (range.from, range.to) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    super::write(
        out,
        &ReportInput {
            info: info.as_ref(),
            verify: verify.as_ref(),
            summary,
            findings,
            events: &events,
            events_omitted: omitted,
            window,
            generated_by: &framing.generated_by,
        },
    )
}

/// The `max` events of `tl` nearest to `center` (or to the middle of the timeline), in time
/// order, and how many were left out. Findings are always kept: the chart marks them.
pub fn nearest(tl: &Timeline, center: Option<FileTime>, max: usize) -> (Vec<TimelineEvent>, u64) {
    let total = tl.len();
    if total <= max {
        return (tl.iter().collect(), 0);
    }
    // The events are sorted by time, so the `max` nearest to the centre are a contiguous run:
    // slide a run of `max` along while its far end is nearer than its near end.
    let times: Vec<u64> = tl.merged().map(|m| m.time().ticks()).collect();
    let center = center.map_or(times[total / 2], |c| c.ticks());
    let dist = |t: u64| t.abs_diff(center);
    let mut start = 0usize;
    while start + max < total && dist(times[start]) > dist(times[start + max]) {
        start += 1;
    }
    drop(times);
    let (mut kept, mut omitted) = (Vec::with_capacity(max), 0u64);
    for (i, m) in tl.merged().enumerate() {
        match m {
            Merged::Mft(e) if (start..start + max).contains(&i) => kept.push(tl.mft_event(e)),
            Merged::Other(e)
                if (start..start + max).contains(&i) || e.source == EventSource::Finding =>
            {
                kept.push(e.clone())
            }
            _ => omitted += 1,
        }
    }
    (kept, omitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;

    fn ev(t: u64, source: EventSource) -> TimelineEvent {
        TimelineEvent {
            time: FileTime(t),
            source,
            timestamp_desc: String::new(),
            macb: None,
            message: t.to_string(),
            location: Location::new("x", None, None, "/x", None),
            finding: None,
            severity: None,
        }
    }

    #[test]
    fn nearest_keeps_the_run_around_the_centre_and_every_finding() {
        let mut tl = Timeline::new("x");
        for t in 0..1000u64 {
            tl.push_extra(ev(t * 10, EventSource::Usn));
        }
        tl.push_extra(ev(5, EventSource::Finding));
        tl.push_extra(ev(9_990, EventSource::Finding));
        tl.sort();
        let (kept, omitted) = nearest(&tl, Some(FileTime(5_000)), 100);
        assert_eq!(kept.len() as u64 + omitted, 1002);
        let usn: Vec<u64> = kept
            .iter()
            .filter(|e| e.source == EventSource::Usn)
            .map(|e| e.time.ticks())
            .collect();
        assert_eq!(usn.len(), 100);
        assert!(usn.iter().all(|t| t.abs_diff(5_000) <= 500), "{usn:?}");
        assert!(usn.windows(2).all(|w| w[0] <= w[1]), "time order");
        let found = kept.iter().filter(|e| e.source == EventSource::Finding);
        assert_eq!(found.count(), 2, "findings kept outside the run");
        assert!(kept.windows(2).all(|w| w[0].time <= w[1].time));
        // A centre past the end keeps the last run; no centre, the middle one.
        let (kept, _) = nearest(&tl, Some(FileTime(u64::MAX)), 10);
        assert!(kept
            .iter()
            .any(|e| e.time.ticks() == 9_990 && e.source == EventSource::Usn));
        let (kept, _) = nearest(&tl, None, 10);
        assert!(kept.iter().any(|e| e.time.ticks().abs_diff(5_000) <= 60));
        // Under the cap: everything.
        assert_eq!(nearest(&tl, None, 5_000), (tl.iter().collect(), 0));
    }
}
