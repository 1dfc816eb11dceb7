//! Rows of `deadbox ls` and `deadbox hash`: one per file stream or directory, with identity
//! fields shared with findings.

use crate::error::Result;
pub use crate::finding::Source;
use crate::finding::Times;
use crate::hash::{Algorithms, Digests, MultiHasher};
use crate::ntfs::{FileTime, IndexEntry, Item, Listing, NtfsVolume};
use rayon::prelude::*;
use serde::Serialize;

/// The [`Times`] of four FILETIMEs in on-disk order (created, modified, MFT modified,
/// accessed).
pub fn times(t: &[FileTime; 4]) -> Times {
    Times::from(*t)
}

/// One row of `deadbox ls`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileRow {
    /// Partition index (`None` for a bare volume).
    pub partition: Option<u32>,
    /// Volume-rooted path.
    pub path: String,
    /// Stream name (`None` for the unnamed stream and for directory rows).
    pub stream: Option<String>,
    /// MFT entry.
    pub mft_entry: u64,
    /// MFT sequence number.
    pub mft_sequence: u16,
    /// The record is not in use.
    pub deleted: bool,
    /// Directory row.
    pub is_dir: bool,
    /// Logical size of the stream.
    pub size: u64,
    /// Allocated size.
    pub allocated: u64,
    /// Initialized size.
    pub initialized: u64,
    /// Storage flags: `resident`, `compressed`, `sparse`, `encrypted`.
    pub storage: Vec<&'static str>,
    /// `$STANDARD_INFORMATION` file attributes.
    pub attributes: Option<u32>,
    /// `$STANDARD_INFORMATION` times.
    pub si: Option<Times>,
    /// `$FILE_NAME` times of this name.
    #[serde(rename = "fn")]
    pub fn_: Option<Times>,
    /// Problems reading this entry or stream (null when none).
    pub error: Option<String>,
    /// Where the row comes from: `mft` (a file record), or `i30_slack` (a name carved from the
    /// slack of a directory's `$I30` index: the file may be gone and its MFT entry, given as it
    /// was indexed, reused since; times are the index copy of `$FILE_NAME`).
    pub source: Source,
    /// The shadow copy the row was read from (1 = oldest, as `deadbox info` lists them);
    /// `None` (null) for the live volume. In a hash row, after the digests.
    pub snapshot: Option<usize>,
    /// The file's owner SID (`S-1-5-18`): its `$Secure` descriptor, else its own
    /// `$SECURITY_DESCRIPTOR` ([`NtfsVolume::file_owner`]); null when unknown (a name carved
    /// from index slack, a volume without owners). Appended after every other field.
    pub owner: Option<String>,
    /// The owner's well-known name (`NT AUTHORITY\SYSTEM`, `IIS APPPOOL`, …,
    /// [`crate::ntfs::secure::well_known_name`]); null when it has none. Last in the row.
    pub owner_name: Option<String>,
}

impl FileRow {
    /// The row of a listing item on a volume reported as `partition`.
    pub fn new(item: &Item<'_>, partition: Option<u32>) -> Self {
        let v = item_view(item, partition);
        FileRow {
            partition: v.partition,
            path: v.path.to_string(),
            stream: v.stream.map(str::to_string),
            mft_entry: v.mft_entry,
            mft_sequence: v.mft_sequence,
            deleted: v.deleted,
            is_dir: v.is_dir,
            size: v.size,
            allocated: v.allocated,
            initialized: v.initialized,
            storage: v.storage.iter().flatten().copied().collect(),
            attributes: v.attributes,
            si: v.si.map(Times::from),
            fn_: v.fn_.map(Times::from),
            error: v.error.map(|e| e.into_owned()),
            source: v.source,
            snapshot: None,
            owner: None,
            owner_name: None,
        }
    }

    /// The row of a listing item of volume `vol`: [`FileRow::new`] with the volume's
    /// partition, its snapshot and the file's owner.
    pub fn on_volume(item: &Item<'_>, vol: &NtfsVolume) -> Self {
        let owner = vol.file_owner(item.file);
        FileRow {
            snapshot: vol.snapshot(),
            owner: owner.map(|o| o.sid.clone()),
            owner_name: owner.and_then(|o| o.name).map(str::to_string),
            ..FileRow::new(item, vol.partition())
        }
    }

