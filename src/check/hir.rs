//! The checked program: every name resolved to the index of what it
//! names, every expression typed. Later stages work on this and never look
//! a name up again (as regex-syntax's HIR after `hir::translate`).
//!
//! Declarations, rules and ledgers are generic over their expression type
//! `E`: the checker produces them over [`Expr`], whose aggregates are
//! written out in place; the compiler maps them to its own expressions,
//! whose aggregates are shared by index.

use crate::syntax::ast::{AggFunc, BinaryOp, Func, QuietPolicy, TimeOfDay, Type};
use crate::value::Value;
use crate::zone::Zone;

/// Index of a declared event or broadcast type, in declaration order.
pub(crate) type EventId = usize;
/// Index of a field of an event (or of a profile attribute), in
/// declaration order.
pub(crate) type FieldId = usize;
/// Index of a profile attribute.
pub(crate) type AttrId = usize;
/// Index of a host action.
pub(crate) type ActionId = usize;
/// Index of a segment, auto tag or stage in evaluation order: each reads
/// only those before it.
pub(crate) type DerivedId = usize;
/// Index of a label within its stage.
pub(crate) type LabelId = usize;
/// Index of a rule, in declaration order.
pub(crate) type RuleId = usize;
/// Index of a ledger, in declaration order.
pub(crate) type LedgerId = usize;

/// A checked program over expressions `E`.
#[derive(Clone, Debug)]
pub(crate) struct Hir<E> {
    /// The program zone (UTC unless declared).
    pub zone: Zone,
    /// `timezone profile.F`: the string attribute that holds a customer's zone.
    pub customer_zone: Option<AttrId>,
    /// Events and broadcasts.
    pub events: Vec<EventDef>,
    /// Profile attributes and their types.
    pub profile: Vec<(String, Type)>,
    /// Host actions.
    pub actions: Vec<ActionDef>,
    /// Segments, auto tags and stages, in evaluation order (ties by
    /// declaration order).
    pub derived: Vec<Derived<E>>,
    /// Points ledgers.
    pub ledgers: Vec<Ledger<E>>,
    /// Rules, in declaration order.
    pub rules: Vec<Rule<E>>,
    /// Frequency caps, in declaration order.
    pub caps: Vec<Cap>,
    /// Program quiet hours.
    pub quiet: Option<Quiet>,
}

/// A declared event type.
#[derive(Clone, Debug)]
pub(crate) struct EventDef {
    /// Its name.
    pub name: String,
    /// Sent without a customer, seen by everyone.
    pub broadcast: bool,
    /// Fields and their types, in declared order.
    pub fields: Vec<(String, Type)>,
}

/// A declared host action.
#[derive(Clone, Debug)]
pub(crate) struct ActionDef {
    /// Its name.
    pub name: String,
    /// Parameter names, in declared order.
    pub params: Vec<String>,
    /// The channel caps count it against.
    pub channel: Option<String>,
}

/// A segment, auto tag or stage.
#[derive(Clone, Debug)]
pub(crate) enum Derived<E> {
    /// `segment S = COND`.
    Segment {
        /// Its name.
        name: String,
        /// Its condition.
        cond: E,
    },
    /// `tag "X" when COND`.
    Tag {
        /// The tag's text.
        name: String,
        /// Its condition.
        cond: E,
    },
    /// `stage S { … }`: labels in order; only the last (`otherwise`) has no
    /// condition.
    Stage {
        /// Its name.
        name: String,
        /// Labels and their conditions.
        labels: Vec<(String, Option<E>)>,
    },
}

impl<E> Derived<E> {
    /// Its name (a tag's text).
    pub fn name(&self) -> &str {
        match self {
            Derived::Segment { name, .. }
            | Derived::Tag { name, .. }
            | Derived::Stage { name, .. } => name,
        }
    }

    /// Every condition it evaluates, in order.
    pub fn conditions(&self) -> impl Iterator<Item = &E> {
        let (one, labels) = match self {
            Derived::Segment { cond, .. } | Derived::Tag { cond, .. } => (Some(cond), &[][..]),
            Derived::Stage { labels, .. } => (None, &labels[..]),
        };
        one.into_iter()
            .chain(labels.iter().filter_map(|(_, c)| c.as_ref()))
    }

