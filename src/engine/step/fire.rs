//! Judging a firing (§5–§6): where it lands (`at` snapping, quiet hours),
//! then guard, limit, split, caps and holdout, all-or-nothing; then its
//! actions, built-ins, follower timers and goal tracking.

use super::at::{At, Detail, Verdict};
use super::triggers::{Candidate, schedule};
use crate::check::hir::{Effect, Quiet, Rule, Trigger};
use crate::compile::{CExpr, Ir, fnv1a64_parts};
use crate::engine::action::Kind;
use crate::engine::calendar;
use crate::engine::state::CustomerState;
use crate::engine::state::rules::{OpenGoal, Pending, Word, carried_fields};
use crate::eval::{self, Ctx};
use crate::syntax::ast::QuietPolicy;
use crate::zone::Zone;

/// Is the customer in the rule's control group?
pub(crate) fn held_out(rule: &Rule<CExpr>, customer: &str) -> bool {
    rule.holdout.is_some_and(|bp| {
        let key = [b"holdout:", rule.name.as_bytes(), b":", customer.as_bytes()];
        fnv1a64_parts(&key) % 10_000 < u64::from(bp)
    })
}

/// The customer's variant of the rule's split.
pub(crate) fn variant(rule: &Rule<CExpr>, customer: &str) -> Option<usize> {
    let split = rule.split.as_ref()?;
    let key = [split.experiment.as_bytes(), b":", customer.as_bytes()];
    let bucket = fnv1a64_parts(&key) % 10_000;
    let mut end = 0u64;
    for (i, (_, share, _)) in split.variants.iter().enumerate() {
        end += u64::from(*share);
        if bucket < end {
            return Some(i);
        }
    }
    None
}

/// The quiet hours that apply to a rule, with its policy.
pub(crate) fn quiet_for(ir: &Ir, rule: &Rule<CExpr>) -> Option<(Quiet, QuietPolicy)> {
    let q = ir.quiet?;
    match rule.quiet.unwrap_or(q.policy) {
        QuietPolicy::Ignore => None,
        p => Some((q, p)),
    }
}

/// Is instant `t` inside quiet hours in `zone`?
pub(crate) fn in_quiet(q: &Quiet, zone: Zone, t: i64) -> bool {
    q.contains(zone.local_secs(t).rem_euclid(86_400))
}

/// Emitted firings of rule `r` that count against its limit at `t`.
pub(crate) fn limit_used(ir: &Ir, st: &CustomerState, r: usize, per: Option<i64>, t: i64) -> u64 {
    match per {
        None => st.rules.get(ir, r, Word::Ever).unwrap_or(0) as u64,
        Some(d) => st.rules.emitted.used(r as u32, d, t),
    }
}

/// Emitted actions counted by cap `i` at `t`.
pub(crate) fn cap_used(ir: &Ir, st: &CustomerState, i: usize, t: i64) -> u64 {
    st.caps.used(i as u32, ir.caps[i].per, t)
}

/// Does cap `i` count an action on `channel`? Actions without a channel are
/// never capped; `all` counts every channel.
fn cap_counts(ir: &Ir, i: usize, channel: Option<&str>) -> bool {
    match (&ir.caps[i].channel, channel) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(c), Some(ch)) => c == ch,
    }
}

/// How many of `actions` cap `i` counts.
pub(crate) fn capped<'a>(
    ir: &Ir,
    i: usize,
    actions: impl IntoIterator<Item = &'a Effect<CExpr>>,
) -> u64 {
    actions
        .into_iter()
        .filter(|a| match a {
            Effect::Host { action, .. } => {
                cap_counts(ir, i, ir.actions[*action].channel.as_deref())
            }
            _ => false,
        })
        .count() as u64
}

