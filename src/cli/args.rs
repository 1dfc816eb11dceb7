//! The command line's arguments (clap): what each subcommand takes.

use clap::{Args, Parser, Subcommand, ValueEnum};
use deadbox::image::SnapshotSelect;
use deadbox::volume::VolumeSelect;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "deadbox",
    version,
    about = "Offline forensic triage of Windows disk images (NTFS read straight from the image)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Internal: parses one EVTX file read from stdin and writes its records as JSON lines
    /// (the child process `scan` runs for each event log, so that the parser cannot take the
    /// scan down).
    #[command(name = "__evtx-records", hide = true)]
    EvtxRecords {
        /// Address-space limit this process applies to itself, in bytes.
        #[arg(long)]
        max_memory: u64,
        /// Records written at most.
        #[arg(long)]
        max_records: u64,
    },
    /// Container, partitions and NTFS volumes of an image.
    Info {
        /// Evidence file (raw/dd, split raw `.001`, E01, VHD, VHDX, VMDK, qcow2).
        evidence: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// A second image that holds the volumes' shadow storage (for the store sizes).
        #[arg(long, value_name = "IMAGE")]
        vss_storage: Option<PathBuf>,
    },
    /// Every file stream and directory, deleted ones included.
    Ls {
        /// Evidence file.
        evidence: PathBuf,
        #[command(flatten)]
        vol: VolArgs,
        #[command(flatten)]
        snap: SnapArgs,
        #[command(flatten)]
        mem: MemArgs,
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Also list the names carved from the slack of directory indexes ($I30): deleted or
        /// renamed files, even when their MFT records were reused (rows with source i30_slack).
        #[arg(long)]
        index_slack: bool,
    },
    /// MD5, SHA-1 and SHA-256 of every file stream (deleted ones too, when readable).
    Hash {
        /// Evidence file.
        evidence: PathBuf,
        #[command(flatten)]
        vol: VolArgs,
        #[command(flatten)]
        snap: SnapArgs,
        #[command(flatten)]
        mem: MemArgs,
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Hashes to compute (comma-separated: md5,sha1,sha256).
        #[arg(long, default_value = "md5,sha1,sha256")]
        hashes: String,
        /// Largest stream read, in bytes (larger ones get an error row).
        #[arg(long, default_value_t = 64 << 30)]
        max_read: u64,
    },
    /// Hash and YARA-scan an image (every NTFS volume), a loose file or a folder; print findings.
    Scan(ScanArgs),
    /// Copies selected streams out of an image into a new folder, with a manifest.
    Extract(ExtractArgs),
    /// Recomputes the media MD5/SHA-1 of a container and compares them with the stored ones (E01).
    Verify {
        /// Evidence file.
        evidence: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Writes a stream's bytes to stdout.
    Cat {
        /// Evidence file.
        evidence: PathBuf,
        /// Volume path, optionally with `:STREAM` (e.g. `/inetpub/x.htm:hidden.aspx`).
        path: Option<String>,
        /// MFT entry number instead of a path, optionally with `:STREAM`.
        #[arg(long)]
        entry: Option<String>,
        #[command(flatten)]
        vol: VolArgs,
        #[command(flatten)]
        snap: SnapArgs,
        #[command(flatten)]
        mem: MemArgs,
    },
    /// The USN change journal ($Extend/$UsnJrnl:$J) with full paths, or a loose $J file.
    Usn {
        /// Evidence file, or a loose $J extract.
        evidence: PathBuf,
        #[command(flatten)]
        vol: VolArgs,
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Also carve USN records from the volume's free clusters (reads all free space).
        #[arg(long)]
        carve: bool,
    },
    /// A super-timeline: $SI and $FN times of every MFT entry, USN records, shadow copies,
    /// log entries and findings, sorted (or a TSK bodyfile).
    Timeline(TimelineArgs),
    /// A self-contained HTML report: verdict, ranked findings, attack timeline chart and
    /// table, evidence identity. Exit code as `scan`'s.
    Report(ReportArgs),
}

