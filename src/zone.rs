//! Time zones: IANA names through chrono-tz, or fixed offsets (`+08:00`).

use chrono::{FixedOffset, Offset, Utc};
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
}
