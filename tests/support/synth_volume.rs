//! A big NTFS volume made in seconds, for the scale tests: `mkntfs` formats a sparse file, then
//! `$MFT` is extended in place over the free MFT zone that follows it and records 64..N are
//! written directly (no FUSE, no driver): a Windows-like tree of a few hundred directories
//! (`/Windows/WinSxS/<component>/f`, `/inetpub/wwwroot/<app>/bin`, `/Program Files/...`) and
//! files with resident `$DATA` (IIS logs in `W3SVC*` are W3C logs), about 1 % of them deleted
//! and a few with a second name (hard link). Directories carry an empty `$I30` index root: the
//! files are in no directory index, so their paths come from the `$FILE_NAME` parent references
//! (deadbox lists them under their real paths; so does TSK's `fls -r -p`, from its map of
//! parent references, and `fsstat`/`istat`/`icat` read the records).
//!
//! What is patched besides the new records, so that the volume stays consistent: record 0's
//! `$DATA` (sizes, one run from the MFT's LCN) and `$BITMAP` (moved after the extended MFT,
//! one bit per record in use), record 0's `$FILE_NAME` sizes, the `$MFTMirr` copy of record 0,
//! and the volume `$Bitmap` (the new clusters are marked in use; they are checked free first, and
//! checked against every run list of the system records).
//!
//! Deterministic: the layout and the bytes of every generated record are a pure function of N
//! ([`plan`]), so a test can recompute what it expects without reading the image back (mkntfs
//! still picks a random serial number and stamps the system files with the current time).
//! Unoptimised (a test build), 300,000 records take about 3 s, 1,000,000 about 12 s.
//! Included by path (`#[path]`) from the tests that need it; the crate root must have
//! `mod common;` (for the scratch folder).
#![allow(dead_code)]

#[path = "mft_edit.rs"]
mod mft_edit;
#[path = "rng.rs"]
mod rng;

use mft_edit::{attributes, edit_record, file_name_value, find_attr, rd16, rd64, wr16, wr32, wr64};
use rng::Rng;
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// First record written here; 0..63 are left as mkntfs made them (27..63 stay empty).
pub const FIRST: u64 = 64;
/// The root directory's entry and sequence number.
pub const ROOT: u64 = 5;
pub const ROOT_SEQ: u16 = 5;
/// Sequence number of every generated record.
pub const SEQUENCE: u16 = 1;
const SEED: u64 = 0x5CA1_AB1E_2021;
/// 2020-01-01T00:00:00Z as a FILETIME, and two years in 100 ns units.
const T0: u64 = 132_223_104_000_000_000;
const SPAN: u64 = 731 * 86_400 * 10_000_000;
const DAY: u64 = 86_400 * 10_000_000;

/// One generated MFT record.
#[derive(Debug, Clone)]
pub struct Planned {
    pub is_dir: bool,
    /// Record not in use (flags 0): a deleted file.
    pub deleted: bool,
    /// (parent entry, name): one for most, two for a hard-linked file.
    pub names: Vec<(u64, String)>,
    /// Length of the resident unnamed `$DATA` (files; 0 for directories).
    pub size: u32,
    /// An IIS log (W3C, in `/inetpub/logs/LogFiles/W3SVC*`), for the assessment to parse.
    pub w3c: bool,
}

/// A generated volume (or only its plan, when `path` is empty).
pub struct Synth {
    pub path: PathBuf,
    /// MFT records of the volume, N (entries 0..N; FIRST..N generated).
    pub records: u64,
    /// `entries[i]` is entry `FIRST + i`.
    pub entries: Vec<Planned>,
    dir_paths: HashMap<u64, String>,
}

impl Synth {
    pub fn entry(&self, entry: u64) -> Option<&Planned> {
        entry
            .checked_sub(FIRST)
            .and_then(|i| self.entries.get(i as usize))
    }
    /// Volume-rooted path of one name (`/Windows/WinSxS/...`).
    pub fn path_of(&self, parent: u64, name: &str) -> String {
        format!("{}/{}", self.dir_paths[&parent], name)
    }
    /// Every path of an entry (one per name).
    pub fn paths(&self, entry: u64) -> Vec<String> {
        self.entry(entry)
            .map(|p| p.names.iter().map(|(d, n)| self.path_of(*d, n)).collect())
            .unwrap_or_default()
    }
    /// Rows `deadbox ls` gives for the generated entries: one per directory, one per name of a
    /// file (one unnamed stream each).
    pub fn expected_rows(&self) -> u64 {
        self.entries.iter().map(|p| p.names.len() as u64).sum()
    }
    pub fn dirs(&self) -> usize {
        self.entries.iter().filter(|p| p.is_dir).count()
    }
    pub fn deleted(&self) -> usize {
        self.entries.iter().filter(|p| p.deleted).count()
    }
    pub fn hard_links(&self) -> usize {
        self.entries.iter().filter(|p| p.names.len() > 1).count()
    }
}

/// The volume with `n` MFT records, made once per test binary in the scratch folder (made
/// again when the file is missing); `None` when mkntfs is missing outside CI.
pub fn synth_volume(n: u64) -> Option<Synth> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let mk = super::common::mkntfs("the generated-volume test")?;
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = crate::common::scratch().join(format!("synth-{n}.img"));
    let mut s = plan(n);
    if !path.exists() {
        let tmp = path.with_extension("img.part");
        write_volume(&mk, &tmp, &s);
        std::fs::rename(&tmp, &path).unwrap();
    }
    s.path = path;
    Some(s)
}

