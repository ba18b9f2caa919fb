//! Calendar triggers in the customer's zone (§5): `every … at` and
//! anniversaries, with DST gaps and overlaps resolved as §6 says.

use crate::syntax::ast::TimeOfDay;
use crate::zone::Zone;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Timelike};

fn time(at: TimeOfDay) -> NaiveTime {
    NaiveTime::from_hms_opt(u32::from(at.hour), u32::from(at.minute), 0).unwrap_or(NaiveTime::MIN)
}

/// The first local `at` strictly after `after`, on `weekday` (1 = Monday)
/// or on any day. In whole seconds and day numbers: no date is built.
pub fn next_daily(zone: Zone, after: i64, weekday: Option<u8>, at: TimeOfDay) -> Option<i64> {
    const DAY: i64 = 86_400;
    let start = zone.local_secs(after).div_euclid(DAY) - 1;
    let at = i64::from(time(at).num_seconds_from_midnight());
    (0..10)
        .map(|i| start + i)
        .filter(|d| weekday.is_none_or(|w| Zone::weekday_of_day(*d) == i64::from(w)))
        .map(|d| zone.instant_secs(d * DAY + at))
        .find(|x| *x > after)
}

/// `date`'s anniversary in `year`: 29 February falls on the 28th in
/// common years.
fn anniversary_in(date: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), date.day() - 1))
}

