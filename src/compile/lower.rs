//! The checked program → IR: aggregates shared by their canonical text and
//! classified by how their state is kept, and the indexes the engine steps
//! by (which rules, aggregates and ledgers each event type reaches).

use super::{AggId, AggMode, AggSpec, CExpr, DerivedNode, Ir, Reads, cascade, fast, layout};
use crate::check::hir::{self, Derived, Hir, Trigger};
use crate::syntax::ast::Func;
use indexmap::IndexMap;

/// Lowers a checked program.
pub(crate) fn lower(hir: Hir<hir::Expr>) -> Ir {
    let n_events = hir.events.len();
    let mut aggs = Aggregates::default();
    let lowered = hir.map(|e| aggs.lower(e));
    let layout = layout::AggLayout::new(&mut aggs.specs, n_events);
    let Hir {
        zone,
        customer_zone,
        events,
        profile,
        actions,
        derived,
        ledgers,
        rules,
        caps,
        quiet,
    } = lowered;
    let mut ir = Ir {
        event_ids: events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect(),
        events,
        profile,
        zone,
        customer_zone,
        actions,
        aggs: aggs.specs,
        layout,
        derived: Vec::with_capacity(derived.len()),
        rules: Vec::new(),
        rule_slots: Vec::new(),
        rule_words: 0,
        reads_event: Vec::new(),
        calendar_rules: Vec::new(),
        silence_rules: Vec::new(),
        aggs_by_event: vec![Vec::new(); n_events],
        rules_by_event: vec![Vec::new(); n_events],
        transition_rules: Vec::new(),
        followers: vec![Vec::new(); rules.len()],
        auto_tags: IndexMap::new(),
        caps,
        ledgers_by_event: vec![Vec::new(); n_events],
        ledgers,
        quiet,
        may_cascade: false,
        fast_conds: Vec::new(),
        fast_guards: Vec::new(),
    };
    for (id, spec) in ir.aggs.iter().enumerate() {
        if spec.mode == AggMode::Running {
            ir.aggs_by_event[spec.event].push(id);
        }
    }
    for (index, ledger) in ir.ledgers.iter().enumerate() {
        for &(event, _) in ledger.earn.iter().chain(&ledger.spend) {
            if !ir.ledgers_by_event[event].contains(&index) {
                ir.ledgers_by_event[event].push(index);
            }
        }
    }
    for (slot, def) in derived.into_iter().enumerate() {
        if let Derived::Tag { name, .. } = &def {
            ir.auto_tags.insert(name.clone(), slot);
        }
        // A tag's changes are always reported; segments and stages become
        // observed below, if a trigger or an observed node reads them.
        let observed = matches!(def, Derived::Tag { .. });
        ir.derived.push(DerivedNode {
            def,
            observed,
            reads: Reads::default(),
        });
    }
    for (index, rule) in rules.iter().enumerate() {
        match rule.trigger {
            Trigger::Membership { segment: slot, .. } | Trigger::Stage { stage: slot, .. } => {
                ir.derived[slot].observed = true;
                ir.transition_rules.push(index);
            }
            Trigger::AfterRule { rule: followed, .. } => ir.followers[followed].push(index),
            _ => {}
        }
        let events = rule
            .trigger
            .event()
            .into_iter()
            .chain(rule.unless.as_ref().map(|u| u.event))
            .chain(rule.goal.as_ref().map(|g| g.on.event));
        for e in events {
            if !ir.rules_by_event[e].contains(&index) {
                ir.rules_by_event[e].push(index);
            }
        }
    }
    (ir.rule_slots, ir.rule_words) = layout::rule_slots(&rules);
    ir.reads_event = rules.iter().map(|r| reads_event(&ir.aggs, r)).collect();
    for (r, rule) in rules.iter().enumerate() {
        if rule.trigger.is_calendar() {
            ir.calendar_rules.push(r);
        }
        if matches!(rule.trigger, Trigger::No { .. }) {
            ir.silence_rules.push(r);
        }
    }
    ir.rules = rules;
    propagate_observed(&mut ir);
    for i in 0..ir.derived.len() {
        ir.derived[i].reads = reads_of(&ir, i);
    }
    ir.may_cascade = cascade::may_cascade(&ir);
    let guard = |c: Option<&CExpr>| c.map(|c| fast::Guard::new(c, &ir));
    let conds = ir
        .derived
        .iter()
        .map(|d| match &d.def {
            Derived::Segment { cond, .. } | Derived::Tag { cond, .. } => guard(Some(cond)),
            Derived::Stage { .. } => None,
        })
        .collect();
    let guards = ir.rules.iter().map(|r| guard(r.guard.as_ref())).collect();
    (ir.fast_conds, ir.fast_guards) = (conds, guards);
    ir
}