    /// The path and stream as `path:stream` (the path alone for the unnamed stream).
    pub fn display_path(&self) -> String {
        match &self.stream {
            Some(s) => format!("{}:{s}", self.path),
            None => self.path.clone(),
        }
    }

    /// The row of a name carved from the `$I30` slack of directory `dir_path`.
    pub fn from_slack(e: &IndexEntry, dir_path: &str, partition: Option<u32>) -> Self {
        FileRow {
            partition,
            path: format!("{}/{}", dir_path.trim_end_matches('/'), e.name.name),
            stream: None,
            mft_entry: e.entry,
            mft_sequence: e.sequence,
            deleted: true,
            is_dir: e.is_dir(),
            size: e.name.size,
            allocated: 0,
            initialized: 0,
            storage: Vec::new(),
            attributes: Some(e.flags),
            si: None,
            fn_: Some(times(&e.name.times)),
            error: None,
            source: Source::I30Slack,
            snapshot: None,
            owner: None,
            owner_name: None,
        }
    }
}

/// Problems met reading directory indexes: (directory path, message).
pub type IndexProblems = Vec<(String, String)>;

/// Rows for the names in the `$I30` slack of every directory of a listing (deleted directories
/// too), read in parallel, in listing order; plus the problems met reading the indexes, as
/// `(directory path, message)`.
pub fn slack_rows(vol: &NtfsVolume, listing: &Listing) -> (Vec<FileRow>, Vec<(String, String)>) {
    let dirs: Vec<Item<'_>> = listing.items().filter(|i| i.is_dir_row).collect();
    let per_dir: Vec<(Vec<FileRow>, IndexProblems)> = dirs
        .par_iter()
        .map(|d| {
            let ix = vol.dir_index(d.file);
            let rows = ix
                .slack
                .iter()
                .map(|e| FileRow {
                    snapshot: vol.snapshot(),
                    ..FileRow::from_slack(e, d.path(), vol.partition())
                })
                .collect();
            let errs = ix
                .errors
                .into_iter()
                .map(|e| (d.path().to_string(), e))
                .collect();
            (rows, errs)
        })
        .collect();
    let mut rows = Vec::new();
    let mut errs = Vec::new();
    for (r, e) in per_dir {
        rows.extend(r);
        errs.extend(e);
    }
    (rows, errs)
}

/// One row of `deadbox hash`: the [`FileRow`] fields, the digests, then `snapshot`, `owner`
/// and `owner_name` (last, as in every row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRow {
    /// The identity and metadata of the stream.
    pub row: FileRow,
    /// MD5 (null when not selected or unreadable).
    pub md5: Option<String>,
    /// SHA-1.
    pub sha1: Option<String>,
    /// SHA-256.
    pub sha256: Option<String>,
}

/// Largest stream of zeros by construction (no allocated cluster, or nothing initialized)
/// whose digests `hash` reports. They are computed once per length, but no hash function can
/// skip the work: 3.5 GiB of zeros cost 10 s of MD5 on one core of the benchmark machine,
/// more than hashing the volume's data. `$BadClus:$Bad` is one such stream as large as the
/// volume; a larger one gets an error row saying what was not hashed.
pub const MAX_HOLE_HASH: u64 = 1 << 30;

/// Hashes one stream by visiting its content; fails with the read error, or
/// [`crate::Error::Limit`] past `max_read` bytes. A stream that is zeros by construction
/// ([`crate::ntfs::Stream::is_known_zero`]) is not read: its digests are those of its length
/// in zeros, computed once per length.
pub fn hash_stream(
    vol: &NtfsVolume,
    s: &crate::ntfs::Stream,
    set: Algorithms,
    max_read: u64,
) -> Result<Digests> {
    if s.size > max_read {
        return Err(crate::Error::Limit(format!(
            "stream of {} bytes exceeds the read limit of {max_read} bytes",
            s.size
        )));
    }
    if s.is_known_zero() {
        if s.size > MAX_HOLE_HASH {
            return Err(crate::Error::Limit(format!(
                "{} bytes of zeros by construction (no allocated cluster or nothing initialized): not hashed above {MAX_HOLE_HASH} bytes",
                s.size
            )));
        }
        return Ok(crate::hash::zero_digests(set, s.size));
    }
    let mut h = MultiHasher::new(set);
    vol.visit_stream(s, &mut |c| {
        h.update(c);
        Ok(())
    })?;
    Ok(h.finish())
}