/// The first occurrence strictly after `after` of `[before] anniversary of
/// date [at]`: the anniversary's local 00:00 minus `before`, then the first
/// local `at` at or after it.
pub fn next_anniversary(
    zone: Zone,
    after: i64,
    date: NaiveDate,
    before: i64,
    at: TimeOfDay,
) -> Option<i64> {
    let today = zone.date(after);
    (today.year() - 1..=today.year() + 2)
        .filter_map(|y| anniversary_in(date, y))
        // An anniversary three days before `after`'s date cannot occur
        // after it: `before` only moves it earlier, snapping to `at` at most
        // a day (and a DST gap) later. Skipping it saves zone conversions.
        .filter(|d| before < 0 || *d + Duration::days(3) > today)
        .map(|d| {
            let base = zone
                .instant(d.and_time(NaiveTime::MIN))
                .saturating_sub(before);
            let local = zone.local(base);
            let day = if local.time() <= time(at) {
                local.date()
            } else {
                local.date() + Duration::days(1)
            };
            zone.instant(day.and_time(time(at)))
        })
        .find(|x| *x > after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp() // test literal
    }

    fn tod(hour: u8, minute: u8) -> TimeOfDay {
        TimeOfDay { hour, minute }
    }

    /// `next_daily` as it was written with chrono's dates: the reference
    /// the day-number arithmetic must agree with.
    fn next_daily_by_dates(
        zone: Zone,
        after: i64,
        weekday: Option<u8>,
        at: TimeOfDay,
    ) -> Option<i64> {
        let start = zone.date(after) - Duration::days(1);
        (0..10)
            .map(|i| start + Duration::days(i))
            .filter(|d| weekday.is_none_or(|w| d.weekday().number_from_monday() == u32::from(w)))
            .map(|d| zone.instant(d.and_time(time(at))))
            .find(|x| *x > after)
    }

    proptest::proptest! {
        /// In zones with and without DST, a fixed offset, inside the zone
        /// tables' years and outside them (chrono-tz answering), every
        /// weekday or none: the same occurrence as by dates.
        #[test]
        fn daily_occurrences_agree_with_dates(
            zone in proptest::sample::select(vec![
                "UTC", "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe",
                "Africa/Casablanca", "Europe/London", "-09:30", "+05:45",
            ]),
            after in -2_500_000_000i64..5_500_000_000,
            weekday in proptest::option::of(1u8..=7),
            hour in 0u8..24,
            minute in 0u8..60,
        ) {
            let zone = Zone::parse(zone).unwrap(); // valid names
            let at = tod(hour, minute);
            proptest::prop_assert_eq!(
                next_daily(zone, after, weekday, at),
                next_daily_by_dates(zone, after, weekday, at)
            );
            proptest::prop_assert_eq!(
                zone.local_secs(after),
                zone.local(after).and_utc().timestamp()
            );
        }
    }

    #[test]
    fn daily_and_weekly() {
        let sh = Zone::parse("Asia/Shanghai").unwrap(); // valid IANA name
        let t = at("2026-01-01T09:00:00+08:00");
        assert_eq!(
            next_daily(sh, t, None, tod(9, 0)),
            Some(at("2026-01-02T09:00:00+08:00"))
        );
        assert_eq!(next_daily(sh, t - 1, None, tod(9, 0)), Some(t));
        // 2026-01-01 is a Thursday; the next Monday is the 5th.
        assert_eq!(
            next_daily(sh, t, Some(1), tod(8, 30)),
            Some(at("2026-01-05T08:30:00+08:00"))
        );
    }

    #[test]
    fn nine_am_on_both_sides_of_dst() {
        let ny = Zone::parse("America/New_York").unwrap(); // valid IANA name
        let before = next_daily(ny, at("2026-03-07T12:00:00-05:00"), None, tod(9, 0));
        assert_eq!(before, Some(at("2026-03-08T09:00:00-04:00")));
        let gap = next_daily(ny, at("2026-03-07T12:00:00-05:00"), None, tod(2, 30));
        assert_eq!(gap, Some(at("2026-03-08T03:30:00-04:00")));
    }

    #[test]
    fn leap_day_anniversary() {
        let utc = Zone::parse("UTC").unwrap(); // valid IANA name
        let leap = NaiveDate::from_ymd_opt(2000, 2, 29).unwrap(); // a real date
        let next = next_anniversary(utc, at("2026-01-01T00:00:00Z"), leap, 0, tod(9, 0));
        assert_eq!(next, Some(at("2026-02-28T09:00:00Z")));
        let next = next_anniversary(utc, at("2027-06-01T00:00:00Z"), leap, 0, tod(9, 0));
        assert_eq!(next, Some(at("2028-02-29T09:00:00Z")));
    }

    /// Around the turn of the year, where the skip of early candidates is
    /// closest to the answer: the occurrence found from `after` is the one
    /// reached by walking occurrences from well before it.
    #[test]
    fn anniversaries_next_to_after_are_never_skipped() {
        for zone in ["UTC", "Asia/Shanghai", "America/New_York", "-09:30"] {
            let zone = Zone::parse(zone).unwrap(); // valid names
            for (m, d) in [(12, 30), (12, 31), (1, 1), (1, 2), (2, 29)] {
                let date = NaiveDate::from_ymd_opt(2000, m, d).unwrap(); // real dates
                for before in [0, 3600, 86_400, 3 * 86_400] {
                    for at_time in [tod(0, 0), tod(23, 30)] {
                        let start = at("2026-12-25T00:00:00Z");
                        for step in 0..60 {
                            let after = start + step * 7 * 3600;
                            let mut walk =
                                next_anniversary(zone, after - 400 * 86_400, date, before, at_time);
                            while let Some(t) = walk.filter(|t| *t <= after) {
                                walk = next_anniversary(zone, t, date, before, at_time);
                            }
                            assert_eq!(next_anniversary(zone, after, date, before, at_time), walk);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn before_anniversary_snaps_forward() {
        let utc = Zone::parse("UTC").unwrap(); // valid IANA name
        let d = NaiveDate::from_ymd_opt(1990, 6, 10).unwrap(); // a real date
        let week = 7 * 86_400;
        let next = next_anniversary(utc, at("2026-01-01T00:00:00Z"), d, week, tod(10, 0));
        assert_eq!(next, Some(at("2026-06-03T10:00:00Z")));
        let next = next_anniversary(utc, at("2026-01-01T00:00:00Z"), d, 3600, tod(10, 0));
        assert_eq!(next, Some(at("2026-06-10T10:00:00Z")));
        // Passed this year: next year.
        let next = next_anniversary(utc, at("2026-07-01T00:00:00Z"), d, 0, tod(0, 0));
        assert_eq!(next, Some(at("2027-06-10T00:00:00Z")));
    }
}
