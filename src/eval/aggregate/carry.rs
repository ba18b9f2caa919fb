//! Aggregates carried across programs and versions: a live upgrade keeps
//! what is unchanged, and a former version's snapshot is rebuilt from its
//! parts.

use super::{Aggregates, Entry, Running};
use crate::compile::layout::AggSlot;
use crate::compile::{AggId, Ir};
use crate::eval::exact::ExactSum;
use crate::value::Value;

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
                    if let Some(r) = old.running().get(old_slot) {
                        new.running_mut()[slot] = r.clone();
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
            let os = &old.stores()[osi];
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
            let s = &mut new.stores_mut()[si];
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
            if new.stores()[store].entries.is_empty() {
                continue;
            }
            let old_totals = kept[a].and_then(|o| match old_ir.layout.slots[o] {
                AggSlot::Window {
                    state: Some(os), ..
                } => old.windows().get(os),
                _ => None,
            });
            let kept_plain = kept[a].is_some_and(|o| {
                matches!(old_ir.layout.slots[o], AggSlot::Window { state: None, .. })
            });
            match (state, old_totals) {
                (Some(w), Some(t)) => new.windows_mut()[w] = t.clone(),
                (Some(w), None) => new.windows_mut()[w].set_born(seq),
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
            new.running_mut()[slot] = match v {
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
        let (_, new_stores, windows) = new.parts.parts_mut();
        for (si, mut entries) in stores.into_iter().enumerate() {
            let (Some(spec), Some(s)) = (ir.layout.stores.get(si), new_stores.get_mut(si)) else {
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
                    let tot = &mut windows[w];
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
