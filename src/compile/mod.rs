//! Stage 3, compile: the checked AST → an evaluator IR with every name
//! resolved to a slot, aggregates deduplicated and classified, and rules
//! indexed by the event types that can trigger them. The entry points that
//! run every stage are re-exported here.

mod expr;

pub use crate::program::{
    CompileError, Program, compile as compile_source, compile_bytes, compile_with,
};
pub use expr::{CExpr, CmpOp, TagRef};

use crate::check::{Derived, Symbols};
use crate::eval::fast::Fast;
use crate::syntax::ast::*;
use crate::syntax::print_expr;
use crate::zone::Zone;
use indexmap::IndexMap;

/// Which events and clock instants matter to a program, with every name
/// resolved. Built once per program; shared by all customers.
#[derive(Debug)]
pub struct Ir {
    /// Declared events and broadcasts, by index.
    pub events: Vec<EventInfo>,
    /// Event type name → index.
    pub event_ids: IndexMap<String, usize>,
    /// Profile attributes, by index.
    pub profile: Vec<(String, Type)>,
    /// The program zone.
    pub zone: Zone,
    /// Index of the per-customer zone attribute.
    pub customer_zone: Option<usize>,
    /// Host actions, by index.
    pub actions: Vec<ActionInfo>,
    /// Distinct aggregates, by index.
    pub aggs: Vec<AggSpec>,
    /// Raw event logs kept for aggregates that must be recomputed on demand.
    pub logs: Vec<LogSpec>,
    /// Segments, auto tags and stages in evaluation order.
    pub derived: Vec<DerivedNode>,
    /// Rules in declaration order.
    pub rules: Vec<RuleIr>,
    /// Per event type: the aggregates it feeds.
    pub aggs_by_event: Vec<Vec<usize>>,
    /// Per event type: the raw log it feeds, if any.
    pub log_by_event: Vec<Option<usize>>,
    /// Per event type: rules that react to it (trigger, `no`, `after`, `unless`).
    pub rules_by_event: Vec<Vec<usize>>,
    /// Rules fired by derived-state transitions.
    pub transition_rules: Vec<usize>,
    /// Per rule: rules whose trigger is `D after rule` it.
    pub followers: Vec<Vec<usize>>,
    /// Names of auto tags, for rejecting `$tag` of one.
    pub auto_tags: IndexMap<String, usize>,
    /// Frequency caps, in declaration order.
    pub caps: Vec<CapIr>,
    /// Points ledgers, in declaration order.
    pub ledgers: Vec<LedgerIr>,
    /// Per event type: the ledgers it earns or spends in.
    pub ledgers_by_event: Vec<Vec<usize>>,
    /// Quiet hours.
    pub quiet: Option<QuietIr>,
    /// Whether firings can change state that derived state or timers read,
    /// so that an instant may need more than one round.
    pub may_cascade: bool,
    /// Fast forms (see [`Fast`]) of derived conditions, by derived slot.
    pub fast_conds: Vec<Option<Fast>>,
    /// Fast forms of rule guards, by rule.
    pub fast_guards: Vec<Option<Fast>>,
}

/// A declared event type.
#[derive(Debug)]
pub struct EventInfo {
    /// Its name.
    pub name: String,
    /// Sent without a customer.
    pub broadcast: bool,
    /// Fields and their types, in declared order.
    pub fields: Vec<(String, Type)>,
}

/// A declared host action.
#[derive(Debug)]
pub struct ActionInfo {
    /// Its name.
    pub name: String,
    /// Parameter names, in declared order.
    pub params: Vec<String>,
    /// The channel caps count it against.
    pub channel: Option<String>,
}

/// How an aggregate's state is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggMode {
    /// All history, pure filter: O(1) running values.
    Running,
    /// A window, pure filter: the matching entries inside the window.
    Window,
    /// The filter reads more than the event (`event.*`, `profile.*`, zone
    /// functions): recomputed from the raw log of its event type.
    Scan(usize),
}

/// One distinct aggregate of the program.
#[derive(Debug)]
pub struct AggSpec {
    /// Canonical text, which identifies it (e.g. `sum(purchase.amount in 180d)`).
    pub key: String,
    /// Which aggregate.
    pub func: AggFunc,
    /// The event type.
    pub event: usize,
    /// The field aggregated.
    pub field: Option<usize>,
    /// Which events count.
    pub filter: Option<CExpr>,
    /// Rolling window in seconds.
    pub window: Option<i64>,
    /// How its state is kept.
    pub mode: AggMode,
}

