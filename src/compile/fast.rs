//! Fast forms of conditions, for the evaluations that need no horizon
//! (rule guards, host queries of a segment): plain data, typed when the
//! program is compiled, interpreted by `eval::fast`.
//!
//! The general evaluator walks the tree and returns a dynamic value with a
//! horizon at every node. Here each node's type is known in advance, so a
//! comparison of two numbers compares two `f64`s and a membership test
//! reads the profile string in place. The shapes segment conditions are
//! made of (an aggregate against a constant, `since` of an aggregate, a
//! profile string in a list, a segment flag) are leaves of their own; a
//! node outside the typed subset is handed to the general evaluator, so
//! every condition has a fast form with the same meaning. Debug builds
//! check every fast answer against the general evaluator.

use super::layout::AggSlot;
use super::{AggId, CExpr, Ir};
use crate::check::hir::{self, ArithOp, CmpOp, TagRef};
use crate::syntax::ast::{AggFunc, Func, Type};
use crate::value::Value;

/// A condition in its fast form.
#[derive(Debug)]
pub(crate) struct Guard {
    /// The condition, as a chain (a condition that is not an `and`/`or`
    /// chain is a chain of one).
    pub chain: Chain,
    /// The condition itself: debug builds check every fast answer against
    /// it, so the whole test suite is an agreement test.
    #[cfg(debug_assertions)]
    pub expr: CExpr,
}

impl Guard {
    /// The fast form of condition `e` of program `ir`.
    pub fn new(e: &CExpr, ir: &Ir) -> Guard {
        Guard {
            chain: Chain::new(e, ir),
            #[cfg(debug_assertions)]
            expr: e.clone(),
        }
    }
}

/// A chain of one operator (`and`, or `or` when `decisive` is true),
/// flattened into one loop: Kleene logic, left to right, the first
/// decisive operand wins.
#[derive(Debug)]
pub(crate) struct Chain {
    /// `true` for `or`: the value that decides the chain.
    pub decisive: bool,
    /// The operands.
    pub tests: Box<[Test]>,
}

/// How an aggregate is read, worked out when the program is compiled: the
/// common shapes are read in place (a window whose entries are all still
/// inside, running totals), anything else through the general read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quick {
    /// The aggregate.
    pub agg: AggId,
    /// Its shape.
    pub shape: Shape,
}

/// The shape of an aggregate read, with where its state is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// `count` of a window: the store, its cursor and length, and its
    /// totals (none for a plain count: the entries past the cursor).
    WindowCount {
        /// The store.
        store: usize,
        /// The window's cursor.
        cursor: usize,
        /// Its length.
        window: i64,
        /// Its totals.
        state: Option<usize>,
    },
    /// `sum` of a window.
    WindowSum {
        /// The store.
        store: usize,
        /// The window's cursor.
        cursor: usize,
        /// Its length.
        window: i64,
        /// Its totals.
        state: usize,
    },
    /// `count` over all history, at this running slot.
    Count(usize),
    /// `sum` over all history.
    Sum(usize),
    /// The time of the latest event, over all history.
    LastTime(usize),
    /// Anything else.
    Read,
}

impl Quick {
    /// The reading of aggregate `agg` of program `ir`.
    pub fn new(agg: AggId, ir: &Ir) -> Quick {
        let spec = &ir.aggs[agg];
        let shape = match (ir.layout.slots[agg], spec.func, spec.window, spec.field) {
            (
                AggSlot::Window {
                    store,
                    cursor,
                    state,
                    ..
                },
                AggFunc::Count,
                Some(window),
                _,
            ) => Shape::WindowCount {
                store,
                cursor,
                window,
                state,
            },
            (
                AggSlot::Window {
                    store,
                    cursor,
                    state: Some(state),
                    ..
                },
                AggFunc::Sum,
                Some(window),
                _,
            ) => Shape::WindowSum {
                store,
                cursor,
                window,
                state,
            },
            (AggSlot::Running(slot), AggFunc::Count, _, _) => Shape::Count(slot),
            (AggSlot::Running(slot), AggFunc::Sum, _, _) => Shape::Sum(slot),
            (AggSlot::Running(slot), AggFunc::Last, _, None) => Shape::LastTime(slot),
            _ => Shape::Read,
        };
        Quick { agg, shape }
    }
}

