//! Printers: findings, `ls`/`hash` rows and the `info`/`verify` documents as JSON lines, one
//! JSON document, CSV or an aligned table — what the `deadbox` binary prints, for any program
//! that wants the same output (like ripgrep's `grep-printer`).
//!
//! - [`FindingPrinter`] is a [`FindingSink`]: give it to a scan and it prints as findings come.
//! - [`RowWriter`] with [`list_volume`] / [`hash_volume`] streams a volume's rows in MFT order
//!   while the walk runs (memory does not hold the listing).
//! - [`ImageInfo`] and [`VerifyInfo`] are the typed `info` and `verify` documents.
//!
//! # CSV and spreadsheets
//! CSV is written with the `csv` crate (quoting per RFC 4180). Names in an image are chosen by
//! whoever controlled the machine, and a spreadsheet runs a cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return as a formula (CSV injection). Every such cell is written with
//! a leading `'` ([`csv_cell`]): `=cmd|' /C calc'!A0.aspx` becomes `'=cmd|' /C calc'!A0.aspx`,
//! shown as text. Consumers that need the raw value use JSON lines.
//!
//! All writers return [`Error::Output`] when the output fails (a closed pipe too: check
//! [`std::io::Error::kind`] for `BrokenPipe`).

use crate::error::{Error, Result};
use crate::finding::{Finding, Severity};
use crate::hash::Algorithms;
use crate::ntfs::{Listing, NtfsVolume, Tree};
use crate::rows::{FileRow, HashRow};
use crate::scan::{FindingSink, Progress, SinkResult};
use serde::Serialize;
use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One JSON object per line (the default when stdout is not a terminal).
    Jsonl,
    /// One JSON document: an array of findings; for rows, one array per volume.
    Json,
    /// CSV with a header row, formula cells defused ([`csv_cell`]).
    Csv,
    /// Aligned text for a terminal.
    Table,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" => Ok(Format::Jsonl),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "table" => Ok(Format::Table),
            _ => Err(Error::Invalid(format!(
                "unknown format {s:?} (jsonl, json, csv, table)"
            ))),
        }
    }
}

fn out_err(e: std::io::Error) -> Error {
    Error::Output(e)
}

/// A CSV cell as written: text a spreadsheet would run as a formula (starting with `=`, `+`,
/// `-`, `@`, tab or carriage return) gets a leading `'`; anything else is unchanged. Quoting is
/// left to the CSV writer.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Writes one CSV record (defused cells, RFC 4180 quoting) to `out`.
fn csv_record<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    w.write_record(cells.into_iter().map(|c| csv_cell(c).into_owned()))
        .map_err(|e| Error::Output(std::io::Error::other(e)))?;
    w.flush().map_err(out_err)
}

// ---------------------------------------------------------------------------------------------
// Findings

/// Prints findings as they come: JSON lines, CSV and table at once; JSON as one array when the
/// scan finishes.
pub struct FindingPrinter<W: Write> {
    out: W,
    format: Format,
    all: Vec<Finding>,
    header_done: bool,
}

impl<W: Write> FindingPrinter<W> {
    /// A printer writing `format` to `out`.
    pub fn new(out: W, format: Format) -> Self {
        FindingPrinter {
            out,
            format,
            all: Vec::new(),
            header_done: false,
        }
    }

    /// The writer back (flushed by [`FindingSink::finish`]).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The columns of the CSV output.
    pub const CSV_COLUMNS: [&'static str; 18] = [
        "kind",
        "severity",
        "title",
        "evidence",
        "partition",
        "path",
        "stream",
        "mft_entry",
        "mft_sequence",
        "deleted",
        "line",
        "size",
        "md5",
        "sha1",
        "sha256",
        "rule",
        "snapshot",
        "snapshots",
    ];

