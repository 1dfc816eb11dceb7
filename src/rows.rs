//! Rows of `deadbox ls` and `deadbox hash`: one per file stream or directory, with identity
//! fields shared with findings.

use crate::error::Result;
use crate::finding::Times;
use crate::hash::{Digests, HashSet, MultiHasher};
use crate::ntfs::{filetime_to_rfc3339, IndexEntry, Item, Listing, NtfsVolume};
use rayon::prelude::*;
use serde::Serialize;

/// Formats four FILETIMEs (created, modified, MFT modified, accessed).
pub fn times(t: &[u64; 4]) -> Times {
    Times {
        created: filetime_to_rfc3339(t[0]),
        modified: filetime_to_rfc3339(t[1]),
        mft_modified: filetime_to_rfc3339(t[2]),
        accessed: filetime_to_rfc3339(t[3]),
    }
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
    pub source: &'static str,
}

impl FileRow {
    /// The row of a listing item on a volume reported as `partition`.
    pub fn new(item: &Item<'_>, partition: Option<u32>) -> Self {
        let f = item.file;
        let s = item.stream;
        let mut storage = Vec::new();
        if let Some(s) = s {
            if s.resident {
                storage.push("resident");
            }
            if s.compressed {
                storage.push("compressed");
            }
            if s.sparse {
                storage.push("sparse");
            }
            if s.encrypted {
                storage.push("encrypted");
            }
        }
        let mut errors: Vec<String> = f.errors.clone();
        if let Some(e) = s.and_then(|s| s.error.clone()) {
            errors.push(e);
        }
        FileRow {
            partition,
            path: item.path().to_string(),
            stream: item.stream_name().map(str::to_string),
            mft_entry: f.entry,
            mft_sequence: f.sequence,
            deleted: f.deleted,
            is_dir: item.is_dir_row,
            size: item.size(),
            allocated: s.map(|s| s.allocated).unwrap_or(0),
            initialized: s.map(|s| s.initialized).unwrap_or(0),
            storage,
            attributes: f.si.map(|si| si.attributes),
            si: f.si.map(|si| times(&si.times)),
            fn_: item.name.map(|n| times(&n.times)),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            source: "mft",
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
            source: "i30_slack",
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
                .map(|e| FileRow::from_slack(e, d.path(), vol.partition()))
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

/// One row of `deadbox hash`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HashRow {
    /// The identity and metadata of the stream.
    #[serde(flatten)]
    pub row: FileRow,
    /// MD5 (null when not selected or unreadable).
    pub md5: Option<String>,
    /// SHA-1.
    pub sha1: Option<String>,
    /// SHA-256.
    pub sha256: Option<String>,
}

/// Largest stream without any allocated cluster that is hashed. Such a stream is nothing but
/// zeros (`$BadClus:$Bad` is one hole as large as the volume): hashing hundreds of gigabytes of
/// zeros would dominate `hash` on a real disk and tell nothing.
pub const MAX_HOLE_HASH: u64 = 4 << 30;

/// Hashes one stream by visiting its content; fails with the read error, or
/// [`crate::Error::Limit`] past `max_read` bytes. A stream that is zeros by construction
/// ([`crate::ntfs::Stream::is_known_zero`]) is not read: its digests are those of its length
/// in zeros, computed once per length.
pub fn hash_stream(
    vol: &NtfsVolume,
    s: &crate::ntfs::Stream,
    set: HashSet,
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

/// Hashes every file stream of a listing (directories left out), files in parallel; output in
/// listing order. Unreadable streams give a row with null digests and `error` set.
pub fn hash_listing(
    vol: &NtfsVolume,
    listing: &Listing,
    set: HashSet,
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
    set: HashSet,
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
        .map(|(_, s)| {
            let r = hash_stream(vol, s, set, max_read);
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
            let mut row = FileRow::new(item, vol.partition());
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
