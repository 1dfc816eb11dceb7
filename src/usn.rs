//! `deadbox usn`: the USN change journal of every NTFS volume of an image, or of a loose `$J`
//! file, as rows ([`UsnRow`]) through the printers of [`crate::output`]. Records are streamed in
//! chunks: a journal of any size is never held in memory.

use crate::ntfs::usn::{
    attribute_names, looks_like_journal, resolve_path, source_info_names, PathSource, UsnReader,
    UsnRecord,
};
use crate::ntfs::{Diagnostic, NtfsVolume, Tree};
use crate::output::{format_rows, Format, Row, RowWriter};
use crate::volume::VolumeSelect;
use crate::{Error, Image, Result};
use serde::Serialize;
use std::io::{Read, Seek, Write};
use std::path::Path;

/// Records formatted per chunk.
const ROWS_PER_CHUNK: usize = 4096;

/// One USN record as `deadbox usn` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsnRow {
    /// Partition index of the volume (`null` for a bare volume or a loose `$J`).
    pub partition: Option<u32>,
    /// Byte offset of the record in `$J` (in the loose file).
    pub offset: u64,
    /// Update sequence number.
    pub usn: i64,
    /// When the change was recorded (RFC 3339 UTC); `null` for v4 records.
    pub timestamp: Option<crate::ntfs::FileTime>,
    /// Reason flags by their Windows names (`USN_REASON_FILE_CREATE`, …).
    pub reasons: Vec<String>,
    /// Source info flags by their Windows names (empty: a change by a user or program).
    pub source_info: Vec<String>,
    /// MFT entry of the file.
    pub file_entry: u64,
    /// Sequence number of the file's reference.
    pub file_sequence: u16,
    /// MFT entry of the parent directory.
    pub parent_entry: u64,
    /// Sequence number of the parent's reference.
    pub parent_sequence: u16,
    /// The file's name (empty for v4 records).
    pub name: String,
    /// File attributes by their Windows names (`FILE_ATTRIBUTE_ARCHIVE`, …).
    pub attributes: Vec<String>,
    /// Security id (an index into `$Secure`).
    pub security_id: u32,
    /// Record version (2, 3 or 4).
    pub major_version: u16,
    /// Full path: the parent's path in the MFT plus the name, or `/$Orphan/<name>`; `null`
    /// for a loose `$J` (no MFT).
    pub path: Option<String>,
    /// `mft` or `orphan` (see [`PathSource`]); `null` for a loose `$J`.
    pub path_source: Option<PathSource>,
    /// Where the record was read: `usnjrnl` (the journal, or a loose `$J`) or `unallocated`
    /// (carved from free clusters with `--carve`; `offset` is then its byte offset in the
    /// volume).
    pub source: RecordSource,
}

/// Where a [`UsnRow`]'s record was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordSource {
    /// The change journal (`$UsnJrnl:$J`) or a loose `$J`.
    Usnjrnl,
    /// Carved from the volume's free clusters.
    Unallocated,
}

impl UsnRow {
    /// The row of `rec`, read from `source`; its path resolved in `tree` when there is one.
    pub fn new(
        rec: &UsnRecord,
        partition: Option<u32>,
        tree: Option<&Tree>,
        source: RecordSource,
    ) -> Self {
        let (path, path_source) = match tree {
            Some(t) => {
                let mut p = String::new();
                let src = resolve_path(t, rec, &mut p);
                (Some(p), Some(src))
            }
            None => (None, None),
        };
        UsnRow {
            partition,
            offset: rec.offset,
            usn: rec.usn,
            timestamp: rec.timestamp,
            reasons: rec.reason_names(),
            source_info: source_info_names(rec.source_info),
            file_entry: rec.file_reference.entry,
            file_sequence: rec.file_reference.sequence,
            parent_entry: rec.parent_reference.entry,
            parent_sequence: rec.parent_reference.sequence,
            name: rec.name.clone(),
            attributes: attribute_names(rec.attributes),
            security_id: rec.security_id,
            major_version: rec.major_version,
            path,
            path_source,
            source,
        }
    }
}

impl Row for UsnRow {
    fn write_jsonl(&self, out: &mut Vec<u8>) {
        // Serializing strings and numbers into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, self).is_ok() {
            out.push(b'\n');
        }
    }
    fn table_line(&self) -> String {
        let time = self
            .timestamp
            .map(|t| t.to_string().chars().take(19).collect::<String>())
            .unwrap_or_else(|| "-".into());
        let reasons: Vec<&str> = self
            .reasons
            .iter()
            .map(|r| r.trim_start_matches("USN_REASON_"))
            .collect();
        format!(
            "{:>12} {:<19} {:>8}-{:<5} {:<40} {}",
            self.usn,
            time,
            self.file_entry,
            self.file_sequence,
            reasons.join("|"),
            self.path.as_deref().unwrap_or(&self.name)
        )
    }
    fn table_header() -> String {
        format!(
            "{:>12} {:<19} {:>14} {:<40} path",
            "usn", "timestamp", "entry-seq", "reasons"
        )
    }
}

