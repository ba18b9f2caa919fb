//! What makes rules fire at an instant: the event (its own triggers, and
//! what it does to `no`, `after`, `unless` and goals), changes of derived
//! state, and timers — silences ending, calendar occurrences, scheduled
//! firings falling due.

use super::at::{At, holds};
use super::{Cancel, CancelReason, Degraded, Firing};
use crate::check::hir::Trigger;
use crate::compile::Ir;
use crate::engine::calendar;
use crate::engine::state::CustomerState;
use crate::engine::state::rules::{Pending, Word, carried_fields};
use crate::eval::derived::Change;
use crate::eval::{Ctx, DVal};
use crate::time::Instant;
use crate::value::Value;
use crate::zone::Zone;

/// The rules to judge at one round of an instant: few, kept on the stack.
pub(super) type Candidates<'e> = smallvec::SmallVec<[Candidate<'e>; 4]>;

/// A rule about to be judged at an instant.
pub(super) struct Candidate<'e> {
    pub rule: usize,
    /// Fields `event.*` reads.
    pub fields: Option<Fields<'e>>,
    /// For ordering several firings of one rule: due time, arrival.
    pub order: (i64, u64),
    /// A `no … for` firing: the anchor it consumes.
    pub no_anchor: Option<i64>,
    /// When the starting event happened (`unless` looks after it).
    pub origin: i64,
    /// A firing moved here earlier: its trigger instant and occurrence.
    pub moved: Option<(i64, u32)>,
}

/// A candidate's `event.*` fields: the event of this instant's, or held by
/// a scheduled firing.
pub(super) enum Fields<'e> {
    Event(&'e [Value]),
    Held(Box<[Value]>),
}

impl Fields<'_> {
    pub fn get(&self) -> &[Value] {
        match self {
            Fields::Event(f) => f,
            Fields::Held(f) => f,
        }
    }
}

impl Candidate<'_> {
    fn timer(rule: usize, at: i64, no_anchor: Option<i64>, origin: i64) -> Candidate<'static> {
        Candidate {
            rule,
            fields: None,
            order: (at, 0),
            no_anchor,
            origin,
            moved: None,
        }
    }
}

/// Schedules a firing, unless the customer holds as many as its limit
/// allows or it falls past the last instant there is: then it is dropped,
/// and counted.
pub(super) fn schedule(at: &mut At<'_>, st: &mut CustomerState, p: Pending) {
    if p.due > Instant::MAX.unix() {
        at.buf.degrade(Degraded::Horizon);
        return;
    }
    if st.rules.pending().len() >= at.limits.max_pending {
        at.buf.degrade(Degraded::Pending);
        return;
    }
    if p.moved().is_none() && at.buf.detailed {
        if let Some(f) = firing(&p) {
            at.buf.scheduled.push(f);
        }
    }
    st.rules.schedule(p);
}

/// A scheduled firing as observers see it (its instants are within range:
/// `schedule` refuses any past the last instant, and event times are).
fn firing(p: &Pending) -> Option<Firing> {
    Some(Firing {
        rule: p.rule as usize,
        due: Instant::checked(p.due)?,
        origin: Instant::checked(p.origin)?,
    })
}

/// Records that `p` is cancelled, for observers.
fn cancel(buf: &mut super::Buffer, p: &Pending, reason: CancelReason) {
    if !buf.detailed {
        return;
    }
    if let Some(firing) = firing(p) {
        buf.cancelled.push(Cancel { firing, reason });
    }
}

