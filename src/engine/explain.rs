//! `explain(customer, rule)`: why a rule would or would not fire for a
//! customer now — every clause with its current value, what blocks it, and
//! the next instant it can fire.

use super::Engine;
use super::state::CustomerState;
use super::step::{cap_used, capped, held_out, in_quiet, limit_used, quiet_for, variant};
use crate::check::hir::{Derived, Effect, Rule, Trigger};
use crate::compile::{CExpr, Ir};
use crate::eval::derived::refresh;
use crate::eval::{Ctx, DVal};
use crate::syntax::ast::{Clause, Item};
use crate::syntax::print_clause;
use crate::time::Instant;
use serde::Serialize;
use serde_json::{Value as Json, json};

/// Why `explain` could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// The engine has not seen this customer (or forgot them).
    #[error("unknown customer `{0}`")]
    UnknownCustomer(String),
    /// The program has no such rule.
    #[error("unknown rule `{0}`")]
    UnknownRule(String),
}

/// One clause and what it says now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseState {
    /// The clause as written (canonical form).
    pub clause: String,
    /// Its current state.
    pub now: Json,
    /// Whether it stops the rule from firing now.
    pub blocks: bool,
}

/// The answer to "why didn't she get it".
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The customer.
    pub customer: String,
    /// The rule.
    pub rule: String,
    /// The instant explained (the engine's clock).
    pub at: Option<Instant>,
    /// Every clause, in source order, plus program caps and quiet hours
    /// that apply to the rule.
    pub clauses: Vec<ClauseState>,
    /// What blocks it now: `guard`, `limit`, `cap CHANNEL`, `quiet hours`,
    /// `holdout`.
    pub blocked_by: Vec<String>,
    /// The next instant its trigger is due, if a timer drives it.
    pub next_trigger: Option<Instant>,
    /// The next instant it can fire: the trigger's, moved by `at`, quiet
    /// hours and a full limit window, if it is known.
    pub next_fire: Option<Instant>,
    /// For event and transition triggers: what it waits for.
    pub waits_for: Option<String>,
    /// What was decided about this rule for this customer, oldest first:
    /// firings scheduled and cancelled, every judgment (empty unless the
    /// engine traces this customer: [`Engine::trace`]). Left out of the
    /// JSON when empty, so an untraced explanation reads as before.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<super::Decision>,
}