/// A fresh mkntfs volume of the same size as the generated ones, nothing added (the baseline
/// for the system files' rows).
pub fn plain_volume(path: &Path, n: u64) -> Option<PathBuf> {
    let mk = super::common::mkntfs("the generated-volume test")?;
    format(&mk, path, volume_bytes(n));
    Some(path.to_path_buf())
}

/// 8 GiB holds about a million 1 KiB records in its MFT zone (an eighth of the volume).
fn volume_bytes(n: u64) -> u64 {
    (8u64 << 30) * n.div_ceil(900_000).max(1)
}

fn format(mk: &Path, path: &Path, bytes: u64) {
    super::common::mkntfs_sparse(mk, path, bytes, "synth");
}

// ---------------------------------------------------------------------------------------------
// The plan: directories, names, sizes.

/// What a directory holds: file extensions (repeated for weight).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    WinSxS,
    Manifests,
    System,
    Mui,
    Program,
    Web,
    WebBin,
    Logs,
    IisLogs,
    Temp,
    Empty,
}

impl Kind {
    fn exts(self) -> &'static [&'static str] {
        match self {
            Kind::WinSxS => &["dll", "dll", "dll", "dll", "mui", "manifest", "manifest"],
            Kind::Manifests => &["manifest"],
            Kind::System => &[
                "dll", "dll", "dll", "dll", "dll", "mui", "config", "log", "txt",
            ],
            Kind::Mui => &["mui"],
            Kind::Program => &[
                "dll", "dll", "dll", "config", "config", "txt", "manifest", "log",
            ],
            Kind::Web => &["aspx", "aspx", "aspx", "aspx", "config", "txt"],
            Kind::WebBin => &["dll", "dll", "dll", "config"],
            Kind::Logs | Kind::IisLogs => &["log"],
            Kind::Temp => &["txt", "txt", "log", "log", "config"],
            Kind::Empty => &["txt"],
        }
    }
}

struct DirSpec {
    parent: Option<usize>,
    name: String,
    kind: Kind,
    weight: u64,
}

struct Tree {
    dirs: Vec<DirSpec>,
    by_path: HashMap<String, usize>,
}

impl Tree {
    /// Adds `path` (and its missing ancestors, as `Empty` with weight 1); the last component
    /// gets `kind` and `weight`.
    fn add(&mut self, path: &str, kind: Kind, weight: u64) -> usize {
        let mut parent = None;
        let mut so_far = String::new();
        let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in comps.iter().enumerate() {
            so_far.push('/');
            so_far.push_str(c);
            let last = i + 1 == comps.len();
            let idx = match self.by_path.get(&so_far) {
                Some(&k) => k,
                None => {
                    self.dirs.push(DirSpec {
                        parent,
                        name: c.to_string(),
                        kind: Kind::Empty,
                        weight: 1,
                    });
                    self.by_path.insert(so_far.clone(), self.dirs.len() - 1);
                    self.dirs.len() - 1
                }
            };
            if last {
                self.dirs[idx].kind = kind;
                self.dirs[idx].weight = weight;
            }
            parent = Some(idx);
        }
        parent.unwrap()
    }
}

const SXS_NAMES: &[&str] = &[
    "shell32",
    "kernel32",
    "ntdll",
    "comctl32",
    "gdiplus",
    "wininet",
    "urlmon",
    "mshtml",
    "iis-webserver",
    "iis-aspnet45",
    "netfx4-aspnet",
    "powershell",
    "wmi-core",
    "servicingstack",
    "security-kerberos",
    "security-ntlm",
    "lsa",
    "tcpip",
    "dns-client",
    "smbserver",
    "rdp-core",
    "defender-core",
    "update-client",
    "print-spooler",
    "taskscheduler",
    "eventlog",
    "crypt32",
    "schannel",
    "bcrypt",
    "winhttp",
    "directx",
    "media-foundation",
    "audio-engine",
    "bluetooth",
    "storage-core",
    "ntfs",
    "volsnap",
    "bits-client",
    "cbs",
    "wcp",
    "msxml6",
    "xmllite",
];
const WORDS: &[&str] = &[
    "Storage",
    "Shell",
    "Networking",
    "Security",
    "Crypto",
    "Web",
    "Management",
    "Data",
    "Runtime",
    "Graphics",
    "Media",
    "Devices",
    "Input",
    "Xaml",
    "Deployment",
    "Diagnostics",
    "Configuration",
    "Core",
    "Services",
    "Print",
    "Search",
    "Update",
    "Cloud",
    "Sync",
    "Identity",
    "Authentication",
    "Audio",
    "Bluetooth",
    "Display",
    "Power",
    "Setup",
    "Telemetry",
    "Policy",
    "Registry",
    "Remote",
    "Desktop",
    "Terminal",
    "Font",
    "Speech",
    "Wifi",
    "Http",
    "Cache",
    "Session",
];
const PREFIXES: &[&str] = &[
    "",
    "",
    "",
    "",
    "Microsoft.",
    "Windows.",
    "System.",
    "Microsoft.Windows.",
    "Ms",
    "Win",
];
const SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    "Host",
    "Svc",
    "Api",
    "Core",
    "Ext",
    "Client",
    "Provider",
    "Broker",
    ".Interop",
    ".Resources",
    "32",
    "64",
    "Mgr",
];
const ASPX: &[&str] = &[
    "Default",
    "Login",
    "Logout",
    "Account",
    "OrderHistory",
    "ProductList",
    "Admin",
    "Settings",
    "Upload",
    "Report",
    "Search",
    "Checkout",
    "Profile",
    "Dashboard",
    "Invoice",
    "Customer",
    "Export",
    "Import",
    "Status",
    "Help",
    "Contact",
    "Register",
    "Details",
    "Edit",
    "Summary",
];
const TXT: &[&str] = &[
    "ThirdPartyNotices",
    "license",
    "readme",
    "EULA",
    "changelog",
    "release-notes",
    "install",
    "notes",
    "credits",
    "copyright",
    "history",
];