/// What an arriving customer event does to `no`, `after` and `unless`.
pub(super) fn bookkeeping(
    at: &mut At<'_>,
    st: &mut CustomerState,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
) {
    let (ir, tau) = (at.ir, at.tau);
    let seq = st.seq;
    for &r in &ir.rules_by_event[event] {
        let rule = &ir.rules[r];
        // Cancel first, so that an event never cancels what it starts.
        if let Some(unless) = rule.unless.as_ref().filter(|u| u.event == event) {
            let filter = unless.filter.as_ref();
            let (facts, id) = (&st.facts, &*st.id);
            let buf = &mut *at.buf;
            st.rules.retain_of(r, |p| {
                let cancels = t > p.origin
                    && t <= p.due
                    && holds(
                        Ctx::new(ir, facts, id, tau, zone, Some(&p.fields)),
                        filter,
                        fields,
                    );
                if cancels {
                    if let Some(at) = Instant::checked(t) {
                        cancel(buf, p, CancelReason::Unless { event, at });
                    }
                }
                !cancels
            });
        }
        match &rule.trigger {
            // A later event re-arms the silence; one at the same second
            // arrived later, so it does too.
            Trigger::No { on, .. }
                if on.event == event
                    && holds(
                        Ctx::new(ir, &st.facts, &st.id, tau, zone, None),
                        on.filter.as_ref(),
                        fields,
                    )
                    && st.rules.get(ir, r, Word::Anchor).is_none_or(|a| t >= a) =>
            {
                st.rules.set(ir, r, Word::Anchor, Some(t));
            }
            Trigger::After { on, delay, last }
                if on.event == event
                    && holds(
                        Ctx::new(ir, &st.facts, &st.id, tau, zone, Some(fields)),
                        on.filter.as_ref(),
                        fields,
                    ) =>
            {
                let p = Pending::new(
                    (t.saturating_add(*delay).max(tau), r as u32),
                    (t, seq),
                    carried_fields(ir, r, Some(fields)),
                    None,
                );
                if !*last {
                    schedule(at, st, p);
                } else if st.rules.get(ir, r, Word::Anchor).is_none_or(|a| t >= a) {
                    st.rules.set(ir, r, Word::Anchor, Some(t));
                    // A debounced trigger replaces what it scheduled, not a
                    // firing already judged and moved.
                    let buf = &mut *at.buf;
                    st.rules.retain_of(r, |q| {
                        let replaced = q.moved().is_none();
                        if replaced {
                            if let Some(at) = Instant::checked(t) {
                                cancel(buf, q, CancelReason::Replaced { at });
                            }
                        }
                        !replaced
                    });
                    schedule(at, st, p);
                }
            }
            _ => {}
        }
    }
}

/// Goal conversions: a matching goal event after a firing, within its
/// window.
pub(super) fn goals(
    at: &mut At<'_>,
    st: &mut CustomerState,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
) {
    let (ir, tau) = (at.ir, at.tau);
    for &r in &ir.rules_by_event[event] {
        let Some(goal) = &ir.rules[r].goal else {
            continue;
        };
        if goal.on.event != event || !st.rules.has_goals(r) {
            continue;
        }
        if !holds(
            Ctx::new(ir, &st.facts, &st.id, tau, zone, None),
            goal.on.filter.as_ref(),
            fields,
        ) {
            continue;
        }
        let within = goal.within;
        let mut kept = Vec::new();
        for g in st.rules.take_goals(r) {
            if t > g.fired && t <= g.fired.saturating_add(within) {
                at.buf.conversions.push((r, g.group.map(usize::from)));
            } else if g.fired.saturating_add(within) >= tau {
                kept.push(g);
            }
        }
        st.rules.keep_goals(kept);
    }
}

/// The event's own triggers that match it.
pub(super) fn event_rules<'e>(
    ir: &Ir,
    st: &CustomerState,
    tau: i64,
    zone: Zone,
    event: usize,
    fields: &'e [Value],
    out: &mut Candidates<'e>,
) {
    for &r in &ir.rules_by_event[event] {
        if let Trigger::Event(on) = &ir.rules[r].trigger {
            if on.event == event
                && holds(
                    Ctx::new(ir, &st.facts, &st.id, tau, zone, Some(fields)),
                    on.filter.as_ref(),
                    fields,
                )
            {
                out.push(Candidate {
                    rule: r,
                    fields: Some(Fields::Event(fields)),
                    order: (tau, 0),
                    no_anchor: None,
                    origin: tau,
                    moved: None,
                });
            }
        }
    }
}

