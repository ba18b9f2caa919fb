//! Live upgrade (docs/host.md, the calls): swap the program, keep customer data.
//!
//! What carries over, matched by definition rather than by position:
//!
//! | state | kept when |
//! |---|---|
//! | first/last seen, manual tags, dedup ids, clock | always |
//! | profile attribute | same name and type |
//! | aggregate (running values or window entries) | same canonical text (`sum(purchase.amount in 180d)`) and kind |
//! | raw event log (for aggregates reading `event.*`) | same event type with the same fields |
//! | segment, tag or stage value | same kind and name (no transition is invented; a changed definition is re-evaluated at the next instant) |
//! | rule state (pending `after`s, silences, limits, goals) and its metrics | same name, same canonical text, same fields of its trigger event |
//! | ledger credits | same ledger name |
//! | cap counts | same channel, count and window |
//!
//! Everything else starts empty; timers are recomputed: every customer
//! re-evaluates its derived state at its next instant.

use super::state::CustomerState;
use super::step::refresh_calendars;
use super::{Engine, Metrics, RuleMetrics};
use crate::check::hir::Derived;
use crate::compile::{AggMode, Ir, Program};
use crate::eval::aggregate::Aggregates;
use crate::syntax::ast::{Item, Module};
use serde::Serialize;

/// What an upgrade kept, reset and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeReport {
    /// Rules whose state and metrics carried over.
    pub rules_kept: Vec<String>,
    /// Rules whose definition changed: they start fresh.
    pub rules_reset: Vec<String>,
    /// New rules.
    pub rules_added: Vec<String>,
    /// Rules that are gone, with their state.
    pub rules_dropped: Vec<String>,
    /// Aggregates whose history carried over.
    pub aggregates_kept: Vec<String>,
    /// Aggregates that start empty.
    pub aggregates_new: Vec<String>,
    /// Aggregates that are gone.
    pub aggregates_dropped: Vec<String>,
    /// Customers migrated.
    pub customers: usize,
}

/// Where each piece of the new program's state comes from in the old one.
struct Plan {
    profile: Vec<Option<usize>>,
    aggs: Vec<Option<usize>>,
    derived: Vec<Option<usize>>,
    rules: Vec<Option<usize>>,
    ledgers: Vec<Option<usize>>,
    caps: Vec<Option<usize>>,
}

/// An aggregate's identity: its canonical text without the suffix that
/// keeps per-rule aggregates apart.
fn agg_name(key: &str) -> &str {
    key.split('#').next().unwrap_or(key)
}

fn rule_texts(module: &Module, ir: &Ir) -> Vec<String> {
    module
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rule(r) => Some(r),
            _ => None,
        })
        .zip(&ir.rules)
        .map(|(r, rule)| {
            let text = crate::syntax::print(&Module {
                items: vec![Item::Rule(r.clone())],
            });
            let fields = rule
                .trigger
                .event()
                .map(|e| format!("{:?}", ir.events[e].fields))
                .unwrap_or_default();
            format!("{text}{fields}")
        })
        .collect()
}

fn plan(old: &Program, new: &Program) -> (Plan, UpgradeReport) {
    let (o, n) = (old.ir(), new.ir());
    let mut report = UpgradeReport::default();
    let profile = n
        .profile
        .iter()
        .map(|p| o.profile.iter().position(|q| q == p))
        .collect();
    let aggs: Vec<Option<usize>> = n
        .aggs
        .iter()
        .map(|a| {
            o.aggs.iter().position(|b| {
                agg_name(&b.key) == agg_name(&a.key)
                    && b.mode == a.mode
                    && (a.mode != AggMode::Scan
                        || o.events[b.event].fields == n.events[a.event].fields)
            })
        })
        .collect();
    for (a, from) in n.aggs.iter().zip(&aggs) {
        let name = agg_name(&a.key).to_string();
        if from.is_some() {
            report.aggregates_kept.push(name);
        } else {
            report.aggregates_new.push(name);
        }
    }
    for (i, b) in o.aggs.iter().enumerate() {
        if !aggs.contains(&Some(i)) {
            report.aggregates_dropped.push(agg_name(&b.key).to_string());
        }
    }
    let derived = n
        .derived
        .iter()
        .map(|d| {
            o.derived.iter().position(|e| match (&d.def, &e.def) {
                (Derived::Segment { name: a, .. }, Derived::Segment { name: b, .. })
                | (Derived::Tag { name: a, .. }, Derived::Tag { name: b, .. }) => a == b,
                (
                    Derived::Stage {
                        name: a,
                        labels: la,
                    },
                    Derived::Stage {
                        name: b,
                        labels: lb,
                    },
                ) => a == b && la.iter().map(|l| &l.0).eq(lb.iter().map(|l| &l.0)),
                _ => false,
            })
        })
        .collect();
    let (old_texts, new_texts) = (rule_texts(old.module(), o), rule_texts(new.module(), n));
    let rules: Vec<Option<usize>> = n
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let same_name = o.rules.iter().position(|q| q.name == r.name);
            match same_name {
                Some(j) if old_texts[j] == new_texts[i] => {
                    report.rules_kept.push(r.name.clone());
                    Some(j)
                }
                Some(_) => {
                    report.rules_reset.push(r.name.clone());
                    None
                }
                None => {
                    report.rules_added.push(r.name.clone());
                    None
                }
            }
        })
        .collect();
    for r in &o.rules {
        if !n.rules.iter().any(|q| q.name == r.name) {
            report.rules_dropped.push(r.name.clone());
        }
    }
    let ledgers = n
        .ledgers
        .iter()
        .map(|l| o.ledgers.iter().position(|m| m.name == l.name))
        .collect();
    let caps = n
        .caps
        .iter()
        .map(|c| {
            o.caps
                .iter()
                .position(|d| d.channel == c.channel && d.max == c.max && d.per == c.per)
        })
        .collect();
    let plan = Plan {
        profile,
        aggs,
        derived,
        rules,
        ledgers,
        caps,
    };
    (plan, report)
}

