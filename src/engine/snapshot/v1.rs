//! Snapshots of format version 1 (siyu 0.1), read into today's state.
//!
//! Version 1 stored each customer position by position: aggregates and
//! raw logs in the order its compiler met them, each window with its own
//! copy of the entries it counted. The types below are that layout as it
//! was written (postcard), and [`read`] turns each customer into a state of
//! the compact layout: the windows' entries, merged by arrival number,
//! become their event type's store (a window's filter bit set where the
//! window held the entry), the windows' totals are worked out again, and
//! each rule keeps what its clauses use.
//!
//! The compiler of version 1 met aggregates in another order than today's:
//! `v1_order` walks the program as it did, to know which aggregate each
//! position was.

use super::{Body, SnapshotError};
use crate::check::hir::Derived;
use crate::compile::{AggId, AggMode, Program};
use crate::engine::metrics::{GroupMetrics, Metrics, RuleMetrics};
use crate::engine::state::CustomerState;
use crate::engine::state::Dedup;
use crate::engine::state::rules::{
    Counts, Occurrences, OpenGoal, Pending, RuleStates, Word, carried_fields,
};
use crate::eval::aggregate::{Aggregates, EntryParts, RunningValue};
use crate::eval::facts::{DerivedState, Tags};
use crate::eval::ledger::Credit;
use crate::syntax::ast::{self, AggFunc, Clause, ExprKind, Item, LedgerClause, Trigger};
use crate::syntax::print_expr;
use crate::time::MaybeAt;
use crate::value::Value;
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

#[derive(Deserialize)]
struct BodyV1 {
    clock: Option<i64>,
    customers: Vec<StateV1>,
    metrics: MetricsV1,
}

#[derive(Deserialize)]
struct StateV1 {
    id: String,
    clock: MaybeAt,
    first_seen: MaybeAt,
    last_seen: MaybeAt,
    seq: u64,
    profile: Vec<Value>,
    tags: BTreeSet<String>,
    aggs: Vec<AggV1>,
    logs: Vec<VecDeque<LogEntryV1>>,
    derived: Vec<DerivedState>,
    rules: Vec<RuleV1>,
    ids: BTreeMap<String, i64>,
    caps: Vec<VecDeque<i64>>,
    tag_occ: BTreeMap<String, (i64, u32)>,
    ledgers: Vec<VecDeque<CreditV1>>,
}

#[derive(Deserialize)]
enum AggV1 {
    Running(Box<RunningV1>),
    Window(WindowV1),
    Scan,
}

#[derive(Deserialize)]
struct RunningV1 {
    count: i64,
    sum: f64,
    nonnull: i64,
    min: Value,
    max: Value,
    first: Option<EntryV1>,
    last: Option<EntryV1>,
}

#[derive(Deserialize)]
#[serde(rename = "Window")]
struct WindowV1 {
    entries: VecDeque<EntryV1>,
}

#[derive(Deserialize)]
struct EntryV1 {
    t: i64,
    seq: u64,
    v: Value,
}

#[derive(Deserialize)]
struct LogEntryV1 {
    t: i64,
    seq: u64,
    fields: Vec<Value>,
}

#[derive(Deserialize)]
struct RuleV1 {
    anchor: Option<(i64, u64)>,
    fired: Option<i64>,
    pending: Vec<PendingV1>,
    emitted: VecDeque<i64>,
    emitted_ever: u64,
    occurrence: (i64, u32),
    goals: Vec<(i64, Option<usize>)>,
    calendar: Option<i64>,
}

#[derive(Deserialize)]
struct PendingV1 {
    due: i64,
    origin: i64,
    seq: u64,
    fields: Vec<Value>,
    moved: Option<(i64, u32)>,
}

#[derive(Deserialize)]
struct CreditV1 {
    t: i64,
    #[allow(dead_code)]
    seq: u64,
    expires: i64,
    remaining: f64,
}

#[derive(Deserialize)]
struct MetricsV1 {
    events: u64,
    duplicates: u64,
    rejected: u64,
    ignored: u64,
    faults: u64,
    shortfalls: u64,
    rules: IndexMap<String, RuleMetricsV1>,
}

#[derive(Deserialize)]
struct RuleMetricsV1 {
    triggered: u64,
    fired: u64,
    guard_false: u64,
    suppressed_limit: u64,
    suppressed_cap: u64,
    deferred_quiet: u64,
    dropped_quiet: u64,
    snapped: u64,
    held_out: u64,
    groups: IndexMap<String, GroupV1>,
}

#[derive(Deserialize)]
struct GroupV1 {
    assigned: u64,
    converted: u64,
}

fn damaged(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Damaged(what.into())
}

