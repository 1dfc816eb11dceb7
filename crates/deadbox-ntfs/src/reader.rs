//! A stream as `Read + Seek`, for callers that want `std::io` (copying a file out, handing it to
//! a parser) rather than [`NtfsVolume::visit_stream`]'s chunks.
//!
//! Every read goes through the same content code as the walk: the runs of the requested range
//! are cut out of the stream's run list and handed to the walk's plain or compressed visitor, so
//! holes and bytes past the initialized size read as zeros and LZNT1 compression units are
//! decompressed exactly as [`NtfsVolume::visit_stream`] does. A compressed stream keeps the last
//! decompressed unit (64 KiB on every real volume), so sequential reads decompress each unit
//! once.

use super::{compress, Content, NtfsVolume, Run, Stream};
use deadbox_evidence::error::{Error, Result};
use std::borrow::Cow;
use std::io::{self, Read, Seek, SeekFrom};

/// Most bytes served by one `read` call of a plain stream (larger buffers are filled by the
/// following calls, as `Read` allows).
const MAX_READ: usize = 8 << 20;

/// A stream of a file as `Read + Seek`; made by [`NtfsVolume::stream_reader`] or
/// [`NtfsVolume::open_stream`].
///
/// Reads past the end return 0 bytes; seeking past the end is allowed. Holes, sparse ranges and
/// bytes past the initialized size read as zeros; compressed streams are decompressed;
/// encrypted (EFS) streams are returned as stored (ciphertext). When the stream lies in one
/// plain run of a memory-mapped image (or is resident), [`StreamReader::as_slice`] gives its
/// content without any copy.
#[derive(Debug)]
pub struct StreamReader<'a> {
    vol: &'a NtfsVolume,
    stream: Cow<'a, Stream>,
    pos: u64,
    /// The last decompressed compression unit: (unit number, content).
    unit: Option<(u64, Vec<u8>)>,
}

impl NtfsVolume {
    /// A `Read + Seek` reader over `stream` (one of the [`Stream`]s of a
    /// [`FileEntry`](crate::FileEntry) of this volume).
    pub fn stream_reader<'a>(&'a self, stream: &'a Stream) -> StreamReader<'a> {
        StreamReader::new(self, Cow::Borrowed(stream))
    }
}

impl<'a> StreamReader<'a> {
    pub(crate) fn new(vol: &'a NtfsVolume, stream: Cow<'a, Stream>) -> Self {
        StreamReader {
            vol,
            stream,
            pos: 0,
            unit: None,
        }
    }

    /// The stream read.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Logical size of the stream in bytes.
    pub fn len(&self) -> u64 {
        self.stream.size
    }

    /// True for an empty stream.
    pub fn is_empty(&self) -> bool {
        self.stream.size == 0
    }

    /// The whole content as a borrowed slice, without copying, when the stream is resident or is
    /// one contiguous, uncompressed, fully initialized run of a memory-mapped image (see
    /// [`NtfsVolume::contiguous_slice`]); `None` otherwise (read it through `Read` then).
    pub fn as_slice(&self) -> Option<&[u8]> {
        self.vol.contiguous_slice(&self.stream)
    }