    fn write(&mut self, f: &Finding) -> std::io::Result<()> {
        let loc = &f.location;
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, f)?;
                writeln!(self.out)
            }
            Format::Json => {
                self.all.push(f.clone());
                Ok(())
            }
            Format::Csv => {
                let mut buf = Vec::new();
                let io = |e: Error| match e {
                    Error::Output(e) => e,
                    e => std::io::Error::other(e.to_string()),
                };
                if !std::mem::replace(&mut self.header_done, true) {
                    csv_record(&mut buf, Self::CSV_COLUMNS).map_err(io)?;
                }
                let file = f.file.as_ref();
                let opt = |v: Option<String>| v.unwrap_or_default();
                let cols = [
                    kind_name(f),
                    f.severity.to_string(),
                    f.title.clone(),
                    loc.evidence.clone(),
                    opt(loc.partition.map(|p| p.to_string())),
                    loc.path.clone(),
                    opt(loc.stream.clone()),
                    opt(loc.mft_entry.map(|p| p.to_string())),
                    opt(loc.mft_sequence.map(|p| p.to_string())),
                    loc.deleted.to_string(),
                    opt(loc.line.or(loc.record_id).map(|p| p.to_string())),
                    opt(file.map(|x| x.size.to_string())),
                    opt(file.and_then(|x| x.md5.clone())),
                    opt(file.and_then(|x| x.sha1.clone())),
                    opt(file.and_then(|x| x.sha256.clone())),
                    opt(f
                        .rule
                        .as_ref()
                        .map(|r| format!("{}:{}", r.namespace, r.name))),
                    opt(loc.snapshot.map(|n| n.to_string())),
                    loc.snapshots
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join("|"),
                ];
                csv_record(&mut buf, cols.iter().map(String::as_str)).map_err(io)?;
                self.out.write_all(&buf)
            }
            Format::Table => {
                let entry = loc
                    .mft_entry
                    .map(|e| format!(" [entry {e}{}]", if loc.deleted { ", deleted" } else { "" }))
                    .unwrap_or_default();
                let line = loc.line.map(|l| format!(" line {l}")).unwrap_or_default()
                    + &loc
                        .snapshot
                        .map(|n| format!(" (snapshot {n})"))
                        .unwrap_or_default();
                let stream = loc
                    .stream
                    .as_deref()
                    .map(|s| format!(":{s}"))
                    .unwrap_or_default();
                writeln!(
                    self.out,
                    "{:<8} {:<24} {}{stream}{line}{entry}\n         {}",
                    f.severity.as_str().to_uppercase(),
                    kind_name(f),
                    loc.path,
                    f.title
                )
            }
        }
    }
}

