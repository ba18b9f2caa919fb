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

use super::Ctx;
use super::exact::ExactSum;
use crate::blocks::Three;
use crate::compile::layout::{AggSlot, StoreSpec};
use crate::compile::{AggId, AggMode, Ir};
use crate::hint::{prefetch, prefetch_slice};
use crate::syntax::ast::AggFunc;
use crate::tight::{Fifo, Tight};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::VecDeque;

mod carry;
mod read;

pub(crate) use carry::{EntryParts, RunningValue};
pub(crate) use read::{quick_number, quick_whole, value};

/// The aggregates' state of one customer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Aggregates {
    /// In one block: all-history aggregates' running values, by running
    /// slot; per store, its entries and cursors; windows' running totals,
    /// by window slot. Their lengths are the program's, and a step reads
    /// all three, so one block is one miss rather than three.
    parts: Three<Running, Store, Totals>,
    /// Plain-count windows that a live upgrade added while their store
    /// held entries: the aggregate and the arrival number of the last
    /// entry it does not count (its history starts empty). Usually none.
    births: Tight<(AggId, u64)>,
}

/// The aggregates as they are encoded (the layout before [`Three`]).
#[derive(Serialize)]
#[serde(rename = "Aggregates")]
struct AggregatesRef<'a> {
    running: &'a [Running],
    stores: &'a [Store],
    windows: &'a [Totals],
    births: &'a Tight<(AggId, u64)>,
}

/// The aggregates as they are decoded.
#[derive(Deserialize)]
#[serde(rename = "Aggregates")]
struct AggregatesData {
    running: Vec<Running>,
    stores: Vec<Store>,
    windows: Vec<Totals>,
    births: Tight<(AggId, u64)>,
}

impl Serialize for Aggregates {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (running, stores, windows) = self.parts.parts();
        AggregatesRef {
            running,
            stores,
            windows,
            births: &self.births,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Aggregates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Aggregates, D::Error> {
        let data = AggregatesData::deserialize(d)?;
        let parts = Three::new(data.running, data.stores, data.windows)
            .map_err(serde::de::Error::custom)?;
        Ok(Aggregates {
            parts,
            births: data.births,
        })
    }
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
    entries: Fifo<Entry>,
    /// Per cursor (window length): the absolute position of the first
    /// entry inside that window, as of the last instant pruned to.
    cursors: SmallVec<[u64; 2]>,
}

/// One retained event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
/// for a filtered one, matching). It encodes as `TotalsData`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(from = "TotalsData<'_>")]
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
    /// What only some windows keep, boxed: one word in every other
    /// window of every customer (`None`: no extremes, born 0).
    more: Option<Box<More>>,
}

/// The rarer part of a window's totals.
#[derive(Clone, Debug, Default, PartialEq)]
struct More {
    /// `min`/`max`: positions of the counted entries that may still become
    /// the extreme, oldest first, their fields monotonic (the extreme in
    /// front).
    extremes: Option<VecDeque<u64>>,
    /// Entries that arrived at or before this arrival number are not
    /// counted: a live upgrade added the window (0: none).
    born: u64,
}

/// A window's totals as they are encoded (the layout before `More`).
#[derive(Serialize, Deserialize)]
#[serde(rename = "Totals")]
struct TotalsData<'a> {
    count: u32,
    nonnull: u32,
    head: u64,
    last: u64,
    sum: Cow<'a, ExactSum>,
    extremes: Option<Cow<'a, VecDeque<u64>>>,
    born: u64,
}

impl Serialize for Totals {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TotalsData {
            count: self.count,
            nonnull: self.nonnull,
            head: self.head,
            last: self.last,
            sum: Cow::Borrowed(&self.sum),
            extremes: self.extremes().map(Cow::Borrowed),
            born: self.born(),
        }
        .serialize(s)
    }
}