/// MFT entry of `$BadClus`.
const BADCLUS: u64 = 8;

/// Digests of `$BadClus:$Bad` as TSK gives them: the bytes of its allocated clusters (the
/// bad clusters) only, not the hole as large as the volume around them, which is no data of
/// the volume's (hashing it as zeros cost a volume's size of hashing for nothing, and no
/// other tool reports those digests).
fn hash_bad_clusters(
    vol: &NtfsVolume,
    s: &crate::ntfs::Stream,
    set: Algorithms,
    max_read: u64,
) -> Result<Digests> {
    let mut h = MultiHasher::new(set);
    let mut read = 0u64;
    vol.visit_allocated(s, &mut |c| {
        read += c.len() as u64;
        if read > max_read {
            return Err(crate::Error::Limit(format!(
                "bad clusters past the read limit of {max_read} bytes"
            )));
        }
        h.update(c);
        Ok(())
    })?;
    Ok(h.finish())
}

/// Hashes every file stream of a listing (directories left out), files in parallel; output in
/// listing order. Unreadable streams give a row with null digests and `error` set.
pub fn hash_listing(
    vol: &NtfsVolume,
    listing: &Listing,
    set: Algorithms,
    max_read: u64,
) -> Vec<HashRow> {
    hash_listing_with_progress(vol, listing, set, max_read, &|_| {})
}

