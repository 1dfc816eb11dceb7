//! The sorted formats in bounded memory: lines formatted as the walk meets them, sorted in
//! runs of at most a given size, runs written to temporary files, then merged.
//!
//! [`super::build`] holds a volume's MFT times as 16-byte events plus one row (path, stream,
//! entry) per file row: about 150 MB for 400k records, growing with the volume. For volumes of
//! millions of records [`write_spilled`] keeps at most `run_bytes` of formatted lines (and a
//! read buffer per run while merging) whatever the size of the volume. Both write the same
//! bytes: each line carries a sort key that reproduces the in-memory order exactly (time; MFT
//! events before the other sources' at equal times; then MFT row in walk order, attribute,
//! MACB bits, or source, path and the order the events were met).
//!
//! Written by hand: an external merge sort of keyed byte records is short, and the crates
//! that do it (extsort and the like) want typed, serde-encoded items, which would format each
//! line twice.

use super::write::Formatter;
use super::{sources, Event, Options, Range, Timeline, TimelineEvent, TimelineFormat};
use crate::finding::Finding;
use crate::ntfs::{NtfsVolume, Tree};
use crate::{Error, Image, Result};
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Where and how much [`write_spilled`] spills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillOptions {
    /// Folder of the temporary run files (removed as soon as they are opened: nothing is left
    /// behind, even on a crash). Never on the evidence.
    pub dir: PathBuf,
    /// Bytes of formatted lines held before a sorted run is written out.
    pub run_bytes: usize,
}

impl Default for SpillOptions {
    fn default() -> Self {
        SpillOptions {
            dir: std::env::temp_dir(),
            run_bytes: DEFAULT_RUN_BYTES,
        }
    }
}

/// Default size of a run: 256 MiB of lines.
pub const DEFAULT_RUN_BYTES: usize = 256 << 20;

/// Above this many MFT records (all volumes) `deadbox timeline` spills: the in-memory
/// timeline would take ~0.4 KB per record (events, rows and their paths).
pub const SPILL_ABOVE_RECORDS: u64 = 2_000_000;

/// Keyed lines: a sorted run in memory, then runs on disk.
struct Runs {
    opts: SpillOptions,
    /// Keys and lines, back to back.
    arena: Vec<u8>,
    /// (offset in `arena`, key length, line length).
    items: Vec<(usize, u32, u32)>,
    files: Vec<std::fs::File>,
}

impl Runs {
    fn new(opts: SpillOptions) -> Self {
        // Reserved, not touched: the run never grows past its size by doubling.
        let arena = Vec::with_capacity(opts.run_bytes.saturating_add(1 << 20));
        Runs {
            opts,
            arena,
            items: Vec::new(),
            files: Vec::new(),
        }
    }

    fn push(&mut self, key: &[u8], line: &[u8]) -> Result<()> {
        let off = self.arena.len();
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(line);
        self.items.push((off, key.len() as u32, line.len() as u32));
        if self.arena.len() >= self.opts.run_bytes {
            self.spill()?;
        }
        Ok(())
    }

    fn sort(&mut self) {
        let arena = &self.arena;
        let key = |&(o, k, _): &(usize, u32, u32)| &arena[o..o + k as usize];
        // Keys are unique (see the module docs), so an unstable sort gives one order.
        self.items.sort_unstable_by(|a, b| key(a).cmp(key(b)));
    }

    /// Sorts what is held and writes it as a run: `[key len u16][line len u32][key][line]`.
    fn spill(&mut self) -> Result<()> {
        self.sort();
        let io = |e: std::io::Error| {
            Error::Output(std::io::Error::new(
                e.kind(),
                format!("timeline run file in {}: {e}", self.opts.dir.display()),
            ))
        };
        let file = tempfile::tempfile_in(&self.opts.dir).map_err(io)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        for &(o, k, l) in &self.items {
            let (k, l) = (k as usize, l as usize);
            w.write_all(&(k as u16).to_le_bytes()).map_err(io)?;
            w.write_all(&(l as u32).to_le_bytes()).map_err(io)?;
            w.write_all(&self.arena[o..o + k + l]).map_err(io)?;
        }
        let mut file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(io)?;
        self.files.push(file);
        self.arena.clear();
        self.items.clear();
        Ok(())
    }