    fn map<F>(self, f: &mut impl FnMut(E) -> F) -> Derived<F> {
        match self {
            Derived::Segment { name, cond } => Derived::Segment {
                name,
                cond: f(cond),
            },
            Derived::Tag { name, cond } => Derived::Tag {
                name,
                cond: f(cond),
            },
            Derived::Stage { name, labels } => Derived::Stage {
                name,
                labels: labels
                    .into_iter()
                    .map(|(l, c)| (l, c.map(&mut *f)))
                    .collect(),
            },
        }
    }
}

/// A points ledger (§7).
#[derive(Clone, Debug)]
pub(crate) struct Ledger<E> {
    /// Its name.
    pub name: String,
    /// `earn AMOUNT on E`, in order (`event.*` is that event).
    pub earn: Vec<(EventId, E)>,
    /// `spend AMOUNT on E`.
    pub spend: Vec<(EventId, E)>,
    /// `expire after D`, in seconds.
    pub expire: Option<i64>,
}

/// A frequency cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cap {
    /// The channel; `None` is `all`.
    pub channel: Option<String>,
    /// At most this many emitted host actions…
    pub max: u32,
    /// …in any window of this many seconds.
    pub per: i64,
}

/// Program quiet hours.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quiet {
    /// Start (inclusive), local.
    pub start: TimeOfDay,
    /// End (exclusive), local.
    pub end: TimeOfDay,
    /// `defer` or `drop`.
    pub policy: QuietPolicy,
}

impl Quiet {
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

/// An event type with an optional condition on its fields.
#[derive(Clone, Debug)]
pub(crate) struct EventFilter<E> {
    /// The event type.
    pub event: EventId,
    /// Its `where`: bare names are its fields.
    pub filter: Option<E>,
}

/// A rule.
#[derive(Clone, Debug)]
pub(crate) struct Rule<E> {
    /// Its name.
    pub name: String,
    /// Higher fires first among firings at the same instant.
    pub priority: i64,
    /// What makes it fire.
    pub trigger: Trigger<E>,
    /// `unless F [where C]` of an `after` trigger.
    pub unless: Option<EventFilter<E>>,
    /// The `if` guard.
    pub guard: Option<E>,
    /// `do` actions (empty for a split rule).
    pub actions: Vec<Effect<E>>,
    /// `at HH:MM`: the firing snaps to the next such local time (calendar
    /// triggers carry theirs in the trigger).
    pub at: Option<TimeOfDay>,
    /// `limit`: at most `max` emitted firings ever (`per: None`) or in any
    /// window of `per` seconds.
    pub limit: Option<(u32, Option<i64>)>,
    /// `quiet …`: overrides the program's quiet-hours policy.
    pub quiet: Option<QuietPolicy>,
    /// `split`.
    pub split: Option<Split<E>>,
    /// `holdout`, in basis points.
    pub holdout: Option<u32>,
    /// `goal E [where C] within D`.
    pub goal: Option<Goal<E>>,
}

/// A trigger.
#[derive(Clone, Debug)]
pub(crate) enum Trigger<E> {
    /// `E [where C]` (E may be a broadcast).
    Event(EventFilter<E>),
    /// `no E [where C] for D`.
    No {
        /// The awaited event.
        on: EventFilter<E>,
        /// The silence, in seconds.
        duration: i64,
    },
    /// `D after [last] E [where C]` (its `unless` is on the rule).
    After {
        /// The starting event.
        on: EventFilter<E>,
        /// The delay, in seconds.
        delay: i64,
        /// Debounced: a new E replaces the pending firing.
        last: bool,
    },
    /// `D after rule R`.
    AfterRule {
        /// The rule followed.
        rule: RuleId,
        /// The delay, in seconds.
        delay: i64,
    },
    /// `enters S` / `exits S`.
    Membership {
        /// The segment.
        segment: DerivedId,
        /// `enters` (true) or `exits`.
        enters: bool,
    },
    /// `STAGE becomes L` (`label: Some`) or `STAGE changes`.
    Stage {
        /// The stage.
        stage: DerivedId,
        /// The label it becomes.
        label: Option<LabelId>,
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
        attr: AttrId,
        /// `D before`, in seconds.
        before: i64,
        /// Local time (00:00 unless given).
        at: TimeOfDay,
    },
}

impl<E> Trigger<E> {
    /// The event type that starts this trigger, if any.
    pub fn event(&self) -> Option<EventId> {
        match self {
            Trigger::Event(f) | Trigger::No { on: f, .. } | Trigger::After { on: f, .. } => {
                Some(f.event)
            }
            _ => None,
        }
    }

