//! Aggregates over a customer's event history (§3), kept as the program's
//! layout (`compile::layout`) says:
//!
//! - all history with a filter on the event alone: running values, O(1);
//! - a window with such a filter: the entries of its event type's store
//!   from the window's cursor on, with running totals (count, exact sum,
//!   the oldest and newest counted, a monotonic deque for `min`/`max`):
//!   O(1) amortized per entry added or leaving, whatever the window's
//!   length;
//! - a filter that reads more than the event: recomputed from the store's
//!   entries when the value is needed.
//!
//! Entries are kept oldest first, ties in arrival order, and are named by
//! absolute position, which a late entry (inserted before others) moves
//! on by one for everything after it.

use super::exact::ExactSum;
use super::facts::FOREVER;
use super::{Ctx, R};
use crate::compile::fast::{Quick, Shape};
use crate::compile::layout::{AggSlot, StoreSpec};
use crate::compile::{AggId, AggMode, AggSpec, Ir};
use crate::syntax::ast::AggFunc;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::collections::VecDeque;

/// The aggregates' state of one customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Aggregates {
    /// All-history aggregates, by running slot.
    running: Box<[Running]>,
    /// Per store: its entries and cursors.
    stores: Box<[Store]>,
    /// Windows with running totals, by window slot.
    windows: Box<[Totals]>,
    /// Plain-count windows that a live upgrade added while their store
    /// held entries: the aggregate and the arrival number of the last
    /// entry it does not count (its history starts empty). Usually none.
    births: Vec<(AggId, u64)>,
}

/// The running values of an aggregate over all history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Running {
    /// `count`: matching events.
    Count(u64),
    /// `sum` and `avg`: the exact sum of the non-null fields, and how many.
    Sum(ExactSum, u64),
    /// `min` or `max`: the extreme non-null field.
    Extreme(Value),
    /// `first` or `last`: that event's time and field.
    End(Option<(i64, Value)>),
}

/// One event type's entries, shared by every window over it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Store {
    /// Absolute position of `entries[0]`.
    base: u64,
    /// Oldest first, ties in arrival order.
    entries: VecDeque<Entry>,
    /// Per cursor (window length): the absolute position of the first
    /// entry inside that window, as of the last instant pruned to.
    cursors: SmallVec<[u64; 2]>,
}

/// One retained event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    /// Its time.
    t: i64,
    /// The customer's arrival number of the event.
    seq: u64,
    /// Which of the store's arrival-decided filters it matched, by bit.
    mask: u64,
    /// The fields the store keeps (see `StoreSpec::fields`).
    values: Box<[Value]>,
}

/// A window's running totals over the entries it counts (inside it and,
/// for a filtered one, matching).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Totals {
    /// Counted entries.
    count: u32,
    /// Of those, with a non-null field.
    nonnull: u32,
    /// Absolute position of the oldest counted entry (when any).
    head: u64,
    /// Absolute position of the newest counted entry (when any).
    last: u64,
    /// The exact sum of the fields (`sum`, `avg`).
    sum: ExactSum,
    /// `min`/`max`: positions of the counted entries that may still become
    /// the extreme, oldest first, their fields monotonic (the extreme in
    /// front). Boxed: eight bytes in the many windows that keep none.
    #[allow(clippy::box_collection)]
    extremes: Option<Box<VecDeque<u64>>>,
    /// Entries that arrived at or before this arrival number are not
    /// counted: a live upgrade added the window (0: none).
    born: u64,
}

static NULL: Value = Value::Null;

/// Does a value replace the current extreme of `func` (`min`: a smaller
/// one)? Nulls never count; among equal values the oldest stays.
fn beyond(func: AggFunc, v: &Value, current: &Value) -> bool {
    let order = match func {
        AggFunc::Min => Ordering::Less,
        _ => Ordering::Greater,
    };
    !v.is_null() && (current.is_null() || v.compare(current) == Some(order))
}

impl Aggregates {
    /// Nothing counted yet.
    pub fn new(ir: &Ir) -> Aggregates {
        let running = ir
            .aggs
            .iter()
            .filter(|a| a.mode == AggMode::Running)
            .map(|a| match a.func {
                AggFunc::Count => Running::Count(0),
                AggFunc::Sum | AggFunc::Avg => Running::Sum(ExactSum::default(), 0),
                AggFunc::Min | AggFunc::Max => Running::Extreme(Value::Null),
                AggFunc::First | AggFunc::Last => Running::End(None),
            })
            .collect();
        let stores = ir
            .layout
            .stores
            .iter()
            .map(|s| Store {
                base: 0,
                entries: VecDeque::new(),
                cursors: SmallVec::from_elem(0, s.cursors.len()),
            })
            .collect();
        let windows = (0..ir.layout.windows).map(|_| Totals::default()).collect();
        Aggregates {
            running,
            stores,
            windows,
            births: Vec::new(),
        }
    }