    /// Writes every line in key order to `out`.
    fn finish(mut self, out: &mut dyn Write) -> Result<()> {
        let o = Error::Output;
        if self.files.is_empty() {
            self.sort();
            let mut b = Vec::with_capacity(1 << 20);
            for &(off, k, l) in &self.items {
                let s = off + k as usize;
                b.extend_from_slice(&self.arena[s..s + l as usize]);
                if b.len() >= 1 << 20 {
                    out.write_all(&b).map_err(o)?;
                    b.clear();
                }
            }
            return out.write_all(&b).map_err(o);
        }
        if !self.items.is_empty() {
            self.spill()?;
        }
        // k-way merge: the smallest head key first (ties cannot happen: keys are unique).
        let mut readers: Vec<BufReader<std::fs::File>> = self
            .files
            .drain(..)
            .map(|f| BufReader::with_capacity(1 << 16, f))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some((k, l)) = next_record(r)? {
                heap.push(std::cmp::Reverse((k, i, l)));
            }
        }
        let mut b = Vec::with_capacity(1 << 20);
        while let Some(std::cmp::Reverse((_, i, line))) = heap.pop() {
            b.extend_from_slice(&line);
            if b.len() >= 1 << 20 {
                out.write_all(&b).map_err(o)?;
                b.clear();
            }
            if let Some((k, l)) = next_record(&mut readers[i])? {
                heap.push(std::cmp::Reverse((k, i, l)));
            }
        }
        out.write_all(&b).map_err(o)
    }
}

/// The next (key, line) of a run, `None` at its end.
fn next_record(r: &mut impl Read) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let io = |e: std::io::Error| Error::Output(e);
    let mut head = [0u8; 6];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    r.read_exact(&mut head[1..]).map_err(io)?;
    let k = u16::from_le_bytes([head[0], head[1]]) as usize;
    let l = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
    let mut key = vec![0u8; k];
    r.read_exact(&mut key).map_err(io)?;
    let mut line = vec![0u8; l];
    r.read_exact(&mut line).map_err(io)?;
    Ok(Some((key, line)))
}

/// The sort key of an MFT event line: time, class 0 (MFT first), row number, attribute,
/// MACB bits, line number within the event (Timesketch writes one line per time).
fn mft_key(e: &Event, row: u64, k: u8, key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(&e.time.ticks().to_be_bytes());
    key.push(0);
    key.extend_from_slice(&row.to_be_bytes());
    key.push(e.source as u8);
    key.push(e.macb);
    key.push(k);
}

