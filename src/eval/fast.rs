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

use super::aggregate::Quick;
use super::{Ctx, holds, run};
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

/// A condition in its fast form.
pub struct Fast {
    run: Chain,
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
            run: Chain::new(e, ir),
            #[cfg(debug_assertions)]
            expr: e.clone(),
        }
    }

    /// Evaluates it: `null` counts as false.
    pub fn test(&self, cx: &Ctx<'_>) -> bool {
        let v = self.run.eval(cx);
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

/// A leaf of a chain. The shapes segment conditions are made of are
/// matched in place, inlined into the chain's loop; anything else is a
/// closure.
enum Test {
    /// A number aggregate against a constant (`sum(…) >= 5000`).
    Number { agg: Quick, op: CmpOp, y: f64 },
    /// An int or time aggregate against a constant (`count(…) >= 3`).
    Whole { agg: Quick, op: CmpOp, y: i64 },
    /// `since(agg) op y` (`until` when `until`): how long ago an aggregated
    /// instant was, against a constant duration.
    Since {
        agg: Quick,
        until: bool,
        op: CmpOp,
        y: i64,
    },
    /// A profile string in a list of strings (only equal strings are
    /// members, §2: no conversions).
    Member { slot: usize, items: Box<[Box<str>]> },
    /// A segment's or automatic tag's current value.
    Flag(usize),
    /// Anything else.
    Dyn(BoolFn),
}

impl Test {
    #[inline(always)]
    fn eval(&self, cx: &Ctx<'_>) -> Option<bool> {
        match self {
            Test::Number { agg, op, y } => Some(holds(*op, agg.number(cx)?.partial_cmp(y)?)),
            Test::Whole { agg, op, y } => Some(holds(*op, agg.whole(cx)?.cmp(y))),
            Test::Since { agg, until, op, y } => {
                let at = agg.whole(cx)?;
                let d = if *until {
                    at.checked_sub(cx.now)
                } else {
                    cx.now.checked_sub(at)
                };
                Some(holds(*op, d?.cmp(y)))
            }
            Test::Member { slot, items } => match cx.st.profile.get(*slot) {
                Some(Value::Str(s)) => Some(items.iter().any(|i| same(i.as_bytes(), s.as_bytes()))),
                _ => None,
            },
            Test::Flag(slot) => Some(cx.st.derived[*slot].value == DVal::Bool(true)),
            Test::Dyn(f) => f(cx),
        }
    }

    fn boxed(self) -> BoolFn {
        match self {
            Test::Dyn(f) => f,
            t => Box::new(move |cx| t.eval(cx)),
        }
    }
}

/// A chain of one operator (`and`, or `or` when `decisive`), flattened into
/// one loop: Kleene logic, left to right, the first decisive operand wins.
/// Any other condition is a chain of one.
struct Chain {
    decisive: bool,
    tests: Box<[Test]>,
}

impl Chain {
    fn new(e: &CExpr, ir: &Ir) -> Chain {
        let decisive = matches!(e, CExpr::Or(..));
        let mut tests = Vec::new();
        flatten(e, decisive, ir, &mut tests);
        Chain {
            decisive,
            tests: tests.into(),
        }
    }

    fn eval(&self, cx: &Ctx<'_>) -> Option<bool> {
        let mut unknown = false;
        for t in &*self.tests {
            match t.eval(cx) {
                Some(x) if x == self.decisive => return Some(x),
                None => unknown = true,
                _ => {}
            }
        }
        (!unknown).then_some(!self.decisive)
    }
}

/// The operands of a chain of `and` (or of `or`, when `is_or`).
fn flatten(e: &CExpr, is_or: bool, ir: &Ir, out: &mut Vec<Test>) {
    match e {
        CExpr::And(a, b) if !is_or => {
            flatten(a, is_or, ir, out);
            flatten(b, is_or, ir, out);
        }
        CExpr::Or(a, b) if is_or => {
            flatten(a, is_or, ir, out);
            flatten(b, is_or, ir, out);
        }
        _ => out.push(test(e, ir)),
    }
}

fn cond(e: &CExpr, ir: &Ir) -> BoolFn {
    test(e, ir).boxed()
}

fn test(e: &CExpr, ir: &Ir) -> Test {
    match e {
        CExpr::Const(v) => {
            let v = v.truth();
            Test::Dyn(Box::new(move |_| v))
        }
        CExpr::And(..) | CExpr::Or(..) => {
            let chain = Chain::new(e, ir);
            Test::Dyn(Box::new(move |cx| chain.eval(cx)))
        }
        CExpr::Not(a) => {
            let a = cond(a, ir);
            Test::Dyn(Box::new(move |cx| a(cx).map(|x| !x)))
        }
        CExpr::Segment(slot) | CExpr::HasTag(TagRef::Auto(slot)) => Test::Flag(*slot),
        CExpr::Cmp(op, a, b) => comparison(*op, a, b, ir),
        CExpr::In(x, list) | CExpr::Contains(list, x) => match (&**list, string_attr(x, ir)) {
            (CExpr::Const(Value::List(items)), Some(slot)) => Test::Member {
                slot,
                items: strings(items),
            },
            (CExpr::Const(Value::List(items)), None) if matches!(**x, CExpr::CustomerId) => {
                let items = strings(items);
                Test::Dyn(Box::new(move |cx| {
                    Some(
                        items
                            .iter()
                            .any(|i| same(i.as_bytes(), cx.st.id.as_bytes())),
                    )
                }))
            }
            _ => Test::Dyn(general(e, truth)),
        },
        _ => Test::Dyn(general(e, truth)),
    }
}

/// String equality without a call to `memcmp`, which costs more than the
/// comparison itself for the short strings lists hold: two overlapping
/// loads of the first and last bytes cover any length up to 16.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Each slice below has exactly the array's length, so the conversions
    // cannot fail.
    let four = |s: &[u8], at: usize| s[at..at + 4].try_into().map_or(0, u32::from_ne_bytes);
    let eight = |s: &[u8], at: usize| s[at..at + 8].try_into().map_or(0, u64::from_ne_bytes);
    match n {
        0 => true,
        1..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=8 => four(a, 0) == four(b, 0) && four(a, n - 4) == four(b, n - 4),
        9..=16 => eight(a, 0) == eight(b, 0) && eight(a, n - 8) == eight(b, n - 8),
        _ => a == b,
    }
}