/// A name's key in its directory (case folded, as NTFS compares names): FNV-1a of the parent
/// and the ASCII-lowercased name. Cheap even unoptimised; a false clash only costs a retry.
fn name_key(parent: u64, name: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ parent;
    for b in name.bytes() {
        h = (h ^ b.to_ascii_lowercase() as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.rotate_left(29) ^ v;
    }
}

type KeySet = HashSet<u64, std::hash::BuildHasherDefault<KeyHasher>>;

fn pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.index(xs.len())]
}

fn stem(rng: &mut Rng) -> String {
    let mut s = String::from(pick(rng, PREFIXES));
    s.push_str(pick(rng, WORDS));
    if rng.below(2) == 0 {
        s.push_str(pick(rng, WORDS));
    }
    s.push_str(pick(rng, SUFFIXES));
    if s.starts_with("Ms") || s.starts_with("Win") || rng.below(3) == 0 {
        s = s.to_lowercase();
    }
    s
}

fn file_name(rng: &mut Rng, ext: &str, kind: Kind) -> String {
    match ext {
        "mui" => format!("{}.dll.mui", stem(rng)),
        "manifest" if kind == Kind::Manifests || kind == Kind::WinSxS => {
            let arch = pick(rng, &["amd64", "x86", "wow64", "msil"]);
            let comp = pick(rng, SXS_NAMES);
            let s: String = format!("{arch}_microsoft-windows-{comp}")
                .chars()
                .take(26)
                .collect();
            format!("{s}_{:04x}.manifest", rng.below(0x10000))
        }
        "config" => match rng.below(4) {
            0 => "web.config".into(),
            1 => format!("{}.exe.config", stem(rng)),
            _ => format!("{}.dll.config", stem(rng)),
        },
        "aspx" => {
            let mut s = String::from(pick(rng, ASPX));
            if rng.below(2) == 0 {
                s.push_str(pick(rng, ASPX));
            }
            format!("{s}.aspx")
        }
        "log" => {
            let (m, d) = (1 + rng.below(12), 1 + rng.below(28));
            let hms = format!(
                "{:02}{:02}{:02}",
                rng.below(24),
                rng.below(60),
                rng.below(60)
            );
            match (kind, rng.below(4)) {
                (Kind::IisLogs, _) => format!("u_ex{}{m:02}{d:02}.log", 20 + rng.below(2)),
                (Kind::Logs, 0..=1) => format!("u_ex21{m:02}{d:02}.log"),
                (_, 0) => format!("CbsPersist_2021{m:02}{d:02}{hms}.log"),
                (_, 1) => format!("setupapi.dev.2021{m:02}{d:02}_{hms}.log"),
                _ => format!("{}.log", stem(rng)),
            }
        }
        "txt" => {
            if rng.below(2) == 0 {
                format!("{}_{}.txt", pick(rng, TXT), rng.below(1000))
            } else {
                format!("{}.txt", stem(rng))
            }
        }
        _ => format!("{}.{ext}", stem(rng)),
    }
}

