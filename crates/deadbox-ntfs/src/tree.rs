//! The namespace of a volume: for every base record its number, sequence, flags and names, with
//! each name's parent directory resolved once. It is compact (a few dozen bytes per record plus
//! the name text), so the walk can build entries batch by batch, in parallel, and still give
//! every row its full path without keeping a path string per name.
//!
//! Parent resolution follows [`super::Listing`]'s rules: a parent is accepted only when it is a
//! directory whose sequence number matches the reference (or, for a deleted parent, is one
//! higher; or the reference carries sequence 0); a chain that loops, is deeper than
//! [`Limits::max_depth`] or gets longer than [`Limits::max_path_bytes`] is cut and hung under
//! `/$Orphan` with a diagnostic. Each directory is resolved once, iteratively.

use super::record::FileName;
use super::{Limits, WalkDiagnostic};
use deadbox_evidence::budget::Reservation;
use std::sync::Arc;

/// Encoded "what a path hangs from": a directory's node index, or one of these.
const UNRESOLVED: u32 = u32::MAX;
const IN_PROGRESS: u32 = u32::MAX - 1;
const ROOT: u32 = u32::MAX - 2;
const ORPHAN: u32 = u32::MAX - 3;
/// Node indexes must stay below the sentinels.
const MAX_NODES: usize = (u32::MAX - 4) as usize;

/// `/$Orphan`: where entries with no valid parent chain hang.
const ORPHAN_DIR: &str = "/$Orphan";

/// What a path hangs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Up {
    Root,
    Orphan,
    /// A directory, by node index.
    Dir(u32),
}

fn encode(up: Up) -> u32 {
    match up {
        Up::Root => ROOT,
        Up::Orphan => ORPHAN,
        Up::Dir(i) => i,
    }
}

fn decode(v: u32) -> Up {
    match v {
        ROOT => Up::Root,
        // Unresolved links are never followed; treat them as orphans if they are.
        ORPHAN | UNRESOLVED | IN_PROGRESS => Up::Orphan,
        i => Up::Dir(i),
    }
}

#[derive(Debug, Clone)]
struct Node {
    entry: u64,
    sequence: u16,
    deleted: bool,
    is_dir: bool,
    /// First name (index into `names`) and count.
    names: u32,
    n_names: u32,
    /// What this directory's own path hangs from (encoded), once resolved.
    dir_up: u32,
    /// Byte length of this directory's path, once resolved.
    dir_len: u32,
}

#[derive(Debug, Clone)]
struct Name {
    parent_entry: u64,
    parent_sequence: u16,
    len: u16,
    /// What the path of this name hangs from (encoded).
    up: u32,
    off: u64,
}

/// The directory path of the last name [`Tree::push_path_cached`] built.
#[derive(Debug, Default)]
pub(crate) struct PathCache {
    up: Option<u32>,
    dir: String,
    parts: Vec<u32>,
}

/// One base record as the namespace pass sees it: identity, flags and names (DOS names
/// folded, duplicates removed, at most 1024; see `fold_names`).
#[derive(Debug, Clone)]
pub(crate) struct TreeRecord {
    pub entry: u64,
    pub sequence: u16,
    pub deleted: bool,
    pub is_dir: bool,
    pub names: Vec<FileName>,
}

/// The namespace of a volume (see the module docs). Built by [`super::NtfsVolume::tree`];
/// shared by every listing of the volume.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: Vec<Node>,
    names: Vec<Name>,
    text: String,
    /// Extension records accepted for a base record, by base entry, in MFT order.
    extensions: Vec<(u64, Vec<u64>)>,
    /// Problems met building the namespace (and reading the MFT for it).
    pub(crate) diagnostics: Vec<WalkDiagnostic>,
    limits: Limits,
    /// Memory of the run's budget held as long as the namespace lives (the namespace itself
    /// and the bytes of all its paths).
    memory: Vec<Arc<Reservation>>,
}

impl Tree {
    pub(crate) fn new(limits: Limits) -> Self {
        Tree {
            limits,
            ..Tree::default()
        }
    }

