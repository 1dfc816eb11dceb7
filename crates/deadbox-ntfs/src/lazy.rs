//! Lazy, random access: one file by MFT entry number or by path, without walking the MFT.
//!
//! [`NtfsVolume::open`] reads only the boot sector, `$MFT`'s own record (and its extension
//! records) and `$Volume`'s record. From there:
//! - [`NtfsVolume::file`] reads one MFT record and the extension records its `$ATTRIBUTE_LIST`
//!   names, and builds the same [`FileEntry`] the walk builds (the same parser and the same
//!   assembly of streams across extension records);
//! - [`NtfsVolume::open_path`] descends from the root directory (entry 5) through each
//!   directory's `$I30` B-tree, comparing names with the volume's `$UpCase` table;
//! - [`NtfsVolume::open_stream`] and [`NtfsVolume::stream_reader`] give a stream as
//!   `Read + Seek` ([`StreamReader`]).
//!
//! Nothing here walks the MFT or builds a [`Tree`](crate::Tree): a lookup of `/a/b/c` reads
//! four MFT records (plus their extension records, if any) and, per directory, the index
//! blocks on one root-to-leaf path of its B-tree.
//!
//! The `ntfs` crate (0.4) has an index lookup (`NtfsFileNameIndex::find`) and `$UpCase`
//! collation that are right in principle, but reach index blocks through the crate's own
//! attribute reader (which loses attributes spread across an `$ATTRIBUTE_LIST`, common on large
//! directories) and follow sub-nodes without a cycle or depth guard; its upcase table is not
//! public. The same algorithm is done here on deadbox's own records and readers, with bounds.

use super::index::{raw_entry, Node, MAX_BLOCK, MAX_DEPTH, MAX_ENTRIES_PER_NODE};
use super::reader::StreamReader;
use super::record::{self, Record};
use super::secure::{Owner, SecureTable, MAX_SDS_BYTES};
use super::upcase::{UpCase, TABLE_BYTES};
use super::{DirIndexAttrs, Error, FileEntry, NtfsVolume, Result, Stream, StreamKind};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;

/// MFT entry of the root directory.
const ROOT: u64 = 5;
/// MFT entry of `$Secure`.
const SECURE: u64 = 9;
/// MFT entry of `$UpCase`.
const UPCASE: u64 = 10;
/// Most index nodes (root and blocks) one directory lookup reads. A lookup reads one node per
/// level of the B-tree (a few more when names differing only in case tie): real directories are
/// at most 4–5 levels deep.
const MAX_LOOKUP_NODES: usize = 256;
/// Longest path [`NtfsVolume::open_path`] accepts, in UTF-8 bytes: a Windows path of 32767
/// UTF-16 units, each at most 3 bytes of UTF-8.
const MAX_PATH_BYTES: usize = 32767 * 3;
/// Most matching names one lookup keeps (names equal but for case are POSIX names in one
/// directory; a real directory has one or two).
const MAX_CANDIDATES: usize = 64;
/// Longest NTFS name, in UTF-16 units.
const MAX_NAME_UNITS: usize = 255;

/// One name of a directory index that matched a lookup.
struct Candidate {
    entry: u64,
    sequence: u16,
    /// The name is equal code unit for code unit (not only case-insensitively).
    exact: bool,
}