/// [`hash_listing`], calling `done(bytes)` after each stream read (for a progress display).
/// A stream reached through several names (hard links) is read and hashed once; each name
/// gets a row with the same digests.
pub fn hash_listing_with_progress(
    vol: &NtfsVolume,
    listing: &Listing,
    set: Algorithms,
    max_read: u64,
    done: &(dyn Fn(u64) + Sync),
) -> Vec<HashRow> {
    let items: Vec<Item<'_>> = listing.items().filter(|i| !i.is_dir_row).collect();
    // One read per stream: the rows of a stream's first name.
    let firsts: Vec<(&Item<'_>, &crate::ntfs::Stream)> = items
        .iter()
        .filter(|i| i.is_first_name())
        .filter_map(|i| Some((i, i.stream?)))
        .collect();
    let results: Vec<Result<Digests>> = firsts
        .par_iter()
        .map(|(i, s)| {
            let r = if i.file.entry == BADCLUS && s.name.as_deref() == Some("$Bad") {
                hash_bad_clusters(vol, s, set, max_read)
            } else {
                hash_stream(vol, s, set, max_read)
            };
            done(if s.is_known_zero() { 0 } else { s.size });
            r
        })
        .collect();
    let key = |i: &Item<'_>| (i.file.entry, i.stream_index());
    let by_stream: std::collections::HashMap<_, usize> = firsts
        .iter()
        .enumerate()
        .map(|(n, (i, _))| (key(i), n))
        .collect();
    let empty = crate::hash::digest(set, &[]);
    items
        .iter()
        .map(|item| {
            let mut row = FileRow::on_volume(item, vol);
            let d = match item.stream {
                Some(_) => match by_stream.get(&key(item)).map(|&n| &results[n]) {
                    Some(Ok(d)) => d.clone(),
                    Some(Err(e)) => {
                        row.error = Some(match row.error.take() {
                            Some(prev) => format!("{prev}; {e}"),
                            None => e.to_string(),
                        });
                        Digests::default()
                    }
                    None => Digests::default(),
                },
                None => empty.clone(),
            };
            HashRow {
                row,
                md5: d.md5,
                sha1: d.sha1,
                sha256: d.sha256,
            }
        })
        .collect()
}

/// The fields of an `ls`/`hash` row, borrowed.
struct RowView<'a> {
    partition: Option<u32>,
    path: &'a str,
    stream: Option<&'a str>,
    mft_entry: u64,
    mft_sequence: u16,
    deleted: bool,
    is_dir: bool,
    size: u64,
    allocated: u64,
    initialized: u64,
    storage: [Option<&'static str>; 4],
    attributes: Option<u32>,
    si: Option<[FileTime; 4]>,
    fn_: Option<[FileTime; 4]>,
    error: Option<std::borrow::Cow<'a, str>>,
    source: Source,
    snapshot: Option<usize>,
    owner: Option<&'a str>,
    owner_name: Option<&'a str>,
}

fn storage_flags(s: &crate::ntfs::Stream) -> [Option<&'static str>; 4] {
    [
        s.resident.then_some("resident"),
        s.compressed.then_some("compressed"),
        s.sparse.then_some("sparse"),
        s.encrypted.then_some("encrypted"),
    ]
}

/// A JSON string, escaped exactly as `serde_json` escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn json_num(out: &mut Vec<u8>, mut v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

fn json_times(out: &mut Vec<u8>, t: &Option<[FileTime; 4]>) {
    const KEYS: [&str; 4] = [
        "{\"created\":\"",
        "\",\"modified\":\"",
        "\",\"mft_modified\":\"",
        "\",\"accessed\":\"",
    ];
    match t {
        None => out.extend_from_slice(b"null"),
        Some(t) => {
            for (k, ft) in KEYS.iter().zip(t.iter()) {
                out.extend_from_slice(k.as_bytes());
                ft.push_rfc3339(out);
            }
            out.extend_from_slice(b"\"}");
        }
    }
}

impl RowView<'_> {
    /// Writes the JSON object without its closing brace (a hash row appends its digests).
    fn write_open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"partition\":");
        match self.partition {
            Some(p) => json_num(out, p as u64),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"path\":");
        json_str(out, self.path);
        out.extend_from_slice(b",\"stream\":");
        match self.stream {
            Some(s) => json_str(out, s),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"mft_entry\":");
        json_num(out, self.mft_entry);
        out.extend_from_slice(b",\"mft_sequence\":");
        json_num(out, self.mft_sequence as u64);
        out.extend_from_slice(if self.deleted {
            b",\"deleted\":true"
        } else {
            b",\"deleted\":false"
        });
        out.extend_from_slice(if self.is_dir {
            b",\"is_dir\":true"
        } else {
            b",\"is_dir\":false"
        });
        out.extend_from_slice(b",\"size\":");
        json_num(out, self.size);
        out.extend_from_slice(b",\"allocated\":");
        json_num(out, self.allocated);
        out.extend_from_slice(b",\"initialized\":");
        json_num(out, self.initialized);
        out.extend_from_slice(b",\"storage\":[");
        for (i, s) in self.storage.iter().flatten().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str(out, s);
        }
        out.extend_from_slice(b"],\"attributes\":");
        match self.attributes {
            Some(a) => json_num(out, a as u64),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"si\":");
        json_times(out, &self.si);
        out.extend_from_slice(b",\"fn\":");
        json_times(out, &self.fn_);
        out.extend_from_slice(b",\"error\":");
        match &self.error {
            Some(e) => json_str(out, e),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"source\":");
        json_str(out, self.source.as_str());
    }

    /// Writes the `snapshot` and owner fields and the closing brace.
    fn write_close(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b",\"snapshot\":");
        match self.snapshot {
            Some(n) => json_num(out, n as u64),
            None => out.extend_from_slice(b"null"),
        }
        for (k, v) in [
            (&b",\"owner\":"[..], self.owner),
            (b",\"owner_name\":", self.owner_name),
        ] {
            out.extend_from_slice(k);
            match v {
                Some(s) => json_str(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The error text of a listing item, as [`FileRow::new`] joins it.
fn item_error<'a>(item: &Item<'a>) -> Option<std::borrow::Cow<'a, str>> {
    let f = item.file;
    let s = item.stream.and_then(|s| s.error.as_deref());
    match (f.errors.len(), s) {
        (0, None) => None,
        (0, Some(e)) => Some(e.into()),
        (1, None) => Some(f.errors[0].as_str().into()),
        _ => {
            let mut all: Vec<&str> = f.errors.iter().map(String::as_str).collect();
            all.extend(s);
            Some(all.join("; ").into())
        }
    }
}

impl FileRow {
    fn view(&self) -> RowView<'_> {
        let mut storage = [None; 4];
        for (slot, s) in storage.iter_mut().zip(self.storage.iter()) {
            *slot = Some(*s);
        }
        RowView {
            partition: self.partition,
            path: &self.path,
            stream: self.stream.as_deref(),
            mft_entry: self.mft_entry,
            mft_sequence: self.mft_sequence,
            deleted: self.deleted,
            is_dir: self.is_dir,
            size: self.size,
            allocated: self.allocated,
            initialized: self.initialized,
            storage,
            attributes: self.attributes,
            si: self.si.as_ref().map(Times::to_array),
            fn_: self.fn_.as_ref().map(Times::to_array),
            error: self.error.as_deref().map(Into::into),
            source: self.source,
            snapshot: self.snapshot,
            owner: self.owner.as_deref(),
            owner_name: self.owner_name.as_deref(),
        }
    }

    /// Appends the row as one JSON line: the same bytes as `serde_json::to_writer` plus a
    /// newline, written without building a JSON value (the listing writes millions).
    pub fn write_jsonl(&self, out: &mut Vec<u8>) {
        let v = self.view();
        v.write_open(out);
        v.write_close(out);
    }

    /// Appends the JSON line of listing item `item` (as [`FileRow::new`] then
    /// [`FileRow::write_jsonl`] would) without building the row.
    pub fn write_item_jsonl(item: &Item<'_>, partition: Option<u32>, out: &mut Vec<u8>) {
        Self::write_item_jsonl_of(item, partition, None, out)
    }

    /// [`FileRow::write_item_jsonl`] for an item of shadow copy `snapshot` (`None`: the live
    /// volume).
    pub fn write_item_jsonl_of(
        item: &Item<'_>,
        partition: Option<u32>,
        snapshot: Option<usize>,
        out: &mut Vec<u8>,
    ) {
        let v = RowView {
            snapshot,
            ..item_view(item, partition)
        };
        v.write_open(out);
        v.write_close(out);
    }

    /// Appends the JSON line of listing item `item` of volume `vol` (as
    /// [`FileRow::on_volume`] then [`FileRow::write_jsonl`] would) without building the row.
    pub fn write_volume_item_jsonl(item: &Item<'_>, vol: &NtfsVolume, out: &mut Vec<u8>) {
        let owner = vol.file_owner(item.file);
        let v = RowView {
            snapshot: vol.snapshot(),
            owner: owner.map(|o| o.sid.as_str()),
            owner_name: owner.and_then(|o| o.name),
            ..item_view(item, vol.partition())
        };
        v.write_open(out);
        v.write_close(out);
    }
}

