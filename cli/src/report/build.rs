//! The report's figures, from what was collected: plain data that
//! serializes as the JSON report and fills the HTML page.

use super::collect::{Collected, DAY};
use indexmap::IndexMap;
use serde::Serialize;
use siyu::engine::stats::Comparison;
use siyu::engine::{GoalRow, RuleMetrics};
use siyu::{DefinitionKind, Engine, Instant, Program};
use std::collections::HashSet;

/// The whole report.
#[derive(Serialize)]
pub struct Report {
    /// The program.
    pub program: String,
    /// The events.
    pub events_file: String,
    /// The command that made it.
    pub generator: String,
    /// The numbers at a glance.
    pub overview: Overview,
    /// Per rule: what became of its triggerings.
    pub funnel: Vec<Funnel>,
    /// Actions per day.
    pub daily: Daily,
    /// How often customers were touched.
    pub pressure: Pressure,
    /// Segments, tags and stages over time.
    pub populations: Populations,
    /// Stage moves over the span.
    pub transitions: Vec<Matrix>,
    /// A/B tests and holdouts.
    pub experiments: Vec<Experiment>,
    /// Points.
    pub ledgers: Vec<Ledger>,
    /// Against the baseline program, when given.
    pub baseline: Option<Baseline>,
}

/// The numbers at a glance.
#[derive(Serialize)]
pub struct Overview {
    /// First and last instant seen.
    pub from: Option<Instant>,
    /// The engine's clock at the end.
    pub to: Option<Instant>,
    /// Days covered.
    pub days: usize,
    /// Events (duplicates included).
    pub events: u64,
    /// Lines rejected, duplicates, events of undeclared types.
    pub rejected: u64,
    /// Duplicates ignored.
    pub duplicates: u64,
    /// Customers.
    pub customers: usize,
    /// Actions, built-ins (tags, set) included.
    pub actions: u64,
    /// Host actions (messages, coupons, tasks).
    pub host_actions: u64,
    /// Distinct customers who got at least one host action.
    pub reached: usize,
    /// Host actions per channel (`(no channel)` for actions without one).
    pub by_channel: IndexMap<String, u64>,
    /// Actions and distinct customers per rule.
    pub by_rule: Vec<ByRule>,
}

/// One rule's actions.
#[derive(Serialize)]
pub struct ByRule {
    /// The rule.
    pub rule: String,
    /// Actions.
    pub actions: u64,
    /// Distinct customers.
    pub customers: u64,
}

/// What became of a rule's triggerings.
#[derive(Serialize)]
pub struct Funnel {
    /// The rule.
    pub rule: String,
    /// Its trigger fired.
    pub triggered: u64,
    /// The guard was false.
    pub guard_false: u64,
    /// Its limit stopped it.
    pub limit: u64,
    /// A cap stopped it.
    pub cap: u64,
    /// Deferred to the end of quiet hours.
    pub quiet_deferred: u64,
    /// Dropped by quiet hours.
    pub quiet_dropped: u64,
    /// Held out (the control group).
    pub held_out: u64,
    /// Sent.
    pub fired: u64,
}

/// Actions per day.
#[derive(Serialize)]
pub struct Daily {
    /// The days (UTC), `YYYY-MM-DD`.
    pub days: Vec<String>,
    /// Per rule: actions each day.
    pub by_rule: IndexMap<String, Vec<u64>>,
    /// Per channel: host actions each day.
    pub by_channel: IndexMap<String, Vec<u64>>,
}

/// How often customers were touched by host actions.
#[derive(Serialize)]
pub struct Pressure {
    /// Customers touched at least once.
    pub touched: usize,
    /// Host actions repeating a message (same action, same arguments) the
    /// customer got within the last 7 days, as a share of all host actions
    /// (触达重复率).
    pub repeat_rate: f64,
    /// Host actions that came within 48 hours of the previous one to the
    /// same customer, as a share of all host actions.
    pub again_within_48h: f64,
    /// Customers a cap stopped at least once.
    pub customers_at_cap: usize,
    /// Per window: the most touches any one window of that length held,
    /// as (touches, customers).
    pub windows: Vec<Window>,
}

