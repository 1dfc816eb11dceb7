//! NTFS compression units (LZNT1).
//!
//! A compressed stream is cut into units of 2^`compression_unit` clusters (16 on every real
//! volume). A unit whose clusters are all allocated is stored plainly; one with no allocated
//! cluster is a hole (zeros); one whose allocated clusters are followed by a hole holds LZNT1
//! data: 4 KiB chunks, each with a 2-byte header, a chunk that decodes short being padded with
//! zeros to 4 KiB. The `lznt1` crate decodes a chunk; the unit and chunk framing is here.

use super::{emit_zeros, NtfsVolume, Run};
use deadbox_evidence::bytes::le_u16;
use deadbox_evidence::error::{Error, Result};

/// Uncompressed size of an LZNT1 chunk.
const CHUNK: usize = 4096;

/// Decompresses one compression unit's LZNT1 data into `out` (exactly `unit_bytes` long).
pub(crate) fn decompress_unit(
    input: &[u8],
    out: &mut Vec<u8>,
    unit_bytes: usize,
) -> std::result::Result<(), String> {
    out.clear();
    let mut pos = 0usize;
    let mut scratch = Vec::with_capacity(CHUNK);
    while out.len() < unit_bytes {
        let Some(header) = le_u16(input, pos) else {
            break;
        };
        if header == 0 {
            break;
        }
        let len = (header & 0x0FFF) as usize + 1;
        let end = pos + 2 + len;
        let Some(chunk) = input.get(pos..end) else {
            return Err(format!(
                "LZNT1 chunk at {pos} runs past the compressed data"
            ));
        };
        scratch.clear();
        if header & 0x8000 != 0 {
            lznt1::decompress(chunk, &mut scratch)
                .map_err(|e| format!("LZNT1 chunk at {pos}: {e:?}"))?;
        } else {
            scratch.extend_from_slice(&chunk[2..]);
        }
        if scratch.len() > CHUNK {
            return Err(format!(
                "LZNT1 chunk at {pos} decodes to {} bytes",
                scratch.len()
            ));
        }
        out.extend_from_slice(&scratch);
        // A short chunk that is not the last is padded to a full chunk.
        let pad = (CHUNK - out.len() % CHUNK) % CHUNK;
        out.resize((out.len() + pad).min(unit_bytes), 0);
        pos = end;
    }
    out.resize(unit_bytes, 0);
    Ok(())
}

/// Bytes of a compression unit of `unit` clusters (at most 16 MiB: NTFS uses 16 clusters).
pub(crate) fn unit_bytes(vol: &NtfsVolume, unit: u64) -> Result<u64> {
    unit.checked_mul(vol.geometry.cluster_size)
        .filter(|b| *b <= 16 << 20)
        .ok_or_else(|| {
            Error::format(
                "compressed stream",
                vol.region.start(),
                "compression unit too large",
            )
        })
}

/// Visits a compressed stream unit by unit.
pub(crate) fn visit_compressed(
    vol: &NtfsVolume,
    runs: &[Run],
    unit: u64,
    size: u64,
    initialized: u64,
    f: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let cs = vol.geometry.cluster_size;
    let unit_bytes = unit_bytes(vol, unit)? as usize;
    let mut raw = Vec::with_capacity(unit_bytes);
    let mut out = Vec::with_capacity(unit_bytes);
    let mut pos = 0u64;
    let mut u = 0u64;
    // Runs are sorted and disjoint (see `build_entry`); `first` is the first run that may reach
    // the current unit, so each unit looks only at its own runs.
    let mut first = 0usize;
    while pos < size {
        let (v0, v1) = (u * unit, (u + 1) * unit);
        while runs.get(first).is_some_and(|r| r.vcn + r.len <= v0) {
            first += 1;
        }
        // Collect the pieces of runs inside this unit.
        let mut allocated = 0u64;
        let mut covered = 0u64;
        raw.clear();
        for r in runs
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .take_while(|r| r.vcn < v1)
        {
            let a = r.vcn.max(v0);
            let b = (r.vcn + r.len).min(v1);
            covered += b - a;
            if let Some(lcn) = r.lcn {
                allocated += b - a;
                let off = lcn
                    .checked_add(a - r.vcn)
                    .and_then(|c| c.checked_mul(cs))
                    .ok_or_else(|| {
                        Error::format("compressed stream", vol.region.start(), "LCN overflow")
                    })?;
                let start = raw.len();
                raw.resize(start + ((b - a) * cs) as usize, 0);
                vol.region.read_exact_at(off, &mut raw[start..])?;
            }
        }
        let take = (unit_bytes as u64).min(size - pos);
        if covered < unit.min((size - pos).div_ceil(cs)) {
            return Err(Error::format(
                "compressed stream",
                vol.region.start(),
                format!("no run maps byte {pos} (the run list is incomplete)"),
            ));
        }
        let data: &[u8] = if allocated == 0 {
            emit_zeros(take, f)?;
            pos += take;
            u += 1;
            continue;
        } else if allocated >= unit {
            &raw
        } else {
            decompress_unit(&raw, &mut out, unit_bytes).map_err(|e| {
                Error::format(
                    "compressed stream",
                    vol.region.start(),
                    format!("unit {u}: {e}"),
                )
            })?;
            &out
        };
        let chunk = &data[..take as usize];
        if pos + take > initialized {
            let keep = initialized.saturating_sub(pos) as usize;
            f(&chunk[..keep.min(chunk.len())])?;
            emit_zeros(take - keep.min(chunk.len()) as u64, f)?;
        } else {
            f(chunk)?;
        }
        pos += take;
        u += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_round_trip_with_short_chunk_padding() {
        let mut plain = vec![b'a'; 3000];
        plain.extend(std::iter::repeat_n(b'b', 4096 * 2));
        let mut comp = Vec::new();
        lznt1::compress(&plain, &mut comp);
        let mut out = Vec::new();
        decompress_unit(&comp, &mut out, 65536).unwrap();
        assert_eq!(out.len(), 65536);
        assert_eq!(&out[..plain.len()], &plain[..]);
        assert!(out[plain.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn random_units_never_panic_and_keep_their_size() {
        // Deterministic xorshift garbage, half of it with plausible chunk headers.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut out = Vec::new();
        for i in 0..2000 {
            let len = (next() % 9000) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if i % 2 == 0 && len >= 2 {
                let h = 0xB000 | (next() % 0x1000) as u16;
                input[..2].copy_from_slice(&h.to_le_bytes());
            }
            if decompress_unit(&input, &mut out, 65536).is_ok() {
                assert_eq!(out.len(), 65536);
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let _ = decompress_unit(&[0xff, 0xbf, 1, 2, 3], &mut out, 65536);
        let _ = decompress_unit(
            &[0x05, 0xb0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &mut out,
            65536,
        );
    }
}