impl From<TotalsData<'_>> for Totals {
    fn from(t: TotalsData<'_>) -> Totals {
        let mut totals = Totals {
            count: t.count,
            nonnull: t.nonnull,
            head: t.head,
            last: t.last,
            sum: t.sum.into_owned(),
            more: None,
        };
        if let Some(d) = t.extremes {
            *totals.extremes_mut() = d.into_owned();
        }
        totals.set_born(t.born);
        totals
    }
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
                entries: Fifo::default(),
                cursors: SmallVec::from_elem(0, s.cursors.len()),
            })
            .collect();
        let windows = (0..ir.layout.windows).map(|_| Totals::default()).collect();
        // A program's aggregates, stores and windows number far fewer than
        // a block's lengths can count: each takes bytes of source.
        let parts = Three::new(running, stores, windows)
            .expect("a program has fewer than u32::MAX aggregates");
        Aggregates {
            parts,
            births: Tight::new(),
        }
    }

    /// The running values of all-history aggregates, by running slot.
    fn running(&self) -> &[Running] {
        self.parts.parts().0
    }

    /// The stores, by store slot.
    fn stores(&self) -> &[Store] {
        self.parts.parts().1
    }

    /// The windows' running totals, by window slot.
    fn windows(&self) -> &[Totals] {
        self.parts.parts().2
    }

    /// [`Aggregates::running`], to change.
    fn running_mut(&mut self) -> &mut [Running] {
        self.parts.parts_mut().0
    }

    /// [`Aggregates::stores`], to change.
    fn stores_mut(&mut self) -> &mut [Store] {
        self.parts.parts_mut().1
    }

    /// [`Aggregates::windows`], to change.
    fn windows_mut(&mut self) -> &mut [Totals] {
        self.parts.parts_mut().2
    }

    /// Asks for the blocks a step reads first (see `hint`).
    pub fn prefetch(&self) {
        let (running, stores, windows) = self.parts.parts();
        prefetch_slice(running);
        prefetch_slice(stores);
        prefetch_slice(windows);
    }

    /// Asks for each store's entries; reads the stores' block.
    pub fn prefetch_entries(&self) {
        for s in self.stores() {
            prefetch(s.entries.front_ptr());
        }
    }

    /// Entries retained over all stores (for the per-customer limit).
    pub fn retained(&self) -> usize {
        self.stores().iter().map(|s| s.entries.len()).sum()
    }

    /// Does this state have the program's shape, and are its entries in
    /// order? Checked once for a state from outside (a snapshot).
    pub fn fits(&self, ir: &Ir) -> bool {
        let running = ir.aggs.iter().filter(|a| a.mode == AggMode::Running);
        let kinds = running.zip(self.running()).all(|(a, r)| {
            matches!(
                (a.func, r),
                (AggFunc::Count, Running::Count(_))
                    | (AggFunc::Sum | AggFunc::Avg, Running::Sum(..))
                    | (AggFunc::Min | AggFunc::Max, Running::Extreme(_))
                    | (AggFunc::First | AggFunc::Last, Running::End(_))
            )
        });
        let stores = self.stores().len() == ir.layout.stores.len()
            && self
                .stores()
                .iter()
                .zip(&ir.layout.stores)
                .all(|(s, spec)| s.fits(spec, ir));
        kinds
            && self.running().len() == ir.layout.running
            && self.windows().len() == ir.layout.windows
            && stores
            && self.totals_fit(ir)
    }

    /// Does every window's count, oldest and newest counted entry agree
    /// with the entries past its cursor? (A state from outside whose totals
    /// disagree would have its window leave at instants already past.)
    /// O(entries) per window.
    fn totals_fit(&self, ir: &Ir) -> bool {
        ir.layout.slots.iter().all(|slot| {
            let AggSlot::Window {
                store,
                cursor,
                bit,
                state: Some(w),
                ..
            } = *slot
            else {
                return true;
            };
            let (Some(s), Some(tot)) = (self.stores().get(store), self.windows().get(w)) else {
                return false;
            };
            let Some(&from) = s.cursors.get(cursor) else {
                return false;
            };
            let mut counted =
                (from..s.end()).filter(|&p| s.get(p).is_some_and(|e| tot.counts(e, bit)));
            let first = counted.next();
            let (n, last) = counted.fold((u64::from(first.is_some()), first), |(n, _), p| {
                (n + 1, Some(p))
            });
            n == u64::from(tot.count)
                && first.is_none_or(|f| f == tot.head && last == Some(tot.last))
        })
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
        self.running().len() == ir.layout.running
            && self.windows().len() == ir.layout.windows
            && self.stores().len() == ir.layout.stores.len()
            && self
                .stores()
                .iter()
                .zip(&ir.layout.stores)
                .all(|(s, spec)| s.cursors.len() == spec.cursors.len())
    }

    /// The number of entries of the store that holds the most.
    pub fn largest_store(&self) -> Option<usize> {
        self.stores().iter().map(|s| s.entries.len()).max()
    }

    /// The first instant an entry leaves a window, if any.
    pub fn next_leave(&self, ir: &Ir) -> Option<i64> {
        self.stores()
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
        let (running, stores, windows) = self.parts.parts_mut();
        for (&a, &matched) in ir.aggs_by_event[event].iter().zip(&decided.running) {
            let spec = &ir.aggs[a];
            if let (AggSlot::Running(slot), true) = (ir.layout.slots[a], matched) {
                let v = spec.field.and_then(|f| fields.get(f)).unwrap_or(&NULL);
                running_insert(&mut running[slot], spec.func, v, t);
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
        let s = &mut stores[store];
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
                let tot = &mut windows[w];
                if !appended {
                    tot.shift(at);
                }
                let counted = inside && bit.is_none_or(|b| mask >> b & 1 == 1) && seq > tot.born();
                if counted {
                    tot.add(s, at, field, ir.aggs[a].func, appended, bit);
                }
            }
        }
    }

    /// Drops what leaves every window at or before `tau`.
    pub fn prune(&mut self, ir: &Ir, tau: i64) {
        let (_, stores, windows) = self.parts.parts_mut();
        for (s, spec) in stores.iter_mut().zip(&ir.layout.stores) {
            for (c, w) in spec.cursors.iter().enumerate() {
                let horizon = tau.saturating_sub(*w);
                while s.get(s.cursors[c]).is_some_and(|e| e.t <= horizon) {
                    let at = s.cursors[c];
                    for &a in &spec.totals[c] {
                        leave(ir, a, s, windows, at);
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
            // Through `parts`, not `stores()`: the births change while the
            // stores are read.
            let stores = self.parts.parts().1;
            // A birth no entry it excludes is left of is over.
            self.births.retain(|(a, born)| match ir.layout.slots[*a] {
                AggSlot::Window { store, .. } => stores[store]
                    .entries
                    .first()
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
            let (_, stores, windows) = self.parts.parts_mut();
            let Some((store, _)) = stores
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.entries.is_empty())
                .max_by_key(|(i, s)| (s.entries.len(), std::cmp::Reverse(*i)))
            else {
                break;
            };
            let spec = &ir.layout.stores[store];
            let s = &mut stores[store];
            let at = s.base;
            for c in 0..s.cursors.len() {
                if s.cursors[c] > at {
                    continue;
                }
                for &a in &spec.totals[c] {
                    leave(ir, a, s, windows, at);
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
    /// Entries that arrived at or before this arrival number are not
    /// counted (0: none).
    fn born(&self) -> u64 {
        self.more.as_ref().map_or(0, |m| m.born)
    }

    fn set_born(&mut self, born: u64) {
        match &mut self.more {
            Some(m) => m.born = born,
            None if born == 0 => {}
            None => {
                self.more = Some(Box::new(More {
                    extremes: None,
                    born,
                }))
            }
        }
        if self.more.as_deref() == Some(&More::default()) {
            self.more = None;
        }
    }

    /// The `min`/`max` deque, if the window keeps one.
    fn extremes(&self) -> Option<&VecDeque<u64>> {
        self.more.as_ref()?.extremes.as_ref()
    }

    /// The `min`/`max` deque, made when first needed.
    fn extremes_mut(&mut self) -> &mut VecDeque<u64> {
        self.more
            .get_or_insert_with(Default::default)
            .extremes
            .get_or_insert_with(Default::default)
    }

    /// Does this window (with filter `bit`) count entry `e`, when inside?
    fn counts(&self, e: &Entry, bit: Option<u8>) -> bool {
        bit.is_none_or(|b| e.mask >> b & 1 == 1) && e.seq > self.born()
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
        if let Some(d) = self.more.as_mut().and_then(|m| m.extremes.as_mut()) {
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
        let (born, head, last) = (self.born(), self.head, self.last);
        let d = self.extremes_mut();
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
        d.clear();
        for p in head..=last {
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
        if let Some(d) = self.more.as_mut().and_then(|m| m.extremes.as_mut()) {
            while d.front().is_some_and(|f| *f <= at) {
                d.pop_front();
            }
        }
    }
}
