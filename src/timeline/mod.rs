//! `deadbox timeline`: the `$STANDARD_INFORMATION` and `$FILE_NAME` times of every MFT entry
//! (live and deleted) of every volume, as a TSK bodyfile, Timesketch JSONL, or sorted CSV /
//! JSON lines with `mactime`'s MACB letters.
//!
//! Memory: the bodyfile is streamed in MFT order (it is `mactime`'s input, not sorted). The
//! sorted formats keep one [`Subject`] (path, stream, entry) per file row and one compact
//! 16-byte [`Event`] per distinct time of a row's `$SI` or `$FN` attribute, sort the events and
//! format each line on output: a volume of 400k records (about 500k rows, ~3M events) holds
//! ~50 MB of events plus the rows' paths.

use crate::ntfs::{FileTime, Item, NtfsVolume, StreamKind, Tree};
use crate::volume::VolumeSelect;
use crate::{Error, Image, Result};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

mod around;
mod sources;
mod spill;
mod write;

pub use around::{parse_window, window, Center};
pub use sources::{LogWalk, Sources};
pub use spill::{write_spilled, SpillOptions, DEFAULT_RUN_BYTES, SPILL_ABOVE_RECORDS};
pub use write::{write_events, Merged};

/// The output formats of `deadbox timeline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineFormat {
    /// TSK 3+ bodyfile (`fls -m`), in MFT order: input to `mactime`.
    Bodyfile,
    /// Timesketch JSONL: one line per timestamp, sorted.
    Timesketch,
    /// CSV, sorted, MACB letters merged.
    Csv,
    /// JSON lines, sorted, MACB letters merged.
    Jsonl,
}

/// Which attribute a time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// `$STANDARD_INFORMATION`.
    StdInfo,
    /// `$FILE_NAME`.
    FileName,
}

impl Source {
    /// `$SI` or `$FN`.
    pub fn label(self) -> &'static str {
        match self {
            Source::StdInfo => "$SI",
            Source::FileName => "$FN",
        }
    }
}

/// A row's event before it is numbered: time, attribute, MACB bits.
type RowEvent = (FileTime, Source, u8);

/// The file row an event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Partition number (`None` for a bare volume image).
    pub partition: Option<u32>,
    /// Volume-rooted path.
    pub path: String,
    /// Stream name (`None` for the unnamed stream or a directory).
    pub stream: Option<String>,
    /// MFT entry.
    pub entry: u64,
    /// MFT sequence number.
    pub sequence: u16,
    /// The entry is not in use.
    pub deleted: bool,
}

/// MACB bits of [`Event::macb`]: modified, accessed, changed (MFT modified), born (created).
pub const M: u8 = 1;
/// Accessed.
pub const A: u8 = 2;
/// Changed (MFT entry modified).
pub const C: u8 = 4;
/// Born (created).
pub const B: u8 = 8;

/// One distinct time of one attribute of one row: the times of that attribute that are equal
/// are merged (MACB letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    /// The time.
    pub time: FileTime,
    /// Index of the row in [`Timeline::subjects`].
    pub subject: u32,
    /// The attribute.
    pub source: Source,
    /// Which of the attribute's times have this value ([`M`], [`A`], [`C`], [`B`]).
    pub macb: u8,
}

impl Event {
    /// The letters as `mactime` prints them, e.g. `m.c.`.
    pub fn macb_letters(&self) -> String {
        [(M, 'm'), (A, 'a'), (C, 'c'), (B, 'b')]
            .iter()
            .map(|&(bit, c)| if self.macb & bit != 0 { c } else { '.' })
            .collect()
    }
}

/// What kind of record a [`TimelineEvent`] was read from. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// `$STANDARD_INFORMATION` times of an MFT entry.
    MftSi,
    /// `$FILE_NAME` times of an MFT entry.
    MftFn,
    /// The `$FILE_NAME` copy of a name carved from `$I30` index slack.
    I30Slack,
    /// A USN change journal record.
    Usn,
    /// A shadow copy (its creation time).
    Snapshot,
    /// An entry of a log the assessment reads (text log line or EVTX record).
    Log,
    /// A finding of the scan, at a time it points to.
    Finding,
}