/// A version 1 payload, as today's body.
pub(super) fn read(program: &Program, payload: &[u8]) -> Result<Body, SnapshotError> {
    let body: BodyV1 = postcard::from_bytes(payload).map_err(|e| damaged(e.to_string()))?;
    let order = v1_order(program);
    let customers = body
        .customers
        .into_iter()
        .map(|st| convert(program, &order, st))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Body {
        clock: body.clock,
        customers,
        metrics: metrics(program, body.metrics),
    })
}

/// Where version 1 kept each aggregate: for position `i`, today's
/// aggregate; and each raw log's event type.
struct Order {
    aggs: Vec<AggId>,
    logs: Vec<usize>,
}

/// Walks the program as version 1's compiler did: ledgers, then derived
/// state in evaluation order, then rules (trigger, then clauses in source
/// order), each expression left to right with an aggregate's filter before
/// it. Pure aggregates were shared by their text; the others were one per
/// occurrence, and each event type's first one made its raw log.
fn v1_order(program: &Program) -> Order {
    let ir = program.ir();
    let module = program.module();
    let mut w = Walk {
        program,
        aggs: Vec::new(),
        seen: HashMap::new(),
        logs: Vec::new(),
    };
    for item in &module.items {
        if let Item::Ledger(l) = item {
            for c in &l.clauses {
                if let LedgerClause::Earn { amount, .. } | LedgerClause::Spend { amount, .. } = c {
                    w.expr(amount);
                }
            }
        }
    }
    for node in &ir.derived {
        let name = node.def.name();
        let item = module.items.iter().find(|i| match (i, &node.def) {
            (Item::Segment(s), Derived::Segment { .. }) => s.name.node == name,
            (Item::Tag(t), Derived::Tag { .. }) => t.name.node == name,
            (Item::Stage(s), Derived::Stage { .. }) => s.name.node == name,
            _ => false,
        });
        match item {
            Some(Item::Segment(s)) => w.expr(&s.cond),
            Some(Item::Tag(t)) => w.expr(&t.cond),
            Some(Item::Stage(s)) => s
                .labels
                .iter()
                .filter_map(|l| l.cond.as_ref())
                .for_each(|c| w.expr(c)),
            _ => {}
        }
    }
    for item in &module.items {
        let Item::Rule(r) = item else { continue };
        for c in &r.clauses {
            if let Clause::When(t) = &c.node {
                w.trigger(t);
            }
        }
        for c in &r.clauses {
            match &c.node {
                Clause::If(e) => w.expr(e),
                Clause::Do(list) => list.iter().for_each(|a| w.action(a)),
                Clause::Split(s) => s
                    .variants
                    .iter()
                    .flat_map(|v| &v.actions)
                    .for_each(|a| w.action(a)),
                Clause::Goal(g) => {
                    if let Some(f) = &g.filter {
                        w.expr(f);
                    }
                }
                _ => {}
            }
        }
    }
    Order {
        aggs: w.aggs,
        logs: w.logs,
    }
}

struct Walk<'a> {
    program: &'a Program,
    aggs: Vec<AggId>,
    /// Pure aggregates met, by text: their version 1 position.
    seen: HashMap<String, usize>,
    logs: Vec<usize>,
}

impl Walk<'_> {
    fn trigger(&mut self, t: &Trigger) {
        let filter = |w: &mut Self, f: &ast::EventFilter| {
            if let Some(c) = &f.filter {
                w.expr(c);
            }
        };
        match t {
            Trigger::Event(f) | Trigger::No { event: f, .. } => filter(self, f),
            Trigger::After { event, unless, .. } => {
                filter(self, event);
                if let Some(u) = unless {
                    filter(self, u);
                }
            }
            Trigger::AfterRule {
                unless: Some(u), ..
            } => filter(self, u),
            _ => {}
        }
    }

    fn action(&mut self, a: &ast::Action) {
        match a {
            ast::Action::Call { name, args } => {
                let ir = self.program.ir();
                let Some(action) = ir.actions.iter().find(|x| x.name == name.node) else {
                    return;
                };
                for p in &action.params {
                    if let Some((_, v)) = args.iter().find(|(k, _)| k.node == *p) {
                        self.expr(v);
                    }
                }
            }
            ast::Action::Set { value, .. } => self.expr(value),
            ast::Action::AddTag(_) | ast::Action::RemoveTag(_) => {}
        }
    }

    fn expr(&mut self, e: &ast::Expr) {
        match &e.node {
            ExprKind::List(items) | ExprKind::Call(_, items) => {
                items.iter().for_each(|i| self.expr(i))
            }
            ExprKind::Unary(_, x) => self.expr(x),
            ExprKind::Binary(_, l, r) => {
                self.expr(l);
                self.expr(r);
            }
            ExprKind::Is { expr, .. } => self.expr(expr),
            ExprKind::Aggregate(a) => {
                if let Some(f) = &a.filter {
                    self.expr(f);
                }
                self.aggregate(e);
            }
            _ => {}
        }
    }

    fn aggregate(&mut self, e: &ast::Expr) {
        let ir = self.program.ir();
        let key = print_expr(e);
        // Today's aggregate: a pure one by its text, another by where it is.
        let today = ir
            .aggs
            .iter()
            .position(|a| a.mode != AggMode::Scan && a.key == key)
            .or_else(|| ir.aggs.iter().position(|a| a.span == e.span));
        let Some(today) = today else { return };
        if ir.aggs[today].mode != AggMode::Scan {
            if self.seen.contains_key(&key) {
                return;
            }
            self.seen.insert(key, self.aggs.len());
        } else if !self.logs.contains(&ir.aggs[today].event) {
            self.logs.push(ir.aggs[today].event);
        }
        self.aggs.push(today);
    }
}