/// Judges and fires one candidate. Returns whether it changed state that
/// a further round could react to.
pub(super) fn fire(at: &mut At<'_>, st: &mut CustomerState, c: &Candidate<'_>) -> bool {
    let (ir, tau) = (at.ir, at.tau);
    let r = c.rule;
    let rule = &ir.rules[r];
    // An earlier firing of this round may have set the zone.
    let zone = st.facts.zone(ir);
    if let Some(anchor) = c.no_anchor {
        st.rules.set(ir, r, Word::Fired, Some(anchor));
    }
    let triggered = c.moved.is_none();
    let outcome = |at: &mut At<'_>, verdict: Verdict| {
        at.judged(r, verdict, triggered, Detail::default());
    };
    let fields = c.fields.as_ref().map(|f| f.get());
    let (trigger_at, occurrence) = match c.moved {
        Some(moved) => moved,
        None => {
            let occurrence = st.occurrences.next(r as u32, tau);
            let snapped = match rule.at {
                Some(t) => calendar::next_daily(zone, tau - 1, None, t).unwrap_or(tau),
                None => tau,
            };
            let (lands, verdict) = match quiet_for(ir, rule) {
                Some((q, policy)) if in_quiet(&q, zone, snapped) => {
                    if policy == QuietPolicy::Drop {
                        outcome(at, Verdict::Dropped);
                        return false;
                    }
                    let end = calendar::next_daily(zone, snapped, None, q.end).unwrap_or(snapped);
                    (end, Verdict::Deferred)
                }
                _ => (snapped, Verdict::Snapped),
            };
            if lands > tau {
                let detail = Detail {
                    lands: Some(lands),
                    ..Detail::default()
                };
                at.judged(r, verdict, triggered, detail);
                let p = Pending::new(
                    (lands, r as u32),
                    (c.origin, c.order.1),
                    carried_fields(ir, r, Some(fields.unwrap_or_default())),
                    Some((tau, occurrence)),
                );
                schedule(at, st, p);
                return false;
            }
            (tau, occurrence)
        }
    };
    let cx = Ctx::new(ir, &st.facts, &st.id, tau, zone, fields);
    if !ir.fast_guards[r]
        .as_ref()
        .is_none_or(|g| eval::fast::test(g, &cx))
    {
        outcome(at, Verdict::GuardFalse);
        return false;
    }
    if let Some((max, per)) = rule.limit {
        if limit_used(ir, st, r, per, tau) >= u64::from(max) {
            let frees = per.and_then(|d| {
                let oldest = st.rules.emitted.of(r as u32).find(|x| *x > tau - d)?;
                Some(oldest.saturating_add(d))
            });
            let detail = Detail {
                frees,
                ..Detail::default()
            };
            at.judged(r, Verdict::Limit, triggered, detail);
            return false;
        }
    }
    let variant = variant(rule, &st.id);
    let effects = rule.effects(variant);
    for i in 0..ir.caps.len() {
        let adding = capped(ir, i, effects);
        if adding > 0 && cap_used(ir, st, i, tau) + adding > u64::from(ir.caps[i].max) {
            let per = ir.caps[i].per;
            let frees = st
                .caps
                .of(i as u32)
                .find(|x| *x > tau - per)
                .map(|oldest| oldest.saturating_add(per));
            let detail = Detail {
                cap: Some(i),
                frees,
                ..Detail::default()
            };
            at.judged(r, Verdict::Cap, triggered, detail);
            return false;
        }
    }
    if held_out(rule, &st.id) {
        outcome(at, Verdict::HeldOut);
        if rule.goal.is_some() {
            st.rules.open_goal(OpenGoal {
                rule: r as u32,
                fired: tau,
                group: None,
            });
        }
        return false;
    }
    outcome(at, Verdict::Fired(variant));
    emit(at, st, c, (trigger_at, occurrence), variant, zone)
}

/// Carries out a firing that passed every check.
fn emit(
    at: &mut At<'_>,
    st: &mut CustomerState,
    c: &Candidate<'_>,
    (trigger_at, occurrence): (i64, u32),
    variant: Option<usize>,
    zone: Zone,
) -> bool {
    let (ir, tau) = (at.ir, at.tau);
    let r = c.rule;
    let rule = &ir.rules[r];
    let fields = c.fields.as_ref().map(|f| f.get());
    let v16 = variant.map(|v| v as u16);
    let mut changed = false;
    for (index, a) in rule.effects(variant).iter().enumerate() {
        let id = (trigger_at, occurrence, index as u16);
        match a {
            Effect::Host { action, args } => {
                let cx = Ctx::new(ir, &st.facts, &st.id, tau, zone, fields);
                let start = at.buf.values.len() as u32;
                for e in args {
                    let v = eval::value(e, &cx);
                    at.value(v);
                }
                let end = at.buf.values.len() as u32;
                let channel = ir.actions[*action].channel.as_deref();
                for i in 0..ir.caps.len() {
                    if cap_counts(ir, i, channel) {
                        st.caps.record(i as u32, tau, ir.caps[i].per);
                    }
                }
                let kind = Kind::Host {
                    rule: r as u32,
                    action: *action as u32,
                    args: start..end,
                };
                at.emit(kind, v16, id);
            }
            Effect::AddTag(tag) | Effect::RemoveTag(tag) => {
                let added = matches!(a, Effect::AddTag(_));
                let did = if added {
                    st.facts.tags.insert(tag)
                } else {
                    st.facts.tags.remove(tag)
                };
                if did {
                    let kind = Kind::RuleTag {
                        rule: r as u32,
                        effect: index as u16,
                        added,
                    };
                    at.emit(kind, v16, id);
                    changed = true;
                }
            }
            Effect::Set { attr, value } => {
                let cx = Ctx::new(ir, &st.facts, &st.id, tau, zone, fields);
                let v = eval::value(value, &cx);
                if st.facts.profile()[*attr] != v {
                    st.facts.set_profile(ir, *attr, v.clone());
                    let value = at.value(v);
                    let kind = Kind::Set {
                        rule: r as u32,
                        attr: *attr as u32,
                        value,
                    };
                    at.emit(kind, v16, id);
                    changed = true;
                }
            }
        }
    }
    match rule.limit {
        Some((_, Some(per))) => st.rules.emitted.record(r as u32, tau, per),
        Some((_, None)) => {
            let ever = st.rules.get(ir, r, Word::Ever).unwrap_or(0);
            st.rules
                .set(ir, r, Word::Ever, Some(ever.saturating_add(1)));
        }
        None => {}
    }
    if rule.goal.is_some() {
        st.rules.open_goal(OpenGoal {
            rule: r as u32,
            fired: tau,
            group: Some(variant.unwrap_or(0) as u16),
        });
    }
    for &follower in &ir.followers[r] {
        if let Trigger::AfterRule { delay, .. } = ir.rules[follower].trigger {
            let due = tau.saturating_add(delay);
            let p = Pending::new((due, follower as u32), (tau, st.seq), Box::default(), None);
            schedule(at, st, p);
            changed |= due <= tau;
        }
    }
    changed
}
