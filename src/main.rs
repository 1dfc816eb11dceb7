//! The `deadbox` command line: flags to library calls, a printer, an exit code. No forensic
//! logic lives here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use deadbox::hash::HashSet;
use deadbox::ntfs::NtfsVolume;
use deadbox::rows::FileRow;
use deadbox::volume::VolumeSelect;
use deadbox::Image;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "deadbox",
    version,
    about = "Offline forensic triage of Windows disk images (NTFS read straight from the image)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Container, partitions and NTFS volumes of an image.
    Info {
        /// Evidence file (raw/dd, split raw `.001`, E01, VHD, VHDX, VMDK, qcow2).
        evidence: PathBuf,
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Every file stream and directory, deleted ones included.
    Ls {
        /// Evidence file.
        evidence: PathBuf,
        #[command(flatten)]
        vol: VolArgs,
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
    },
}

#[derive(Args)]
struct ScanArgs {
    /// Evidence: disk images, loose files or folders.
    #[arg(required = true)]
    evidence: Vec<PathBuf>,
    #[command(flatten)]
    vol: VolArgs,
    /// Rule file (.yar/.yara) or folder of them; repeatable; one namespace per file.
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Leave the built-in rule pack and IOC list out.
    #[arg(long)]
    no_builtin_rules: bool,
    /// Drop rule files that fail to compile (with a warning) instead of stopping.
    #[arg(long)]
    skip_bad_rules: bool,
    /// IOC hash list (`hash[;comment]` lines; MD5/SHA-1/SHA-256); repeatable.
    #[arg(long = "ioc", value_name = "FILE")]
    ioc: Vec<PathBuf>,
    /// Known-good hash list (plain hashes or the Exchange baseline CSV); repeatable.
    #[arg(long = "known-good", value_name = "FILE")]
    known_good: Vec<PathBuf>,
    #[command(flatten)]
    select: SelectArgs,
    /// Hashes to compute (comma-separated: md5,sha1,sha256, or none).
    #[arg(long, default_value = "md5,sha1,sha256")]
    hashes: String,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write findings to this file (must not exist yet).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// YARA timeout per stream, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Largest stream stored in pieces that is assembled in memory for YARA, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    max_in_memory: u64,
    /// Largest stream read at all, in bytes.
    #[arg(long, default_value_t = 64 << 30)]
    max_read: u64,
    /// Skip the ProxyLogon assessment (Exchange logs, web-shell ranking, dumps, archives).
    #[arg(long)]
    no_exchange: bool,
    /// Run only these checks (`exchange`: only the assessment's findings).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum Only {
    Exchange,
}

#[derive(Args)]
struct ExtractArgs {
    /// Evidence: a disk image.
    evidence: PathBuf,
    /// Output folder (created; must be empty if it exists).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    vol: VolArgs,
    /// Only the streams `deadbox scan` (built-in rules and assessment) has findings about.
    #[arg(long)]
    findings: bool,
    #[command(flatten)]
    select: SelectArgs,
    /// Hashes recorded in the manifest.
    #[arg(long, default_value = "md5,sha1,sha256")]
    hashes: String,
    /// Largest stream exported, in bytes.
    #[arg(long, default_value_t = 64 << 30)]
    max_read: u64,
}

/// Which streams `scan` and `extract` take.
#[derive(Args)]
struct SelectArgs {
    /// Every stream, not just the triage selection.
    #[arg(long)]
    all_files: bool,
    /// Only paths matching this glob (case-insensitive; without `/` it matches the file name);
    /// repeatable.
    #[arg(long = "include", value_name = "GLOB")]
    include: Vec<String>,
    /// Leave out paths matching this glob; repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    exclude: Vec<String>,
    /// Leave out streams larger than this many bytes.
    #[arg(long)]
    max_size: Option<u64>,
    /// Leave out deleted files.
    #[arg(long)]
    no_deleted: bool,
}

