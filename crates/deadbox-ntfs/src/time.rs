//! NTFS FILETIME (100 ns ticks since 1601-01-01 UTC): the [`FileTime`] type and its RFC 3339
//! text.

/// 100-ns ticks per second.
const TICKS_PER_SEC: u64 = 10_000_000;
/// Seconds from 1601-01-01 to 1970-01-01.
const EPOCH_DIFF: i64 = 11_644_473_600;

/// An NTFS FILETIME: 100 ns ticks since 1601-01-01 00:00:00 UTC.
///
/// Ordered by time. [`Display`](std::fmt::Display) and `Serialize` give RFC 3339 UTC with 7
/// fractional digits (NTFS resolution), e.g. `2021-03-02T04:05:06.1234567Z`, as
/// [`filetime_to_rfc3339`]; `Deserialize` reads that text back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct FileTime(pub u64);

impl FileTime {
    /// The FILETIME of `ticks` 100 ns intervals since 1601.
    pub const fn from_ticks(ticks: u64) -> Self {
        FileTime(ticks)
    }

    /// The FILETIME of a Unix time (clamped to the FILETIME range).
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        FileTime(unix_to_filetime(secs, nanos))
    }

    /// The raw 100 ns ticks since 1601.
    pub const fn ticks(self) -> u64 {
        self.0
    }

    /// True for 0, which NTFS uses for an unset time.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True when the time is a whole second (no sub-second ticks).
    pub const fn is_whole_second(self) -> bool {
        self.0 % TICKS_PER_SEC == 0
    }

    /// Seconds since 1970-01-01 UTC (negative before), rounded down.
    pub const fn unix_seconds(self) -> i64 {
        (self.0 / TICKS_PER_SEC) as i64 - EPOCH_DIFF
    }

    /// Nanoseconds within the second of [`FileTime::unix_seconds`] (a multiple of 100).
    pub const fn subsec_nanos(self) -> u32 {
        (self.0 % TICKS_PER_SEC) as u32 * 100
    }

    /// Nanoseconds since 1970-01-01 UTC (negative before).
    pub const fn unix_nanos(self) -> i128 {
        (self.0 as i128 - EPOCH_DIFF as i128 * TICKS_PER_SEC as i128) * 100
    }

    /// Appends the RFC 3339 text to `out` without allocating (see [`push_rfc3339`]).
    pub fn push_rfc3339(self, out: &mut Vec<u8>) {
        push_rfc3339(self.0, out)
    }

    /// Parses the RFC 3339 UTC text this type writes (`YYYY-MM-DDTHH:MM:SS.fffffffZ`; the
    /// fraction may have 0 to 7 digits). `None` for other text or times before 1601.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let dash = b.iter().skip(4).position(|&c| c == b'-')? + 4;
        let num = |r: std::ops::Range<usize>| -> Option<u64> {
            let t = b.get(r)?;
            if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(t).ok()?.parse().ok()
        };
        let y = num(0..dash)? as i64;
        let rest = dash + 1;
        if b.get(rest + 2) != Some(&b'-')
            || b.get(rest + 5) != Some(&b'T')
            || b.get(rest + 8) != Some(&b':')
            || b.get(rest + 11) != Some(&b':')
            || b.last() != Some(&b'Z')
        {
            return None;
        }
        let (mo, d) = (num(rest..rest + 2)?, num(rest + 3..rest + 5)?);
        let (h, mi, sec) = (
            num(rest + 6..rest + 8)?,
            num(rest + 9..rest + 11)?,
            num(rest + 12..rest + 14)?,
        );
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut ticks = 0u64;
        let end = b.len() - 1;
        if end > rest + 14 {
            if b[rest + 14] != b'.' {
                return None;
            }
            let frac = b.get(rest + 15..end)?;
            if frac.is_empty() || frac.len() > 7 || !frac.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for i in 0..7 {
                ticks = ticks * 10 + frac.get(i).map_or(0, |c| (c - b'0') as u64);
            }
        }
        let days = days_from_civil(y, mo as u32, d as u32) + 134_774;
        if days < 0 {
            return None;
        }
        let secs = (days as u64)
            .checked_mul(86_400)?
            .checked_add(h * 3600 + mi * 60 + sec)?;
        secs.checked_mul(TICKS_PER_SEC)?
            .checked_add(ticks)
            .map(FileTime)
    }
}

impl From<u64> for FileTime {
    fn from(ticks: u64) -> Self {
        FileTime(ticks)
    }
}

impl From<FileTime> for u64 {
    fn from(t: FileTime) -> Self {
        t.0
    }
}

impl std::fmt::Display for FileTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut b = [0u8; 28];
        match write_rfc3339(self.0, &mut b) {
            // Only ASCII digits and separators were written.
            Some(()) => f.write_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => f.write_str(&filetime_to_rfc3339(self.0)),
        }
    }
}

impl serde::Serialize for FileTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut b = [0u8; 28];
        match write_rfc3339(self.0, &mut b) {
            Some(()) => s.serialize_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => s.serialize_str(&filetime_to_rfc3339(self.0)),
        }
    }
}

impl<'de> serde::Deserialize<'de> for FileTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        FileTime::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 FILETIME: {s:?}")))
    }
}

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

/// Howard Hinnant's civil-to-days algorithm: days from 1970-01-01 (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        // The typed value writes (and reads back) the same text.
        for ft in [0u64, 1, 10_000_000, 132_592_214_381_234_567, u64::MAX] {
            let t = FileTime(ft);
            assert_eq!(t.to_string(), filetime_to_rfc3339(ft));
            let mut v = Vec::new();
            t.push_rfc3339(&mut v);
            assert_eq!(v, filetime_to_rfc3339(ft).into_bytes());
            assert_eq!(FileTime::parse_rfc3339(&t.to_string()), Some(t));
        }
        assert_eq!(
            FileTime::parse_rfc3339("2021-03-02T04:05:06Z"),
            Some(FileTime(unix_to_filetime(1_614_657_906, 0)))
        );
        assert_eq!(FileTime::parse_rfc3339("2021-03-02 04:05:06"), None);
        let t = FileTime::from_unix(1_614_657_906, 123_456_700);
        assert_eq!(t.unix_seconds(), 1_614_657_906);
        assert_eq!(t.subsec_nanos(), 123_456_700);
        assert_eq!(t.unix_nanos(), 1_614_657_906_123_456_700);
        assert!(FileTime(0).is_zero() && FileTime(10_000_000).is_whole_second());
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
