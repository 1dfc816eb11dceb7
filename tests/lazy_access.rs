//! Lazy, random access (`NtfsVolume::file`, `open_path`, `open_stream`, `StreamReader`) against
//! the bulk walk, on every fixture image and every NTFS image of `../shared/corpus/ntfs`:
//! - `file(entry)` of every MFT slot equals the walk's entry (sequence, flags, `$SI`, names,
//!   streams with their sizes, flags and runs or resident bytes), and slots the walk has no
//!   entry for (empty, extension records) are errors;
//! - `open_path` of every in-use, non-orphan path (one per hard link; a sample of 4000 on larger
//!   volumes) resolves to the walk's entry: as written, upper-cased through the volume's
//!   `$UpCase`, and upper- and lower-cased by Rust where NTFS calls the result the same name.
//!   A name its parent's index does not hold (as `dir_index`, the full index reader, reads it:
//!   `ntfs3.raw.gz` has one) must be NotFound, as on Windows. Every DOS 8.3 name in the indexes
//!   resolves to its file (only `ntfs-names.img.gz` has them);
//! - every stream read through `StreamReader` equals the walk's content byte for byte (and
//!   `as_slice`, where offered); random seeks into a sample of fragmented, sparse and compressed
//!   streams read what the walk has there;
//! - a lookup reads only the MFT records on its path.

mod common;

use deadbox::evidence::{Evidence, MemoryEvidence, Region};
use deadbox::ntfs::{Error, FileEntry, Listing, NtfsVolume, Stream, StreamKind};
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Most paths checked per volume (all of them on every fixture; a sample on larger volumes).
const MAX_PATHS: usize = 4000;
/// Streams read with random seeks per volume.
const MAX_SEEK_STREAMS: usize = 40;