/// A raw log of one event type.
#[derive(Debug)]
pub struct LogSpec {
    /// The event type.
    pub event: usize,
    /// How long entries are kept; `None` is forever (bounded by limits).
    pub retention: Option<i64>,
}

/// The kind of a derived node.
#[derive(Debug)]
pub enum DerivedKind {
    /// A segment.
    Segment(String),
    /// An auto tag.
    Tag(String),
    /// A stage with its labels in order; the `otherwise` label has no
    /// condition.
    Stage(String, Vec<(String, Option<CExpr>)>),
}

/// A segment, tag or stage.
#[derive(Debug)]
pub struct DerivedNode {
    /// What it is.
    pub kind: DerivedKind,
    /// The condition of a segment or tag (stages keep theirs per label).
    pub cond: Option<CExpr>,
    /// Whether a change of it is ever seen (a tag report, a transition
    /// trigger, or a derived node that is seen and reads it): only those
    /// need their time-driven changes scheduled.
    pub observed: bool,
    /// What its value reads besides the clock (which its horizon covers).
    pub reads: Reads,
}

/// The inputs a derived value depends on, so that a step re-evaluates only
/// what an event can change.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    /// Event types whose arrival can change it (aggregates, ledgers).
    pub events: Vec<usize>,
    /// Profile attributes (or the customer's zone).
    pub profile: bool,
    /// Manual tags.
    pub tags: bool,
    /// `first_seen`.
    pub first_seen: bool,
    /// `last_seen`.
    pub last_seen: bool,
    /// Something this analysis does not follow: always re-evaluate.
    pub always: bool,
    /// Derived slots it reads.
    pub slots: Vec<usize>,
}

/// A compiled trigger.
#[derive(Debug)]
pub enum TriggerIr {
    /// `E [where C]`.
    Event {
        /// Event type.
        event: usize,
        /// Condition.
        filter: Option<CExpr>,
    },
    /// `no E [where C] for D`.
    No {
        /// Event type.
        event: usize,
        /// Condition.
        filter: Option<CExpr>,
        /// Silence.
        duration: i64,
    },
    /// `D after [last] E [where C]` (`unless` is on the rule).
    After {
        /// Event type.
        event: usize,
        /// Condition.
        filter: Option<CExpr>,
        /// Delay.
        delay: i64,
        /// Debounced.
        last: bool,
    },
    /// `D after rule R`.
    AfterRule {
        /// The rule followed.
        rule: usize,
        /// Delay.
        delay: i64,
    },
    /// `enters S` / `exits S`.
    Membership {
        /// Derived slot of the segment.
        slot: usize,
        /// `enters` (true) or `exits`.
        enters: bool,
    },
    /// `STAGE becomes L` (`label: Some`) / `STAGE changes` (`None`).
    Stage {
        /// Derived slot of the stage.
        slot: usize,
        /// The label index.
        label: Option<usize>,
    },
    /// `every day|WEEKDAY at HH:MM`.
    Every {
        /// ISO weekday (1 = Monday), or every day.
        weekday: Option<u8>,
        /// Local time.
        at: TimeOfDay,
    },
    /// `[D before] anniversary of profile.F [at HH:MM]`.
    Anniversary {
        /// The date attribute.
        attr: usize,
        /// `D before`, in seconds.
        before: i64,
        /// Local time (00:00 by default).
        at: TimeOfDay,
    },
}

/// A compiled action.
#[derive(Debug)]
pub enum ActionIr {
    /// A host action with its arguments in declared parameter order.
    Host {
        /// Action index.
        action: usize,
        /// Argument expressions.
        args: Vec<CExpr>,
    },
    /// `add tag`.
    AddTag(String),
    /// `remove tag`.
    RemoveTag(String),
    /// `set profile.F = E`.
    Set {
        /// Profile attribute index.
        attr: usize,
        /// Value.
        value: CExpr,
    },
}

