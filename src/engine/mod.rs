//! Stage 5, engine: many customers over one compiled program (HOST.md call
//! 2), built on the stateless step of [`state`].
//!
//! One timer queue holds each customer's next wake-up, so `advance_to`
//! costs O(due · log n) and never scans the population. At one instant,
//! customers are served in the order this engine first saw them.

pub mod action;
mod calendar;
pub mod diff;
pub mod event;
mod explain;
mod fire;
mod replay;
mod snapshot;
pub mod state;
mod upgrade;

use crate::compile::Program;
pub use crate::compile::fnv1a64;
use crate::limits::StateLimits;
use action::Action;
use event::{Event, EventError, EventKind};
pub use explain::{ClauseState, ExplainError, Explanation};
pub use fire::Verdict;
pub use snapshot::SnapshotError;
pub use upgrade::UpgradeReport;

use serde::{Deserialize, Serialize};
use state::{CustomerState, Input, StepError, StepReport, step};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Why an engine call was rejected. A rejected call changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The event is invalid.
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    /// Applying the event failed (cascade depth, a limit).
    #[error(transparent)]
    Step(#[from] StepError),
}

/// Counters of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMetrics {
    /// Its trigger fired.
    pub triggered: u64,
    /// It acted.
    pub fired: u64,
    /// Its `if` guard was false.
    pub guard_false: u64,
    /// Suppressed by its `limit`.
    pub suppressed_limit: u64,
    /// Suppressed by a `cap`.
    pub suppressed_cap: u64,
    /// Moved to the end of quiet hours.
    pub deferred_quiet: u64,
    /// Dropped by quiet hours.
    pub dropped_quiet: u64,
    /// Moved to a later `at` time.
    pub snapped: u64,
    /// Held out (control group).
    pub held_out: u64,
    /// Per split variant (or `treated` for a holdout without split) and
    /// `control`: firings and goal conversions.
    pub groups: indexmap::IndexMap<String, GroupMetrics>,
}

/// Counters of one experiment group of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// Firings that acted (or were held out, for `control`).
    pub assigned: u64,
    /// Of those, how many saw the goal event in time.
    pub converted: u64,
}

/// One row of an experiment's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GoalRow {
    /// Variant name, `treated`, or `control`.
    pub group: String,
    /// Firings in the group.
    pub assigned: u64,
    /// Conversions.
    pub converted: u64,
    /// `converted / assigned`.
    pub rate: f64,
    /// Two-sided two-proportion z-test against the baseline (control, or
    /// the first variant when there is no holdout); `None` for the
    /// baseline itself or when undefined.
    pub p_value: Option<f64>,
}

impl RuleMetrics {
    /// The experiment's result per group, with p-values against the
    /// baseline (α = 0.05 is the usual threshold).
    pub fn goal_report(&self) -> Vec<GoalRow> {
        let baseline = self
            .groups
            .get("control")
            .or_else(|| self.groups.values().next())
            .cloned()
            .unwrap_or_default();
        let baseline_name = if self.groups.contains_key("control") {
            "control"
        } else {
            self.groups.keys().next().map_or("", String::as_str)
        };
        self.groups
            .iter()
            .map(|(name, g)| GoalRow {
                group: name.clone(),
                assigned: g.assigned,
                converted: g.converted,
                rate: if g.assigned == 0 {
                    0.0
                } else {
                    g.converted as f64 / g.assigned as f64
                },
                p_value: (name != baseline_name)
                    .then(|| {
                        two_proportion_p(
                            g.converted,
                            g.assigned,
                            baseline.converted,
                            baseline.assigned,
                        )
                    })
                    .flatten(),
            })
            .collect()
    }
}

/// Two-sided p-value of the pooled two-proportion z-test.
pub fn two_proportion_p(c1: u64, n1: u64, c0: u64, n0: u64) -> Option<f64> {
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let (n1f, n0f) = (n1 as f64, n0 as f64);
    let pooled = (c1 + c0) as f64 / (n1f + n0f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n0f)).sqrt();
    if se == 0.0 {
        return None;
    }
    let z = (c1 as f64 / n1f - c0 as f64 / n0f) / se;
    Some(erfc(z.abs() / std::f64::consts::SQRT_2))
}

/// Complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error below 1.2e-7), enough for p-values.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Engine-wide and per-rule counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    /// Valid events received (duplicates included).
    pub events: u64,
    /// Events ignored as duplicates.
    pub duplicates: u64,
    /// Events rejected as invalid or failing.
    pub rejected: u64,
    /// Events of undeclared types.
    pub ignored: u64,
    /// Timer steps abandoned because their cascade did not settle.
    pub faults: u64,
    /// Spends larger than the balance.
    pub shortfalls: u64,
    /// Per rule, in declaration order.
    pub rules: indexmap::IndexMap<String, RuleMetrics>,
}

/// Holds customers in memory and drives them with events and the clock.
#[derive(Clone, Debug)]
pub struct Engine {
    program: Program,
    limits: StateLimits,
    customers: Vec<Option<CustomerState>>,
    index: HashMap<String, usize>,
    /// Each customer's next wake-up.
    wake: Vec<Option<i64>>,
    /// The queue entry that stands for each customer: at or before its
    /// wake-up, which is queued when this entry is popped if it has moved
    /// later since. Entries at any other time are stale and skipped.
    queued: Vec<Option<i64>>,
    queue: BinaryHeap<Reverse<(i64, usize)>>,
    clock: Option<i64>,
    metrics: Metrics,
    /// Customer steps run by `advance_to`, to show its cost follows the
    /// timers due, not the population.
    timer_steps: u64,
}

/// The experiment group of a firing: `None` for the control group (or for a
/// rule that runs no experiment).
fn group_name(
    rule: &crate::check::hir::Rule<crate::compile::CExpr>,
    variant: Option<usize>,
) -> Option<String> {
    let v = variant?;
    match &rule.split {
        Some(s) => s.variants.get(v).map(|(name, _, _)| name.clone()),
        None => rule.holdout.map(|_| "treated".to_string()),
    }
}

impl Engine {
    /// An empty engine over a program, with default limits.
    pub fn new(program: &Program) -> Engine {
        Engine::with_limits(program, StateLimits::default())
    }

