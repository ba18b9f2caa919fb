//! The typed syntax tree of a siyu program.
//!
//! Every node that a diagnostic may point at carries its [`Span`]. Spans are
//! metadata: [`Spanned`] compares only its node, so two trees that print the
//! same are equal wherever they came from (the pretty-printer round trip
//! relies on it, as `proc_macro2::Ident` equality does).

use crate::diagnostic::Span;
pub use crate::value::Type;
use std::fmt;

/// A node together with the source range it was parsed from.
#[derive(Clone)]
pub struct Spanned<T> {
    /// The node.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node` with `span`.
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<T: fmt::Debug> fmt::Debug for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

/// An identifier with its span.
pub type Ident = Spanned<String>;
/// A duration in whole seconds, with its span.
pub type Duration = Spanned<i64>;
/// A share in basis points (`12.5%` is 1250), with its span.
pub type Share = Spanned<u32>;

/// A time of day, `HH:MM` (24 h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
}

impl TimeOfDay {
    /// Seconds since local midnight.
    pub fn seconds(self) -> i64 {
        i64::from(self.hour) * 3600 + i64::from(self.minute) * 60
    }
}

/// A whole program: its items in source order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Module {
    /// Declarations and rules, in the order written.
    pub items: Vec<Item>,
}

/// One top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `timezone "Asia/Shanghai"`.
    Timezone(Spanned<String>),
    /// `timezone profile.tz`.
    CustomerTimezone(Ident),
    /// `event E { ... }` (`broadcast: false`) or `broadcast B { ... }`.
    Event(EventDecl),
    /// `profile { ... }`.
    Profile(Vec<Field>),
    /// `action A(...) [channel C]`.
    Action(ActionDecl),
    /// `cap C: N per D` (`channel: None` is `all`).
    Cap(CapDecl),
    /// `quiet HH:MM-HH:MM [policy]`.
    Quiet(QuietDecl),
    /// `segment S = EXPR`.
    Segment(SegmentDecl),
    /// `tag "X" when EXPR`.
    Tag(TagDecl),
    /// `stage S { ... }`.
    Stage(StageDecl),
    /// `ledger L { ... }`.
    Ledger(LedgerDecl),
    /// `rule R { ... }`.
    Rule(RuleDecl),
}

/// An `event` or `broadcast` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDecl {
    /// The event type.
    pub name: Ident,
    /// `broadcast` rather than `event`.
    pub broadcast: bool,
    /// Declared fields, in order.
    pub fields: Vec<Field>,
}

/// `name: type`, in events, the profile and action parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Field name (any identifier, keywords included).
    pub name: Ident,
    /// Its declared type.
    pub ty: Spanned<Type>,
}

/// `action NAME(params) [channel C]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionDecl {
    /// Action name, as the host sees it.
    pub name: Ident,
    /// Parameters, in order.
    pub params: Vec<Field>,
    /// The channel that caps count it against.
    pub channel: Option<Ident>,
}

/// `cap C: N per D`.
#[derive(Clone, Debug, PartialEq)]
pub struct CapDecl {
    /// The channel; `None` for `all`.
    pub channel: Option<Ident>,
    /// At most this many emitted actions…
    pub max: Spanned<u32>,
    /// …in any window of this length.
    pub per: Duration,
}

/// What happens to a firing inside quiet hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuietPolicy {
    /// Move it to the end of the window.
    Defer,
    /// Discard it.
    Drop,
    /// Fire anyway (rules only).
    Ignore,
}

impl QuietPolicy {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            QuietPolicy::Defer => "defer",
            QuietPolicy::Drop => "drop",
            QuietPolicy::Ignore => "ignore",
        }
    }
}

/// `quiet START-END [policy]`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuietDecl {
    /// Start of the window (inclusive), local time.
    pub start: Spanned<TimeOfDay>,
    /// End of the window (exclusive), local time.
    pub end: Spanned<TimeOfDay>,
    /// The policy as written; `None` means the default, `defer`.
    pub policy: Option<Spanned<QuietPolicy>>,
}

/// `segment NAME = EXPR`.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentDecl {
    /// Segment name.
    pub name: Ident,
    /// Membership condition.
    pub cond: Expr,
}

/// `tag "X" when EXPR`.
#[derive(Clone, Debug, PartialEq)]
pub struct TagDecl {
    /// The tag text.
    pub name: Spanned<String>,
    /// When the customer carries it.
    pub cond: Expr,
}

/// `stage NAME { LABEL when EXPR ... LABEL otherwise }`.
#[derive(Clone, Debug, PartialEq)]
pub struct StageDecl {
    /// Stage name.
    pub name: Ident,
    /// Labels in order; `cond: None` is `otherwise`.
    pub labels: Vec<StageLabel>,
}

/// One label of a stage.
#[derive(Clone, Debug, PartialEq)]
pub struct StageLabel {
    /// Label name, scoped to its stage.
    pub name: Ident,
    /// Its condition; `None` for `otherwise`.
    pub cond: Option<Expr>,
}

/// `ledger NAME { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerDecl {
    /// Ledger name.
    pub name: Ident,
    /// Its clauses, in order.
    pub clauses: Vec<LedgerClause>,
}