/// One customer of version 1, as today's state.
fn convert(program: &Program, order: &Order, v: StateV1) -> Result<CustomerState, SnapshotError> {
    let ir = program.ir();
    let shape = [
        ("profile", v.profile.len(), ir.profile.len()),
        ("aggregates", v.aggs.len(), order.aggs.len()),
        ("logs", v.logs.len(), order.logs.len()),
        ("derived", v.derived.len(), ir.derived.len()),
        ("rules", v.rules.len(), ir.rules.len()),
        ("caps", v.caps.len(), ir.caps.len()),
        ("ledgers", v.ledgers.len(), ir.ledgers.len()),
    ];
    for (what, have, want) in shape {
        if have != want {
            return Err(damaged(format!(
                "version 1 {what}: {have}, program has {want}"
            )));
        }
    }
    let mut st = CustomerState::new(program, &v.id);
    st.clock = v.clock;
    st.seq = v.seq;
    st.facts.first_seen = v.first_seen;
    st.facts.last_seen = v.last_seen;
    for (i, value) in v.profile.into_iter().enumerate() {
        st.facts.set_profile(ir, i, value);
    }
    st.facts.tags = Tags::from_any(v.tags);
    // The lengths were checked against the program's above.
    st.facts.derived_mut().copy_from_slice(&v.derived);
    st.facts.aggs = aggregates(ir, order, v.aggs, v.logs, v.clock.get().unwrap_or(i64::MIN));
    for (c, credits) in st.facts.ledgers_mut().iter_mut().zip(v.ledgers) {
        for x in credits {
            c.earn(Credit {
                t: x.t,
                expires: x.expires,
                remaining: x.remaining,
            });
        }
    }
    let mut words = Vec::new();
    let mut pending = Vec::new();
    let mut emitted = Vec::new();
    let mut goals = Vec::new();
    let mut occurrences = Vec::new();
    for (r, rs) in v.rules.into_iter().enumerate() {
        if let Some((t, _)) = rs.anchor {
            words.push((r, Word::Anchor, t));
        }
        if let Some(f) = rs.fired {
            words.push((r, Word::Fired, f));
        }
        if let Some(c) = rs.calendar {
            words.push((r, Word::Calendar, c));
        }
        words.push((r, Word::Ever, rs.emitted_ever as i64));
        for p in rs.pending {
            let fields = carried_fields(ir, r, Some(&p.fields));
            let p = Pending::read((p.due, r as u32), (p.origin, p.seq), fields, p.moved)
                .map_err(|e| damaged(format!("version 1: {e}")))?;
            pending.push(p);
        }
        emitted.extend(rs.emitted.into_iter().map(|t| (r as u32, t)));
        goals.extend(rs.goals.into_iter().map(|(fired, group)| OpenGoal {
            rule: r as u32,
            fired,
            group: group.map(|g| g as u16),
        }));
        if v.clock.get().is_some_and(|c| rs.occurrence.0 >= c) {
            occurrences.push((r as u32, rs.occurrence.0, rs.occurrence.1));
        }
    }
    for (tag, (t, n)) in v.tag_occ {
        let slot = ir.auto_tags.get(&tag);
        if let (Some(slot), true) = (slot, v.clock.get().is_some_and(|c| t >= c)) {
            occurrences.push(((ir.rules.len() + slot) as u32, t, n));
        }
    }
    st.rules = RuleStates::from_parts(ir, words, pending, Counts::from_entries(emitted), goals);
    st.caps = Counts::from_entries(
        v.caps
            .into_iter()
            .enumerate()
            .flat_map(|(i, c)| c.into_iter().map(move |t| (i as u32, t)))
            .collect(),
    );
    st.dedup = Dedup::from_entries(v.ids.into_iter().map(|(id, t)| (t, id.into())).collect());
    st.occurrences = Occurrences::from_entries(occurrences)
        .map_err(|e| damaged(format!("version 1 occurrences: {e}")))?;
    Ok(st)
}

