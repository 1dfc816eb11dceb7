//! Data-run (mapping pairs) decoding.

/// A run of clusters: `len` clusters starting at virtual cluster `vcn`, stored at logical cluster
/// `lcn`, or a hole (sparse / compressed tail) when `lcn` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First virtual cluster number of the run.
    pub vcn: u64,
    /// First logical cluster on the volume; `None` for a hole.
    pub lcn: Option<u64>,
    /// Length in clusters.
    pub len: u64,
}

/// Most runs one attribute may decode to (a run list is at most a record long: ~500 runs in
/// 1 KiB, ~2000 in 4 KiB).
const MAX_RUNS: usize = 8192;

/// Decodes a run list starting at `start_vcn`. On a malformed list, returns the runs decoded so
/// far together with the reason.
pub(crate) fn decode_runs(b: &[u8], start_vcn: u64) -> Result<Vec<Run>, (Vec<Run>, String)> {
    let mut runs = Vec::new();
    let mut pos = 0usize;
    let mut vcn = start_vcn;
    let mut lcn: i64 = 0;
    loop {
        let Some(&header) = b.get(pos) else {
            return Err((runs, "run list not terminated".into()));
        };
        if header == 0 {
            return Ok(runs);
        }
        if runs.len() >= MAX_RUNS {
            return Err((runs, format!("more than {MAX_RUNS} runs")));
        }
        let len_size = (header & 0x0F) as usize;
        let off_size = (header >> 4) as usize;
        if len_size == 0 || len_size > 8 || off_size > 8 {
            return Err((runs, format!("bad run header {header:#04x}")));
        }
        let Some(lb) = b.get(pos + 1..pos + 1 + len_size) else {
            return Err((runs, "run list truncated".into()));
        };
        let mut len: u64 = 0;
        for (i, &x) in lb.iter().enumerate() {
            len |= (x as u64) << (8 * i);
        }
        if len == 0 || len > (1u64 << 48) {
            return Err((runs, format!("impossible run length {len}")));
        }
        let run_lcn = if off_size == 0 {
            None
        } else {
            let Some(ob) = b.get(pos + 1 + len_size..pos + 1 + len_size + off_size) else {
                return Err((runs, "run list truncated".into()));
            };
            let mut delta: i64 = 0;
            for (i, &x) in ob.iter().enumerate() {
                delta |= (x as i64) << (8 * i);
            }
            // sign-extend
            let shift = 64 - 8 * off_size as u32;
            if shift < 64 {
                delta = (delta << shift) >> shift;
            }
            lcn = match lcn.checked_add(delta) {
                Some(l) if l >= 0 => l,
                _ => return Err((runs, "run points before the volume start".into())),
            };
            Some(lcn as u64)
        };
        // Checked before the run is kept: every run returned has `vcn + len` in range, which
        // the readers rely on (a fuzzed start VCN near 2^64 once overflowed there).
        let Some(next) = vcn.checked_add(len) else {
            return Err((runs, "VCN overflow".into()));
        };
        runs.push(Run {
            vcn,
            lcn: run_lcn,
            len,
        });
        vcn = next;
        pos += 1 + len_size + off_size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_runs_and_holes() {
        // 0x21: 1-byte length, 2-byte offset; then a sparse run; then a negative delta.
        let b = [0x21, 0x10, 0x00, 0x01, 0x01, 0x08, 0x11, 0x04, 0xF0, 0x00];
        let r = decode_runs(&b, 0).unwrap();
        assert_eq!(
            r,
            vec![
                Run {
                    vcn: 0,
                    lcn: Some(256),
                    len: 16
                },
                Run {
                    vcn: 16,
                    lcn: None,
                    len: 8
                },
                Run {
                    vcn: 24,
                    lcn: Some(240),
                    len: 4
                },
            ]
        );
    }

    #[test]
    fn a_run_whose_end_overflows_is_not_returned() {
        // Start VCN 2^64 - 7 and a run of 0x10 clusters (header 0x11: 1-byte length, 1-byte
        // offset): the run would end past 2^64. Found by the `record` fuzz target.
        let (runs, e) = decode_runs(&[0x11, 0x10, 0x05, 0x00], u64::MAX - 6).unwrap_err();
        assert!(runs.is_empty(), "{runs:?}");
        assert!(e.contains("overflow"), "{e}");
        for r in decode_runs(&[0x11, 0x02, 0x05, 0x00], u64::MAX - 6).unwrap() {
            assert!(r.vcn.checked_add(r.len).is_some());
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_runs(&[0x21, 0x10], 0).is_err());
        assert!(decode_runs(&[0x91, 1, 2], 0).is_err());
        assert!(decode_runs(&[0x11, 0x01, 0x80, 0x00], 0).is_err()); // negative LCN
        assert!(decode_runs(&[], 0).is_err());
    }
}