impl SelectArgs {
    fn selection(&self) -> Result<deadbox::scan::Selection, Fail> {
        Ok(deadbox::scan::Selection::triage()
            .all_files(self.all_files)
            .include(&self.include)?
            .exclude(&self.exclude)?
            .max_size(self.max_size)
            .deleted(!self.no_deleted))
    }
}

#[derive(Args, Clone, Copy)]
struct VolArgs {
    /// Only this partition (index as listed by `deadbox info`).
    #[arg(long)]
    partition: Option<u32>,
    /// Open an NTFS volume at this byte offset.
    #[arg(long)]
    offset: Option<u64>,
}

impl From<VolArgs> for VolumeSelect {
    fn from(v: VolArgs) -> Self {
        VolumeSelect {
            partition: v.partition,
            offset: v.offset,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Jsonl,
    Json,
    Csv,
    Table,
}

fn default_format(f: Option<Format>) -> Format {
    f.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Jsonl
    })
}

/// What went wrong, and the exit code it maps to.
enum Fail {
    /// Evidence unreadable, bad arguments: exit 2.
    Error(String),
    /// stdout closed (e.g. `| head`): not an error.
    BrokenPipe,
}

impl From<deadbox::Error> for Fail {
    fn from(e: deadbox::Error) -> Self {
        Fail::Error(e.to_string())
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Fail::BrokenPipe
        } else {
            Fail::Error(e.to_string())
        }
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Self {
        match e.io_error_kind() {
            Some(std::io::ErrorKind::BrokenPipe) => Fail::BrokenPipe,
            _ => Fail::Error(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Info { evidence, format } => info(&evidence, default_format(format)),
        Cmd::Ls {
            evidence,
            vol,
            format,
            index_slack,
        } => ls(&evidence, vol.into(), default_format(format), index_slack),
        Cmd::Hash {
            evidence,
            vol,
            format,
            hashes,
            max_read,
        } => HashSet::parse(&hashes)
            .map_err(Fail::from)
            .and_then(|set| hash(&evidence, vol.into(), default_format(format), set, max_read)),
        Cmd::Cat {
            evidence,
            path,
            entry,
            vol,
        } => cat(&evidence, path, entry, vol.into()),
        Cmd::Scan(args) => scan(args),
        Cmd::Extract(args) => extract(args),
        Cmd::Verify { evidence, format } => verify(&evidence, default_format(format)),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(Fail::BrokenPipe) => ExitCode::SUCCESS,
        Err(Fail::Error(msg)) => {
            eprintln!("deadbox: error: {}", msg.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn warn_diagnostics(image: &Image) {
    for d in image.diagnostics() {
        eprintln!("deadbox: warning: {}: {d}", image.path().display());
    }
}

fn info(path: &std::path::Path, format: Format) -> Result<u8, Fail> {
    let image = Image::open(path, VolumeSelect::default());
    let ev = match &image {
        Ok(i) => i.evidence().clone(),
        Err(_) => deadbox::evidence::open(path)?,
    };
    let layout = match &image {
        Ok(i) => i.layout().clone(),
        Err(_) => deadbox::volume::detect(&ev)?,
    };
    let volumes: Vec<serde_json::Value> = image
        .as_ref()
        .map(|i| {
            i.volumes()
                .iter()
                .map(|v| {
                    let g = v.geometry();
                    serde_json::json!({
                        "partition": v.partition(),
                        "offset": v.offset(),
                        "label": v.label(),
                        "serial": format!("{:016X}", g.serial),
                        "sector_size": g.sector_size,
                        "cluster_size": g.cluster_size,
                        "record_size": g.record_size,
                        "record_count": v.record_count(),
                        "size": g.size,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut diagnostics = layout.diagnostics.clone();
    match &image {
        Ok(i) => diagnostics = i.diagnostics().to_vec(),
        Err(e) => diagnostics.push(deadbox::ntfs::Diagnostic::new(
            deadbox::ntfs::Diagnostic::kind_of(e),
            e.to_string(),
        )),
    }
    let doc = serde_json::json!({
        "evidence": path.display().to_string(),
        "container": ev.format().to_string(),
        "size": ev.len(),
        "scheme": layout.scheme,
        "sector_size": layout.sector_size,
        "partitions": layout.partitions,
        "volumes": volumes,
        "diagnostics": diagnostics,
    });
    let mut out = std::io::stdout().lock();
    if format == Format::Table {
        writeln!(out, "evidence:   {}", path.display())?;
        writeln!(out, "container:  {}", ev.format())?;
        writeln!(out, "size:       {} bytes", ev.len())?;
        writeln!(
            out,
            "scheme:     {} ({}-byte sectors)",
            format!("{:?}", layout.scheme).to_lowercase(),
            layout.sector_size
        )?;
        if !layout.partitions.is_empty() {
            writeln!(out, "partitions:")?;
            writeln!(
                out,
                "  {:>5}  {:>14}  {:>14}  {:<5}  type",
                "index", "offset", "size", "ntfs"
            )?;
            for p in &layout.partitions {
                writeln!(
                    out,
                    "  {:>5}  {:>14}  {:>14}  {:<5}  {}{}",
                    p.index,
                    p.offset,
                    p.size,
                    if p.ntfs { "yes" } else { "no" },
                    p.partition_type,
                    p.name
                        .as_deref()
                        .map(|n| format!(" \"{n}\""))
                        .unwrap_or_default()
                )?;
            }
        }
        writeln!(out, "ntfs volumes:")?;
        for v in &volumes {
            writeln!(
                out,
                "  partition {}  offset {}  label {}  serial {}  cluster {}  records {}",
                v["partition"],
                v["offset"],
                v["label"],
                v["serial"],
                v["cluster_size"],
                v["record_count"]
            )?;
        }
        for d in &diagnostics {
            writeln!(out, "warning: {d}")?;
        }
    } else {
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
    }
    Ok(if image.is_ok() { 0 } else { 2 })
}

fn table_time(t: &Option<deadbox::finding::Times>) -> String {
    t.as_ref()
        .map(|t| t.modified.to_string().chars().take(19).collect())
        .unwrap_or_else(|| "-".into())
}

/// A batch of rows formatted on a worker thread: the text, and for CSV the header its first
/// row gives.
struct Chunk {
    csv_header: Option<String>,
    body: Vec<u8>,
    rows: usize,
}

/// Formats rows for `format` (JSON elements are indented for the array `RowWriter` wraps them in).
/// Rows that write their own JSON line (the same bytes as serde_json, without building a
/// JSON value: the listing writes millions).
trait JsonLine {
    fn write_jsonl(&self, out: &mut Vec<u8>);
}

impl JsonLine for FileRow {
    fn write_jsonl(&self, out: &mut Vec<u8>) {
        FileRow::write_jsonl(self, out)
    }
}

impl JsonLine for deadbox::rows::HashRow {
    fn write_jsonl(&self, out: &mut Vec<u8>) {
        deadbox::rows::HashRow::write_jsonl(self, out)
    }
}

fn format_rows<T: serde::Serialize + JsonLine>(
    format: Format,
    rows: &[T],
    table: impl Fn(&T) -> String,
) -> Result<Chunk, Fail> {
    let mut body = Vec::with_capacity(rows.len() * 512);
    let mut csv_header = None;
    for (i, r) in rows.iter().enumerate() {
        match format {
            Format::Table => writeln!(body, "{}", table(r))?,
            Format::Jsonl => r.write_jsonl(&mut body),
            Format::Json => {
                if i > 0 {
                    body.extend_from_slice(b",\n");
                }
                let pretty = serde_json::to_string_pretty(r)?;
                for (k, line) in pretty.lines().enumerate() {
                    if k > 0 {
                        body.push(b'\n');
                    }
                    body.extend_from_slice(b"  ");
                    body.extend_from_slice(line.as_bytes());
                }
            }
            Format::Csv => {
                // Columns: the JSON fields, nested objects flattened as `si_created`, ….
                let mut cols = Vec::new();
                flatten("", &serde_json::to_value(r)?, &mut cols);
                if csv_header.is_none() {
                    let names: Vec<String> = cols.iter().map(|(k, _)| csv_field(k)).collect();
                    csv_header = Some(names.join(","));
                }
                let vals: Vec<String> = cols.iter().map(|(_, v)| csv_field(v)).collect();
                writeln!(body, "{}", vals.join(","))?;
            }
        }
    }
    Ok(Chunk {
        csv_header,
        body,
        rows: rows.len(),
    })
}

/// Writes formatted chunks in order: the table header once, the CSV header with the first row,
/// one JSON array per volume.
struct RowWriter<W: Write> {
    out: W,
    format: Format,
    table_header: String,
    header_done: bool,
    /// Rows written in the current volume's JSON array.
    in_volume: usize,
}

impl<W: Write> RowWriter<W> {
    fn new(out: W, format: Format, table_header: String) -> Self {
        RowWriter {
            out,
            format,
            table_header,
            header_done: false,
            in_volume: 0,
        }
    }

    fn begin_volume(&mut self) -> std::io::Result<()> {
        self.in_volume = 0;
        if self.format == Format::Table && !self.header_done {
            self.header_done = true;
            writeln!(self.out, "{}", self.table_header)?;
        }
        Ok(())
    }

    fn chunk(&mut self, c: &Chunk) -> std::io::Result<()> {
        if c.rows == 0 {
            return Ok(());
        }
        match self.format {
            Format::Csv => {
                if let (false, Some(h)) = (self.header_done, &c.csv_header) {
                    self.header_done = true;
                    writeln!(self.out, "{h}")?;
                }
            }
            Format::Json => {
                self.out
                    .write_all(if self.in_volume == 0 { b"[\n" } else { b",\n" })?
            }
            _ => {}
        }
        self.in_volume += c.rows;
        self.out.write_all(&c.body)
    }

    fn end_volume(&mut self) -> std::io::Result<()> {
        if self.format == Format::Json {
            self.out.write_all(if self.in_volume == 0 {
                b"[]\n"
            } else {
                b"\n]\n"
            })?;
        }
        Ok(())
    }
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

/// Prints a walk diagnostic of volume `v` as a warning.
fn warn_walk(v: &NtfsVolume, d: &deadbox::ntfs::WalkDiagnostic) {
    eprintln!(
        "deadbox: warning: {}{}: {}",
        part_prefix(v),
        d.entry.map(|e| format!("entry {e}")).unwrap_or_default(),
        d.message
    );
}

fn part_prefix(v: &NtfsVolume) -> String {
    v.partition()
        .map(|p| format!("partition {p}: "))
        .unwrap_or_default()
}

/// The namespace of a volume, its diagnostics printed as warnings.
fn volume_tree(v: &NtfsVolume) -> Arc<deadbox::ntfs::Tree> {
    let tree = Arc::new(v.tree());
    for d in tree.diagnostics() {
        warn_walk(v, d);
    }
    tree
}

/// What one batch of MFT records gives a row command: its formatted rows, warnings to print,
/// and anything kept for after the walk.
type BatchOut<X> = (Chunk, Vec<String>, X);

/// Streams a volume's MFT through `rows` (on the worker threads, in parallel) and writes the
/// chunks in MFT order as they come: the first rows appear at once and memory does not hold
/// the listing. Warnings are printed in order; the kept values go to `keep`.
fn stream_rows<W: Write, X: Send>(
    v: &NtfsVolume,
    tree: &Arc<deadbox::ntfs::Tree>,
    w: &mut RowWriter<W>,
    rows: impl Fn(&deadbox::ntfs::Listing) -> Result<BatchOut<X>, Fail> + Sync,
    mut keep: impl FnMut(X),
) -> Result<(), Fail> {
    let mut err: Option<Fail> = None;
    v.walk_batches(
        tree,
        |listing| rows(&listing),
        |r| match r {
            Ok((chunk, warnings, x)) => {
                for m in warnings {
                    eprintln!("deadbox: warning: {}{m}", part_prefix(v));
                }
                keep(x);
                match w.chunk(&chunk) {
                    Ok(()) => true,
                    Err(e) => {
                        err = Some(e.into());
                        false
                    }
                }
            }
            Err(e) => {
                err = Some(e);
                false
            }
        },
    );
    err.map_or(Ok(()), Err)
}

fn ls_table(r: &FileRow) -> String {
    format!(
        "{:>4} {:>8} {:>5} {:>4} {:>12} {:<19} {}{}{}",
        r.partition
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into()),
        r.mft_entry,
        r.mft_sequence,
        match (r.deleted, r.source) {
            (_, deadbox::rows::Source::I30Slack) => "$I30",
            (true, _) => "*",
            _ => "",
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

fn ls(
    path: &std::path::Path,
    sel: VolumeSelect,
    format: Format,
    index_slack: bool,
) -> Result<u8, Fail> {
    let image = Image::open(path, sel)?;
    warn_diagnostics(&image);
    let header = format!(
        "{:>4} {:>8} {:>5} {:>4} {:>12} {:<19} path",
        "part", "entry", "seq", "del", "size", "modified (SI)"
    );
    let mut w = RowWriter::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        format,
        header,
    );
    for v in image.volumes() {
        let tree = volume_tree(v);
        w.begin_volume()?;
        // Names carved from index slack follow the volume's MFT rows.
        let mut slack: Vec<FileRow> = Vec::new();
        stream_rows(
            v,
            &tree,
            &mut w,
            |listing| {
                let chunk = if format == Format::Jsonl {
                    // The hot path: rows written straight from the entries.
                    let mut body = Vec::with_capacity(listing.files.len() * 600);
                    let mut rows = 0;
                    for i in listing.items() {
                        FileRow::write_item_jsonl(&i, v.partition(), &mut body);
                        rows += 1;
                    }
                    Chunk {
                        csv_header: None,
                        body,
                        rows,
                    }
                } else {
                    let rows: Vec<FileRow> = listing
                        .items()
                        .map(|i| FileRow::new(&i, v.partition()))
                        .collect();
                    format_rows(format, &rows, ls_table)?
                };
                let (slack, warnings) = if index_slack {
                    let (rows, errors) = deadbox::rows::slack_rows(v, listing);
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
            |s| slack.extend(s),
        )?;
        if !slack.is_empty() {
            w.chunk(&format_rows(format, &slack, ls_table)?)?;
        }
        w.end_volume()?;
    }
    w.out.flush()?;
    Ok(0)
}

/// A progress bar on stderr for hashing a volume of `records` MFT records, when stderr is a
/// terminal: records done, bytes hashed and the rate.
fn progress_bar(records: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(records);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} records, {msg} (ETA {eta})",
    ) {
        b.set_style(style);
    }
    b.enable_steady_tick(std::time::Duration::from_millis(250));
    Some(b)
}

fn hash(
    path: &std::path::Path,
    sel: VolumeSelect,
    format: Format,
    set: HashSet,
    max_read: u64,
) -> Result<u8, Fail> {
    let image = Image::open(path, sel)?;
    warn_diagnostics(&image);
    let header = format!("{:<64} {:>12} {:>8} path", "sha256", "size", "entry");
    let mut w = RowWriter::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        format,
        header,
    );
    let table = |r: &deadbox::rows::HashRow| {
        format!(
            "{:<64} {:>12} {:>8} {}{}",
            r.sha256.as_deref().or(r.md5.as_deref()).unwrap_or("-"),
            r.row.size,
            r.row.mft_entry,
            r.row.display_path(),
            if r.row.deleted { " (deleted)" } else { "" }
        )
    };
    for v in image.volumes() {
        let tree = volume_tree(v);
        w.begin_volume()?;
        let bar = progress_bar(tree.len() as u64);
        let bytes = AtomicU64::new(0);
        stream_rows(
            v,
            &tree,
            &mut w,
            |listing| {
                let rows =
                    deadbox::rows::hash_listing_with_progress(v, listing, set, max_read, &|n| {
                        let total = bytes.fetch_add(n, Ordering::Relaxed).saturating_add(n);
                        if let Some(b) = &bar {
                            b.set_message(format!("{} hashed", indicatif::HumanBytes(total)));
                        }
                    });
                if let Some(b) = &bar {
                    b.inc(listing.files.len() as u64);
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
                Ok((format_rows(format, &rows, table)?, warnings, ()))
            },
            |()| {},
        )?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        w.end_volume()?;
    }
    w.out.flush()?;
    Ok(0)
}

/// Splits `name:stream` at the last `:` after the last `/`.
fn split_stream(spec: &str) -> (&str, Option<&str>) {
    let slash = spec.rfind('/').map(|i| i + 1).unwrap_or(0);
    match spec[slash..].find(':') {
        Some(i) => (&spec[..slash + i], Some(&spec[slash + i + 1..])),
        None => (spec, None),
    }
}

fn cat(
    path: &std::path::Path,
    spec: Option<String>,
    entry: Option<String>,
    sel: VolumeSelect,
) -> Result<u8, Fail> {
    let (target, stream) = match (&spec, &entry) {
        (Some(p), None) => split_stream(p),
        (None, Some(e)) => split_stream(e),
        _ => return Err(Fail::Error("give either a PATH or --entry N".into())),
    };
    let by_entry = entry.is_some();
    let entry_no: Option<u64> = if by_entry {
        Some(
            target
                .parse()
                .map_err(|_| Fail::Error(format!("--entry needs a number, got {target:?}")))?,
        )
    } else {
        None
    };
    let want = target.trim_end_matches('/').to_lowercase();
    let image = Image::open(path, sel)?;
    for v in image.volumes() {
        // The namespace finds the record(s); only those are read.
        let tree = Arc::new(v.tree());
        let entries = match entry_no {
            Some(n) => vec![n],
            None => tree.find_by(&want, |a, b| a.to_lowercase() == b.to_lowercase()),
        };
        let listing = v.listing_of(&tree, &entries);
        // Live entries before deleted ones with the same path.
        let mut candidates: Vec<_> = listing
            .items()
            .filter(|i| !i.is_dir_row)
            .filter(|i| match entry_no {
                Some(n) => i.file.entry == n,
                None => i.path().to_lowercase() == want,
            })
            .filter(|i| match stream {
                Some(s) => i.stream_name().is_some_and(|n| n.eq_ignore_ascii_case(s)),
                None => {
                    i.stream.is_some_and(|s| {
                        s.name.is_none() && s.kind == deadbox::ntfs::StreamKind::Data
                    }) || i.stream.is_none()
                }
            })
            .collect();
        candidates.sort_by_key(|i| i.file.deleted);
        if let Some(item) = candidates.first() {
            let mut out = std::io::stdout().lock();
            if let Some(s) = item.stream {
                let mut werr = None;
                let r = v.visit_stream(s, &mut |c| {
                    out.write_all(c).map_err(|e| {
                        let msg = e.to_string();
                        werr = Some(e);
                        deadbox::Error::Invalid(msg)
                    })
                });
                if let Some(e) = werr {
                    return Err(e.into());
                }
                r?;
            }
            out.flush()?;
            return Ok(0);
        }
    }
    Err(Fail::Error(format!(
        "{}{} not found in {}",
        if by_entry { "entry " } else { "" },
        spec.or(entry).unwrap_or_default(),
        path.display()
    )))
}

/// Prints findings as they come.
struct Printer<W: Write> {
    out: W,
    format: Format,
    all: Vec<deadbox::finding::Finding>,
    error: Option<std::io::Error>,
    header_done: bool,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl<W: Write> Printer<W> {
    fn write(&mut self, f: &deadbox::finding::Finding) -> std::io::Result<()> {
        let loc = &f.location;
        let where_ = format!(
            "{}{}",
            loc.path,
            loc.stream
                .as_deref()
                .map(|s| format!(":{s}"))
                .unwrap_or_default()
        );
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
                if !std::mem::replace(&mut self.header_done, true) {
                    writeln!(
                        self.out,
                        "kind,severity,title,evidence,partition,path,stream,mft_entry,mft_sequence,deleted,line,size,md5,sha1,sha256,rule"
                    )?;
                }
                let kind = serde_json::to_value(f.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let file = f.file.as_ref();
                let opt = |v: Option<String>| v.unwrap_or_default();
                let cols = [
                    kind,
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
                ];
                let line: Vec<String> = cols.iter().map(|c| csv_field(c)).collect();
                writeln!(self.out, "{}", line.join(","))
            }
            Format::Table => {
                let entry = loc
                    .mft_entry
                    .map(|e| format!(" [entry {e}{}]", if loc.deleted { ", deleted" } else { "" }))
                    .unwrap_or_default();
                let line = loc.line.map(|l| format!(" line {l}")).unwrap_or_default();
                writeln!(
                    self.out,
                    "{:<8} {:<24} {}{}{}\n         {}",
                    f.severity.as_str().to_uppercase(),
                    serde_json::to_value(f.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    where_,
                    line,
                    entry,
                    f.title
                )
            }
        }
    }
}

impl<W: Write> deadbox::scan::FindingSink for Printer<W> {
    fn finding(&mut self, f: deadbox::finding::Finding) -> bool {
        match self.write(&f) {
            Ok(()) => true,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
    fn finish(&mut self) {
        let r = (|| -> std::io::Result<()> {
            if self.format == Format::Json {
                serde_json::to_writer_pretty(&mut self.out, &self.all)?;
                writeln!(self.out)?;
                self.all.clear();
            }
            self.out.flush()
        })();
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

fn scan(a: ScanArgs) -> Result<u8, Fail> {
    use deadbox::scan::Scan;
    let selection = a.select.selection()?;
    let mut b = Scan::builder()
        .builtin_rules(!a.no_builtin_rules)
        .skip_bad_rules(a.skip_bad_rules)
        .selection(selection)
        .hashes(HashSet::parse(&a.hashes)?)
        .timeout(std::time::Duration::from_secs(a.timeout.max(1)))
        .max_in_memory(a.max_in_memory)
        .max_read(a.max_read)
        .volumes(a.vol.into())
        .exchange(!a.no_exchange)
        .only_exchange(a.only == Some(Only::Exchange))
        .progress(!a.quiet);
    if let Some(n) = a.threads {
        b = b.threads(n);
    }
    for r in &a.rules {
        b = b.rules(r);
    }
    for f in &a.ioc {
        b = b.ioc_file(f);
    }
    for f in &a.known_good {
        b = b.known_good_file(f);
    }
    let scan = b.build()?;
    for w in &scan.rules().warnings {
        eprintln!("deadbox: rule warning: {w}");
    }
    for s in &scan.rules().skipped {
        eprintln!("deadbox: warning: rule file skipped: {s}");
    }
    let format = match (a.format, &a.output) {
        (Some(f), _) => f,
        (None, Some(_)) => Format::Jsonl,
        (None, None) => default_format(None),
    };
    let out: Box<dyn Write> = match &a.output {
        Some(p) => {
            // Never overwrite: `-o` pointed at evidence must not destroy it.
            let f = std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(p)
                .map_err(|e| {
                    Fail::Error(format!(
                        "{}: {e} (the output file must not exist)",
                        p.display()
                    ))
                })?;
            Box::new(std::io::BufWriter::new(f))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut printer = Printer {
        out,
        format,
        all: Vec::new(),
        error: None,
        header_done: false,
    };
    let mut worst = None;
    let mut failed = 0usize;
    for ev in &a.evidence {
        // One unreadable piece of evidence does not stop the others; it makes the exit code 2.
        let s = match scan.run(ev, &mut printer) {
            Ok(s) => s,
            Err(e) if a.evidence.len() > 1 => {
                eprintln!("deadbox: error: {}", e.to_string().replace('\n', " "));
                failed += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(e) = printer.error.take() {
            return Err(e.into());
        }
        worst = worst.max(s.max_severity);
        if !a.quiet {
            eprintln!(
                "deadbox: {}: {} streams ({}) scanned, {} findings ({} diagnostics), {} known-good",
                ev.display(),
                s.streams,
                indicatif::HumanBytes(s.bytes),
                s.findings,
                s.diagnostics,
                s.known_good
            );
        }
    }
    if failed > 0 {
        return Err(Fail::Error(format!(
            "{failed} of {} evidence sources could not be scanned (see above)",
            a.evidence.len()
        )));
    }
    Ok(if worst >= Some(deadbox::finding::Severity::Medium) {
        1
    } else {
        0
    })
}

fn extract(a: ExtractArgs) -> Result<u8, Fail> {
    use deadbox::scan::Scan;
    let selection = a.select.selection()?;
    let image = Image::open(&a.evidence, a.vol.into())?;
    warn_diagnostics(&image);
    let only = if a.findings {
        let scan = Scan::builder()
            .selection(selection.clone())
            .volumes(a.vol.into())
            .build()?;
        let mut found = Vec::new();
        scan.run(&a.evidence, &mut found)?;
        Some(
            found
                .into_iter()
                .filter(|f| f.kind != deadbox::finding::FindingKind::Diagnostic && f.file.is_some())
                .filter_map(|f| {
                    Some((
                        f.location.partition,
                        f.location.mft_entry?,
                        f.location.stream,
                        f.location.path,
                    ))
                })
                .collect::<std::collections::HashSet<_>>(),
        )
    } else {
        None
    };
    let mut exporter = deadbox::extract::Exporter::new(&a.out, HashSet::parse(&a.hashes)?)?;
    let entries = deadbox::extract::export_image(
        &image,
        &selection,
        only.as_ref(),
        &mut exporter,
        a.max_read,
    )?;
    let failed = entries.iter().filter(|e| e.error.is_some()).count();
    for e in entries.iter().filter(|e| e.error.is_some()) {
        eprintln!(
            "deadbox: warning: {}: {}",
            e.path,
            e.error.as_deref().unwrap_or("")
        );
    }
    eprintln!(
        "deadbox: {} streams written to {} ({} failed); manifest: {}",
        exporter.count(),
        a.out.display(),
        failed,
        a.out.join("manifest.jsonl").display()
    );
    Ok(0)
}

/// Exit 0: verified; 1: a stored hash does not match; 2: unreadable or nothing stored to compare.
fn verify(path: &std::path::Path, format: Format) -> Result<u8, Fail> {
    let ev = deadbox::evidence::open(path)?;
    let r = deadbox::evidence::verify(ev.as_ref())?;
    let hex = deadbox::hash::hex;
    let doc = serde_json::json!({
        "evidence": path.display().to_string(),
        "container": r.format.to_string(),
        "media_size": r.media_len,
        "md5": hex(&r.md5),
        "sha1": hex(&r.sha1),
        "stored_md5": r.stored_md5.map(|h| hex(&h)),
        "stored_sha1": r.stored_sha1.map(|h| hex(&h)),
        "md5_matches": r.md5_matches(),
        "sha1_matches": r.sha1_matches(),
        "verified": r.verified(),
    });
    let mut out = std::io::stdout().lock();
    if format == Format::Table {
        writeln!(out, "container:   {}", r.format)?;
        writeln!(out, "media size:  {} bytes", r.media_len)?;
        writeln!(
            out,
            "md5:         {} (stored: {})",
            hex(&r.md5),
            r.stored_md5
                .map(|h| hex(&h))
                .unwrap_or_else(|| "none".into())
        )?;
        writeln!(
            out,
            "sha1:        {} (stored: {})",
            hex(&r.sha1),
            r.stored_sha1
                .map(|h| hex(&h))
                .unwrap_or_else(|| "none".into())
        )?;
        writeln!(
            out,
            "verified:    {}",
            if r.verified() { "yes" } else { "NO" }
        )?;
    } else {
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
    }
    if r.md5_matches() == Some(false) || r.sha1_matches() == Some(false) {
        return Ok(1);
    }
    if r.stored_md5.is_none() && r.stored_sha1.is_none() {
        return Err(Fail::Error(format!(
            "{}: the container stores no media hash to verify against (computed md5 {})",
            path.display(),
            hex(&r.md5)
        )));
    }
    Ok(0)
}