/// The finding kind as serialised (`yara_match`, …).
fn kind_name(f: &Finding) -> String {
    serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl<W: Write> FindingSink for FindingPrinter<W> {
    fn finding(&mut self, f: Finding) -> SinkResult {
        Ok(self.write(&f)?)
    }
    fn finish(&mut self) -> SinkResult {
        if self.format == Format::Json {
            serde_json::to_writer_pretty(&mut self.out, &self.all).map_err(std::io::Error::from)?;
            writeln!(self.out)?;
            self.all.clear();
        }
        Ok(self.out.flush()?)
    }
}

/// The exit code the `deadbox scan` contract gives a highest severity: 1 when something of
/// severity medium or above was found, else 0 (2, unreadable evidence, is the caller's).
pub fn exit_code(max_severity: Option<Severity>) -> u8 {
    u8::from(max_severity >= Some(Severity::Medium))
}

// ---------------------------------------------------------------------------------------------
// Rows

/// A row `ls` or `hash` prints.
pub trait Row: Serialize {
    /// Appends the row's JSON line (the same bytes as `serde_json`, faster: listings write
    /// millions).
    fn write_jsonl(&self, out: &mut Vec<u8>);
    /// The row as a table line.
    fn table_line(&self) -> String;
    /// The table's header line.
    fn table_header() -> String;
}

fn table_time(t: &Option<crate::finding::Times>) -> String {
    t.as_ref()
        .map(|t| t.modified.to_string().chars().take(19).collect())
        .unwrap_or_else(|| "-".into())
}

impl Row for FileRow {
    fn write_jsonl(&self, out: &mut Vec<u8>) {
        FileRow::write_jsonl(self, out)
    }
    fn table_line(&self) -> String {
        let r = self;
        format!(
            "{:>4} {:>8} {:>5} {:>4} {:>12} {:<19} {}{}{}",
            r.partition
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            r.mft_entry,
            r.mft_sequence,
            if r.source.to_string() == "i30_slack" {
                "$I30"
            } else if r.deleted {
                "*"
            } else {
                ""
            },
            if r.is_dir {
                "<dir>".to_string()
            } else {
                r.size.to_string()
            },
            table_time(&r.si),
            r.path,
            r.stream
                .as_deref()
                .map(|s| format!(":{s}"))
                .unwrap_or_default(),
            if r.is_dir && r.path != "/" { "/" } else { "" }
        )
    }
    fn table_header() -> String {
        format!(
            "{:>4} {:>8} {:>5} {:>4} {:>12} {:<19} path",
            "part", "entry", "seq", "del", "size", "modified (SI)"
        )
    }
}

impl Row for HashRow {
    fn write_jsonl(&self, out: &mut Vec<u8>) {
        HashRow::write_jsonl(self, out)
    }
    fn table_line(&self) -> String {
        format!(
            "{:<64} {:>12} {:>8} {}{}",
            self.sha256
                .as_deref()
                .or(self.md5.as_deref())
                .unwrap_or("-"),
            self.row.size,
            self.row.mft_entry,
            self.row.display_path(),
            if self.row.deleted { " (deleted)" } else { "" }
        )
    }
    fn table_header() -> String {
        format!("{:<64} {:>12} {:>8} path", "sha256", "size", "entry")
    }
}

/// Rows formatted (on a worker thread) for a [`RowWriter`]: the text, and for CSV the header
/// its first row gives.
#[derive(Debug, Default)]
pub struct Chunk {
    csv_header: Option<Vec<u8>>,
    body: Vec<u8>,
    rows: usize,
}

/// Formats `rows` for `format` (JSON elements indented for the array [`RowWriter`] wraps them
/// in; CSV columns are the JSON fields, nested objects flattened as `si_created`, arrays joined
/// by `|`).
pub fn format_rows<T: Row>(format: Format, rows: &[T]) -> Result<Chunk> {
    let mut body = Vec::with_capacity(rows.len() * 512);
    let mut csv_header = None;
    for (i, r) in rows.iter().enumerate() {
        match format {
            Format::Table => {
                body.extend_from_slice(r.table_line().as_bytes());
                body.push(b'\n');
            }
            Format::Jsonl => r.write_jsonl(&mut body),
            Format::Json => {
                if i > 0 {
                    body.extend_from_slice(b",\n");
                }
                let pretty =
                    serde_json::to_string_pretty(r).map_err(|e| Error::Output(e.into()))?;
                for (k, line) in pretty.lines().enumerate() {
                    if k > 0 {
                        body.push(b'\n');
                    }
                    body.extend_from_slice(b"  ");
                    body.extend_from_slice(line.as_bytes());
                }
            }
            Format::Csv => {
                let mut cols = Vec::new();
                let v = serde_json::to_value(r).map_err(|e| Error::Output(e.into()))?;
                flatten("", &v, &mut cols);
                if csv_header.is_none() {
                    let mut h = Vec::new();
                    csv_record(&mut h, cols.iter().map(|(k, _)| k.as_str()))?;
                    csv_header = Some(h);
                }
                csv_record(&mut body, cols.iter().map(|(_, v)| v.as_str()))?;
            }
        }
    }
    Ok(Chunk {
        csv_header,
        body,
        rows: rows.len(),
    })
}

/// Flattens a JSON row into (column, text) pairs: objects as `parent_child`, arrays joined by
/// `|`, null as an empty field.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}_{k}")
                };
                match x {
                    // A missing time object still gives its four columns.
                    Value::Null if k == "si" || k == "fn" => {
                        for t in ["created", "modified", "mft_modified", "accessed"] {
                            out.push((format!("{key}_{t}"), String::new()));
                        }
                    }
                    _ => flatten(&key, x, out),
                }
            }
        }
        Value::Array(a) => out.push((
            prefix.to_string(),
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join("|"),
        )),
        Value::Null => out.push((prefix.to_string(), String::new())),
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// Writes formatted chunks in order: the table header once, the CSV header with the first row,
/// one JSON array per volume.
pub struct RowWriter<W: Write> {
    out: W,
    format: Format,
    table_header: String,
    header_done: bool,
    /// Rows written in the current volume's JSON array.
    in_volume: usize,
}

