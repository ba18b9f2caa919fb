//! Where a customer's state keeps what each definition needs: worked out
//! once per program, so that a customer holds only what its program uses.
//!
//! - Every event type that a window (or an aggregate recomputed from its
//!   history) reads gets one **store**: its entries, oldest first, shared
//!   by every window over it. A window keeps no copy: it keeps a cursor
//!   (the first entry still inside it; windows of one length share it)
//!   and, if it needs them, running totals over the entries it counts.
//! - An aggregate over all history keeps running values of its own.
//! - A rule keeps only the scalars its clauses use (a silence's anchor, a
//!   calendar's next occurrence, a limit's count) in one array of words.

use super::{AggId, AggMode, AggSpec, CExpr};
use crate::check::hir::{self, Rule, Trigger};
use crate::syntax::ast::AggFunc;

/// Filters of windows over one store that are decided when an entry
/// arrives, one bit each; windows beyond these are recomputed from the
/// store's entries.
pub(crate) const MAX_FILTER_BITS: usize = 64;

/// The layout of the aggregates' state.
#[derive(Debug, Default)]
pub(crate) struct AggLayout {
    /// The stores, at most one per event type.
    pub stores: Vec<StoreSpec>,
    /// Per event type: its store, if any.
    pub store_of_event: Vec<Option<usize>>,
    /// Per aggregate: where its state is.
    pub slots: Vec<AggSlot>,
    /// How many running states all-history aggregates take.
    pub running: usize,
    /// How many window states windows with totals take.
    pub windows: usize,
}

/// One event type's retained entries.
#[derive(Debug)]
pub(crate) struct StoreSpec {
    /// The event type.
    pub event: hir::EventId,
    /// The distinct window lengths over it, one cursor each.
    pub cursors: Vec<i64>,
    /// Entries are kept forever (bounded by the limits): an aggregate
    /// recomputed from all of its history reads it.
    pub forever: bool,
    /// The aggregated fields each entry keeps, in order (unless it keeps
    /// them all).
    pub fields: Vec<hir::FieldId>,
    /// Entries keep every field, in declared order: an aggregate
    /// recomputes from them, and its filter may read any.
    pub all_fields: bool,
    /// Filters decided on arrival, by bit: the aggregate each belongs to.
    pub filters: Vec<AggId>,
    /// Per cursor: the windows with running totals that count from it.
    pub totals: Vec<Vec<AggId>>,
}

/// Where an aggregate's state is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggSlot {
    /// All history, pure filter: running values at this index.
    Running(usize),
    /// A window, pure filter: entries of `store` from `cursor` on, those
    /// whose `bit` is set (all of them for `None`). `state` holds its
    /// running totals; a plain count needs none (it is the number of
    /// entries past the cursor).
    Window {
        /// The store.
        store: usize,
        /// The cursor of its length.
        cursor: usize,
        /// Its filter's bit.
        bit: Option<u8>,
        /// Its running totals.
        state: Option<usize>,
        /// Where the aggregated field is in an entry.
        field: Option<usize>,
    },
    /// Recomputed from the entries of `store` (from `cursor` on, for a
    /// window) when needed.
    Scan {
        /// The store.
        store: usize,
        /// The cursor of its window.
        cursor: Option<usize>,
    },
}

impl AggLayout {
    /// The layout for `aggs` over `events` event types. Aggregates whose
    /// filter reads more than the event ([`AggMode::Scan`]) recompute from
    /// the store; so do windows with a filter beyond the store's bits.
    pub fn new(aggs: &mut [AggSpec], events: usize) -> AggLayout {
        let mut filtered = vec![0usize; events];
        for spec in aggs.iter_mut() {
            if spec.mode == AggMode::Window && spec.filter.is_some() {
                filtered[spec.event] += 1;
                if filtered[spec.event] > MAX_FILTER_BITS {
                    spec.mode = AggMode::Scan;
                }
            }
        }
        // A store read by a scan keeps every field: the filter may read any.
        let mut scanned = vec![false; events];
        for spec in aggs.iter() {
            scanned[spec.event] |= spec.mode == AggMode::Scan;
        }
        let mut layout = AggLayout {
            store_of_event: vec![None; events],
            ..AggLayout::default()
        };
        for (id, spec) in aggs.iter().enumerate() {
            let slot = match spec.mode {
                AggMode::Running => {
                    layout.running += 1;
                    AggSlot::Running(layout.running - 1)
                }
                AggMode::Window | AggMode::Scan => {
                    let store = layout.store(spec.event, scanned[spec.event]);
                    layout.in_store(store, id, spec)
                }
            };
            layout.slots.push(slot);
        }
        layout
    }