/// The aggregates of a version 1 customer: running values as they were;
/// window and log entries merged, per event type, into its store.
fn aggregates(
    ir: &crate::compile::Ir,
    order: &Order,
    aggs: Vec<AggV1>,
    logs: Vec<VecDeque<LogEntryV1>>,
    now: i64,
) -> Aggregates {
    use crate::compile::layout::AggSlot;
    let mut running = Vec::new();
    // Per store: entries by arrival number.
    let mut stores: Vec<BTreeMap<u64, EntryParts>> =
        ir.layout.stores.iter().map(|_| BTreeMap::new()).collect();
    for (log, entries) in order.logs.iter().zip(logs) {
        let Some(store) = ir.layout.store_of_event[*log] else {
            continue;
        };
        for e in entries {
            let p = entry(ir, &mut stores[store], store, e.t, e.seq);
            for (i, v) in e.fields.into_iter().enumerate() {
                if let Some(slot) = p.values.get_mut(i) {
                    *slot = v;
                }
            }
        }
    }
    for (a, state) in order.aggs.iter().zip(aggs) {
        let spec = &ir.aggs[*a];
        match (ir.layout.slots[*a], state) {
            (AggSlot::Running(_), AggV1::Running(r)) => {
                let v = match spec.func {
                    AggFunc::Count => RunningValue::Count(r.count.max(0) as u64),
                    AggFunc::Sum | AggFunc::Avg => {
                        RunningValue::Sum(r.sum, r.nonnull.max(0) as u64)
                    }
                    AggFunc::Min => RunningValue::Extreme(r.min),
                    AggFunc::Max => RunningValue::Extreme(r.max),
                    AggFunc::First => RunningValue::End(r.first.map(|e| (e.t, e.v))),
                    AggFunc::Last => RunningValue::End(r.last.map(|e| (e.t, e.v))),
                };
                running.push((*a, v));
            }
            (
                AggSlot::Window {
                    store, bit, field, ..
                },
                AggV1::Window(w),
            ) => {
                for e in w.entries {
                    let p = entry(ir, &mut stores[store], store, e.t, e.seq);
                    if let Some(b) = bit {
                        p.mask |= 1 << b;
                    }
                    if let Some(slot) = field.and_then(|f| p.values.get_mut(f)) {
                        *slot = e.v;
                    }
                }
            }
            _ => {}
        }
    }
    let stores = stores
        .into_iter()
        .map(|s| s.into_values().collect())
        .collect();
    Aggregates::rebuild(ir, running, stores, now)
}

/// The entry of arrival `seq` in a store being rebuilt, made when first met.
fn entry<'a>(
    ir: &crate::compile::Ir,
    entries: &'a mut BTreeMap<u64, EntryParts>,
    store: usize,
    t: i64,
    seq: u64,
) -> &'a mut EntryParts {
    let spec = &ir.layout.stores[store];
    let width = spec.width(ir.events[spec.event].fields.len());
    entries.entry(seq).or_insert_with(|| EntryParts {
        t,
        seq,
        mask: 0,
        values: vec![Value::Null; width].into(),
    })
}

fn metrics(program: &Program, m: MetricsV1) -> Metrics {
    let mut out = Metrics::new(program.ir());
    out.events = m.events;
    out.duplicates = m.duplicates;
    out.rejected = m.rejected;
    out.ignored = m.ignored;
    out.faults = m.faults;
    out.shortfalls = m.shortfalls;
    for (name, r) in m.rules {
        let Some(rm) = out.rules.get_mut(&name) else {
            continue;
        };
        *rm = RuleMetrics {
            triggered: r.triggered,
            fired: r.fired,
            guard_false: r.guard_false,
            suppressed_limit: r.suppressed_limit,
            suppressed_cap: r.suppressed_cap,
            deferred_quiet: r.deferred_quiet,
            dropped_quiet: r.dropped_quiet,
            snapped: r.snapped,
            held_out: r.held_out,
            groups: r
                .groups
                .into_iter()
                .map(|(g, x)| {
                    (
                        g,
                        GroupMetrics {
                            assigned: x.assigned,
                            converted: x.converted,
                        },
                    )
                })
                .collect(),
        };
    }
    out
}