impl<W: Write> RowWriter<W> {
    /// A writer of rows of type `T` in `format` to `out`.
    pub fn new<T: Row>(out: W, format: Format) -> Self {
        RowWriter {
            out,
            format,
            table_header: T::table_header(),
            header_done: false,
            in_volume: 0,
        }
    }

    /// The format written.
    pub fn format(&self) -> Format {
        self.format
    }

    /// A volume's rows start.
    pub fn begin_volume(&mut self) -> Result<()> {
        self.in_volume = 0;
        if self.format == Format::Table && !self.header_done {
            self.header_done = true;
            writeln!(self.out, "{}", self.table_header).map_err(out_err)?;
        }
        Ok(())
    }

    /// Writes a chunk of rows.
    pub fn chunk(&mut self, c: &Chunk) -> Result<()> {
        if c.rows == 0 {
            return Ok(());
        }
        match self.format {
            Format::Csv => {
                if let (false, Some(h)) = (self.header_done, &c.csv_header) {
                    self.header_done = true;
                    self.out.write_all(h).map_err(out_err)?;
                }
            }
            Format::Json => self
                .out
                .write_all(if self.in_volume == 0 { b"[\n" } else { b",\n" })
                .map_err(out_err)?,
            _ => {}
        }
        self.in_volume += c.rows;
        self.out.write_all(&c.body).map_err(out_err)
    }

    /// A volume's rows are over.
    pub fn end_volume(&mut self) -> Result<()> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.in_volume == 0 {
                    b"[]\n"
                } else {
                    b"\n]\n"
                })
                .map_err(out_err)?;
        }
        Ok(())
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> Result<W> {
        self.out.flush().map_err(out_err)?;
        Ok(self.out)
    }
}

/// Streams a volume's MFT through `rows` (on the worker threads, in parallel) and writes the
/// chunks in MFT order as they come. Warnings go to `warn` in order; kept values to `keep`.
fn stream_rows<W: Write, X: Send>(
    v: &NtfsVolume,
    tree: &Arc<Tree>,
    w: &mut RowWriter<W>,
    rows: impl Fn(&Listing) -> Result<(Chunk, Vec<String>, X)> + Sync,
    warn: &mut dyn FnMut(String),
    mut keep: impl FnMut(X),
) -> Result<()> {
    let mut err: Option<Error> = None;
    v.walk_batches(
        tree,
        |listing| rows(&listing),
        |r| match r.and_then(|(chunk, warnings, x)| {
            warnings.into_iter().for_each(&mut *warn);
            keep(x);
            w.chunk(&chunk)
        }) {
            Ok(()) => true,
            Err(e) => {
                err = Some(e);
                false
            }
        },
    );
    err.map_or(Ok(()), Err)
}

/// The prefix of a volume's warnings: `partition 2: `, `partition 2: snapshot 1: `, or empty.
pub fn volume_prefix(v: &NtfsVolume) -> String {
    let p = v.partition().map(|p| format!("partition {p}: "));
    let s = v.snapshot().map(|n| format!("snapshot {n}: "));
    p.unwrap_or_default() + &s.unwrap_or_default()
}

/// Splits `name:stream` at the first `:` after the last `/` (`cat`'s argument).
pub fn split_stream(spec: &str) -> (&str, Option<&str>) {
    let slash = spec.rfind('/').map_or(0, |i| i + 1);
    match spec[slash..].find(':') {
        Some(i) => (&spec[..slash + i], Some(&spec[slash + i + 1..])),
        None => (spec, None),
    }
}