/// A compiled rule.
#[derive(Debug)]
pub struct RuleIr {
    /// Rule name.
    pub name: String,
    /// Higher fires first among firings at the same instant.
    pub priority: i64,
    /// What makes it fire.
    pub trigger: TriggerIr,
    /// `unless F [where C2]`.
    pub unless: Option<(usize, Option<CExpr>)>,
    /// `if` guard.
    pub guard: Option<CExpr>,
    /// `do` actions (empty for a split rule).
    pub actions: Vec<ActionIr>,
    /// `at HH:MM`: the firing snaps to the next such local time (calendar
    /// triggers carry theirs in the trigger).
    pub at: Option<TimeOfDay>,
    /// `limit`: at most `max` emitted firings ever (`per: None`) or in any
    /// window of `per` seconds.
    pub limit: Option<(u32, Option<i64>)>,
    /// `quiet …` override of the program's quiet-hours policy.
    pub quiet: Option<QuietPolicy>,
    /// `split`.
    pub split: Option<SplitIr>,
    /// `holdout`, in basis points.
    pub holdout: Option<u32>,
    /// `goal E [where C] within D`.
    pub goal: Option<GoalIr>,
}

/// A compiled `split`.
#[derive(Debug)]
pub struct SplitIr {
    /// Experiment name, hashed with the customer id.
    pub experiment: String,
    /// Variants in declared order: name, share in basis points, actions.
    pub variants: Vec<(String, u32, Vec<ActionIr>)>,
}

/// A compiled `goal`.
#[derive(Debug)]
pub struct GoalIr {
    /// The converting event type.
    pub event: usize,
    /// Its condition (bare names are its fields).
    pub filter: Option<CExpr>,
    /// How long after a firing a conversion counts.
    pub within: i64,
}

/// A compiled `cap`.
#[derive(Debug)]
pub struct CapIr {
    /// The channel, `None` for `all`.
    pub channel: Option<String>,
    /// At most this many emitted host actions…
    pub max: u32,
    /// …in any window of this many seconds.
    pub per: i64,
}

/// A compiled points ledger (§7).
#[derive(Debug)]
pub struct LedgerIr {
    /// Its name.
    pub name: String,
    /// `earn EXPR on E`: event type and amount (`event.*` is that event).
    pub earn: Vec<(usize, CExpr)>,
    /// `spend EXPR on E`.
    pub spend: Vec<(usize, CExpr)>,
    /// `expire after D`: credits expire this long after they were earned.
    pub expire: Option<i64>,
}

/// Program-level quiet hours.
#[derive(Clone, Copy, Debug)]
pub struct QuietIr {
    /// Start (inclusive), local.
    pub start: TimeOfDay,
    /// End (exclusive), local.
    pub end: TimeOfDay,
    /// `defer` or `drop`.
    pub policy: QuietPolicy,
}

impl QuietIr {
    /// Is a local time of day (seconds since midnight) inside the window?
    pub fn contains(&self, secs: i64) -> bool {
        let (start, end) = (self.start.seconds(), self.end.seconds());
        if start <= end {
            start <= secs && secs < end
        } else {
            secs >= start || secs < end
        }
    }
}

impl TriggerIr {
    /// The event type that starts this trigger, if any.
    pub fn event(&self) -> Option<usize> {
        match self {
            TriggerIr::Event { event, .. }
            | TriggerIr::No { event, .. }
            | TriggerIr::After { event, .. } => Some(*event),
            _ => None,
        }
    }

    /// A calendar trigger (`every`, `anniversary`): due by the clock at
    /// occurrences the customer's zone places.
    pub fn is_calendar(&self) -> bool {
        matches!(
            self,
            TriggerIr::Every { .. } | TriggerIr::Anniversary { .. }
        )
    }
}

/// Compiles a checked module.
pub fn compile(module: &Module, syms: &Symbols) -> Ir {
    Builder::new(syms).build(module)
}

struct Builder<'a> {
    syms: &'a Symbols,
    ir: Ir,
    derived_slot: IndexMap<Derived, usize>,
    agg_ids: IndexMap<String, usize>,
}

