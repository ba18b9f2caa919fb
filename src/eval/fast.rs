//! The fast tier: conditions compiled to closures over typed scalars, for
//! the evaluations that need no horizon (rule guards, host queries of a
//! segment).
//!
//! The general evaluator walks the tree and returns a dynamic [`Value`]
//! with a horizon at every node. Here each node's type is known when the
//! program is compiled, so a comparison of two numbers is a closure that
//! compares two `f64`s, and a membership test reads the profile string in
//! place. A node outside the typed subset is handed to the general
//! evaluator, so every condition has a fast form with the same meaning;
//! property tests hold the two to agreement.

use super::{Ctx, aggregate, holds, run};
use crate::compile::{CExpr, CmpOp, Ir, TagRef};
use crate::engine::state::DVal;
use crate::syntax::ast::{AggFunc, BinaryOp, Func, Type};
use crate::value::Value;
use std::fmt;

/// A compiled node yielding a `T` or null.
type NodeFn<T> = Box<dyn Fn(&Ctx<'_>) -> Option<T> + Send + Sync>;
type BoolFn = NodeFn<bool>;
type IntFn = NodeFn<i64>;
type NumFn = NodeFn<f64>;
type TextFn = Box<dyn for<'c> Fn(&'c Ctx<'_>) -> Option<&'c str> + Send + Sync>;

/// A condition in its fast form.
pub struct Fast {
    run: BoolFn,
    /// Debug builds check every evaluation against the general evaluator,
    /// so the whole test suite is an agreement test.
    #[cfg(debug_assertions)]
    expr: CExpr,
}

impl fmt::Debug for Fast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fast")
    }
}

impl Fast {
    /// Compiles a condition of program `ir`.
    pub fn new(e: &CExpr, ir: &Ir) -> Fast {
        Fast {
            run: cond(e, ir),
            #[cfg(debug_assertions)]
            expr: e.clone(),
        }
    }

    /// Evaluates it: `null` counts as false.
    pub fn test(&self, cx: &Ctx<'_>) -> bool {
        let v = (self.run)(cx);
        #[cfg(debug_assertions)]
        assert_eq!(
            v,
            run::<false>(&self.expr, cx).v.truth(),
            "fast tier disagrees on {:?}",
            self.expr
        );
        v.unwrap_or(false)
    }
}

/// What a node holds at run time, when the compiler can tell: whole
/// seconds and integers compare as `i64`, numbers as `f64`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Time,
    Duration,
    Number,
    Other,
}

impl Kind {
    fn of(t: Type) -> Kind {
        match t {
            Type::Int => Kind::Int,
            Type::Number => Kind::Number,
            Type::Time => Kind::Time,
            Type::Duration => Kind::Duration,
            _ => Kind::Other,
        }
    }

    fn whole(self) -> bool {
        matches!(self, Kind::Int | Kind::Time | Kind::Duration)
    }
}

fn kind(e: &CExpr, ir: &Ir) -> Kind {
    match e {
        CExpr::Const(Value::Int(_)) => Kind::Int,
        CExpr::Const(Value::Number(_)) => Kind::Number,
        CExpr::Const(Value::Time(_)) | CExpr::Now | CExpr::FirstSeen | CExpr::LastSeen => {
            Kind::Time
        }
        CExpr::Const(Value::Duration(_)) => Kind::Duration,
        CExpr::Profile(i) => ir
            .profile
            .get(*i)
            .map_or(Kind::Other, |(_, t)| Kind::of(*t)),
        CExpr::Agg(i) => {
            let spec = &ir.aggs[*i];
            match (spec.func, spec.field) {
                (AggFunc::Count, _) => Kind::Int,
                (AggFunc::Sum | AggFunc::Avg, _) => Kind::Number,
                (AggFunc::First | AggFunc::Last, None) => Kind::Time,
                (_, Some(f)) => ir.events[spec.event]
                    .fields
                    .get(f)
                    .map_or(Kind::Other, |(_, t)| Kind::of(*t)),
                (_, None) => Kind::Other,
            }
        }
        CExpr::Call(Func::Since | Func::Until, _) => Kind::Duration,
        CExpr::Call(Func::Days | Func::Hours, _) => Kind::Number,
        CExpr::Arith(op, a, b) => match (op, kind(a, ir), kind(b, ir)) {
            (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul, Kind::Int, Kind::Int) => Kind::Int,
            (BinaryOp::Add, Kind::Time, Kind::Duration)
            | (BinaryOp::Add, Kind::Duration, Kind::Time)
            | (BinaryOp::Sub, Kind::Time, Kind::Duration) => Kind::Time,
            (BinaryOp::Sub, Kind::Time, Kind::Time)
            | (BinaryOp::Add | BinaryOp::Sub, Kind::Duration, Kind::Duration) => Kind::Duration,
            _ => Kind::Other,
        },
        _ => Kind::Other,
    }
}