fn carry<T: Clone>(map: &[Option<usize>], old: &[T], fresh: &mut [T]) {
    for (slot, from) in fresh.iter_mut().zip(map) {
        if let Some(v) = from.and_then(|i| old.get(i)) {
            *slot = v.clone();
        }
    }
}

fn migrate(
    plan: &Plan,
    old_ir: &Ir,
    new: &Program,
    old: &CustomerState,
    wake_at: i64,
) -> CustomerState {
    let ir = new.ir();
    let mut st = CustomerState::new(new, old.id());
    st.clock = old.clock;
    st.seq = old.seq;
    st.dedup = old.dedup.clone();
    let (f, of) = (&mut st.facts, &old.facts);
    f.first_seen = of.first_seen;
    f.last_seen = of.last_seen;
    f.tags = of.tags.clone();
    for (i, from) in plan.profile.iter().enumerate() {
        if let Some(v) = from.and_then(|j| of.profile().get(j)) {
            f.set_profile(ir, i, v.clone());
        }
    }
    let now = old.clock.get().unwrap_or(wake_at);
    f.aggs = Aggregates::migrate(old_ir, ir, &of.aggs, &plan.aggs, old.seq, now);
    carry(&plan.derived, of.derived(), f.derived_mut());
    carry(&plan.ledgers, of.ledgers(), f.ledgers_mut());
    st.rules = old.rules.migrate(old_ir, ir, &plan.rules);
    st.caps = old.caps.remap(&plan.caps);
    st.occurrences = old
        .occurrences
        .remap(old_ir, ir, &plan.rules, &plan.derived);
    refresh_calendars(ir, &mut st, false);
    if !st.facts.first_seen.is_none() {
        // Re-evaluate everything derived at the next instant.
        for d in st.facts.derived_mut().iter_mut() {
            d.set_until(wake_at);
        }
    }
    st
}

impl Engine {
    /// Swaps the program, keeping customer data (see the module
    /// documentation for exactly what carries over). Returns what was
    /// kept, reset and dropped.
    pub fn upgrade(&mut self, new: &Program) -> UpgradeReport {
        let (plan, mut report) = plan(&self.program, new);
        let old_metrics = std::mem::replace(&mut self.metrics, Metrics::new(new.ir()));
        let mut fresh = Engine::new(new);
        for (i, from) in plan.rules.iter().enumerate() {
            if let Some(j) = from {
                if let (Some((_, m)), Some((_, old))) = (
                    fresh.metrics.rules.get_index_mut(i),
                    old_metrics.rules.get_index(*j),
                ) {
                    *m = RuleMetrics::clone(old);
                }
            }
        }
        fresh.metrics.events = old_metrics.events;
        fresh.metrics.duplicates = old_metrics.duplicates;
        fresh.metrics.rejected = old_metrics.rejected;
        fresh.metrics.ignored = old_metrics.ignored;
        fresh.metrics.faults = old_metrics.faults;
        fresh.metrics.shortfalls = old_metrics.shortfalls;
        fresh.metrics.evicted_entries = old_metrics.evicted_entries;
        fresh.metrics.dropped_timers = old_metrics.dropped_timers;
        fresh.metrics.evicted_ids = old_metrics.evicted_ids;
        fresh.metrics.past_horizon = old_metrics.past_horizon;
        fresh.clock = self.clock;
        let old_ir = self.program.ir();
        for slot in self.in_order() {
            let Some(st) = self.slots[slot].state.as_ref() else {
                continue;
            };
            let wake_at = st
                .clock
                .get()
                .map_or(0, |c| c + 1)
                .max(self.clock.unwrap_or(i64::MIN));
            fresh.insert(migrate(&plan, old_ir, new, st, wake_at));
            report.customers += 1;
        }
        fresh.limits = self.limits;
        *self = fresh;
        report
    }
}
