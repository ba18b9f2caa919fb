//! Reading an aggregate: from its running value, its window's totals, or
//! by recounting the store's entries when the filter reads more than the
//! event; and the quick numeric reads the fast predicates use.

use super::{NULL, Running, Store, Totals, beyond};
use crate::compile::fast::{Quick, Shape};
use crate::compile::layout::AggSlot;
use crate::compile::{AggId, AggSpec};
use crate::eval::exact::ExactSum;
use crate::eval::facts::FOREVER;
use crate::eval::{Ctx, R};
use crate::syntax::ast::AggFunc;
use crate::value::Value;

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
            let v = match &aggs.running()[slot] {
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
            let s = &aggs.stores()[store];
            let w = cx.ir.layout.stores[store].cursors[cursor];
            let horizon = cx.now.saturating_sub(w);
            let from = s.cursors[cursor];
            let leaves = |at: u64| s.get(at).map_or(FOREVER, |e| e.t.saturating_add(w));
            let totals = state.map(|st| &aggs.windows()[st]);
            let born = match totals {
                Some(t) => t.born(),
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
            let s = &aggs.stores()[store];
            let w = cursor.map(|c| cx.ir.layout.stores[store].cursors[c]);
            let horizon = w.map(|w| cx.now.saturating_sub(w));
            let mut until = FOREVER;
            let matching = s
                .entries
                .iter()
                .filter(|e| horizon.is_none_or(|h| e.t > h))
                .filter_map(|e| {
                    if let Some(f) = &spec.filter {
                        let r = crate::eval::eval(f, &cx.with_row(&e.values));
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
            .extremes()
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
            let s = &aggs.stores()[store];
            if s.get(s.cursors[cursor])
                .is_none_or(|e| e.t > cx.now.saturating_sub(window))
            {
                return aggs.windows()[state].sum.value();
            }
            number_read(q.agg, cx)
        }
        Shape::Sum(slot) => match &aggs.running()[slot] {
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
            let s = &aggs.stores()[store];
            let from = s.cursors[cursor];
            let plain_born = state.is_none() && !aggs.births.is_empty();
            if s.get(from)
                .is_none_or(|e| e.t > cx.now.saturating_sub(window))
                && !plain_born
            {
                return Some(match state {
                    Some(st) => i64::from(aggs.windows()[st].count),
                    None => (s.end() - from) as i64,
                });
            }
            whole_read(q.agg, cx)
        }
        Shape::Count(slot) => match &aggs.running()[slot] {
            Running::Count(n) => Some(*n as i64),
            _ => whole_read(q.agg, cx),
        },
        Shape::LastTime(slot) => match &aggs.running()[slot] {
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