/// The strings of a constant list: nothing else can equal a string.
fn strings(items: &[Value]) -> Box<[Box<str>]> {
    items
        .iter()
        .filter_map(|i| match i {
            Value::Str(s) => Some(s.as_str().into()),
            _ => None,
        })
        .collect()
}

fn comparison(op: CmpOp, a: &CExpr, b: &CExpr, ir: &Ir) -> Test {
    let (ka, kb) = (kind(a, ir), kind(b, ir));
    // A constant right side (`x >= 5000`, the usual shape) is captured
    // rather than called.
    if ka.whole() && ka == kb {
        if let CExpr::Const(v) = b {
            // A null constant makes every comparison null.
            let Some(y) = v.as_whole() else {
                return Test::Dyn(Box::new(|_| None));
            };
            match a {
                CExpr::Agg(agg) => {
                    return Test::Whole {
                        agg: Quick::new(*agg, ir),
                        op,
                        y,
                    };
                }
                CExpr::Call(f @ (Func::Since | Func::Until), args) => {
                    if let [CExpr::Agg(agg)] = args.as_slice() {
                        return Test::Since {
                            agg: Quick::new(*agg, ir),
                            until: *f == Func::Until,
                            op,
                            y,
                        };
                    }
                }
                _ => {}
            }
            let x = int(a, ir);
            return Test::Dyn(Box::new(move |cx| Some(holds(op, x(cx)?.cmp(&y)))));
        }
        let (x, y) = (int(a, ir), int(b, ir));
        return Test::Dyn(Box::new(move |cx| Some(holds(op, x(cx)?.cmp(&y(cx)?)))));
    }
    let numeric = |k: Kind| matches!(k, Kind::Int | Kind::Number);
    if numeric(ka) && numeric(kb) {
        if let CExpr::Const(v) = b {
            let Some(y) = v.as_f64() else {
                return Test::Dyn(Box::new(|_| None));
            };
            if let CExpr::Agg(agg) = a {
                return Test::Number {
                    agg: Quick::new(*agg, ir),
                    op,
                    y,
                };
            }
            let x = num(a, ir);
            return Test::Dyn(Box::new(move |cx| Some(holds(op, x(cx)?.partial_cmp(&y)?))));
        }
        let (x, y) = (num(a, ir), num(b, ir));
        return Test::Dyn(Box::new(move |cx| {
            Some(holds(op, x(cx)?.partial_cmp(&y(cx)?)?))
        }));
    }
    Test::Dyn(general(
        &CExpr::Cmp(op, Box::new(a.clone()), Box::new(b.clone())),
        truth,
    ))
}

/// The profile attribute `e` is, if it is one declared a string.
fn string_attr(e: &CExpr, ir: &Ir) -> Option<usize> {
    match e {
        CExpr::Profile(i) if ir.profile.get(*i).is_some_and(|(_, t)| *t == Type::String) => {
            Some(*i)
        }
        _ => None,
    }
}

/// An int, time or duration as `i64`.
fn int(e: &CExpr, ir: &Ir) -> IntFn {
    match e {
        CExpr::Const(v) => {
            let v = v.as_whole();
            Box::new(move |_| v)
        }
        CExpr::Now => Box::new(|cx| Some(cx.now)),
        CExpr::Agg(i) => {
            let agg = Quick::new(*i, ir);
            Box::new(move |cx| agg.whole(cx))
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
        _ => general(e, |v| v.as_whole()),
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
            let agg = Quick::new(*i, ir);
            Box::new(move |cx| agg.number(cx))
        }
        e if kind(e, ir) == Kind::Int => {
            let i = int(e, ir);
            Box::new(move |cx| i(cx).map(|i| i as f64))
        }
        _ => general(e, |v| v.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn same_is_string_equality_at_every_length() {
        let words: Vec<String> = (0..=20)
            .flat_map(|n| {
                let base: String = "abcdefghijklmnopqrstu".chars().take(n).collect();
                // The same length, differing first, in the middle, last.
                let mut variants = vec![base.clone()];
                for at in [0, n / 2, n.saturating_sub(1)] {
                    if n > 0 {
                        let mut b = base.clone().into_bytes();
                        b[at] = b'Z';
                        variants.push(String::from_utf8(b).unwrap_or_default());
                    }
                }
                variants
            })
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(same(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
            }
        }
        assert!(same("上海".as_bytes(), "上海".as_bytes()));
        assert!(!same("上海".as_bytes(), "北京".as_bytes()));
    }
}
