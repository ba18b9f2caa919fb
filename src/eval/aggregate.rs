//! Aggregates over a customer's event history (§3).
//!
//! Three ways to keep one, chosen by the compiler:
//! - all history with a filter on the event alone: running values, O(1);
//! - a window with such a filter: the matching entries still inside the
//!   window (and nothing older: no window can see them again);
//! - a filter that reads more than the event: the raw log of the event type,
//!   filtered when the value is needed.

use super::{Ctx, FOREVER, R};
use crate::compile::fast::{Quick, Shape};
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
    /// All-history running values. Boxed: a program has few of them, and
    /// inline they would make every aggregate's state, in every customer,
    /// three times the size of a window's.
    Running(Box<Running>),
    /// Matching entries inside the window, oldest first.
    Window(Window),
    /// Computed from a raw log.
    Scan,
}

/// An aggregate's running values over all history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Running {
    /// Matching events.
    pub count: i64,
    /// Sum of non-null fields.
    pub sum: f64,
    /// Non-null fields.
    pub nonnull: i64,
    /// Smallest non-null field.
    pub min: Value,
    /// Largest non-null field.
    pub max: Value,
    /// Earliest matching event.
    pub first: Option<Entry>,
    /// Latest matching event.
    pub last: Option<Entry>,
}

impl AggState {
    /// The empty state for an aggregate.
    pub fn new(spec: &AggSpec) -> AggState {
        match spec.mode {
            AggMode::Running => AggState::Running(Box::new(Running {
                count: 0,
                sum: 0.0,
                nonnull: 0,
                min: Value::Null,
                max: Value::Null,
                first: None,
                last: None,
            })),
            AggMode::Window => AggState::Window(Window::default()),
            AggMode::Scan(_) => AggState::Scan,
        }
    }

    /// Counts an event that matched the filter. `now` is the instant it is
    /// applied at: an entry already outside the window is dropped.
    pub fn insert(&mut self, spec: &AggSpec, entry: Entry, now: i64) {
        match self {
            AggState::Running(r) => {
                let Running {
                    count,
                    sum,
                    nonnull,
                    min,
                    max,
                    first,
                    last,
                } = &mut **r;
                tally(count, sum, nonnull, &entry.v);
                if extreme(min, &entry.v, Ordering::Less) {
                    *min = entry.v.clone();
                }
                if extreme(max, &entry.v, Ordering::Greater) {
                    *max = entry.v.clone();
                }
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
            AggState::Window(w) => {
                let window = spec.window.unwrap_or(i64::MAX);
                if entry.t <= now.saturating_sub(window) {
                    return;
                }
                w.insert(entry);
            }
            AggState::Scan => {}
        }
    }

    /// Drops entries no window can see again at or after `now`.
    pub fn prune(&mut self, spec: &AggSpec, now: i64) {
        if let (AggState::Window(w), Some(window)) = (self, spec.window) {
            w.expire(now.saturating_sub(window));
        }
    }

    /// The instant the oldest window entry leaves, if any.
    pub fn leaves(&self, spec: &AggSpec) -> Option<i64> {
        match (self, spec.window) {
            (AggState::Window(w), Some(window)) if !w.entries.is_empty() => {
                Some(w.oldest.saturating_add(window))
            }
            _ => None,
        }
    }

    /// Entries retained (for the per-customer limit).
    pub fn retained(&self) -> usize {
        match self {
            AggState::Window(w) => w.entries.len(),
            _ => 0,
        }
    }
}

/// Counts one value into running totals: null fields count as events but
/// not in sums and averages (§3).
fn tally(count: &mut i64, sum: &mut f64, nonnull: &mut i64, v: &Value) {
    *count += 1;
    if let Some(x) = v.as_f64() {
        *sum += x;
    }
    if !v.is_null() {
        *nonnull += 1;
    }
}

/// Does `v` replace the extreme `current` (the minimum for `Less`)? Nulls
/// never count.
fn extreme(current: &Value, v: &Value, beyond: Ordering) -> bool {
    !v.is_null() && (current.is_null() || v.compare(current) == Some(beyond))
}

/// A window's entries with running totals over all of them.
///
/// The totals equal folding the entries oldest first, bit for bit: an entry
/// after the newest is added; anything else (an entry out of order, entries
/// leaving) refolds. The engine drops leavers when it steps, so at the
/// instants it evaluates, every entry is usually inside the window and
/// count, sum and avg take O(1).
///
/// The oldest entry's time is kept beside them too: the engine asks whether
/// anything has left at every step of the customer, and answering from the
/// state itself, not the entries' buffer, spares a cache miss per window
/// when states are many.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    entries: VecDeque<Entry>,
    sum: f64,
    nonnull: i64,
    oldest: i64,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            entries: VecDeque::new(),
            sum: 0.0,
            nonnull: 0,
            oldest: FOREVER,
        }
    }
}