/// `deadbox timeline`'s arguments.
#[derive(Args)]
pub struct TimelineArgs {
    /// Evidence file.
    pub evidence: PathBuf,
    #[command(flatten)]
    pub vol: VolArgs,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: TimelineFormat,
    /// Keep times from this one on (RFC 3339 UTC or YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Keep times up to this one (RFC 3339 UTC, or YYYY-MM-DD: through that day).
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub story: StoryArgs,
    /// Every entry of the logs the assessment reads, not only those findings point to.
    #[arg(long)]
    pub all_log_entries: bool,
    /// Also the names carved from the slack of directory indexes ($I30).
    #[arg(long)]
    pub index_slack: bool,
    /// Leave out the USN change journal.
    #[arg(long)]
    pub no_usn: bool,
    /// Leave out the shadow copies' creation times.
    #[arg(long)]
    pub no_snapshots: bool,
    /// Do not scan: no findings on the timeline (the MFT, USN and logs only).
    #[arg(long)]
    pub no_scan: bool,
    /// Sort in runs spilled to this folder (never the evidence's), in bounded memory; done
    /// anyway, in the temporary folder, for volumes of more than 2 million MFT records.
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Memory for sorting when spilling: MiB of formatted lines per run.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub sort_memory: usize,
}

/// What the timeline and the report share: the window and the scan's rules.
#[derive(Args)]
pub struct StoryArgs {
    /// Centre a window on: `first` (the first finding), a finding kind (`web_shell`) or
    /// `rule:NAME`, a volume path (its $FN creation time) or a time.
    #[arg(long, value_name = "FINDING|PATH|TIME")]
    pub around: Option<String>,
    /// Width of the --around window, centred (48h = 24 hours each side).
    #[arg(long, default_value = "48h")]
    pub window: String,
    /// Rule file (.yar/.yara) or folder of them for the scan, besides the built-in rules.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub mem: MemArgs,
}

/// `deadbox report`'s arguments.
#[derive(Args)]
pub struct ReportArgs {
    /// Evidence file.
    pub evidence: PathBuf,
    /// The HTML file to write (must not exist).
    #[arg(long, short)]
    pub output: PathBuf,
    #[command(flatten)]
    pub vol: VolArgs,
    #[command(flatten)]
    pub story: StoryArgs,
    /// Also recompute the media hashes (reads the whole image once more).
    #[arg(long)]
    pub verify: bool,
}

/// `timeline --format`.
#[derive(Clone, Copy, ValueEnum)]
pub enum TimelineFormat {
    /// TSK bodyfile (fls -m), MFT order: input to mactime.
    Bodyfile,
    /// Timesketch JSONL, sorted.
    Timesketch,
    /// CSV, sorted, MACB letters.
    Csv,
    /// JSON lines, sorted, MACB letters.
    Jsonl,
}

impl TimelineFormat {
    /// The library's format.
    pub fn lib(self) -> deadbox::timeline::TimelineFormat {
        use deadbox::timeline::TimelineFormat as T;
        match self {
            TimelineFormat::Bodyfile => T::Bodyfile,
            TimelineFormat::Timesketch => T::Timesketch,
            TimelineFormat::Csv => T::Csv,
            TimelineFormat::Jsonl => T::Jsonl,
        }
    }
}

