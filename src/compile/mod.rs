//! Stage 3, compile: the checked program lowered to the evaluator's IR —
//! plain data, shared by every customer: aggregates shared and classified,
//! rules indexed by the event types that can trigger them, what each
//! derived value reads, and typed fast forms of guards and segments.
//!
//! No name is looked up here: the checker resolved them all.

mod cascade;
pub(crate) mod fast;
pub(crate) mod layout;
mod lower;
mod program;

pub(crate) use program::fnv1a64_parts;
pub use program::{
    CompileError, DefinitionKind, Program, SegmentId, compile, compile_bytes, compile_with, fnv1a64,
};

use crate::check::hir::{self, ActionDef, Cap, Derived, EventDef, Ledger, Quiet, Rule};
use crate::syntax::ast::{AggFunc, Type};
use crate::zone::Zone;
use indexmap::IndexMap;

/// Index of a shared aggregate.
pub(crate) type AggId = usize;

/// A compiled expression: the checked one, its aggregates shared by index.
pub(crate) type CExpr = hir::Expr<AggId>;

/// Which events and clock instants matter to a program, with every name
/// resolved. Built once per program; shared by all customers.
#[derive(Debug)]
pub(crate) struct Ir {
    /// Declared events and broadcasts, by index.
    pub events: Vec<EventDef>,
    /// Event type name → index.
    pub event_ids: IndexMap<String, hir::EventId>,
    /// Profile attributes, by index.
    pub profile: Vec<(String, Type)>,
    /// The program zone.
    pub zone: Zone,
    /// The per-customer zone attribute.
    pub customer_zone: Option<hir::AttrId>,
    /// Host actions, by index.
    pub actions: Vec<ActionDef>,
    /// Distinct aggregates, by index.
    pub aggs: Vec<AggSpec>,
    /// Where a customer's state keeps the aggregates.
    pub layout: layout::AggLayout,
    /// Segments, auto tags and stages in evaluation order.
    pub derived: Vec<DerivedNode>,
    /// Rules in declaration order.
    pub rules: Vec<Rule<CExpr>>,
    /// Per rule: the scalars it keeps, as offsets into its customer's
    /// rule words.
    pub rule_slots: Vec<layout::RuleSlots>,
    /// How many rule words a customer holds.
    pub rule_words: usize,
    /// Per rule: whether it reads its triggering event's fields
    /// (`event.*`), which a scheduled firing must then carry.
    pub reads_event: Vec<bool>,
    /// Rules with a calendar trigger, in order.
    pub calendar_rules: Vec<hir::RuleId>,
    /// Rules with a `no … for` trigger, in order.
    pub silence_rules: Vec<hir::RuleId>,
    /// Per event type: the all-history aggregates it feeds.
    pub aggs_by_event: Vec<Vec<AggId>>,
    /// Per event type: rules that react to it (trigger, `no`, `after`,
    /// `unless`, `goal`).
    pub rules_by_event: Vec<Vec<hir::RuleId>>,
    /// Rules fired by derived-state transitions.
    pub transition_rules: Vec<hir::RuleId>,
    /// Per rule: rules whose trigger is `D after rule` it.
    pub followers: Vec<Vec<hir::RuleId>>,
    /// Names of auto tags, for rejecting `$tag` of one.
    pub auto_tags: IndexMap<String, hir::DerivedId>,
    /// Frequency caps, in declaration order.
    pub caps: Vec<Cap>,
    /// Points ledgers, in declaration order.
    pub ledgers: Vec<Ledger<CExpr>>,
    /// Per event type: the ledgers it earns or spends in.
    pub ledgers_by_event: Vec<Vec<hir::LedgerId>>,
    /// Quiet hours.
    pub quiet: Option<Quiet>,
    /// Whether firings can change state that derived state or timers read,
    /// so that an instant may need more than one round.
    pub may_cascade: bool,
    /// Fast forms of segment and tag conditions, by derived slot.
    pub fast_conds: Vec<Option<fast::Guard>>,
    /// Fast forms of rule guards, by rule.
    pub fast_guards: Vec<Option<fast::Guard>>,
}

/// How an aggregate's state is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggMode {
    /// All history, pure filter: O(1) running values.
    Running,
    /// A window, pure filter: the matching entries inside the window.
    Window,
    /// The filter reads more than the event (`event.*`, `profile.*`, zone
    /// functions): recomputed from its event type's entries.
    Scan,
}

/// One distinct aggregate of the program.
#[derive(Debug)]
pub(crate) struct AggSpec {
    /// Canonical text, which identifies it (e.g. `sum(purchase.amount in 180d)`).
    pub key: String,
    /// Where it is first written.
    pub span: crate::diagnostic::Span,
    /// Which aggregate.
    pub func: AggFunc,
    /// The event type.
    pub event: hir::EventId,
    /// The field aggregated.
    pub field: Option<hir::FieldId>,
    /// Which events count.
    pub filter: Option<CExpr>,
    /// Rolling window in seconds.
    pub window: Option<i64>,
    /// How its state is kept.
    pub mode: AggMode,
}

/// A segment, tag or stage, with what its value depends on.
#[derive(Debug)]
pub(crate) struct DerivedNode {
    /// Its definition.
    pub def: Derived<CExpr>,
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
pub(crate) struct Reads {
    /// Event types whose arrival can change it (aggregates, ledgers).
    pub events: Vec<hir::EventId>,
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
    pub slots: Vec<hir::DerivedId>,
}

impl CExpr {
    /// Does the expression read only the row's fields and constants? Such
    /// an aggregate filter can be decided once, when the event arrives.
    pub fn reads_only_row(&self) -> bool {
        use crate::syntax::ast::Func;
        let mut pure = true;
        self.walk(&mut |e| {
            pure &= match e {
                // The clock and the customer's zone change after the event.
                hir::Expr::Call(f, _) => !matches!(
                    f,
                    Func::Since | Func::Until | Func::Date | Func::Hour | Func::Weekday
                ),
                hir::Expr::Const(_)
                | hir::Expr::RowField(_)
                | hir::Expr::CustomerId
                | hir::Expr::Not(_)
                | hir::Expr::Neg(_)
                | hir::Expr::And(..)
                | hir::Expr::Or(..)
                | hir::Expr::Cmp(..)
                | hir::Expr::Arith(..)
                | hir::Expr::Coalesce(..)
                | hir::Expr::In(..)
                | hir::Expr::Contains(..)
                | hir::Expr::IsNull(..)
                | hir::Expr::List(_) => true,
                _ => false,
            };
        });
        pure
    }

    /// Derived slots the expression reads.
    pub fn derived_reads(&self, out: &mut Vec<hir::DerivedId>) {
        self.walk(&mut |e| match e {
            hir::Expr::Segment(s)
            | hir::Expr::StageIs { stage: s, .. }
            | hir::Expr::HasTag(hir::TagRef::Auto(s)) => out.push(*s),
            _ => {}
        });
    }
}