impl Window {
    fn insert(&mut self, entry: Entry) {
        let at = self
            .entries
            .partition_point(|e| (e.t, e.seq) < (entry.t, entry.seq));
        let newest = at == self.entries.len();
        if newest {
            let mut count = 0;
            tally(&mut count, &mut self.sum, &mut self.nonnull, &entry.v);
        }
        self.oldest = self.oldest.min(entry.t);
        self.entries.insert(at, entry);
        if !newest {
            self.refold();
        }
    }

    /// Drops the entries at or before `horizon`.
    fn expire(&mut self, horizon: i64) {
        if self.oldest > horizon {
            return;
        }
        let before = self.entries.len();
        while self.entries.front().is_some_and(|e| e.t <= horizon) {
            self.entries.pop_front();
        }
        if self.entries.len() != before {
            self.refold();
        }
    }

    /// Is every entry inside the window at `now`?
    #[inline(always)]
    fn all_inside(&self, spec: &AggSpec, now: i64) -> bool {
        spec.window.is_none_or(|w| self.holds_all(w, now))
    }

    /// Is every entry inside a window of length `window` at `now`?
    #[inline(always)]
    fn holds_all(&self, window: i64, now: i64) -> bool {
        self.oldest > now.saturating_sub(window)
    }

    fn refold(&mut self) {
        let t = Tally::fold(false, self.entries.iter().map(|e| (e.t, &e.v)));
        (self.sum, self.nonnull) = (t.sum, t.nonnull);
        self.oldest = t.first.map_or(FOREVER, |(at, _)| at);
    }
}

/// Snapshots and JSON states hold the entries only: the totals follow from
/// them.
#[derive(Serialize)]
#[serde(rename = "Window")]
struct WindowOut<'a> {
    entries: &'a VecDeque<Entry>,
}

#[derive(Deserialize)]
#[serde(rename = "Window")]
struct WindowIn {
    entries: VecDeque<Entry>,
}