/// The aggregates met so far, shared by canonical text.
#[derive(Default)]
struct Aggregates {
    specs: Vec<AggSpec>,
    ids: IndexMap<String, AggId>,
}

impl Aggregates {
    /// An expression with its aggregates registered.
    fn lower(&mut self, e: hir::Expr) -> CExpr {
        e.map(&mut |a| self.register(*a), &|d| d)
    }

    fn register(&mut self, a: hir::Aggregate) -> AggId {
        let filter = a.filter.map(|f| self.lower(f));
        let pure = filter.as_ref().is_none_or(CExpr::reads_only_row);
        // Impure filters read the trigger event, so the same text can mean
        // different things in different rules: those are never shared.
        let key = if pure {
            a.key
        } else {
            format!("{}#{}", a.key, self.specs.len())
        };
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let mode = match (pure, a.window) {
            (true, Some(_)) => AggMode::Window,
            (true, None) => AggMode::Running,
            (false, _) => AggMode::Scan,
        };
        let id = self.specs.len();
        self.specs.push(AggSpec {
            key: key.clone(),
            span: a.span,
            func: a.func,
            event: a.event,
            field: a.field,
            filter,
            window: a.window,
            mode,
        });
        self.ids.insert(key, id);
        id
    }
}

/// A derived node read by an observed one is observed too; walking the
/// evaluation order backwards settles it in one pass.
fn propagate_observed(ir: &mut Ir) {
    for i in (0..ir.derived.len()).rev() {
        if !ir.derived[i].observed {
            continue;
        }
        let mut reads = Vec::new();
        for c in ir.derived[i].def.conditions() {
            c.derived_reads(&mut reads);
        }
        for r in reads {
            ir.derived[r].observed = true;
        }
    }
}

/// What derived node `i` reads (see [`Reads`]).
fn reads_of(ir: &Ir, i: usize) -> Reads {
    let mut r = Reads::default();
    for c in ir.derived[i].def.conditions() {
        c.walk(&mut |x| match x {
            hir::Expr::Agg(a) => {
                let spec = &ir.aggs[*a];
                match spec.mode {
                    AggMode::Scan => r.always = true,
                    _ => r.events.push(spec.event),
                }
            }
            hir::Expr::Balance(l) | hir::Expr::Expiring(l, _) => {
                let ledger = &ir.ledgers[*l];
                r.events
                    .extend(ledger.earn.iter().chain(&ledger.spend).map(|(e, _)| *e));
            }
            hir::Expr::Profile(_) => r.profile = true,
            // The customer's zone comes from the profile.
            hir::Expr::Call(Func::Date | Func::Hour | Func::Weekday, _) => r.profile = true,
            hir::Expr::HasTag(hir::TagRef::Manual(_)) => r.tags = true,
            hir::Expr::FirstSeen => r.first_seen = true,
            hir::Expr::LastSeen => r.last_seen = true,
            hir::Expr::Segment(s)
            | hir::Expr::StageIs { stage: s, .. }
            | hir::Expr::HasTag(hir::TagRef::Auto(s)) => r.slots.push(*s),
            hir::Expr::EventField(_) | hir::Expr::RowField(_) => r.always = true,
            _ => {}
        });
    }
    r
}

/// Does a rule read its triggering event's fields (`event.*`): in its
/// guard, its actions, or an `unless` condition, aggregates' filters
/// included?
fn reads_event(aggs: &[AggSpec], r: &hir::Rule<CExpr>) -> bool {
    fn event_field(aggs: &[AggSpec], e: &CExpr) -> bool {
        let mut reads = false;
        e.walk(&mut |x| match x {
            hir::Expr::EventField(_) => reads = true,
            hir::Expr::Agg(a) => {
                reads |= aggs[*a]
                    .filter
                    .as_ref()
                    .is_some_and(|f| event_field(aggs, f));
            }
            _ => {}
        });
        reads
    }
    let mut reads = false;
    let mut visit = |e: &CExpr| reads |= event_field(aggs, e);
    let variants = r
        .split
        .iter()
        .flat_map(|s| s.variants.iter().flat_map(|v| &v.2));
    for effect in r.actions.iter().chain(variants) {
        match effect {
            hir::Effect::Host { args, .. } => args.iter().for_each(&mut visit),
            hir::Effect::Set { value, .. } => visit(value),
            hir::Effect::AddTag(_) | hir::Effect::RemoveTag(_) => {}
        }
    }
    r.guard.iter().for_each(&mut visit);
    if let Some(f) = r.unless.as_ref().and_then(|u| u.filter.as_ref()) {
        visit(f);
    }
    reads
}
