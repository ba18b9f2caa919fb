//! Everything that happens to one customer at one instant (§6): the event
//! if any, derived state, then rules by priority, in cascade rounds.

use super::at::At;
use super::fire::fire;
use super::triggers::{self, Candidates};
use super::{Buffer, Degraded, Movement, StepError};
use crate::check::hir::Derived;
use crate::compile::{CExpr, Ir};
use crate::engine::action::Kind;
use crate::engine::event::{Event, EventKind};
use crate::engine::state::CustomerState;
use crate::eval::derived::{Touched, reevaluate};
use crate::eval::ledger::Credit;
use crate::eval::{self, Ctx, DVal, FOREVER, aggregate};
use crate::limits::{MAX_ROUNDS, StateLimits};
use crate::time::{Instant, MaybeAt};
use crate::value::Value;
use crate::zone::Zone;
use smallvec::SmallVec;

/// The instant `tau` for `st`, with event `ev` if any.
pub(super) fn instant(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    ev: Option<&Event>,
    limits: &StateLimits,
    buf: &mut Buffer,
) -> Result<(), StepError> {
    let mut at = At {
        ir,
        tau,
        limits,
        buf,
    };
    st.occurrences.forget_before(tau);
    let mut event_fields: Option<(usize, &[Value])> = None;
    let mut touched = Touched::default();
    if let Some(ev) = ev {
        match &ev.kind {
            EventKind::Forget => return Ok(()),
            EventKind::Declared { event, fields } if ir.events[*event].broadcast => {
                event_fields = Some((*event, fields));
            }
            kind => {
                let f = &mut st.facts;
                let (first, last) = (f.first_seen, f.last_seen);
                f.first_seen = MaybeAt::some(first.get().map_or(ev.secs(), |x| x.min(ev.secs())));
                f.last_seen = MaybeAt::some(last.get().map_or(ev.secs(), |x| x.max(ev.secs())));
                touched.first_seen = f.first_seen != first;
                touched.last_seen = f.last_seen != last;
                match kind {
                    EventKind::Declared { event, fields } => {
                        st.seq += 1;
                        // Entries go in where the windows stand at `tau`.
                        prune_if_due(ir, st, tau);
                        apply_event(&mut at, st, *event, fields, ev.secs());
                        st.leaves.0 = MaybeAt::some(st.next_leave(ir));
                        event_fields = Some((*event, fields));
                        touched.event = Some(*event);
                    }
                    EventKind::Profile(attrs) => {
                        for (i, v) in attrs {
                            st.facts.set_profile(ir, *i, v.clone());
                        }
                        touched.profile = true;
                    }
                    EventKind::Tag(t) => {
                        st.facts.tags.insert(t);
                        touched.tags = true;
                    }
                    EventKind::Untag(t) => {
                        st.facts.tags.remove(t);
                        touched.tags = true;
                    }
                    EventKind::Undeclared(_) | EventKind::Forget => {}
                }
            }
        }
    }
    if st.facts.first_seen.is_none() {
        st.wake.0 = MaybeAt::some(FOREVER);
        return Ok(());
    }
    prune_if_due(ir, st, tau);
    let unread = touched.calendars_unread();
    let result = rounds(&mut at, st, ev, event_fields, touched);
    st.clock = MaybeAt::some(st.clock.get().map_or(tau, |c| c.max(tau)));
    // Nothing a calendar reads changed unless the event touched the profile
    // or first_seen, or a firing changed state.
    triggers::refresh_calendars(ir, st, unread && result == Ok(false));
    st.settle_wakeup(ir);
    result.map(|_| ())
}

/// Drops window entries and credits that have left by `tau`, if any can
/// have.
fn prune_if_due(ir: &Ir, st: &mut CustomerState, tau: i64) {
    if st.leaves.0.get().is_none_or(|at| tau >= at) {
        st.facts.aggs.prune(ir, tau);
        for credits in st.facts.ledgers_mut().iter_mut() {
            credits.prune(tau);
        }
        st.leaves.0 = MaybeAt::some(st.next_leave(ir));
    }
}