/// The row fields of listing item `item`, borrowed.
fn item_view<'a>(item: &Item<'a>, partition: Option<u32>) -> RowView<'a> {
    let f = item.file;
    let s = item.stream;
    RowView {
        partition,
        path: item.path(),
        stream: item.stream_name(),
        mft_entry: f.entry,
        mft_sequence: f.sequence,
        deleted: f.deleted,
        is_dir: item.is_dir_row,
        size: item.size(),
        allocated: s.map(|s| s.allocated).unwrap_or(0),
        initialized: s.map(|s| s.initialized).unwrap_or(0),
        storage: s.map(storage_flags).unwrap_or([None; 4]),
        attributes: f.si.map(|si| si.attributes),
        si: f.si.map(|si| si.times),
        fn_: item.name.map(|n| n.times),
        error: item_error(item),
        source: Source::Mft,
        snapshot: None,
        owner: None,
        owner_name: None,
    }
}

impl HashRow {
    /// Appends the row as one JSON line, the same bytes as `serde_json::to_writer` plus a
    /// newline.
    pub fn write_jsonl(&self, out: &mut Vec<u8>) {
        let view = self.row.view();
        view.write_open(out);
        for (k, v) in [
            ("md5", &self.md5),
            ("sha1", &self.sha1),
            ("sha256", &self.sha256),
        ] {
            out.push(b',');
            json_str(out, k);
            out.push(b':');
            match v {
                Some(h) => json_str(out, h),
                None => out.extend_from_slice(b"null"),
            }
        }
        view.write_close(out);
    }
}