    /// Entries retained over all stores (for the per-customer limit).
    pub fn retained(&self) -> usize {
        self.stores.iter().map(|s| s.entries.len()).sum()
    }

    /// Does this state have the program's shape, and are its entries in
    /// order? Checked once for a state from outside (a snapshot).
    pub fn fits(&self, ir: &Ir) -> bool {
        let running = ir.aggs.iter().filter(|a| a.mode == AggMode::Running);
        let kinds = running.zip(self.running.iter()).all(|(a, r)| {
            matches!(
                (a.func, r),
                (AggFunc::Count, Running::Count(_))
                    | (AggFunc::Sum | AggFunc::Avg, Running::Sum(..))
                    | (AggFunc::Min | AggFunc::Max, Running::Extreme(_))
                    | (AggFunc::First | AggFunc::Last, Running::End(_))
            )
        });
        let stores = self.stores.len() == ir.layout.stores.len()
            && self
                .stores
                .iter()
                .zip(&ir.layout.stores)
                .all(|(s, spec)| s.fits(spec, ir));
        kinds
            && self.running.len() == ir.layout.running
            && self.windows.len() == ir.layout.windows
            && stores
    }

    /// The arrival number a plain-count window's history starts after.
    fn born(&self, a: AggId) -> u64 {
        self.births
            .iter()
            .find(|(b, _)| *b == a)
            .map_or(0, |(_, seq)| *seq)
    }

    /// Cheap shape check, made at every step.
    pub fn shape_fits(&self, ir: &Ir) -> bool {
        self.running.len() == ir.layout.running
            && self.windows.len() == ir.layout.windows
            && self.stores.len() == ir.layout.stores.len()
            && self
                .stores
                .iter()
                .zip(&ir.layout.stores)
                .all(|(s, spec)| s.cursors.len() == spec.cursors.len())
    }

    /// The number of entries of the store that holds the most.
    pub fn largest_store(&self) -> Option<usize> {
        self.stores.iter().map(|s| s.entries.len()).max()
    }

    /// The first instant an entry leaves a window, if any.
    pub fn next_leave(&self, ir: &Ir) -> Option<i64> {
        self.stores
            .iter()
            .zip(&ir.layout.stores)
            .flat_map(|(s, spec)| {
                spec.cursors
                    .iter()
                    .zip(&s.cursors)
                    .filter_map(|(w, c)| s.get(*c).map(|e| e.t.saturating_add(*w)))
            })
            .min()
    }

    /// Counts an event of type `event` at time `t` in every aggregate over
    /// it, at instant `tau` (windows pruned to `tau` already); `decided`
    /// says which filters about its fields hold (see [`decide`]).
    pub fn insert(
        &mut self,
        ir: &Ir,
        event: usize,
        fields: &[Value],
        (t, seq, tau): (i64, u64, i64),
        decided: &Decided,
    ) {
        for (&a, &matched) in ir.aggs_by_event[event].iter().zip(&decided.running) {
            let spec = &ir.aggs[a];
            if let (AggSlot::Running(slot), true) = (ir.layout.slots[a], matched) {
                let v = spec.field.and_then(|f| fields.get(f)).unwrap_or(&NULL);
                running_insert(&mut self.running[slot], spec.func, v, t);
            }
        }
        let Some(store) = ir.layout.store_of_event[event] else {
            return;
        };
        let spec = &ir.layout.stores[store];
        let inside: SmallVec<[bool; 4]> = spec
            .cursors
            .iter()
            .map(|w| t > tau.saturating_sub(*w))
            .collect();
        // An entry no window can see is not kept (unless all history is).
        if !spec.forever && !inside.contains(&true) {
            return;
        }
        let mask = decided.mask;
        let values: Box<[Value]> = if spec.all_fields {
            fields.into()
        } else {
            spec.fields
                .iter()
                .map(|f| fields.get(*f).cloned().unwrap_or(Value::Null))
                .collect()
        };
        let s = &mut self.stores[store];
        let pos = s.entries.partition_point(|e| e.t <= t);
        let at = s.base + pos as u64;
        let appended = pos == s.entries.len();
        s.entries.insert(
            pos,
            Entry {
                t,
                seq,
                mask,
                values,
            },
        );
        for (c, inside) in inside.iter().enumerate() {
            // An entry outside a window goes before its first inside (a
            // window's entries are the newest): that one moves on.
            if !inside {
                s.cursors[c] += 1;
            }
        }
        for (c, &inside) in inside.iter().enumerate() {
            for &a in &spec.totals[c] {
                let AggSlot::Window {
                    state: Some(w),
                    bit,
                    field,
                    ..
                } = ir.layout.slots[a]
                else {
                    continue;
                };
                let tot = &mut self.windows[w];
                if !appended {
                    tot.shift(at);
                }
                let counted = inside && bit.is_none_or(|b| mask >> b & 1 == 1) && seq > tot.born;
                if counted {
                    tot.add(s, at, field, ir.aggs[a].func, appended, bit);
                }
            }
        }
    }