impl EventSource {
    /// The snake_case name used in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::MftSi => "mft_si",
            EventSource::MftFn => "mft_fn",
            EventSource::I30Slack => "i30_slack",
            EventSource::Usn => "usn",
            EventSource::Snapshot => "snapshot",
            EventSource::Log => "log",
            EventSource::Finding => "finding",
        }
    }
}

/// One event of the super-timeline, with the provenance of a finding. This is what the
/// library yields and what the report renders; the compact [`Event`] is how MFT times are
/// held before they are formatted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimelineEvent {
    /// When.
    pub time: FileTime,
    /// What kind of record the time was read from.
    pub source: EventSource,
    /// What the time means (Timesketch's `timestamp_desc`), e.g. `Creation Time ($SI)`,
    /// `USN: FileCreate|Close`, `Log entry`, `Finding: web_shell`.
    pub timestamp_desc: String,
    /// `mactime`'s MACB letters, for MFT events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macb: Option<String>,
    /// One line for a person.
    pub message: String,
    /// Where it was read: evidence, partition, volume offset, path, stream, MFT entry and
    /// sequence, deleted, log line or EVTX record id, snapshot.
    pub location: crate::finding::Location,
    /// For finding events: the finding's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<crate::finding::FindingKind>,
    /// For finding events: the finding's severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::finding::Severity>,
}

/// An inclusive time range; `None` ends are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// Earliest time kept.
    pub from: Option<FileTime>,
    /// Latest time kept.
    pub to: Option<FileTime>,
}

impl Range {
    /// True when `t` is inside.
    pub fn contains(&self, t: FileTime) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t <= e)
    }
}

/// Parses a `--from`/`--to` bound: RFC 3339 UTC (`2021-03-02T04:05:06Z`, fraction optional) or
/// a date `YYYY-MM-DD` (its first instant; with `end_of_day`, its last).
pub fn parse_time(s: &str, end_of_day: bool) -> Result<FileTime> {
    let bad = || Error::Invalid(format!("{s:?}: expected RFC 3339 UTC or YYYY-MM-DD"));
    if s.len() == 10 {
        let t = if end_of_day {
            "T23:59:59.9999999Z"
        } else {
            "T00:00:00Z"
        };
        return FileTime::parse_rfc3339(&format!("{s}{t}")).ok_or_else(bad);
    }
    FileTime::parse_rfc3339(s).ok_or_else(bad)
}

/// At most this many events of the other sources (findings, USN, snapshots, logs, index
/// slack) are held; a note says when the cap was reached and what was left out.
pub const MAX_EXTRA_EVENTS: usize = 4_000_000;

/// The events of some volumes and the rows they point to: the MFT's as compact [`Event`]s
/// over [`Subject`]s, the other sources' as full [`TimelineEvent`]s.
#[derive(Debug, Default)]
pub struct Timeline {
    /// The rows.
    pub subjects: Vec<Subject>,
    /// The MFT events, sorted by time (then row, then attribute) after [`Timeline::sort`].
    pub events: Vec<Event>,
    /// The events of the other sources, sorted by time after [`Timeline::sort`].
    pub extra: Vec<TimelineEvent>,
    /// The evidence as every event's location names it.
    pub evidence: String,
    /// What was not read or was cut, one line each (a volume without a USN journal, a cap
    /// reached).
    pub notes: Vec<String>,
    /// Partition and byte offset of each volume added.
    volumes: Vec<(Option<u32>, u64)>,
}