/// The general evaluator, for a node outside the typed subset, with its
/// value read as the type the parent wants.
fn general<T: 'static>(e: &CExpr, read: fn(Value) -> Option<T>) -> NodeFn<T> {
    let e = e.clone();
    Box::new(move |cx| read(run::<false>(&e, cx).v))
}

fn truth(v: Value) -> Option<bool> {
    v.truth()
}

fn cond(e: &CExpr, ir: &Ir) -> BoolFn {
    match e {
        CExpr::Const(v) => {
            let v = v.truth();
            Box::new(move |_| v)
        }
        CExpr::And(..) | CExpr::Or(..) => {
            // A chain of one operator is one loop: Kleene logic, left to
            // right, the first decisive operand wins.
            let decisive = matches!(e, CExpr::Or(..));
            let mut parts = Vec::new();
            chain(e, decisive, ir, &mut parts);
            Box::new(move |cx| {
                let mut unknown = false;
                for p in &parts {
                    match p(cx) {
                        Some(x) if x == decisive => return Some(x),
                        None => unknown = true,
                        _ => {}
                    }
                }
                (!unknown).then_some(!decisive)
            })
        }
        CExpr::Not(a) => {
            let a = cond(a, ir);
            Box::new(move |cx| a(cx).map(|x| !x))
        }
        CExpr::Segment(slot) | CExpr::HasTag(TagRef::Auto(slot)) => {
            let slot = *slot;
            Box::new(move |cx| Some(cx.st.derived[slot].value == DVal::Bool(true)))
        }
        CExpr::Cmp(op, a, b) => comparison(*op, a, b, ir),
        CExpr::In(x, list) | CExpr::Contains(list, x) => match (text(x, ir), &**list) {
            (Some(x), CExpr::Const(Value::List(items))) => {
                // Only equal strings are members (§2: no conversions).
                let items: Vec<String> = items
                    .iter()
                    .filter_map(|i| match i {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                Box::new(move |cx| {
                    let x = x(cx)?;
                    Some(items.iter().any(|i| i == x))
                })
            }
            _ => general(e, truth),
        },
        _ => general(e, truth),
    }
}

/// The operands of a chain of `and` (or of `or`, when `is_or`).
fn chain(e: &CExpr, is_or: bool, ir: &Ir, out: &mut Vec<BoolFn>) {
    match e {
        CExpr::And(a, b) if !is_or => {
            chain(a, is_or, ir, out);
            chain(b, is_or, ir, out);
        }
        CExpr::Or(a, b) if is_or => {
            chain(a, is_or, ir, out);
            chain(b, is_or, ir, out);
        }
        _ => out.push(cond(e, ir)),
    }
}

fn comparison(op: CmpOp, a: &CExpr, b: &CExpr, ir: &Ir) -> BoolFn {
    let (ka, kb) = (kind(a, ir), kind(b, ir));
    // A constant right side (`x >= 5000`, the usual shape) is captured
    // rather than called, and an aggregate against a constant (the most
    // common segment condition) is one closure.
    if ka.whole() && ka == kb {
        if let (CExpr::Agg(i), CExpr::Const(v)) = (a, b) {
            let (i, y) = (*i, whole(v.clone()));
            return Box::new(move |cx| Some(holds(op, aggregate::whole(i, cx)?.cmp(&y?))));
        }
        let x = int(a, ir);
        if let CExpr::Const(v) = b {
            let y = whole(v.clone());
            return Box::new(move |cx| Some(holds(op, x(cx)?.cmp(&y?))));
        }
        let y = int(b, ir);
        return Box::new(move |cx| Some(holds(op, x(cx)?.cmp(&y(cx)?))));
    }
    let numeric = |k: Kind| matches!(k, Kind::Int | Kind::Number);
    if numeric(ka) && numeric(kb) {
        if let (CExpr::Agg(i), CExpr::Const(v)) = (a, b) {
            let (i, y) = (*i, v.as_f64());
            return Box::new(move |cx| {
                Some(holds(op, aggregate::number(i, cx)?.partial_cmp(&y?)?))
            });
        }
        let x = num(a, ir);
        if let CExpr::Const(v) = b {
            let y = v.as_f64();
            return Box::new(move |cx| Some(holds(op, x(cx)?.partial_cmp(&y?)?)));
        }
        let y = num(b, ir);
        return Box::new(move |cx| Some(holds(op, x(cx)?.partial_cmp(&y(cx)?)?)));
    }
    general(
        &CExpr::Cmp(op, Box::new(a.clone()), Box::new(b.clone())),
        truth,
    )
}

/// A string read in place from the state, if `e` is one.
fn text(e: &CExpr, ir: &Ir) -> Option<TextFn> {
    match e {
        CExpr::Profile(i) if ir.profile.get(*i).is_some_and(|(_, t)| *t == Type::String) => {
            let i = *i;
            Some(Box::new(move |cx| match cx.st.profile.get(i) {
                Some(Value::Str(s)) => Some(s),
                _ => None,
            }))
        }
        CExpr::CustomerId => Some(Box::new(|cx| Some(&cx.st.id))),
        _ => None,
    }
}

fn whole(v: Value) -> Option<i64> {
    match v {
        Value::Int(i) | Value::Time(i) | Value::Duration(i) => Some(i),
        _ => None,
    }
}

/// An int, time or duration as `i64`.
fn int(e: &CExpr, ir: &Ir) -> IntFn {
    match e {
        CExpr::Const(v) => {
            let v = whole(v.clone());
            Box::new(move |_| v)
        }
        CExpr::Now => Box::new(|cx| Some(cx.now)),
        CExpr::Agg(i) => {
            let i = *i;
            Box::new(move |cx| aggregate::whole(i, cx))
        }
        CExpr::Call(f @ (Func::Since | Func::Until), args) if args.len() == 1 => {
            let x = int(&args[0], ir);
            if *f == Func::Since {
                Box::new(move |cx| cx.now.checked_sub(x(cx)?))
            } else {
                Box::new(move |cx| x(cx)?.checked_sub(cx.now))
            }
        }
        CExpr::Arith(op, a, b) if kind(e, ir).whole() => {
            let (a, b) = (int(a, ir), int(b, ir));
            let f: fn(i64, i64) -> Option<i64> = match op {
                BinaryOp::Add => i64::checked_add,
                BinaryOp::Sub => i64::checked_sub,
                _ => i64::checked_mul,
            };
            Box::new(move |cx| f(a(cx)?, b(cx)?))
        }
        _ => general(e, whole),
    }
}

/// An int or number as `f64`.
fn num(e: &CExpr, ir: &Ir) -> NumFn {
    match e {
        CExpr::Const(v) => {
            let v = v.as_f64();
            Box::new(move |_| v)
        }
        CExpr::Agg(i) => {
            let i = *i;
            Box::new(move |cx| aggregate::number(i, cx))
        }
        e if kind(e, ir) == Kind::Int => {
            let i = int(e, ir);
            Box::new(move |cx| i(cx).map(|i| i as f64))
        }
        _ => general(e, |v| v.as_f64()),
    }
}
