//! Decoding of literal tokens (§1): numbers, durations, shares, times of day
//! and strings. The grammar accepts a superset of each so that a near miss
//! (`3 months`, `1.5d`, `"\q"`) gets a specific message instead of a bare
//! "expected …".

use super::ast::TimeOfDay;

/// A token that is not valid, with the message and an optional help line.
#[derive(Debug)]
pub(super) struct Invalid {
    pub message: String,
    pub help: Option<String>,
}

fn invalid(message: impl Into<String>, help: Option<String>) -> Invalid {
    Invalid {
        message: message.into(),
        help,
    }
}

fn digits_value(text: &str) -> Option<i64> {
    text.chars().filter(|c| *c != '_').try_fold(0i64, |acc, c| {
        acc.checked_mul(10)?.checked_add(i64::from(c.to_digit(10)?))
    })
}

/// `42`, `10_000`.
pub(super) fn int(text: &str) -> Result<i64, Invalid> {
    digits_value(text).ok_or_else(|| invalid(format!("integer `{text}` is too large"), None))
}

/// `3.5` (a literal with a fraction part is always a `number`).
pub(super) fn number(text: &str) -> Result<f64, Invalid> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    match clean.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(invalid(format!("number `{text}` is out of range"), None)),
    }
}

/// `12.5%` → 1250 basis points.
pub(super) fn percent(text: &str) -> Result<u32, Invalid> {
    let body = text.trim_end_matches('%').replace('_', "");
    let (whole, frac) = body.split_once('.').unwrap_or((&body, ""));
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return Err(invalid(
            format!("share `{text}` is finer than a basis point (0.01%)"),
            None,
        ));
    }
    let whole: u32 = whole
        .parse()
        .ok()
        .filter(|w| *w <= 100)
        .ok_or_else(|| invalid(format!("share `{text}` is more than 100%"), None))?;
    // Hundredths of a percent, `.5` as 50: the grammar lets only digits
    // through, and at most two are left.
    let frac = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(2)
        .try_fold(0u32, |bp, d| {
            d.is_ascii_digit().then(|| bp * 10 + u32::from(d - b'0'))
        })
        .ok_or_else(|| invalid(format!("share `{text}` is not a number"), None))?;
    let bp = whole * 100 + frac;
    if bp > 10_000 {
        return Err(invalid(format!("share `{text}` is more than 100%"), None));
    }
    Ok(bp)
}

/// `09:00`.
pub(super) fn time_of_day(text: &str) -> Result<TimeOfDay, Invalid> {
    let bad = || {
        invalid(
            format!("`{text}` is not a time of day"),
            Some("write 24-hour `HH:MM`, from `00:00` to `23:59`".into()),
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let hour: u8 = h.parse().map_err(|_| bad())?;
    let minute: u8 = m.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok(TimeOfDay { hour, minute })
}

const UNITS: [(&str, i64); 5] = [
    ("w", 604_800),
    ("d", 86_400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
];

/// Words that name a calendar length, which is not a fixed duration.
fn calendar_unit(unit: &str) -> Option<i64> {
    match unit {
        "mo" | "mon" | "mos" | "month" | "months" | "M" => Some(30),
        "y" | "yr" | "yrs" | "year" | "years" | "Y" => Some(365),
        _ => None,
    }
}

/// Spelled-out units of `2 days`, `3 hours`: seconds per unit.
fn word_unit(unit: &str) -> Option<i64> {
    match unit {
        "week" | "weeks" => Some(604_800),
        "day" | "days" => Some(86_400),
        "hour" | "hours" => Some(3600),
        "minute" | "minutes" | "min" | "mins" => Some(60),
        "second" | "seconds" | "sec" | "secs" => Some(1),
        _ => None,
    }
}

/// `90d`, `1d12h`, `1m30s`; and the errors of `3mo`, `1y`, `1.5d`, `3 months`.
pub(super) fn duration(text: &str) -> Result<i64, Invalid> {
    if let Some((count, unit)) = text.split_once([' ', '\t']) {
        let unit = unit.trim();
        let n = digits_value(count).unwrap_or(0);
        if let Some(days) = calendar_unit(unit) {
            return Err(months_error(text, n.saturating_mul(days)));
        }
        let per = word_unit(unit).unwrap_or(1);
        return Err(invalid(
            format!("`{text}` is not a duration"),
            Some(format!(
                "write `{}`",
                format_duration(n.saturating_mul(per))
            )),
        ));
    }
    let mut total: i64 = 0;
    let mut last_rank = usize::MAX;
    let mut rest = text;
    let mut exact = true;
    let mut fractional = false;
    let mut out_of_order = false;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        rest = tail;
        let value: f64 = num.replace('_', "").parse().unwrap_or(0.0);
        if let Some(days) = calendar_unit(unit) {
            return Err(months_error(text, (value * days as f64).round() as i64));
        }
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(invalid(
                format!("unknown duration unit `{unit}` in `{text}`"),
                Some("units are `w`, `d`, `h`, `m` (minutes) and `s`".into()),
            ));
        };
        if num.contains('.') {
            fractional = true;
        }
        if last_rank != usize::MAX && rank <= last_rank {
            out_of_order = true;
        }
        last_rank = rank;
        let secs = value * UNITS[rank].1 as f64;
        if secs.fract() != 0.0 {
            exact = false;
        }
        if secs > 1e15 {
            return Err(invalid(format!("duration `{text}` is too long"), None));
        }
        total += secs as i64;
    }
    let suggestion = || exact.then(|| format!("write `{}`", format_duration(total)));
    if fractional {
        return Err(invalid(
            format!("duration `{text}` has a fraction; durations count whole units"),
            suggestion(),
        ));
    }
    if out_of_order {
        return Err(invalid(
            format!("units of `{text}` must go from largest to smallest, each at most once"),
            suggestion(),
        ));
    }
    Ok(total)
}

fn months_error(text: &str, days: i64) -> Invalid {
    invalid(
        format!("`{text}` is not a duration: months and years vary in length"),
        Some(format!("write the day count, `{days}d`")),
    )
}

/// The canonical spelling of a duration: days, hours, minutes, seconds, the
/// zero parts left out (`1d12h`, `90s`, `0s`).
pub fn format_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in &UNITS[1..] {
        let n = rest / size;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            rest -= n * size;
        }
    }
    out
}