/// The four times of an attribute as MACB events with equal times merged; zero times left out
/// (`mactime` leaves them out too).
fn merged(times: &[FileTime; 4], range: Range) -> impl Iterator<Item = (FileTime, u8)> {
    // times: created, modified, MFT modified, accessed.
    let bits = [B, M, C, A];
    let mut out: Vec<(FileTime, u8)> = Vec::with_capacity(4);
    for (t, bit) in times.iter().zip(bits) {
        if t.is_zero() || !range.contains(*t) {
            continue;
        }
        match out.iter_mut().find(|(u, _)| u == t) {
            Some((_, b)) => *b |= bit,
            None => out.push((*t, bit)),
        }
    }
    out.into_iter()
}

/// The MFT events of one row inside `range` (its `$SI` times, and its name's `$FN` times on
/// the row that carries the name), with the row; `None` when it has none.
pub(crate) fn row_events(
    i: &Item,
    partition: Option<u32>,
    range: Range,
) -> Option<(Subject, Vec<RowEvent>)> {
    let mut ev = Vec::new();
    if let Some(si) = &i.file.si {
        ev.extend(merged(&si.times, range).map(|(t, b)| (t, Source::StdInfo, b)));
    }
    if let (Some(n), true) = (i.name, carries_name(i)) {
        ev.extend(merged(&n.times, range).map(|(t, b)| (t, Source::FileName, b)));
    }
    if ev.is_empty() {
        return None;
    }
    let s = Subject {
        partition,
        path: i.path().to_string(),
        stream: i.stream_name().map(str::to_string),
        entry: i.file.entry,
        sequence: i.file.sequence,
        deleted: i.file.deleted,
    };
    Some((s, ev))
}

/// True for the row that carries an entry name's `$FILE_NAME` times: the directory row, or
/// the first stream (or the only row) of a file.
fn carries_name(i: &Item) -> bool {
    if i.file.is_dir {
        i.is_dir_row
    } else {
        i.stream_index().is_none_or(|k| k == 0)
    }
}

impl Timeline {
    /// An empty timeline of the evidence named `evidence` (as locations will name it).
    pub fn new(evidence: &str) -> Self {
        Timeline {
            evidence: evidence.to_string(),
            ..Timeline::default()
        }
    }

    /// Adds the `$SI` and `$FN` events of volume `v` (its namespace `tree`, from
    /// [`NtfsVolume::tree`]) inside `range`.
    pub fn add_volume(&mut self, v: &NtfsVolume, tree: &Arc<Tree>, range: Range) {
        self.add_volume_with(v, tree, range, Sources::default());
    }

    /// [`Timeline::add_volume`], and in the same walk the names of the `$I30` index slack
    /// and every entry of the logs the assessment reads, as `sources` asks.
    pub fn add_volume_with(
        &mut self,
        v: &NtfsVolume,
        tree: &Arc<Tree>,
        range: Range,
        sources: Sources,
    ) {
        let part = v.partition();
        self.note_volume(v);
        let logs = sources.log_entries.then(|| {
            sources::LogWalk::new(v, &self.evidence).isolated(sources.evtx_isolation.clone())
        });
        let evidence = self.evidence.clone();
        v.walk_batches(
            tree,
            |listing| {
                let mut rows: Vec<(Subject, Vec<RowEvent>)> = Vec::new();
                for i in listing.items() {
                    let Some((s, ev)) = row_events(&i, part, range) else {
                        continue;
                    };
                    rows.push((s, ev));
                }
                let mut extra = Vec::new();
                if sources.index_slack {
                    sources::slack_events(v, &listing, &evidence, range, &mut extra);
                }
                if let Some(l) = &logs {
                    l.events(&listing, range, &mut extra);
                }
                (rows, extra)
            },
            |(rows, extra)| {
                for e in extra {
                    self.push_extra(e);
                }
                for (s, ev) in rows {
                    let subject = self.subjects.len() as u32;
                    self.subjects.push(s);
                    self.events
                        .extend(ev.into_iter().map(|(time, source, macb)| Event {
                            time,
                            subject,
                            source,
                            macb,
                        }));
                }
                true
            },
        );
    }