    /// An empty engine with the given per-customer limits.
    pub fn with_limits(program: &Program, limits: StateLimits) -> Engine {
        let rules = program
            .ir()
            .rules
            .iter()
            .map(|r| {
                let mut m = RuleMetrics::default();
                if let Some(s) = &r.split {
                    for (name, _, _) in &s.variants {
                        m.groups.insert(name.clone(), GroupMetrics::default());
                    }
                } else if r.holdout.is_some() {
                    m.groups.insert("treated".into(), GroupMetrics::default());
                }
                if r.holdout.is_some() {
                    m.groups.insert("control".into(), GroupMetrics::default());
                }
                (r.name.clone(), m)
            })
            .collect();
        Engine {
            program: program.clone(),
            limits,
            customers: Vec::new(),
            index: HashMap::new(),
            wake: Vec::new(),
            queued: Vec::new(),
            queue: BinaryHeap::new(),
            clock: None,
            metrics: Metrics {
                rules,
                ..Metrics::default()
            },
            timer_steps: 0,
        }
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The latest instant the engine has been driven to.
    pub fn clock(&self) -> Option<i64> {
        self.clock
    }

    /// Counters so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Customer steps run by `advance_to` so far.
    pub fn timer_steps(&self) -> u64 {
        self.timer_steps
    }

    /// A customer's state, if known.
    pub fn customer(&self, id: &str) -> Option<&CustomerState> {
        self.index.get(id).and_then(|&i| self.customers[i].as_ref())
    }

    /// Known customers.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No customer known yet.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Validates and applies one JSON event; returns the actions it causes,
    /// in `at` order (timers of all customers due strictly before it first).
    pub fn process(&mut self, json: &str) -> Result<Vec<Action>, Error> {
        match Event::parse(self.program.ir(), json) {
            Ok(ev) => self.process_event(&ev),
            Err(e) => {
                self.metrics.rejected += 1;
                Err(e.into())
            }
        }
    }

    /// Applies one validated event.
    pub fn process_event(&mut self, ev: &Event) -> Result<Vec<Action>, Error> {
        let tau = self.clock.map_or(ev.time, |c| c.max(ev.time));
        let Some(customer) = &ev.customer else {
            return Ok(self.broadcast(ev, tau));
        };
        if ev.kind == EventKind::Forget {
            let mut out = self.fire_before(tau, None);
            if let Some(slot) = self.index.remove(customer) {
                self.customers[slot] = None;
                self.wake[slot] = None;
            }
            self.metrics.events += 1;
            self.clock = Some(tau);
            return Ok(out.drain(..).map(|(_, _, a)| a).collect());
        }
        // The customer's own step first: it depends on no one else, and if
        // it fails nothing has changed yet.
        let slot = self.index.get(customer).copied();
        let mut fresh = None;
        let st = match slot.and_then(|s| self.customers[s].as_mut()) {
            Some(st) => st,
            None => fresh.insert(CustomerState::new(&self.program, customer)),
        };
        let report = match step(&self.program, st, Input::Event(ev), tau, &self.limits) {
            Ok(r) => r,
            Err(e) => {
                self.metrics.rejected += 1;
                return Err(e.into());
            }
        };
        self.metrics.events += 1;
        if report.duplicate {
            self.metrics.duplicates += 1;
            return Ok(Vec::new());
        }
        if report.ignored {
            self.metrics.ignored += 1;
        }
        let slot = match (slot, fresh) {
            (Some(s), _) => s,
            (None, Some(st)) => self.insert(st),
            (None, None) => {
                return Err(StepError::Mismatch("no state for a new customer".into()).into());
            }
        };
        let mut out = self.fire_before(tau, Some(slot));
        self.record(&report);
        out.extend(report.actions.into_iter().map(|a| (a.at, slot, a)));
        self.reschedule(slot);
        self.clock = Some(tau);
        // Stable: one customer's actions keep their order.
        out.sort_by_key(|(at, slot, _)| (*at, *slot));
        Ok(out.into_iter().map(|(_, _, a)| a).collect())
    }

    /// Adds a customer's state in the next slot and queues its wake-up.
    fn insert(&mut self, st: CustomerState) -> usize {
        let slot = self.customers.len();
        self.index.insert(st.id().to_string(), slot);
        self.customers.push(Some(st));
        self.wake.push(None);
        self.queued.push(None);
        self.reschedule(slot);
        slot
    }

    /// A broadcast reaches every customer first seen strictly before it.
    fn broadcast(&mut self, ev: &Event, tau: i64) -> Vec<Action> {
        let mut out: Vec<Action> = self
            .fire_before(tau, None)
            .into_iter()
            .map(|(_, _, a)| a)
            .collect();
        self.metrics.events += 1;
        for slot in 0..self.customers.len() {
            let Some(st) = self.customers[slot].as_mut() else {
                continue;
            };
            // `step` leaves out customers the broadcast does not reach.
            match step(&self.program, st, Input::Event(ev), tau, &self.limits) {
                Ok(report) => {
                    self.record(&report);
                    out.extend(report.actions);
                }
                Err(_) => self.metrics.faults += 1,
            }
            self.reschedule(slot);
        }
        self.clock = Some(tau);
        out
    }

    /// Fires every timer due at or before `t`, in `at` order.
    pub fn advance_to(&mut self, t: i64) -> Vec<Action> {
        let mut out = self.fire_until(t, true, None);
        self.clock = Some(self.clock.map_or(t, |c| c.max(t)));
        out.drain(..).map(|(_, _, a)| a).collect()
    }

    fn fire_before(&mut self, t: i64, skip: Option<usize>) -> Vec<(i64, usize, Action)> {
        self.fire_until(t, false, skip)
    }

    /// Pops due wake-ups (before `t`, or at it when `inclusive`), skipping
    /// customer `skip`, whose own step has already caught up.
    fn fire_until(
        &mut self,
        t: i64,
        inclusive: bool,
        skip: Option<usize>,
    ) -> Vec<(i64, usize, Action)> {
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        while let Some(&Reverse((w, slot))) = self.queue.peek() {
            if w > t || (!inclusive && w == t) {
                break;
            }
            self.queue.pop();
            if self.queued[slot] != Some(w) {
                continue;
            }
            if Some(slot) == skip {
                skipped.push(Reverse((w, slot)));
                continue;
            }
            self.queued[slot] = None;
            match self.wake[slot] {
                Some(due) if due == w => {}
                Some(later) => {
                    self.queued[slot] = Some(later);
                    self.queue.push(Reverse((later, slot)));
                    continue;
                }
                None => continue,
            }
            self.timer_steps += 1;
            let Some(st) = self.customers[slot].as_mut() else {
                continue;
            };
            match step(&self.program, st, Input::Tick(w), w, &self.limits) {
                Ok(report) => {
                    self.record(&report);
                    out.extend(report.actions.into_iter().map(|a| (a.at, slot, a)));
                }
                Err(_) => {
                    // The state is as before; pass the instant without
                    // firing so the queue moves on.
                    state::skip_to(&self.program, st, w);
                    self.metrics.faults += 1;
                }
            }
            self.reschedule(slot);
        }
        self.queue.extend(skipped);
        out
    }

    fn reschedule(&mut self, slot: usize) {
        let next = self.customers[slot]
            .as_ref()
            .and_then(|st| st.next_wakeup(&self.program));
        self.wake[slot] = next;
        // A wake-up moved later (what most events do) waits for the entry
        // already queued; only an earlier one needs an entry of its own.
        if let Some(w) = next {
            if self.queued[slot].is_none_or(|q| w < q) {
                self.queued[slot] = Some(w);
                self.queue.push(Reverse((w, slot)));
            }
        }
        // Stale entries are skipped when popped; rebuild when they dominate.
        if self.queue.len() > 4 * self.customers.len() + 1024 {
            self.queued.clone_from(&self.wake);
            self.queue = self
                .wake
                .iter()
                .enumerate()
                .filter_map(|(s, w)| w.map(|w| Reverse((w, s))))
                .collect();
        }
    }

    fn record(&mut self, report: &StepReport) {
        let ir = self.program.ir();
        for o in &report.outcomes {
            let rule = &ir.rules[o.rule];
            let Some((_, m)) = self.metrics.rules.get_index_mut(o.rule) else {
                continue;
            };
            m.triggered += u64::from(o.triggered);
            match o.verdict {
                Verdict::Fired(v) => {
                    m.fired += 1;
                    if let Some(g) = group_name(rule, Some(v.unwrap_or(0))) {
                        m.groups.entry(g).or_default().assigned += 1;
                    }
                }
                Verdict::HeldOut => {
                    m.held_out += 1;
                    m.groups.entry("control".into()).or_default().assigned += 1;
                }
                Verdict::GuardFalse => m.guard_false += 1,
                Verdict::Limit => m.suppressed_limit += 1,
                Verdict::Cap => m.suppressed_cap += 1,
                Verdict::Deferred => m.deferred_quiet += 1,
                Verdict::Dropped => m.dropped_quiet += 1,
                Verdict::Snapped => m.snapped += 1,
            }
        }
        self.metrics.shortfalls += report.shortfalls.len() as u64;
        self.metrics.faults += report.faults as u64;
        for &(r, group) in &report.conversions {
            let name = group_name(&ir.rules[r], group).unwrap_or_else(|| "control".into());
            if let Some((_, m)) = self.metrics.rules.get_index_mut(r) {
                m.groups.entry(name).or_default().converted += 1;
            }
        }
    }
}