    /// Drops what leaves every window at or before `tau`.
    pub fn prune(&mut self, ir: &Ir, tau: i64) {
        for (s, spec) in self.stores.iter_mut().zip(&ir.layout.stores) {
            for (c, w) in spec.cursors.iter().enumerate() {
                let horizon = tau.saturating_sub(*w);
                while s.get(s.cursors[c]).is_some_and(|e| e.t <= horizon) {
                    let at = s.cursors[c];
                    for &a in &spec.totals[c] {
                        leave(ir, a, s, &mut self.windows, at);
                    }
                    s.cursors[c] += 1;
                }
            }
            if !spec.forever {
                let keep_from = s.cursors.iter().copied().min().unwrap_or(s.end());
                while s.base < keep_from && s.entries.pop_front().is_some() {
                    s.base += 1;
                }
            }
        }
        if !self.births.is_empty() {
            let stores = &self.stores;
            // A birth no entry it excludes is left of is over.
            self.births.retain(|(a, born)| match ir.layout.slots[*a] {
                AggSlot::Window { store, .. } => stores[store]
                    .entries
                    .front()
                    .is_some_and(|e| e.seq <= *born),
                _ => false,
            });
        }
    }

    /// Drops the oldest entries of the store with the most, `n` of them in
    /// all (a customer past the per-customer limit): each leaves every
    /// window as if its time had passed. Returns how many were dropped.
    pub fn evict(&mut self, ir: &Ir, n: usize) -> usize {
        let mut dropped = 0;
        while dropped < n {
            let Some((store, _)) = self
                .stores
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.entries.is_empty())
                .max_by_key(|(i, s)| (s.entries.len(), std::cmp::Reverse(*i)))
            else {
                break;
            };
            let spec = &ir.layout.stores[store];
            let s = &mut self.stores[store];
            let at = s.base;
            for c in 0..s.cursors.len() {
                if s.cursors[c] > at {
                    continue;
                }
                for &a in &spec.totals[c] {
                    leave(ir, a, s, &mut self.windows, at);
                }
                s.cursors[c] = at + 1;
            }
            s.entries.pop_front();
            s.base += 1;
            dropped += 1;
        }
        dropped
    }
}

/// Which filters of the aggregates over an event type hold for one event:
/// worked out before the aggregates change, from the event's fields.
pub(crate) struct Decided {
    /// Per all-history aggregate of the event type, in order.
    running: SmallVec<[bool; 8]>,
    /// The store's filters, by bit.
    mask: u64,
}

/// The filters over `event` about an event with `cx`'s row.
pub(crate) fn decide(ir: &Ir, event: usize, cx: &Ctx<'_>) -> Decided {
    let holds = |a: &AggId| ir.aggs[*a].filter.as_ref().is_none_or(|f| cx.test(f));
    let running = ir.aggs_by_event[event].iter().map(holds).collect();
    let mut mask = 0u64;
    if let Some(store) = ir.layout.store_of_event[event] {
        for (bit, a) in ir.layout.stores[store].filters.iter().enumerate() {
            if holds(a) {
                mask |= 1 << bit;
            }
        }
    }
    Decided { running, mask }
}