/// An operand of a chain.
#[derive(Debug)]
pub(crate) enum Test {
    /// A number aggregate against a constant (`sum(…) >= 5000`).
    Number {
        /// The aggregate.
        agg: Quick,
        /// The comparison.
        op: CmpOp,
        /// The constant.
        y: f64,
    },
    /// An int or time aggregate against a constant (`count(…) >= 3`).
    Whole {
        /// The aggregate.
        agg: Quick,
        /// The comparison.
        op: CmpOp,
        /// The constant.
        y: i64,
    },
    /// `since(agg) op y` (`until` when `until`): how long ago an aggregated
    /// instant was, against a constant duration.
    Since {
        /// The aggregate.
        agg: Quick,
        /// `until` rather than `since`.
        until: bool,
        /// The comparison.
        op: CmpOp,
        /// The constant, in seconds.
        y: i64,
    },
    /// A string profile attribute in a list of strings (only equal strings
    /// are members, §2: no conversions).
    Member {
        /// The attribute.
        attr: hir::AttrId,
        /// The strings.
        items: Box<[Box<str>]>,
    },
    /// `customer.id` in a list of strings.
    IdMember(Box<[Box<str>]>),
    /// A segment's or automatic tag's current value.
    Flag(hir::DerivedId),
    /// A constant truth value (`null` is `None`).
    Const(Option<bool>),
    /// A nested chain.
    Chain(Chain),
    /// `not`.
    Not(Box<Test>),
    /// Two ints, times or durations compared.
    CmpInt(CmpOp, Int, Int),
    /// An int, time or duration against a constant.
    CmpIntConst(CmpOp, Int, i64),
    /// Two numbers compared.
    CmpNum(CmpOp, Num, Num),
    /// A number against a constant.
    CmpNumConst(CmpOp, Num, f64),
    /// Anything else: the general evaluator.
    General(CExpr),
}

/// An int, time or duration as `i64` (`None`: null).
#[derive(Debug)]
pub(crate) enum Int {
    /// A constant.
    Const(Option<i64>),
    /// `now`.
    Now,
    /// An aggregate.
    Agg(Quick),
    /// `since(x)`.
    Since(Box<Int>),
    /// `until(x)`.
    Until(Box<Int>),
    /// `+ - *` of two.
    Arith(IntOp, Box<Int>, Box<Int>),
    /// Anything else: the general evaluator.
    General(CExpr),
}

/// Whole-second arithmetic (`/` always yields a number).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IntOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
}

/// An int or number as `f64` (`None`: null).
#[derive(Debug)]
pub(crate) enum Num {
    /// A constant.
    Const(Option<f64>),
    /// An aggregate.
    Agg(Quick),
    /// An int.
    Int(Int),
    /// Anything else: the general evaluator.
    General(CExpr),
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
        hir::Expr::Const(Value::Int(_)) => Kind::Int,
        hir::Expr::Const(Value::Number(_)) => Kind::Number,
        hir::Expr::Const(Value::Time(_))
        | hir::Expr::Now
        | hir::Expr::FirstSeen
        | hir::Expr::LastSeen => Kind::Time,
        hir::Expr::Const(Value::Duration(_)) => Kind::Duration,
        hir::Expr::Profile(i) => ir
            .profile
            .get(*i)
            .map_or(Kind::Other, |(_, t)| Kind::of(*t)),
        hir::Expr::Agg(i) => {
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
        hir::Expr::Call(Func::Since | Func::Until, _) => Kind::Duration,
        hir::Expr::Call(Func::Days | Func::Hours, _) => Kind::Number,
        hir::Expr::Arith(op, a, b) => match (op, kind(a, ir), kind(b, ir)) {
            (ArithOp::Add | ArithOp::Sub | ArithOp::Mul, Kind::Int, Kind::Int) => Kind::Int,
            (ArithOp::Add, Kind::Time, Kind::Duration)
            | (ArithOp::Add, Kind::Duration, Kind::Time)
            | (ArithOp::Sub, Kind::Time, Kind::Duration) => Kind::Time,
            (ArithOp::Sub, Kind::Time, Kind::Time)
            | (ArithOp::Add | ArithOp::Sub, Kind::Duration, Kind::Duration) => Kind::Duration,
            _ => Kind::Other,
        },
        _ => Kind::Other,
    }
}

impl Chain {
    fn new(e: &CExpr, ir: &Ir) -> Chain {
        let decisive = matches!(e, hir::Expr::Or(..));
        let mut tests = Vec::new();
        flatten(e, decisive, ir, &mut tests);
        Chain {
            decisive,
            tests: tests.into(),
        }
    }
}

/// The operands of a chain of `and` (or of `or`, when `is_or`).
fn flatten(e: &CExpr, is_or: bool, ir: &Ir, out: &mut Vec<Test>) {
    match e {
        hir::Expr::And(a, b) if !is_or => {
            flatten(a, is_or, ir, out);
            flatten(b, is_or, ir, out);
        }
        hir::Expr::Or(a, b) if is_or => {
            flatten(a, is_or, ir, out);
            flatten(b, is_or, ir, out);
        }
        _ => out.push(test(e, ir)),
    }
}