    /// Sorts the MFT events by time, then row, then attribute, and the other events by time.
    pub fn sort(&mut self) {
        self.events.sort_unstable();
        self.extra.sort_by(|a, b| {
            (a.time, a.source, &a.location.path).cmp(&(b.time, b.source, &b.location.path))
        });
    }

    /// Holds one event of another source; past [`MAX_EXTRA_EVENTS`] it is dropped, and the
    /// first drop is noted.
    pub fn push_extra(&mut self, e: TimelineEvent) {
        if self.extra.len() < MAX_EXTRA_EVENTS {
            self.extra.push(e);
        } else if !self.notes.iter().any(|n| n.starts_with("event cap")) {
            self.notes.push(format!(
                "event cap: more than {MAX_EXTRA_EVENTS} events of findings, USN, snapshots, \
                 logs and index slack; the later ones are left out (narrow --from/--to)"
            ));
        }
    }

    fn note_volume(&mut self, v: &NtfsVolume) {
        let k = (v.partition(), v.offset());
        if !self.volumes.contains(&k) {
            self.volumes.push(k);
        }
    }

    /// The byte offset of the volume of `partition`.
    fn offset_of(&self, partition: Option<u32>) -> Option<u64> {
        self.volumes
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, o)| *o)
    }

    /// The typed event of a compact MFT event.
    pub fn mft_event(&self, e: &Event) -> TimelineEvent {
        let s = &self.subjects[e.subject as usize];
        mft_event_of(&self.evidence, self.offset_of(s.partition), s, e)
    }

    /// Every event, MFT and other sources merged in time order (call [`Timeline::sort`]
    /// first), as typed events built one at a time.
    pub fn iter(&self) -> impl Iterator<Item = TimelineEvent> + '_ {
        self.merged().map(|r| match r {
            Merged::Mft(e) => self.mft_event(e),
            Merged::Other(e) => e.clone(),
        })
    }

    /// The number of events (MFT and other sources).
    pub fn len(&self) -> usize {
        self.events.len() + self.extra.len()
    }

    /// True when there is no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The events merged by time, borrowed (MFT first on equal times).
    pub(crate) fn merged(&self) -> impl Iterator<Item = Merged<'_>> + '_ {
        let mut a = self.events.iter().peekable();
        let mut b = self.extra.iter().peekable();
        std::iter::from_fn(move || match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.time <= y.time => a.next().map(Merged::Mft),
            (Some(_), Some(_)) | (None, Some(_)) => b.next().map(Merged::Other),
            (Some(_), None) => a.next().map(Merged::Mft),
            (None, None) => None,
        })
    }
}

/// The names each directory's `$I30` index holds, as (child entry, hash of the name): live
/// entries, and the keys carved from index slack (a deleted file's old entry), read on first
/// use and kept for the walk (16 bytes and a set slot per name). TSK lists a file whose name
/// is missing from its parent's index through the MFT's parent link, with the name type
/// unknown (`-`): a live file so listed has a damaged index or an entry removed to hide it
/// from directory listings; a deleted one has no old key left in the index. deadbox's
/// bodyfile does the same.
#[derive(Default)]
struct DirNames {
    live: std::collections::HashSet<(u64, u64)>,
    slack: std::collections::HashSet<(u64, u64)>,
}

/// TSK's sanity check of an index entry outside the used part of a node (a deleted file's
/// old key): its creation, modification and access times must fall between 1970 and 2020
/// (TSK's `is_time`, at a granularity of 100 s); other keys it skips, and lists the deleted
/// file through the MFT alone (name type `-`).
fn tsk_accepts(e: &crate::ntfs::IndexEntry) -> bool {
    const FROM: u64 = (369 * 365 + 89) * 24 * 36;
    const TO: u64 = FROM + (50 * 365 + 6) * 24 * 36;
    let [created, modified, _, accessed] = e.name.times;
    [created, accessed, modified].iter().all(|t| {
        let t = t.ticks() / 1_000_000_000;
        t != 0 && (FROM..=TO).contains(&t)
    })
}