#[derive(Args)]
pub struct ScanArgs {
    /// Evidence: disk images, loose files or folders.
    #[arg(required = true)]
    pub evidence: Vec<PathBuf>,
    #[command(flatten)]
    pub vol: VolArgs,
    #[command(flatten)]
    pub snap: SnapArgs,
    /// Rule file (.yar/.yara) or folder of them; repeatable; one namespace per file.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Leave the built-in rule pack and IOC list out.
    #[arg(long)]
    pub no_builtin_rules: bool,
    /// Drop rule files that fail to compile (with a warning) instead of stopping.
    #[arg(long)]
    pub skip_bad_rules: bool,
    /// IOC hash list (`hash[;comment]` lines; MD5/SHA-1/SHA-256); repeatable.
    #[arg(long = "ioc", value_name = "FILE")]
    pub ioc: Vec<PathBuf>,
    /// Known-good hash list (plain hashes or the Exchange baseline CSV); repeatable.
    #[arg(long = "known-good", value_name = "FILE")]
    pub known_good: Vec<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Hashes to compute (comma-separated: md5,sha1,sha256, or none).
    #[arg(long, default_value = "md5,sha1,sha256")]
    pub hashes: String,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write findings to this file (must not exist yet).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the HTML report of the evidence to this file (must not exist yet; one
    /// evidence argument only).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// YARA timeout per stream, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Largest stream stored in pieces that is assembled in memory for YARA, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_in_memory: u64,
    #[command(flatten)]
    pub mem: MemArgs,
    /// Largest stream read at all, in bytes.
    #[arg(long, default_value_t = 64 << 30)]
    pub max_read: u64,
    /// Skip the ProxyLogon assessment (Exchange logs, web-shell ranking, dumps, archives).
    #[arg(long)]
    pub no_exchange: bool,
    /// Run only these checks (`exchange`: only the assessment's findings).
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Only {
    Exchange,
}

#[derive(Args)]
pub struct ExtractArgs {
    /// Evidence: a disk image.
    pub evidence: PathBuf,
    /// Output folder (created; must be empty if it exists).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub vol: VolArgs,
    /// Only the streams `deadbox scan` (built-in rules and assessment) has findings about.
    #[arg(long)]
    pub findings: bool,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Hashes recorded in the manifest.
    #[arg(long, default_value = "md5,sha1,sha256")]
    pub hashes: String,
    /// Largest stream exported, in bytes.
    #[arg(long, default_value_t = 64 << 30)]
    pub max_read: u64,
}

/// Which streams `scan` and `extract` take.
#[derive(Args)]
pub struct SelectArgs {
    /// Every stream, not just the triage selection.
    #[arg(long)]
    pub all_files: bool,
    /// Only paths matching this glob (case-insensitive; without `/` it matches the file name);
    /// repeatable.
    #[arg(long = "include", value_name = "GLOB")]
    pub include: Vec<String>,
    /// Leave out paths matching this glob; repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Leave out streams larger than this many bytes.
    #[arg(long)]
    pub max_size: Option<u64>,
    /// Leave out deleted files.
    #[arg(long)]
    pub no_deleted: bool,
}

impl SelectArgs {
    pub fn selection(&self) -> deadbox::Result<deadbox::scan::Selection> {
        Ok(deadbox::scan::Selection::triage()
            .all_files(self.all_files)
            .include(&self.include)?
            .exclude(&self.exclude)?
            .max_size(self.max_size)
            .deleted(!self.no_deleted))
    }
}

#[derive(Args, Clone, Copy)]
pub struct VolArgs {
    /// Only this partition (index as listed by `deadbox info`).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Open an NTFS volume at this byte offset.
    #[arg(long)]
    pub offset: Option<u64>,
}

impl From<VolArgs> for VolumeSelect {
    fn from(v: VolArgs) -> Self {
        VolumeSelect {
            partition: v.partition,
            offset: v.offset,
        }
    }
}

/// The run's memory budget.
#[derive(Args, Clone, Copy)]
pub struct MemArgs {
    /// The run's one memory budget, in bytes, shared by all workers: each volume's namespace
    /// and paths, MFT batches in flight, directory indexes being read, and (scan) streams,
    /// logs and archive members assembled in memory. Work that does not fit is cut with a
    /// diagnostic. [default: a quarter of the machine's memory, at most 4 GiB]
    #[arg(long, value_name = "BYTES")]
    pub max_memory: Option<u64>,
}

impl MemArgs {
    /// The budget, in bytes.
    pub fn bytes(self) -> u64 {
        self.max_memory
            .unwrap_or_else(deadbox::evidence::budget::default_limit)
    }
}

/// Which Volume Shadow Copies to read.
#[derive(Args, Clone)]
pub struct SnapArgs {
    /// Read shadow copy N (1 = oldest, as `deadbox info` lists them) instead of the live volume.
    #[arg(long, value_name = "N", conflicts_with = "snapshots")]
    pub snapshot: Option<usize>,
    /// `all`: the live volume and every shadow copy (rows and findings name their snapshot).
    #[arg(long, value_enum, value_name = "WHICH")]
    pub snapshots: Option<Snapshots>,
    /// A second image that holds the shadow storage (diff area) of the volumes.
    #[arg(long, value_name = "IMAGE")]
    pub vss_storage: Option<PathBuf>,
}

impl SnapArgs {
    pub fn select(&self) -> SnapshotSelect {
        match (self.snapshot, self.snapshots) {
            (Some(n), _) => SnapshotSelect::One(n),
            (None, Some(Snapshots::All)) => SnapshotSelect::All,
            (None, None) => SnapshotSelect::Live,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Snapshots {
    All,
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Jsonl,
    Json,
    Csv,
    Table,
}