fn build_tree(n: u64, rng: &mut Rng) -> Tree {
    let mut t = Tree {
        dirs: Vec::new(),
        by_path: HashMap::new(),
    };
    for (p, k, w) in [
        ("/Windows", Kind::Empty, 1),
        ("/Windows/System32", Kind::System, 300),
        ("/Windows/System32/en-US", Kind::Mui, 60),
        ("/Windows/System32/drivers", Kind::System, 40),
        ("/Windows/System32/drivers/etc", Kind::Temp, 2),
        ("/Windows/System32/wbem", Kind::System, 30),
        ("/Windows/System32/config", Kind::Empty, 1),
        ("/Windows/System32/LogFiles/HTTPERR", Kind::Logs, 4),
        ("/Windows/System32/inetsrv", Kind::System, 40),
        ("/Windows/System32/inetsrv/config", Kind::Program, 4),
        ("/Windows/SysWOW64", Kind::System, 200),
        ("/Windows/SysWOW64/en-US", Kind::Mui, 40),
        ("/Windows/WinSxS", Kind::WinSxS, 40),
        ("/Windows/WinSxS/Manifests", Kind::Manifests, 150),
        ("/Windows/WinSxS/Backup", Kind::WinSxS, 5),
        ("/Windows/WinSxS/Temp/PendingDeletes", Kind::Temp, 5),
        ("/Windows/Logs/CBS", Kind::Logs, 10),
        ("/Windows/Logs/DISM", Kind::Logs, 5),
        (
            "/Windows/Microsoft.NET/Framework64/v4.0.30319",
            Kind::Program,
            30,
        ),
        (
            "/Windows/Microsoft.NET/Framework64/v4.0.30319/Config",
            Kind::Program,
            5,
        ),
        ("/Windows/Temp", Kind::Temp, 10),
        ("/inetpub/wwwroot", Kind::Web, 10),
        (
            "/inetpub/wwwroot/aspnet_client/system_web/4_0_30319",
            Kind::Empty,
            0,
        ),
        ("/inetpub/logs/LogFiles/W3SVC1", Kind::IisLogs, 2),
        ("/inetpub/logs/LogFiles/W3SVC2", Kind::IisLogs, 1),
        (
            "/ProgramData/Microsoft/Windows/WER/ReportArchive",
            Kind::Temp,
            5,
        ),
        ("/Users/Administrator/AppData/Local/Temp", Kind::Temp, 20),
        ("/Users/Public/Documents", Kind::Temp, 5),
    ] {
        t.add(p, k, w);
    }
    for app in [
        "Portal",
        "Intranet",
        "HRService",
        "OrderTracking",
        "Reports",
        "CustomerApi",
        "Helpdesk",
        "Timesheets",
    ] {
        let base = format!("/inetpub/wwwroot/{app}");
        t.add(&base, Kind::Web, 15);
        t.add(&format!("{base}/bin"), Kind::WebBin, 10);
        t.add(&format!("{base}/bin/en-US"), Kind::Mui, 2);
        for v in ["Home", "Account", "Shared"] {
            t.add(&format!("{base}/Views/{v}"), Kind::Web, 5);
        }
        t.add(&format!("{base}/Content"), Kind::Temp, 3);
    }
    for p in [
        "Microsoft SQL Server/150/Tools/Binn",
        "Microsoft SQL Server/150/DTS/Binn",
        "Microsoft SQL Server/Client SDK/ODBC/170/Tools/Binn",
        "Microsoft Office/root/Office16",
        "Microsoft Office/root/Office16/1033",
        "Common Files/microsoft shared/ink",
        "Common Files/microsoft shared/VSTO/10.0",
        "Common Files/System/ado",
        "Mozilla Firefox/browser/features",
        "Mozilla Firefox/defaults/pref",
        "7-Zip/Lang",
        "Notepad++/plugins/mimeTools",
        "Notepad++/localization",
        "VMware/VMware Tools/plugins/vmsvc",
        "Windows Defender/en-US",
        "Windows Defender/Offline",
        "IIS/Microsoft Web Deploy V3",
        "dotnet/shared/Microsoft.NETCore.App/3.1.32",
        "dotnet/shared/Microsoft.AspNetCore.App/3.1.32",
    ] {
        let kind = if p.ends_with("en-US") || p.ends_with("1033") {
            Kind::Mui
        } else {
            Kind::Program
        };
        t.add(&format!("/Program Files/{p}"), kind, 20);
        if rng.below(2) == 0 {
            t.add(&format!("/Program Files (x86)/{p}"), kind, 8);
        }
    }
    // WinSxS components, some with forward/reverse delta folders (`f`, `r`) and `n` below `f`.
    let components = ((n.saturating_sub(FIRST)) / 1500).clamp(20, 600);
    for i in 0..components {
        let name = format!(
            "{}_microsoft-windows-{}_31bf3856ad364e35_10.0.17763.{}_{}_{:016x}",
            pick(rng, &["amd64", "amd64", "amd64", "wow64", "x86", "msil"]),
            SXS_NAMES[i as usize % SXS_NAMES.len()],
            rng.below(2000),
            if rng.below(4) == 0 { "en-us" } else { "none" },
            rng.next()
        );
        let base = format!("/Windows/WinSxS/{name}");
        t.add(&base, Kind::WinSxS, 10);
        if i % 3 == 0 {
            t.add(&format!("{base}/f"), Kind::WinSxS, 3);
            t.add(&format!("{base}/r"), Kind::WinSxS, 3);
        }
        if i % 17 == 0 {
            t.add(&format!("{base}/f/n"), Kind::WinSxS, 1);
        }
    }
    t
}

