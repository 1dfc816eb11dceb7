//! An opened piece of evidence with its partition layout and NTFS volumes.

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::volume::{self, Layout, VolumeSelect};
use crate::{Limits, MemoryBudget, NtfsVolume};
use deadbox_evidence::error::Result;
use deadbox_evidence::{self as evidence, Evidence};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A disk image opened read-only: its container, partition layout and the NTFS volumes selected.
#[derive(Debug)]
pub struct Image {
    path: PathBuf,
    evidence: Arc<dyn Evidence>,
    layout: Layout,
    volumes: Vec<NtfsVolume>,
    diagnostics: Vec<Diagnostic>,
    options: OpenOptions,
}

/// How [`Image::open_with`] opens evidence: which volumes, the NTFS reader's bounds, and the
/// run's memory budget its volumes (and their shadow copies) draw on
/// ([`NtfsVolume::with_budget`]).
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Which volumes to open.
    pub select: VolumeSelect,
    /// Bounds of the NTFS reader.
    pub limits: Limits,
    /// The run's memory budget; `None` for no budget.
    pub budget: Option<Arc<MemoryBudget>>,
}

impl OpenOptions {
    /// The defaults with `select`.
    pub fn select(select: VolumeSelect) -> Self {
        OpenOptions {
            select,
            ..OpenOptions::default()
        }
    }

    /// Opens the volume in `region` with these bounds and budget.
    fn open_volume(&self, region: evidence::Region, partition: Option<u32>) -> Result<NtfsVolume> {
        let v = NtfsVolume::open_with_limits(region, partition, self.limits)?;
        Ok(match &self.budget {
            Some(b) => v.with_budget(b.clone()),
            None => v,
        })
    }
}

impl Image {
    /// Opens the evidence at `path` (container detected by magic bytes), reads its partition
    /// table and opens every selected NTFS volume. A volume that fails to open is a diagnostic
    /// when others open; the call fails only when none does.
    pub fn open(path: &Path, select: VolumeSelect) -> Result<Self> {
        Self::open_with(path, &OpenOptions::select(select))
    }

    /// [`Image::open`] with the given bounds and memory budget.
    pub fn open_with(path: &Path, options: &OpenOptions) -> Result<Self> {
        let evidence = evidence::open(path)?;
        Self::from_evidence_with(path, evidence, options)
    }

    /// Like [`Image::open`], on evidence opened by the caller.
    pub fn from_evidence(
        path: &Path,
        evidence: Arc<dyn Evidence>,
        select: VolumeSelect,
    ) -> Result<Self> {
        Self::from_evidence_with(path, evidence, &OpenOptions::select(select))
    }

