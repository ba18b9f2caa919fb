//! Instants: the one time type of the API. An [`Instant`] is a second
//! between `0000-01-01T00:00:00Z` and `9999-12-31T23:59:59Z`, the range
//! RFC 3339 can write; input outside it is rejected, and nothing siyu
//! prints is ever outside it.

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An instant, to the second (Unix seconds inside RFC 3339's range).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

/// Why a time was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Not RFC 3339 with an offset.
    #[error("not an RFC 3339 time with an offset: {0:?}")]
    Syntax(String),
    /// Before 0000-01-01T00:00:00Z or after 9999-12-31T23:59:59Z (in UTC).
    #[error("{0} is outside the years 0000 to 9999 (UTC) that RFC 3339 can write")]
    OutOfRange(String),
}

impl Instant {
    /// `0000-01-01T00:00:00Z`.
    pub const MIN: Instant = Instant(-62_167_219_200);
    /// `9999-12-31T23:59:59Z`.
    pub const MAX: Instant = Instant(253_402_300_799);

    /// The instant `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: i64) -> Result<Instant, TimeError> {
        Instant::checked(secs)
            .ok_or_else(|| TimeError::OutOfRange(format!("{secs} (Unix seconds)")))
    }

    /// `secs` if it is inside the range.
    pub(crate) fn checked(secs: i64) -> Option<Instant> {
        (Instant::MIN.0..=Instant::MAX.0)
            .contains(&secs)
            .then_some(Instant(secs))
    }

    /// Unix seconds.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// Parses RFC 3339 with an offset, truncating fractional seconds
    /// (`2026-03-01T10:00:00+08:00`, `2026-03-01T02:00:00.5Z`).
    pub fn parse(text: &str) -> Result<Instant, TimeError> {
        let secs = match fast_parse(text.as_bytes()) {
            Some(secs) => secs,
            None => DateTime::parse_from_rfc3339(text)
                .map_err(|_| TimeError::Syntax(text.to_string()))?
                .timestamp(),
        };
        Instant::checked(secs).ok_or_else(|| TimeError::OutOfRange(text.to_string()))
    }
}

impl FromStr for Instant {
    type Err = TimeError;

    fn from_str(s: &str) -> Result<Instant, TimeError> {
        Instant::parse(s)
    }
}

/// RFC 3339 in UTC, to the second: `2026-06-01T02:00:00Z`.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 20];
        f.write_str(rfc3339(self.0, &mut buf))
    }
}

impl Serialize for Instant {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 20];
        s.serialize_str(rfc3339(self.0, &mut buf))
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        Instant::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The horizon of a value that holds forever (until an event changes it).
pub(crate) const FOREVER: i64 = i64::MAX;

/// Unix seconds or none, in one word: `Option<i64>` takes two, and every
/// customer keeps several (its clock, first and last seen, the memos of
/// its next wake-up and of the next entry to leave a window). `i64::MIN`,
/// far outside any instant or horizon siyu computes, stands for none.
///
/// It serializes as `Option<i64>`, so the state's encodings do not
/// change, and refuses that one word on the way in rather than read it
/// as none.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaybeAt(i64);

impl MaybeAt {
    /// None.
    pub const NONE: MaybeAt = MaybeAt(i64::MIN);

    /// `secs`, which is never `i64::MIN` (every caller passes an instant
    /// or a horizon).
    pub fn some(secs: i64) -> MaybeAt {
        debug_assert_ne!(secs, i64::MIN);
        MaybeAt(secs)
    }

    /// The seconds, if any.
    pub fn get(self) -> Option<i64> {
        (self.0 != i64::MIN).then_some(self.0)
    }

    /// Is there none?
    pub fn is_none(self) -> bool {
        self.0 == i64::MIN
    }
}

impl Default for MaybeAt {
    fn default() -> MaybeAt {
        MaybeAt::NONE
    }
}

impl From<Option<i64>> for MaybeAt {
    fn from(secs: Option<i64>) -> MaybeAt {
        secs.map_or(MaybeAt::NONE, MaybeAt::some)
    }
}

impl fmt::Debug for MaybeAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl Serialize for MaybeAt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for MaybeAt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MaybeAt, D::Error> {
        match Option::<i64>::deserialize(d)? {
            Some(i64::MIN) => Err(serde::de::Error::custom(
                "an instant of i64::MIN seconds is out of range",
            )),
            secs => Ok(MaybeAt::from(secs)),
        }
    }
}