/// The layout of a volume with `n` MFT records (entries FIRST..n): a pure function of `n`.
pub fn plan(n: u64) -> Synth {
    assert!(n >= 2048, "a generated volume needs at least 2048 records");
    let mut rng = Rng::new(SEED);
    let tree = build_tree(n, &mut rng);
    let slots = (n - FIRST) as usize;
    let d = tree.dirs.len();
    assert!(d * 4 < slots, "{n} records are too few for {d} directories");
    // The top of the tree first (as an installation leaves it), the rest spread over the MFT:
    // parents are often after their children, as on a real volume.
    let head = tree
        .dirs
        .iter()
        .take_while(|s| !s.name.contains("_microsoft-windows-"))
        .count();
    let mut dir_entry = vec![0u64; d];
    for (k, e) in dir_entry.iter_mut().enumerate() {
        let slot = if k < head {
            k
        } else {
            head + ((k - head) * 2 + 1) * (slots - head) / (2 * (d - head).max(1))
        };
        *e = FIRST + slot as u64;
    }
    let mut entries: Vec<Option<Planned>> = vec![None; slots];
    let mut taken = KeySet::default();
    taken.reserve(slots + slots / 64);
    let mut dir_paths: HashMap<u64, String> = HashMap::new();
    dir_paths.insert(ROOT, String::new());
    for (k, s) in tree.dirs.iter().enumerate() {
        let parent = s.parent.map_or(ROOT, |p| dir_entry[p]);
        let path = format!("{}/{}", dir_paths[&parent], s.name);
        dir_paths.insert(dir_entry[k], path);
        taken.insert(name_key(parent, &s.name));
        let slot = &mut entries[(dir_entry[k] - FIRST) as usize];
        assert!(slot.is_none(), "two directories in one slot");
        *slot = Some(Planned {
            is_dir: true,
            deleted: false,
            names: vec![(parent, s.name.clone())],
            size: 0,
            w3c: false,
        });
    }
    let mut cum = Vec::with_capacity(d);
    let mut total = 0u64;
    for s in &tree.dirs {
        total += s.weight;
        cum.push(total);
    }
    let system32 = dir_entry[tree.by_path["/Windows/System32"]];
    for (i, slot) in entries.iter_mut().enumerate() {
        if slot.is_some() {
            continue;
        }
        let entry = FIRST + i as u64;
        let w = rng.below(total);
        let k = cum.partition_point(|&c| c <= w);
        let spec = &tree.dirs[k];
        let parent = dir_entry[k];
        let ext = pick(&mut rng, spec.kind.exts());
        let mut name = String::new();
        for attempt in 0..8 {
            let c = file_name(&mut rng, ext, spec.kind);
            if (8..=40).contains(&c.chars().count()) && !taken.contains(&name_key(parent, &c)) {
                name = c;
                break;
            }
            if attempt == 7 {
                let s: String = stem(&mut rng).chars().take(22).collect();
                name = format!("{s}_{entry}.{ext}");
            }
        }
        taken.insert(name_key(parent, &name));
        let mut names = vec![(parent, name.clone())];
        let mut size = 50 + rng.below(551) as u32;
        // A few WinSxS libraries also linked into System32, as servicing does.
        if spec.kind == Kind::WinSxS
            && ext == "dll"
            && rng.below(150) == 0
            && taken.insert(name_key(system32, &name))
        {
            names.push((system32, name));
            size = size.min(400);
        }
        let w3c = spec.kind == Kind::IisLogs;
        if w3c {
            size = w3c_log(entry, &names[0].1, size as usize).len() as u32;
        }
        let deleted = names.len() == 1 && rng.below(100) == 0;
        *slot = Some(Planned {
            is_dir: false,
            deleted,
            names,
            size,
            w3c,
        });
    }
    Synth {
        path: PathBuf::new(),
        records: n,
        entries: entries.into_iter().map(Option::unwrap).collect(),
        dir_paths,
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

fn round8(x: usize) -> usize {
    (x + 7) & !7
}

/// Appends a resident attribute at `off`; returns the offset after it.
fn put_resident(
    rec: &mut [u8],
    off: usize,
    t: u32,
    name: &str,
    id: u16,
    indexed: bool,
    value: &[u8],
) -> usize {
    let name16: Vec<u16> = name.encode_utf16().collect();
    let value_off = round8(0x18 + 2 * name16.len());
    let len = round8(value_off + value.len());
    assert!(
        off + len + 8 <= rec.len(),
        "record overflow: attribute {t:#x} at {off:#x}"
    );
    wr32(rec, off, t);
    wr32(rec, off + 4, len as u32);
    rec[off + 8] = 0;
    rec[off + 9] = name16.len() as u8;
    wr16(rec, off + 10, 0x18);
    wr16(rec, off + 12, 0);
    wr16(rec, off + 14, id);
    wr32(rec, off + 16, value.len() as u32);
    wr16(rec, off + 20, value_off as u16);
    rec[off + 22] = indexed as u8;
    for (i, u) in name16.iter().enumerate() {
        wr16(rec, off + 0x18 + 2 * i, *u);
    }
    rec[off + value_off..off + value_off + value.len()].copy_from_slice(value);
    off + len
}

/// Applies the update sequence array to a record built in the clear.
fn protect(rec: &mut [u8], usn: u16) {
    let usa = rd16(rec, 4) as usize;
    let count = rd16(rec, 6) as usize;
    wr16(rec, usa, usn);
    for i in 0..count - 1 {
        let pos = (i + 1) * 512 - 2;
        let (a, b) = (rec[pos], rec[pos + 1]);
        rec[usa + 2 + 2 * i] = a;
        rec[usa + 3 + 2 * i] = b;
        wr16(rec, pos, usn);
    }
}

fn file_times(rng: &mut Rng) -> [u64; 4] {
    let c = T0 + rng.below(SPAN);
    let m = c + rng.below(30 * DAY);
    let mm = m + rng.below(DAY);
    let a = mm + rng.below(DAY);
    [c, m, mm, a]
}

/// The bytes of a file's resident `$DATA` (deterministic per entry).
pub fn content(entry: u64, name: &str, size: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED ^ entry.wrapping_mul(0x9E37_79B9));
    let mut out = Vec::with_capacity(size + 64);
    while out.len() < size {
        out.extend_from_slice(
            format!(
                "{name} entry {entry} build 10.0.17763.{} {:016x}\r\n",
                rng.below(2000),
                rng.next()
            )
            .as_bytes(),
        );
    }
    out.truncate(size);
    out
}

/// An IIS log of at most `max` bytes (at least its header and one request): W3C header, then
/// ordinary requests of the day its name (`u_exYYMMDD.log`) gives.
pub fn w3c_log(entry: u64, name: &str, max: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED ^ entry.wrapping_mul(0x9E37_79B9));
    let day = name
        .strip_prefix("u_ex")
        .and_then(|r| r.get(..6))
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .map(|d| format!("20{}-{}-{}", &d[..2], &d[2..4], &d[4..6]))
        .unwrap_or_else(|| "2021-01-01".into());
    let mut out = format!(
        "#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n\
         #Date: {day} 00:00:01\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query \
         s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\r\n"
    )
    .into_bytes();
    let mut first = true;
    loop {
        let (m, uri) = match rng.below(6) {
            0 => (
                "POST",
                format!(
                    "/{}/Login.aspx",
                    pick(&mut rng, &["Portal", "Intranet", "Helpdesk"])
                ),
            ),
            1 => ("GET", "/favicon.ico".to_string()),
            _ => (
                "GET",
                format!(
                    "/{}/{}.aspx",
                    pick(&mut rng, &["Portal", "Reports", "Timesheets"]),
                    pick(&mut rng, ASPX)
                ),
            ),
        };
        let line = format!(
            "{day} {:02}:{:02}:{:02} 10.0.0.5 {m} {uri} - 443 - 10.20.{}.{} \
             Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) 200 0 0 {}\r\n",
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.below(256),
            1 + rng.below(254),
            1 + rng.below(400)
        );
        if !first && out.len() + line.len() > max {
            break;
        }
        out.extend_from_slice(line.as_bytes());
        first = false;
    }
    out
}