    /// A calendar trigger (`every`, `anniversary`): due by the clock at
    /// occurrences the customer's zone places.
    pub fn is_calendar(&self) -> bool {
        matches!(self, Trigger::Every { .. } | Trigger::Anniversary { .. })
    }
}

/// What a firing does.
#[derive(Clone, Debug)]
pub(crate) enum Effect<E> {
    /// A host action with its arguments in declared parameter order.
    Host {
        /// The action.
        action: ActionId,
        /// Its arguments.
        args: Vec<E>,
    },
    /// `add tag "X"`.
    AddTag(String),
    /// `remove tag "X"`.
    RemoveTag(String),
    /// `set profile.F = VALUE`.
    Set {
        /// The attribute.
        attr: AttrId,
        /// The value.
        value: E,
    },
}

/// A `split`.
#[derive(Clone, Debug)]
pub(crate) struct Split<E> {
    /// Experiment name, hashed with the customer id.
    pub experiment: String,
    /// Variants in declared order: name, share in basis points, actions.
    pub variants: Vec<(String, u32, Vec<Effect<E>>)>,
}

/// A `goal`.
#[derive(Clone, Debug)]
pub(crate) struct Goal<E> {
    /// The converting event and its condition.
    pub on: EventFilter<E>,
    /// How long after a firing a conversion counts, in seconds.
    pub within: i64,
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    /// The comparison a binary operator is, if it is one.
    pub fn of(op: BinaryOp) -> Option<CmpOp> {
        Some(match op {
            BinaryOp::Eq => CmpOp::Eq,
            BinaryOp::Ne => CmpOp::Ne,
            BinaryOp::Lt => CmpOp::Lt,
            BinaryOp::Le => CmpOp::Le,
            BinaryOp::Gt => CmpOp::Gt,
            BinaryOp::Ge => CmpOp::Ge,
            _ => return None,
        })
    }
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

/// A tag tested by `has tag`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TagRef {
    /// An auto tag.
    Auto(DerivedId),
    /// A manual tag (set by the host or by rules).
    Manual(String),
}

/// A resolved, typed expression whose aggregates are `A`: written out
/// ([`Aggregate`]) in the checker's output, an index once the compiler has
/// shared them.
#[derive(Clone, Debug)]
pub(crate) enum Expr<A = Box<Aggregate>> {
    /// A literal (a list of literals included).
    Const(Value),
    /// `now`.
    Now,
    /// `first_seen`.
    FirstSeen,
    /// `last_seen`.
    LastSeen,
    /// `customer.id`.
    CustomerId,
    /// `profile.F`.
    Profile(AttrId),
    /// `event.F`: a field of the trigger's event.
    EventField(FieldId),
    /// A bare field inside a `where`: a field of the event it is about.
    RowField(FieldId),
    /// A segment's membership.
    Segment(DerivedId),
    /// `STAGE is L` / `STAGE in [...]` (negated for `is not`).
    StageIs {
        /// The stage.
        stage: DerivedId,
        /// Accepted labels.
        labels: Vec<LabelId>,
        /// `is not`.
        negated: bool,
    },
    /// `has tag "X"`.
    HasTag(TagRef),
    /// `not e`.
    Not(Box<Expr<A>>),
    /// `-e`.
    Neg(Box<Expr<A>>),
    /// `a and b`.
    And(Box<Expr<A>>, Box<Expr<A>>),
    /// `a or b`.
    Or(Box<Expr<A>>, Box<Expr<A>>),
    /// A comparison.
    Cmp(CmpOp, Box<Expr<A>>, Box<Expr<A>>),
    /// `+ - * /`.
    Arith(ArithOp, Box<Expr<A>>, Box<Expr<A>>),
    /// `a ?? b`.
    Coalesce(Box<Expr<A>>, Box<Expr<A>>),
    /// `x in list`.
    In(Box<Expr<A>>, Box<Expr<A>>),
    /// `list contains x`.
    Contains(Box<Expr<A>>, Box<Expr<A>>),
    /// `e is null` (`is not null` when `true`).
    IsNull(Box<Expr<A>>, bool),
    /// A list with an element that is not a literal.
    List(Vec<Expr<A>>),
    /// A scalar function.
    Call(Func, Vec<Expr<A>>),
    /// An aggregate.
    Agg(A),
    /// `balance(L)`.
    Balance(LedgerId),
    /// `expiring(L in D)`.
    Expiring(LedgerId, i64),
}

/// An aggregate over the customer's history of one event type (§3).
#[derive(Clone, Debug)]
pub(crate) struct Aggregate {
    /// Its canonical text (`sum(purchase.amount in 180d)`), which
    /// identifies it across programs.
    pub key: String,
    /// Where it is written.
    pub span: crate::diagnostic::Span,
    /// Which aggregate.
    pub func: AggFunc,
    /// The event type.
    pub event: EventId,
    /// The field aggregated.
    pub field: Option<FieldId>,
    /// Which events count (bare names are the event's fields).
    pub filter: Option<Expr>,
    /// Rolling window, in seconds.
    pub window: Option<i64>,
}

impl<A> Expr<A> {
    /// Calls `f` on every node, parents first; aggregates' filters are not
    /// entered (they are about another event).
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr<A>)) {
        f(self);
        match self {
            Expr::Not(a) | Expr::Neg(a) | Expr::IsNull(a, _) => a.walk(f),
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::Arith(_, a, b)
            | Expr::Coalesce(a, b)
            | Expr::In(a, b)
            | Expr::Contains(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::List(items) | Expr::Call(_, items) => items.iter().for_each(|i| i.walk(f)),
            _ => {}
        }
    }

    /// The same expression with every aggregate mapped by `f`, and every
    /// derived index by `d`.
    pub fn map<B>(
        self,
        f: &mut impl FnMut(A) -> B,
        d: &impl Fn(DerivedId) -> DerivedId,
    ) -> Expr<B> {
        let mut bx = |e: Box<Expr<A>>| Box::new(e.map(&mut *f, d));
        match self {
            Expr::Const(v) => Expr::Const(v),
            Expr::Now => Expr::Now,
            Expr::FirstSeen => Expr::FirstSeen,
            Expr::LastSeen => Expr::LastSeen,
            Expr::CustomerId => Expr::CustomerId,
            Expr::Profile(a) => Expr::Profile(a),
            Expr::EventField(i) => Expr::EventField(i),
            Expr::RowField(i) => Expr::RowField(i),
            Expr::Segment(s) => Expr::Segment(d(s)),
            Expr::StageIs {
                stage,
                labels,
                negated,
            } => Expr::StageIs {
                stage: d(stage),
                labels,
                negated,
            },
            Expr::HasTag(TagRef::Auto(s)) => Expr::HasTag(TagRef::Auto(d(s))),
            Expr::HasTag(TagRef::Manual(t)) => Expr::HasTag(TagRef::Manual(t)),
            Expr::Not(a) => Expr::Not(bx(a)),
            Expr::Neg(a) => Expr::Neg(bx(a)),
            Expr::And(a, b) => Expr::And(bx(a), bx(b)),
            Expr::Or(a, b) => Expr::Or(bx(a), bx(b)),
            Expr::Cmp(op, a, b) => Expr::Cmp(op, bx(a), bx(b)),
            Expr::Arith(op, a, b) => Expr::Arith(op, bx(a), bx(b)),
            Expr::Coalesce(a, b) => Expr::Coalesce(bx(a), bx(b)),
            Expr::In(a, b) => Expr::In(bx(a), bx(b)),
            Expr::Contains(a, b) => Expr::Contains(bx(a), bx(b)),
            Expr::IsNull(a, n) => Expr::IsNull(bx(a), n),
            Expr::List(items) => Expr::List(items.into_iter().map(|i| i.map(f, d)).collect()),
            Expr::Call(func, items) => {
                Expr::Call(func, items.into_iter().map(|i| i.map(f, d)).collect())
            }
            Expr::Agg(a) => Expr::Agg(f(a)),
            Expr::Balance(l) => Expr::Balance(l),
            Expr::Expiring(l, h) => Expr::Expiring(l, h),
        }
    }
}

