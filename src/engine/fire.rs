//! Judging a firing (§5–§6): where it lands (`at` snapping, quiet hours),
//! then guard, limit, split, caps and holdout, all-or-nothing; then its
//! actions, built-ins, follower timers and goal tracking.

use super::action::Action;
use super::calendar;
use super::state::{CustomerState, Pending, StepReport};
use crate::check::hir::{Effect, Quiet, Rule, Trigger};
use crate::compile::{CExpr, Ir, fnv1a64};
use crate::eval::{self, Ctx};
use crate::syntax::ast::QuietPolicy;
use crate::value::Value;
use crate::zone::Zone;
use chrono::Timelike;

/// What became of a triggered rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// One judgment, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Rule index.
    pub rule: usize,
    /// What happened.
    pub verdict: Verdict,
    /// The trigger fired now (false when a deferred firing is judged).
    pub triggered: bool,
}

/// A rule about to be judged at an instant.
pub(super) struct Candidate {
    pub rule: usize,
    /// Fields `event.*` reads.
    pub fields: Option<Vec<Value>>,
    /// For ordering several firings of one rule: due time, arrival.
    pub order: (i64, u64),
    /// A `no … for` firing: the anchor it consumes.
    pub no_anchor: Option<i64>,
    /// When the starting event happened (`unless` looks after it).
    pub origin: i64,
    /// A firing moved here earlier: its trigger instant and occurrence.
    pub moved: Option<(i64, u32)>,
}

/// Is the customer in the rule's control group?
pub fn held_out(rule: &Rule<CExpr>, customer: &str) -> bool {
    rule.holdout.is_some_and(|bp| {
        fnv1a64(format!("holdout:{}:{customer}", rule.name)) % 10_000 < u64::from(bp)
    })
}

/// The customer's variant of the rule's split.
pub fn variant(rule: &Rule<CExpr>, customer: &str) -> Option<usize> {
    let split = rule.split.as_ref()?;
    let bucket = fnv1a64(format!("{}:{customer}", split.experiment)) % 10_000;
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
pub fn quiet_for(ir: &Ir, rule: &Rule<CExpr>) -> Option<(Quiet, QuietPolicy)> {
    let q = ir.quiet?;
    match rule.quiet.unwrap_or(q.policy) {
        QuietPolicy::Ignore => None,
        p => Some((q, p)),
    }
}

/// Is instant `t` inside quiet hours in `zone`?
pub fn in_quiet(q: &Quiet, zone: Zone, t: i64) -> bool {
    let local = zone.local(t);
    q.contains(i64::from(local.num_seconds_from_midnight()))
}

/// Emitted firings of a rule that count against its limit at `t`.
pub fn limit_used(st: &CustomerState, r: usize, per: Option<i64>, t: i64) -> u64 {
    let rs = &st.rules[r];
    match per {
        None => rs.emitted_ever,
        Some(d) => rs
            .emitted
            .iter()
            .filter(|x| **x > t.saturating_sub(d))
            .count() as u64,
    }
}

/// Emitted actions counted by cap `i` at `t`.
pub fn cap_used(ir: &Ir, st: &CustomerState, i: usize, t: i64) -> u64 {
    let per = ir.caps[i].per;
    st.caps[i]
        .iter()
        .filter(|x| **x > t.saturating_sub(per))
        .count() as u64
}

/// Does cap `i` count an action on `channel`? Actions without a channel are
/// never capped; `all` counts every channel.
pub fn cap_counts(ir: &Ir, i: usize, channel: Option<&str>) -> bool {
    match (&ir.caps[i].channel, channel) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(c), Some(ch)) => c == ch,
    }
}