/// The entry at `at`, the oldest inside window `a`, leaves it.
fn leave(ir: &Ir, a: AggId, s: &Store, windows: &mut [Totals], at: u64) {
    let AggSlot::Window {
        state: Some(slot),
        bit,
        field,
        ..
    } = ir.layout.slots[a]
    else {
        return;
    };
    let tot = &mut windows[slot];
    if s.get(at).is_some_and(|e| tot.counts(e, bit)) {
        tot.remove(s, at, field, bit);
    }
}

fn running_insert(r: &mut Running, func: AggFunc, v: &Value, t: i64) {
    match r {
        Running::Count(n) => *n += 1,
        Running::Sum(sum, nonnull) => {
            if let Some(x) = v.as_f64() {
                sum.add(x);
            }
            if !v.is_null() {
                *nonnull += 1;
            }
        }
        Running::Extreme(current) => {
            if beyond(func, v, current) {
                *current = v.clone();
            }
        }
        Running::End(end) => {
            // Ties in arrival order: the first stays first, a later event
            // at the same second is the last.
            let replaces = match (func, &*end) {
                (_, None) => true,
                (AggFunc::First, Some((t0, _))) => t < *t0,
                (_, Some((t0, _))) => t >= *t0,
            };
            if replaces {
                *end = Some((t, v.clone()));
            }
        }
    }
}

impl Store {
    fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    fn get(&self, at: u64) -> Option<&Entry> {
        let i = usize::try_from(at.checked_sub(self.base)?).ok()?;
        self.entries.get(i)
    }

    fn fits(&self, spec: &StoreSpec, ir: &Ir) -> bool {
        let width = spec.width(ir.events[spec.event].fields.len());
        self.cursors.len() == spec.cursors.len()
            && self
                .cursors
                .iter()
                .all(|c| (self.base..=self.end()).contains(c))
            && self.entries.iter().all(|e| e.values.len() == width)
            && self
                .entries
                .iter()
                .zip(self.entries.iter().skip(1))
                .all(|(a, b)| a.t <= b.t)
    }

    /// The first position at or after `from` whose entry `tot` counts, up
    /// to `to` (inclusive).
    fn next_counted(&self, from: u64, to: u64, tot: &Totals, bit: Option<u8>) -> Option<u64> {
        (from..=to).find(|at| self.get(*at).is_some_and(|e| tot.counts(e, bit)))
    }
}

impl Totals {
    /// Does this window (with filter `bit`) count entry `e`, when inside?
    fn counts(&self, e: &Entry, bit: Option<u8>) -> bool {
        bit.is_none_or(|b| e.mask >> b & 1 == 1) && e.seq > self.born
    }

    /// A late entry went in at `at`: counted positions from it on moved.
    fn shift(&mut self, at: u64) {
        if self.count > 0 {
            if self.head >= at {
                self.head += 1;
            }
            if self.last >= at {
                self.last += 1;
            }
        }
        if let Some(d) = self.extremes.as_deref_mut() {
            d.iter_mut().filter(|x| **x >= at).for_each(|x| *x += 1);
        }
    }

    /// Counts the entry at `at` of `s` (appended at the end when
    /// `appended`).
    fn add(
        &mut self,
        s: &Store,
        at: u64,
        field: Option<usize>,
        func: AggFunc,
        appended: bool,
        bit: Option<u8>,
    ) {
        let Some(entry) = s.get(at) else {
            return;
        };
        let v = field.and_then(|f| entry.values.get(f)).unwrap_or(&NULL);
        if self.count == 0 {
            (self.head, self.last) = (at, at);
        } else {
            self.head = self.head.min(at);
            self.last = self.last.max(at);
        }
        self.count += 1;
        if let Some(x) = v.as_f64() {
            self.sum.add(x);
        }
        if !v.is_null() {
            self.nonnull += 1;
        }
        if !matches!(func, AggFunc::Min | AggFunc::Max) {
            return;
        }
        let field_of = |at: u64| {
            s.get(at)
                .and_then(|e| field.and_then(|f| e.values.get(f)))
                .unwrap_or(&NULL)
        };
        let d = self.extremes.get_or_insert_with(Default::default);
        if appended {
            if !v.is_null() {
                while d.back().is_some_and(|b| beyond(func, v, field_of(*b))) {
                    d.pop_back();
                }
                d.push_back(at);
            }
            return;
        }
        // In the middle: the deque from scratch, over the counted entries.
        let born = self.born;
        d.clear();
        for p in self.head..=self.last {
            let counted = s
                .get(p)
                .is_some_and(|e| bit.is_none_or(|b| e.mask >> b & 1 == 1) && e.seq > born);
            let v = field_of(p);
            if !counted || v.is_null() {
                continue;
            }
            while d.back().is_some_and(|b| beyond(func, v, field_of(*b))) {
                d.pop_back();
            }
            d.push_back(p);
        }
    }