/// What `cat` names on a volume: `PATH[:STREAM]` (found through the directory indexes,
/// case-insensitively per the volume's `$UpCase`; a deleted file by its MFT path) or, with
/// `by_entry`, `ENTRY[:STREAM]`. Writes the stream's bytes to `out` and returns true; false
/// when the volume has no such file or stream (a directory without a stream writes nothing and
/// counts as found). `--entry` that is no number is [`Error::Invalid`].
pub fn write_stream(
    v: &NtfsVolume,
    target: &str,
    by_entry: bool,
    out: &mut dyn Write,
) -> Result<bool> {
    let (name, stream) = split_stream(target);
    let file = if by_entry {
        let n = name
            .parse::<u64>()
            .map_err(|_| Error::Invalid(format!("--entry needs a number, got {name:?}")))?;
        v.file(n)
    } else {
        v.open_path(name)
            .or_else(|e| v.open_deleted_path(name).ok_or(e))
    };
    let file = match file {
        Err(Error::NotFound(_)) => return Ok(false),
        f => f?,
    };
    match v.select_stream(&file, stream) {
        // `$BadClus:$Bad` as its bad clusters, as `hash` and TSK's icat give it.
        Some(s) if file.entry == 8 && s.name.as_deref() == Some("$Bad") => {
            v.visit_content(file.entry, s, &mut |c| out.write_all(c).map_err(out_err))?;
            out.flush().map_err(out_err)?;
            Ok(true)
        }
        Some(s) => {
            std::io::copy(&mut v.stream_reader(s), out).map_err(out_err)?;
            out.flush().map_err(out_err)?;
            Ok(true)
        }
        None => Ok(stream.is_none() && file.is_dir),
    }
}

/// Opens the image at `path` with `options` (volumes, bounds, memory budget; the shadow-copy
/// storage image too) and calls `f` with every volume `snapshots` selects — live volumes and shadow copies, whose storage may be on the image at `storage` —
/// until `f` returns true; returns whether it did. The image's diagnostics and those of its
/// shadow copies go to `warn` (prefixed with the path), when given.
pub fn each_volume<E: From<Error>>(
    options: &crate::OpenOptions,
    path: &Path,
    snapshots: crate::image::SnapshotSelect,
    storage: Option<&Path>,
    mut warn: Option<&mut dyn FnMut(String)>,
    mut f: impl FnMut(&NtfsVolume) -> std::result::Result<bool, E>,
) -> std::result::Result<bool, E> {
    let mut open = |p: &Path, select| -> Result<crate::Image> {
        let image = crate::Image::open_with(
            p,
            &crate::OpenOptions {
                select,
                ..options.clone()
            },
        )?;
        if let Some(w) = warn.as_mut() {
            image
                .diagnostics()
                .iter()
                .for_each(|d| w(format!("{}: {d}", p.display())));
        }
        Ok(image)
    };
    let image = open(path, options.select)?;
    let storage = match storage {
        Some(p) => Some(open(p, crate::volume::VolumeSelect::default())?),
        None => None,
    };
    let (views, diags) = image.views(snapshots, storage.as_ref())?;
    if let Some(w) = warn.as_mut() {
        diags
            .iter()
            .for_each(|d| w(format!("{}: {d}", path.display())));
    }
    for v in &views {
        if f(v.volume())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the `ls` rows of volume `v` (namespace `tree`): every file stream and directory in
/// MFT order, then, with `index_slack`, the names carved from the slack of its directory
/// indexes. Problems reading indexes go to `warn`.
pub fn list_volume<W: Write>(
    v: &NtfsVolume,
    tree: &Arc<Tree>,
    index_slack: bool,
    w: &mut RowWriter<W>,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let format = w.format();
    w.begin_volume()?;
    let mut slack: Vec<FileRow> = Vec::new();
    stream_rows(
        v,
        tree,
        w,
        |listing| {
            let chunk = if format == Format::Jsonl {
                // The hot path: rows written straight from the entries.
                let mut body = Vec::with_capacity(listing.files.len() * 600);
                let mut rows = 0;
                for i in listing.items() {
                    FileRow::write_volume_item_jsonl(&i, v, &mut body);
                    rows += 1;
                }
                Chunk {
                    csv_header: None,
                    body,
                    rows,
                }
            } else {
                let rows: Vec<FileRow> =
                    listing.items().map(|i| FileRow::on_volume(&i, v)).collect();
                format_rows(format, &rows)?
            };
            let (slack, warnings) = if index_slack {
                let (rows, errors) = crate::rows::slack_rows(v, listing);
                let warnings = errors
                    .into_iter()
                    .map(|(dir, e)| format!("{dir}: $I30: {e}"))
                    .collect();
                (rows, warnings)
            } else {
                (Vec::new(), Vec::new())
            };
            Ok((chunk, warnings, slack))
        },
        warn,
        |s| slack.extend(s),
    )?;
    if !slack.is_empty() {
        w.chunk(&format_rows(format, &slack)?)?;
    }
    w.end_volume()
}

/// Writes the `hash` rows of volume `v`: every file stream's digests (`set`), streams larger
/// than `max_read` with an error row. Unreadable streams go to `warn` too; `progress` hears of
/// each batch of records and the bytes hashed.
pub fn hash_volume<W: Write>(
    v: &NtfsVolume,
    tree: &Arc<Tree>,
    set: Algorithms,
    max_read: u64,
    w: &mut RowWriter<W>,
    progress: Option<&dyn Progress>,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let format = w.format();
    w.begin_volume()?;
    if let Some(p) = progress {
        let what = match v.partition() {
            Some(i) => format!("partition {i}"),
            None => format!("volume at byte {}", v.offset()),
        } + &v
            .snapshot()
            .map(|n| format!(" snapshot {n}"))
            .unwrap_or_default();
        p.start(&what, tree.len() as u64, "records");
    }
    let r = stream_rows(
        v,
        tree,
        w,
        |listing| {
            let rows = crate::rows::hash_listing_with_progress(v, listing, set, max_read, &|n| {
                if let Some(p) = progress {
                    p.advance(0, n);
                }
            });
            if let Some(p) = progress {
                p.advance(listing.files.len() as u64, 0);
            }
            let warnings = rows
                .iter()
                .filter_map(|r| {
                    Some(format!(
                        "{} (entry {}): {}",
                        r.row.display_path(),
                        r.row.mft_entry,
                        r.row.error.as_deref()?
                    ))
                })
                .collect();
            Ok((format_rows(format, &rows)?, warnings, ()))
        },
        warn,
        |()| {},
    );
    if let Some(p) = progress {
        p.finish();
    }
    r?;
    w.end_volume()
}

// ---------------------------------------------------------------------------------------------
// Documents

/// One NTFS volume as `info` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeInfo {
    /// Partition index (null for a bare volume).
    pub partition: Option<u32>,
    /// Byte offset of the volume in the media.
    pub offset: u64,
    /// Volume label.
    pub label: Option<String>,
    /// Volume serial number, 16 hex digits.
    pub serial: String,
    /// Bytes per sector.
    pub sector_size: u32,
    /// Bytes per cluster.
    pub cluster_size: u64,
    /// Bytes per MFT record.
    pub record_size: u64,
    /// MFT records.
    pub record_count: u64,
    /// Volume size in bytes.
    pub size: u64,
    /// Volume Shadow Copies of the volume, oldest first (empty when it has none).
    pub snapshots: Vec<crate::ntfs::vss::SnapshotInfo>,
}

/// The `info` document: container, partition layout, NTFS volumes, problems met.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// The evidence path as given.
    pub evidence: String,
    /// Container format.
    pub container: String,
    /// Media size in bytes.
    pub size: u64,
    /// Partitioning scheme.
    pub scheme: crate::volume::Scheme,
    /// Logical sector size.
    pub sector_size: u32,
    /// Partitions in index order.
    pub partitions: Vec<crate::volume::Partition>,
    /// NTFS volumes opened.
    pub volumes: Vec<VolumeInfo>,
    /// Problems met (table problems, volumes that failed to open).
    pub diagnostics: Vec<String>,
    /// Why no volume could be opened (the `info` command exits 2 then); its text is also the
    /// last diagnostic.
    #[serde(skip)]
    pub failure: Option<String>,
}