/// Transition triggers caused by this round's changes.
pub(super) fn transitions(ir: &Ir, changes: &[Change], out: &mut Candidates<'_>) {
    if changes.is_empty() {
        return;
    }
    for &r in &ir.transition_rules {
        let fires = changes
            .iter()
            .any(|&(slot, old, new)| match ir.rules[r].trigger {
                Trigger::Membership { segment: s, enters } if s == slot => {
                    let was = old == DVal::Bool(true);
                    let is = new == DVal::Bool(true);
                    was != is && is == enters
                }
                Trigger::Stage { stage: s, label } if s == slot => match label {
                    Some(l) => new == DVal::Label(l as u32),
                    None => true,
                },
                _ => false,
            });
        if fires {
            out.push(Candidate::timer(r, 0, None, 0));
        }
    }
}

/// Timers due at or before `tau`: `no … for` and calendars (first round
/// only, once per anchor or occurrence) and scheduled firings, which are
/// consumed.
///
/// With `cached`, a calendar's occurrence cached after the customer's last
/// instant (the first after a point no later than `tau - 1`) answers when
/// it is not before `tau`: it is then also the first after `tau - 1`.
pub(super) fn due(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    first_round: bool,
    cached: bool,
    out: &mut Candidates<'_>,
) {
    if first_round {
        for &r in &ir.calendar_rules {
            let due = st
                .rules
                .get(ir, r, Word::Calendar)
                .filter(|c| cached && *c >= tau)
                .or_else(|| calendar_due(ir, st, r, zone, tau));
            if let Some(due) = due.filter(|d| *d <= tau) {
                st.rules.set(ir, r, Word::Fired, Some(due));
                out.push(Candidate::timer(r, due, None, due));
            }
        }
        let first_seen = st.facts.first_seen.get().unwrap_or(tau);
        for &r in &ir.silence_rules {
            let Trigger::No { duration, .. } = ir.rules[r].trigger else {
                continue;
            };
            if let Some((anchor, end)) = st
                .rules
                .silence(ir, r, first_seen, duration)
                .filter(|s| s.1 <= tau)
            {
                out.push(Candidate::timer(r, end, Some(anchor), anchor));
            }
        }
    }
    st.rules.take_due(tau, |p| {
        let moved = p.moved();
        out.push(Candidate {
            rule: p.rule as usize,
            fields: Some(Fields::Held(p.fields)),
            order: (p.due, p.seq),
            no_anchor: None,
            origin: p.origin,
            moved,
        })
    });
}

/// Works out each calendar trigger's next occurrence after what this
/// customer has lived through. With `reuse`, nothing the occurrences read
/// has changed since they were worked out, so one still after the clock
/// and the last firing stands.
pub(crate) fn refresh_calendars(ir: &Ir, st: &mut CustomerState, reuse: bool) {
    let zone = st.facts.zone(ir);
    let from = st.clock.get().map_or(i64::MIN, |c| c.saturating_add(1));
    for &r in &ir.calendar_rules {
        let fired = st.rules.get(ir, r, Word::Fired).unwrap_or(i64::MIN);
        let lived = from.saturating_sub(1).max(fired);
        if reuse
            && st
                .rules
                .get(ir, r, Word::Calendar)
                .is_some_and(|c| c > lived)
        {
            continue;
        }
        let due = calendar_due(ir, st, r, zone, from);
        st.rules.set(ir, r, Word::Calendar, due);
    }
}

/// The next occurrence of rule `r`'s calendar trigger after everything
/// this customer has already lived through (its clock, its first event,
/// the last occurrence fired).
///
/// `from` is the first instant still open: occurrences before it are over
/// (so a birthday set late does not fire for a date already passed), one
/// at it counts if the customer was first seen before it and it has not
/// fired — even when an earlier step at the same instant did not yet know
/// the customer that early.
pub(crate) fn calendar_due(
    ir: &Ir,
    st: &CustomerState,
    r: usize,
    zone: Zone,
    from: i64,
) -> Option<i64> {
    let first_seen = st.facts.first_seen.get()?;
    let after = [
        Some(from.saturating_sub(1)),
        Some(first_seen),
        st.rules.get(ir, r, Word::Fired),
    ]
    .into_iter()
    .flatten()
    .max()?;
    match ir.rules[r].trigger {
        Trigger::Every { weekday, at } => calendar::next_daily(zone, after, weekday, at),
        Trigger::Anniversary { attr, before, at } => match &st.facts.profile()[attr] {
            Value::Date(d) => calendar::next_anniversary(zone, after, *d, before, at),
            _ => None,
        },
        _ => None,
    }
}