/// A ledger clause.
#[derive(Clone, Debug, PartialEq)]
pub enum LedgerClause {
    /// `earn EXPR on E`.
    Earn {
        /// Points credited.
        amount: Expr,
        /// On each event of this type.
        on: Ident,
    },
    /// `spend EXPR on E`.
    Spend {
        /// Points debited, oldest credits first.
        amount: Expr,
        /// On each event of this type.
        on: Ident,
    },
    /// `expire after D`.
    Expire(Duration),
}

/// `rule NAME { clauses }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDecl {
    /// Rule name.
    pub name: Ident,
    /// Clauses in source order.
    pub clauses: Vec<Spanned<Clause>>,
}

/// A rule clause.
#[derive(Clone, Debug, PartialEq)]
pub enum Clause {
    /// `when TRIGGER`.
    When(Trigger),
    /// `if COND`.
    If(Expr),
    /// `do A, A...`.
    Do(Vec<Action>),
    /// `at HH:MM`.
    At(TimeOfDay),
    /// `limit ...`.
    Limit(Limit),
    /// `priority N`.
    Priority(i64),
    /// `split "EXP" { ... }`.
    Split(Split),
    /// `holdout P%`.
    Holdout(Share),
    /// `quiet defer|drop|ignore`.
    Quiet(QuietPolicy),
    /// `goal E [where C] within D`.
    Goal(Goal),
}

/// A rule limit.
#[derive(Clone, Debug, PartialEq)]
pub enum Limit {
    /// `limit once`: ever once.
    Once,
    /// `limit N per D` (`once per D` is `N = 1`).
    PerWindow {
        /// At most this many firings…
        max: u32,
        /// …in any window of this length.
        per: Duration,
        /// Written as `once per D`.
        once: bool,
    },
}

/// `split "EXP" { LABEL P% do ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Experiment name, hashed into the bucket.
    pub experiment: Spanned<String>,
    /// Variants in declared order.
    pub variants: Vec<Variant>,
}

/// One A/B variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Variant label, reported as `variant`.
    pub name: Ident,
    /// Its share of buckets.
    pub share: Share,
    /// Its actions.
    pub actions: Vec<Action>,
}

/// `goal E [where C] within D`.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// The converting event.
    pub event: Ident,
    /// Condition on it (bare names are its fields).
    pub filter: Option<Expr>,
    /// How long after the firing it counts.
    pub within: Duration,
}

/// An action of a `do` list or a variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// A declared host action with named arguments.
    Call {
        /// The action.
        name: Ident,
        /// `param: expr`, in written order.
        args: Vec<(Ident, Expr)>,
    },
    /// `add tag "X"`.
    AddTag(Spanned<String>),
    /// `remove tag "X"`.
    RemoveTag(Spanned<String>),
    /// `set profile.F = EXPR`.
    Set {
        /// The profile attribute.
        attr: Ident,
        /// Its new value.
        value: Expr,
    },
}

/// `E [where C]`: an event type and an optional condition on its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct EventFilter {
    /// The event type.
    pub event: Ident,
    /// Condition over its fields.
    pub filter: Option<Expr>,
}

/// Calendar day selector of `every`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Every {
    /// `every day`.
    Day,
    /// `every monday` …: 1 (Monday) … 7 (Sunday).
    Weekday(u8),
}

/// Weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// What makes a rule fire (§5).
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// `E [where C]` (an event or a broadcast).
    Event(EventFilter),
    /// `no E [where C] for D`.
    No {
        /// The awaited event.
        event: EventFilter,
        /// Silence length.
        duration: Duration,
    },
    /// `D after [last] E [where C] [unless F [where C2]]`.
    After {
        /// Delay.
        delay: Duration,
        /// `last`: a new E replaces the pending one.
        last: bool,
        /// The starting event.
        event: EventFilter,
        /// The cancelling event.
        unless: Option<EventFilter>,
    },
    /// `D after rule R [unless F [where C2]]`.
    AfterRule {
        /// Delay.
        delay: Duration,
        /// The rule whose emitted firings start the delay.
        rule: Ident,
        /// The cancelling event.
        unless: Option<EventFilter>,
    },
    /// `enters S`.
    Enters(Ident),
    /// `exits S`.
    Exits(Ident),
    /// `STAGE becomes L`.
    Becomes {
        /// The stage.
        stage: Ident,
        /// The label.
        label: Ident,
    },
    /// `STAGE changes`.
    Changes(Ident),
    /// `every day|WEEKDAY at HH:MM`.
    Every {
        /// Which days.
        day: Every,
        /// Local time.
        at: Spanned<TimeOfDay>,
    },
    /// `[D before] anniversary of profile.F [at HH:MM]`.
    Anniversary {
        /// `D before`, if any.
        before: Option<Duration>,
        /// The date attribute.
        attr: Ident,
        /// Local time (default 00:00).
        at: Option<Spanned<TimeOfDay>>,
    },
}

/// An expression with its span.
pub type Expr = Spanned<ExprKind>;