    /// Number of base records (in use or not) in the namespace.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the walk found no record at all.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Problems met reading the MFT and building paths (not tied to one stream).
    pub fn diagnostics(&self) -> &[WalkDiagnostic] {
        &self.diagnostics
    }

    /// Bytes held (an estimate of the heap it uses).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.names.capacity() * std::mem::size_of::<Name>()
            + self.text.capacity()
    }

    /// Appends a base record; records must come in increasing entry order.
    pub(crate) fn push(&mut self, r: TreeRecord) {
        if self.nodes.len() >= MAX_NODES {
            return;
        }
        let first = self.names.len() as u32;
        let n = r.names.len() as u32;
        for name in &r.names {
            self.push_name(name);
        }
        self.nodes.push(Node {
            entry: r.entry,
            sequence: r.sequence,
            deleted: r.deleted,
            is_dir: r.is_dir,
            names: first,
            n_names: n,
            dir_up: UNRESOLVED,
            dir_len: 0,
        });
    }

    fn push_name(&mut self, n: &FileName) {
        let off = self.text.len() as u64;
        self.text.push_str(&n.name);
        self.names.push(Name {
            parent_entry: n.parent_entry,
            parent_sequence: n.parent_sequence,
            len: n.name.len().min(u16::MAX as usize) as u16,
            up: UNRESOLVED,
            off,
        });
    }

    /// Replaces the names of a node (a base record whose extension records hold names too).
    pub(crate) fn set_names(&mut self, entry: u64, names: &[FileName]) {
        let Some(i) = self.index(entry) else { return };
        let first = self.names.len() as u32;
        for n in names {
            self.push_name(n);
        }
        let node = &mut self.nodes[i as usize];
        node.names = first;
        node.n_names = names.len() as u32;
    }

    /// Records the accepted extension records of a base record.
    pub(crate) fn set_extensions(&mut self, base: u64, exts: Vec<u64>) {
        match self.extensions.binary_search_by_key(&base, |e| e.0) {
            Ok(i) => self.extensions[i].1 = exts,
            Err(i) => self.extensions.insert(i, (base, exts)),
        }
    }

    /// Extension records of base entry `entry`, in MFT order.
    pub(crate) fn extensions(&self, entry: u64) -> &[u64] {
        match self.extensions.binary_search_by_key(&entry, |e| e.0) {
            Ok(i) => &self.extensions[i].1,
            Err(_) => &[],
        }
    }

    /// Node index of MFT entry `entry`.
    pub(crate) fn index(&self, entry: u64) -> Option<u32> {
        self.nodes
            .binary_search_by_key(&entry, |n| n.entry)
            .ok()
            .map(|i| i as u32)
    }

    /// Sequence number and in-use flag of a base record, if the namespace has it.
    pub(crate) fn record_state(&self, entry: u64) -> Option<(u16, bool)> {
        let n = &self.nodes[self.index(entry)? as usize];
        Some((n.sequence, !n.deleted))
    }

    fn name_text(&self, ni: u32) -> &str {
        let n = &self.names[ni as usize];
        let off = n.off as usize;
        self.text.get(off..off + n.len as usize).unwrap_or("")
    }

    fn first_name(&self, node: u32) -> Option<u32> {
        let n = &self.nodes[node as usize];
        (n.n_names > 0).then_some(n.names)
    }

    /// The node index of name `ni`'s parent directory, when the reference is valid.
    fn parent_of(&self, node: u32, ni: u32) -> Option<u32> {
        let n = &self.names[ni as usize];
        let pi = self.index(n.parent_entry)?;
        let p = &self.nodes[pi as usize];
        if pi == node || !p.is_dir {
            return None;
        }
        let ok = p.sequence == n.parent_sequence
            || (p.deleted && p.sequence == n.parent_sequence.wrapping_add(1))
            || n.parent_sequence == 0;
        ok.then_some(pi)
    }

    fn up_of(&self, node: u32) -> Up {
        if self.nodes[node as usize].entry == 5 {
            Up::Root
        } else {
            Up::Dir(node)
        }
    }

    /// Resolves every name's parent (and the directories on the way), in entry order. Counts
    /// the bytes of every name's path: a name whose path would take the total past
    /// [`Limits::max_total_path_bytes`] is hung under `/$Orphan` instead (one diagnostic).
    pub(crate) fn resolve_all(&mut self) {
        self.resolve_all_within(u64::MAX, 0);
    }

    /// Keeps `r` (returned to the budget when the namespace is dropped).
    pub(crate) fn hold(&mut self, r: Reservation) {
        self.memory.push(Arc::new(r));
    }

    /// [`Tree::resolve_all`] with at most `room` bytes of paths in total (the room the run's
    /// memory budget of `budget` bytes gave, when below [`Limits::max_total_path_bytes`]).
    /// Returns the bytes of all paths.
    pub(crate) fn resolve_all_within(&mut self, room: u64, budget: u64) -> u64 {
        let mut chain = Vec::new();
        let max_total = self.limits.max_total_path_bytes.min(room);
        let mut total = 0u64;
        // (names moved, first entry moved)
        let mut cut: Option<(u64, u64)> = None;
        for node in 0..self.nodes.len() as u32 {
            let n = &self.nodes[node as usize];
            if n.entry == 5 {
                continue;
            }
            let (entry, first, count) = (n.entry, n.names, n.n_names);
            for ni in first..first + count {
                let mut up = match self.parent_of(node, ni) {
                    Some(p) => {
                        self.resolve_dir(p, &mut chain);
                        self.up_of(p)
                    }
                    None => Up::Orphan,
                };
                let name_len = self.names[ni as usize].len as u64;
                let dir_len = match up {
                    Up::Root => 0,
                    Up::Orphan => ORPHAN_DIR.len() as u64,
                    Up::Dir(d) => self.nodes[d as usize].dir_len as u64,
                };
                let mut len = dir_len + 1 + name_len;
                if total + len > max_total && up != Up::Orphan {
                    up = Up::Orphan;
                    len = ORPHAN_DIR.len() as u64 + 1 + name_len;
                    let c = cut.get_or_insert((0, entry));
                    c.0 += 1;
                }
                total += len;
                self.names[ni as usize].up = encode(up);
            }
        }
        if let Some((moved, from)) = cut {
            let why = if max_total < self.limits.max_total_path_bytes {
                format!(" (the room the memory budget of {budget} bytes had left for them)")
            } else {
                String::new()
            };
            self.diagnostics.push(WalkDiagnostic {
                entry: Some(from),
                offset: None,
                message: format!(
                    "the paths of this volume's names take more than {max_total} bytes in total{why}; {moved} names, from entry {from} on, are listed under /$Orphan by their own name (checks that go by path, such as web-script folders, do not see where they are)"
                ),
            });
        }
        total
    }

    /// Resolves the path of directory `fi` (as a parent): sets `dir_up`/`dir_len` of it and
    /// of every unresolved directory above it.
    fn resolve_dir(&mut self, fi: u32, chain: &mut Vec<u32>) {
        let (max_depth, max_path) = (self.limits.max_depth, self.limits.max_path_bytes);
        chain.clear();
        let mut cur = fi;
        let (base_up, base_len) = loop {
            let node = &self.nodes[cur as usize];
            if node.dir_up != UNRESOLVED && node.dir_up != IN_PROGRESS {
                break (self.up_of(cur), node.dir_len as usize);
            }
            if node.entry == 5 {
                break (Up::Root, 0);
            }
            if chain.len() >= max_depth || node.dir_up == IN_PROGRESS {
                self.diagnostics.push(WalkDiagnostic {
                    entry: Some(node.entry),
                    offset: None,
                    message: "parent chain loops or is too deep; placed under /$Orphan".into(),
                });
                break (Up::Orphan, ORPHAN_DIR.len());
            }
            chain.push(cur);
            self.nodes[cur as usize].dir_up = IN_PROGRESS;
            let Some(first) = self.first_name(cur) else {
                break (Up::Orphan, ORPHAN_DIR.len());
            };
            match self.parent_of(cur, first) {
                Some(p) => cur = p,
                None => break (Up::Orphan, ORPHAN_DIR.len()),
            }
        };
        // Unwind: chain[k]'s path = path(parent) + "/" + name.
        let (mut acc_up, mut acc_len) = (base_up, base_len);
        for &c in chain.iter().rev() {
            let name_len = self.first_name(c).map_or(0, |f| self.name_text(f).len());
            let (up, len) = if acc_len + 1 + name_len > max_path {
                self.diagnostics.push(WalkDiagnostic {
                    entry: Some(self.nodes[c as usize].entry),
                    offset: None,
                    message: format!("path longer than {max_path} bytes; placed under /$Orphan"),
                });
                (Up::Orphan, ORPHAN_DIR.len() + 1 + name_len)
            } else {
                (acc_up, acc_len + 1 + name_len)
            };
            let node = &mut self.nodes[c as usize];
            node.dir_up = encode(up);
            node.dir_len = len.min(u32::MAX as usize) as u32;
            acc_up = Up::Dir(c);
            acc_len = len;
        }
    }

    /// Appends the path of directory `up` hangs from ("" for the root) to `out`.
    fn push_dir_path_with(&self, up: Up, out: &mut String, parts: &mut Vec<u32>) {
        parts.clear();
        let mut cur = up;
        // Links point to directories resolved before, so this ends; the bound is a second guard.
        for _ in 0..=self.nodes.len() {
            match cur {
                Up::Root => break,
                Up::Orphan => {
                    out.push_str(ORPHAN_DIR);
                    break;
                }
                Up::Dir(d) => {
                    let node = &self.nodes[d as usize];
                    if node.entry == 5 {
                        break;
                    }
                    parts.push(d);
                    cur = decode(node.dir_up);
                }
            }
        }
        for &d in parts.iter().rev() {
            out.push('/');
            if let Some(f) = self.first_name(d) {
                out.push_str(self.name_text(f));
            }
        }
    }

    /// Appends the path of name `k` of MFT entry `entry` to `out` (`k` is ignored for a record
    /// without names, whose path is `/$Orphan/OrphanFile-<entry>`). An entry the namespace
    /// does not hold (its record could not be read in the namespace pass) is placed under
    /// `/$Orphan` by `fallback`, its name.
    pub(crate) fn push_path(&self, entry: u64, k: usize, fallback: Option<&str>, out: &mut String) {
        self.push_path_cached(entry, k, fallback, out, &mut PathCache::default())
    }

    /// [`Tree::push_path`], reusing the directory path of the previous call when the name
    /// hangs from the same directory (siblings come together in the MFT).
    pub(crate) fn push_path_cached(
        &self,
        entry: u64,
        k: usize,
        fallback: Option<&str>,
        out: &mut String,
        cache: &mut PathCache,
    ) {
        // Under /$Orphan by the name the record gave, or as OrphanFile-<entry>.
        let orphan = |out: &mut String| {
            out.push_str(ORPHAN_DIR);
            out.push('/');
            match fallback {
                Some(n) => out.push_str(n),
                None => out.push_str(&format!("OrphanFile-{entry}")),
            }
        };
        let Some(node) = self.index(entry) else {
            return orphan(out);
        };
        let n = &self.nodes[node as usize];
        if n.entry == 5 {
            out.push('/');
            return;
        }
        if k >= n.n_names as usize {
            return orphan(out);
        }
        let ni = n.names + k as u32;
        let up = self.names[ni as usize].up;
        if cache.up != Some(up) {
            cache.dir.clear();
            self.push_dir_path_with(decode(up), &mut cache.dir, &mut cache.parts);
            cache.up = Some(up);
        }
        out.push_str(&cache.dir);
        out.push('/');
        out.push_str(self.name_text(ni));
    }

    /// Appends the path of directory `entry` ("/" for the root) to `out` when the namespace
    /// holds it as a directory with sequence number `sequence`; false (nothing appended)
    /// otherwise. For the USN journal's parent references.
    pub(crate) fn push_dir_path(&self, entry: u64, sequence: u16, out: &mut String) -> bool {
        let Some(i) = self.index(entry) else {
            return false;
        };
        let n = &self.nodes[i as usize];
        if !n.is_dir || n.sequence != sequence {
            return false;
        }
        self.push_path(entry, 0, None, out);
        true
    }

    /// Appends the path of file `entry` (its first name) to `out` when the namespace holds it
    /// with sequence number `sequence` and a name; false (nothing appended) otherwise.
    pub(crate) fn push_file_path(&self, entry: u64, sequence: u16, out: &mut String) -> bool {
        let Some(i) = self.index(entry) else {
            return false;
        };
        let n = &self.nodes[i as usize];
        if n.sequence != sequence || (n.n_names == 0 && entry != 5) {
            return false;
        }
        self.push_path(entry, 0, None, out);
        true
    }

    /// The directory names above name `k` of `entry`, nearest first, as [`push_path`] joins
    /// them (`$Orphan` last for orphans).
    pub(crate) fn ancestors(&self, entry: u64, k: usize) -> Vec<&str> {
        let mut v = Vec::new();
        let Some(node) = self.index(entry) else {
            v.push("$Orphan");
            return v;
        };
        let n = &self.nodes[node as usize];
        if n.entry == 5 {
            return v;
        }
        let mut up = if k < n.n_names as usize {
            decode(self.names[(n.names + k as u32) as usize].up)
        } else {
            Up::Orphan
        };
        for _ in 0..=self.nodes.len() {
            match up {
                Up::Root => break,
                Up::Orphan => {
                    v.push("$Orphan");
                    break;
                }
                Up::Dir(d) => {
                    let node = &self.nodes[d as usize];
                    if node.entry == 5 {
                        break;
                    }
                    v.push(self.first_name(d).map_or("", |f| self.name_text(f)));
                    up = decode(node.dir_up);
                }
            }
        }
        v
    }

    /// MFT entries that have a name whose full path equals `path`, ignoring ASCII case (as
    /// Windows compares the paths deadbox looks up), in entry order. Linear in the number of
    /// names; paths are built only for names whose last component matches.
    pub fn find(&self, path: &str) -> Vec<u64> {
        self.find_by(path, |a, b| a.eq_ignore_ascii_case(b))
    }

    /// [`Tree::find`] with the comparison `same` (applied to the last component, then to the
    /// whole path).
    pub fn find_by(&self, path: &str, same: impl Fn(&str, &str) -> bool) -> Vec<u64> {
        let want = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let last = want.rsplit('/').next().unwrap_or(want);
        let mut out = Vec::new();
        let mut buf = String::new();
        for n in &self.nodes {
            if n.entry == 5 {
                if want == "/" {
                    out.push(5);
                }
                continue;
            }
            for k in 0..n.n_names {
                let ni = n.names + k;
                if !same(self.name_text(ni), last) {
                    continue;
                }
                buf.clear();
                self.push_path(n.entry, k as usize, None, &mut buf);
                if same(&buf, want) {
                    out.push(n.entry);
                    break;
                }
            }
        }
        out
    }

    /// Names (text) of every base record that has a name in one of the directories `parents`
    /// (entry numbers), as `(entry, name)`.
    pub fn names_in(&self, parents: &std::collections::HashSet<u64>) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        for n in &self.nodes {
            for ni in n.names..n.names + n.n_names {
                let name = &self.names[ni as usize];
                if parents.contains(&name.parent_entry) {
                    out.push((name.parent_entry, self.name_text(ni).to_string()));
                }
            }
        }
        out
    }

    /// MFT entries of the namespace, in order.
    pub fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.nodes.iter().map(|n| n.entry)
    }
}