impl ImageInfo {
    /// Reads what `info` shows about the evidence at `path`. Fails only when the evidence
    /// cannot be opened or its partition table read at all; an image with no readable NTFS
    /// volume gives a document with [`ImageInfo::failure`] set.
    pub fn read(path: &Path) -> Result<Self> {
        Self::read_with_storage(path, None)
    }

    /// [`ImageInfo::read`], with the shadow storage of the volumes possibly on the image at
    /// `storage` (for the store sizes of its snapshots).
    pub fn read_with_storage(path: &Path, storage: Option<&Path>) -> Result<Self> {
        let image = crate::Image::open(path, crate::volume::VolumeSelect::default());
        let storage = storage
            .map(|p| crate::Image::open(p, crate::volume::VolumeSelect::default()))
            .transpose()?;
        Self::build(path, image.as_ref(), storage.as_ref())
    }

    /// What `info` shows about an image the caller opened with every volume selected (the
    /// default [`crate::volume::VolumeSelect`]), without opening it again; with another
    /// selection the evidence is read again at `image.path()`, so that every volume is shown.
    pub fn of_image(image: &crate::Image) -> Result<Self> {
        if image.options().select == crate::volume::VolumeSelect::default() {
            Self::build(image.path(), Ok(image), None)
        } else {
            Self::read(image.path())
        }
    }