    /// [`Image::from_evidence`] with the given bounds and memory budget.
    pub fn from_evidence_with(
        path: &Path,
        evidence: Arc<dyn Evidence>,
        options: &OpenOptions,
    ) -> Result<Self> {
        let select = options.select;
        // A loose `$MFT` (a triage collection's copy) opens as one volume of records only.
        if select == VolumeSelect::default()
            && crate::loose::loose_mft_record_size(evidence.as_ref()).is_some()
        {
            let mut v = NtfsVolume::open_loose_mft(evidence.clone())?;
            if let Some(b) = &options.budget {
                v = v.with_budget(b.clone());
            }
            let diagnostics = v
                .open_diagnostics()
                .iter()
                .map(|d| {
                    Diagnostic::new(DiagnosticKind::Truncated, d.message.clone())
                        .at_offset(d.offset)
                        .at_entry(d.entry)
                })
                .collect();
            return Ok(Image {
                path: path.to_path_buf(),
                evidence,
                layout: Layout {
                    scheme: volume::Scheme::None,
                    sector_size: 512,
                    partitions: Vec::new(),
                    diagnostics: Vec::new(),
                },
                volumes: vec![v],
                diagnostics,
                options: options.clone(),
            });
        }
        let layout = if select.offset.is_some() {
            Layout {
                scheme: volume::Scheme::None,
                sector_size: 512,
                partitions: Vec::new(),
                diagnostics: Vec::new(),
            }
        } else {
            volume::detect(&evidence)?
        };
        let spots = volume::ntfs_volumes(&evidence, &layout, select)?;
        let mut volumes = Vec::new();
        let mut diagnostics = layout.diagnostics.clone();
        let mut first_err = None;
        for s in spots {
            match options.open_volume(s.region.clone(), s.partition) {
                Ok(v) => {
                    diagnostics.extend(v.open_diagnostics().iter().map(|d| {
                        Diagnostic::new(DiagnosticKind::Corrupt, d.message.clone())
                            .at_partition(s.partition)
                            .at_offset(d.offset)
                            .at_entry(d.entry)
                    }));
                    volumes.push(v)
                }
                Err(e) => {
                    let what = match s.partition {
                        Some(i) => format!("partition {i}"),
                        None => format!("volume at byte {}", s.region.start()),
                    };
                    diagnostics.push(
                        Diagnostic::new(Diagnostic::kind_of(&e), format!("{what}: {e}"))
                            .at_partition(s.partition)
                            .at_offset(Some(s.region.start())),
                    );
                    first_err.get_or_insert(e);
                }
            }
        }
        if volumes.is_empty() {
            if let Some(e) = first_err {
                return Err(e);
            }
        }
        Ok(Image {
            path: path.to_path_buf(),
            evidence,
            layout,
            volumes,
            diagnostics,
            options: options.clone(),
        })
    }

    /// How the image was opened: its volume selection, bounds and memory budget.
    pub fn options(&self) -> &OpenOptions {
        &self.options
    }

    /// The evidence path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container.
    pub fn evidence(&self) -> &Arc<dyn Evidence> {
        &self.evidence
    }

    /// The partition layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The NTFS volumes opened.
    pub fn volumes(&self) -> &[NtfsVolume] {
        &self.volumes
    }

    /// Problems met opening the image (table problems, volumes that failed to open).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }
}

/// Which states of each volume to read: the live volume, one shadow copy, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotSelect {
    /// The live volume only (the default).
    #[default]
    Live,
    /// Shadow copy `N` (1 = oldest) of every volume that has it.
    One(usize),
    /// The live volume and every shadow copy, oldest first.
    All,
}

/// One volume to read: a live volume of an [`Image`] or one of its shadow copies.
#[derive(Debug)]
pub enum VolumeView<'a> {
    /// A live volume.
    Live(&'a NtfsVolume),
    /// A shadow copy, opened as a volume ([`NtfsVolume::snapshot`] gives its number).
    Snapshot(Box<NtfsVolume>),
}

impl VolumeView<'_> {
    /// The volume to read.
    pub fn volume(&self) -> &NtfsVolume {
        match self {
            VolumeView::Live(v) => v,
            VolumeView::Snapshot(v) => v,
        }
    }
}

/// The shadow copies of one live volume, as [`Image::shadows`] finds them.
#[derive(Debug)]
pub struct VolumeShadows {
    /// Index of the volume in [`Image::volumes`].
    pub volume: usize,
    /// The catalog and stores; `Err` when they could not be read.
    pub shadows: Result<crate::vss::Shadows>,
}