/// One window's distribution.
#[derive(Serialize)]
pub struct Window {
    /// `48h`, `7d` or `30d`.
    pub window: &'static str,
    /// (most touches in one window, customers).
    pub histogram: Vec<(u32, u64)>,
}

/// Segments, tags and stages at each day's end.
#[derive(Serialize)]
pub struct Populations {
    /// The instants looked at (each day's last second, and the end).
    pub at: Vec<Instant>,
    /// One series per segment, tag and stage label.
    pub series: Vec<Series>,
}

/// One population over time.
#[derive(Serialize)]
pub struct Series {
    /// `segment`, `tag` or `stage`.
    pub kind: &'static str,
    /// The segment's, tag's or stage's name.
    pub name: String,
    /// The stage label (stages only).
    pub label: Option<String>,
    /// Customers, at each instant looked at.
    pub counts: Vec<u64>,
}

/// A stage's moves from label to label over the span.
#[derive(Serialize)]
pub struct Matrix {
    /// The stage.
    pub stage: String,
    /// Its labels.
    pub labels: Vec<String>,
    /// `counts[from][to]`.
    pub counts: Vec<Vec<u64>>,
}

/// One experiment.
#[derive(Serialize)]
pub struct Experiment {
    /// The rule.
    pub rule: String,
    /// Each group against the baseline.
    pub groups: Vec<GoalRow>,
}

/// One ledger over the span.
#[derive(Serialize)]
pub struct Ledger {
    /// The ledger.
    pub ledger: String,
    /// Per month (`YYYY-MM`).
    pub months: Vec<Month>,
    /// Balance at the end, over all customers.
    pub balance: f64,
    /// What of that balance expires in each of the next twelve months.
    pub expiring: Vec<(String, f64)>,
}

/// A ledger's month.
#[derive(Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Points earned.
    pub earned: f64,
    /// Points spent.
    pub spent: f64,
    /// Points expired.
    pub expired: f64,
}

/// The change from the baseline program.
#[derive(Serialize)]
pub struct Baseline {
    /// The baseline program.
    pub program: String,
    /// Per rule in either program.
    pub rules: Vec<RuleChange>,
}

/// One rule, old against new.
#[derive(Serialize)]
pub struct RuleChange {
    /// The rule.
    pub rule: String,
    /// Actions under the baseline.
    pub old: u64,
    /// Actions under this program.
    pub new: u64,
    /// Customers who get an action of it now and did not before.
    pub gained: u64,
    /// Customers who got one before and do not now.
    pub lost: u64,
    /// The first few who gain (by id).
    pub gained_examples: Vec<String>,
    /// The first few who lose.
    pub lost_examples: Vec<String>,
}

/// Examples listed per rule and direction.
const EXAMPLES: usize = 5;

fn date(t: i64) -> String {
    Instant::from_unix(t).map_or_else(|_| "?".into(), |i| i.to_string()[..10].to_string())
}