/// What one volume's check covered.
#[derive(Debug, Default)]
struct Counts {
    entries: usize,
    empty_slots: usize,
    paths: usize,
    recased_upcase: usize,
    recased_rust: usize,
    rust_not_equivalent: usize,
    non_ascii_recased: usize,
    hard_link_paths: usize,
    unindexed: usize,
    dos_names: usize,
    streams: usize,
    stream_bytes: u64,
    slices: usize,
    seek_streams: usize,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn same_entry(lazy: &FileEntry, walk: &FileEntry) -> Result<(), String> {
    let what = |f: &str| format!("entry {}: {f} differs", walk.entry);
    if lazy.entry != walk.entry {
        return Err(what("number"));
    }
    if lazy.sequence != walk.sequence {
        return Err(what("sequence"));
    }
    if lazy.deleted != walk.deleted || lazy.is_dir != walk.is_dir {
        return Err(what("flags"));
    }
    if lazy.si != walk.si {
        return Err(what("$STANDARD_INFORMATION"));
    }
    if lazy.names != walk.names {
        return Err(format!(
            "{}: {:?} vs {:?}",
            what("names"),
            lazy.names,
            walk.names
        ));
    }
    // Streams: names, kinds, sizes, flags, errors and content (runs or resident bytes).
    if lazy.streams != walk.streams {
        return Err(format!(
            "{}: {:?} vs {:?}",
            what("streams"),
            lazy.streams
                .iter()
                .map(|s| (&s.name, s.size))
                .collect::<Vec<_>>(),
            walk.streams
                .iter()
                .map(|s| (&s.name, s.size))
                .collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// Reads `lazy` through a `StreamReader` while visiting `walk` with the walk's reader; they
/// must agree byte for byte (and on failing, when the walk's read fails).
fn same_content(
    v: &NtfsVolume,
    lazy: &Stream,
    walk: &Stream,
    c: &mut Counts,
) -> Result<(), String> {
    let mut r = v.stream_reader(lazy);
    let slice = r.as_slice().map(|s| s.to_vec());
    let mut buf = Vec::new();
    let mut off = 0u64;
    let walked = v.visit_stream(walk, &mut |chunk| {
        buf.resize(chunk.len(), 0);
        r.read_exact(&mut buf)
            .map_err(|e| Error::Invalid(format!("reader failed at {off}: {e}")))?;
        if buf != chunk {
            return Err(Error::Invalid(format!(
                "bytes differ in {off}..+{}",
                chunk.len()
            )));
        }
        if let Some(s) = &slice {
            if s.get(off as usize..off as usize + chunk.len()) != Some(chunk) {
                return Err(Error::Invalid(format!("as_slice differs at {off}")));
            }
        }
        off += chunk.len() as u64;
        Ok(())
    });
    match walked {
        Ok(()) => {
            if off != walk.size {
                return Err(format!("walk gave {off} of {} bytes", walk.size));
            }
            let mut one = [0u8; 1];
            if r.read(&mut one).map_err(|e| e.to_string())? != 0 {
                return Err("reader reads past the end".into());
            }
            if slice.as_ref().is_some_and(|s| s.len() as u64 != walk.size) {
                return Err("as_slice has the wrong length".into());
            }
            c.slices += slice.is_some() as usize;
            c.stream_bytes += off;
            Ok(())
        }
        Err(Error::Invalid(m)) => Err(m),
        Err(_) => {
            // The walk could not read it: neither may the reader.
            let mut sink = Vec::new();
            match r.read_to_end(&mut sink) {
                Err(_) => Ok(()),
                Ok(_) => Err("walk fails to read the stream, the reader does not".into()),
            }
        }
    }
}

/// Random seeks: `Start`, `End` and `Current`, reads of random lengths, against the walk's
/// content in memory.
fn seeks(v: &NtfsVolume, lazy: &Stream, walk: &Stream, rng: &mut Rng) -> Result<(), String> {
    let mut want = Vec::new();
    v.visit_stream(walk, &mut |c| {
        want.extend_from_slice(c);
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let size = want.len() as u64;
    let mut r = v.stream_reader(lazy);
    for i in 0..24 {
        let off = rng.next() % size;
        let pos = match i % 3 {
            0 => r.seek(SeekFrom::Start(off)),
            1 => r.seek(SeekFrom::End(off as i64 - size as i64)),
            _ => {
                let cur = r.stream_position().unwrap() as i64;
                r.seek(SeekFrom::Current(off as i64 - cur))
            }
        }
        .map_err(|e| e.to_string())?;
        if pos != off {
            return Err(format!("seek landed at {pos}, not {off}"));
        }
        let len = (1 + rng.next() % 150_000).min(size - off) as usize;
        let mut got = vec![0u8; len];
        r.read_exact(&mut got).map_err(|e| e.to_string())?;
        if got != want[off as usize..off as usize + len] {
            return Err(format!("bytes {off}..+{len} differ after a seek"));
        }
    }
    if r.seek(SeekFrom::Current(-(size as i64) - 1)).is_ok() {
        return Err("seek before the start accepted".into());
    }
    Ok(())
}

/// Every check on one volume.
fn check_volume(name: &str, v: &NtfsVolume) -> Counts {
    let mut c = Counts::default();
    let listing: Listing = v.walk();
    let mut failures: Vec<String> = Vec::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    // 1. file(entry) against the walk, for every slot.
    let mut lazy: HashMap<u64, FileEntry> = HashMap::new();
    for e in 0..v.record_count() {
        match (listing.entry(e), v.file(e)) {
            (Some(w), Ok(l)) => {
                if let Err(m) = same_entry(&l, w) {
                    failures.push(m);
                }
                c.entries += 1;
                lazy.insert(e, l);
            }
            (Some(_), Err(err)) => {
                failures.push(format!("entry {e}: walk has it, file() says {err}"))
            }
            (None, Ok(_)) => failures.push(format!("entry {e}: file() has it, the walk does not")),
            (None, Err(_)) => c.empty_slots += 1,
        }
    }
    assert!(
        matches!(v.file(v.record_count() + 10), Err(Error::NotFound(_))),
        "{name}: entry past the MFT"
    );

    // 2. Streams through the reader, all of them; seeks on a sample.
    let mut seek_candidates = Vec::new();
    for w in &listing.files {
        let Some(l) = lazy.get(&w.entry) else {
            continue;
        };
        if l.streams.len() != w.streams.len() {
            continue; // reported above
        }
        for (ls, ws) in l.streams.iter().zip(&w.streams) {
            c.streams += 1;
            if let Err(m) = same_content(v, ls, ws, &mut c) {
                failures.push(format!("entry {} stream {:?}: {m}", w.entry, ws.name));
            }
            let interesting =
                ws.compressed || ws.sparse || ws.runs().len() > 1 || ws.initialized < ws.size;
            if interesting && ws.size > 0 && ws.size <= 32 << 20 && ws.error.is_none() {
                seek_candidates.push((w.entry, ls, ws));
            }
        }
    }
    // Compressed ones first, then by size (largest first), for coverage of units and runs.
    seek_candidates.sort_by_key(|(e, _, ws)| (!ws.compressed, std::cmp::Reverse(ws.size), *e));
    for (e, ls, ws) in seek_candidates.into_iter().take(MAX_SEEK_STREAMS) {
        c.seek_streams += 1;
        if let Err(m) = seeks(v, ls, ws, &mut rng) {
            failures.push(format!("entry {e} stream {:?}: {m}", ws.name));
        }
    }

    // 3. Paths: every in-use, non-orphan name (each hard link), re-cased. A name the parent's
    // index does not hold (the existing full reader of `$I30`, `dir_index`, is the reference)
    // cannot be found by path, by NTFS either: such paths and those below them must be
    // NotFound.
    let mut paths: BTreeMap<String, (u64, u64, String)> = BTreeMap::new();
    let mut names_of: HashMap<u64, usize> = HashMap::new();
    for it in listing.items() {
        if it.file.deleted || it.path().starts_with("/$Orphan/") {
            continue;
        }
        let (parent, nm) = it
            .name
            .map_or((5, String::new()), |n| (n.parent_entry, n.name.clone()));
        paths.insert(it.path().to_string(), (it.file.entry, parent, nm));
        names_of.insert(it.file.entry, it.file.names.len());
    }
    let up = v.upcase();
    assert!(
        up.is_from_volume(),
        "{name}: $UpCase not read from the volume"
    );
    let mut indexes: HashMap<u64, Vec<(u64, String)>> = HashMap::new();
    let mut unindexed: Vec<&str> = Vec::new();
    for (p, (entry, parent, nm)) in &paths {
        if p == "/" {
            continue;
        }
        let ix = indexes.entry(*parent).or_insert_with(|| {
            lazy.get(parent).map_or(Vec::new(), |d| {
                v.dir_index(d)
                    .entries
                    .into_iter()
                    .map(|e| (e.entry, e.name.name))
                    .collect()
            })
        });
        if !ix.iter().any(|(e, n)| e == entry && up.eq_str(n, nm)) {
            unindexed.push(p);
        }
    }
    let reachable = |p: &str| {
        !unindexed
            .iter()
            .any(|u| p == *u || p.strip_prefix(u).is_some_and(|r| r.starts_with('/')))
    };
    let all = paths.len();
    let step = all.div_ceil(MAX_PATHS).max(1);
    // Paths NTFS calls the same (POSIX names differing only in case): a re-cased lookup may
    // give any of them.
    let mut same_name: HashMap<String, Vec<u64>> = HashMap::new();
    for (p, (entry, _, _)) in &paths {
        same_name.entry(up.upcase(p)).or_default().push(*entry);
    }
    // Looks `p` up; `ok`: it must resolve to `want` (or, re-cased, to a file of the same name
    // but for case), otherwise it must be NotFound.
    let resolve = |p: &str, ok: bool, want: u64, how: &str, failures: &mut Vec<String>| {
        let twins = same_name.get(&up.upcase(p)).map_or(&[][..], |v| &v[..]);
        match v.open_path(p) {
            Ok(f) if ok && f.entry == want => {}
            Ok(f) if ok && how != "path" && twins.len() > 1 && twins.contains(&f.entry) => {}
            Ok(f) if ok => {
                failures.push(format!("{how} {p:?}: entry {} instead of {want}", f.entry))
            }
            Ok(f) => failures.push(format!(
                "{how} {p:?}: not in its index, yet found (entry {})",
                f.entry
            )),
            Err(Error::NotFound(m)) if !ok && m.contains(p) => {}
            Err(e) => failures.push(format!("{how} {p:?}: {e}")),
        }
    };
    for (i, (p, &(entry, _, _))) in paths.iter().enumerate() {
        if i % step != 0 {
            continue;
        }
        c.paths += 1;
        let ok = reachable(p);
        c.unindexed += !ok as usize;
        resolve(p, ok, entry, "path", &mut failures);
        if names_of.get(&entry).is_some_and(|&n| n > 1) {
            c.hard_link_paths += 1;
        }
        let upper = up.upcase(p);
        if upper != *p {
            c.recased_upcase += 1;
            resolve(&upper, ok, entry, "$UpCase-upper-cased", &mut failures);
        }
        for rust in [p.to_uppercase(), p.to_lowercase()] {
            if rust == *p {
                continue;
            }
            // Rust's case mapping may change a name's length (ß → SS) or map characters the
            // volume's table leaves alone: NTFS calls those different names.
            let same = p
                .split('/')
                .zip(rust.split('/'))
                .all(|(a, b)| up.eq_str(a, b))
                && p.split('/').count() == rust.split('/').count();
            if !same {
                c.rust_not_equivalent += 1;
                continue;
            }
            c.recased_rust += 1;
            if !p.is_ascii() {
                c.non_ascii_recased += 1;
            }
            resolve(&rust, ok, entry, "Rust-re-cased", &mut failures);
        }
    }

    // 4. DOS 8.3 names from the directory indexes resolve to their file.
    for (p, &(entry, _, _)) in &paths {
        if !reachable(p) {
            continue;
        }
        let Some(dir) = lazy.get(&entry).filter(|f| f.is_dir) else {
            continue;
        };
        for ie in v.dir_index(dir).entries {
            if ie.name.namespace != 2 || c.dos_names >= MAX_PATHS {
                continue;
            }
            c.dos_names += 1;
            let dos = format!("{}/{}", p.trim_end_matches('/'), ie.name.name);
            resolve(&dos, true, ie.entry, "DOS name", &mut failures);
        }
    }

    assert!(
        failures.is_empty(),
        "{name}: {} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    assert!(
        c.entries > 0 && c.paths > 0 && c.streams > 0,
        "{name}: nothing checked"
    );
    eprintln!("{name}: {c:?} ({all} paths in use)");
    c
}

fn check_image(name: &str, path: &Path) -> Vec<Counts> {
    let image = Image::open(path, VolumeSelect::default()).unwrap();
    assert!(!image.volumes().is_empty(), "{name}: no volume");
    image
        .volumes()
        .iter()
        .enumerate()
        .map(|(i, v)| check_volume(&format!("{name} volume {i}"), v))
        .collect()
}

#[test]
fn fixtures_agree_with_the_walk() {
    for f in [
        "ntfs-basic.img",
        "disk-mbr.img",
        "disk-gpt4k.img",
        "ntfs-shells.img",
        "ntfs-2m.img.gz",
        "ntfs-slack.img.gz",
        "ntfs-names.img.gz",
    ] {
        let counts = check_image(f, &common::unpacked(&common::fixture(f)));
        if f == "ntfs-basic.img" {
            let c = &counts[0];
            // The fixture has compressed, sparse, fragmented and non-ASCII-named files, and one
            // record with 120 names.
            assert!(c.seek_streams >= 10, "{c:?}");
            assert!(c.non_ascii_recased >= 2, "{c:?}");
            assert!(c.hard_link_paths >= 120, "{c:?}");
        }
        if f == "ntfs-names.img.gz" {
            let c = &counts[0];
            // Four DOS names; ten non-ASCII names Rust re-cases as NTFS does (some it does not:
            // the ﬁ ligature becomes two letters).
            assert!(c.dos_names >= 4, "{c:?}");
            assert!(c.non_ascii_recased >= 10, "{c:?}");
            assert!(c.rust_not_equivalent >= 1, "{c:?}");
        }
    }
}

#[test]
fn corpus_images_agree_with_the_walk() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for f in [
        "testfs1.raw",
        "ntfs_index.raw.gz",
        "ntfs3.raw.gz",
        "ntfs3_attrlist.raw.gz",
        "ntfs-si-vs-fn.raw.gz",
        "ntfs-lastaccess.raw.gz",
    ] {
        let path: PathBuf = common::unpacked(&corpus.join("ntfs").join(f));
        // None of them has DOS 8.3 names (Windows 10 does not make them on data volumes):
        // ntfs-names.img.gz has them.
        let counts = check_image(f, &path);
        if f == "ntfs3.raw.gz" {
            // /test/1.txt is in use but not in /test's index (TSK lists it as `-/r`).
            assert_eq!(counts[0].unindexed, 1, "{:?}", counts[0]);
        }
    }
}

fn names() -> Image {
    Image::open(
        &common::unpacked(&common::fixture("ntfs-names.img.gz")),
        VolumeSelect::default(),
    )
    .unwrap()
}

#[test]
fn dos_names_and_names_differing_only_in_case() {
    let image = names();
    let v = &image.volumes()[0];
    let long = v
        .open_path("/Program Files/Common Files/readme first.txt")
        .unwrap();
    for p in [
        "/PROGRA~1/COMMON~1/README~1.TXT",
        "/progra~1/Common Files/readme~1.txt",
        "/Program Files/COMMON~1/readme first.txt",
    ] {
        assert_eq!(v.open_path(p).unwrap().entry, long.entry, "{p}");
    }
    // The DOS name is folded into the long one in the entry, as in the walk.
    assert_eq!(long.names.len(), 1);
    assert_eq!(long.names[0].namespace, 1);
    assert_eq!(
        v.open_path("/INETPUB/WWWROOT/DEFAUL~1.ASP").unwrap().entry,
        v.open_path("/inetpub/wwwroot/Default Web Page.aspx")
            .unwrap()
            .entry
    );
    // POSIX names "Case.txt" and "case.txt" in one directory: each exact spelling gets its own
    // file; any other spelling gets one of the two.
    let upper = v.open_path("/posix/Case.txt").unwrap();
    let lower = v.open_path("/posix/case.txt").unwrap();
    assert_ne!(upper.entry, lower.entry);
    assert_eq!(upper.names[0].name, "Case.txt");
    assert_eq!(lower.names[0].name, "case.txt");
    let other = v.open_path("/POSIX/CASE.TXT").unwrap().entry;
    assert!(other == upper.entry || other == lower.entry);
    // The 300-name directory: every name by B-tree descent, also re-cased.
    let up = v.upcase();
    for i in (0..300).step_by(7) {
        let p = format!("/big/Größe Datei {i:03} — ένα.txt");
        let f = v.open_path(&p).unwrap();
        assert_eq!(f.names[0].name, p.rsplit('/').next().unwrap());
        assert_eq!(v.open_path(&up.upcase(&p)).unwrap().entry, f.entry);
        // (Rust upper-cases ß to SS: another name to NTFS.)
        assert_eq!(v.open_path(&p.to_lowercase()).unwrap().entry, f.entry);
        assert!(v.open_path(&p.to_uppercase()).is_err());
    }
    // A hard link: both names, the same entry.
    assert_eq!(
        v.open_path("/BIG/LINK TO OMEGA.TXT").unwrap().entry,
        v.open_path("/intl/ωMEGA-2.txt").unwrap().entry
    );
}

fn basic() -> Image {
    Image::open(&common::fixture("ntfs-basic.img"), VolumeSelect::default()).unwrap()
}

#[test]
fn non_ascii_names_match_case_insensitively() {
    let image = basic();
    let v = &image.volumes()[0];
    let f = v.open_path("/names/Düsseldorf/файл").unwrap();
    assert_eq!(f.names[0].name, "файл");
    for p in [
        "/NAMES/DÜSSELDORF/ФАЙЛ",
        "/names/düsseldorf/ФаЙл",
        "names/DÜSSELDORF//файл/",
    ] {
        assert_eq!(v.open_path(p).unwrap().entry, f.entry, "{p}");
    }
    assert_eq!(
        "/names/Düsseldorf/файл".to_uppercase(),
        "/NAMES/DÜSSELDORF/ФАЙЛ"
    );
    // Not the same name to NTFS: one more character, or a different one.
    for p in ["/names/Dusseldorf/файл", "/names/Düsseldorf/файлы"] {
        assert!(
            matches!(v.open_path(p), Err(Error::NotFound(m)) if m.contains(p)),
            "{p}"
        );
    }
    // Outside the BMP: surrogate pairs match only exactly (there is no case to fold).
    assert!(v.open_path("/names/SMILE 😀.TXT").is_ok());
}

#[test]
fn errors_and_streams_by_name() {
    let image = basic();
    let v = &image.volumes()[0];
    assert_eq!(v.open_path("/").unwrap().entry, 5);
    assert_eq!(v.open_path("").unwrap().entry, 5);
    // Through a file, and a missing component: NotFound naming the path.
    for p in [
        "/files/resident.txt/x",
        "/nothing/here",
        "/ads/host.txt:resident_ads",
    ] {
        match v.open_path(p) {
            Err(Error::NotFound(m)) => assert!(m.contains(p), "{m}"),
            other => panic!("{p}: {other:?}"),
        }
    }
    let long = "/a".repeat(60_000);
    assert!(matches!(v.open_path(&long), Err(Error::Limit(_))));
    // Streams: unnamed, named (exact and case-insensitively), missing.
    let host = v.open_path("/ads/host.txt").unwrap();
    for (sel, want) in [
        (None, None),
        (Some("resident_ads"), Some("resident_ads")),
        (Some("NONRESIDENT_ADS"), Some("nonresident_ads")),
    ] {
        let mut r = v.open_stream("/ads/host.txt", sel).unwrap();
        assert_eq!(r.stream().name.as_deref(), want);
        let s = host.stream(want).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        let mut walk = Vec::new();
        v.visit_stream(s, &mut |c| {
            walk.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, walk);
        assert_eq!(got.len() as u64, s.size);
    }
    assert!(matches!(
        v.open_stream("/ads/host.txt", Some("nope")),
        Err(Error::NotFound(_))
    ));
    // A directory has no unnamed stream, but may have a named one.
    assert!(matches!(
        v.open_stream("/ads/folder", None),
        Err(Error::NotFound(_))
    ));
    let r = v.open_stream("/ads/folder", Some("dir_stream")).unwrap();
    assert_eq!(r.len(), 24);
    assert_eq!(r.stream().kind, StreamKind::Data);
    // file(): an empty slot past the used records is NotFound.
    let listing = v.walk();
    let empty = (0..v.record_count())
        .find(|&e| listing.entry(e).is_none())
        .unwrap();
    assert!(matches!(v.file(empty), Err(Error::NotFound(_))));
}

/// Evidence that records every read (no memory map, so every byte read is a recorded read).
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Evidence>,
    reads: Mutex<Vec<(u64, u64)>>,
}

impl Evidence for Recording {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> deadbox::Result<()> {
        self.reads.lock().unwrap().push((offset, buf.len() as u64));
        self.inner.read_exact_at(offset, buf)
    }
    fn format(&self) -> deadbox::evidence::Format {
        deadbox::evidence::Format::Other("recording".into())
    }
}

impl Recording {
    /// The MFT records of `v` read since the last call.
    fn records_read(&self, v: &NtfsVolume) -> Vec<u64> {
        let reads = std::mem::take(&mut *self.reads.lock().unwrap());
        let rs = v.geometry().record_size;
        (0..v.record_count())
            .filter(|&e| {
                let o = v.record_offset(e).unwrap();
                reads.iter().any(|&(a, n)| a < o + rs && o < a + n)
            })
            .collect()
    }
}

#[test]
fn lookups_read_only_the_records_on_the_path() {
    let ev = Arc::new(Recording {
        inner: deadbox::evidence::open(&common::fixture("ntfs-basic.img")).unwrap(),
        reads: Mutex::new(Vec::new()),
    });
    let v = NtfsVolume::open(Region::whole(ev.clone()), None).unwrap();
    // Opening reads $MFT's record and $Volume's.
    assert_eq!(ev.records_read(&v), [0, 3]);
    // 22 nested directories: the root, 24 directories and the file, plus $UpCase (10) once.
    let deep = (1..=22)
        .map(|i| format!("d{i:02}"))
        .collect::<Vec<_>>()
        .join("/");
    let f = v.open_path(&format!("/deep/{deep}/bottom.txt")).unwrap();
    let mut content = Vec::new();
    v.stream_reader(f.stream(None).unwrap())
        .read_to_end(&mut content)
        .unwrap();
    let read = ev.records_read(&v);
    let listing = v.walk();
    ev.records_read(&v);
    let mut want = vec![5, 10];
    let mut path = String::new();
    for comp in std::iter::once("deep".to_string()).chain(deep.split('/').map(String::from)) {
        path.push('/');
        path.push_str(&comp);
        let dir = listing.items().find(|it| it.path() == path).unwrap();
        want.push(dir.file.entry);
    }
    want.push(f.entry);
    want.sort();
    assert_eq!(read, want, "records read for the deep lookup");
    // The 120-name record: its base and extension records, the root and /manylinks.
    assert_eq!(v.open_path("/manylinks/link_077.txt").unwrap().entry, 90);
    let read = ev.records_read(&v);
    let manylinks = v.open_path("/manylinks").unwrap().entry;
    ev.records_read(&v);
    for e in read
        .iter()
        .filter(|&&e| e != 5 && e != 90 && e != manylinks)
    {
        match v.file(*e) {
            Err(Error::NotFound(m)) if m.contains("extension record of entry 90") => {}
            other => panic!("record {e} read for /manylinks/link_077.txt: {other:?}"),
        }
    }
    assert!(read.contains(&5) && read.contains(&90) && read.contains(&manylinks));
    ev.records_read(&v);
    // The walk reads every record: the recording sees it.
    let _ = v.walk();
    assert_eq!(ev.records_read(&v).len() as u64, v.record_count());
}

/// Damaged images: random bytes of the MFT and of the directory index blocks overwritten. Every
/// lookup, `file` and read must end, with a value or an error, never a panic.
#[test]
fn damaged_records_and_indexes_give_errors_not_panics() {
    let src = std::fs::read(common::unpacked(&common::fixture("ntfs-names.img.gz"))).unwrap();
    let clean = NtfsVolume::open(
        Region::whole(Arc::new(MemoryEvidence::new(src.clone()))),
        None,
    )
    .unwrap();
    let listing = clean.walk();
    let mft = clean.record_offset(0).unwrap() as usize;
    let mft_len = (clean.record_count() * clean.geometry().record_size) as usize;
    // Where the index keys are: the blocks to damage.
    let mut keys: Vec<usize> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    for it in listing.items() {
        if !it.file.deleted && !it.path().starts_with("/$Orphan/") {
            paths.push(it.path().to_string());
        }
        if it.file.is_dir && it.is_first_name() {
            keys.extend(
                clean
                    .dir_index(it.file)
                    .entries
                    .iter()
                    .filter_map(|e| e.offset.map(|o| o as usize)),
            );
        }
    }
    assert!(keys.len() > 300);
    drop(clean);
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let (mut ok, mut errors) = (0usize, 0usize);
    for round in 0..60 {
        let mut img = src.clone();
        for _ in 0..24 {
            let at = if rng.next() % 2 == 0 {
                mft + (rng.next() as usize % mft_len)
            } else {
                let k = keys[rng.next() as usize % keys.len()];
                (k & !0xFFF) + rng.next() as usize % 4096
            };
            img[at] = rng.next() as u8;
        }
        let Ok(v) = NtfsVolume::open(Region::whole(Arc::new(MemoryEvidence::new(img))), None)
        else {
            errors += 1;
            continue;
        };
        for (i, p) in paths.iter().enumerate() {
            if (i + round) % 4 != 0 {
                continue;
            }
            match v.open_path(&v.upcase().upcase(p)) {
                Ok(f) => {
                    ok += 1;
                    for s in &f.streams {
                        let mut buf = Vec::new();
                        let _ = v.stream_reader(s).take(1 << 20).read_to_end(&mut buf);
                    }
                }
                Err(_) => errors += 1,
            }
        }
        for e in (round as u64..v.record_count()).step_by(7) {
            let _ = v.file(e);
        }
    }
    eprintln!("damaged images: {ok} lookups found, {errors} errors");
    // Most lookups still succeed; some fail, as errors.
    assert!(ok > 1000 && errors > 0, "ok {ok}, errors {errors}");
}
