//! Counters (docs/host.md, metrics): per rule, what became of each
//! triggering, per experiment group its firings and conversions; engine
//! wide, what came in and what the per-customer limits gave up.

use super::stats::{self, Comparison, Rate};
use super::step::{Degraded, Observer, Outcome, Verdict};
use crate::check::hir::Rule;
use crate::compile::{CExpr, Ir};
use serde::{Deserialize, Serialize};

/// Counters of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct GoalRow {
    /// Variant name, `treated`, or `control`.
    pub group: String,
    /// Firings in the group.
    pub assigned: u64,
    /// Conversions.
    pub converted: u64,
    /// `converted / assigned` with its 95% Wilson interval (`None` when
    /// nothing was assigned).
    pub rate: Option<Rate>,
    /// Against the baseline (control, or the first variant when there is
    /// no holdout): the difference with its 95% interval and the
    /// two-sided p-value, or too few to tell. `None` for the baseline.
    pub against: Option<Comparison>,
    /// The smallest difference from the baseline's rate these group sizes
    /// detect at α = 0.05 with 80% power. `None` for the baseline, or
    /// when undefined (an empty group, a baseline rate of 0 or 1).
    pub detectable: Option<f64>,
    /// With a holdout and two or more variants: a later variant against
    /// the first one (is one copy better than the other, besides better
    /// than nothing?). `None` otherwise.
    pub against_first: Option<Comparison>,
}

impl RuleMetrics {
    /// The experiment's result per group, each against the baseline: the
    /// control group, or the first variant when there is no holdout.
    pub fn goal_report(&self) -> Vec<GoalRow> {
        let baseline_name = if self.groups.contains_key("control") {
            "control"
        } else {
            self.groups.keys().next().map_or("", String::as_str)
        };
        let baseline = self.groups.get(baseline_name).cloned().unwrap_or_default();
        let base_rate = stats::wilson(baseline.converted, baseline.assigned);
        // With a holdout, the first variant is a second yardstick.
        let first = self
            .groups
            .iter()
            .find(|(name, _)| name.as_str() != "control")
            .filter(|_| baseline_name == "control" && self.groups.len() > 2);
        self.groups
            .iter()
            .map(|(name, g)| {
                let other = name != baseline_name;
                GoalRow {
                    group: name.clone(),
                    assigned: g.assigned,
                    converted: g.converted,
                    rate: stats::wilson(g.converted, g.assigned),
                    against: other.then(|| {
                        stats::compare(
                            g.converted,
                            g.assigned,
                            baseline.converted,
                            baseline.assigned,
                        )
                    }),
                    detectable: base_rate.filter(|_| other).and_then(|b| {
                        stats::minimum_detectable_effect(b.rate, g.assigned, baseline.assigned)
                    }),
                    against_first: first.filter(|(f, _)| *f != name && name != "control").map(
                        |(_, f)| stats::compare(g.converted, g.assigned, f.converted, f.assigned),
                    ),
                }
            })
            .collect()
    }
}

/// Engine-wide and per-rule counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Window entries and credits that left early because a customer held
    /// `StateLimits::max_retained`.
    pub evicted_entries: u64,
    /// Firings not scheduled because a customer held
    /// `StateLimits::max_pending`.
    pub dropped_timers: u64,
    /// Event ids forgotten early because a customer held
    /// `StateLimits::max_ids`.
    pub evicted_ids: u64,
    /// Firings dropped because they would fall after
    /// 9999-12-31T23:59:59Z.
    pub past_horizon: u64,
    /// Per rule, in declaration order.
    pub rules: indexmap::IndexMap<String, RuleMetrics>,
}

impl Metrics {
    /// Zero counters for every rule of `ir`, with its experiment groups.
    pub(crate) fn new(ir: &Ir) -> Metrics {
        let rules = ir
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
        Metrics {
            rules,
            ..Metrics::default()
        }
    }

    /// Counts what a step decided.
    pub(crate) fn recorder<'a>(&'a mut self, ir: &'a Ir) -> Recorder<'a> {
        Recorder { ir, metrics: self }
    }
}

/// The experiment group of a firing: `None` for the control group (or for a
/// rule that runs no experiment).
fn group_name(rule: &Rule<CExpr>, variant: Option<usize>) -> Option<&str> {
    let v = variant?;
    match &rule.split {
        Some(s) => s.variants.get(v).map(|(name, _, _)| name.as_str()),
        None => rule.holdout.map(|_| "treated"),
    }
}

/// The counters of group `name`, made the first time: a firing looks its
/// group up without copying the name.
fn group<'a>(
    groups: &'a mut indexmap::IndexMap<String, GroupMetrics>,
    name: &str,
) -> &'a mut GroupMetrics {
    match groups.get_index_of(name) {
        Some(i) => &mut groups[i],
        None => groups.entry(name.to_owned()).or_default(),
    }
}

/// Counts into metrics what steps decide.
pub(crate) struct Recorder<'a> {
    ir: &'a Ir,
    metrics: &'a mut Metrics,
}