/// The cascade rounds of one instant; whether a firing changed state.
fn rounds(
    at: &mut At<'_>,
    st: &mut CustomerState,
    ev: Option<&Event>,
    event_fields: Option<(usize, &[Value])>,
    touched: Touched,
) -> Result<bool, StepError> {
    let (ir, tau) = (at.ir, at.tau);
    let mut changed_any = false;
    for round in 1..=MAX_ROUNDS {
        // Later rounds follow built-in actions: re-read everything, the
        // zone included (`set profile.tz` changes it at once, §6).
        let touched = if round == 1 { touched } else { Touched::ALL };
        let zone = st.facts.zone(ir);
        let changes = reevaluate(ir, &mut st.facts, &st.id, tau, zone, touched);
        if at.buf.detailed {
            at.transitions(&changes);
        }
        for &(slot, old, new) in &changes {
            if let Derived::Tag { .. } = &ir.derived[slot].def {
                let added = matches!(new, DVal::Bool(true));
                if added != matches!(old, DVal::Bool(true)) {
                    let occurrence = st.occurrences.next(tag_cause(ir, slot), tau);
                    let kind = Kind::AutoTag {
                        slot: slot as u32,
                        added,
                    };
                    at.emit(kind, None, (tau, occurrence, 0));
                }
            }
        }
        let mut candidates = Candidates::new();
        if round == 1 {
            if let Some((event, fields)) = event_fields {
                let t = ev.map_or(tau, |e| e.secs());
                triggers::bookkeeping(at, st, zone, event, fields, t);
                triggers::goals(at, st, zone, event, fields, t);
                triggers::event_rules(ir, st, tau, zone, event, fields, &mut candidates);
            }
        }
        triggers::transitions(ir, &changes, &mut candidates);
        // The occurrences cached at the end of the last instant still hold
        // if nothing they read has changed since: the clock moved on and no
        // event touched the profile (dates, zone) or first_seen.
        let cached =
            round == 1 && touched.calendars_unread() && st.clock.get().is_some_and(|c| c < tau);
        triggers::due(ir, st, tau, zone, round == 1, cached, &mut candidates);
        if candidates.is_empty() {
            return Ok(changed_any);
        }
        candidates.sort_by(|a, b| {
            let (ra, rb) = (&ir.rules[a.rule], &ir.rules[b.rule]);
            rb.priority
                .cmp(&ra.priority)
                .then(a.rule.cmp(&b.rule))
                .then(a.order.cmp(&b.order))
        });
        let mut changed = false;
        for c in &candidates {
            changed |= fire(at, st, c);
        }
        if !changed {
            return Ok(changed_any);
        }
        changed_any = true;
    }
    Err(StepError::CascadeDepth {
        at: Instant::checked(tau).unwrap_or(Instant::MAX),
    })
}

/// The occurrence counter of auto tag `slot`: after the rules'.
pub(super) fn tag_cause(ir: &Ir, slot: usize) -> u32 {
    (ir.rules.len() + slot) as u32
}

/// Counts a customer event in the aggregates that read its type, and earns
/// and spends points in the ledgers it reaches.
fn apply_event(at: &mut At<'_>, st: &mut CustomerState, event: usize, fields: &[Value], t: i64) {
    let (ir, tau) = (at.ir, at.tau);
    // A customer event leaves the profile, hence the zone, as it was.
    let zone = st.facts.zone(ir);
    let cx = Ctx::new(ir, &st.facts, &st.id, tau, zone, None);
    let decided = aggregate::decide(ir, event, &cx.with_row(fields));
    st.facts
        .aggs
        .insert(ir, event, fields, (t, st.seq, tau), &decided);
    apply_ledgers(at, st, zone, event, fields, t);
    let retained =
        st.facts.aggs.retained() + st.facts.ledgers().iter().map(|l| l.len()).sum::<usize>();
    if retained > at.limits.max_retained {
        let evicted = evict(ir, st, retained - at.limits.max_retained);
        at.buf.degraded.push((Degraded::Retained, evicted));
    }
}

