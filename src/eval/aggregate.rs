//! Aggregates over a customer's event history (§3).
//!
//! Three ways to keep one, chosen by the compiler:
//! - all history with a filter on the event alone: running values, O(1);
//! - a window with such a filter: the matching entries still inside the
//!   window (and nothing older: no window can see them again);
//! - a filter that reads more than the event: the raw log of the event type,
//!   filtered when the value is needed.

use super::{Ctx, FOREVER, R};
use crate::compile::{AggMode, AggSpec, Ir};
use crate::syntax::ast::AggFunc;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::VecDeque;

/// One counted event: its time, arrival number and aggregated field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Event time.
    pub t: i64,
    /// Arrival order, which breaks ties between events at the same second.
    pub seq: u64,
    /// The aggregated field (null for `count` and field-less `last`).
    pub v: Value,
}

/// A raw event kept for on-demand aggregates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Event time.
    pub t: i64,
    /// Arrival order.
    pub seq: u64,
    /// All declared fields.
    pub fields: Vec<Value>,
}

/// The state of one aggregate for one customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AggState {
    /// All-history running values.
    Running {
        /// Matching events.
        count: i64,
        /// Sum of non-null fields.
        sum: f64,
        /// Non-null fields.
        nonnull: i64,
        /// Smallest non-null field.
        min: Value,
        /// Largest non-null field.
        max: Value,
        /// Earliest matching event.
        first: Option<Entry>,
        /// Latest matching event.
        last: Option<Entry>,
    },
    /// Matching entries inside the window, oldest first.
    Window {
        /// The entries.
        entries: VecDeque<Entry>,
    },
    /// Computed from a raw log.
    Scan,
}

impl AggState {
    /// The empty state for an aggregate.
    pub fn new(spec: &AggSpec) -> AggState {
        match spec.mode {
            AggMode::Running => AggState::Running {
                count: 0,
                sum: 0.0,
                nonnull: 0,
                min: Value::Null,
                max: Value::Null,
                first: None,
                last: None,
            },
            AggMode::Window => AggState::Window {
                entries: VecDeque::new(),
            },
            AggMode::Scan(_) => AggState::Scan,
        }
    }

    /// Counts an event that matched the filter. `now` is the instant it is
    /// applied at: an entry already outside the window is dropped.
    pub fn insert(&mut self, spec: &AggSpec, entry: Entry, now: i64) {
        match self {
            AggState::Running {
                count,
                sum,
                nonnull,
                min,
                max,
                first,
                last,
            } => {
                tally(count, sum, nonnull, min, max, &entry.v);
                if first
                    .as_ref()
                    .is_none_or(|f| (entry.t, entry.seq) < (f.t, f.seq))
                {
                    *first = Some(entry.clone());
                }
                if last
                    .as_ref()
                    .is_none_or(|l| (entry.t, entry.seq) > (l.t, l.seq))
                {
                    *last = Some(entry);
                }
            }
            AggState::Window { entries } => {
                let window = spec.window.unwrap_or(i64::MAX);
                if entry.t <= now.saturating_sub(window) {
                    return;
                }
                let at = entries.partition_point(|e| (e.t, e.seq) < (entry.t, entry.seq));
                entries.insert(at, entry);
            }
            AggState::Scan => {}
        }
    }

    /// Drops entries no window can see again at or after `now`.
    pub fn prune(&mut self, spec: &AggSpec, now: i64) {
        if let (AggState::Window { entries }, Some(window)) = (self, spec.window) {
            let horizon = now.saturating_sub(window);
            while entries.front().is_some_and(|e| e.t <= horizon) {
                entries.pop_front();
            }
        }
    }

    /// Entries retained (for the per-customer limit).
    pub fn retained(&self) -> usize {
        match self {
            AggState::Window { entries } => entries.len(),
            _ => 0,
        }
    }
}

/// Counts one value into running totals: null fields count as events but
/// not in sums, averages, minima or maxima (§3).
fn tally(
    count: &mut i64,
    sum: &mut f64,
    nonnull: &mut i64,
    min: &mut Value,
    max: &mut Value,
    v: &Value,
) {
    *count += 1;
    if let Some(x) = v.as_f64() {
        *sum += x;
    }
    if !v.is_null() {
        *nonnull += 1;
        if min.is_null() || v.compare(min) == Some(Ordering::Less) {
            *min = v.clone();
        }
        if max.is_null() || v.compare(max) == Some(Ordering::Greater) {
            *max = v.clone();
        }
    }
}