struct IndexedNames<'v> {
    vol: &'v NtfsVolume,
    /// Per parent entry, its names once read (`None`: not a readable directory). A cell per
    /// parent, so that workers asking for the same directory at once read its index once.
    dirs: std::sync::Mutex<std::collections::HashMap<u64, DirCell>>,
}

/// The names of one parent's index, read once (`None`: not a readable directory).
type DirCell = Arc<OnceLock<Option<Arc<DirNames>>>>;

impl<'v> IndexedNames<'v> {
    fn new(vol: &'v NtfsVolume) -> Self {
        IndexedNames {
            vol,
            dirs: Default::default(),
        }
    }

    fn hash(name: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        h.finish()
    }

    /// The names of directory `parent`'s index; `None` when it cannot be read as a directory
    /// (nothing to compare with: not flagged).
    fn of(&self, parent: u64) -> Option<Arc<DirNames>> {
        let cell = self.dirs.lock().ok()?.entry(parent).or_default().clone();
        cell.get_or_init(|| self.read(parent)).clone()
    }

    /// Reads the names of directory `parent`'s index.
    fn read(&self, parent: u64) -> Option<Arc<DirNames>> {
        let dir = self.vol.file(parent).ok().filter(|d| d.is_dir)?;
        let ix = self.vol.dir_index(&dir);
        let key = |e: &crate::ntfs::IndexEntry| (e.entry, Self::hash(&e.name.name));
        let d = Arc::new(DirNames {
            live: ix.entries.iter().map(key).collect(),
            slack: ix
                .slack
                .iter()
                .filter(|e| tsk_accepts(e))
                .map(key)
                .collect(),
        });
        Some(d)
    }

    /// True when the parent's index lists `child` under `name`: a live entry for a live file,
    /// a live entry or a slack key for a deleted one.
    fn lists(&self, parent: u64, child: u64, name: &str, deleted: bool) -> bool {
        let Some(d) = self.of(parent) else {
            return true;
        };
        let k = (child, Self::hash(name));
        d.live.contains(&k) || (deleted && d.slack.contains(&k))
    }
}

/// Mode text as `fls -m` writes it for NTFS: the name's type (`r` file, `d` directory; `-`
/// when the parent's index does not list the name, see [`IndexedNames`]), `/`, the entry's
/// type and permissions (write bits cleared for read-only or system files).
fn mode(i: &Item, indexed: &IndexedNames) -> [u8; 12] {
    let t = if i.file.is_dir { b'd' } else { b'r' };
    let listed = i
        .name
        .is_some_and(|n| indexed.lists(n.parent_entry, i.file.entry, &n.name, i.file.deleted));
    let n = if listed { t } else { b'-' };
    let attrs = i.file.si.map_or(0, |s| s.attributes);
    let perm = if attrs & 0x1 != 0 || attrs & 0x4 != 0 {
        b"r-xr-xr-x"
    } else {
        b"rwxrwxrwx"
    };
    let mut m = [0u8; 12];
    m[0] = n;
    m[1] = b'/';
    m[2] = t;
    m[3..].copy_from_slice(perm);
    m
}

fn unix(t: FileTime) -> i64 {
    if t.is_zero() {
        0
    } else {
        t.unix_seconds()
    }
}

/// Appends `v` in decimal (the bodyfile and JSON lines write millions of numbers: no
/// formatter).
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut t = [0u8; 20];
    let mut i = t.len();
    loop {
        i -= 1;
        t[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&t[i..]);
}

