//! Timestomping signals: `$STANDARD_INFORMATION` times that look set back, compared with the
//! `$FILE_NAME` times the attacker's tools usually leave alone.

/// 100-ns intervals per second.
const TICKS: u64 = 10_000_000;
/// Seconds between 1601-01-01 and 1970-01-01.
const EPOCH_DIFF: i64 = 11_644_473_600;

/// A FILETIME as RFC 3339 UTC with 7 fractional digits (`"0"` for an unset time).
pub(crate) fn filetime_rfc3339(ft: u64) -> String {
    if ft == 0 {
        return "0".into();
    }
    let secs = (ft / TICKS) as i64 - EPOCH_DIFF;
    let frac = ft % TICKS;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:07}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Why the `$STANDARD_INFORMATION` times `si` look set back, given the `$FILE_NAME` times
/// `fn_`. Both are FILETIMEs in the order created, modified, MFT modified, accessed; a zero
/// (unset) time is never used as evidence. Reasons, strongest first:
/// - SI created earlier than FN created (FN is set when the name is created; SI can only be
///   earlier if it was written afterwards);
/// - SI created and modified are whole seconds while an FN time has a sub-second part (tools
///   that set times often write whole seconds);
/// - SI modified earlier than SI created (weak on its own: copying a file keeps the modified
///   time and gives a new created time).
///
/// An empty list means no signal.
///
/// ```
/// use deadbox::exchange::timestomp_reasons;
/// let fn_ = [132_594_000_001_234_567u64; 4];
/// let si = [132_000_000_000_000_000u64, 132_000_000_000_000_000, fn_[2], fn_[3]];
/// assert_eq!(timestomp_reasons(&si, &fn_).len(), 2);
/// assert!(timestomp_reasons(&fn_, &fn_).is_empty());
/// ```
pub fn timestomp_reasons(si: &[u64; 4], fn_: &[u64; 4]) -> Vec<String> {
    let [si_c, si_m, _, _] = *si;
    let [fn_c, fn_m, _, _] = *fn_;
    let mut out = Vec::new();
    if si_c != 0 && fn_c != 0 && si_c < fn_c {
        out.push(format!(
            "SI created {} is earlier than FN created {}",
            filetime_rfc3339(si_c),
            filetime_rfc3339(fn_c)
        ));
    }
    let whole = |t: u64| t != 0 && t % TICKS == 0;
    let fractional = |t: u64| t != 0 && t % TICKS != 0;
    if whole(si_c) && whole(si_m) && (fractional(fn_c) || fractional(fn_m)) {
        out.push(format!(
            "SI created {} and modified {} are whole seconds while FN times have sub-second parts",
            filetime_rfc3339(si_c),
            filetime_rfc3339(si_m)
        ));
    }
    if si_c != 0 && si_m != 0 && si_m < si_c {
        out.push(format!(
            "SI modified {} is earlier than SI created {}",
            filetime_rfc3339(si_m),
            filetime_rfc3339(si_c)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetimes() {
        assert_eq!(
            filetime_rfc3339(116_444_736_000_000_000),
            "1970-01-01T00:00:00.0000000Z"
        );
        // 2021-03-03T05:03:58.1234567Z
        assert_eq!(
            filetime_rfc3339(132_592_214_381_234_567),
            "2021-03-03T05:03:58.1234567Z"
        );
        assert_eq!(filetime_rfc3339(1), "1601-01-01T00:00:00.0000001Z");
        assert!(filetime_rfc3339(u64::MAX).starts_with("60056-"));
        assert_eq!(filetime_rfc3339(0), "0");
    }

    #[test]
    fn reasons() {
        let real = 132_592_214_381_234_567u64; // 2021-03-03
        let old = 131_000_000_000_000_000u64; // whole second in 2016
        let fn_ = [real; 4];
        let r = timestomp_reasons(&[old, old, real, real], &fn_);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].starts_with("SI created 2016-"));
        assert!(r[1].contains("whole seconds"));
        let r = timestomp_reasons(&[real, old + 1, real, real], &fn_);
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("SI modified"));
        // Normal file, unset times, whole seconds on both sides.
        assert!(timestomp_reasons(&fn_, &fn_).is_empty());
        assert!(timestomp_reasons(&[0; 4], &fn_).is_empty());
        assert!(timestomp_reasons(&fn_, &[0; 4]).is_empty());
        assert!(timestomp_reasons(&[old + TICKS, old + TICKS, 0, 0], &[old, old, 0, 0]).is_empty());
    }
}