/// Expression forms (§3).
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer literal (never negative: `-1` is `Neg(1)`).
    Int(i64),
    /// A number literal with a fraction part (never negative).
    Number(f64),
    /// A string literal, escapes decoded.
    Str(String),
    /// A duration literal, in seconds.
    Duration(i64),
    /// `[a, b, ...]`.
    List(Vec<Expr>),
    /// `now`.
    Now,
    /// `first_seen`.
    FirstSeen,
    /// `last_seen`.
    LastSeen,
    /// `profile.F`.
    Profile(Ident),
    /// `event.F`.
    EventField(Ident),
    /// `customer.F` (only `id` exists).
    Customer(Ident),
    /// A bare name: an event field inside a `where`, else a segment (or a
    /// stage on the left of `is`/`in`, or a label in a stage's list).
    Name(String),
    /// `has tag "X"`.
    HasTag(Spanned<String>),
    /// `not e`, `-e`.
    Unary(UnaryOp, Box<Expr>),
    /// `a OP b`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `e is [not] null` or `STAGE is [not] LABEL`.
    Is {
        /// The tested value (a stage name for labels).
        expr: Box<Expr>,
        /// `is not`.
        negated: bool,
        /// `None` for `null`, else the label.
        label: Option<Ident>,
    },
    /// `f(args)`.
    Call(Func, Vec<Expr>),
    /// `count(...)`, `sum(...)`, ….
    Aggregate(Box<Aggregate>),
    /// `balance(L)`.
    Balance(Ident),
    /// `expiring(L in D)`.
    Expiring(Ident, Duration),
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `not` (Kleene).
    Not,
    /// `-`.
    Neg,
}

/// Binary operators, loosest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`.
    Or,
    /// `and`.
    And,
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
    /// `in`.
    In,
    /// `contains`.
    Contains,
    /// `??`.
    Coalesce,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::Contains => "contains",
            BinaryOp::Coalesce => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// Binding strength: higher binds tighter (§3 table).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            // 3 is `not`.
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::In
            | BinaryOp::Contains => 4,
            BinaryOp::Coalesce => 5,
            BinaryOp::Add | BinaryOp::Sub => 6,
            BinaryOp::Mul | BinaryOp::Div => 7,
        }
    }
}

/// Scalar functions of §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// `since(t)`: `now - t`.
    Since,
    /// `until(t)`: `t - now`.
    Until,
    /// `days(d)`.
    Days,
    /// `hours(d)`.
    Hours,
    /// `date(t)` in the customer's zone.
    Date,
    /// `hour(t)` in the customer's zone.
    Hour,
    /// `weekday(t)`: 1 (Monday) … 7 (Sunday).
    Weekday,
    /// `lower(s)`.
    Lower,
    /// `len(x)`: characters or elements.
    Len,
    /// `abs(x)`.
    Abs,
    /// `min(a, b)`.
    Min,
    /// `max(a, b)`.
    Max,
    /// `round(x)`: half away from zero.
    Round,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
}

impl Func {
    /// Every function with its name.
    pub const ALL: [(Func, &'static str); 15] = [
        (Func::Since, "since"),
        (Func::Until, "until"),
        (Func::Days, "days"),
        (Func::Hours, "hours"),
        (Func::Date, "date"),
        (Func::Hour, "hour"),
        (Func::Weekday, "weekday"),
        (Func::Lower, "lower"),
        (Func::Len, "len"),
        (Func::Abs, "abs"),
        (Func::Min, "min"),
        (Func::Max, "max"),
        (Func::Round, "round"),
        (Func::Floor, "floor"),
        (Func::Ceil, "ceil"),
    ];

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        Func::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, name)| name)
    }

    /// Looks a function up by name.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }
}

/// Aggregate functions over a customer's event history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `count(E ...)`.
    Count,
    /// `sum(E.F ...)`.
    Sum,
    /// `avg(E.F ...)`.
    Avg,
    /// `min(E.F ...)`.
    Min,
    /// `max(E.F ...)`.
    Max,
    /// `last(E ...)` / `last(E.F ...)`.
    Last,
    /// `first(E ...)` / `first(E.F ...)`.
    First,
}

impl AggFunc {
    /// Every aggregate with its name.
    pub const ALL: [(AggFunc, &'static str); 7] = [
        (AggFunc::Count, "count"),
        (AggFunc::Sum, "sum"),
        (AggFunc::Avg, "avg"),
        (AggFunc::Min, "min"),
        (AggFunc::Max, "max"),
        (AggFunc::Last, "last"),
        (AggFunc::First, "first"),
    ];

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        AggFunc::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, name)| name)
    }

    /// Looks an aggregate up by name.
    pub fn from_name(name: &str) -> Option<AggFunc> {
        AggFunc::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(f, _)| *f)
    }
}

/// `FUNC(E[.F] [where C] [in D])`.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate {
    /// Which aggregate.
    pub func: AggFunc,
    /// The event type.
    pub event: Ident,
    /// The field aggregated, if any.
    pub field: Option<Ident>,
    /// Which events count (bare names are their fields).
    pub filter: Option<Expr>,
    /// Rolling window; `None` is all history.
    pub window: Option<Duration>,
}