    fn build(
        path: &Path,
        image: std::result::Result<&crate::Image, &Error>,
        storage: Option<&crate::Image>,
    ) -> Result<Self> {
        let (ev, layout) = match &image {
            Ok(i) => (i.evidence().clone(), i.layout().clone()),
            Err(_) => {
                let ev = crate::evidence::open(path)?;
                let layout = crate::volume::detect(&ev)?;
                (ev, layout)
            }
        };
        let mut volumes: Vec<VolumeInfo> = image
            .as_ref()
            .map(|i| i.volumes().iter().map(volume_info).collect())
            .unwrap_or_default();
        let mut shadow_diags = Vec::new();
        for s in image
            .as_ref()
            .map(|i| i.shadows(storage))
            .unwrap_or_default()
        {
            let Some(v) = volumes.get_mut(s.volume) else {
                continue;
            };
            let what = match v.partition {
                Some(p) => format!("partition {p}"),
                None => format!("volume at byte {}", v.offset),
            };
            match s.shadows {
                Ok(s) => {
                    v.snapshots = s.snapshots().to_vec();
                    let d = s.diagnostics().iter();
                    shadow_diags.extend(d.map(|d| format!("{what}: {d}")));
                }
                Err(e) => shadow_diags.push(format!("{what}: shadow copies: {e}")),
            }
        }
        let (diagnostics, failure) = match &image {
            Ok(i) => (
                i.diagnostics()
                    .iter()
                    .map(|d| d.to_string())
                    .chain(shadow_diags)
                    .collect(),
                None,
            ),
            Err(e) => {
                let mut d: Vec<String> = layout.diagnostics.iter().map(|d| d.to_string()).collect();
                d.push(e.to_string());
                (d, Some(e.to_string()))
            }
        };
        Ok(ImageInfo {
            evidence: path.display().to_string(),
            container: ev.format().to_string(),
            size: ev.len(),
            scheme: layout.scheme,
            sector_size: layout.sector_size,
            partitions: layout.partitions,
            volumes,
            diagnostics,
            failure,
        })
    }

    /// Writes the document as aligned text.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "evidence:   {}", self.evidence)?;
        writeln!(out, "container:  {}", self.container)?;
        writeln!(out, "size:       {} bytes", self.size)?;
        writeln!(
            out,
            "scheme:     {} ({}-byte sectors)",
            format!("{:?}", self.scheme).to_lowercase(),
            self.sector_size
        )?;
        if !self.partitions.is_empty() {
            writeln!(out, "partitions:")?;
            writeln!(
                out,
                "  {:>5}  {:>14}  {:>14}  {:<5}  type",
                "index", "offset", "size", "ntfs"
            )?;
            for p in &self.partitions {
                let ty = serde_json::to_value(p)
                    .ok()
                    .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_string)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {:>5}  {:>14}  {:>14}  {:<5}  {ty}{}",
                    p.index,
                    p.offset,
                    p.size,
                    if p.ntfs { "yes" } else { "no" },
                    p.name
                        .as_deref()
                        .map(|n| format!(" \"{n}\""))
                        .unwrap_or_default()
                )?;
            }
        }
        writeln!(out, "ntfs volumes:")?;
        for v in &self.volumes {
            writeln!(
                out,
                "  partition {}  offset {}  label {}  serial \"{}\"  cluster {}  records {}",
                json_text(&v.partition),
                v.offset,
                json_text(&v.label),
                v.serial,
                v.cluster_size,
                v.record_count
            )?;
            for s in &v.snapshots {
                writeln!(
                    out,
                    "    snapshot {}  id {}  created {}  shadow copy {}  store {}",
                    s.number,
                    s.id,
                    s.created,
                    s.shadow_copy_id
                        .map_or_else(|| "unknown".into(), |g| g.to_string()),
                    s.store_size
                        .map_or_else(|| "unknown".into(), |n| format!("{n} bytes"))
                )?;
            }
        }
        for d in &self.diagnostics {
            writeln!(out, "warning: {d}")?;
        }
        Ok(())
    }
}

