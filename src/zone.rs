//! Time zones: IANA names through chrono-tz, or fixed offsets (`+08:00`).
//!
//! Converting between instants and local times is on the path of every
//! quiet-hours check and calendar trigger, so a named zone answers from a
//! table of its UTC offset changes built once per zone and process (from
//! chrono-tz itself), where chrono-tz would search its own spans and build
//! date-times each time. Outside the table's years chrono-tz answers.

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use std::str::FromStr;
use std::sync::OnceLock;

/// A time zone a program or a customer can be in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Zone {
    /// An IANA zone, with its DST rules.
    Named(&'static Table),
    /// A fixed offset from UTC.
    Fixed(FixedOffset),
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        match (self, other) {
            (Zone::Named(a), Zone::Named(b)) => a.tz == b.tz,
            (Zone::Fixed(a), Zone::Fixed(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Zone {}

impl Default for Zone {
    fn default() -> Self {
        Zone::Fixed(Utc.fix())
    }
}

/// The instants the table covers: 1970 up to 2100, where every offset
/// chrono-tz knows lasts at least a week (the shortest, measured over
/// every zone at half-hour steps: 6.96 days, America/Boa_Vista in 2000),
/// so sampling once a day finds every change.
const TABLE_FROM: i64 = 0;
const TABLE_TO: i64 = 4_102_444_800;
const SAMPLE: i64 = 86_400;
/// Local times are at most this far from UTC (with a margin).
const MAX_OFFSET: i64 = 26 * 3600;

/// A named zone's offset changes within [`TABLE_FROM`, `TABLE_TO`).
#[derive(Debug)]
pub(crate) struct Table {
    tz: chrono_tz::Tz,
    /// UTC instants at which the offset changes, ascending.
    changes: Box<[i64]>,
    /// `offsets[0]` before the first change, `offsets[i + 1]` from
    /// `changes[i]` on.
    offsets: Box<[i32]>,
}

impl Table {
    /// The table of `tz`, built on first use and kept for the process:
    /// one per zone, of a few hundred entries at most.
    fn of(tz: chrono_tz::Tz) -> &'static Table {
        const ZONES: usize = chrono_tz::TZ_VARIANTS.len();
        static TABLES: [OnceLock<Table>; ZONES] = [const { OnceLock::new() }; ZONES];
        // The variants are numbered from 0 in their list's order.
        TABLES[tz as usize % ZONES].get_or_init(|| Table::build(tz))
    }

    fn build(tz: chrono_tz::Tz) -> Table {
        let mut changes = Vec::new();
        let mut offsets = vec![chrono_offset(tz, TABLE_FROM)];
        let mut t = TABLE_FROM;
        while t < TABLE_TO {
            let next = (t + SAMPLE).min(TABLE_TO);
            let (a, b) = (chrono_offset(tz, t), chrono_offset(tz, next));
            if a != b {
                // The first second of `b`: offsets are `a` at `lo`, `b` at `hi`.
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if chrono_offset(tz, mid) == a {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                changes.push(hi);
                offsets.push(b);
            }
            t = next;
        }
        Table {
            tz,
            changes: changes.into(),
            offsets: offsets.into(),
        }
    }

    /// Seconds east of UTC at `t`, inside the table's years.
    fn offset(&self, t: i64) -> i32 {
        // Past the last change (every instant of a zone without DST since
        // it dropped it, as Asia/Shanghai since 1991), no search.
        if self.changes.last().is_none_or(|last| t >= *last) {
            return self.offsets[self.changes.len()];
        }
        self.offsets[self.changes.partition_point(|c| *c <= t)]
    }
}

/// Seconds east of UTC at `t`, as chrono-tz says.
fn chrono_offset(tz: chrono_tz::Tz, t: i64) -> i32 {
    let utc = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
    utc.with_timezone(&tz).offset().fix().local_minus_utc()
}

/// The instant of a local time in `tz`, as chrono-tz resolves it, with
/// §6's rules for gaps and overlaps.
fn chrono_instant(tz: chrono_tz::Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local).map(|d| d.timestamp()) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(a, b) => a.min(b),
        LocalResult::None => {
            let l = local.and_utc().timestamp();
            l - i64::from(chrono_offset(tz, l - 86_400))
        }
    }
}

/// The wall-clock time `secs` seconds after 1970-01-01T00:00 (local).
fn wall(secs: i64) -> NaiveDateTime {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc()
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
        chrono_tz::Tz::from_str(text)
            .ok()
            .map(|tz| Zone::Named(Table::of(tz)))
    }

    /// Seconds east of UTC at an instant.
    fn offset_at(self, t: i64) -> i64 {
        i64::from(match self {
            Zone::Fixed(off) => off.local_minus_utc(),
            Zone::Named(table) if (TABLE_FROM..TABLE_TO).contains(&t) => table.offset(t),
            Zone::Named(table) => chrono_offset(table.tz, t),
        })
    }

    /// The local wall-clock time of an instant (Unix seconds).
    pub fn local(self, t: i64) -> NaiveDateTime {
        if let Some(l) = self.local_in_table(t) {
            return wall(l);
        }
        let utc = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
        match self {
            Zone::Named(table) => utc.with_timezone(&table.tz).naive_local(),
            Zone::Fixed(off) => utc.with_timezone(&off).naive_local(),
        }
    }

    /// [`Zone::local`] as seconds from 1970-01-01T00:00 local time: the
    /// time of day and the day number without building a date (a quiet
    /// hours check and a daily trigger need no more).
    pub fn local_secs(self, t: i64) -> i64 {
        self.local_in_table(t)
            .unwrap_or_else(|| self.local(t).and_utc().timestamp())
    }

    /// [`Zone::local_secs`] inside the table's years, where the offset is
    /// the table's; `None` outside them, where chrono-tz answers.
    fn local_in_table(self, t: i64) -> Option<i64> {
        (TABLE_FROM..TABLE_TO)
            .contains(&t)
            .then(|| t + self.offset_at(t))
    }

    /// The instant of a local wall-clock time (§6): a time in a DST gap
    /// moves forward by the gap; an ambiguous one takes the earlier offset.
    pub fn instant(self, local: NaiveDateTime) -> i64 {
        self.instant_secs(local.and_utc().timestamp())
    }

    /// [`Zone::instant`] of a wall time given as seconds from
    /// 1970-01-01T00:00 local time.
    pub fn instant_secs(self, l: i64) -> i64 {
        let table = match self {
            Zone::Fixed(off) => return l - i64::from(off.local_minus_utc()),
            Zone::Named(table) => table,
        };
        if !(TABLE_FROM + MAX_OFFSET..TABLE_TO - MAX_OFFSET).contains(&l) {
            return chrono_instant(table.tz, wall(l));
        }
        // Every instant whose wall time is `l` lies within a day of it, and
        // offsets last a week: at most two spans, the offsets on both
        // sides, can hold one.
        let (a, b) = (
            self.offset_at(l - MAX_OFFSET),
            self.offset_at(l + MAX_OFFSET),
        );
        // The same offset on both sides: no change between them (a change
        // and its return would be an offset lasting under a week), so it
        // is the one. Most conversions, and half their look-ups.
        if a == b {
            return l - a;
        }
        let fits = |o: i64| (self.offset_at(l - o) == o).then_some(l - o);
        match (fits(a), fits(b)) {
            (Some(x), Some(y)) => x.min(y),
            (Some(x), None) | (None, Some(x)) => x,
            // In a gap: read the wall time with the offset in force
            // before the gap, which lands as far past the gap's start as
            // the wall time was.
            (None, None) => l - self.offset_at(l - 86_400),
        }
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
        Zone::weekday_of_day(self.local_secs(t).div_euclid(86_400))
    }

    /// ISO weekday of a local day numbered from 1970-01-01, a Thursday
    /// (the fourth from Monday): 1 (Monday) … 7 (Sunday).
    pub fn weekday_of_day(day: i64) -> i64 {
        (day + 3).rem_euclid(7) + 1
    }

    /// The local hour, 0–23.
    pub fn hour(self, t: i64) -> i64 {
        i64::from(self.local(t).hour())
    }
}

#[cfg(test)]
mod tests {
    use super::{Zone, chrono_instant, chrono_offset};
    use chrono::{DateTime, Datelike, Utc};
    use proptest::prelude::*;

    /// Every zone chrono-tz knows, as the table answers and as chrono-tz
    /// does: offsets at any instant, wall times back to instants (gaps
    /// and overlaps included).
    fn agrees(name: &str, t: i64) {
        let zone = Zone::parse(name).unwrap(); // names from chrono-tz's own list
        let Zone::Named(table) = zone else {
            unreachable!("IANA names are named zones")
        };
        let tz = table.tz;
        let utc = DateTime::<Utc>::from_timestamp(t, 0).unwrap(); // in range by construction
        assert_eq!(
            zone.offset_at(t),
            i64::from(chrono_offset(tz, t)),
            "{name} at {t}"
        );
        assert_eq!(
            zone.local(t),
            utc.with_timezone(&tz).naive_local(),
            "{name} at {t}"
        );
        assert_eq!(
            zone.weekday(t),
            i64::from(utc.with_timezone(&tz).weekday().number_from_monday()),
            "{name} at {t}"
        );
        let wall = utc.naive_utc();
        assert_eq!(
            zone.instant(wall),
            chrono_instant(tz, wall),
            "{name}, wall {wall}"
        );
    }

    proptest! {
        #[test]
        fn tables_agree_with_chrono_tz(
            zone in 0..chrono_tz::TZ_VARIANTS.len(),
            t in -2_000_000_000i64..5_000_000_000,
        ) {
            agrees(chrono_tz::TZ_VARIANTS[zone].name(), t);
        }

        /// Near a change of any zone, within the two days either side that
        /// a wall time's conversion looks at: where the same offset on
        /// both sides is taken for the one in force, it must be.
        #[test]
        fn tables_agree_near_any_change(
            zone in 0..chrono_tz::TZ_VARIANTS.len(),
            pick in any::<prop::sample::Index>(),
            d in -30 * 3600i64..30 * 3600,
        ) {
            let name = chrono_tz::TZ_VARIANTS[zone].name();
            let Some(Zone::Named(table)) = Zone::parse(name) else {
                unreachable!("names from chrono-tz's own list")
            };
            if !table.changes.is_empty() {
                agrees(name, table.changes[pick.index(table.changes.len())] + d);
            }
        }
    }

    /// The table registry is indexed by variant number.
    #[test]
    fn variants_are_numbered_in_list_order() {
        for (i, tz) in chrono_tz::TZ_VARIANTS.iter().enumerate() {
            assert_eq!(*tz as usize, i);
        }
    }

    /// Around each change of a few zones with DST, second by second where
    /// it matters.
    #[test]
    fn tables_agree_around_changes() {
        for name in [
            "America/New_York",
            "Europe/London",
            "Australia/Lord_Howe",
            "Asia/Shanghai",
            "Africa/Casablanca",
        ] {
            let Some(Zone::Named(table)) = Zone::parse(name) else {
                unreachable!("valid names")
            };
            for &c in table.changes.iter() {
                for d in (-7200..7200).step_by(600).chain(-2..3) {
                    agrees(name, c + d);
                    agrees(name, c + d + 3 * 3600);
                }
            }
        }
    }

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