/// The report from what one replay collected (and the baseline's).
pub fn report(
    program: &Program,
    rules_file: &str,
    events_file: &str,
    c: &Collected,
    engine: &Engine,
    baseline: Option<(&str, &Collected)>,
) -> Report {
    let metrics = engine.metrics();
    let first_day = c.first_day.unwrap_or(0);
    let days: Vec<String> = (0..c.daily_rule.len())
        .map(|i| date(first_day + i as i64 * DAY))
        .collect();
    let series =
        |per_day: &[IndexMap<String, u64>], keys: Vec<String>| -> IndexMap<String, Vec<u64>> {
            keys.into_iter()
                .map(|k| {
                    let counts = per_day
                        .iter()
                        .map(|d| d.get(&k).copied().unwrap_or(0))
                        .collect();
                    (k, counts)
                })
                .collect()
        };
    let rule_keys: Vec<String> = c
        .by_rule
        .iter()
        .filter(|(_, r)| r.actions > 0)
        .map(|(k, _)| k.clone())
        .collect();
    let channel_keys: Vec<String> = c.channels.keys().cloned().collect();
    Report {
        program: rules_file.to_string(),
        events_file: events_file.to_string(),
        generator: format!("siyu {}", env!("CARGO_PKG_VERSION")),
        overview: Overview {
            from: c.first_day.and_then(|d| Instant::from_unix(d).ok()),
            to: engine.clock(),
            days: days.len(),
            events: metrics.events,
            rejected: metrics.rejected,
            duplicates: metrics.duplicates,
            customers: engine.len(),
            actions: c.actions,
            host_actions: c.host_actions,
            reached: c.reached.len(),
            by_channel: c.channels.clone(),
            by_rule: c
                .by_rule
                .iter()
                .map(|(rule, r)| ByRule {
                    rule: rule.clone(),
                    actions: r.actions,
                    customers: r.customers,
                })
                .collect(),
        },
        funnel: metrics
            .rules
            .iter()
            .map(|(rule, m)| funnel(rule, m))
            .collect(),
        daily: Daily {
            by_rule: series(&c.daily_rule, rule_keys),
            by_channel: series(&c.daily_channel, channel_keys),
            days,
        },
        pressure: Pressure {
            touched: c.reached.len(),
            repeat_rate: share(c.repeats_same_7d, c.host_actions),
            again_within_48h: share(c.repeats_48h, c.host_actions),
            customers_at_cap: c.capped.len(),
            windows: c
                .pressure()
                .into_iter()
                .map(|(window, histogram)| Window { window, histogram })
                .collect(),
        },
        populations: populations(program, c),
        transitions: transitions(program, c),
        experiments: metrics
            .rules
            .iter()
            .filter(|(_, m)| !m.groups.is_empty())
            .map(|(rule, m)| Experiment {
                rule: rule.clone(),
                groups: m.goal_report(),
            })
            .collect(),
        ledgers: ledgers(program, c, engine),
        baseline: baseline.map(|(name, old)| compare(name, old, c)),
    }
}

fn share(part: u64, all: u64) -> f64 {
    if all == 0 {
        0.0
    } else {
        part as f64 / all as f64
    }
}

fn funnel(rule: &str, m: &RuleMetrics) -> Funnel {
    Funnel {
        rule: rule.to_string(),
        triggered: m.triggered,
        guard_false: m.guard_false,
        limit: m.suppressed_limit,
        cap: m.suppressed_cap,
        quiet_deferred: m.deferred_quiet,
        quiet_dropped: m.dropped_quiet,
        held_out: m.held_out,
        fired: m.fired,
    }
}

fn populations(program: &Program, c: &Collected) -> Populations {
    let mut series = Vec::new();
    for (d, (kind, name)) in program.definitions().enumerate() {
        let column = |slot: usize| -> Vec<u64> {
            c.samples
                .iter()
                .map(|s| {
                    s.counts
                        .get(d)
                        .and_then(|x| x.get(slot))
                        .copied()
                        .unwrap_or(0)
                })
                .collect()
        };
        match kind {
            DefinitionKind::Stage => {
                for (slot, label) in program.labels(d).into_iter().flatten().enumerate() {
                    series.push(Series {
                        kind: "stage",
                        name: name.to_string(),
                        label: Some(label.to_string()),
                        counts: column(slot),
                    });
                }
            }
            kind => series.push(Series {
                kind: if kind == DefinitionKind::Tag {
                    "tag"
                } else {
                    "segment"
                },
                name: name.to_string(),
                label: None,
                counts: column(1),
            }),
        }
    }
    Populations {
        at: c
            .samples
            .iter()
            .filter_map(|s| Instant::from_unix(s.at).ok())
            .collect(),
        series,
    }
}

fn transitions(program: &Program, c: &Collected) -> Vec<Matrix> {
    program
        .definitions()
        .enumerate()
        .filter(|(_, (kind, _))| *kind == DefinitionKind::Stage)
        .map(|(d, (_, name))| {
            let labels: Vec<String> = program
                .labels(d)
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect();
            let mut counts = vec![vec![0u64; labels.len()]; labels.len()];
            for (&(from, to), n) in c.moves.get(&d).into_iter().flatten() {
                if let Some(cell) = counts.get_mut(from).and_then(|r| r.get_mut(to)) {
                    *cell += n;
                }
            }
            Matrix {
                stage: name.to_string(),
                labels,
                counts,
            }
        })
        .collect()
}