/// Streams the records of `journal` (read from `source`) as rows to `w`, in chunks;
/// diagnostics go to `warn` as they come.
fn write_journal<R: Read + Seek, W: Write>(
    mut journal: UsnReader<R>,
    partition: Option<u32>,
    tree: Option<&Tree>,
    source: RecordSource,
    w: &mut RowWriter<W>,
    warn: &mut dyn FnMut(&Diagnostic),
) -> Result<()> {
    let format = w.format();
    let mut rows = Vec::with_capacity(ROWS_PER_CHUNK);
    loop {
        let rec = journal.next();
        if let Some(r) = &rec {
            rows.push(UsnRow::new(r, partition, tree, source));
        }
        if rows.len() >= ROWS_PER_CHUNK || (rec.is_none() && !rows.is_empty()) {
            w.chunk(&format_rows(format, &rows)?)?;
            rows.clear();
        }
        journal.take_diagnostics().iter().for_each(&mut *warn);
        if rec.is_none() {
            return Ok(());
        }
    }
}

/// Writes the journal of volume `v` (paths resolved in `tree`) as one volume of rows; with
/// `carve`, then the records carved from its free clusters ([`NtfsVolume::usn_carve`]). A
/// volume without a journal gives a warning (and, with `carve`, its carved records still).
pub fn write_volume_journal<W: Write>(
    v: &NtfsVolume,
    tree: &Tree,
    carve: bool,
    w: &mut RowWriter<W>,
    warn: &mut dyn FnMut(&Diagnostic),
) -> Result<()> {
    let p = v.partition();
    // A journal or $Bitmap that cannot be opened is this volume's problem, told as a warning.
    let unreadable =
        |what: &str, e: Error| Diagnostic::new(Diagnostic::kind_of(&e), format!("{what}: {e}"));
    w.begin_volume()?;
    match v.usn_journal() {
        Ok(j) => write_journal(j, p, Some(tree), RecordSource::Usnjrnl, w, warn)?,
        Err(Error::NotFound(_)) => warn(&Diagnostic::new(
            crate::ntfs::DiagnosticKind::Unsupported,
            "no USN change journal ($Extend/$UsnJrnl:$J) on this volume",
        )),
        Err(e @ Error::Output(_)) => return Err(e),
        Err(e) => warn(&unreadable("USN change journal unreadable", e)),
    }
    if carve {
        match v.usn_carve() {
            Ok(j) => write_journal(j, p, Some(tree), RecordSource::Unallocated, w, warn)?,
            Err(e) => warn(&unreadable("USN carving not possible ($Bitmap)", e)),
        }
    }
    w.end_volume()
}

/// `deadbox usn`: the journal of every selected NTFS volume of the image at `path` (with
/// `carve`, and the records carved from its free clusters), or, when `path` is no disk image
/// but a loose `$J` file, that file's records (names only, no paths; `carve` does not apply),
/// written to `out` in `format`. Problems (damaged areas, a volume without a journal, the
/// namespace's diagnostics) go to `warn`, prefixed with the partition.
pub fn print_journal(
    path: &Path,
    sel: VolumeSelect,
    carve: bool,
    format: Format,
    out: impl Write,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    let mut w = RowWriter::new::<UsnRow>(out, format);
    match Image::open(path, sel) {
        Ok(image) => {
            for d in image.diagnostics() {
                warn(d.to_string());
            }
            for v in image.volumes() {
                let part = v
                    .partition()
                    .map(|p| format!("partition {p}: "))
                    .unwrap_or_default();
                let tree = v.tree();
                for d in tree.diagnostics() {
                    warn(format!("{part}{}", d.message));
                }
                let mut warn_d = |d: &Diagnostic| warn(format!("{part}{d}"));
                write_volume_journal(v, &tree, carve, &mut w, &mut warn_d)?;
            }
        }
        Err(e) => {
            let io = |err| Error::io(path, err);
            let mut f = crate::evidence::open_read_only(path)?;
            if !looks_like_journal(&mut f).map_err(io)? {
                return Err(e);
            }
            if carve {
                warn("--carve: a loose $J has no free clusters to carve; ignored".into());
            }
            let j = UsnReader::new(f).map_err(io)?;
            w.begin_volume()?;
            let src = RecordSource::Usnjrnl;
            write_journal(j, None, None, src, &mut w, &mut |d| warn(d.to_string()))?;
            w.end_volume()?;
        }
    }
    w.finish()?;
    Ok(())
}