fn test(e: &CExpr, ir: &Ir) -> Test {
    match e {
        hir::Expr::Const(v) => Test::Const(v.truth()),
        hir::Expr::And(..) | hir::Expr::Or(..) => Test::Chain(Chain::new(e, ir)),
        hir::Expr::Not(a) => Test::Not(Box::new(test(a, ir))),
        hir::Expr::Segment(slot) | hir::Expr::HasTag(TagRef::Auto(slot)) => Test::Flag(*slot),
        hir::Expr::Cmp(op, a, b) => comparison(*op, a, b, e, ir),
        hir::Expr::In(x, list) | hir::Expr::Contains(list, x) => {
            match (&**list, string_attr(x, ir)) {
                (hir::Expr::Const(Value::List(items)), Some(attr)) => Test::Member {
                    attr,
                    items: strings(items),
                },
                (hir::Expr::Const(Value::List(items)), None)
                    if matches!(**x, hir::Expr::CustomerId) =>
                {
                    Test::IdMember(strings(items))
                }
                _ => Test::General(e.clone()),
            }
        }
        _ => Test::General(e.clone()),
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

fn comparison(op: CmpOp, a: &CExpr, b: &CExpr, whole: &CExpr, ir: &Ir) -> Test {
    let (ka, kb) = (kind(a, ir), kind(b, ir));
    if ka.whole() && ka == kb {
        if let hir::Expr::Const(v) = b {
            // A null constant makes every comparison null.
            let Some(y) = v.as_whole() else {
                return Test::Const(None);
            };
            match a {
                hir::Expr::Agg(agg) => {
                    return Test::Whole {
                        agg: Quick::new(*agg, ir),
                        op,
                        y,
                    };
                }
                hir::Expr::Call(f @ (Func::Since | Func::Until), args) => {
                    if let [hir::Expr::Agg(agg)] = args.as_slice() {
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
            return Test::CmpIntConst(op, int(a, ir), y);
        }
        return Test::CmpInt(op, int(a, ir), int(b, ir));
    }
    let numeric = |k: Kind| matches!(k, Kind::Int | Kind::Number);
    if numeric(ka) && numeric(kb) {
        if let hir::Expr::Const(v) = b {
            let Some(y) = v.as_f64() else {
                return Test::Const(None);
            };
            if let hir::Expr::Agg(agg) = a {
                return Test::Number {
                    agg: Quick::new(*agg, ir),
                    op,
                    y,
                };
            }
            return Test::CmpNumConst(op, num(a, ir), y);
        }
        return Test::CmpNum(op, num(a, ir), num(b, ir));
    }
    Test::General(whole.clone())
}

/// The profile attribute `e` is, if it is one declared a string.
fn string_attr(e: &CExpr, ir: &Ir) -> Option<hir::AttrId> {
    match e {
        hir::Expr::Profile(i) if ir.profile.get(*i).is_some_and(|(_, t)| *t == Type::String) => {
            Some(*i)
        }
        _ => None,
    }
}

fn int(e: &CExpr, ir: &Ir) -> Int {
    match e {
        hir::Expr::Const(v) => Int::Const(v.as_whole()),
        hir::Expr::Now => Int::Now,
        hir::Expr::Agg(i) => Int::Agg(Quick::new(*i, ir)),
        hir::Expr::Call(f @ (Func::Since | Func::Until), args) if args.len() == 1 => {
            let x = Box::new(int(&args[0], ir));
            if *f == Func::Since {
                Int::Since(x)
            } else {
                Int::Until(x)
            }
        }
        hir::Expr::Arith(op, a, b) if kind(e, ir).whole() => {
            let op = match op {
                ArithOp::Add => IntOp::Add,
                ArithOp::Sub => IntOp::Sub,
                ArithOp::Mul => IntOp::Mul,
                // A quotient is a number, never whole.
                ArithOp::Div => return Int::General(e.clone()),
            };
            Int::Arith(op, Box::new(int(a, ir)), Box::new(int(b, ir)))
        }
        _ => Int::General(e.clone()),
    }
}

fn num(e: &CExpr, ir: &Ir) -> Num {
    match e {
        hir::Expr::Const(v) => Num::Const(v.as_f64()),
        hir::Expr::Agg(i) => Num::Agg(Quick::new(*i, ir)),
        e if kind(e, ir) == Kind::Int => Num::Int(int(e, ir)),
        _ => Num::General(e.clone()),
    }
}
