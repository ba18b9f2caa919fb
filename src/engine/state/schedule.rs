//! What a customer's state has scheduled, for hosts and `siyu next`: every
//! firing that time alone will bring, with its rule.

use super::CustomerState;
use crate::compile::Program;
use crate::time::Instant;

/// Why a firing is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// A `D after …` delay falling due.
    Delay,
    /// A firing moved by `at` snapping or quiet hours, judged then.
    Moved,
    /// A `no … for D` silence ending.
    Silence,
    /// An `every …` or `anniversary` occurrence.
    Calendar,
}

/// A firing a customer's state has scheduled.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Scheduled<'p> {
    /// When it is due (a moved firing: when it is judged).
    pub at: Instant,
    /// The rule.
    pub rule: &'p str,
    /// Why.
    pub reason: Reason,
}

impl CustomerState {
    /// Every firing this state has scheduled, soonest first (ties in rule
    /// order): delays and moved firings, silences ending, calendar
    /// occurrences. Transitions (`enters`, `becomes`) are not scheduled:
    /// they fire when a segment or stage changes, which
    /// [`CustomerState::next_wakeup`] includes. Linear in what is held.
    pub fn scheduled<'p>(&self, program: &'p Program) -> Vec<Scheduled<'p>> {
        let ir = program.ir();
        let Some(first_seen) = self.facts.first_seen.get() else {
            return Vec::new();
        };
        let mut out: Vec<(i64, usize, Reason)> = self
            .rules
            .pending()
            .iter()
            .map(|p| {
                let reason = match p.moved() {
                    Some(_) => Reason::Moved,
                    None => Reason::Delay,
                };
                (p.due, p.rule as usize, reason)
            })
            .collect();
        for (rules, reason) in [
            (&ir.silence_rules, Reason::Silence),
            (&ir.calendar_rules, Reason::Calendar),
        ] {
            for &r in rules {
                if let Some(t) = self.rules.timer(ir, r, first_seen) {
                    out.push((t, r, reason));
                }
            }
        }
        out.sort_by_key(|(t, r, _)| (*t, *r));
        out.into_iter()
            .filter_map(|(t, r, reason)| {
                Some(Scheduled {
                    at: Instant::checked(t)?,
                    rule: &ir.rules.get(r)?.name,
                    reason,
                })
            })
            .collect()
    }
}
