//! A loose `$MFT`: the MFT file alone, as a triage collection (KAPE, CyLR, Velociraptor) holds
//! it, read as a volume whose records are all there and whose clusters are not.
//!
//! The records are placed, for the walk, at a far virtual offset of an evidence
//! ([`LooseMft`]) whose every other byte is unreadable. So the namespace pass, the walk, paths,
//! times, sizes and resident content (small files, `$Volume`'s label, resident alternate data
//! streams) work as on a volume, and every read of a non-resident stream fails with a clear
//! [`Error::Unsupported`] for that stream (a hash row's `error`, a scan diagnostic) instead of
//! returning bytes that are not the file's: the content was never collected.

use crate::{Geometry, Limits, NtfsVolume, Run};
use deadbox_evidence::{Error, Evidence, Format, Region, Result};
use std::sync::Arc;

/// Where the records sit in [`LooseMft`]'s address space: far above any cluster a record's
/// runs can name on a real volume (2^56 bytes = 64 PiB), a multiple of every cluster size.
const BASE: u64 = 1 << 56;
/// The cluster size the view assumes (no cluster of it is ever read).
const CLUSTER: u64 = 4096;

/// The evidence view of a loose `$MFT` file: its bytes at [`BASE`], nothing below.
#[derive(Debug)]
pub struct LooseMft {
    file: Arc<dyn Evidence>,
}

impl LooseMft {
    /// The view of `file`, the bytes of a `$MFT` file.
    pub fn new(file: Arc<dyn Evidence>) -> Self {
        LooseMft { file }
    }

    fn not_collected() -> Error {
        Error::Unsupported(
            "content stored in clusters: only the $MFT was collected, not the volume's clusters"
                .into(),
        )
    }
}

impl Evidence for LooseMft {
    fn len(&self) -> u64 {
        BASE.saturating_add(self.file.len())
    }
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        match offset.checked_sub(BASE) {
            Some(o) => self.file.read_exact_at(o, buf),
            None => Err(Self::not_collected()),
        }
    }
    fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        self.file.slice(offset.checked_sub(BASE)?, len)
    }
    fn format(&self) -> Format {
        Format::Other("loose $MFT".into())
    }
}

/// The MFT record size of a loose `$MFT` in `file`: its first record is a `FILE` record whose
/// allocated size is a power of two from 512 to 64 KiB, that the file holds at least one whole
/// of, and whose `$FILE_NAME` is `$MFT`. `None` for anything else.
pub fn loose_mft_record_size(file: &dyn Evidence) -> Option<u64> {
    let mut head = [0u8; 0x20];
    file.read_exact_at(0, &mut head).ok()?;
    if &head[0..4] != b"FILE" {
        return None;
    }
    let size = u64::from(deadbox_evidence::bytes::le_u32(&head, 0x1C)?);
    if !(512..=65536).contains(&size) || !size.is_power_of_two() || file.len() < size {
        return None;
    }
    let mut rec = vec![0u8; size as usize];
    file.read_exact_at(0, &mut rec).ok()?;
    match crate::record::parse_record_as(0, &mut rec, true) {
        crate::record::Slot::Record(r) => r.names.iter().any(|n| n.name == "$MFT").then_some(size),
        _ => None,
    }
}

impl NtfsVolume {
    /// True for a volume opened from a loose `$MFT` ([`NtfsVolume::open_loose_mft`]).
    pub fn is_loose_mft(&self) -> bool {
        self.geometry.mft_offset == BASE && self.region.evidence().len() >= BASE
    }

    /// Opens a loose `$MFT` (the bytes of the MFT file, as collected) as a volume: see the
    /// module docs of `loose` — records, names, paths, times and resident content are read;
    /// a non-resident stream's content is an [`Error::Unsupported`]. Fails unless
    /// [`loose_mft_record_size`] recognises the file.
    pub fn open_loose_mft(file: Arc<dyn Evidence>) -> Result<Self> {
        let record_size = loose_mft_record_size(file.as_ref())
            .ok_or_else(|| Error::format("loose $MFT", 0, "no $MFT record 0 at the start"))?;
        let len = file.len();
        let region = Region::whole(Arc::new(LooseMft::new(file)));
        let geometry = Geometry {
            sector_size: 512,
            cluster_size: CLUSTER,
            record_size,
            serial: 0,
            size: region.len(),
            mft_offset: BASE,
        };
        let mut vol = NtfsVolume {
            region,
            partition: None,
            geometry,
            mft_runs: vec![Run {
                vcn: 0,
                lcn: Some(BASE / CLUSTER),
                len: len.div_ceil(CLUSTER),
            }],
            // Whole records only: a file cut inside a record lists the records before it.
            mft_size: len - len % record_size,
            label: None,
            limits: Limits::default(),
            diagnostics: Vec::new(),
            upcase: std::sync::OnceLock::new(),
            secure: std::sync::OnceLock::new(),
            tree: std::sync::OnceLock::new(),
            snapshot: None,
            budget: None,
            attr_list_read: std::sync::atomic::AtomicU64::new(0),
        };
        if len % record_size != 0 {
            vol.diagnostics.push(crate::WalkDiagnostic {
                entry: Some(len / record_size),
                offset: Some(len - len % record_size),
                message: format!(
                    "the $MFT file ends inside a record ({len} bytes, {record_size}-byte records)"
                ),
            });
        }
        if let Ok(Some(rec)) = vol.read_record(3) {
            vol.label = rec.volume_name.filter(|l| !l.is_empty());
        }
        Ok(vol)
    }
}