impl Observer for Recorder<'_> {
    fn judged(&mut self, _: &str, o: Outcome) {
        let rule = &self.ir.rules[o.rule];
        let Some((_, m)) = self.metrics.rules.get_index_mut(o.rule) else {
            return;
        };
        m.triggered += u64::from(o.triggered);
        match o.verdict {
            Verdict::Fired(v) => {
                m.fired += 1;
                if let Some(g) = group_name(rule, Some(v.unwrap_or(0))) {
                    group(&mut m.groups, g).assigned += 1;
                }
            }
            Verdict::HeldOut => {
                m.held_out += 1;
                group(&mut m.groups, "control").assigned += 1;
            }
            Verdict::GuardFalse => m.guard_false += 1,
            Verdict::Limit => m.suppressed_limit += 1,
            Verdict::Cap => m.suppressed_cap += 1,
            Verdict::Deferred => m.deferred_quiet += 1,
            Verdict::Dropped => m.dropped_quiet += 1,
            Verdict::Snapped => m.snapped += 1,
        }
    }

    fn converted(&mut self, _: &str, r: usize, group: Option<usize>) {
        let name = group_name(&self.ir.rules[r], group).unwrap_or("control");
        if let Some((_, m)) = self.metrics.rules.get_index_mut(r) {
            self::group(&mut m.groups, name).converted += 1;
        }
    }

    fn shortfall(&mut self, _: &str, _: &str, _: f64) {
        self.metrics.shortfalls += 1;
    }

    fn degraded(&mut self, _: &str, limit: Degraded, count: usize) {
        let n = count as u64;
        match limit {
            Degraded::Retained => self.metrics.evicted_entries += n,
            Degraded::Pending => self.metrics.dropped_timers += n,
            Degraded::Ids => self.metrics.evicted_ids += n,
            Degraded::Horizon => self.metrics.past_horizon += n,
        }
    }
}

impl super::Engine {
    /// The metrics as a plain-text table (the replay's `--summary`): per
    /// rule, what became of each triggering; per experiment, its groups'
    /// conversions with p-values; then the engine-wide counts and the
    /// customer steps timers took.
    pub fn summary(&self) -> String {
        let m = &self.metrics;
        let width = m
            .rules
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut s = format!(
            "{:<width$} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>8}\n",
            "rule",
            "triggered",
            "fired",
            "guard",
            "limit",
            "cap",
            "deferred",
            "dropped",
            "snapped",
            "held out"
        );
        for (name, r) in &m.rules {
            s.push_str(&format!(
                "{name:<width$} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>8}\n",
                r.triggered,
                r.fired,
                r.guard_false,
                r.suppressed_limit,
                r.suppressed_cap,
                r.deferred_quiet,
                r.dropped_quiet,
                r.snapped,
                r.held_out
            ));
        }
        for (name, r) in &m.rules {
            if r.groups.is_empty() {
                continue;
            }
            s.push_str(&format!(
                "\nexperiment {name}: goal conversions, 95% intervals, two-proportion z-test at alpha = 0.05\n"
            ));
            s.push_str(&format!(
                "  {:<10} {:>8} {:>9} {:>22} {:>26} {:>8}  {}\n",
                "group",
                "assigned",
                "converted",
                "rate [95% CI]",
                "difference [95% CI]",
                "p-value",
                "verdict"
            ));
            for row in r.goal_report() {
                let rate = row.rate.map_or("-".to_string(), |x| {
                    format!(
                        "{:.1}% [{:.1}, {:.1}]",
                        100.0 * x.rate,
                        100.0 * x.low,
                        100.0 * x.high
                    )
                });
                let (difference, p, verdict) = describe(row.against.as_ref());
                let detectable = row.detectable.map_or(String::new(), |d| {
                    format!(" (detects {:.1} pts)", 100.0 * d)
                });
                s.push_str(&format!(
                    "  {:<10} {:>8} {:>9} {:>22} {:>26} {:>8}  {verdict}{detectable}\n",
                    row.group, row.assigned, row.converted, rate, difference, p
                ));
                if let Some(c) = &row.against_first {
                    let (difference, p, verdict) = describe(Some(c));
                    s.push_str(&format!(
                        "  {:<10} {:>8} {:>9} {:>22} {:>26} {:>8}  {verdict} (against the first variant)\n",
                        "", "", "", "", difference, p
                    ));
                }
            }
        }
        s.push_str(&format!(
            "\nevents {}  duplicates {}  rejected {}  ignored {}  faults {}  shortfalls {}  timer steps {}\n",
            m.events, m.duplicates, m.rejected, m.ignored, m.faults, m.shortfalls, self.timer_steps
        ));
        s
    }
}

/// A comparison as the summary prints it: difference with its interval,
/// p-value, verdict.
fn describe(c: Option<&Comparison>) -> (String, String, &'static str) {
    match c {
        None => ("-".into(), "-".into(), "baseline"),
        Some(Comparison::Tested {
            difference,
            low,
            high,
            p_value,
            significant,
        }) => (
            format!(
                "{:+.1} [{:+.1}, {:+.1}] pts",
                100.0 * difference,
                100.0 * low,
                100.0 * high
            ),
            format!("{p_value:.4}"),
            if *significant {
                "significant"
            } else {
                "not significant"
            },
        ),
        Some(_) => ("-".into(), "-".into(), "too few to tell"),
    }
}