/// Decodes a string literal (with its quotes): `\" \\ \n \t \u{X…}`.
pub(super) fn string(text: &str) -> Result<String, Invalid> {
    let body = &text[1..text.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let rest = chars.as_str();
                let scalar = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .filter(|(hex, _)| (1..=6).contains(&hex.len()))
                    .and_then(|(hex, _)| u32::from_str_radix(hex, 16).ok())
                    .and_then(char::from_u32);
                match scalar {
                    Some(ch) => {
                        out.push(ch);
                        let close = rest.find('}').map_or(0, |i| i + 1);
                        chars = rest[close..].chars();
                    }
                    None => {
                        return Err(invalid(
                            "invalid `\\u{…}` escape",
                            Some(
                                "write 1–6 hex digits of a Unicode scalar value, e.g. `\\u{4E2D}`"
                                    .into(),
                            ),
                        ));
                    }
                }
            }
            other => {
                let shown = other.map(String::from).unwrap_or_default();
                return Err(invalid(
                    format!("unknown escape `\\{shown}`"),
                    Some("escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\u{…}`".into()),
                ));
            }
        }
    }
    Ok(out)
}

/// Encodes a string literal, the inverse of [`string`].
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90d").unwrap(), 90 * 86_400);
        assert_eq!(duration("1d12h").unwrap(), 36 * 3600);
        assert_eq!(duration("1m30s").unwrap(), 90);
        assert_eq!(duration("2w").unwrap(), 14 * 86_400);
        assert_eq!(duration("10_000s").unwrap(), 10_000);
    }

    #[test]
    fn duration_errors_suggest() {
        let e = duration("3mo").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write the day count, `90d`"));
        let e = duration("1y").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write the day count, `365d`"));
        let e = duration("3 months").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write the day count, `90d`"));
        let e = duration("2 days").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write `2d`"));
        let e = duration("1.5d").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("write `1d12h`"));
        assert!(duration("12h1d").is_err());
        assert!(duration("1d1d").is_err());
        assert!(duration("5x").is_err());
    }

    #[test]
    fn canonical_durations() {
        assert_eq!(format_duration(36 * 3600), "1d12h");
        assert_eq!(format_duration(7 * 86_400), "7d");
        assert_eq!(format_duration(90), "1m30s");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn shares() {
        assert_eq!(percent("50%").unwrap(), 5000);
        assert_eq!(percent("12.5%").unwrap(), 1250);
        assert_eq!(percent("0.01%").unwrap(), 1);
        assert!(percent("0.001%").is_err());
        assert!(percent("101%").is_err());
        assert!(percent("100.5%").is_err());
        assert_eq!(percent("1_0.50%").unwrap(), 1050);
        assert_eq!(percent("100.00%").unwrap(), 10_000);
        // Refused, not read as a share of 0: the grammar never lets one
        // through, and a caller that did would get an error.
        assert!(percent("5.x%").is_err());
    }

    #[test]
    fn strings_round_trip() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "nl\n\ttab",
            "\u{1}",
            "中文",
        ] {
            assert_eq!(string(&quote(s)).unwrap(), s);
        }
        assert_eq!(string("\"\\u{4E2D}\"").unwrap(), "中");
        assert!(string("\"\\q\"").is_err());
        assert!(string("\"\\u{110000}\"").is_err());
        assert!(string("\"\\u{}\"").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(time_of_day("09:30").unwrap().seconds(), 9 * 3600 + 1800);
        assert!(time_of_day("24:00").is_err());
        assert!(time_of_day("12:60").is_err());
    }
}