impl NtfsVolume {
    /// The file at MFT entry `entry`, read on its own: its base record plus the extension
    /// records its `$ATTRIBUTE_LIST` names (each accepted only when it points back at this
    /// record with its sequence number, as the walk requires), assembled by the walk's own code
    /// into a [`FileEntry`]: names with their parent references, namespaces and `$FILE_NAME`
    /// times (DOS 8.3 names folded into their long names, as in the walk), sequence number,
    /// directory and deleted (not in use) flags, `$STANDARD_INFORMATION`, streams (unnamed
    /// `$DATA` first, then alternate streams by name) and the directory index attributes
    /// [`NtfsVolume::dir_index`] reads. Deleted records are returned too (`deleted` is set).
    ///
    /// Unlike [`NtfsVolume::file_entry`], this needs no [`Tree`](crate::Tree): it reads only
    /// this record and its extension records. Errors: [`Error::NotFound`] for an entry past
    /// the MFT, an empty slot or an extension record; [`Error::Format`] for a record that cannot
    /// be parsed. Problems with extension records go to [`FileEntry::errors`].
    pub fn file(&self, entry: u64) -> Result<FileEntry> {
        let base = self
            .read_record(entry)?
            .ok_or_else(|| Error::NotFound(format!("MFT entry {entry}: no record (empty slot)")))?;
        if let Some((b, _)) = base.base {
            return Err(Error::NotFound(format!(
                "MFT entry {entry}: an extension record of entry {b}, not a file"
            )));
        }
        let (exts, problems) = self.extensions_of(&base);
        let mut f = self.build_entry(base, exts);
        f.errors.extend(problems);
        Ok(f)
    }

