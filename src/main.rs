//! The `deadbox` command line: flags to library calls, a printer, an exit code. No forensic
//! logic lives here.

use clap::Parser;
use deadbox::hash::Algorithms;
use deadbox::ntfs::NtfsVolume;
use deadbox::output::{
    self, volume_prefix as part, FindingPrinter, ImageInfo, RowWriter, VerifyInfo,
};
use deadbox::rows::{FileRow, HashRow};
use deadbox::volume::VolumeSelect;
use deadbox::{Image, MemoryBudget, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[path = "cli/args.rs"]
mod args;
#[path = "cli/progress.rs"]
mod progress;
#[path = "cli/story.rs"]
mod story;

use args::{Cli, Cmd, ExtractArgs, Format, MemArgs, Only, ScanArgs, SnapArgs};
use progress::Bar;

/// The format asked for; by default a table on a terminal, JSON lines otherwise.
fn format(f: Option<Format>) -> output::Format {
    match f {
        Some(Format::Jsonl) => output::Format::Jsonl,
        Some(Format::Json) => output::Format::Json,
        Some(Format::Csv) => output::Format::Csv,
        Some(Format::Table) => output::Format::Table,
        None if std::io::stdout().is_terminal() => output::Format::Table,
        None => output::Format::Jsonl,
    }
}

/// What went wrong: a message and exit code 2, or a closed stdout (`| head`), which is not an
/// error.
enum Fail {
    Error(String),
    BrokenPipe,
}

impl From<deadbox::Error> for Fail {
    fn from(e: deadbox::Error) -> Self {
        match e {
            deadbox::Error::Output(e) => e.into(),
            e => Fail::Error(e.to_string()),
        }
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::BrokenPipe => Fail::BrokenPipe,
            _ => Fail::Error(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let r = match Cli::parse().cmd {
        Cmd::EvtxRecords {
            max_memory,
            max_records,
        } => {
            let code = deadbox::scan::evtx_child_main(max_memory, max_records);
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
        Cmd::Info {
            evidence,
            format: f,
            vss_storage,
        } => info(&evidence, vss_storage.as_deref(), format(f)),
        Cmd::Ls {
            evidence,
            vol,
            snap,
            mem,
            format: f,
            index_slack,
        } => ls(&evidence, vol.into(), &snap, mem, format(f), index_slack),
        Cmd::Hash {
            evidence,
            vol,
            snap,
            mem,
            format: f,
            hashes,
            max_read,
        } => Algorithms::parse(&hashes)
            .map_err(Fail::from)
            .and_then(|set| hash(&evidence, vol.into(), &snap, mem, format(f), set, max_read)),
        Cmd::Cat {
            evidence,
            path,
            entry,
            vol,
            snap,
            mem,
        } => cat(&evidence, path, entry, vol.into(), &snap, mem),
        Cmd::Scan(args) => scan(args),
        Cmd::Extract(args) => extract(args),
        Cmd::Verify {
            evidence,
            format: f,
        } => verify(&evidence, format(f)),
        Cmd::Usn {
            evidence,
            vol,
            format: f,
            carve,
        } => {
            let (out, f) = (std::io::BufWriter::new(std::io::stdout().lock()), format(f));
            deadbox::usn::print_journal(&evidence, vol.into(), carve, f, out, &mut |m| warn(m))
                .map_or_else(|e| Err(e.into()), |_| Ok(0))
        }
        Cmd::Timeline(a) => a.run(&mut |m| warn(m)).map(|_| 0).map_err(Fail::from),
        Cmd::Report(a) => a.run(&mut |m| warn(m)).map_err(Fail::from),
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

/// Event logs are parsed in children of this executable (`__evtx-records`), so that a hostile
/// EVTX file cannot end the scan; `None` (parsed in this process) when the executable's path
/// is unknown.
pub(crate) fn evtx_isolation() -> Option<deadbox::scan::EvtxIsolation> {
    std::env::current_exe()
        .ok()
        .map(deadbox::scan::EvtxIsolation::new)
}

fn warn(m: impl std::fmt::Display) {
    eprintln!("deadbox: warning: {m}");
}

fn open_image(path: &Path, sel: VolumeSelect) -> Result<Image, Fail> {
    let image = Image::open(path, sel)?;
    for d in image.diagnostics() {
        warn(format_args!("{}: {d}", path.display()));
    }
    Ok(image)
}

/// Calls `f` with every volume `snap` selects until it returns true (warnings unless `quiet`).
fn each_volume(
    path: &Path,
    sel: VolumeSelect,
    snap: &SnapArgs,
    mem: MemArgs,
    quiet: bool,
    f: impl FnMut(&NtfsVolume) -> Result<bool, Fail>,
) -> Result<bool, Fail> {
    let w = &mut |m: String| warn(m);
    let w = (!quiet).then_some(w as &mut dyn FnMut(String));
    let options = OpenOptions {
        select: sel,
        budget: Some(Arc::new(MemoryBudget::new(mem.bytes()))),
        ..OpenOptions::default()
    };
    output::each_volume(
        &options,
        path,
        snap.select(),
        snap.vss_storage.as_deref(),
        w,
        f,
    )
}

fn info(path: &Path, storage: Option<&Path>, f: output::Format) -> Result<u8, Fail> {
    let doc = ImageInfo::read_with_storage(path, storage)?;
    output::write_document(
        &doc,
        f,
        |o| doc.write_table(o),
        &mut std::io::stdout().lock(),
    )?;
    Ok(if doc.failure.is_some() { 2 } else { 0 })
}

fn verify(path: &Path, f: output::Format) -> Result<u8, Fail> {
    let doc = VerifyInfo::read(path)?;
    output::write_document(
        &doc,
        f,
        |o| doc.write_table(o),
        &mut std::io::stdout().lock(),
    )?;
    if doc.md5_matches == Some(false) || doc.sha1_matches == Some(false) {
        return Ok(1);
    }
    if doc.stored_md5.is_none() && doc.stored_sha1.is_none() {
        let msg = "the container stores no media hash to verify against";
        return Err(Fail::Error(format!(
            "{}: {msg} (computed md5 {})",
            path.display(),
            doc.md5
        )));
    }
    Ok(0)
}

/// The namespace of a volume; its diagnostics printed as warnings.
fn volume_tree(v: &NtfsVolume) -> Arc<deadbox::ntfs::Tree> {
    let tree = Arc::new(v.tree());
    for d in tree.diagnostics() {
        let entry = d.entry.map(|e| format!("entry {e}")).unwrap_or_default();
        warn(format_args!("{}{entry}: {}", part(v), d.message));
    }
    for d in v.secure().diagnostics() {
        warn(format_args!("{}entry 9: {d}", part(v)));
    }
    tree
}

fn stdout_rows<T: output::Row>(f: output::Format) -> RowWriter<impl Write> {
    RowWriter::new::<T>(std::io::BufWriter::new(std::io::stdout().lock()), f)
}

fn ls(
    path: &Path,
    sel: VolumeSelect,
    snap: &SnapArgs,
    mem: MemArgs,
    f: output::Format,
    index_slack: bool,
) -> Result<u8, Fail> {
    let mut w = stdout_rows::<FileRow>(f);
    each_volume(path, sel, snap, mem, false, |v| {
        let tree = volume_tree(v);
        let warn = &mut |m| warn(format_args!("{}{m}", part(v)));
        output::list_volume(v, &tree, index_slack, &mut w, warn)?;
        Ok(false)
    })?;
    w.finish()?;
    Ok(0)
}

fn hash(
    path: &Path,
    sel: VolumeSelect,
    snap: &SnapArgs,
    mem: MemArgs,
    f: output::Format,
    set: Algorithms,
    max_read: u64,
) -> Result<u8, Fail> {
    let mut w = stdout_rows::<HashRow>(f);
    let bar = Bar::new("hashed");
    each_volume(path, sel, snap, mem, false, |v| {
        let tree = volume_tree(v);
        let p = bar.as_ref().map(|b| b as &dyn deadbox::scan::Progress);
        let warn = &mut |m| warn(format_args!("{}{m}", part(v)));
        output::hash_volume(v, &tree, set, max_read, &mut w, p, warn)?;
        Ok(false)
    })?;
    w.finish()?;
    Ok(0)
}

fn cat(
    path: &Path,
    spec: Option<String>,
    entry: Option<String>,
    sel: VolumeSelect,
    snap: &SnapArgs,
    mem: MemArgs,
) -> Result<u8, Fail> {
    let (target, by_entry) = match (spec, entry) {
        (Some(p), None) => (p, false),
        (None, Some(e)) => (e, true),
        _ => return Err(Fail::Error("give either a PATH or --entry N".into())),
    };
    let found = each_volume(path, sel, snap, mem, true, |v| {
        Ok(output::write_stream(
            v,
            &target,
            by_entry,
            &mut std::io::stdout().lock(),
        )?)
    })?;
    if found {
        return Ok(0);
    }
    let what = if by_entry { "entry " } else { "" };
    Err(Fail::Error(format!(
        "{what}{target} not found in {}",
        path.display()
    )))
}

fn scan(a: ScanArgs) -> Result<u8, Fail> {
    let mut b = deadbox::scan::Scan::builder()
        .builtin_rules(!a.no_builtin_rules)
        .skip_bad_rules(a.skip_bad_rules)
        .selection(a.select.selection()?)
        .hashes(Algorithms::parse(&a.hashes)?)
        .timeout(std::time::Duration::from_secs(a.timeout.max(1)))
        .max_in_memory(a.max_in_memory)
        .max_read(a.max_read)
        .volumes(a.vol.into())
        .snapshots(a.snap.select())
        .exchange(!a.no_exchange)
        .only_exchange(a.only == Some(Only::Exchange));
    b = b.max_memory(a.mem.bytes());
    if let Some(iso) = evtx_isolation() {
        b = b.evtx_isolation(iso);
    }
    if let Some(bar) = Bar::new("scanned").filter(|_| !a.quiet) {
        b = b.progress(Arc::new(bar));
    }
    if let Some(n) = a.threads {
        b = b.threads(n);
    }
    if let Some(p) = &a.snap.vss_storage {
        b = b.vss_storage(p);
    }
    b = a.rules.iter().fold(b, |b, r| b.rules(r));
    b = a.ioc.iter().fold(b, |b, f| b.ioc_file(f));
    b = a.known_good.iter().fold(b, |b, f| b.known_good_file(f));
    let scan = b.build()?;
    scan.rules()
        .warnings
        .iter()
        .for_each(|w| eprintln!("deadbox: rule warning: {w}"));
    scan.rules()
        .skipped
        .iter()
        .for_each(|s| warn(format_args!("rule file skipped: {s}")));
    story::check_report(a.report.as_deref(), a.evidence.len())?;
    let f = match (a.format, &a.output) {
        (None, Some(_)) => output::Format::Jsonl,
        (f, _) => format(f),
    };
    let out: Box<dyn Write> = match &a.output {
        // Never overwrite: `-o` pointed at evidence must not destroy it.
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(p)
                .map_err(|e| {
                    Fail::Error(format!(
                        "{}: {e} (the output file must not exist)",
                        p.display()
                    ))
                })?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut printer = FindingPrinter::new(out, f);
    let mut keep = story::Keep::new(&mut printer, a.report.is_some());
    let (mut worst, mut failed) = (None, 0usize);
    for ev in &a.evidence {
        // One unreadable piece of evidence does not stop the others; it makes the exit code 2.
        // With --report, an image is opened once, within the scan's budget: the report's
        // timeline reuses the namespaces the scan built instead of walking the MFT again.
        let image = (a.report.is_some() && !ev.is_dir())
            .then(|| story::open_image(ev, a.vol.into(), scan.budget()).ok())
            .flatten();
        let run = match &image {
            Some(image) => scan.run_image(image, &mut keep),
            None => scan.run_path(ev, &mut keep),
        };
        let s = match run {
            Ok(s) => s,
            Err(e @ deadbox::Error::Output(_)) => return Err(e.into()),
            Err(e) if a.evidence.len() > 1 => {
                eprintln!("deadbox: error: {}", e.to_string().replace('\n', " "));
                failed += 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        worst = worst.max(s.max_severity);
        if let Some(r) = &a.report {
            story::scan_report(ev, image.as_ref(), &s, &keep.kept, r, &mut |m| warn(m))?;
        }
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
        let n = a.evidence.len();
        return Err(Fail::Error(format!(
            "{failed} of {n} evidence sources could not be scanned (see above)"
        )));
    }
    Ok(output::exit_code(worst))
}

fn extract(a: ExtractArgs) -> Result<u8, Fail> {
    let selection = a.select.selection()?;
    let image = open_image(&a.evidence, a.vol.into())?;
    let only = if a.findings {
        let mut b = deadbox::scan::Scan::builder().selection(selection.clone());
        if let Some(iso) = evtx_isolation() {
            b = b.evtx_isolation(iso);
        }
        let scan = b.build()?;
        let mut found = Vec::new();
        scan.run_image(&image, &mut found)?;
        Some(deadbox::extract::streams_of(&found))
    } else {
        None
    };
    let mut exporter = deadbox::extract::Exporter::new(&a.out, Algorithms::parse(&a.hashes)?)?;
    let entries = deadbox::extract::export_image(
        &image,
        &selection,
        only.as_ref(),
        &mut exporter,
        a.max_read,
    )?;
    let failed: Vec<_> = entries
        .iter()
        .filter_map(|e| Some((&e.path, e.error.as_deref()?)))
        .collect();
    failed
        .iter()
        .for_each(|(p, e)| warn(format_args!("{p}: {e}")));
    eprintln!(
        "deadbox: {} streams written to {} ({} failed); manifest: {}",
        exporter.count(),
        a.out.display(),
        failed.len(),
        a.out.join("manifest.jsonl").display()
    );
    Ok(0)
}
