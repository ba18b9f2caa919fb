//! Segments, tags and stages over time: each is re-evaluated, in
//! dependency order, only when its horizon has come or something it reads
//! changed; a query at a later instant works out what it reads there.

use super::facts::{DVal, DerivedState, FOREVER, Facts};
use super::{Ctx, eval};
use crate::check::hir::Derived;
use crate::compile::Ir;
use crate::zone::Zone;
use smallvec::SmallVec;

/// What a step changed that derived values may read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Touched {
    /// A customer event of this type arrived.
    pub event: Option<usize>,
    /// The profile (hence perhaps the zone).
    pub profile: bool,
    /// Manual tags.
    pub tags: bool,
    /// `first_seen`.
    pub first_seen: bool,
    /// `last_seen`.
    pub last_seen: bool,
    /// Re-evaluate everything.
    pub all: bool,
}

impl Touched {
    /// Everything: after built-in actions, or for a state from outside.
    pub const ALL: Touched = Touched {
        event: None,
        profile: true,
        tags: true,
        first_seen: true,
        last_seen: true,
        all: true,
    };

    /// Nothing a calendar occurrence reads (the profile's dates and zone,
    /// first_seen) was touched.
    pub fn calendars_unread(&self) -> bool {
        !self.profile && !self.first_seen
    }
}

/// A change of a derived value: its slot, the old value and the new.
pub(crate) type Change = (usize, DVal, DVal);

/// The changes of one re-evaluation; programs have few derived values.
pub(crate) type Changes = SmallVec<[Change; 8]>;

/// One flag per derived node, on the stack for the usual few: the marks
/// are wanted at every step, and a heap allocation would come with each.
#[derive(Default)]
struct Marks {
    small: [bool; 32],
    large: Vec<bool>,
}

impl Marks {
    /// `n` flags, all false when first asked for.
    fn of(&mut self, n: usize) -> &mut [bool] {
        if n <= self.small.len() {
            return &mut self.small[..n];
        }
        self.large.resize(n, false);
        &mut self.large
    }
}

/// Re-evaluates derived state at `tau` in dependency order; returns what
/// changed. A value is recomputed only when its horizon has come, or
/// something it reads changed: an event feeding its aggregates, the
/// profile, the tags, first/last seen, or a derived value it reads.
pub(crate) fn reevaluate(
    ir: &Ir,
    facts: &mut Facts,
    id: &str,
    tau: i64,
    zone: Zone,
    touched: Touched,
) -> Changes {
    let mut changes = Changes::new();
    // Which nodes were worked out again.
    let mut marks = Marks::default();
    let fresh = marks.of(ir.derived.len());
    for (slot, node) in ir.derived.iter().enumerate() {
        let (d, r) = (&facts.derived()[slot], &node.reads);
        let stale = touched.all
            || r.always
            || d.value() == DVal::Unknown
            || tau >= d.until()
            || touched.event.is_some_and(|e| r.events.contains(&e))
            || (touched.profile && r.profile)
            || (touched.tags && r.tags)
            || (touched.first_seen && r.first_seen)
            || (touched.last_seen && r.last_seen)
            || r.slots
                .iter()
                .any(|s| fresh.get(*s).copied().unwrap_or(true));
        if !stale {
            continue;
        }
        fresh[slot] = true;
        let cx = Ctx::new(ir, facts, id, tau, zone, None);
        let (value, until) = match &node.def {
            Derived::Segment { cond, .. } | Derived::Tag { cond, .. } => {
                let r = eval(cond, &cx);
                (DVal::Bool(r.v.truth().unwrap_or(false)), r.until)
            }
            Derived::Stage { labels, .. } => {
                let mut until = FOREVER;
                let mut chosen = labels.len().saturating_sub(1);
                for (i, (_, cond)) in labels.iter().enumerate() {
                    match cond {
                        Some(c) => {
                            let r = eval(c, &cx);
                            until = until.min(r.until);
                            if r.v.truth() == Some(true) {
                                chosen = i;
                                break;
                            }
                        }
                        None => {
                            chosen = i;
                            break;
                        }
                    }
                }
                (DVal::Label(chosen as u32), until)
            }
        };
        // A value worked out at `tau` holds through `tau`: its next change
        // is at `tau + 1` at the earliest. A state from outside whose data
        // contradict themselves (a corrupted snapshot) could have it
        // otherwise, and the customer would wake at `tau` for ever.
        let until = until.max(tau.saturating_add(1));
        let old = facts.derived()[slot].value();
        // A label index fits: the checker refuses a stage of more labels
        // than a state can pack (`MAX_STAGE_LABELS`).
        facts.derived_mut()[slot] =
            DerivedState::new(value, until).expect("a stage has at most MAX_STAGE_LABELS labels");
        // Before the first event a customer is a member of nothing, so a
        // segment that starts false has not changed.
        let changed = old != value && !(old == DVal::Unknown && value == DVal::Bool(false));
        if changed {
            changes.push((slot, old, value));
        }
    }
    changes
}

/// Has a derived value that node `slot` reads, directly or through
/// others, reached the instant up to which it was known to hold?
pub(crate) fn reads_lapsed(ir: &Ir, facts: &Facts, slot: usize, now: i64) -> bool {
    let reads = |s: usize| ir.derived.get(s).map_or(&[][..], |n| &n.reads.slots[..]);
    if reads(slot).is_empty() {
        return false;
    }
    // A node reads only nodes before it (the checker's dependency order),
    // so one sweep down from `slot` meets every node it reads after the
    // nodes that read it.
    let mut marks = Marks::default();
    let needed = marks.of(slot);
    let mark = |needed: &mut [bool], s: usize| {
        if let Some(n) = needed.get_mut(s) {
            *n = true;
        }
    };
    for &s in reads(slot) {
        mark(needed, s);
    }
    for s in (0..slot).rev() {
        if needed[s] {
            if facts.derived().get(s).is_none_or(|d| d.until() <= now) {
                return true;
            }
            for &r in reads(s) {
                mark(needed, r);
            }
        }
    }
    false
}

/// Brings windows and derived state to `now` without firing anything (for
/// looking, as `explain` and later segment queries do, not for stepping).
pub(crate) fn refresh(ir: &Ir, facts: &mut Facts, id: &str, now: i64) {
    if facts.first_seen.is_none() {
        return;
    }
    facts.aggs.prune(ir, now);
    let zone = facts.zone(ir);
    reevaluate(ir, facts, id, now, zone, Touched::ALL);
}