    /// The extension records named by `base`'s attribute list, in MFT order, and the problems
    /// met reading them.
    fn extensions_of(&self, base: &Record) -> (Vec<Record>, Vec<String>) {
        let mut problems = Vec::new();
        let Some(list) = &base.attr_list else {
            return (Vec::new(), problems);
        };
        let bytes = match self.read_attr_list(list) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("attribute list unreadable: {e}"));
                return (Vec::new(), problems);
            }
        };
        // parse_attr_list is bounded (65536 entries); each record is read once.
        let mut ids: Vec<u64> = record::parse_attr_list(&bytes)
            .into_iter()
            .map(|e| e.entry)
            .filter(|&e| e != base.entry)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut exts = Vec::new();
        for e in ids {
            match self.read_record(e) {
                // As the walk: the extension must point back at this record and sequence, and an
                // unused extension does not join a base that is in use.
                Ok(Some(r))
                    if r.base == Some((base.entry, base.sequence))
                        && (r.in_use == base.in_use || !base.in_use) =>
                {
                    exts.push(r)
                }
                Ok(_) => problems.push(format!(
                    "attribute list names MFT entry {e}, which is not an extension record of entry {} (sequence {}); left out",
                    base.entry, base.sequence
                )),
                Err(err) => problems.push(format!("extension record {e}: {err}")),
            }
        }
        (exts, problems)
    }

    /// The volume's `$UpCase` table (MFT entry 10), read the first time it is needed and kept.
    /// When it cannot be read (damaged record, wrong size), [`UpCase::fallback`] is used
    /// instead; [`UpCase::is_from_volume`] tells which.
    pub fn upcase(&self) -> &UpCase {
        self.upcase
            .get_or_init(|| self.read_upcase().unwrap_or_else(|_| UpCase::fallback()))
    }

    /// The owners of `$Secure:$SDS` (MFT entry 9), read the first time they are needed and
    /// kept (bounded: [`crate::secure`]). When `$Secure` cannot be read the table is empty
    /// and its [`SecureTable::diagnostics`] say why.
    pub fn secure(&self) -> &SecureTable {
        self.secure.get_or_init(|| {
            self.read_secure()
                .unwrap_or_else(|e| SecureTable::unreadable(format!("$Secure: {e}")))
        })
    }

    fn read_secure(&self) -> Result<SecureTable> {
        let f = self.file(SECURE)?;
        let s = f
            .stream(Some("$SDS"))
            .filter(|s| s.kind == StreamKind::Data)
            .ok_or_else(|| Error::NotFound("no $SDS stream".into()))?;
        let mut bytes = Vec::with_capacity(s.size.min(MAX_SDS_BYTES) as usize);
        let r = self.visit_stream(s, &mut |c| {
            let room = (MAX_SDS_BYTES as usize).saturating_sub(bytes.len());
            bytes.extend_from_slice(&c[..c.len().min(room)]);
            if room < c.len() {
                return Err(Error::Limit(format!(
                    "$SDS larger than {MAX_SDS_BYTES} bytes"
                )));
            }
            Ok(())
        });
        let mut t = SecureTable::parse(&bytes);
        if let Err(e) = r {
            t.push_diagnostic(&e, "$Secure:$SDS read in part");
        }
        Ok(t)
    }

    /// The owner of security id `security_id` ([`StdInfo::security_id`](crate::StdInfo)), from
    /// `$Secure`.
    pub fn owner_of(&self, security_id: u32) -> Option<&Owner> {
        self.secure().get(security_id)
    }

    /// The owner of `file`: the `$Secure` descriptor of its security id, else the owner of its
    /// own `$SECURITY_DESCRIPTOR` attribute ([`FileEntry::sd_owner`]).
    pub fn file_owner<'a>(&'a self, file: &'a FileEntry) -> Option<&'a Owner> {
        file.si
            .and_then(|si| si.security_id)
            .filter(|&id| id != 0)
            .and_then(|id| self.owner_of(id))
            .or(file.sd_owner.as_ref())
    }

    fn read_upcase(&self) -> Result<UpCase> {
        let f = self.file(UPCASE)?;
        let s = f
            .streams
            .iter()
            .find(|s| s.name.is_none() && s.kind == StreamKind::Data && s.size == TABLE_BYTES)
            .ok_or_else(|| Error::NotFound("$UpCase: no 128 KiB $DATA stream".into()))?;
        let mut bytes = Vec::with_capacity(TABLE_BYTES as usize);
        self.visit_stream(s, &mut |c| {
            bytes.extend_from_slice(c);
            Ok(())
        })?;
        UpCase::from_bytes(&bytes).ok_or_else(|| Error::NotFound("$UpCase: short read".into()))
    }

    /// The file named `name` in directory `dir` (a [`FileEntry`] of this volume, e.g. from
    /// [`NtfsVolume::file`]), found in the directory's `$I30` index as NTFS finds it:
    /// case-insensitively per the volume's `$UpCase` table, whatever the namespace of the
    /// stored name (Win32, POSIX, DOS 8.3), by descending the index B-tree (sorted by
    /// upper-cased name). When several names match case-insensitively (POSIX names that differ
    /// only in case), the one equal code unit for code unit is preferred. An index entry is
    /// trusted only when the record it points to is in use and has the sequence number of the
    /// reference.
    ///
    /// Errors: [`Error::NotFound`] when no name matches (or `dir` is not a directory);
    /// [`Error::Format`] when the index is damaged where the name would be.
    pub fn lookup(&self, dir: &FileEntry, name: &str) -> Result<FileEntry> {
        let not_found = || Error::NotFound(format!("{name:?} in directory entry {}", dir.entry));
        if !dir.is_dir {
            return Err(Error::NotFound(format!(
                "{name:?}: MFT entry {} is not a directory",
                dir.entry
            )));
        }
        let target: Vec<u16> = name.encode_utf16().collect();
        if target.is_empty() || target.len() > MAX_NAME_UNITS {
            return Err(not_found());
        }
        let ix = dir.index.as_deref().ok_or_else(|| {
            Error::format(format!("directory entry {}", dir.entry), 0, "no $I30 index")
        })?;
        let (mut found, mut errors) = self.index_find(ix, &target);
        // Exact matches first (stable: otherwise in the order found).
        found.sort_by_key(|c| !c.exact);
        let mut seen = HashSet::new();
        for c in found {
            if !seen.insert(c.entry) {
                continue;
            }
            match self.file(c.entry) {
                Ok(f) if !f.deleted && (c.sequence == 0 || f.sequence == c.sequence) => {
                    return Ok(f)
                }
                Ok(f) => errors.push(format!(
                    "index entry for {name:?} points at entry {} sequence {}, whose record has sequence {}{} (stale entry)",
                    c.entry,
                    c.sequence,
                    f.sequence,
                    if f.deleted { " and is not in use" } else { "" }
                )),
                Err(e) => errors.push(format!(
                    "index entry for {name:?} points at entry {}: {e}",
                    c.entry
                )),
            }
        }
        if errors.is_empty() {
            Err(not_found())
        } else {
            Err(Error::format(
                format!("$I30 index of directory entry {}", dir.entry),
                0,
                format!("{name:?} not found: {}", errors.join("; ")),
            ))
        }
    }

    /// Searches one directory index for names equal to `target` (case-insensitively), by
    /// B-tree descent. Returns the matches and the problems met.
    fn index_find(&self, ix: &DirIndexAttrs, target: &[u16]) -> (Vec<Candidate>, Vec<String>) {
        let up = self.upcase();
        let mut found = Vec::new();
        let mut errors = Vec::new();
        let Some(root) = &ix.root else {
            errors.push("directory without an $I30 index root".into());
            return (found, errors);
        };
        let Some(block_size) = deadbox_evidence::bytes::le_u32(root, 8usize) else {
            errors.push("$I30 index root truncated".into());
            return (found, errors);
        };
        let cs = self.geometry.cluster_size;
        // As in `dir_index`: VCNs count clusters, or 512-byte units for blocks below a cluster.
        let vcn_unit = if u64::from(block_size) >= cs { cs } else { 512 };
        let block_ok = (512..=MAX_BLOCK).contains(&block_size) && block_size.is_power_of_two();
        // Nodes to read: None for the root, Some(vcn) for an index block; with their depth.
        let mut todo: Vec<(Option<u64>, usize)> = vec![(None, 0)];
        let mut seen_vcn: HashSet<u64> = HashSet::new();
        let mut nodes = 0usize;
        while let Some((at, depth)) = todo.pop() {
            nodes += 1;
            if nodes > MAX_LOOKUP_NODES {
                errors.push(format!(
                    "more than {MAX_LOOKUP_NODES} index nodes read for one name; lookup cut short"
                ));
                break;
            }
            let (buf, header): (Cow<[u8]>, usize) = match at {
                None => (Cow::Borrowed(root), 16),
                Some(vcn) => match self.index_block(ix, vcn, vcn_unit, block_size) {
                    Ok((b, _)) => (Cow::Owned(b), 0x18),
                    Err(e) => {
                        errors.push(format!("index block at VCN {vcn}: {e}"));
                        continue;
                    }
                },
            };
            let node = Node { buf: &buf, header };
            let (mut pos, used) = match node.bounds() {
                Ok((first, used, _)) => (first, used),
                Err(e) => {
                    errors.push(format!("index node {at:?}: {e}"));
                    continue;
                }
            };
            let mut follow = |child: Option<u64>, errors: &mut Vec<String>| {
                let Some(vcn) = child else { return };
                if !block_ok {
                    errors.push(format!("index block size {block_size} is not usable"));
                } else if depth + 1 > MAX_DEPTH {
                    errors.push(format!("index deeper than {MAX_DEPTH} levels at VCN {vcn}"));
                } else if !seen_vcn.insert(vcn) {
                    errors.push(format!(
                        "index node at VCN {vcn} reached twice (the tree loops); not followed again"
                    ));
                } else {
                    todo.push((Some(vcn), depth + 1));
                }
            };
            for _ in 0..MAX_ENTRIES_PER_NODE {
                let raw = match raw_entry(&buf, pos, used) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(format!("index node {at:?}: {e}"));
                        break;
                    }
                };
                // The last entry has no key and sorts after every name.
                let (ord, exact) = match raw.key.and_then(|(k, n)| key_units(&buf[k..k + n])) {
                    Some(units) => (up.cmp_units(&units, target), units == target),
                    None if raw.key.is_some() => {
                        errors.push(format!("index node {at:?}: key at {pos:#x} truncated"));
                        (Ordering::Less, false)
                    }
                    None => (Ordering::Greater, false),
                };
                match ord {
                    Ordering::Less => {}
                    Ordering::Equal if found.len() >= MAX_CANDIDATES => {
                        errors.push(format!(
                            "more than {MAX_CANDIDATES} names equal but for case; the rest ignored"
                        ));
                        return (found, errors);
                    }
                    Ordering::Equal => {
                        found.push(Candidate {
                            entry: raw.reference & 0xFFFF_FFFF_FFFF,
                            sequence: (raw.reference >> 48) as u16,
                            exact,
                        });
                        // Names equal but for case may also sit in the subtree before this one;
                        // not needed once the exact name is found.
                        if !exact {
                            follow(raw.child, &mut errors);
                        }
                    }
                    Ordering::Greater => {
                        follow(raw.child, &mut errors);
                        break;
                    }
                }
                if raw.last {
                    break;
                }
                pos += raw.len;
            }
        }
        (found, errors)
    }

    /// The file at `path`, found without walking the MFT: from the root directory (entry 5),
    /// each component is looked up in its parent's `$I30` index with [`NtfsVolume::lookup`]
    /// (case-insensitive per the volume's `$UpCase`; long, POSIX and DOS 8.3 names all resolve;
    /// every hard link of a file resolves to the same entry).
    ///
    /// `path` is `/`-separated, rooted at the volume (a leading `/` is optional; empty
    /// components are ignored, so `/` alone is the root directory). `\` is not a separator (a
    /// POSIX name may contain it) and no drive letter is expected. Streams are chosen
    /// separately ([`NtfsVolume::open_stream`]), so a `:` is part of the name. Bounds: at most
    /// `Limits::max_depth` components and 98301 bytes; per directory, the index descent is
    /// bounded in depth and nodes and does not follow a node twice. Names whose stored UTF-16
    /// is invalid (lone surrogates, shown as U+FFFD elsewhere) cannot be looked up; use
    /// [`NtfsVolume::file`] with their entry.
    ///
    /// Errors: [`Error::NotFound`] (with the path) when a component does not exist or is not a
    /// directory; [`Error::Format`] when a directory on the way is damaged; [`Error::Limit`]
    /// for a path beyond the bounds.
    ///
    /// ```
    /// use deadbox_ntfs::{volume::VolumeSelect, Error, Image};
    /// use std::io::Read;
    ///
    /// let image = Image::open("../../fixtures/ntfs-basic.img".as_ref(), VolumeSelect::default())?;
    /// let vol = &image.volumes()[0];
    /// // Any case: names compare through the volume's $UpCase table, as NTFS compares them.
    /// let file = vol.open_path("/ADS/Host.TXT")?;
    /// assert_eq!(file.names[0].name, "host.txt");
    /// assert_eq!(vol.open_path("/ads/host.txt")?.entry, file.entry);
    ///
    /// // Content through `Read`: the unnamed stream, or an alternate data stream by name.
    /// let mut ads = String::new();
    /// vol.open_stream("/ads/host.txt", Some("resident_ads"))?
    ///     .read_to_string(&mut ads)?;
    /// assert_eq!(ads.len(), 24);
    ///
    /// assert!(matches!(vol.open_path("/ads/nothing.txt"), Err(Error::NotFound(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_path(&self, path: &str) -> Result<FileEntry> {
        if path.len() > MAX_PATH_BYTES {
            return Err(Error::Limit(format!(
                "path of {} bytes (limit {MAX_PATH_BYTES})",
                path.len()
            )));
        }
        let mut cur = self.file(ROOT)?;
        if !cur.is_dir || cur.deleted {
            return Err(Error::format(
                "root directory (MFT entry 5)",
                self.record_offset(ROOT).unwrap_or(0),
                "not a directory in use",
            ));
        }
        let mut done = String::from("/");
        for (i, comp) in path.split('/').filter(|c| !c.is_empty()).enumerate() {
            if i >= self.limits.max_depth {
                return Err(Error::Limit(format!(
                    "{path}: more than {} components",
                    self.limits.max_depth
                )));
            }
            if !cur.is_dir {
                return Err(Error::NotFound(format!(
                    "{path}: {done} is not a directory"
                )));
            }
            cur = match self.lookup(&cur, comp) {
                Ok(f) => f,
                Err(Error::NotFound(_)) => {
                    return Err(Error::NotFound(format!("{path}: no {comp:?} in {done}")))
                }
                Err(Error::Format {
                    what,
                    offset,
                    reason,
                }) => {
                    return Err(Error::Format {
                        what: format!("{path}: {what}"),
                        offset,
                        reason,
                    })
                }
                Err(e) => return Err(e),
            };
            if !done.ends_with('/') {
                done.push('/');
            }
            done.push_str(comp);
        }
        Ok(cur)
    }

    /// A stream of the file at `path` ([`NtfsVolume::open_path`]) as `Read + Seek`: the unnamed
    /// `$DATA` stream for `stream: None`, or the alternate data stream (or named index root)
    /// called `stream` — the name as in `file.txt:Zone.Identifier`, without the colon or a
    /// `:$DATA` suffix; compared exactly first, then case-insensitively per `$UpCase` as NTFS
    /// does. [`Error::NotFound`] when the file has no such stream (a directory has no unnamed
    /// stream).
    pub fn open_stream(&self, path: &str, stream: Option<&str>) -> Result<StreamReader<'_>> {
        let mut f = self.open_path(path)?;
        let Some(i) = self.stream_index(&f, stream) else {
            return Err(Error::NotFound(match stream {
                None => format!("{path}: no unnamed $DATA stream"),
                Some(s) => format!("{path}:{s}: no such stream"),
            }));
        };
        let s = f.streams.swap_remove(i);
        Ok(StreamReader::new(self, Cow::Owned(s)))
    }

    /// The stream of `file` that [`NtfsVolume::open_stream`] would open for `stream`: the
    /// unnamed `$DATA` stream for `None`; else the stream of that name, compared exactly first,
    /// then case-insensitively per `$UpCase`; `$DATA` streams before named index roots.
    pub fn select_stream<'f>(
        &self,
        file: &'f FileEntry,
        stream: Option<&str>,
    ) -> Option<&'f Stream> {
        self.stream_index(file, stream).map(|i| &file.streams[i])
    }

    fn stream_index(&self, f: &FileEntry, stream: Option<&str>) -> Option<usize> {
        match stream {
            None => f
                .streams
                .iter()
                .position(|s| s.name.is_none() && s.kind == StreamKind::Data),
            Some(name) => {
                let by = |eq: &dyn Fn(&str) -> bool| {
                    // $DATA streams before named index roots.
                    (f.streams.iter().enumerate())
                        .filter(|(_, s)| s.name.as_deref().is_some_and(eq))
                        .min_by_key(|(_, s)| s.kind != StreamKind::Data)
                        .map(|(i, _)| i)
                };
                let up = self.upcase();
                by(&|n| n == name).or_else(|| by(&|n| up.eq_str(n, name)))
            }
        }
    }

    /// A deleted file at `path`: the directory indexes no longer name it, so this builds the
    /// volume's namespace ([`NtfsVolume::tree`], a pass over every MFT record) and takes the
    /// first record not in use whose path equals `path` per `$UpCase` (paths of deleted files
    /// come from their `$FILE_NAME` parent references). `None` when there is none.
    pub fn open_deleted_path(&self, path: &str) -> Option<FileEntry> {
        let tree = self.tree();
        let up = self.upcase();
        let want = format!("/{}", path.trim_matches('/'));
        tree.find_by(&want, |a, b| up.eq_str(a, b))
            .into_iter()
            .filter_map(|e| self.file(e).ok())
            .find(|f| f.deleted)
    }
}

impl FileEntry {
    /// The stream called `name` (`None`: the unnamed `$DATA` stream), compared exactly; `$DATA`
    /// streams before named index roots.
    pub fn stream(&self, name: Option<&str>) -> Option<&Stream> {
        self.streams
            .iter()
            .filter(|s| s.name.as_deref() == name)
            .min_by_key(|s| s.kind != StreamKind::Data)
    }
}

/// The name of a `$FILE_NAME` index key as UTF-16 code units; `None` when the key is too short.
fn key_units(key: &[u8]) -> Option<Vec<u16>> {
    let n = *key.get(64)? as usize;
    let b = key.get(66..66 + 2 * n)?;
    Some(
        b.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect(),
    )
}