impl Image {
    /// The shadow copies of every volume that has a VSS header. The shadow storage is found by
    /// the volume id the header names: the volume itself, another volume of this image, or a
    /// volume of `storage` (a second image, e.g. `--vss-storage`). When it is nowhere, the
    /// snapshots are listed but not readable (see [`crate::vss::Shadows::is_readable`]).
    pub fn shadows(&self, storage: Option<&Image>) -> Vec<VolumeShadows> {
        let candidates: Vec<&NtfsVolume> = self
            .volumes
            .iter()
            .chain(storage.map(|s| s.volumes()).unwrap_or_default())
            .collect();
        let mut out = Vec::new();
        for (i, v) in self.volumes.iter().enumerate() {
            if v.is_loose_mft() {
                continue; // records only: no clusters, so no shadow storage
            }
            let header = match crate::vss::read_header(v.region()) {
                Ok(Some(h)) => h,
                Ok(None) => continue,
                Err(e) => {
                    out.push(VolumeShadows {
                        volume: i,
                        shadows: Err(e),
                    });
                    continue;
                }
            };
            let store = if header.storage_is_local() {
                Some(v)
            } else {
                let other = |c: &&NtfsVolume| {
                    c.region().start() != v.region().start()
                        || !Arc::ptr_eq(c.region().evidence(), v.region().evidence())
                };
                let names_it = |c: &&NtfsVolume| {
                    crate::vss::read_header(c.region())
                        .ok()
                        .flatten()
                        .is_some_and(|h| h.volume_id == header.storage_id)
                };
                candidates.iter().copied().find(|c| other(c) && names_it(c))
            };
            let shadows = crate::vss::Shadows::open_in(
                v.region(),
                store.map(|s| s.region()),
                crate::vss::VssLimits::default(),
                self.options.budget.as_ref(),
            );
            if let Ok(Some(s)) = shadows {
                out.push(VolumeShadows {
                    volume: i,
                    shadows: Ok(s),
                });
            } else if let Err(e) = shadows {
                out.push(VolumeShadows {
                    volume: i,
                    shadows: Err(e),
                });
            }
        }
        out
    }

    /// The volumes to read for `select`: live volumes and/or shadow copies opened as volumes,
    /// per volume the live one first, then its snapshots oldest first. Problems (a catalog that
    /// does not read, a snapshot that does not open as NTFS, storage not found) are
    /// diagnostics. Fails when [`SnapshotSelect::One`] names a snapshot no volume has.
    pub fn views(
        &self,
        select: SnapshotSelect,
        storage: Option<&Image>,
    ) -> Result<(Vec<VolumeView<'_>>, Vec<Diagnostic>)> {
        let mut views = Vec::new();
        let mut diags = Vec::new();
        let shadows = match select {
            SnapshotSelect::Live => Vec::new(),
            _ => self.shadows(storage),
        };
        for (i, v) in self.volumes.iter().enumerate() {
            // With one snapshot asked for, the live volume is not read.
            if matches!(select, SnapshotSelect::Live | SnapshotSelect::All) {
                views.push(VolumeView::Live(v));
            }
            let what = match v.partition() {
                Some(p) => format!("partition {p}"),
                None => format!("volume at byte {}", v.offset()),
            };
            let Some(s) = shadows.iter().find(|s| s.volume == i) else {
                continue;
            };
            let s = match &s.shadows {
                Ok(s) => s,
                Err(e) => {
                    diags.push(
                        Diagnostic::new(
                            Diagnostic::kind_of(e),
                            format!("{what}: shadow copies: {e}"),
                        )
                        .at_partition(v.partition()),
                    );
                    continue;
                }
            };
            diags.extend(s.diagnostics().iter().map(|d| Diagnostic {
                message: format!("{what}: {}", d.message),
                ..d.clone()
            }));
            let numbers: Vec<usize> = match select {
                SnapshotSelect::One(n) if n <= s.snapshots().len() => vec![n],
                SnapshotSelect::All => (1..=s.snapshots().len()).collect(),
                _ => Vec::new(),
            };
            for n in numbers {
                match s
                    .snapshot_region(n)
                    .and_then(|r| self.options.open_volume(r, v.partition()))
                {
                    Ok(snap) => views.push(VolumeView::Snapshot(Box::new(
                        snap.as_snapshot(n, v.offset()),
                    ))),
                    Err(e) => diags.push(
                        Diagnostic::new(
                            Diagnostic::kind_of(&e),
                            format!("{what}: snapshot {n}: {e}"),
                        )
                        .at_partition(v.partition()),
                    ),
                }
            }
        }
        if let SnapshotSelect::One(n) = select {
            if views.is_empty() {
                let why = diags
                    .iter()
                    .map(|d| d.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(crate::Error::NotFound(format!(
                    "snapshot {n}: no volume of {} has it{}",
                    self.path.display(),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({why})")
                    }
                )));
            }
        }
        Ok((views, diags))
    }
}
