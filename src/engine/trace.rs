//! The decision trace: what the engine decided about each rule of the
//! customers it is asked to follow — firings scheduled and cancelled,
//! every judgment with its verdict — so that "why didn't she get it" has
//! an answer after the fact (`siyu explain`, `Engine::decisions`, the C
//! call `siyu_engine_decisions`).
//!
//! Off by default, and then free: the engine only asks whether a trace is
//! on once per customer step. On, it keeps the newest `keep` decisions per
//! customer followed (O(1) per decision), so memory is bounded by the
//! customers followed, whatever the length of their history.

use super::step::{Cancel, CancelReason, Firing, Outcome, Verdict};
use crate::compile::Ir;
use crate::time::Instant;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// One decision about one rule of one customer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Decision {
    /// When it was made.
    pub at: Instant,
    /// The rule.
    pub rule: String,
    /// What was decided.
    #[serde(flatten)]
    pub what: What,
}

/// What was decided.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum What {
    /// An event scheduled a `D after E` firing.
    Scheduled {
        /// When it falls due.
        due: Instant,
    },
    /// A scheduled firing was cancelled before it fell due.
    Cancelled {
        /// When it would have fallen due.
        due: Instant,
        /// Why: `unless EVENT`, or replaced by a later event (`after last`).
        by: String,
    },
    /// The rule was judged.
    Judged {
        /// `fired`, `guard false`, `limit`, `cap`, `held out`, `deferred`,
        /// `dropped` or `snapped`.
        verdict: &'static str,
        /// Its split variant, when it fired.
        #[serde(skip_serializing_if = "Option::is_none")]
        variant: Option<String>,
        /// Deferred or snapped: when it will be judged again.
        #[serde(skip_serializing_if = "Option::is_none")]
        lands: Option<Instant>,
        /// A full cap: its channel (`all` for every channel).
        #[serde(skip_serializing_if = "Option::is_none")]
        cap: Option<String>,
        /// A full limit or cap: when its window frees a place.
        #[serde(skip_serializing_if = "Option::is_none")]
        frees: Option<Instant>,
        /// The trigger fired now (false for a moved firing judged where it
        /// landed).
        triggered: bool,
    },
}

/// Which customers a trace follows.
#[derive(Clone, Debug)]
enum Follow {
    All,
    These(BTreeSet<String>),
}

/// The decisions kept for the customers followed.
#[derive(Clone, Debug)]
pub(crate) struct Trace {
    follow: Follow,
    keep: usize,
    log: HashMap<String, VecDeque<Decision>>,
}

impl Trace {
    /// A trace of `customers` (every customer when `None`), keeping the
    /// newest `keep` decisions of each.
    pub fn new(customers: Option<&[&str]>, keep: usize) -> Trace {
        let follow = match customers {
            None => Follow::All,
            Some(c) => Follow::These(c.iter().map(|s| s.to_string()).collect()),
        };
        Trace {
            follow,
            keep: keep.max(1),
            log: HashMap::new(),
        }
    }

    /// Does it follow `customer`?
    pub fn follows(&self, customer: &str) -> bool {
        match &self.follow {
            Follow::All => true,
            Follow::These(c) => c.contains(customer),
        }
    }

    /// The decisions kept for `customer`, oldest first.
    pub fn of(&self, customer: &str) -> impl Iterator<Item = &Decision> {
        self.log.get(customer).into_iter().flatten()
    }

    /// Forgets a customer (`$forget`).
    pub fn forget(&mut self, customer: &str) {
        self.log.remove(customer);
    }

    fn push(&mut self, customer: &str, d: Decision) {
        let log = self.log.entry(customer.to_string()).or_default();
        if log.len() == self.keep {
            log.pop_front();
        }
        log.push_back(d);
    }

    pub fn judged(&mut self, ir: &Ir, customer: &str, o: Outcome) {
        let Some(rule) = ir.rules.get(o.rule) else {
            return;
        };
        let (verdict, variant) = match o.verdict {
            Verdict::Fired(v) => {
                let name = v.and_then(|v| Some(rule.split.as_ref()?.variants.get(v)?.0.clone()));
                ("fired", name)
            }
            Verdict::GuardFalse => ("guard false", None),
            Verdict::Limit => ("limit", None),
            Verdict::Cap => ("cap", None),
            Verdict::HeldOut => ("held out", None),
            Verdict::Deferred => ("deferred", None),
            Verdict::Dropped => ("dropped", None),
            Verdict::Snapped => ("snapped", None),
        };
        let cap = o.cap.and_then(|c| {
            let cap = ir.caps.get(c)?;
            Some(cap.channel.clone().unwrap_or_else(|| "all".into()))
        });
        let what = What::Judged {
            verdict,
            variant,
            lands: o.lands,
            cap,
            frees: o.frees,
            triggered: o.triggered,
        };
        let d = Decision {
            at: o.at,
            rule: rule.name.clone(),
            what,
        };
        self.push(customer, d);
    }

    pub fn scheduled(&mut self, ir: &Ir, customer: &str, f: Firing) {
        let Some(rule) = ir.rules.get(f.rule) else {
            return;
        };
        let d = Decision {
            at: f.origin,
            rule: rule.name.clone(),
            what: What::Scheduled { due: f.due },
        };
        self.push(customer, d);
    }

    pub fn cancelled(&mut self, ir: &Ir, customer: &str, c: Cancel) {
        let Some(rule) = ir.rules.get(c.firing.rule) else {
            return;
        };
        let (at, by) = match c.reason {
            CancelReason::Unless { event, at } => {
                let name = ir.events.get(event).map_or("?", |e| e.name.as_str());
                (at, format!("unless {name}"))
            }
            CancelReason::Replaced { at } => (at, "replaced by a later event".to_string()),
        };
        let d = Decision {
            at,
            rule: rule.name.clone(),
            what: What::Cancelled {
                due: c.firing.due,
                by,
            },
        };
        self.push(customer, d);
    }
}