/// How many of `actions` cap `i` counts.
pub fn capped<'a>(ir: &Ir, i: usize, actions: impl IntoIterator<Item = &'a Effect<CExpr>>) -> u64 {
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

/// The actions a firing would take: the rule's, or its variant's.
pub fn chosen_actions(rule: &Rule<CExpr>, variant: Option<usize>) -> &[Effect<CExpr>] {
    match (&rule.split, variant) {
        (Some(s), Some(v)) => &s.variants[v].2,
        (Some(_), None) => &[],
        (None, _) => &rule.actions,
    }
}

fn next_occurrence(occ: &mut (i64, u32), t: i64) -> u32 {
    *occ = if occ.0 == t { (t, occ.1 + 1) } else { (t, 0) };
    occ.1
}

/// The deterministic id of an action: who caused it, the trigger instant,
/// which firing at that instant, which action of the firing.
fn action_id(cause: &str, trigger_at: i64, occurrence: u32, index: usize) -> String {
    format!("{cause}/{trigger_at}/{occurrence}/{index}")
}

/// A tag change report; `rule` is `None` for an auto tag.
pub(super) fn tag_action(
    st: &mut CustomerState,
    tau: i64,
    rule: Option<(&str, String)>,
    added: bool,
    tag: &str,
) -> Action {
    let (name, id) = match rule {
        Some((name, id)) => (Some(name.to_string()), id),
        None => {
            let occ = next_occurrence(
                st.tag_occ.entry(tag.to_string()).or_insert((i64::MIN, 0)),
                tau,
            );
            (None, action_id(&format!("tag:{tag}"), tau, occ, 0))
        }
    };
    Action {
        at: tau,
        customer: st.id.clone(),
        rule: name,
        action: if added { "$tag_added" } else { "$tag_removed" }.into(),
        args: vec![("tag".into(), Value::Str(tag.to_string()))],
        variant: None,
        id,
    }
}

/// Judges and fires one candidate. Returns whether it changed state that
/// a further round could react to.
pub(super) fn fire(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    c: &Candidate,
    report: &mut StepReport,
) -> bool {
    let r = c.rule;
    let rule = &ir.rules[r];
    if let Some(anchor) = c.no_anchor {
        st.rules[r].fired = Some(anchor);
    }
    let outcome = |report: &mut StepReport, verdict: Verdict| {
        report.outcomes.push(Outcome {
            rule: r,
            verdict,
            triggered: c.moved.is_none(),
        });
    };
    let (trigger_at, occurrence) = match c.moved {
        Some(moved) => moved,
        None => {
            let occurrence = next_occurrence(&mut st.rules[r].occurrence, tau);
            let snapped = match rule.at {
                Some(at) => calendar::next_daily(zone, tau - 1, None, at).unwrap_or(tau),
                None => tau,
            };
            let (lands, verdict) = match quiet_for(ir, rule) {
                Some((q, policy)) if in_quiet(&q, zone, snapped) => {
                    if policy == QuietPolicy::Drop {
                        outcome(report, Verdict::Dropped);
                        return false;
                    }
                    let end = calendar::next_daily(zone, snapped, None, q.end).unwrap_or(snapped);
                    (end, Verdict::Deferred)
                }
                _ => (snapped, Verdict::Snapped),
            };
            if lands > tau {
                outcome(report, verdict);
                let p = Pending {
                    due: lands,
                    origin: c.origin,
                    seq: c.order.1,
                    fields: c.fields.clone().unwrap_or_default(),
                    moved: Some((tau, occurrence)),
                };
                st.rules[r].schedule(p);
                return false;
            }
            (tau, occurrence)
        }
    };
    let fields = c.fields.as_deref();
    let cx = Ctx::new(ir, st, tau, zone, fields);
    if !ir.fast_guards[r]
        .as_ref()
        .is_none_or(|g| eval::fast::test(g, &cx))
    {
        outcome(report, Verdict::GuardFalse);
        return false;
    }
    if let Some((max, per)) = rule.limit {
        if limit_used(st, r, per, tau) >= u64::from(max) {
            outcome(report, Verdict::Limit);
            return false;
        }
    }
    let variant = variant(rule, &st.id);
    let actions = chosen_actions(rule, variant);
    for i in 0..ir.caps.len() {
        let adding = capped(ir, i, actions);
        if adding > 0 && cap_used(ir, st, i, tau) + adding > u64::from(ir.caps[i].max) {
            outcome(report, Verdict::Cap);
            return false;
        }
    }
    if held_out(rule, &st.id) {
        outcome(report, Verdict::HeldOut);
        if rule.goal.is_some() {
            st.rules[r].goals.push((tau, None));
        }
        return false;
    }
    outcome(report, Verdict::Fired(variant));
    emit(
        ir,
        st,
        tau,
        zone,
        c,
        (trigger_at, occurrence),
        variant,
        report,
    )
}

/// Carries out a firing that passed every check.
#[allow(clippy::too_many_arguments)]
fn emit(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    c: &Candidate,
    (trigger_at, occurrence): (i64, u32),
    variant: Option<usize>,
    report: &mut StepReport,
) -> bool {
    let r = c.rule;
    let rule = &ir.rules[r];
    let fields = c.fields.as_deref();
    let variant_name = variant.and_then(|v| rule.split.as_ref().map(|s| s.variants[v].0.clone()));
    let mut changed = false;
    for (index, a) in chosen_actions(rule, variant).iter().enumerate() {
        let id = action_id(&rule.name, trigger_at, occurrence, index);
        match a {
            Effect::Host { action, args } => {
                let cx = Ctx::new(ir, st, tau, zone, fields);
                let info = &ir.actions[*action];
                let args = info
                    .params
                    .iter()
                    .zip(args)
                    .map(|(p, e)| (p.clone(), eval::value(e, &cx)))
                    .collect();
                for (i, counts) in st.caps.iter_mut().enumerate() {
                    if cap_counts(ir, i, info.channel.as_deref()) {
                        counts.push_back(tau);
                    }
                }
                report.actions.push(Action {
                    at: tau,
                    customer: st.id.clone(),
                    rule: Some(rule.name.clone()),
                    action: info.name.clone(),
                    args,
                    variant: variant_name.clone(),
                    id,
                });
            }
            Effect::AddTag(tag) | Effect::RemoveTag(tag) => {
                let add = matches!(a, Effect::AddTag(_));
                let did = if add {
                    st.tags.insert(tag.clone())
                } else {
                    st.tags.remove(tag)
                };
                if did {
                    let mut action = tag_action(st, tau, Some((&rule.name, id)), add, tag);
                    action.variant = variant_name.clone();
                    report.actions.push(action);
                    changed = true;
                }
            }
            Effect::Set { attr, value } => {
                let cx = Ctx::new(ir, st, tau, zone, fields);
                let v = eval::value(value, &cx);
                if st.profile[*attr] != v {
                    st.set_profile(ir, *attr, v.clone());
                    report.actions.push(Action {
                        at: tau,
                        customer: st.id.clone(),
                        rule: Some(rule.name.clone()),
                        action: "$set".into(),
                        args: vec![
                            ("attr".into(), Value::Str(ir.profile[*attr].0.clone())),
                            ("value".into(), v),
                        ],
                        variant: variant_name.clone(),
                        id,
                    });
                    changed = true;
                }
            }
        }
    }
    let rs = &mut st.rules[r];
    rs.emitted_ever += 1;
    if let Some((_, Some(per))) = rule.limit {
        rs.emitted.push_back(tau);
        while rs
            .emitted
            .front()
            .is_some_and(|x| *x <= tau.saturating_sub(per))
        {
            rs.emitted.pop_front();
        }
    }
    if rule.goal.is_some() {
        rs.goals.push((tau, Some(variant.unwrap_or(0))));
    }
    for (i, cap) in ir.caps.iter().enumerate() {
        let counts = &mut st.caps[i];
        while counts
            .front()
            .is_some_and(|x| *x <= tau.saturating_sub(cap.per))
        {
            counts.pop_front();
        }
    }
    for &follower in &ir.followers[r] {
        if let Trigger::AfterRule { delay, .. } = ir.rules[follower].trigger {
            let due = tau.saturating_add(delay);
            let p = Pending {
                due,
                origin: tau,
                seq: st.seq,
                fields: Vec::new(),
                moved: None,
            };
            st.rules[follower].schedule(p);
            changed |= due <= tau;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use crate::compile::fnv1a64;

    /// Published FNV-1a 64 vectors, and the split keys of the conformance
    /// case, so a host in another language can check its implementation.
    #[test]
    fn fnv1a64_vectors() {
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64("foobar"), 0x8594_4171_f739_67e8);
    }
}