/// [`push_u64`] with a sign.
fn push_num(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// `atime|mtime|ctime|crtime` of times in NTFS order (created, modified, MFT modified,
/// accessed).
fn push_body_times(out: &mut Vec<u8>, t: &[FileTime; 4]) {
    for (k, i) in [3usize, 1, 2, 0].into_iter().enumerate() {
        if k > 0 {
            out.push(b'|');
        }
        push_num(out, unix(t[i]));
    }
}

/// The bodyfile lines of one row, as `fls -r -m /` writes them (see README "Timeline" for
/// what differs): the `$FILE_NAME` line of the name, then the stream's (or directory's) line
/// with the `$STANDARD_INFORMATION` times. The root directory and live records without a
/// name (reserved entries 12-15 and the like) are left out, as `fls -r` leaves them out; a
/// deleted record without a name is `/$OrphanFiles/OrphanFile-N` with inode `N`.
fn body_lines(i: &Item, mount: &str, range: Range, indexed: &IndexedNames, out: &mut Vec<u8>) {
    let f = i.file;
    if f.entry == 5 || (i.name.is_none() && !f.deleted) {
        return;
    }
    let del: &[u8] = if f.deleted { b" (deleted)" } else { b"" };
    let uid = i64::from(f.si.and_then(|s| s.owner_id).unwrap_or(0));
    let in_range = |t: &[FileTime; 4]| t.iter().any(|t| range.contains(*t));
    let mode = mode(i, indexed);
    // `|mode|uid|0|size|times\n`: the end of every line.
    let tail = |out: &mut Vec<u8>, size: u64, times: &[FileTime; 4]| {
        out.push(b'|');
        out.extend_from_slice(&mode);
        out.push(b'|');
        push_num(out, uid);
        out.extend_from_slice(b"|0|");
        push_num(out, size as i64);
        out.push(b'|');
        push_body_times(out, times);
        out.push(b'\n');
    };
    let Some(n) = i.name else {
        // An orphan: TSK lists it by entry number under its virtual $OrphanFiles folder.
        if let Some(si) = f.si.filter(|s| in_range(&s.times)) {
            out.extend_from_slice(b"0|");
            out.extend_from_slice(mount.as_bytes());
            out.extend_from_slice(b"/$OrphanFiles/OrphanFile-");
            push_num(out, f.entry as i64);
            out.extend_from_slice(del);
            out.push(b'|');
            push_num(out, f.entry as i64);
            tail(out, i.size(), &si.times);
        }
        return;
    };
    // TSK's virtual folder for entries whose parent is gone is $OrphanFiles.
    let p = i.path();
    let push_path = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"0|");
        out.extend_from_slice(mount.as_bytes());
        match p.strip_prefix("/$Orphan/") {
            Some(rest) => {
                out.extend_from_slice(b"/$OrphanFiles/");
                out.extend_from_slice(rest.as_bytes());
            }
            None => out.extend_from_slice(p.as_bytes()),
        }
    };
    // fls writes, for every name of a file, the last $FILE_NAME attribute of its record.
    let n = f.names.last().unwrap_or(n);
    if carries_name(i) && in_range(&n.times) {
        let size = 66 + 2 * n.name.encode_utf16().count() as u64;
        push_path(out);
        out.extend_from_slice(b" ($FILE_NAME)");
        out.extend_from_slice(del);
        out.push(b'|');
        push_num(out, f.entry as i64);
        out.extend_from_slice(b"-48-");
        push_num(out, i64::from(n.attr_id));
        tail(out, size, &n.times);
    }
    let Some(si) = &f.si else { return };
    if !in_range(&si.times) {
        return;
    }
    let (stream, ty, size, id) = match (i.stream, i.is_dir_row) {
        (_, true) => (
            None,
            144,
            f.index_root_size().unwrap_or(0),
            f.index_root_id().unwrap_or(0),
        ),
        (Some(s), _) => {
            let ty = if s.kind == StreamKind::IndexRoot {
                144
            } else {
                128
            };
            (s.name.as_deref(), ty, s.size, s.attr_id)
        }
        (None, _) => (None, 128, 0, 0),
    };
    push_path(out);
    if let Some(st) = stream {
        out.push(b':');
        out.extend_from_slice(st.as_bytes());
    }
    out.extend_from_slice(del);
    out.push(b'|');
    push_num(out, f.entry as i64);
    out.push(b'-');
    push_num(out, ty);
    out.push(b'-');
    push_num(out, i64::from(id));
    tail(out, size, &si.times);
}