/// Drops `n` of the oldest window entries or credits, from whichever holds
/// the most; how many went.
fn evict(ir: &Ir, st: &mut CustomerState, n: usize) -> usize {
    let mut dropped = 0;
    while dropped < n {
        let entries = st.facts.aggs.largest_store();
        let credits = st
            .facts
            .ledgers()
            .iter()
            .enumerate()
            .map(|(i, l)| (l.len(), i))
            .max();
        let took = match (entries, credits) {
            (Some(e), Some((c, l))) if c > e => st.facts.ledgers_mut()[l].evict(1),
            (Some(e), _) if e > 0 => st.facts.aggs.evict(ir, 1),
            (_, Some((c, l))) if c > 0 => st.facts.ledgers_mut()[l].evict(1),
            _ => 0,
        };
        if took == 0 {
            break;
        }
        dropped += took;
    }
    st.leaves.0 = MaybeAt::NONE;
    dropped
}

/// Earns and spends points for a customer event: amounts are evaluated
/// first (with `event.*` the event), then credits change.
fn apply_ledgers(
    at: &mut At<'_>,
    st: &mut CustomerState,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
) {
    let (ir, tau) = (at.ir, at.tau);
    for &l in &ir.ledgers_by_event[event] {
        let spec = &ir.ledgers[l];
        let cx = Ctx::new(ir, &st.facts, &st.id, tau, zone, Some(fields));
        let amount = |e: &CExpr| eval::value(e, &cx).as_f64().filter(|a| *a > 0.0);
        let earned: SmallVec<[f64; 2]> = spec
            .earn
            .iter()
            .filter(|(e, _)| *e == event)
            .filter_map(|(_, a)| amount(a))
            .collect();
        let spent: SmallVec<[f64; 2]> = spec
            .spend
            .iter()
            .filter(|(e, _)| *e == event)
            .filter_map(|(_, a)| amount(a))
            .collect();
        let credits = &mut st.facts.ledgers_mut()[l];
        for &points in &earned {
            let expires = spec.expire.map_or(FOREVER, |d| t.saturating_add(d));
            credits.earn(Credit {
                t,
                expires,
                remaining: points,
            });
        }
        // Observers see movements at the instant, when they want them.
        let when = Instant::checked(tau).filter(|_| at.buf.detailed);
        if let Some(moved) = when {
            let expires = spec
                .expire
                .and_then(|d| Instant::checked(t.saturating_add(d)));
            for &points in &earned {
                let m = Movement::Earned {
                    at: moved,
                    points,
                    expires,
                };
                at.buf.movements.push((l, m));
            }
        }
        for points in spent {
            let short = credits.spend(tau, points);
            if short > 0.0 {
                at.buf.shortfalls.push((l, short));
            }
            if let Some(moved) = when {
                let points = points - short;
                let m = Movement::Spent { at: moved, points };
                at.buf.movements.push((l, m));
            }
        }
    }
}

/// Passes instant `w` without firing anything: consumes the timers due at
/// it and refreshes derived state.
pub(super) fn skip(ir: &Ir, st: &mut CustomerState, w: i64) {
    if st.facts.first_seen.is_none() {
        return;
    }
    let zone = st.facts.zone(ir);
    reevaluate(ir, &mut st.facts, &st.id, w, zone, Touched::ALL);
    let mut due = Candidates::new();
    triggers::due(ir, st, w, zone, true, false, &mut due);
    for c in due {
        if let Some(anchor) = c.no_anchor {
            st.rules.set(
                ir,
                c.rule,
                crate::engine::state::rules::Word::Fired,
                Some(anchor),
            );
        }
    }
    st.clock = MaybeAt::some(st.clock.get().map_or(w, |c| c.max(w)));
    triggers::refresh_calendars(ir, st, false);
    st.settle_wakeup(ir);
}
