//! NTFS FILETIME (100 ns ticks since 1601-01-01 UTC) to RFC 3339.

/// Formats a FILETIME as RFC 3339 UTC with 7 fractional digits, e.g.
/// `2021-03-02T04:05:06.1234567Z`. Values past year 9999 are clamped to the format's range.
pub fn filetime_to_rfc3339(ft: u64) -> String {
    let mut b = [0u8; 28];
    match write_rfc3339(ft, &mut b) {
        // Only ASCII digits and separators were written.
        Some(()) => String::from_utf8_lossy(&b).into_owned(),
        None => {
            let (y, mo, d, h, m, s, ticks) = parts(ft);
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ticks:07}Z")
        }
    }
}

/// Appends the RFC 3339 text of a FILETIME (as [`filetime_to_rfc3339`]) to `out`.
pub fn push_rfc3339(ft: u64, out: &mut Vec<u8>) {
    // The four times of a record are often equal, and `$FILE_NAME`'s repeat them: the last
    // one formatted on this thread is kept.
    thread_local! {
        static LAST: std::cell::Cell<(u64, [u8; 28])> = const { std::cell::Cell::new((u64::MAX, [0; 28])) };
    }
    let (last, text) = LAST.get();
    if last == ft {
        out.extend_from_slice(&text);
        return;
    }
    let mut b = [0u8; 28];
    match write_rfc3339(ft, &mut b) {
        Some(()) => {
            out.extend_from_slice(&b);
            LAST.set((ft, b));
        }
        None => out.extend_from_slice(filetime_to_rfc3339(ft).as_bytes()),
    }
}

fn parts(ft: u64) -> (i64, u32, u32, u64, u64, u64, u64) {
    let ticks = ft % 10_000_000;
    let secs = ft / 10_000_000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Days from 1601-01-01 to 1970-01-01: 134774.
    let z = days as i64 - 134_774;
    let (y, mo, d) = civil_from_days(z);
    (y, mo, d, h, m, s, ticks)
}

/// Writes the RFC 3339 text of a FILETIME into `out` without allocating (the row printers
/// format millions of times); `None` for years past 9999, which need more digits.
fn write_rfc3339(ft: u64, out: &mut [u8; 28]) -> Option<()> {
    let (y, mo, d, h, m, s, ticks) = parts(ft);
    if !(0..=9999).contains(&y) {
        return None;
    }
    fn put(out: &mut [u8], mut v: u64) {
        for c in out.iter_mut().rev() {
            *c = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    put(&mut out[0..4], y as u64);
    out[4] = b'-';
    put(&mut out[5..7], mo as u64);
    out[7] = b'-';
    put(&mut out[8..10], d as u64);
    out[10] = b'T';
    put(&mut out[11..13], h);
    out[13] = b':';
    put(&mut out[14..16], m);
    out[16] = b':';
    put(&mut out[17..19], s);
    out[19] = b'.';
    put(&mut out[20..27], ticks);
    out[27] = b'Z';
    Some(())
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// FILETIME of a Unix timestamp in seconds (for tests and loose files).
pub fn unix_to_filetime(secs: i64, nanos: u32) -> u64 {
    let t = (secs + 11_644_473_600) as i128 * 10_000_000 + (nanos / 100) as i128;
    t.clamp(0, u64::MAX as i128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_times() {
        assert_eq!(filetime_to_rfc3339(0), "1601-01-01T00:00:00.0000000Z");
        assert_eq!(
            filetime_to_rfc3339(unix_to_filetime(0, 0)),
            "1970-01-01T00:00:00.0000000Z"
        );
        // 2021-03-02T04:05:06.1234567Z
        let ft = unix_to_filetime(1_614_657_906, 123_456_700);
        assert_eq!(filetime_to_rfc3339(ft), "2021-03-02T04:05:06.1234567Z");
        assert_eq!(
            filetime_to_rfc3339(unix_to_filetime(951_782_400, 0)),
            "2000-02-29T00:00:00.0000000Z"
        );
        let _ = filetime_to_rfc3339(u64::MAX);
        // The fast path agrees with the general formatter on every year it covers.
        for ft in [
            1u64,
            10_000_000,
            130_000_000_000_000_000,
            2_650_467_743_990_000_000,
        ] {
            let (y, mo, d, h, m, s, t) = parts(ft);
            assert_eq!(
                filetime_to_rfc3339(ft),
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{t:07}Z")
            );
        }
    }
}