/// Writes the bodyfile of volume `v` (MFT order) to `out`. Paths are mounted at `/` for a
/// bare volume, at `/partitionN` for partition N of a disk (as `fls -m /partitionN`).
pub fn write_bodyfile(
    v: &NtfsVolume,
    tree: &Arc<Tree>,
    range: Range,
    out: &mut dyn Write,
) -> Result<()> {
    let mount = v
        .partition()
        .map(|p| format!("/partition{p}"))
        .unwrap_or_default();
    let mut err = None;
    let indexed = IndexedNames::new(v);
    v.walk_batches(
        tree,
        |listing| {
            let mut b = Vec::with_capacity(listing.files.len() * 200);
            for i in listing.items() {
                body_lines(&i, &mount, range, &indexed, &mut b);
            }
            b
        },
        |b| match out.write_all(&b) {
            Ok(()) => true,
            Err(e) => {
                err = Some(Error::Output(e));
                false
            }
        },
    );
    err.map_or(Ok(()), Err)
}

/// The typed event of MFT event `e` of row `s` on the volume at `offset` of `evidence`.
pub(crate) fn mft_event_of(
    evidence: &str,
    offset: Option<u64>,
    s: &Subject,
    e: &Event,
) -> TimelineEvent {
    let mut location = crate::finding::Location::new(
        evidence,
        s.partition,
        offset,
        &s.path,
        Some((s.entry, s.sequence, s.deleted)),
    );
    location.stream = s.stream.clone();
    TimelineEvent {
        time: e.time,
        source: match e.source {
            Source::StdInfo => EventSource::MftSi,
            Source::FileName => EventSource::MftFn,
        },
        timestamp_desc: write::macb_desc(e.macb, e.source),
        macb: Some(e.macb_letters()),
        message: write::mft_message(s),
        location,
        finding: None,
        severity: None,
    }
}

/// What [`build`] reads besides the MFT times of every volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Times kept.
    pub range: Range,
    /// Sources read in the MFT walk (index slack, every log entry).
    pub sources: Sources,
    /// Leave out the USN change journals.
    pub no_usn: bool,
    /// Leave out the shadow copies' creation times.
    pub no_snapshots: bool,
}

/// The timeline of every NTFS volume of `image` (named `evidence` in locations): MFT times,
/// USN records, shadow copies, index slack and log entries as `opts` asks, and `findings` at
/// the times they point to, sorted. The image's and each namespace's diagnostics (what could
/// not be read) go to `warn`, prefixed with the partition; so do the timeline's notes (a
/// volume without a journal, a cap reached).
pub fn build(
    image: &Image,
    evidence: &str,
    opts: &Options,
    findings: &[crate::finding::Finding],
    warn: &mut dyn FnMut(String),
) -> Timeline {
    for d in image.diagnostics() {
        warn(d.to_string());
    }
    let mut tl = Timeline::new(evidence);
    for v in image.volumes() {
        let tree = v.shared_tree();
        let part = crate::output::volume_prefix(v);
        for d in tree.diagnostics() {
            warn(format!("{part}{}", d.message));
        }
        tl.add_volume_with(v, &tree, opts.range, opts.sources.clone());
        if !opts.no_usn && !v.is_loose_mft() {
            tl.add_usn(v, &tree, opts.range);
        }
    }
    if !opts.no_snapshots {
        tl.add_snapshots(image, opts.range);
    }
    tl.add_findings(findings, opts.range);
    tl.sort();
    for n in &tl.notes {
        warn(n.clone());
    }
    tl
}