/// Record `entry` of the plan, fixups applied, into `rec` (zeroed, record-sized).
fn build_record(rec: &mut [u8], entry: u64, p: &Planned, index_params: &[u8; 16]) {
    let rs = rec.len();
    let mut rng = Rng::new(SEED.rotate_left(17) ^ entry);
    let times = file_times(&mut rng);
    rec[0..4].copy_from_slice(b"FILE");
    let usa_count = rs / 512 + 1;
    wr16(rec, 4, 0x30);
    wr16(rec, 6, usa_count as u16);
    wr64(rec, 8, 0x0100_0000 + entry * 0x58); // $LogFile sequence number
    wr16(rec, 16, SEQUENCE);
    wr16(rec, 18, p.names.len() as u16);
    let first = round8(0x30 + 2 * usa_count);
    wr16(rec, 20, first as u16);
    // In use (1), directory (2).
    let flags = u16::from(!p.deleted) | if p.is_dir { 2 } else { 0 };
    wr16(rec, 22, flags);
    wr32(rec, 28, rs as u32);
    wr64(rec, 32, 0);
    wr32(rec, 44, entry as u32);
    let mut id = 0u16;
    // $STANDARD_INFORMATION: 4 times, attributes, versions, class, owner, security id, quota, USN.
    let mut si = [0u8; 72];
    for (i, t) in times.iter().enumerate() {
        wr64(&mut si, 8 * i, *t);
    }
    wr32(&mut si, 32, if p.is_dir { 0x10 } else { 0x20 });
    wr32(&mut si, 52, 0x100 + rng.below(16) as u32);
    wr64(&mut si, 64, entry * 0x60);
    let mut off = put_resident(rec, first, 0x10, "", id, false, &si);
    id += 1;
    for (parent, name) in &p.names {
        let pseq = if *parent == ROOT { ROOT_SEQ } else { SEQUENCE };
        let name16: Vec<u16> = name.encode_utf16().collect();
        let mut f = vec![0u8; 66 + 2 * name16.len()];
        wr64(&mut f, 0, parent | (pseq as u64) << 48);
        for i in 0..4 {
            wr64(&mut f, 8 + 8 * i, times[0]);
        }
        if !p.is_dir {
            wr64(&mut f, 40, round8(p.size as usize) as u64);
            wr64(&mut f, 48, p.size as u64);
        }
        wr32(&mut f, 56, if p.is_dir { 0x1000_0000 } else { 0x20 });
        f[64] = name16.len() as u8;
        f[65] = 3; // Win32 and DOS
        for (i, u) in name16.iter().enumerate() {
            wr16(&mut f, 66 + 2 * i, *u);
        }
        off = put_resident(rec, off, 0x30, "", id, true, &f);
        id += 1;
    }
    if p.is_dir {
        // An empty $I30 index root: the volume's index parameters, a header, the end entry.
        let mut v = [0u8; 0x30];
        v[..16].copy_from_slice(index_params);
        wr32(&mut v, 16, 0x10); // first entry, from the header
        wr32(&mut v, 20, 0x20); // index size
        wr32(&mut v, 24, 0x20); // allocated
        wr16(&mut v, 32 + 8, 0x10); // end entry: length
        wr16(&mut v, 32 + 12, 2); // flags: last entry
        off = put_resident(rec, off, 0x90, "$I30", id, false, &v);
    } else {
        let data = if p.w3c {
            w3c_log(entry, &p.names[0].1, p.size as usize)
        } else {
            content(entry, &p.names[0].1, p.size as usize)
        };
        assert_eq!(data.len(), p.size as usize);
        off = put_resident(rec, off, 0x80, "", id, false, &data);
    }
    id += 1;
    wr32(rec, off, 0xFFFF_FFFF);
    wr32(rec, off + 4, 0);
    wr32(rec, 24, (off + 8) as u32);
    wr16(rec, 40, id);
    protect(rec, 1 + (entry % 0xFFF) as u16);
}

/// A decoded run list: (LCN, or None for a hole; length in clusters).
type Runs = Vec<(Option<u64>, u64)>;