    /// The counted entry at `at`, the oldest, leaves.
    fn remove(&mut self, s: &Store, at: u64, field: Option<usize>, bit: Option<u8>) {
        if self.count == 0 {
            return;
        }
        let v = s
            .get(at)
            .and_then(|e| field.and_then(|f| e.values.get(f)))
            .unwrap_or(&NULL);
        self.count -= 1;
        if self.count == 0 {
            // Nothing left: exactly zero, overflowed or not.
            self.sum.clear();
            self.nonnull = 0;
        } else {
            if let Some(x) = v.as_f64() {
                self.sum.sub(x);
            }
            if !v.is_null() {
                self.nonnull = self.nonnull.saturating_sub(1);
            }
            if let Some(next) = s.next_counted(at + 1, self.last, self, bit) {
                self.head = next;
            }
        }
        if let Some(d) = self.extremes.as_deref_mut() {
            while d.front().is_some_and(|f| *f <= at) {
                d.pop_front();
            }
        }
    }
}

/// What an aggregate function reads of the counted entries.
struct Tally<'a> {
    count: i64,
    sum: Option<f64>,
    nonnull: i64,
    extreme: &'a Value,
    first: Option<(i64, &'a Value)>,
    last: Option<(i64, &'a Value)>,
}

impl<'a> Tally<'a> {
    /// Folds entries given oldest first.
    fn fold(func: AggFunc, items: impl Iterator<Item = (i64, &'a Value)>) -> Tally<'a> {
        let mut sum = ExactSum::default();
        let mut t = Tally {
            count: 0,
            sum: None,
            nonnull: 0,
            extreme: &NULL,
            first: None,
            last: None,
        };
        for (at, v) in items {
            t.count += 1;
            if let Some(x) = v.as_f64() {
                sum.add(x);
            }
            if !v.is_null() {
                t.nonnull += 1;
            }
            if matches!(func, AggFunc::Min | AggFunc::Max) && beyond(func, v, t.extreme) {
                t.extreme = v;
            }
            t.first = t.first.or(Some((at, v)));
            t.last = Some((at, v));
        }
        t.sum = sum.value();
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
            AggFunc::Sum => self.sum.map_or(Value::Null, Value::Number),
            AggFunc::Avg => match self.sum {
                Some(s) if self.nonnull > 0 => Value::Number(s / self.nonnull as f64),
                _ => Value::Null,
            },
            AggFunc::Min | AggFunc::Max => self.extreme.clone(),
            AggFunc::First => pick(self.first),
            AggFunc::Last => pick(self.last),
        }
    }
}

/// The value of aggregate `a` at `cx.now`, and how long it holds.
pub(crate) fn value(a: AggId, cx: &Ctx<'_>) -> R {
    let spec = &cx.ir.aggs[a];
    let aggs = &cx.facts.aggs;
    match cx.ir.layout.slots[a] {
        AggSlot::Running(slot) => {
            let v = match &aggs.running[slot] {
                Running::Count(n) => Value::Int(*n as i64),
                Running::Sum(sum, nonnull) => match (spec.func, sum.value()) {
                    (AggFunc::Avg, Some(s)) if *nonnull > 0 => Value::Number(s / *nonnull as f64),
                    (AggFunc::Avg, _) => Value::Null,
                    (_, s) => s.map_or(Value::Null, Value::Number),
                },
                Running::Extreme(v) => v.clone(),
                Running::End(None) => Value::Null,
                Running::End(Some((t, v))) => match spec.field {
                    None => Value::Time(*t),
                    Some(_) => v.clone(),
                },
            };
            R::fixed(v, FOREVER)
        }
        AggSlot::Window {
            store,
            cursor,
            bit,
            state,
            field,
        } => {
            let s = &aggs.stores[store];
            let w = cx.ir.layout.stores[store].cursors[cursor];
            let horizon = cx.now.saturating_sub(w);
            let from = s.cursors[cursor];
            let leaves = |at: u64| s.get(at).map_or(FOREVER, |e| e.t.saturating_add(w));
            let totals = state.map(|st| &aggs.windows[st]);
            let born = match totals {
                Some(t) => t.born,
                None => aggs.born(a),
            };
            if s.get(from).is_none_or(|e| e.t > horizon) && (totals.is_some() || born == 0) {
                // Every entry from the cursor on is inside: the totals hold.
                let (v, oldest) = match totals {
                    None => (Value::Int((s.end() - from) as i64), from),
                    Some(tot) => (window_value(spec, s, tot, field), tot.head),
                };
                let count = totals.map_or(s.end() - from, |t| u64::from(t.count));
                let until = if count == 0 { FOREVER } else { leaves(oldest) };
                return R::fixed(v, until);
            }
            // Asked at an instant past the last step: what is inside now.
            let counted = (from..s.end()).filter_map(|at| {
                let e = s.get(at)?;
                let counts = bit.is_none_or(|b| e.mask >> b & 1 == 1) && e.seq > born;
                (e.t > horizon && counts).then_some(e)
            });
            let first = counted.clone().next().map(|e| e.t);
            let t = Tally::fold(
                spec.func,
                counted.map(|e| (e.t, field.and_then(|f| e.values.get(f)).unwrap_or(&NULL))),
            );
            let until = first.map_or(FOREVER, |t| t.saturating_add(w));
            R::fixed(t.result(spec), until)
        }
        AggSlot::Scan { store, cursor } => {
            let s = &aggs.stores[store];
            let w = cursor.map(|c| cx.ir.layout.stores[store].cursors[c]);
            let horizon = w.map(|w| cx.now.saturating_sub(w));
            let mut until = FOREVER;
            let matching = s
                .entries
                .iter()
                .filter(|e| horizon.is_none_or(|h| e.t > h))
                .filter_map(|e| {
                    if let Some(f) = &spec.filter {
                        let r = super::eval(f, &cx.with_row(&e.values));
                        until = until.min(r.until);
                        if r.v.truth() != Some(true) {
                            return None;
                        }
                    }
                    if let Some(w) = w {
                        until = until.min(e.t.saturating_add(w));
                    }
                    Some((
                        e.t,
                        spec.field.and_then(|f| e.values.get(f)).unwrap_or(&NULL),
                    ))
                });
            let t = Tally::fold(spec.func, matching);
            R::fixed(t.result(spec), until)
        }
    }
}

/// A window's value from its totals (every counted entry inside).
fn window_value(spec: &AggSpec, s: &Store, tot: &Totals, field: Option<usize>) -> Value {
    let entry = |at: u64| s.get(at).filter(|_| tot.count > 0);
    let pick = |at: u64| match (entry(at), field) {
        (None, _) => Value::Null,
        (Some(e), None) => Value::Time(e.t),
        (Some(e), Some(f)) => e.values.get(f).cloned().unwrap_or(Value::Null),
    };
    match spec.func {
        AggFunc::Count => Value::Int(i64::from(tot.count)),
        AggFunc::Sum => tot.sum.value().map_or(Value::Null, Value::Number),
        AggFunc::Avg => match tot.sum.value() {
            Some(sum) if tot.nonnull > 0 => Value::Number(sum / f64::from(tot.nonnull)),
            _ => Value::Null,
        },
        AggFunc::Min | AggFunc::Max => tot
            .extremes
            .as_deref()
            .and_then(|d| d.front())
            .map_or(Value::Null, |at| pick(*at)),
        AggFunc::First => pick(tot.head),
        AggFunc::Last => pick(tot.last),
    }
}

/// A [`Quick`] read of an aggregate as a number: the common shapes in
/// place, inlined into the fast tier; anything else through the general
/// read. No value is built.
#[inline(always)]
pub(crate) fn quick_number(q: Quick, cx: &Ctx<'_>) -> Option<f64> {
    let aggs = &cx.facts.aggs;
    match q.shape {
        Shape::WindowSum {
            store,
            cursor,
            window,
            state,
        } => {
            let s = &aggs.stores[store];
            if s.get(s.cursors[cursor])
                .is_none_or(|e| e.t > cx.now.saturating_sub(window))
            {
                return aggs.windows[state].sum.value();
            }
            number_read(q.agg, cx)
        }
        Shape::Sum(slot) => match &aggs.running[slot] {
            Running::Sum(sum, _) => sum.value(),
            _ => number_read(q.agg, cx),
        },
        Shape::WindowCount { .. } | Shape::Count(_) => quick_whole(q, cx).map(|n| n as f64),
        _ => number_read(q.agg, cx),
    }
}

/// A [`Quick`] read of an aggregate as an int or time.
#[inline(always)]
pub(crate) fn quick_whole(q: Quick, cx: &Ctx<'_>) -> Option<i64> {
    let aggs = &cx.facts.aggs;
    match q.shape {
        Shape::WindowCount {
            store,
            cursor,
            window,
            state,
        } => {
            let s = &aggs.stores[store];
            let from = s.cursors[cursor];
            let plain_born = state.is_none() && !aggs.births.is_empty();
            if s.get(from)
                .is_none_or(|e| e.t > cx.now.saturating_sub(window))
                && !plain_born
            {
                return Some(match state {
                    Some(st) => i64::from(aggs.windows[st].count),
                    None => (s.end() - from) as i64,
                });
            }
            whole_read(q.agg, cx)
        }
        Shape::Count(slot) => match &aggs.running[slot] {
            Running::Count(n) => Some(*n as i64),
            _ => whole_read(q.agg, cx),
        },
        Shape::LastTime(slot) => match &aggs.running[slot] {
            Running::End(end) => end.as_ref().map(|(t, _)| *t),
            _ => whole_read(q.agg, cx),
        },
        _ => whole_read(q.agg, cx),
    }
}

/// The general reads behind [`Quick`], out of line.
#[inline(never)]
fn number_read(a: AggId, cx: &Ctx<'_>) -> Option<f64> {
    value(a, cx).v.as_f64()
}

#[inline(never)]
fn whole_read(a: AggId, cx: &Ctx<'_>) -> Option<i64> {
    value(a, cx).v.as_whole()
}

impl Aggregates {
    /// This customer's aggregates under a new program (a live upgrade):
    /// `kept[a]` is the old aggregate new aggregate `a` is, when its
    /// definition is unchanged. An event type's entries carry over when its
    /// fields are unchanged and the new program keeps no field the old one
    /// did not; aggregates that are kept keep their history, new ones
    /// start empty (they count only entries that arrive after `seq`, the
    /// customer's arrival number now). Cursors of new window lengths are
    /// placed as of `now`.
    pub fn migrate(
        old_ir: &Ir,
        ir: &Ir,
        old: &Aggregates,
        kept: &[Option<AggId>],
        seq: u64,
        now: i64,
    ) -> Aggregates {
        let mut new = Aggregates::new(ir);
        for (a, spec) in ir.aggs.iter().enumerate() {
            if let (AggSlot::Running(slot), Some(o)) = (ir.layout.slots[a], kept[a]) {
                if let AggSlot::Running(old_slot) = old_ir.layout.slots[o] {
                    if let Some(r) = old.running.get(old_slot) {
                        new.running[slot] = r.clone();
                    }
                }
            }
            let _ = spec;
        }
        for (si, spec) in ir.layout.stores.iter().enumerate() {
            let name = &ir.events[spec.event].name;
            let Some(osi) = old_ir
                .layout
                .stores
                .iter()
                .position(|o| old_ir.events[o.event].name == *name)
            else {
                continue;
            };
            let ospec = &old_ir.layout.stores[osi];
            if old_ir.events[ospec.event].fields != ir.events[spec.event].fields {
                continue;
            }
            // Where each value the new store keeps is in an old entry.
            let from: Option<Vec<usize>> = if spec.all_fields {
                ospec
                    .all_fields
                    .then(|| (0..ir.events[spec.event].fields.len()).collect())
            } else {
                spec.fields
                    .iter()
                    .map(|f| {
                        if ospec.all_fields {
                            Some(*f)
                        } else {
                            ospec.fields.iter().position(|o| o == f)
                        }
                    })
                    .collect()
            };
            let Some(from) = from else { continue };
            // Each new filter bit: the old bit of the same aggregate, if kept.
            let bits: Vec<Option<u8>> = spec
                .filters
                .iter()
                .map(|a| {
                    let o = kept[*a]?;
                    ospec.filters.iter().position(|x| *x == o).map(|b| b as u8)
                })
                .collect();
            let os = &old.stores[osi];
            let entries = os
                .entries
                .iter()
                .map(|e| {
                    let mut mask = 0u64;
                    for (bit, ob) in bits.iter().enumerate() {
                        if ob.is_some_and(|b| e.mask >> b & 1 == 1) {
                            mask |= 1 << bit;
                        }
                    }
                    let values = from
                        .iter()
                        .map(|i| e.values.get(*i).cloned().unwrap_or(Value::Null))
                        .collect();
                    Entry {
                        t: e.t,
                        seq: e.seq,
                        mask,
                        values,
                    }
                })
                .collect();
            let s = &mut new.stores[si];
            s.base = os.base;
            s.entries = entries;
            for (c, w) in spec.cursors.iter().enumerate() {
                s.cursors[c] = match ospec.cursors.iter().position(|x| x == w) {
                    Some(oc) => os.cursors[oc],
                    None => {
                        let horizon = now.saturating_sub(*w);
                        s.base + s.entries.partition_point(|e| e.t <= horizon) as u64
                    }
                };
            }
        }
        for (a, slot) in ir.layout.slots.iter().enumerate() {
            let AggSlot::Window { store, state, .. } = *slot else {
                continue;
            };
            if new.stores[store].entries.is_empty() {
                continue;
            }
            let old_totals = kept[a].and_then(|o| match old_ir.layout.slots[o] {
                AggSlot::Window {
                    state: Some(os), ..
                } => old.windows.get(os),
                _ => None,
            });
            let kept_plain = kept[a].is_some_and(|o| {
                matches!(old_ir.layout.slots[o], AggSlot::Window { state: None, .. })
            });
            match (state, old_totals) {
                (Some(w), Some(t)) => new.windows[w] = t.clone(),
                (Some(w), None) => new.windows[w].born = seq,
                (None, _) if !kept_plain => new.births.push((a, seq)),
                (None, _) => {
                    if let Some(born) = kept[a].map(|o| old.born(o)).filter(|b| *b > 0) {
                        new.births.push((a, born));
                    }
                }
            }
        }
        new
    }
}

/// An all-history aggregate's value, from outside (a snapshot of a former
/// version).
pub(crate) enum RunningValue {
    /// `count`.
    Count(u64),
    /// `sum`/`avg`: the sum and how many non-null fields.
    Sum(f64, u64),
    /// `min`/`max`.
    Extreme(Value),
    /// `first`/`last`: time and field.
    End(Option<(i64, Value)>),
}

/// An entry of a store, from outside: time, arrival number, the store's
/// filter bits, the values it keeps.
pub(crate) struct EntryParts {
    pub t: i64,
    pub seq: u64,
    pub mask: u64,
    pub values: Box<[Value]>,
}

impl Aggregates {
    /// The state from its parts (a snapshot of a former version): running
    /// values by aggregate, entries by store, windows placed as of `now`
    /// and their totals worked out from the entries.
    pub fn rebuild(
        ir: &Ir,
        running: Vec<(AggId, RunningValue)>,
        stores: Vec<Vec<EntryParts>>,
        now: i64,
    ) -> Aggregates {
        let mut new = Aggregates::new(ir);
        for (a, v) in running {
            let Some(AggSlot::Running(slot)) = ir.layout.slots.get(a).copied() else {
                continue;
            };
            new.running[slot] = match v {
                RunningValue::Count(n) => Running::Count(n),
                RunningValue::Sum(s, n) => {
                    let mut sum = ExactSum::default();
                    sum.add(s);
                    Running::Sum(sum, n)
                }
                RunningValue::Extreme(v) => Running::Extreme(v),
                RunningValue::End(e) => Running::End(e),
            };
        }
        for (si, mut entries) in stores.into_iter().enumerate() {
            let (Some(spec), Some(s)) = (ir.layout.stores.get(si), new.stores.get_mut(si)) else {
                continue;
            };
            entries.sort_by_key(|e| (e.t, e.seq));
            s.entries = entries
                .into_iter()
                .map(|e| Entry {
                    t: e.t,
                    seq: e.seq,
                    mask: e.mask,
                    values: e.values,
                })
                .collect();
            for (c, w) in spec.cursors.iter().enumerate() {
                let horizon = now.saturating_sub(*w);
                s.cursors[c] = s.entries.partition_point(|e| e.t <= horizon) as u64;
            }
            for (c, aggs) in spec.totals.iter().enumerate() {
                for &a in aggs {
                    let AggSlot::Window {
                        state: Some(w),
                        bit,
                        field,
                        ..
                    } = ir.layout.slots[a]
                    else {
                        continue;
                    };
                    let tot = &mut new.windows[w];
                    for at in s.cursors[c]..s.end() {
                        if s.get(at).is_some_and(|e| tot.counts(e, bit)) {
                            tot.add(s, at, field, ir.aggs[a].func, true, bit);
                        }
                    }
                }
            }
        }
        new
    }
}