impl<'a> Builder<'a> {
    fn new(syms: &'a Symbols) -> Builder<'a> {
        let events: Vec<EventInfo> = syms
            .events
            .iter()
            .map(|(name, e)| EventInfo {
                name: name.clone(),
                broadcast: e.broadcast,
                fields: e.fields.iter().map(|(f, t)| (f.clone(), *t)).collect(),
            })
            .collect();
        let n = events.len();
        let derived_slot = syms
            .derived
            .iter()
            .enumerate()
            .map(|(i, d)| (d.clone(), i))
            .collect();
        Builder {
            syms,
            ir: Ir {
                event_ids: syms
                    .events
                    .keys()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), i))
                    .collect(),
                events,
                profile: syms.profile.iter().map(|(k, t)| (k.clone(), *t)).collect(),
                zone: syms.timezone,
                customer_zone: syms
                    .customer_timezone
                    .as_ref()
                    .and_then(|a| syms.profile.get_index_of(a)),
                actions: syms
                    .actions
                    .iter()
                    .map(|(name, a)| ActionInfo {
                        name: name.clone(),
                        params: a.params.keys().cloned().collect(),
                        channel: a.channel.clone(),
                    })
                    .collect(),
                aggs: Vec::new(),
                logs: Vec::new(),
                derived: Vec::new(),
                rules: Vec::new(),
                aggs_by_event: vec![Vec::new(); n],
                log_by_event: vec![None; n],
                rules_by_event: vec![Vec::new(); n],
                transition_rules: Vec::new(),
                followers: Vec::new(),
                auto_tags: syms
                    .tags
                    .keys()
                    .enumerate()
                    .map(|(i, k)| (k.clone(), i))
                    .collect(),
                caps: Vec::new(),
                ledgers: Vec::new(),
                ledgers_by_event: vec![Vec::new(); n],
                quiet: None,
                may_cascade: false,
                fast_conds: Vec::new(),
                fast_guards: Vec::new(),
            },
            derived_slot,
            agg_ids: IndexMap::new(),
        }
    }

    fn build(mut self, module: &Module) -> Ir {
        for item in &module.items {
            if let Item::Ledger(l) = item {
                let index = self.ir.ledgers.len();
                let mut ledger = LedgerIr {
                    name: l.name.node.clone(),
                    earn: Vec::new(),
                    spend: Vec::new(),
                    expire: None,
                };
                for c in &l.clauses {
                    match c {
                        LedgerClause::Earn { amount, on } | LedgerClause::Spend { amount, on } => {
                            let event = self.ir.event_ids[&on.node];
                            let scope = Scope {
                                row: None,
                                trigger: Some(event),
                            };
                            let amount = self.expr(amount, &scope);
                            if matches!(c, LedgerClause::Earn { .. }) {
                                ledger.earn.push((event, amount));
                            } else {
                                ledger.spend.push((event, amount));
                            }
                            if !self.ir.ledgers_by_event[event].contains(&index) {
                                self.ir.ledgers_by_event[event].push(index);
                            }
                        }
                        LedgerClause::Expire(d) => ledger.expire = Some(d.node),
                    }
                }
                self.ir.ledgers.push(ledger);
            }
        }
        for item in &module.items {
            match item {
                Item::Cap(c) => self.ir.caps.push(CapIr {
                    channel: c.channel.as_ref().map(|c| c.node.clone()),
                    max: c.max.node,
                    per: c.per.node,
                }),
                Item::Quiet(q) => {
                    self.ir.quiet = Some(QuietIr {
                        start: q.start.node,
                        end: q.end.node,
                        policy: q.policy.as_ref().map_or(QuietPolicy::Defer, |p| p.node),
                    })
                }
                _ => {}
            }
        }
        // Derived state, in the checker's dependency order.
        for d in &self.syms.derived.clone() {
            // A tag's changes are always reported; segments and stages become
            // observed below, if a trigger or an observed node reads them.
            let (kind, cond, observed) = match d {
                Derived::Segment(name) => {
                    let idx = self.syms.segments[name];
                    let Item::Segment(s) = &module.items[idx] else {
                        continue;
                    };
                    let cond = self.expr(&s.cond, &Scope::default());
                    (DerivedKind::Segment(name.clone()), Some(cond), false)
                }
                Derived::Tag(name) => {
                    let idx = self.syms.tags[name];
                    let Item::Tag(t) = &module.items[idx] else {
                        continue;
                    };
                    let cond = self.expr(&t.cond, &Scope::default());
                    (DerivedKind::Tag(name.clone()), Some(cond), true)
                }
                Derived::Stage(name) => {
                    let idx = self.syms.stages[name].0;
                    let Item::Stage(s) = &module.items[idx] else {
                        continue;
                    };
                    let labels = s
                        .labels
                        .iter()
                        .map(|l| {
                            (
                                l.name.node.clone(),
                                l.cond.as_ref().map(|c| self.expr(c, &Scope::default())),
                            )
                        })
                        .collect();
                    (DerivedKind::Stage(name.clone(), labels), None, false)
                }
            };
            self.ir.derived.push(DerivedNode {
                kind,
                cond,
                observed,
                reads: Reads::default(),
            });
        }
        let rule_items: Vec<&RuleDecl> = module
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Rule(r) => Some(r),
                _ => None,
            })
            .collect();
        self.ir.followers = vec![Vec::new(); rule_items.len()];
        for (index, r) in rule_items.iter().enumerate() {
            let rule = self.rule(r);
            match &rule.trigger {
                TriggerIr::Membership { slot, .. } | TriggerIr::Stage { slot, .. } => {
                    self.ir.derived[*slot].observed = true;
                    self.ir.transition_rules.push(index);
                }
                TriggerIr::AfterRule {
                    rule: followed,
                    delay,
                } => {
                    self.ir.followers[*followed].push(index);
                    let _ = delay;
                }
                _ => {}
            }
            let mut events: Vec<usize> = rule.trigger.event().into_iter().collect();
            if let Some((u, _)) = &rule.unless {
                events.push(*u);
            }
            if let Some(g) = &rule.goal {
                events.push(g.event);
            }
            for e in events {
                if !self.ir.rules_by_event[e].contains(&index) {
                    self.ir.rules_by_event[e].push(index);
                }
            }
            self.ir.rules.push(rule);
        }
        self.propagate_observed();
        for i in 0..self.ir.derived.len() {
            self.ir.derived[i].reads = self.reads_of(i);
        }
        self.ir.may_cascade = self.cascades();
        let ir = &self.ir;
        let fast = |c: &Option<CExpr>| c.as_ref().map(|c| Fast::new(c, ir));
        let conds = ir.derived.iter().map(|d| fast(&d.cond)).collect();
        let guards = ir.rules.iter().map(|r| fast(&r.guard)).collect();
        (self.ir.fast_conds, self.ir.fast_guards) = (conds, guards);
        self.ir
    }

    /// What derived node `i` reads (see [`Reads`]).
    fn reads_of(&self, i: usize) -> Reads {
        let ir = &self.ir;
        let node = &ir.derived[i];
        let mut r = Reads::default();
        let mut visit = |e: &CExpr| {
            e.walk(&mut |x| match x {
                CExpr::Agg(a) => {
                    let spec = &ir.aggs[*a];
                    match spec.mode {
                        AggMode::Scan(_) => r.always = true,
                        _ => r.events.push(spec.event),
                    }
                }
                CExpr::Balance(l) | CExpr::Expiring(l, _) => {
                    let ledger = &ir.ledgers[*l];
                    r.events
                        .extend(ledger.earn.iter().chain(&ledger.spend).map(|(e, _)| *e));
                }
                CExpr::Profile(_) => r.profile = true,
                // The customer's zone comes from the profile.
                CExpr::Call(Func::Date | Func::Hour | Func::Weekday, _) => r.profile = true,
                CExpr::HasTag(TagRef::Manual(_)) => r.tags = true,
                CExpr::FirstSeen => r.first_seen = true,
                CExpr::LastSeen => r.last_seen = true,
                CExpr::Segment(s)
                | CExpr::StageIs { slot: s, .. }
                | CExpr::HasTag(TagRef::Auto(s)) => r.slots.push(*s),
                CExpr::EventField(_) | CExpr::RowField(_) => r.always = true,
                _ => {}
            })
        };
        if let Some(c) = &node.cond {
            visit(c);
        }
        if let DerivedKind::Stage(_, labels) = &node.kind {
            for c in labels.iter().filter_map(|(_, c)| c.as_ref()) {
                visit(c);
            }
        }
        r
    }

    /// Can one instant need more than `MAX_ROUNDS` rounds? Only if firings
    /// keep causing firings: a cycle, or a chain of 15, in the graph where
    /// rule A points to rule B when A's built-ins (tags, profile attributes)
    /// change what B's transition trigger watches, or B follows A with no
    /// delay. Steps of programs that cannot cascade that far need no backup
    /// copy of the customer to roll back to.
    fn cascades(&self) -> bool {
        use std::collections::BTreeSet;
        let ir = &self.ir;
        // What each derived slot reads, through the slots it reads.
        let mut reads: Vec<(BTreeSet<String>, BTreeSet<usize>)> = Vec::new();
        for node in &ir.derived {
            let (mut tags, mut attrs) = (BTreeSet::new(), BTreeSet::new());
            let mut visit = |e: &CExpr| {
                e.walk(&mut |x| match x {
                    CExpr::HasTag(TagRef::Manual(t)) => {
                        tags.insert(t.clone());
                    }
                    CExpr::Profile(i) => {
                        attrs.insert(*i);
                    }
                    CExpr::Segment(s)
                    | CExpr::StageIs { slot: s, .. }
                    | CExpr::HasTag(TagRef::Auto(s)) => {
                        if let Some((t, a)) = reads.get(*s) {
                            tags.extend(t.iter().cloned());
                            attrs.extend(a.iter().copied());
                        }
                    }
                    _ => {}
                })
            };
            if let Some(c) = &node.cond {
                visit(c);
            }
            if let DerivedKind::Stage(_, labels) = &node.kind {
                for c in labels.iter().filter_map(|(_, c)| c.as_ref()) {
                    visit(c);
                }
            }
            reads.push((tags, attrs));
        }
        let writes = |r: &RuleIr| {
            let variants = r
                .split
                .iter()
                .flat_map(|s| s.variants.iter().flat_map(|v| &v.2));
            let (mut tags, mut attrs) = (BTreeSet::new(), BTreeSet::new());
            for a in r.actions.iter().chain(variants) {
                match a {
                    ActionIr::AddTag(t) | ActionIr::RemoveTag(t) => {
                        tags.insert(t.clone());
                    }
                    ActionIr::Set { attr, .. } => {
                        attrs.insert(*attr);
                    }
                    ActionIr::Host { .. } => {}
                }
            }
            (tags, attrs)
        };
        let n = ir.rules.len();
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (a, ra) in ir.rules.iter().enumerate() {
            let (tags, attrs) = writes(ra);
            for (b, rb) in ir.rules.iter().enumerate() {
                let watched = match rb.trigger {
                    TriggerIr::Membership { slot, .. } | TriggerIr::Stage { slot, .. } => {
                        reads.get(slot)
                    }
                    _ => None,
                };
                let changes_watched =
                    watched.is_some_and(|(t, at)| !t.is_disjoint(&tags) || !at.is_disjoint(&attrs));
                let follows_now =
                    matches!(rb.trigger, TriggerIr::AfterRule { rule, delay: 0 } if rule == a);
                if changes_watched || follows_now {
                    edges[a].push(b);
                }
            }
        }
        // Longest path in topological order (Kahn); rules left over sit on
        // a cycle. No recursion: programs may have thousands of rules.
        let mut indegree = vec![0usize; n];
        for targets in &edges {
            for &b in targets {
                indegree[b] += 1;
            }
        }
        let mut ready: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
        let mut longest = vec![0usize; n];
        let mut done = 0;
        while let Some(v) = ready.pop() {
            done += 1;
            for &w in &edges[v] {
                longest[w] = longest[w].max(longest[v] + 1);
                indegree[w] -= 1;
                if indegree[w] == 0 {
                    ready.push(w);
                }
            }
        }
        done < n
            || longest
                .iter()
                .any(|&d| d + 1 >= crate::engine::state::MAX_ROUNDS)
    }

    /// A derived node read by an observed one is observed too; walking the
    /// evaluation order backwards settles it in one pass.
    fn propagate_observed(&mut self) {
        for i in (0..self.ir.derived.len()).rev() {
            if !self.ir.derived[i].observed {
                continue;
            }
            let mut reads = Vec::new();
            let node = &self.ir.derived[i];
            if let Some(c) = &node.cond {
                c.derived_reads(&mut reads);
            }
            if let DerivedKind::Stage(_, labels) = &node.kind {
                for (_, c) in labels {
                    if let Some(c) = c {
                        c.derived_reads(&mut reads);
                    }
                }
            }
            for r in reads {
                self.ir.derived[r].observed = true;
            }
        }
    }

    fn rule(&mut self, r: &RuleDecl) -> RuleIr {
        let mut trigger = None;
        let mut unless = None;
        let mut guard = None;
        let mut actions = Vec::new();
        let mut priority = 0;
        let mut trigger_event: Option<usize> = None;
        for c in &r.clauses {
            if let Clause::When(t) = &c.node {
                let (tr, un, ev) = self.trigger(t);
                trigger = Some(tr);
                unless = un;
                trigger_event = ev;
            }
        }
        // `anniversary of … do … at 09:00` means the same as the trigger's
        // own `at 09:00` (the anniversary's 00:00 snapped to 09:00).
        let rule_at = r.clauses.iter().find_map(|c| match c.node {
            Clause::At(t) => Some(t),
            _ => None,
        });
        if let (Some(TriggerIr::Anniversary { at, .. }), Some(t)) = (trigger.as_mut(), rule_at) {
            *at = t;
        }
        let scope = Scope {
            row: None,
            trigger: trigger_event,
        };
        let calendar = trigger.as_ref().is_some_and(TriggerIr::is_calendar);
        let (mut at, mut limit, mut quiet, mut split, mut holdout, mut goal) =
            (None, None, None, None, None, None);
        for c in &r.clauses {
            match &c.node {
                Clause::If(e) => guard = Some(self.expr(e, &scope)),
                Clause::Do(list) => {
                    for a in list {
                        let a = self.action(a, &scope);
                        actions.push(a);
                    }
                }
                Clause::Priority(p) => priority = *p,
                Clause::At(t) if !calendar => at = Some(*t),
                Clause::Limit(Limit::Once) => limit = Some((1, None)),
                Clause::Limit(Limit::PerWindow { max, per, .. }) => {
                    limit = Some((*max, Some(per.node)))
                }
                Clause::Quiet(p) => quiet = Some(*p),
                Clause::Split(sp) => {
                    let variants = sp
                        .variants
                        .iter()
                        .map(|v| {
                            let acts = v.actions.iter().map(|a| self.action(a, &scope)).collect();
                            (v.name.node.clone(), v.share.node, acts)
                        })
                        .collect();
                    split = Some(SplitIr {
                        experiment: sp.experiment.node.clone(),
                        variants,
                    });
                }
                Clause::Holdout(h) => holdout = Some(h.node),
                Clause::Goal(g) => {
                    let event = self.ir.event_ids[&g.event.node];
                    let gscope = Scope {
                        row: Some(event),
                        trigger: None,
                    };
                    goal = Some(GoalIr {
                        event,
                        filter: g.filter.as_ref().map(|f| self.expr(f, &gscope)),
                        within: g.within.node,
                    });
                }
                _ => {}
            }
        }
        RuleIr {
            name: r.name.node.clone(),
            priority,
            // The checker guarantees exactly one `when`.
            trigger: trigger.unwrap_or(TriggerIr::AfterRule {
                rule: 0,
                delay: i64::MAX,
            }),
            unless,
            guard,
            actions,
            at,
            limit,
            quiet,
            split,
            holdout,
            goal,
        }
    }

    #[allow(clippy::type_complexity)]
    fn trigger(
        &mut self,
        t: &Trigger,
    ) -> (TriggerIr, Option<(usize, Option<CExpr>)>, Option<usize>) {
        let event_filter =
            |b: &mut Self, f: &EventFilter, trigger: Option<usize>| -> (usize, Option<CExpr>) {
                let event = b.ir.event_ids[&f.event.node];
                let scope = Scope {
                    row: Some(event),
                    trigger,
                };
                (event, f.filter.as_ref().map(|c| b.expr(c, &scope)))
            };
        let unless_of = |b: &mut Self, u: &Option<EventFilter>, trigger: Option<usize>| {
            u.as_ref().map(|u| event_filter(b, u, trigger))
        };
        match t {
            Trigger::Event(f) => {
                let event = self.ir.event_ids[&f.event.node];
                let (event, filter) = event_filter(self, f, Some(event));
                (TriggerIr::Event { event, filter }, None, Some(event))
            }
            Trigger::No { event, duration } => {
                let (e, filter) = event_filter(self, event, None);
                (
                    TriggerIr::No {
                        event: e,
                        filter,
                        duration: duration.node,
                    },
                    None,
                    None,
                )
            }
            Trigger::After {
                delay,
                last,
                event,
                unless,
            } => {
                let e = self.ir.event_ids[&event.event.node];
                let (e, filter) = event_filter(self, event, Some(e));
                let unless = unless_of(self, unless, Some(e));
                (
                    TriggerIr::After {
                        event: e,
                        filter,
                        delay: delay.node,
                        last: *last,
                    },
                    unless,
                    Some(e),
                )
            }
            Trigger::AfterRule {
                delay,
                rule,
                unless,
            } => {
                let rule = self.syms.rules.get_index_of(&rule.node).unwrap_or(0);
                let unless = unless_of(self, unless, None);
                (
                    TriggerIr::AfterRule {
                        rule,
                        delay: delay.node,
                    },
                    unless,
                    None,
                )
            }
            Trigger::Enters(s) | Trigger::Exits(s) => (
                TriggerIr::Membership {
                    slot: self.derived_slot[&Derived::Segment(s.node.clone())],
                    enters: matches!(t, Trigger::Enters(_)),
                },
                None,
                None,
            ),
            Trigger::Becomes { stage, label } => {
                let slot = self.derived_slot[&Derived::Stage(stage.node.clone())];
                let label = self.syms.stages[&stage.node]
                    .1
                    .iter()
                    .position(|l| *l == label.node);
                (TriggerIr::Stage { slot, label }, None, None)
            }
            Trigger::Changes(stage) => (
                TriggerIr::Stage {
                    slot: self.derived_slot[&Derived::Stage(stage.node.clone())],
                    label: None,
                },
                None,
                None,
            ),
            Trigger::Every { day, at } => (
                TriggerIr::Every {
                    weekday: match day {
                        Every::Day => None,
                        Every::Weekday(d) => Some(*d),
                    },
                    at: at.node,
                },
                None,
                None,
            ),
            Trigger::Anniversary { before, attr, at } => (
                TriggerIr::Anniversary {
                    attr: self.syms.profile.get_index_of(&attr.node).unwrap_or(0),
                    before: before.as_ref().map_or(0, |b| b.node),
                    at: at
                        .as_ref()
                        .map_or(TimeOfDay { hour: 0, minute: 0 }, |t| t.node),
                },
                None,
                None,
            ),
        }
    }

    fn action(&mut self, a: &Action, scope: &Scope) -> ActionIr {
        match a {
            Action::Call { name, args } => {
                let action = self.syms.actions.get_index_of(&name.node).unwrap_or(0);
                let params: Vec<String> = self.ir.actions[action].params.clone();
                let args = params
                    .iter()
                    .map(|p| {
                        args.iter()
                            .find(|(k, _)| k.node == *p)
                            .map_or(CExpr::Const(crate::value::Value::Null), |(_, v)| {
                                self.expr(v, scope)
                            })
                    })
                    .collect();
                ActionIr::Host { action, args }
            }
            Action::AddTag(t) => ActionIr::AddTag(t.node.clone()),
            Action::RemoveTag(t) => ActionIr::RemoveTag(t.node.clone()),
            Action::Set { attr, value } => ActionIr::Set {
                attr: self.syms.profile.get_index_of(&attr.node).unwrap_or(0),
                value: self.expr(value, scope),
            },
        }
    }

    fn expr(&mut self, e: &Expr, scope: &Scope) -> CExpr {
        expr::lower(self, e, scope)
    }

    /// Registers an aggregate (deduplicated by its canonical text).
    fn aggregate(&mut self, a: &Aggregate, e: &Expr, outer: &Scope) -> usize {
        let event = self.ir.event_ids[&a.event.node];
        let field = a.field.as_ref().and_then(|f| {
            self.ir.events[event]
                .fields
                .iter()
                .position(|(n, _)| *n == f.node)
        });
        let scope = Scope {
            row: Some(event),
            trigger: outer.trigger,
        };
        let filter = a.filter.as_ref().map(|f| self.expr(f, &scope));
        let pure = filter.as_ref().is_none_or(CExpr::reads_only_row);
        // Impure filters read the trigger event, so the same text can mean
        // different things in different rules: those are never shared.
        let key = if pure {
            print_expr(e)
        } else {
            format!("{}#{}", print_expr(e), self.ir.aggs.len())
        };
        if let Some(id) = self.agg_ids.get(&key) {
            return *id;
        }
        let mode = if pure {
            if a.window.is_some() {
                AggMode::Window
            } else {
                AggMode::Running
            }
        } else {
            let window = a.window.as_ref().map(|w| w.node);
            let log = match self.ir.log_by_event[event] {
                Some(l) => {
                    let spec = &mut self.ir.logs[l];
                    spec.retention = match (spec.retention, window) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    l
                }
                None => {
                    self.ir.logs.push(LogSpec {
                        event,
                        retention: window,
                    });
                    let l = self.ir.logs.len() - 1;
                    self.ir.log_by_event[event] = Some(l);
                    l
                }
            };
            AggMode::Scan(log)
        };
        let id = self.ir.aggs.len();
        self.ir.aggs.push(AggSpec {
            key: key.clone(),
            func: a.func,
            event,
            field,
            filter,
            window: a.window.as_ref().map(|w| w.node),
            mode,
        });
        if !matches!(mode, AggMode::Scan(_)) {
            self.ir.aggs_by_event[event].push(id);
        }
        self.agg_ids.insert(key, id);
        id
    }
}

/// What names mean where an expression is compiled.
#[derive(Clone, Copy, Default)]
struct Scope {
    /// The event whose fields bare names read (inside a `where`).
    row: Option<usize>,
    /// The event `event.*` reads.
    trigger: Option<usize>,
}