impl Serialize for Window {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WindowOut {
            entries: &self.entries,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut w = Window {
            entries: WindowIn::deserialize(d)?.entries,
            ..Window::default()
        };
        w.refold();
        Ok(w)
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

static NULL: Value = Value::Null;

/// What the aggregate functions read of the matching entries, borrowed.
struct Tally<'a> {
    count: i64,
    sum: f64,
    nonnull: i64,
    min: &'a Value,
    max: &'a Value,
    first: Option<(i64, &'a Value)>,
    last: Option<(i64, &'a Value)>,
}

impl<'a> Tally<'a> {
    /// Folds entries given oldest first; minima and maxima are compared
    /// only when `extremes` asks for them.
    fn fold(extremes: bool, items: impl Iterator<Item = (i64, &'a Value)>) -> Tally<'a> {
        let mut t = Tally {
            count: 0,
            sum: 0.0,
            nonnull: 0,
            min: &NULL,
            max: &NULL,
            first: None,
            last: None,
        };
        for (at, v) in items {
            tally(&mut t.count, &mut t.sum, &mut t.nonnull, v);
            if extremes {
                if extreme(t.min, v, Ordering::Less) {
                    t.min = v;
                }
                if extreme(t.max, v, Ordering::Greater) {
                    t.max = v;
                }
            }
            t.first = t.first.or(Some((at, v)));
            t.last = Some((at, v));
        }
        t
    }

    fn result(&self, spec: &AggSpec) -> Value {
        let pick = |e: Option<(i64, &Value)>| match (e, spec.field) {
            (None, _) => Value::Null,
            (Some((t, _)), None) => Value::Time(t),
            (Some((_, v)), Some(_)) => v.clone(),
        };
        match spec.func {
            AggFunc::Count => Value::Int(self.count),
            AggFunc::Sum => Value::Number(self.sum),
            AggFunc::Avg => {
                if self.nonnull == 0 {
                    Value::Null
                } else {
                    Value::Number(self.sum / self.nonnull as f64)
                }
            }
            AggFunc::Min => self.min.clone(),
            AggFunc::Max => self.max.clone(),
            AggFunc::First => pick(self.first),
            AggFunc::Last => pick(self.last),
        }
    }
}

fn ends(e: Option<&Entry>) -> Option<(i64, &Value)> {
    e.map(|e| (e.t, &e.v))
}

fn wants_extremes(spec: &AggSpec) -> bool {
    matches!(spec.func, AggFunc::Min | AggFunc::Max)
}

/// The value of aggregate `i` at `cx.now`, and how long it holds.
pub fn value(i: usize, cx: &Ctx<'_>) -> R {
    let (t, until) = read(i, cx);
    R::fixed(t.result(&cx.ir.aggs[i]), until)
}

/// A [`Quick`] read of an aggregate as a number: the common shapes in
/// place, inlined into the fast tier, anything else through one call to
/// the general read. No value is built.
#[inline(always)]
pub(crate) fn quick_number(q: Quick, cx: &Ctx<'_>) -> Option<f64> {
    match (q.shape, &cx.st.aggs[q.agg]) {
        (Shape::WindowSum(w), AggState::Window(win)) if win.holds_all(w, cx.now) => Some(win.sum),
        (Shape::Sum, AggState::Running(r)) => Some(r.sum),
        (Shape::WindowCount(_) | Shape::Count, _) => quick_whole(q, cx).map(|n| n as f64),
        _ => number_read(q.agg, cx),
    }
}

/// A [`Quick`] read of an aggregate as an int or time.
#[inline(always)]
pub(crate) fn quick_whole(q: Quick, cx: &Ctx<'_>) -> Option<i64> {
    match (q.shape, &cx.st.aggs[q.agg]) {
        (Shape::WindowCount(w), AggState::Window(win)) if win.holds_all(w, cx.now) => {
            Some(win.entries.len() as i64)
        }
        (Shape::Count, AggState::Running(r)) => Some(r.count),
        (Shape::LastTime, AggState::Running(r)) => r.last.as_ref().map(|e| e.t),
        _ => whole_read(q.agg, cx),
    }
}

/// The general reads behind [`Quick`], out of line: the value as the
/// aggregate functions define it, taken as a number or whole seconds.
#[inline(never)]
fn number_read(i: usize, cx: &Ctx<'_>) -> Option<f64> {
    read(i, cx).0.result(&cx.ir.aggs[i]).as_f64()
}

#[inline(never)]
fn whole_read(i: usize, cx: &Ctx<'_>) -> Option<i64> {
    read(i, cx).0.result(&cx.ir.aggs[i]).as_whole()
}

/// What aggregate `i` reads of the matching entries at `cx.now`, and the
/// instant up to which that holds. Inlined: returned through memory, the
/// borrowed tally costs a store-forwarding stall on every read.
#[inline(always)]
fn read<'a>(i: usize, cx: &'a Ctx<'_>) -> (Tally<'a>, i64) {
    let ir: &Ir = cx.ir;
    let spec = &ir.aggs[i];
    let horizon = spec.window.map(|w| cx.now.saturating_sub(w));
    match &cx.st.aggs[i] {
        AggState::Running(r) => {
            let t = Tally {
                count: r.count,
                sum: r.sum,
                nonnull: r.nonnull,
                min: &r.min,
                max: &r.max,
                first: ends(r.first.as_ref()),
                last: ends(r.last.as_ref()),
            };
            (t, FOREVER)
        }
        AggState::Window(w) => {
            let entries = &w.entries;
            let start = match horizon {
                Some(h) if !w.all_inside(spec, cx.now) => entries.partition_point(|e| e.t <= h),
                _ => 0,
            };
            let t = if start == 0 && !wants_extremes(spec) {
                Tally {
                    count: entries.len() as i64,
                    sum: w.sum,
                    nonnull: w.nonnull,
                    min: &NULL,
                    max: &NULL,
                    first: ends(entries.front()),
                    last: ends(entries.back()),
                }
            } else {
                Tally::fold(
                    wants_extremes(spec),
                    entries.range(start..).map(|e| (e.t, &e.v)),
                )
            };
            // The oldest entry still inside is the next to leave.
            let until = match (entries.get(start), spec.window) {
                (Some(e), Some(w)) => e.t.saturating_add(w),
                _ => FOREVER,
            };
            (t, until)
        }
        AggState::Scan => {
            let AggMode::Scan(log) = spec.mode else {
                return (Tally::fold(false, std::iter::empty()), FOREVER);
            };
            let mut until = FOREVER;
            let matching = cx.st.logs[log]
                .iter()
                .filter(|e| horizon.is_none_or(|h| e.t > h))
                .filter_map(|e| {
                    if let Some(f) = &spec.filter {
                        let r = super::eval(f, &cx.with_row(&e.fields));
                        until = until.min(r.until);
                        if r.v.truth() != Some(true) {
                            return None;
                        }
                    }
                    if let Some(w) = spec.window {
                        until = until.min(e.t.saturating_add(w));
                    }
                    Some((
                        e.t,
                        spec.field.and_then(|f| e.fields.get(f)).unwrap_or(&NULL),
                    ))
                });
            let t = Tally::fold(wants_extremes(spec), matching);
            (t, until)
        }
    }
}