/// Decodes a run list.
fn decode_runs(b: &[u8]) -> Runs {
    let mut out = Vec::new();
    let (mut i, mut lcn) = (0usize, 0i64);
    while i < b.len() && b[i] != 0 {
        let (ln, lo) = ((b[i] & 15) as usize, (b[i] >> 4) as usize);
        let mut len = 0u64;
        for k in 0..ln {
            len |= (b[i + 1 + k] as u64) << (8 * k);
        }
        if lo == 0 {
            out.push((None, len));
        } else {
            let mut d = 0i64;
            for k in 0..lo {
                d |= (b[i + 1 + ln + k] as i64) << (8 * k);
            }
            if b[i + ln + lo] & 0x80 != 0 && lo < 8 {
                d -= 1i64 << (8 * lo);
            }
            lcn += d;
            out.push((Some(lcn as u64), len));
        }
        i += 1 + ln + lo;
    }
    out
}

/// One run (a positive LCN): header, length, offset, terminator.
fn encode_run(lcn: u64, len: u64) -> Vec<u8> {
    fn bytes(v: u64) -> Vec<u8> {
        // Minimal little-endian bytes with the top bit clear (both fields read as signed by some).
        let mut b = v.to_le_bytes().to_vec();
        while b.len() > 1 && b[b.len() - 1] == 0 && b[b.len() - 2] & 0x80 == 0 {
            b.pop();
        }
        b
    }
    let (l, o) = (bytes(len), bytes(lcn));
    let mut out = vec![(o.len() << 4 | l.len()) as u8];
    out.extend(l);
    out.extend(o);
    out.push(0);
    out
}

/// Non-resident attributes of a record (fixups undone on a copy): (type, name, runs, size).
fn nonresident_runs(rec: &[u8]) -> Vec<(u32, String, Runs, u64)> {
    let mut r = rec.to_vec();
    let mut out = Vec::new();
    let rs = r.len();
    edit_record(&mut r, 0, rs, |r| {
        for (a, t, len, name) in attributes(r) {
            if r[a + 8] != 0 {
                let rl = a + rd16(r, a + 0x20) as usize;
                out.push((t, name, decode_runs(&r[rl..a + len]), rd64(r, a + 0x30)));
            }
        }
    });
    out
}

fn read_at(f: &std::fs::File, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, off).unwrap();
    b
}

/// Reads (or writes back) a non-resident stream given its runs.
fn stream_io(f: &std::fs::File, runs: &[(Option<u64>, u64)], cs: u64, buf: &mut [u8], write: bool) {
    let mut pos = 0usize;
    for &(lcn, len) in runs {
        let n = ((len * cs) as usize).min(buf.len() - pos);
        let lcn = lcn.expect("hole in a system stream");
        if write {
            f.write_all_at(&buf[pos..pos + n], lcn * cs).unwrap();
        } else {
            f.read_exact_at(&mut buf[pos..pos + n], lcn * cs).unwrap();
        }
        pos += n;
        if pos == buf.len() {
            break;
        }
    }
    assert_eq!(pos, buf.len(), "stream shorter than its size");
}