impl<E> EventFilter<E> {
    fn map<F>(self, f: &mut impl FnMut(E) -> F) -> EventFilter<F> {
        EventFilter {
            event: self.event,
            filter: self.filter.map(f),
        }
    }
}

impl<E> Effect<E> {
    fn map<F>(self, f: &mut impl FnMut(E) -> F) -> Effect<F> {
        match self {
            Effect::Host { action, args } => Effect::Host {
                action,
                args: args.into_iter().map(&mut *f).collect(),
            },
            Effect::AddTag(t) => Effect::AddTag(t),
            Effect::RemoveTag(t) => Effect::RemoveTag(t),
            Effect::Set { attr, value } => Effect::Set {
                attr,
                value: f(value),
            },
        }
    }
}

impl<E> Rule<E> {
    /// What a firing does: the rule's actions, or its variant's (none for
    /// a split rule's control group).
    pub fn effects(&self, variant: Option<usize>) -> &[Effect<E>] {
        match (&self.split, variant) {
            (Some(s), Some(v)) => s.variants.get(v).map_or(&[][..], |v| &v.2),
            (Some(_), None) => &[],
            (None, _) => &self.actions,
        }
    }

    /// The same rule over expressions mapped by `f`, in source order (the
    /// trigger's filter, `unless`, guard, actions, split, goal).
    pub fn map<F>(self, f: &mut impl FnMut(E) -> F) -> Rule<F> {
        let trigger = match self.trigger {
            Trigger::Event(on) => Trigger::Event(on.map(f)),
            Trigger::No { on, duration } => Trigger::No {
                on: on.map(f),
                duration,
            },
            Trigger::After { on, delay, last } => Trigger::After {
                on: on.map(f),
                delay,
                last,
            },
            Trigger::AfterRule { rule, delay } => Trigger::AfterRule { rule, delay },
            Trigger::Membership { segment, enters } => Trigger::Membership { segment, enters },
            Trigger::Stage { stage, label } => Trigger::Stage { stage, label },
            Trigger::Every { weekday, at } => Trigger::Every { weekday, at },
            Trigger::Anniversary { attr, before, at } => Trigger::Anniversary { attr, before, at },
        };
        Rule {
            name: self.name,
            priority: self.priority,
            trigger,
            unless: self.unless.map(|u| u.map(f)),
            guard: self.guard.map(&mut *f),
            actions: self.actions.into_iter().map(|a| a.map(f)).collect(),
            at: self.at,
            limit: self.limit,
            quiet: self.quiet,
            split: self.split.map(|s| Split {
                experiment: s.experiment,
                variants: s
                    .variants
                    .into_iter()
                    .map(|(n, share, acts)| {
                        (n, share, acts.into_iter().map(|a| a.map(f)).collect())
                    })
                    .collect(),
            }),
            holdout: self.holdout,
            goal: self.goal.map(|g| Goal {
                on: g.on.map(f),
                within: g.within,
            }),
        }
    }
}

impl<E> Ledger<E> {
    /// The same ledger over expressions mapped by `f`.
    pub fn map<F>(self, f: &mut impl FnMut(E) -> F) -> Ledger<F> {
        Ledger {
            name: self.name,
            earn: self.earn.into_iter().map(|(e, x)| (e, f(x))).collect(),
            spend: self.spend.into_iter().map(|(e, x)| (e, f(x))).collect(),
            expire: self.expire,
        }
    }
}

impl<E> Hir<E> {
    /// The same program over expressions mapped by `f`: ledgers first, then
    /// derived state (in evaluation order), then rules, each in order.
    pub fn map<F>(self, mut f: impl FnMut(E) -> F) -> Hir<F> {
        let ledgers = self.ledgers.into_iter().map(|l| l.map(&mut f)).collect();
        Hir {
            zone: self.zone,
            customer_zone: self.customer_zone,
            events: self.events,
            profile: self.profile,
            actions: self.actions,
            derived: self.derived.into_iter().map(|d| d.map(&mut f)).collect(),
            ledgers,
            rules: self.rules.into_iter().map(|r| r.map(&mut f)).collect(),
            caps: self.caps,
            quiet: self.quiet,
        }
    }
}