    /// The store of `event`, made when first asked for; one that `all`
    /// (a scan) reads keeps every field, in declared order.
    fn store(&mut self, event: hir::EventId, all: bool) -> usize {
        if let Some(s) = self.store_of_event[event] {
            return s;
        }
        self.stores.push(StoreSpec {
            event,
            cursors: Vec::new(),
            forever: false,
            fields: Vec::new(),
            all_fields: all,
            filters: Vec::new(),
            totals: Vec::new(),
        });
        let s = self.stores.len() - 1;
        self.store_of_event[event] = Some(s);
        s
    }

    /// Registers aggregate `id` (a window or a scan) with its store.
    fn in_store(&mut self, store: usize, id: AggId, spec: &AggSpec) -> AggSlot {
        let s = &mut self.stores[store];
        let cursor = match spec.window {
            Some(w) => Some(match s.cursors.iter().position(|c| *c == w) {
                Some(c) => c,
                None => {
                    s.cursors.push(w);
                    s.totals.push(Vec::new());
                    s.cursors.len() - 1
                }
            }),
            None => {
                s.forever = true;
                None
            }
        };
        let (AggMode::Window, Some(cursor)) = (spec.mode, cursor) else {
            // A pure filter over all history is a running aggregate: only a
            // scan comes here without a window.
            return AggSlot::Scan { store, cursor };
        };
        let bit = spec.filter.as_ref().map(|_| {
            s.filters.push(id);
            (s.filters.len() - 1) as u8
        });
        let field = spec.field.map(|f| s.keep(f));
        let plain_count = spec.func == AggFunc::Count && bit.is_none();
        let state = (!plain_count).then(|| {
            s.totals[cursor].push(id);
            self.windows += 1;
            self.windows - 1
        });
        AggSlot::Window {
            store,
            cursor,
            bit,
            state,
            field,
        }
    }
}

impl StoreSpec {
    /// Where field `f` of the event is in an entry, kept from now on.
    fn keep(&mut self, f: hir::FieldId) -> usize {
        if self.all_fields {
            return f;
        }
        match self.fields.iter().position(|x| *x == f) {
            Some(i) => i,
            None => {
                self.fields.push(f);
                self.fields.len() - 1
            }
        }
    }

    /// How many values each entry keeps, for an event with `declared`
    /// fields.
    pub fn width(&self, declared: usize) -> usize {
        if self.all_fields {
            declared
        } else {
            self.fields.len()
        }
    }
}

/// The scalars one rule keeps, as offsets into its customer's rule words.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RuleSlots {
    /// `no … for` and `after last`: the time of the latest matching event.
    pub anchor: Option<u32>,
    /// `no … for`: the anchor it fired for; a calendar: the occurrence.
    pub fired: Option<u32>,
    /// A calendar trigger's next occurrence, as of the last instant.
    pub calendar: Option<u32>,
    /// `limit N` without a window: emitted firings ever.
    pub ever: Option<u32>,
}

/// The rule words of a program: each rule's slots, and how many words a
/// customer holds.
pub(crate) fn rule_slots(rules: &[Rule<CExpr>]) -> (Vec<RuleSlots>, usize) {
    let mut words = 0u32;
    let mut take = |want: bool| {
        want.then(|| {
            words += 1;
            words - 1
        })
    };
    let slots = rules
        .iter()
        .map(|r| {
            let no = matches!(r.trigger, Trigger::No { .. });
            let last = matches!(r.trigger, Trigger::After { last: true, .. });
            let calendar = r.trigger.is_calendar();
            RuleSlots {
                anchor: take(no || last),
                fired: take(no || calendar),
                calendar: take(calendar),
                ever: take(matches!(r.limit, Some((_, None)))),
            }
        })
        .collect();
    (slots, words as usize)
}