/// Formats Unix seconds of the range as RFC 3339 in UTC into `buf`; a
/// second outside it is written as the nearest end of the range, which
/// callers never pass (every instant siyu holds is inside it).
pub(crate) fn rfc3339(secs: i64, buf: &mut [u8; 20]) -> &str {
    let secs = secs.clamp(Instant::MIN.0, Instant::MAX.0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    let two = |b: &mut [u8], v: i64| {
        b[0] = b'0' + (v / 10) as u8;
        b[1] = b'0' + (v % 10) as u8;
    };
    two(&mut buf[0..2], y / 100);
    two(&mut buf[2..4], y % 100);
    buf[4] = b'-';
    two(&mut buf[5..7], m);
    buf[7] = b'-';
    two(&mut buf[8..10], d);
    buf[10] = b'T';
    two(&mut buf[11..13], hh);
    buf[13] = b':';
    two(&mut buf[14..16], mm);
    buf[16] = b':';
    two(&mut buf[17..19], ss);
    buf[19] = b'Z';
    // Every byte written above is ASCII.
    std::str::from_utf8(buf).unwrap_or("0000-01-01T00:00:00Z")
}

/// The proleptic Gregorian date of a day number since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The day number since 1970-01-01 of a proleptic Gregorian date
/// (`days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The common shape, `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)`, without the
/// general parser; `None` for anything else, which the general parser
/// then decides (so both accept exactly the same texts).
fn fast_parse(b: &[u8]) -> Option<i64> {
    let digits = |at: usize, n: usize| -> Option<i64> {
        let s = b.get(at..at + n)?;
        s.iter().try_fold(0i64, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (y, mo, d) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (h, mi, s) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo) || d < 1 || d > month_days[(mo - 1) as usize] {
        return None;
    }
    // A leap second (`:60`) is for the general parser.
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let mut at = 19;
    if sep(at, b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    let offset = match b.get(at)? {
        b'Z' => {
            at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            if !sep(at + 3, b':') {
                return None;
            }
            let (oh, om) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            at += 6;
            let off = oh * 3600 + om * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    if at != b.len() {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maybe_at_is_one_word_and_encodes_as_an_option() {
        assert_eq!(std::mem::size_of::<MaybeAt>(), 8);
        for v in [None, Some(0), Some(-1), Some(Instant::MAX.0), Some(FOREVER)] {
            let m = MaybeAt::from(v);
            assert_eq!(m.get(), v);
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, serde_json::to_string(&v).unwrap());
            assert_eq!(serde_json::from_str::<MaybeAt>(&json).unwrap(), m);
        }
        let err = serde_json::from_str::<MaybeAt>(&i64::MIN.to_string()).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn the_range_is_what_rfc_3339_can_write() {
        assert_eq!(Instant::MIN.to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(Instant::MAX.to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Instant::parse("9999-12-31T23:59:59Z"), Ok(Instant::MAX));
        assert!(matches!(
            Instant::parse("9999-12-31T23:00:00-12:00"),
            Err(TimeError::OutOfRange(_))
        ));
        assert!(matches!(
            Instant::parse("0000-01-01T00:00:00+00:01"),
            Err(TimeError::OutOfRange(_))
        ));
        assert!(Instant::from_unix(Instant::MAX.unix() + 1).is_err());
        assert!(matches!(
            Instant::parse("yesterday"),
            Err(TimeError::Syntax(_))
        ));
    }

    /// The fast paths agree with chrono on every shape they take, and
    /// leave the rest to it.
    #[test]
    fn fast_parse_and_format_agree_with_chrono() {
        let texts = [
            "2026-03-01T10:00:00+08:00",
            "2026-03-01T02:00:00Z",
            "2026-03-01T02:00:00.999Z",
            "2026-03-01t02:00:00z",
            "2026-03-01 02:00:00Z",
            "2024-02-29T23:59:59-05:30",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-31T23:59:60Z",
            "1969-12-31T23:59:59.5Z",
            "0001-01-01T00:00:00Z",
            "2026-03-01T02:00:00",
            "2026-03-01T02:00:00+0800",
            "2026-03-01T02:00:00.Z",
            "2026-03-01T02:00:00+24:00",
        ];
        for t in texts {
            let chrono = DateTime::parse_from_rfc3339(t).ok().map(|d| d.timestamp());
            let ours = Instant::parse(t).ok().map(Instant::unix);
            assert_eq!(ours, chrono, "{t}");
        }
        for secs in (-62_167_219_200i64..253_402_300_799).step_by(7_654_321_987) {
            let chrono = DateTime::from_timestamp(secs, 0)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            assert_eq!(Some(Instant(secs).to_string()), chrono, "{secs}");
            assert_eq!(
                Instant::parse(&Instant(secs).to_string()),
                Ok(Instant(secs))
            );
        }
    }
}