/// Drops log entries older than the log's retention.
pub fn prune_log(log: &mut VecDeque<LogEntry>, retention: Option<i64>, now: i64) {
    if let Some(r) = retention {
        let horizon = now.saturating_sub(r);
        while log.front().is_some_and(|e| e.t <= horizon) {
            log.pop_front();
        }
    }
}

/// Folds matching values into an aggregate result.
struct Fold {
    count: i64,
    sum: f64,
    nonnull: i64,
    min: Value,
    max: Value,
    first: Option<(i64, Value)>,
    last: Option<(i64, Value)>,
}

impl Fold {
    fn new() -> Fold {
        Fold {
            count: 0,
            sum: 0.0,
            nonnull: 0,
            min: Value::Null,
            max: Value::Null,
            first: None,
            last: None,
        }
    }

    /// Adds an entry; entries come oldest first.
    fn add(&mut self, t: i64, v: &Value) {
        tally(
            &mut self.count,
            &mut self.sum,
            &mut self.nonnull,
            &mut self.min,
            &mut self.max,
            v,
        );
        if self.first.is_none() {
            self.first = Some((t, v.clone()));
        }
        self.last = Some((t, v.clone()));
    }

    fn result(self, spec: &AggSpec) -> Value {
        finish(
            spec,
            self.count,
            self.sum,
            self.nonnull,
            self.min,
            self.max,
            self.first,
            self.last,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    spec: &AggSpec,
    count: i64,
    sum: f64,
    nonnull: i64,
    min: Value,
    max: Value,
    first: Option<(i64, Value)>,
    last: Option<(i64, Value)>,
) -> Value {
    let pick = |e: Option<(i64, Value)>| match (e, spec.field) {
        (None, _) => Value::Null,
        (Some((t, _)), None) => Value::Time(t),
        (Some((_, v)), Some(_)) => v,
    };
    match spec.func {
        AggFunc::Count => Value::Int(count),
        AggFunc::Sum => Value::Number(sum),
        AggFunc::Avg => {
            if nonnull == 0 {
                Value::Null
            } else {
                Value::Number(sum / nonnull as f64)
            }
        }
        AggFunc::Min => min,
        AggFunc::Max => max,
        AggFunc::First => pick(first),
        AggFunc::Last => pick(last),
    }
}

/// The value of aggregate `i` at `cx.now`, and how long it holds.
pub fn value(i: usize, cx: &Ctx<'_>) -> R {
    let ir: &Ir = cx.ir;
    let spec = &ir.aggs[i];
    let horizon = spec.window.map(|w| cx.now.saturating_sub(w));
    match &cx.st.aggs[i] {
        AggState::Running {
            count,
            sum,
            nonnull,
            min,
            max,
            first,
            last,
        } => {
            let entry = |e: &Option<Entry>| e.as_ref().map(|e| (e.t, e.v.clone()));
            let v = finish(
                spec,
                *count,
                *sum,
                *nonnull,
                min.clone(),
                max.clone(),
                entry(first),
                entry(last),
            );
            R::fixed(v, FOREVER)
        }
        AggState::Window { entries } => {
            let start = horizon.map_or(0, |h| entries.partition_point(|e| e.t <= h));
            let mut fold = Fold::new();
            for e in entries.range(start..) {
                fold.add(e.t, &e.v);
            }
            // The oldest entry still inside is the next to leave.
            let until = match (entries.get(start), spec.window) {
                (Some(e), Some(w)) => e.t.saturating_add(w),
                _ => FOREVER,
            };
            R::fixed(fold.result(spec), until)
        }
        AggState::Scan => {
            let AggMode::Scan(log) = spec.mode else {
                return R::fixed(Value::Null, FOREVER);
            };
            let mut fold = Fold::new();
            let mut until = FOREVER;
            for e in cx.st.logs[log]
                .iter()
                .filter(|e| horizon.is_none_or(|h| e.t > h))
            {
                let matched = match &spec.filter {
                    Some(f) => {
                        let r = super::eval(f, &cx.with_row(&e.fields));
                        until = until.min(r.until);
                        r.v.truth().unwrap_or(false)
                    }
                    None => true,
                };
                if matched {
                    if let Some(w) = spec.window {
                        until = until.min(e.t.saturating_add(w));
                    }
                    let v = spec
                        .field
                        .and_then(|f| e.fields.get(f))
                        .cloned()
                        .unwrap_or(Value::Null);
                    fold.add(e.t, &v);
                }
            }
            R::fixed(fold.result(spec), until)
        }
    }
}