    /// Reads up to `buf.len()` bytes at `offset` (not moving the position); returns how many
    /// were read (0 at or past the end).
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let size = self.stream.size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(size - offset) as usize;
        let buf = &mut buf[..n];
        match &self.stream.content {
            Content::Resident(v) => {
                let src = v.get(offset as usize..).unwrap_or(&[]);
                let k = src.len().min(n);
                buf[..k].copy_from_slice(&src[..k]);
                // A resident value shorter than its size cannot happen (size is its length);
                // zeros, as for any byte the attribute does not hold.
                buf[k..].fill(0);
                Ok(n)
            }
            Content::NonResident { unit: 0, .. } => {
                let n = n.min(MAX_READ);
                self.read_plain(offset, &mut buf[..n])?;
                Ok(n)
            }
            Content::NonResident { unit, .. } => {
                let unit = *unit;
                self.read_compressed(unit, offset, buf)
            }
        }
    }

    /// Fills `out` from byte `pos` of a plain non-resident stream (`pos + out.len()` ≤ size).
    fn read_plain(&self, pos: u64, out: &mut [u8]) -> Result<()> {
        let s = &*self.stream;
        let cs = self.vol.geometry.cluster_size;
        let end = pos + out.len() as u64;
        let (c0, c1) = (pos / cs, end.div_ceil(cs));
        let runs = window(s.runs(), c0, c1)?;
        let base = c0 * cs;
        let wsize = s.size.min(c1.saturating_mul(cs)) - base;
        let winit = s.initialized.saturating_sub(base).min(wsize);
        let skip = (pos - base) as usize;
        let mut at = 0usize; // window bytes visited so far
        let mut filled = 0usize;
        self.vol
            .visit_plain(&runs, wsize, winit, &mut |chunk| {
                let (a, b) = (at, at + chunk.len());
                at = b;
                let from = skip.max(a);
                let to = (skip + out.len()).min(b);
                if from < to {
                    out[filled..filled + (to - from)].copy_from_slice(&chunk[from - a..to - a]);
                    filled += to - from;
                }
                Ok(())
            })
            .map_err(|e| at_offset(e, pos))?;
        if filled != out.len() {
            return Err(Error::format(
                "stream",
                self.vol.region.start(),
                format!("short read at byte {pos}: {filled} of {} bytes", out.len()),
            ));
        }
        Ok(())
    }

    /// Reads from the compression unit holding `pos` (decompressed once and kept).
    fn read_compressed(&mut self, unit: u64, pos: u64, out: &mut [u8]) -> Result<usize> {
        let unit_bytes = crate::compress::unit_bytes(self.vol, unit)?;
        let u = pos / unit_bytes;
        if self.unit.as_ref().map(|(k, _)| *k) != Some(u) {
            let s = &*self.stream;
            let (c0, c1) = (u * unit, (u + 1) * unit);
            let runs = window(s.runs(), c0, c1)?;
            let base = u * unit_bytes;
            let wsize = (s.size - base).min(unit_bytes);
            let winit = s.initialized.saturating_sub(base).min(wsize);
            let mut data = self.unit.take().map(|(_, v)| v).unwrap_or_default();
            data.clear();
            compress::visit_compressed(self.vol, &runs, unit, wsize, winit, &mut |c| {
                data.extend_from_slice(c);
                Ok(())
            })
            .map_err(|e| at_offset(e, pos))?;
            self.unit = Some((u, data));
        }
        let data = &self.unit.as_ref().map(|(_, v)| v.as_slice()).unwrap_or(&[]);
        let from = (pos - u * unit_bytes) as usize;
        let k = data.len().saturating_sub(from).min(out.len());
        if k == 0 {
            return Err(Error::format(
                "compressed stream",
                self.vol.region.start(),
                format!("unit {u} decoded short of byte {pos}"),
            ));
        }
        out[..k].copy_from_slice(&data[from..from + k]);
        Ok(k)
    }
}

/// Adds the stream offset to an error about a window of the stream.
fn at_offset(e: Error, pos: u64) -> Error {
    match e {
        Error::Format {
            what,
            offset,
            reason,
        } => Error::Format {
            what,
            offset,
            reason: format!("{reason} (reading from stream byte {pos})"),
        },
        e => e,
    }
}

/// The runs mapping clusters `c0..c1` of a sorted, disjoint run list, re-based to VCN 0.
/// Clusters no run maps are left unmapped (the visitors report them).
fn window(runs: &[Run], c0: u64, c1: u64) -> Result<Vec<Run>> {
    let i = runs.partition_point(|r| r.vcn.saturating_add(r.len) <= c0);
    let mut out = Vec::new();
    for r in runs[i..].iter().take_while(|r| r.vcn < c1) {
        let a = r.vcn.max(c0);
        let b = r.vcn.saturating_add(r.len).min(c1);
        let lcn = match r.lcn {
            None => None,
            Some(l) => Some(
                l.checked_add(a - r.vcn)
                    .ok_or_else(|| Error::format("run list", 0, "LCN overflow"))?,
            ),
        };
        out.push(Run {
            vcn: a - c0,
            lcn,
            len: b - a,
        });
    }
    Ok(out)
}

impl Read for StreamReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_at(self.pos, buf).map_err(io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for StreamReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.stream.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek to a negative or overflowing position",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cut_and_rebase_runs() {
        let runs = [
            Run {
                vcn: 0,
                lcn: Some(100),
                len: 4,
            },
            Run {
                vcn: 4,
                lcn: None,
                len: 4,
            },
            Run {
                vcn: 8,
                lcn: Some(50),
                len: 2,
            },
        ];
        let w = window(&runs, 2, 9).unwrap();
        assert_eq!(
            w,
            [
                Run {
                    vcn: 0,
                    lcn: Some(102),
                    len: 2
                },
                Run {
                    vcn: 2,
                    lcn: None,
                    len: 4
                },
                Run {
                    vcn: 6,
                    lcn: Some(50),
                    len: 1
                },
            ]
        );
        assert!(window(&runs, 10, 12).unwrap().is_empty());
        let huge = [Run {
            vcn: 0,
            lcn: Some(u64::MAX),
            len: 4,
        }];
        assert!(window(&huge, 2, 3).is_err());
    }
}
