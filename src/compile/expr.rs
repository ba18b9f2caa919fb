//! Compiled expressions: the AST with every name resolved to a slot.

use super::{Builder, Scope};
use crate::check::Derived;
use crate::syntax::ast::*;
use crate::value::Value;

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
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

/// A tag tested by `has tag`.
#[derive(Clone, Debug)]
pub enum TagRef {
    /// An auto tag: its derived slot.
    Auto(usize),
    /// A manual tag (set by the host or by rules).
    Manual(String),
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub enum CExpr {
    /// A literal.
    Const(Value),
    /// `now`.
    Now,
    /// `first_seen`.
    FirstSeen,
    /// `last_seen`.
    LastSeen,
    /// `customer.id`.
    CustomerId,
    /// `profile.F` by attribute index.
    Profile(usize),
    /// `event.F`: a field of the trigger event.
    EventField(usize),
    /// A bare field inside a `where`: a field of the event it is about.
    RowField(usize),
    /// A segment's membership, by derived slot.
    Segment(usize),
    /// `STAGE is L` / `STAGE in [...]`: whether the stage's label is one of
    /// `labels` (label indices), negated for `is not`.
    StageIs {
        /// Derived slot of the stage.
        slot: usize,
        /// Accepted labels.
        labels: Vec<usize>,
        /// `is not`.
        negated: bool,
    },
    /// `has tag "X"`.
    HasTag(TagRef),
    /// `not e`.
    Not(Box<CExpr>),
    /// `-e`.
    Neg(Box<CExpr>),
    /// `a and b`.
    And(Box<CExpr>, Box<CExpr>),
    /// `a or b`.
    Or(Box<CExpr>, Box<CExpr>),
    /// A comparison.
    Cmp(CmpOp, Box<CExpr>, Box<CExpr>),
    /// `+ - * /`.
    Arith(BinaryOp, Box<CExpr>, Box<CExpr>),
    /// `a ?? b`.
    Coalesce(Box<CExpr>, Box<CExpr>),
    /// `x in list`.
    In(Box<CExpr>, Box<CExpr>),
    /// `list contains x`.
    Contains(Box<CExpr>, Box<CExpr>),
    /// `e is [not] null`.
    IsNull(Box<CExpr>, bool),
    /// `[a, b]`.
    List(Vec<CExpr>),
    /// A scalar function.
    Call(Func, Vec<CExpr>),
    /// An aggregate, by index.
    Agg(usize),
    /// `balance(L)`, by ledger index.
    Balance(usize),
    /// `expiring(L in D)`.
    Expiring(usize, i64),
}

impl CExpr {
    /// Does the expression read only the row's fields and constants? Such
    /// an aggregate filter can be decided once, when the event arrives.
    pub fn reads_only_row(&self) -> bool {
        let mut pure = true;
        self.walk(&mut |e| {
            pure &= match e {
                // The clock and the customer's zone change after the event.
                CExpr::Call(f, _) => !matches!(
                    f,
                    Func::Since | Func::Until | Func::Date | Func::Hour | Func::Weekday
                ),
                CExpr::Const(_)
                | CExpr::RowField(_)
                | CExpr::CustomerId
                | CExpr::Not(_)
                | CExpr::Neg(_)
                | CExpr::And(..)
                | CExpr::Or(..)
                | CExpr::Cmp(..)
                | CExpr::Arith(..)
                | CExpr::Coalesce(..)
                | CExpr::In(..)
                | CExpr::Contains(..)
                | CExpr::IsNull(..)
                | CExpr::List(_) => true,
                _ => false,
            };
        });
        pure
    }

    /// Derived slots the expression reads.
    pub fn derived_reads(&self, out: &mut Vec<usize>) {
        self.walk(&mut |e| match e {
            CExpr::Segment(s) | CExpr::StageIs { slot: s, .. } | CExpr::HasTag(TagRef::Auto(s)) => {
                out.push(*s)
            }
            _ => {}
        });
    }