impl Explanation {
    /// As JSON.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

impl Engine {
    /// Explains, at the engine's clock, why `rule` would or would not fire
    /// for `customer`.
    pub fn explain(&self, customer: &str, rule: &str) -> Result<Explanation, ExplainError> {
        let st = self
            .customer(customer)
            .ok_or_else(|| ExplainError::UnknownCustomer(customer.to_string()))?;
        let ir = self.program.ir();
        let r = ir
            .rules
            .iter()
            .position(|x| x.name == rule)
            .ok_or_else(|| ExplainError::UnknownRule(rule.to_string()))?;
        let decl = self
            .program
            .module()
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Rule(d) => Some(d),
                _ => None,
            })
            .nth(r)
            .ok_or_else(|| ExplainError::UnknownRule(rule.to_string()))?;
        let now = self.clock.or(st.clock.get()).unwrap_or(0);
        // Derived state as of now (the stored values may predate it for
        // segments no rule watches).
        let mut st: CustomerState = st.clone();
        refresh(ir, &mut st.facts, &st.id, now);
        let zone = st.facts.zone(ir);
        let rule_ir = &ir.rules[r];
        let mut clauses = Vec::new();
        let mut blocked_by = Vec::new();
        let next_trigger = next_trigger(ir, &st, r);
        for c in &decl.clauses {
            let text = print_clause(&c.node);
            let (state, blocks) = match &c.node {
                Clause::When(_) => (trigger_state(ir, &st, rule_ir, next_trigger), false),
                Clause::If(_) => {
                    let v = rule_ir.guard.as_ref().map_or(Json::Bool(true), |g| {
                        let cx = Ctx::new(ir, &st.facts, &st.id, now, zone, None);
                        crate::eval::value(g, &cx).to_json()
                    });
                    let reads_event =
                        matches!(rule_ir.trigger, Trigger::Event(_) | Trigger::After { .. });
                    let blocks = v != Json::Bool(true) && !reads_event;
                    if blocks {
                        blocked_by.push("guard".to_string());
                    }
                    let note = if reads_event {
                        json!({"value": v, "note": "event.* reads the triggering event: null until one arrives"})
                    } else {
                        json!({ "value": v })
                    };
                    (note, blocks)
                }
                Clause::Limit(_) => {
                    let (max, per) = rule_ir.limit.unwrap_or((u32::MAX, None));
                    let used = limit_used(ir, &st, r, per, now);
                    let full = used >= u64::from(max);
                    if full {
                        blocked_by.push("limit".to_string());
                    }
                    let frees = per.and_then(|d| {
                        st.rules
                            .emitted
                            .of(r as u32)
                            .find(|x| *x > now - d)
                            .and_then(|x| Instant::checked(x + d))
                    });
                    (json!({"used": used, "max": max, "frees_at": frees}), full)
                }
                Clause::Holdout(_) => {
                    let out = held_out(rule_ir, &st.id);
                    if out {
                        blocked_by.push("holdout".to_string());
                    }
                    (json!({ "held_out": out }), out)
                }
                Clause::Split(_) => {
                    let v = variant(rule_ir, &st.id)
                        .and_then(|v| rule_ir.split.as_ref().map(|s| s.variants[v].0.clone()));
                    (json!({ "variant": v }), false)
                }
                Clause::At(t) => {
                    let next = super::calendar::next_daily(zone, now - 1, None, *t);
                    (json!({"next": next.and_then(Instant::checked)}), false)
                }
                _ => (Json::Null, false),
            };
            clauses.push(ClauseState {
                clause: text,
                now: state,
                blocks,
            });
        }
        // Program-level caps and quiet hours that touch this rule.
        let actions: Vec<&Effect<CExpr>> = match &rule_ir.split {
            Some(s) => s.variants.iter().flat_map(|v| &v.2).collect(),
            None => rule_ir.actions.iter().collect(),
        };
        for (i, cap) in ir.caps.iter().enumerate() {
            let touches = capped(ir, i, actions.iter().copied()) > 0;
            if !touches {
                continue;
            }
            let adding = capped(ir, i, rule_ir.effects(variant(rule_ir, &st.id)));
            let used = cap_used(ir, &st, i, now);
            let full = used + adding > u64::from(cap.max);
            let channel = cap.channel.clone().unwrap_or_else(|| "all".into());
            if full {
                blocked_by.push(format!("cap {channel}"));
            }
            let frees = st
                .caps
                .of(i as u32)
                .find(|x| *x > now - cap.per)
                .and_then(|x| Instant::checked(x + cap.per));
            clauses.push(ClauseState {
                clause: format!("cap {channel}: {} per {}", cap.max, crate::syntax::format_duration(cap.per)),
                now: json!({"used": used, "max": cap.max, "this_firing": adding, "frees_at": frees}),
                blocks: full,
            });
        }
        let quiet = quiet_for(ir, rule_ir);
        let mut quiet_end = None;
        if let Some((q, policy)) = quiet {
            let inside = in_quiet(&q, zone, now);
            if inside {
                blocked_by.push("quiet hours".to_string());
                quiet_end = super::calendar::next_daily(zone, now, None, q.end);
            }
            clauses.push(ClauseState {
                clause: format!(
                    "quiet {:02}:{:02}-{:02}:{:02} {}",
                    q.start.hour,
                    q.start.minute,
                    q.end.hour,
                    q.end.minute,
                    policy.as_str()
                ),
                now: json!({"inside": inside, "ends_at": quiet_end.and_then(Instant::checked)}),
                blocks: inside,
            });
        }
        let next_fire = next_trigger.map(|t| {
            let mut at = t.max(now);
            if let Some(snap) = rule_ir.at {
                at = super::calendar::next_daily(zone, at - 1, None, snap).unwrap_or(at);
            }
            if let Some((q, _)) = quiet {
                if in_quiet(&q, zone, at) {
                    at = super::calendar::next_daily(zone, at, None, q.end).unwrap_or(at);
                }
            }
            at
        });
        let history: Vec<super::Decision> = self
            .decisions(customer)
            .filter(|d| d.rule == rule)
            .cloned()
            .collect();
        let waits_for = if next_trigger.is_some() {
            None
        } else {
            let event = |e: usize| ir.events.get(e).map_or("?", |e| e.name.as_str());
            let mut why = match &rule_ir.trigger {
                Trigger::Event(on) => format!("the next `{}` event", event(on.event)),
                Trigger::After { on, delay, .. } => format!(
                    "the next `{}` event, which schedules it {} later",
                    event(on.event),
                    crate::syntax::format_duration(*delay)
                ),
                Trigger::AfterRule { rule: r, delay } => format!(
                    "the next firing of rule `{}`, which schedules it {} later",
                    ir.rules.get(*r).map_or("?", |x| x.name.as_str()),
                    crate::syntax::format_duration(*delay)
                ),
                Trigger::No { on, .. } => {
                    format!(
                        "the next `{}` event, which starts a new silence",
                        event(on.event)
                    )
                }
                Trigger::Membership { .. } | Trigger::Stage { .. } => {
                    "a change of derived state".to_string()
                }
                Trigger::Every { .. } | Trigger::Anniversary { .. } => {
                    "its next occurrence (none is known: the date it needs may be unset)"
                        .to_string()
                }
            };
            // Never leave a cancelled firing unsaid.
            if let Some(super::Decision {
                at,
                what: super::What::Cancelled { due, by },
                ..
            }) = history.last()
            {
                why = format!(
                    "{why}; its last scheduled firing, due {due}, was cancelled at {at} ({by})"
                );
            }
            Some(why)
        };
        Ok(Explanation {
            customer: customer.to_string(),
            rule: rule.to_string(),
            at: self.clock(),
            clauses,
            blocked_by,
            next_trigger: next_trigger.and_then(Instant::checked),
            next_fire: next_fire.and_then(Instant::checked),
            waits_for,
            history,
        })
    }
}

/// The next instant rule `r`'s trigger is due by a timer: its own (a
/// silence, a calendar) or a scheduled firing.
fn next_trigger(ir: &Ir, st: &CustomerState, r: usize) -> Option<i64> {
    let first_seen = st.facts.first_seen.get()?;
    let own = st.rules.timer(ir, r, first_seen);
    own.into_iter().chain(st.rules.next_due_of(r)).min()
}

fn trigger_state(ir: &Ir, st: &CustomerState, rule: &Rule<CExpr>, next: Option<i64>) -> Json {
    match &rule.trigger {
        Trigger::Membership { segment: slot, .. } | Trigger::Stage { stage: slot, .. } => {
            let current = match (&ir.derived[*slot].def, st.facts.derived()[*slot].value()) {
                (Derived::Stage { labels, .. }, DVal::Label(l)) => {
                    json!(labels.get(l as usize).map(|x| &x.0))
                }
                (_, DVal::Bool(b)) => json!(b),
                _ => Json::Null,
            };
            json!({"current": current, "next_due": next.and_then(Instant::checked)})
        }
        _ => json!({ "next_due": next.and_then(Instant::checked) }),
    }
}
