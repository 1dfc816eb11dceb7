//! Timestomping signals: `$STANDARD_INFORMATION` times that look set back, compared with the
//! `$FILE_NAME` times the attacker's tools usually leave alone.

use crate::ntfs::FileTime;

/// Why the `$STANDARD_INFORMATION` times `si` look set back, given the `$FILE_NAME` times
/// `fn_`. Both are in the order created, modified, MFT modified, accessed; a zero
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
/// use deadbox::ntfs::FileTime;
/// let fn_ = [FileTime(132_594_000_001_234_567); 4];
/// let si = [FileTime(132_000_000_000_000_000), FileTime(132_000_000_000_000_000), fn_[2], fn_[3]];
/// assert_eq!(timestomp_reasons(&si, &fn_).len(), 2);
/// assert!(timestomp_reasons(&fn_, &fn_).is_empty());
/// ```
pub fn timestomp_reasons(si: &[FileTime; 4], fn_: &[FileTime; 4]) -> Vec<String> {
    let [si_c, si_m, _, _] = *si;
    let [fn_c, fn_m, _, _] = *fn_;
    let mut out = Vec::new();
    if !si_c.is_zero() && !fn_c.is_zero() && si_c < fn_c {
        out.push(format!(
            "SI created {si_c} is earlier than FN created {fn_c}"
        ));
    }
    let whole = |t: FileTime| !t.is_zero() && t.is_whole_second();
    let fractional = |t: FileTime| !t.is_zero() && !t.is_whole_second();
    if whole(si_c) && whole(si_m) && (fractional(fn_c) || fractional(fn_m)) {
        out.push(format!(
            "SI created {si_c} and modified {si_m} are whole seconds while FN times have sub-second parts"
        ));
    }
    if !si_c.is_zero() && !si_m.is_zero() && si_m < si_c {
        out.push(format!(
            "SI modified {si_m} is earlier than SI created {si_c}"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetimes() {
        // The reasons quote times as the old local formatter did.
        assert_eq!(
            FileTime(116_444_736_000_000_000).to_string(),
            "1970-01-01T00:00:00.0000000Z"
        );
        assert_eq!(
            FileTime(132_592_214_381_234_567).to_string(),
            "2021-03-03T05:03:58.1234567Z"
        );
        assert_eq!(FileTime(1).to_string(), "1601-01-01T00:00:00.0000001Z");
        assert!(FileTime(u64::MAX).to_string().starts_with("60056-"));
    }

    #[test]
    fn reasons() {
        const TICKS: u64 = 10_000_000;
        let t = |v: [u64; 4]| v.map(FileTime);
        let real = 132_592_214_381_234_567u64; // 2021-03-03
        let old = 131_000_000_000_000_000u64; // whole second in 2016
        let fn_ = t([real; 4]);
        let r = timestomp_reasons(&t([old, old, real, real]), &fn_);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].starts_with("SI created 2016-"));
        assert!(r[1].contains("whole seconds"));
        let r = timestomp_reasons(&t([real, old + 1, real, real]), &fn_);
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("SI modified"));
        // Normal file, unset times, whole seconds on both sides.
        assert!(timestomp_reasons(&fn_, &fn_).is_empty());
        assert!(timestomp_reasons(&t([0; 4]), &fn_).is_empty());
        assert!(timestomp_reasons(&fn_, &t([0; 4])).is_empty());
        assert!(
            timestomp_reasons(&t([old + TICKS, old + TICKS, 0, 0]), &t([old, old, 0, 0]))
                .is_empty()
        );
    }
}