impl Serialize for HashRow {
    /// The row's fields but `snapshot` and the owner, the digests, then `snapshot`, `owner`
    /// and `owner_name`, as every row ends.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        const LAST: [&str; 3] = ["snapshot", "owner", "owner_name"];
        let row = serde_json::to_value(&self.row).map_err(S::Error::custom)?;
        let mut m = s.serialize_map(None)?;
        if let serde_json::Value::Object(fields) = &row {
            for (k, v) in fields.iter().filter(|(k, _)| !LAST.contains(&k.as_str())) {
                m.serialize_entry(k, v)?;
            }
        }
        m.serialize_entry("md5", &self.md5)?;
        m.serialize_entry("sha1", &self.sha1)?;
        m.serialize_entry("sha256", &self.sha256)?;
        m.serialize_entry("snapshot", &self.row.snapshot)?;
        m.serialize_entry("owner", &self.row.owner)?;
        m.serialize_entry("owner_name", &self.row.owner_name)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_json_lines_equal_serde() {
        for fixture in ["ntfs-basic.img", "ntfs-shells.img"] {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(fixture);
            let image = crate::Image::open(&p, crate::volume::VolumeSelect::default())
                .expect("fixture opens");
            for vol in image.volumes() {
                let listing = vol.walk();
                let mut n = 0;
                let mut owners = 0;
                for item in listing.items() {
                    let row = FileRow::new(&item, vol.partition());
                    let mut want = serde_json::to_vec(&row).expect("serialises");
                    want.push(b'\n');
                    let mut fast = Vec::new();
                    FileRow::write_item_jsonl(&item, vol.partition(), &mut fast);
                    assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&want)
                    );
                    let mut from_row = Vec::new();
                    row.write_jsonl(&mut from_row);
                    assert_eq!(from_row, want);
                    // The same row read from a shadow copy.
                    let snap = FileRow {
                        snapshot: Some(2),
                        ..row
                    };
                    let mut want = serde_json::to_vec(&snap).expect("serialises");
                    want.push(b'\n');
                    let mut fast = Vec::new();
                    FileRow::write_item_jsonl_of(&item, vol.partition(), Some(2), &mut fast);
                    assert_eq!(fast, want);
                    // With the volume: snapshot and owner.
                    let row = FileRow::on_volume(&item, vol);
                    owners += usize::from(row.owner.is_some());
                    let mut want = serde_json::to_vec(&row).expect("serialises");
                    want.push(b'\n');
                    let mut fast = Vec::new();
                    FileRow::write_volume_item_jsonl(&item, vol, &mut fast);
                    assert_eq!(fast, want);
                    n += 1;
                }
                assert!(n > 50, "{fixture}: {n} rows");
                assert!(owners > 20, "{fixture}: {owners} rows with an owner");
                for h in hash_listing(vol, &listing, Algorithms::default(), u64::MAX) {
                    let mut want = serde_json::to_vec(&h).expect("serialises");
                    want.push(b'\n');
                    let mut fast = Vec::new();
                    h.write_jsonl(&mut fast);
                    assert_eq!(fast, want);
                }
            }
        }
        // Names that need escaping, several errors, every storage flag, a partition.
        let t = times(&[0, 1, u64::MAX, 130_000_000_000_000_000].map(FileTime));
        let row = FileRow {
            partition: Some(3),
            path: "/a \"q\" \\ \u{1}\n\u{7f}é😀".into(),
            stream: Some("s\t:x".into()),
            mft_entry: u64::MAX,
            mft_sequence: u16::MAX,
            deleted: true,
            is_dir: false,
            size: 0,
            allocated: 1,
            initialized: 2,
            storage: vec!["resident", "compressed", "sparse", "encrypted"],
            attributes: Some(u32::MAX),
            si: Some(t),
            fn_: None,
            error: Some("one; \"two\"".into()),
            source: Source::I30Slack,
            snapshot: Some(7),
            owner: Some("S-1-5-82-1\"".into()),
            owner_name: Some("IIS APPPOOL".into()),
        };
        let mut want = serde_json::to_vec(&row).expect("serialises");
        want.push(b'\n');
        let mut fast = Vec::new();
        row.write_jsonl(&mut fast);
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&want)
        );
        assert!(fast.ends_with(
            b",\"snapshot\":7,\"owner\":\"S-1-5-82-1\\\"\",\"owner_name\":\"IIS APPPOOL\"}\n"
        ));
        // A hash row: the digests, then the snapshot and the owner, last.
        let h = HashRow {
            row,
            md5: Some("m".into()),
            sha1: None,
            sha256: Some("s".into()),
        };
        let mut want = serde_json::to_vec(&h).expect("serialises");
        want.push(b'\n');
        let mut fast = Vec::new();
        h.write_jsonl(&mut fast);
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&want)
        );
        assert!(fast.ends_with(b",\"sha256\":\"s\",\"snapshot\":7,\"owner\":\"S-1-5-82-1\\\"\",\"owner_name\":\"IIS APPPOOL\"}\n"));
    }
}