/// The sort key of another source's line: time, class 1, source, path (ended by a NUL, which
/// no path holds), the order the event was met.
fn other_key(e: &TimelineEvent, seq: u64, key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(&e.time.ticks().to_be_bytes());
    key.push(1);
    key.push(e.source as u8);
    key.extend_from_slice(e.location.path.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
}

/// What one batch of the walk formatted: MFT lines (row within the batch, event, line number
/// within the event, end of the line in the text), their text back to back, and the other
/// sources' events.
type Batch = (Vec<(u64, Event, u8, usize)>, Vec<u8>, Vec<TimelineEvent>);

/// Writes the timeline of every NTFS volume of `image` (named by its path in locations) in a
/// sorted `format` (not the bodyfile) to `out`, as [`super::build`] + [`super::write_events`] would, holding at most
/// `spill.run_bytes` of lines in memory. Diagnostics and notes go to `warn` as with
/// [`super::build`].
pub fn write_spilled(
    image: &Image,
    opts: &Options,
    findings: &[Finding],
    format: TimelineFormat,
    spill: &SpillOptions,
    out: &mut dyn Write,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    // A folder that cannot take the runs is an error now, not after the walk.
    tempfile::tempfile_in(&spill.dir).map_err(|e| {
        Error::Invalid(format!(
            "spill folder {}: {e} (it must be a writable folder)",
            spill.dir.display()
        ))
    })?;
    let evidence = &image.path().display().to_string();
    let mut f = Formatter::new(format)?;
    let mut runs = Runs::new(spill.clone());
    let (mut row, mut seq) = (0u64, 0u64);
    let mut key = Vec::with_capacity(256);
    let mut mkey = Vec::with_capacity(32);
    let mut line = Vec::with_capacity(1024);
    let mut err: Option<Error> = None;
    let mut push_other = |runs: &mut Runs, f: &mut Formatter, e: &TimelineEvent| {
        other_key(e, seq, &mut key);
        seq += 1;
        line.clear();
        f.other(e, &mut line);
        runs.push(&key, &line)
    };
    for d in image.diagnostics() {
        warn(d.to_string());
    }
    for v in image.volumes() {
        let tree = v.shared_tree();
        let part = crate::output::volume_prefix(v);
        for d in tree.diagnostics() {
            warn(format!("{part}{}", d.message));
        }
        walk_volume(v, &tree, evidence, opts, format, &mut |(
            lines,
            text,
            extra,
        )| {
            if err.is_some() {
                return false;
            }
            // Rows are numbered across batches in walk order, as build() numbers them.
            let base = row;
            let mut start = 0usize;
            for (r, e, k, end) in lines {
                row = row.max(base + r + 1);
                mft_key(&e, base + r, k, &mut mkey);
                let l = &text[start..end];
                start = end;
                if let Err(e) = runs.push(&mkey, l) {
                    err = Some(e);
                    return false;
                }
            }
            for e in &extra {
                if let Err(e) = push_other(&mut runs, &mut f, e) {
                    err = Some(e);
                    return false;
                }
            }
            true
        });
        if let Some(e) = err.take() {
            return Err(e);
        }
        // The other sources of the volume, met in the order build() meets them.
        let mut tl = Timeline::new(evidence);
        if !opts.no_usn && !v.is_loose_mft() {
            tl.add_usn(v, &tree, opts.range);
        }
        for n in &tl.notes {
            warn(n.clone());
        }
        for e in &tl.extra {
            push_other(&mut runs, &mut f, e)?;
        }
    }
    let mut tl = Timeline::new(evidence);
    if !opts.no_snapshots {
        tl.add_snapshots(image, opts.range);
    }
    tl.add_findings(findings, opts.range);
    for n in &tl.notes {
        warn(n.clone());
    }
    for e in &tl.extra {
        push_other(&mut runs, &mut f, e)?;
    }
    let mut head = Vec::new();
    f.header(&mut head);
    out.write_all(&head).map_err(Error::Output)?;
    runs.finish(out)?;
    out.flush().map_err(Error::Output)
}

/// Walks volume `v` in batches (in parallel), formatting the MFT lines of each batch with
/// their keys (the row numbered within the batch) and gathering the index slack and log
/// events, as [`Timeline::add_volume_with`] does; `consume` gets the batches in MFT order.
fn walk_volume(
    v: &NtfsVolume,
    tree: &Arc<Tree>,
    evidence: &str,
    opts: &Options,
    format: TimelineFormat,
    consume: &mut dyn FnMut(Batch) -> bool,
) {
    let range: Range = opts.range;
    let part = v.partition();
    let offset = Some(v.offset());
    let logs = opts
        .sources
        .log_entries
        .then(|| sources::LogWalk::new(v, evidence).isolated(opts.sources.evtx_isolation.clone()));
    v.walk_batches(
        tree,
        |listing| {
            let Ok(mut f) = Formatter::new(format) else {
                return (Vec::new(), Vec::new(), Vec::new());
            };
            let mut lines = Vec::new();
            let mut text: Vec<u8> = Vec::new();
            let mut r = 0u64;
            for i in listing.items() {
                let Some((s, ev)) = super::row_events(&i, part, range) else {
                    continue;
                };
                for (time, source, macb) in ev {
                    let e = Event {
                        time,
                        subject: 0,
                        source,
                        macb,
                    };
                    f.mft(evidence, offset, &s, &e, &mut |k, l| {
                        text.extend_from_slice(l);
                        lines.push((r, e, k, text.len()));
                    });
                }
                r += 1;
            }
            let mut extra = Vec::new();
            if opts.sources.index_slack {
                sources::slack_events(v, &listing, evidence, range, &mut extra);
            }
            if let Some(l) = &logs {
                l.events(&listing, range, &mut extra);
            }
            (lines, text, extra)
        },
        consume,
    );
}