/// `deadbox timeline`: the timeline of the image at `path` in `format`. A bodyfile holds the
/// MFT times only (as `fls -m` writes it) and is streamed; the other formats are [`build`]'s
/// sorted events with `findings` merged in.
pub fn print_timeline(
    path: &Path,
    sel: VolumeSelect,
    format: TimelineFormat,
    opts: &Options,
    findings: &[crate::finding::Finding],
    out: &mut dyn Write,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let image = Image::open(path, sel)?;
    print_image_timeline(&image, format, opts, findings, out, warn)
}

/// [`print_timeline`] of an image the caller opened (and perhaps scanned: the volumes'
/// namespaces are shared); locations name [`Image::path`].
pub fn print_image_timeline(
    image: &Image,
    format: TimelineFormat,
    opts: &Options,
    findings: &[crate::finding::Finding],
    out: &mut dyn Write,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    print_image_timeline_with(image, format, opts, findings, None, out, warn)
}

/// [`print_image_timeline`] choosing how the sorted formats are sorted: with `spill` given,
/// in runs of `spill.run_bytes` spilled to `spill.dir` ([`write_spilled`]); without, in
/// memory ([`build`]) unless the image's volumes hold more than [`SPILL_ABOVE_RECORDS`] MFT
/// records (then spilled with the default [`SpillOptions`]). Both write the same bytes.
pub fn print_image_timeline_with(
    image: &Image,
    format: TimelineFormat,
    opts: &Options,
    findings: &[crate::finding::Finding],
    spill: Option<&SpillOptions>,
    out: &mut dyn Write,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let path = image.path();
    let records: u64 = image.volumes().iter().map(|v| v.record_count()).sum();
    let default = SpillOptions::default();
    let spill = spill.or((records > SPILL_ABOVE_RECORDS).then_some(&default));
    if let (Some(sp), false) = (spill, format == TimelineFormat::Bodyfile) {
        return write_spilled(image, opts, findings, format, sp, out, warn);
    }
    if format == TimelineFormat::Bodyfile {
        for d in image.diagnostics() {
            warn(d.to_string());
        }
        for v in image.volumes() {
            let tree = v.shared_tree();
            let part = crate::output::volume_prefix(v);
            for d in tree.diagnostics() {
                warn(format!("{part}{}", d.message));
            }
            write_bodyfile(v, &tree, opts.range, out)?;
        }
    } else {
        let tl = build(image, &path.display().to_string(), opts, findings, warn);
        write_events(&tl, format, out)?;
    }
    out.flush().map_err(Error::Output)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_and_a_date_covers_its_day() {
        let from = parse_time("2021-03-02", false).unwrap();
        let to = parse_time("2021-03-02", true).unwrap();
        assert_eq!(from.to_string(), "2021-03-02T00:00:00.0000000Z");
        assert_eq!(to.to_string(), "2021-03-02T23:59:59.9999999Z");
        let t = parse_time("2021-03-02T04:05:06.5Z", false).unwrap();
        let r = Range {
            from: Some(from),
            to: Some(to),
        };
        assert!(r.contains(t) && r.contains(from) && r.contains(to));
        assert!(!r.contains(FileTime(to.ticks() + 1)));
        assert!(parse_time("2021-13-02", false).is_err());
        assert!(parse_time("now", true).is_err());
    }

    #[test]
    fn equal_times_merge_into_macb_letters() {
        let (a, b) = (FileTime(10), FileTime(20));
        // created, modified, MFT modified, accessed
        let ev: Vec<(FileTime, u8)> = merged(&[a, b, a, FileTime(0)], Range::default()).collect();
        assert_eq!(ev, [(a, B | C), (b, M)]);
        let letters = |macb| {
            Event {
                time: a,
                subject: 0,
                source: Source::StdInfo,
                macb,
            }
            .macb_letters()
        };
        assert_eq!(letters(B | C), "..cb");
        assert_eq!(letters(M | A | C | B), "macb");
        let only_b = Range {
            from: Some(b),
            to: None,
        };
        assert_eq!(
            merged(&[a, b, a, b], only_b).collect::<Vec<_>>(),
            [(b, M | A)]
        );
    }
}
