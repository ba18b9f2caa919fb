//! What-if: the same events through two programs, compared per rule
//! (`replay --diff`).

use super::action::Action;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How one rule's behaviour differs between two runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleDiff {
    /// The rule (or `(auto tags)` for auto-tag changes).
    pub rule: String,
    /// Firings in the first run.
    pub firings_a: usize,
    /// Firings in the second run.
    pub firings_b: usize,
    /// Firings in one run and not the other (by customer, instant, actions).
    pub differing_firings: usize,
    /// Customers whose actions from this rule differ.
    pub customers: usize,
}

/// One firing: its customer, instant and what it did.
type Firing = (String, i64, String);

fn firings(actions: &[Action]) -> BTreeMap<String, BTreeMap<Firing, usize>> {
    // Actions of one firing share their id up to the action index.
    let mut grouped: BTreeMap<(String, String, String), (i64, Vec<String>)> = BTreeMap::new();
    for a in actions {
        let rule = a.rule.clone().unwrap_or_else(|| "(auto tags)".into());
        let firing_id =
            a.id.rsplit_once('/')
                .map_or(a.id.clone(), |(f, _)| f.to_string());
        let mut args = a.to_json();
        if let Some(o) = args.as_object_mut() {
            o.remove("id");
            o.remove("at");
        }
        let entry = grouped
            .entry((rule, a.customer.clone(), firing_id))
            .or_insert((a.at.unix(), Vec::new()));
        entry.1.push(args.to_string());
    }
    let mut out: BTreeMap<String, BTreeMap<Firing, usize>> = BTreeMap::new();
    for ((rule, customer, _), (at, what)) in grouped {
        *out.entry(rule)
            .or_default()
            .entry((customer, at, what.join(",")))
            .or_default() += 1;
    }
    out
}

/// Compares two runs' actions rule by rule; unchanged rules are left out.
pub fn compare(a: &[Action], b: &[Action]) -> Vec<RuleDiff> {
    let (fa, fb) = (firings(a), firings(b));
    let rules: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let empty = BTreeMap::new();
    rules
        .into_iter()
        .filter_map(|rule| {
            let (x, y) = (
                fa.get(rule).unwrap_or(&empty),
                fb.get(rule).unwrap_or(&empty),
            );
            let mut differing = 0;
            let mut customers = BTreeSet::new();
            for key in x.keys().chain(y.keys()).collect::<BTreeSet<_>>() {
                let (m, n) = (
                    x.get(key).copied().unwrap_or(0),
                    y.get(key).copied().unwrap_or(0),
                );
                if m != n {
                    differing += m.abs_diff(n);
                    customers.insert(key.0.clone());
                }
            }
            (differing > 0).then(|| RuleDiff {
                rule: rule.clone(),
                firings_a: x.values().sum(),
                firings_b: y.values().sum(),
                differing_firings: differing,
                customers: customers.len(),
            })
        })
        .collect()
}

/// The comparison as an operator reads it.
pub fn render(diffs: &[RuleDiff], a: &str, b: &str) -> String {
    if diffs.is_empty() {
        return format!("what-if {a} -> {b}: no rule fires differently\n");
    }
    let width = diffs
        .iter()
        .map(|d| d.rule.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = format!("what-if {a} -> {b}\n");
    s.push_str(&format!(
        "{:<width$} {:>10} {:>10} {:>9} {:>10} {:>10}\n",
        "rule", "firings A", "firings B", "change", "differing", "customers"
    ));
    for d in diffs {
        let change = d.firings_b as i64 - d.firings_a as i64;
        s.push_str(&format!(
            "{:<width$} {:>10} {:>10} {:>+9} {:>10} {:>10}\n",
            d.rule, d.firings_a, d.firings_b, change, d.differing_firings, d.customers
        ));
    }
    for d in diffs {
        let change = d.firings_b as i64 - d.firings_a as i64;
        let what = match change {
            0 => "the same number of".to_string(),
            c if c > 0 => format!("{c} more"),
            c => format!("{} fewer", -c),
        };
        s.push_str(&format!(
            "`{}`: {what} firings; {} firings differ, for {} customers\n",
            d.rule, d.differing_firings, d.customers
        ));
    }
    s
}