/// Formats `path` and writes the volume of plan `s`.
pub fn write_volume(mk: &Path, path: &Path, s: &Synth) {
    let n = s.records;
    format(mk, path, volume_bytes(n));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let boot = read_at(&f, 0, 512);
    let bps = rd16(&boot, 0x0B) as u64;
    let spc = match boot[0x0D] {
        v if v > 0x80 => 1u64 << (256 - v as u32),
        v => v as u64,
    };
    let cs = bps * spc;
    let mft_lcn = rd64(&boot, 0x30);
    let mirr_lcn = rd64(&boot, 0x38);
    let rs = match boot[0x40] as i8 {
        v if v < 0 => 1usize << (-v as u32),
        v => v as usize * cs as usize,
    };
    let total_clusters = rd64(&boot, 0x28) / spc;
    assert!(
        rs >= 1024 && cs >= rs as u64,
        "unexpected geometry: {cs}-byte clusters, {rs}-byte records"
    );
    let mft_off = mft_lcn * cs;

    // The system records as mkntfs wrote them, and every cluster run they own.
    let rec0 = read_at(&f, mft_off, rs);
    let runs0 = nonresident_runs(&rec0);
    let old_size = runs0
        .iter()
        .find(|r| r.0 == 0x80 && r.1.is_empty())
        .unwrap()
        .3;
    let old_records = old_size / rs as u64;
    assert!(old_records <= FIRST, "mkntfs made {old_records} records");
    let mut owned: Vec<(u64, String, Option<u64>, u64)> = Vec::new();
    let mut vol_bitmap_runs = None;
    let mut vol_bitmap_size = 0;
    let mut mft_bitmap_runs = None;
    let mut mft_bitmap_size = 0;
    for e in 0..old_records {
        let rec = read_at(&f, mft_off + e * rs as u64, rs);
        if &rec[..4] != b"FILE" {
            continue;
        }
        for (t, name, runs, size) in nonresident_runs(&rec) {
            if e == 6 && t == 0x80 && name.is_empty() {
                vol_bitmap_runs = Some(runs.clone());
                vol_bitmap_size = size;
            }
            if e == 0 && t == 0xB0 {
                mft_bitmap_runs = Some(runs.clone());
                mft_bitmap_size = size;
            }
            for (lcn, len) in runs {
                owned.push((e, name.clone(), lcn, len));
            }
        }
    }
    let vol_bitmap_runs = vol_bitmap_runs.expect("no $Bitmap data");
    let mft_bitmap_runs = mft_bitmap_runs.expect("no $MFT:$BITMAP");

    // New layout: the MFT from its LCN for n records, its bitmap right after.
    let mft_clusters = (n * rs as u64).div_ceil(cs);
    let bmp_bytes = n.div_ceil(64) * 8;
    let bmp_clusters = bmp_bytes.div_ceil(cs);
    let bmp_lcn = mft_lcn + mft_clusters;
    let new_lo = mft_lcn;
    let new_hi = bmp_lcn + bmp_clusters;
    assert!(new_hi <= total_clusters, "volume too small for {n} records");
    for (e, name, lcn, len) in &owned {
        let Some(lcn) = *lcn else { continue };
        if *e == 0 {
            continue; // $MFT's own runs are replaced
        }
        assert!(
            lcn + len <= new_lo || lcn >= new_hi,
            "record {e} ({name:?}) owns clusters {lcn}..{} inside the new MFT range {new_lo}..{new_hi}",
            lcn + len
        );
    }
    let mut vbmp = vec![0u8; vol_bitmap_size as usize];
    stream_io(&f, &vol_bitmap_runs, cs, &mut vbmp, false);
    let old_mft_end = mft_lcn + old_size.div_ceil(cs);
    for c in old_mft_end.max(new_lo)..new_hi {
        assert!(
            vbmp[(c / 8) as usize] & (1 << (c % 8)) == 0,
            "cluster {c} is in use"
        );
    }

    // The records, written in batches.
    let index_params: [u8; 16] = {
        let root = read_at(&f, mft_off + ROOT * rs as u64, rs);
        let mut out = [0u8; 16];
        let mut r = root.clone();
        edit_record(&mut r, 0, rs, |r| {
            let (a, _) = find_attr(r, 0x90, "$I30");
            let v = a + rd16(r, a + 20) as usize;
            out.copy_from_slice(&r[v..v + 16]);
        });
        out
    };
    const BATCH: u64 = 4096;
    let mut buf = vec![0u8; BATCH as usize * rs];
    let mut e = FIRST;
    while e < n {
        let k = (n - e).min(BATCH);
        buf.fill(0);
        for j in 0..k {
            let rec = &mut buf[j as usize * rs..(j as usize + 1) * rs];
            build_record(rec, e + j, s.entry(e + j).unwrap(), &index_params);
        }
        f.write_all_at(&buf[..k as usize * rs], mft_off + e * rs as u64)
            .unwrap();
        e += k;
    }

    // $MFT:$BITMAP, moved after the MFT: the old bits, plus the generated records in use.
    let mut mbmp = vec![0u8; bmp_bytes as usize];
    let mut old = vec![0u8; mft_bitmap_size as usize];
    stream_io(&f, &mft_bitmap_runs, cs, &mut old, false);
    mbmp[..old.len()].copy_from_slice(&old);
    for (i, p) in s.entries.iter().enumerate() {
        if !p.deleted {
            let r = FIRST as usize + i;
            mbmp[r / 8] |= 1 << (r % 8);
        }
    }
    let mut padded = mbmp.clone();
    padded.resize((bmp_clusters * cs) as usize, 0);
    f.write_all_at(&padded, bmp_lcn * cs).unwrap();

    // Record 0: $DATA and $BITMAP sizes and runs, $FILE_NAME sizes.
    let mut rec0 = rec0;
    let mut err = None;
    edit_record(&mut rec0, 0, rs, |r| {
        for (t, lcn, clusters, size) in [
            (0x80u32, mft_lcn, mft_clusters, n * rs as u64),
            (0xB0, bmp_lcn, bmp_clusters, bmp_bytes),
        ] {
            let (a, len) = find_attr(r, t, "");
            let rl = rd16(r, a + 0x20) as usize;
            let run = encode_run(lcn, clusters);
            if rl + run.len() > len {
                err = Some(format!(
                    "no room for the run list of {t:#x} ({} bytes in {})",
                    run.len(),
                    len - rl
                ));
                return;
            }
            r[a + rl..a + len].fill(0);
            r[a + rl..a + rl + run.len()].copy_from_slice(&run);
            wr64(r, a + 0x18, clusters - 1);
            wr64(r, a + 0x28, clusters * cs);
            wr64(r, a + 0x30, size);
            wr64(r, a + 0x38, size);
        }
        let v = file_name_value(r);
        wr64(r, v + 40, mft_clusters * cs);
        wr64(r, v + 48, n * rs as u64);
    });
    if let Some(e) = err {
        panic!("{e}");
    }
    f.write_all_at(&rec0, mft_off).unwrap();
    f.write_all_at(&rec0, mirr_lcn * cs).unwrap();

    // The volume $Bitmap: the new MFT clusters and the moved MFT bitmap are in use, the old
    // MFT bitmap cluster(s) free.
    for (lcn, len) in &mft_bitmap_runs {
        if let Some(lcn) = lcn {
            for c in *lcn..lcn + len {
                vbmp[(c / 8) as usize] &= !(1 << (c % 8));
            }
        }
    }
    for c in new_lo..new_hi {
        vbmp[(c / 8) as usize] |= 1 << (c % 8);
    }
    stream_io(&f, &vol_bitmap_runs, cs, &mut vbmp, true);
}
