//! An opened piece of evidence with its partition layout and NTFS volumes.

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::volume::{self, Layout, VolumeSelect};
use crate::NtfsVolume;
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
}

impl Image {
    /// Opens the evidence at `path` (container detected by magic bytes), reads its partition
    /// table and opens every selected NTFS volume. A volume that fails to open is a diagnostic
    /// when others open; the call fails only when none does.
    pub fn open(path: &Path, select: VolumeSelect) -> Result<Self> {
        let evidence = evidence::open(path)?;
        Self::from_evidence(path, evidence, select)
    }

    /// Like [`Image::open`], on evidence opened by the caller.
    pub fn from_evidence(
        path: &Path,
        evidence: Arc<dyn Evidence>,
        select: VolumeSelect,
    ) -> Result<Self> {
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
            match NtfsVolume::open(s.region.clone(), s.partition) {
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
        })
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
