//! The context of one instant of one customer — the program, the instant,
//! the limits and the buffer what it produces is held in — and the
//! records it keeps: judgments, actions, transitions. The instant's parts
//! (`instant`, `triggers`, `fire`) all work through it, so it sits below
//! them and none of them needs another's types.

use super::{Buffer, Degraded, Transition};
use crate::compile::{CExpr, Ir};
use crate::engine::action::{Emitted, Kind};
use crate::engine::state::standing;
use crate::eval::{Ctx, DVal};
use crate::limits::StateLimits;
use crate::time::Instant;
use crate::value::Value;

/// What became of a triggered rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// It acted (with this variant of its split, if any).
    Fired(Option<usize>),
    /// Its `if` guard was false.
    GuardFalse,
    /// Its `limit` was reached.
    Limit,
    /// A `cap` would have been exceeded.
    Cap,
    /// Its control group: recorded, nothing emitted.
    HeldOut,
    /// Moved to the end of quiet hours, to be judged there.
    Deferred,
    /// Inside quiet hours with `drop`.
    Dropped,
    /// Snapped to a later `at` time, to be judged there.
    Snapped,
}

/// One judgment, for metrics and observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// Rule index (declaration order).
    pub rule: usize,
    /// What happened.
    pub verdict: Verdict,
    /// The trigger fired now (false when a deferred firing is judged).
    pub triggered: bool,
    /// When it was judged.
    pub at: Instant,
    /// For [`Verdict::Deferred`] and [`Verdict::Snapped`]: when it will be
    /// judged again.
    pub lands: Option<Instant>,
    /// For [`Verdict::Cap`]: the cap that was full (by declaration order).
    pub cap: Option<usize>,
    /// For [`Verdict::Limit`] and [`Verdict::Cap`]: when the window frees a
    /// place, if it does.
    pub frees: Option<Instant>,
}

/// One instant of one customer being worked out: the program, the
/// instant, the limits, and where what it produces is held.
pub(super) struct At<'a> {
    pub ir: &'a Ir,
    pub tau: i64,
    pub limits: &'a StateLimits,
    pub buf: &'a mut Buffer,
}

/// What an outcome says beyond its verdict (see [`super::Outcome`]).
#[derive(Clone, Copy, Default)]
pub(super) struct Detail {
    pub lands: Option<i64>,
    pub cap: Option<usize>,
    pub frees: Option<i64>,
}

impl At<'_> {
    /// Records what became of a firing of rule `rule` at this instant.
    /// Instants past those RFC 3339 can write are never stepped to.
    pub fn judged(&mut self, rule: usize, verdict: Verdict, triggered: bool, d: Detail) {
        let Some(at) = Instant::checked(self.tau) else {
            self.buf.degraded.push((Degraded::Horizon, 1));
            return;
        };
        self.buf.outcomes.push(Outcome {
            rule,
            verdict,
            triggered,
            at,
            lands: d.lands.and_then(Instant::checked),
            cap: d.cap,
            frees: d.frees.and_then(Instant::checked),
        });
    }

    /// Records an action of this instant; its values are pushed by
    /// `values` first. `None` past the instants RFC 3339 can write, which
    /// a step never reaches.
    pub fn emit(&mut self, kind: Kind, variant: Option<u16>, id: (i64, u32, u16)) {
        let Some(at) = Instant::checked(self.tau) else {
            self.buf.degraded.push((Degraded::Horizon, 1));
            return;
        };
        let (trigger_at, occurrence, index) = id;
        self.buf.actions.push(Emitted {
            at,
            kind,
            variant,
            trigger_at,
            occurrence,
            index,
        });
    }

    /// Records the changes of a re-evaluation for observers.
    pub fn transitions(&mut self, changes: &[(usize, DVal, DVal)]) {
        let Some(at) = Instant::checked(self.tau) else {
            return;
        };
        for &(definition, from, to) in changes {
            let Some(to) = standing(to) else { continue };
            self.buf.transitions.push(Transition {
                at,
                definition,
                from: standing(from),
                to,
            });
        }
    }

    /// Holds `v` for an action; its position.
    pub fn value(&mut self, v: Value) -> u32 {
        self.buf.values.push(v);
        (self.buf.values.len() - 1) as u32
    }
}

/// Does filter `filter` hold, in `cx`, for an event with fields `row`?
pub(super) fn holds(cx: Ctx<'_>, filter: Option<&CExpr>, row: &[Value]) -> bool {
    filter.is_none_or(|f| cx.with_row(row).test(f))
}