fn ledgers(program: &Program, c: &Collected, engine: &Engine) -> Vec<Ledger> {
    let first_day = c.first_day.unwrap_or(0);
    program
        .ledgers()
        .enumerate()
        .map(|(l, name)| {
            // A day's expiries are what its balance lost beyond what was
            // spent: end = start + earned - spent - expired.
            let mut months: IndexMap<String, Month> = IndexMap::new();
            let mut before = 0.0;
            let days = c.ledger_days.get(l).map_or(&[][..], |d| &d[..]);
            let mut samples = c.samples.iter().peekable();
            for (i, (earned, spent)) in days.iter().enumerate() {
                let day = first_day + i as i64 * DAY;
                let month = date(day)[..7].to_string();
                let m = months.entry(month.clone()).or_insert_with(|| Month {
                    month,
                    earned: 0.0,
                    spent: 0.0,
                    expired: 0.0,
                });
                m.earned += earned;
                m.spent += spent;
                let mut end = None;
                while let Some(s) = samples.next_if(|s| s.at < day + DAY) {
                    end = s.balances.get(l).copied();
                }
                if let Some(after) = end {
                    m.expired += (before + earned - spent - after).max(0.0);
                    before = after;
                }
            }
            let clock = engine.clock();
            let balance_at = |t: Instant| -> f64 {
                engine
                    .customers()
                    .filter_map(|id| engine.customer(id))
                    .filter_map(|st| st.balance(program, l, t))
                    .sum()
            };
            let mut expiring = Vec::new();
            if let Some(now) = clock {
                let mut prev = balance_at(now);
                for k in 1..=12 {
                    let Ok(t) = Instant::from_unix(now.unix() + k * 30 * DAY) else {
                        break;
                    };
                    let next = balance_at(t);
                    expiring.push((date(t.unix()), (prev - next).max(0.0)));
                    prev = next;
                }
            }
            Ledger {
                ledger: name.to_string(),
                months: months.into_values().collect(),
                balance: clock.map_or(0.0, balance_at),
                expiring,
            }
        })
        .collect()
}

fn compare(name: &str, old: &Collected, new: &Collected) -> Baseline {
    let mut rules: Vec<&String> = new.by_rule.keys().collect();
    for r in old.by_rule.keys() {
        if !rules.contains(&r) {
            rules.push(r);
        }
    }
    Baseline {
        program: name.to_string(),
        rules: rules
            .into_iter()
            .map(|rule| {
                let (o, n) = (old.by_rule.get(rule), new.by_rule.get(rule));
                // Each run numbers its customers itself: compare names.
                let names =
                    |c: &Collected, r: Option<&super::collect::RuleCount>| -> HashSet<String> {
                        r.into_iter()
                            .flat_map(|r| r.seen.iter().map(|&n| c.name(n).to_string()))
                            .collect()
                    };
                let (os, ns) = (names(old, o), names(new, n));
                let mut gained: Vec<String> = ns.difference(&os).cloned().collect();
                let mut lost: Vec<String> = os.difference(&ns).cloned().collect();
                gained.sort_unstable();
                lost.sort_unstable();
                RuleChange {
                    rule: rule.clone(),
                    old: o.map_or(0, |r| r.actions),
                    new: n.map_or(0, |r| r.actions),
                    gained: gained.len() as u64,
                    lost: lost.len() as u64,
                    gained_examples: gained.into_iter().take(EXAMPLES).collect(),
                    lost_examples: lost.into_iter().take(EXAMPLES).collect(),
                }
            })
            .collect(),
    }
}

/// A comparison's verdict in words.
pub fn verdict(c: &Option<Comparison>) -> &'static str {
    match c {
        None => "baseline",
        Some(Comparison::Tested {
            significant: true, ..
        }) => "significant",
        Some(Comparison::Tested { .. }) => "not significant",
        Some(_) => "too few to tell",
    }
}