    /// Calls `f` on every node, parents first.
    pub fn walk(&self, f: &mut impl FnMut(&CExpr)) {
        f(self);
        match self {
            CExpr::Not(a) | CExpr::Neg(a) | CExpr::IsNull(a, _) => a.walk(f),
            CExpr::And(a, b)
            | CExpr::Or(a, b)
            | CExpr::Cmp(_, a, b)
            | CExpr::Arith(_, a, b)
            | CExpr::Coalesce(a, b)
            | CExpr::In(a, b)
            | CExpr::Contains(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            CExpr::List(items) | CExpr::Call(_, items) => items.iter().for_each(|i| i.walk(f)),
            _ => {}
        }
    }
}

/// Lowers a checked expression.
pub(super) fn lower(b: &mut Builder<'_>, e: &Expr, scope: &Scope) -> CExpr {
    let bx = |b: &mut Builder<'_>, x: &Expr| Box::new(lower(b, x, scope));
    match &e.node {
        ExprKind::Null => CExpr::Const(Value::Null),
        ExprKind::Bool(v) => CExpr::Const(Value::Bool(*v)),
        ExprKind::Int(v) => CExpr::Const(Value::Int(*v)),
        ExprKind::Number(v) => CExpr::Const(Value::Number(*v)),
        ExprKind::Str(s) => CExpr::Const(Value::Str(s.clone())),
        ExprKind::Duration(d) => CExpr::Const(Value::Duration(*d)),
        ExprKind::List(items) => {
            let items: Vec<CExpr> = items.iter().map(|i| lower(b, i, scope)).collect();
            match items
                .iter()
                .map(|i| match i {
                    CExpr::Const(v) => Some(v.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<Value>>>()
            {
                Some(values) => CExpr::Const(Value::List(values)),
                None => CExpr::List(items),
            }
        }
        ExprKind::Now => CExpr::Now,
        ExprKind::FirstSeen => CExpr::FirstSeen,
        ExprKind::LastSeen => CExpr::LastSeen,
        ExprKind::Profile(attr) => {
            CExpr::Profile(b.syms.profile.get_index_of(&attr.node).unwrap_or(0))
        }
        ExprKind::EventField(f) => {
            let field = scope
                .trigger
                .and_then(|ev| {
                    b.ir.events[ev]
                        .fields
                        .iter()
                        .position(|(n, _)| *n == f.node)
                })
                .unwrap_or(0);
            CExpr::EventField(field)
        }
        ExprKind::Customer(_) => CExpr::CustomerId,
        ExprKind::Name(n) => {
            if let Some(row) = scope.row {
                if let Some(i) = b.ir.events[row].fields.iter().position(|(f, _)| f == n) {
                    return CExpr::RowField(i);
                }
            }
            if let Some(slot) = b.derived_slot.get(&Derived::Segment(n.clone())) {
                return CExpr::Segment(*slot);
            }
            // The checker accepts a bare stage only on the left of `is`/`in`,
            // which are lowered below.
            CExpr::Const(Value::Null)
        }
        ExprKind::HasTag(t) => match b.derived_slot.get(&Derived::Tag(t.node.clone())) {
            Some(slot) => CExpr::HasTag(TagRef::Auto(*slot)),
            None => CExpr::HasTag(TagRef::Manual(t.node.clone())),
        },
        ExprKind::Unary(UnaryOp::Not, x) => CExpr::Not(bx(b, x)),
        ExprKind::Unary(UnaryOp::Neg, x) => CExpr::Neg(bx(b, x)),
        ExprKind::Binary(op, l, r) => {
            if let Some(stage) = stage_test(b, *op, l, r, scope) {
                return stage;
            }
            let (l, r) = (bx(b, l), bx(b, r));
            match op {
                BinaryOp::And => CExpr::And(l, r),
                BinaryOp::Or => CExpr::Or(l, r),
                BinaryOp::Eq => CExpr::Cmp(CmpOp::Eq, l, r),
                BinaryOp::Ne => CExpr::Cmp(CmpOp::Ne, l, r),
                BinaryOp::Lt => CExpr::Cmp(CmpOp::Lt, l, r),
                BinaryOp::Le => CExpr::Cmp(CmpOp::Le, l, r),
                BinaryOp::Gt => CExpr::Cmp(CmpOp::Gt, l, r),
                BinaryOp::Ge => CExpr::Cmp(CmpOp::Ge, l, r),
                BinaryOp::In => CExpr::In(l, r),
                BinaryOp::Contains => CExpr::Contains(l, r),
                BinaryOp::Coalesce => CExpr::Coalesce(l, r),
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                    CExpr::Arith(*op, l, r)
                }
            }
        }
        ExprKind::Is {
            expr,
            negated,
            label,
        } => match (label, &expr.node) {
            (Some(label), ExprKind::Name(stage)) => {
                let slot = b.derived_slot[&Derived::Stage(stage.clone())];
                let labels = b.syms.stages[stage]
                    .1
                    .iter()
                    .position(|l| *l == label.node)
                    .into_iter()
                    .collect();
                CExpr::StageIs {
                    slot,
                    labels,
                    negated: *negated,
                }
            }
            _ => CExpr::IsNull(bx(b, expr), *negated),
        },
        ExprKind::Call(f, args) => {
            CExpr::Call(*f, args.iter().map(|a| lower(b, a, scope)).collect())
        }
        ExprKind::Aggregate(a) => CExpr::Agg(b.aggregate(a, e, scope)),
        ExprKind::Balance(l) => CExpr::Balance(ledger_index(b, &l.node)),
        ExprKind::Expiring(l, d) => CExpr::Expiring(ledger_index(b, &l.node), d.node),
    }
}

/// The checker has resolved every ledger name.
fn ledger_index(b: &Builder<'_>, name: &str) -> usize {
    b.ir.ledgers
        .iter()
        .position(|l| l.name == name)
        .unwrap_or(0)
}

/// `STAGE in [L1, L2]`: label tests.
fn stage_test(
    b: &mut Builder<'_>,
    op: BinaryOp,
    l: &Expr,
    r: &Expr,
    scope: &Scope,
) -> Option<CExpr> {
    let (BinaryOp::In, ExprKind::Name(stage), ExprKind::List(items)) = (op, &l.node, &r.node)
    else {
        return None;
    };
    let shadowed = scope
        .row
        .is_some_and(|row| b.ir.events[row].fields.iter().any(|(f, _)| f == stage));
    let slot = *b.derived_slot.get(&Derived::Stage(stage.clone()))?;
    if shadowed {
        return None;
    }
    let names = &b.syms.stages[stage].1;
    let labels = items
        .iter()
        .filter_map(|i| match &i.node {
            ExprKind::Name(n) => names.iter().position(|l| l == n),
            _ => None,
        })
        .collect();
    Some(CExpr::StageIs {
        slot,
        labels,
        negated: false,
    })
}
