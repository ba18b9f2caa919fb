//! Time zones: IANA names through chrono-tz, or fixed offsets (`+08:00`).

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Timelike, Utc,
};
use std::str::FromStr;

/// A time zone a program or a customer can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// An IANA zone, with its DST rules.
    Named(chrono_tz::Tz),
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::Fixed(Utc.fix())
    }
}

impl Zone {
    /// Parses an IANA name (`Asia/Shanghai`, `UTC`) or a fixed offset
    /// (`+08:00`, `-05:30`).
    pub fn parse(text: &str) -> Option<Zone> {
        if let Some(sign) = text.chars().next().filter(|c| *c == '+' || *c == '-') {
            let rest = &text[1..];
            let (h, m) = rest.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            let h: i32 = h.parse().ok()?;
            let m: i32 = m.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
            return FixedOffset::east_opt(secs).map(Zone::Fixed);
        }
        chrono_tz::Tz::from_str(text).ok().map(Zone::Named)
    }

    /// The local wall-clock time of an instant (Unix seconds).
    pub fn local(self, t: i64) -> NaiveDateTime {
        let utc = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
        match self {
            Zone::Named(tz) => utc.with_timezone(&tz).naive_local(),
            Zone::Fixed(off) => utc.with_timezone(&off).naive_local(),
        }
    }

    /// The instant of a local wall-clock time (§6): a time in a DST gap
    /// moves forward by the gap; an ambiguous one takes the earlier offset.
    pub fn instant(self, local: NaiveDateTime) -> i64 {
        let resolved = match self {
            Zone::Named(tz) => tz.from_local_datetime(&local).map(|d| d.timestamp()),
            Zone::Fixed(off) => off.from_local_datetime(&local).map(|d| d.timestamp()),
        };
        match resolved {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(a, b) => a.min(b),
            LocalResult::None => {
                // In a gap: read the wall time with the offset in force
                // before the gap, which lands as far past the gap's start
                // as the wall time was.
                let before = local.and_utc().timestamp() - 86_400;
                let offset = self.offset_at(before);
                local.and_utc().timestamp() - offset
            }
        }
    }

    /// Seconds east of UTC at an instant.
    fn offset_at(self, t: i64) -> i64 {
        let utc = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
        i64::from(match self {
            Zone::Named(tz) => utc.with_timezone(&tz).offset().fix().local_minus_utc(),
            Zone::Fixed(off) => off.local_minus_utc(),
        })
    }

    /// The local date of an instant.
    pub fn date(self, t: i64) -> NaiveDate {
        self.local(t).date()
    }

    /// The first instant after `t` at which the local date differs from
    /// `t`'s (the next local midnight, or the end of a gap covering it).
    pub fn next_midnight(self, t: i64) -> i64 {
        let date = self.date(t);
        let next = date.succ_opt().unwrap_or(date).and_time(NaiveTime::MIN);
        self.instant(next).max(t + 1)
    }

    /// The first instant after `t` at which the local hour may differ.
    pub fn next_hour(self, t: i64) -> i64 {
        let local = self.local(t);
        let start = local
            .date()
            .and_hms_opt(local.hour(), 0, 0)
            .unwrap_or(local);
        let next = start + Duration::hours(1);
        // Never later than one real hour: a DST change is at most that.
        self.instant(next).clamp(t + 1, t + 3600)
    }

    /// ISO weekday of the local date: 1 (Monday) … 7 (Sunday).
    pub fn weekday(self, t: i64) -> i64 {
        i64::from(self.date(t).weekday().number_from_monday())
    }

    /// The local hour, 0–23.
    pub fn hour(self, t: i64) -> i64 {
        i64::from(self.local(t).hour())
    }
}

#[cfg(test)]
mod tests {
    use super::Zone;

    #[test]
    fn parses_names_and_offsets() {
        assert!(matches!(Zone::parse("Asia/Shanghai"), Some(Zone::Named(_))));
        assert!(matches!(Zone::parse("UTC"), Some(Zone::Named(_))));
        assert!(matches!(Zone::parse("+08:00"), Some(Zone::Fixed(_))));
        assert!(matches!(Zone::parse("-05:30"), Some(Zone::Fixed(_))));
        assert_eq!(Zone::parse("Asia/Shangai"), None);
        assert_eq!(Zone::parse("+8"), None);
        assert_eq!(Zone::parse("+24:00"), None);
    }

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp() // test literal
    }

    #[test]
    fn dst_gap_moves_forward_and_overlap_takes_the_earlier_offset() {
        let ny = Zone::parse("America/New_York").unwrap(); // a valid IANA name
        let gap = chrono::NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(ny.instant(gap), at("2026-03-08T03:30:00-04:00"));
        let overlap = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(ny.instant(overlap), at("2026-11-01T01:30:00-04:00"));
    }

    #[test]
    fn calendar_boundaries() {
        let sh = Zone::parse("Asia/Shanghai").unwrap(); // a valid IANA name
        let t = at("2026-01-01T23:30:00+08:00");
        assert_eq!(sh.next_midnight(t), at("2026-01-02T00:00:00+08:00"));
        assert_eq!(sh.next_hour(t), at("2026-01-02T00:00:00+08:00"));
        assert_eq!(sh.weekday(t), 4);
        assert_eq!(sh.hour(t), 23);
        let ny = Zone::parse("America/New_York").unwrap(); // a valid IANA name
        let before_gap = at("2026-03-08T01:30:00-05:00");
        assert_eq!(ny.next_hour(before_gap), at("2026-03-08T03:00:00-04:00"));
    }
}