/// JSON text of a value, as the table output shows optional fields (`null`, `"label"`).
fn json_text<T: Serialize>(x: &T) -> String {
    serde_json::to_string(x).unwrap_or_default()
}

fn volume_info(v: &NtfsVolume) -> VolumeInfo {
    let g = v.geometry();
    VolumeInfo {
        partition: v.partition(),
        offset: v.offset(),
        label: v.label().map(str::to_string),
        serial: format!("{:016X}", g.serial),
        sector_size: g.sector_size,
        cluster_size: g.cluster_size,
        record_size: g.record_size,
        record_count: v.record_count(),
        size: g.size,
        snapshots: Vec::new(),
    }
}

/// The `verify` document: recomputed and stored media hashes of a container.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyInfo {
    /// The evidence path as given.
    pub evidence: String,
    /// Container format.
    pub container: String,
    /// Media size in bytes.
    pub media_size: u64,
    /// MD5 of the media, recomputed.
    pub md5: String,
    /// SHA-1 of the media, recomputed.
    pub sha1: String,
    /// MD5 the container stores.
    pub stored_md5: Option<String>,
    /// SHA-1 the container stores.
    pub stored_sha1: Option<String>,
    /// Recomputed MD5 equals the stored one (null when none is stored).
    pub md5_matches: Option<bool>,
    /// Recomputed SHA-1 equals the stored one (null when none is stored).
    pub sha1_matches: Option<bool>,
    /// At least one hash is stored and every stored hash matches.
    pub verified: bool,
}

impl VerifyInfo {
    /// Recomputes the media hashes of the evidence at `path` and sets them beside the stored
    /// ones.
    pub fn read(path: &Path) -> Result<Self> {
        let ev = crate::evidence::open(path)?;
        let r = crate::evidence::verify(ev.as_ref())?;
        let hex = crate::hash::hex;
        Ok(VerifyInfo {
            evidence: path.display().to_string(),
            container: r.format.to_string(),
            media_size: r.media_len,
            md5: hex(&r.md5),
            sha1: hex(&r.sha1),
            stored_md5: r.stored_md5.map(|h| hex(&h)),
            stored_sha1: r.stored_sha1.map(|h| hex(&h)),
            md5_matches: r.md5_matches(),
            sha1_matches: r.sha1_matches(),
            verified: r.verified(),
        })
    }

    /// Writes the document as aligned text.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let none = || "none".to_string();
        writeln!(out, "container:   {}", self.container)?;
        writeln!(out, "media size:  {} bytes", self.media_size)?;
        writeln!(
            out,
            "md5:         {} (stored: {})",
            self.md5,
            self.stored_md5.clone().unwrap_or_else(none)
        )?;
        writeln!(
            out,
            "sha1:        {} (stored: {})",
            self.sha1,
            self.stored_sha1.clone().unwrap_or_else(none)
        )?;
        writeln!(
            out,
            "verified:    {}",
            if self.verified { "yes" } else { "NO" }
        )
    }
}

/// Writes a document (`info`, `verify`) as one JSON line, or as text for [`Format::Table`].
pub fn write_document<T: Serialize>(
    doc: &T,
    format: Format,
    table: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    out: &mut dyn Write,
) -> Result<()> {
    if format == Format::Table {
        table(out).map_err(out_err)?;
    } else {
        serde_json::to_writer(&mut *out, doc).map_err(|e| Error::Output(e.into()))?;
        writeln!(out).map_err(out_err)?;
    }
    out.flush().map_err(out_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        for s in [
            "=cmd|' /C calc'!A0.aspx",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(csv_cell(s), format!("'{s}"));
        }
        for s in ["/inetpub/x.aspx", "", "a=b", "1"] {
            assert_eq!(csv_cell(s), s);
        }
        let mut out = Vec::new();
        csv_record(&mut out, ["=cmd|' /C calc'!A0.aspx", "a,b", "q\"x"]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "'=cmd|' /C calc'!A0.aspx,\"a,b\",\"q\"\"x\"\n"
        );
    }
}
