//! Stage 4, evaluate: compiled expressions over a customer's state at an
//! instant.
//!
//! Every evaluation also says how long its answer holds. A value is returned
//! with its `rate` (how fast it changes per second, for times, durations and
//! numbers that depend on `now`) and `until` (the instant up to which that
//! description is exact, if no event arrives). A comparison of two values
//! that move solves for the second at which it flips. The engine schedules a
//! customer's next wake-up at the earliest `until` of what it observes, so a
//! time-driven change happens at its exact second without any polling.

pub(crate) mod aggregate;
pub(crate) mod derived;
pub(crate) mod exact;
pub(crate) mod facts;
pub(crate) mod fast;
pub(crate) mod ledger;

use crate::check::hir::{ArithOp, CmpOp, TagRef};
use crate::compile::{CExpr, Ir};
use crate::syntax::ast::Func;
use crate::value::Value;
use crate::zone::Zone;
pub(crate) use facts::{DVal, FOREVER, Facts};
use std::cmp::Ordering;

/// A value and how long it holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct R {
    /// The value now.
    pub v: Value,
    /// Change per second of a time, duration or number.
    pub rate: f64,
    /// The value is `v + rate·(t - now)` for `now <= t < until`.
    pub until: i64,
}

impl R {
    fn fixed(v: Value, until: i64) -> R {
        R {
            v,
            rate: 0.0,
            until,
        }
    }

    fn null(until: i64) -> R {
        R::fixed(Value::Null, until)
    }
}

/// What an expression is evaluated against.
pub(crate) struct Ctx<'a> {
    /// The program.
    pub ir: &'a Ir,
    /// What is known of the customer.
    pub facts: &'a Facts,
    /// The customer's id.
    pub id: &'a str,
    /// The instant.
    pub now: i64,
    /// The customer's zone.
    pub zone: Zone,
    /// Fields of the event `event.*` reads.
    pub trigger: Option<&'a [Value]>,
    /// Fields of the event a `where` is about.
    pub row: Option<&'a [Value]>,
}

impl<'a> Ctx<'a> {
    /// A context at `now`, with `trigger` the fields `event.*` reads.
    pub fn new(
        ir: &'a Ir,
        facts: &'a Facts,
        id: &'a str,
        now: i64,
        zone: Zone,
        trigger: Option<&'a [Value]>,
    ) -> Ctx<'a> {
        Ctx {
            ir,
            facts,
            id,
            now,
            zone,
            trigger,
            row: None,
        }
    }

    /// The same context about another event's fields.
    pub fn with_row<'b>(&'b self, row: &'b [Value]) -> Ctx<'b>
    where
        'a: 'b,
    {
        Ctx {
            ir: self.ir,
            facts: self.facts,
            id: self.id,
            now: self.now,
            zone: self.zone,
            trigger: self.trigger,
            row: Some(row),
        }
    }

    /// Evaluates a condition: `null` counts as false.
    pub fn test(&self, e: &CExpr) -> bool {
        value(e, self).truth().unwrap_or(false)
    }
}

fn time_or_null(t: Option<i64>) -> Value {
    t.map_or(Value::Null, Value::Time)
}

/// Evaluates an expression at `cx.now`, with how long its value holds.
pub(crate) fn eval(e: &CExpr, cx: &Ctx<'_>) -> R {
    run::<true>(e, cx)
}

/// Evaluates an expression at `cx.now` only. Guards, action arguments and
/// host queries need no horizon, and skipping it skips solving comparisons
/// for their flip second and finding calendar boundaries.
pub(crate) fn value(e: &CExpr, cx: &Ctx<'_>) -> Value {
    run::<false>(e, cx).v
}

/// The evaluator; the horizon (`rate` and `until`) is exact when `H`, and
/// left at "forever" where working it out costs more than a comparison
/// otherwise.
fn run<const H: bool>(e: &CExpr, cx: &Ctx<'_>) -> R {
    match e {
        CExpr::Const(v) => R::fixed(v.clone(), FOREVER),
        CExpr::Now => R {
            v: Value::Time(cx.now),
            rate: 1.0,
            until: FOREVER,
        },
        CExpr::FirstSeen => R::fixed(time_or_null(cx.facts.first_seen.get()), FOREVER),
        CExpr::LastSeen => R::fixed(time_or_null(cx.facts.last_seen.get()), FOREVER),
        CExpr::CustomerId => R::fixed(Value::Str(cx.id.into()), FOREVER),
        CExpr::Profile(i) => R::fixed(
            cx.facts.profile().get(*i).cloned().unwrap_or(Value::Null),
            FOREVER,
        ),
        CExpr::EventField(i) => R::fixed(field(cx.trigger, *i), FOREVER),
        CExpr::RowField(i) => R::fixed(field(cx.row, *i), FOREVER),
        CExpr::Segment(slot) => {
            let d = &cx.facts.derived()[*slot];
            R::fixed(Value::Bool(d.value() == DVal::Bool(true)), d.until())
        }
        CExpr::StageIs {
            stage,
            labels,
            negated,
        } => {
            let d = &cx.facts.derived()[*stage];
            let v = match d.value() {
                DVal::Label(label) => Value::Bool(labels.contains(&(label as usize)) != *negated),
                _ => Value::Null,
            };
            R::fixed(v, d.until())
        }
        CExpr::HasTag(TagRef::Auto(slot)) => {
            let d = &cx.facts.derived()[*slot];
            R::fixed(Value::Bool(d.value() == DVal::Bool(true)), d.until())
        }
        CExpr::HasTag(TagRef::Manual(tag)) => {
            R::fixed(Value::Bool(cx.facts.tags.contains(tag)), FOREVER)
        }
        CExpr::Not(a) => {
            let a = run::<H>(a, cx);
            let v = a.v.truth().map_or(Value::Null, |b| Value::Bool(!b));
            R::fixed(v, a.until)
        }
        CExpr::Neg(a) => {
            let a = run::<H>(a, cx);
            let v = match a.v {
                Value::Int(i) => i.checked_neg().map_or(Value::Null, Value::Int),
                Value::Number(n) => Value::Number(-n),
                Value::Duration(d) => d.checked_neg().map_or(Value::Null, Value::Duration),
                _ => Value::Null,
            };
            R {
                v,
                rate: -a.rate,
                until: a.until,
            }
        }
        CExpr::And(a, b) => logic::<H>(a, b, false, cx),
        CExpr::Or(a, b) => logic::<H>(a, b, true, cx),
        CExpr::Cmp(op, a, b) => {
            // Stored values (a text field of every entry a recount reads,
            // say) compare in place, without a copy; they never move.
            if let (Some(x), Some(y)) = (stored(a, cx), stored(b, cx)) {
                return match x.compare(y) {
                    Some(ord) => R::fixed(Value::Bool(holds(*op, ord)), FOREVER),
                    None => R::null(FOREVER),
                };
            }
            compare::<H>(*op, &run::<H>(a, cx), &run::<H>(b, cx), cx.now)
        }
        CExpr::Arith(op, a, b) => arith(*op, run::<H>(a, cx), run::<H>(b, cx), cx.now),
        CExpr::Coalesce(a, b) => {
            let a = run::<H>(a, cx);
            if a.v.is_null() {
                let b = run::<H>(b, cx);
                R {
                    until: a.until.min(b.until),
                    ..b
                }
            } else {
                a
            }
        }
        CExpr::In(x, list) | CExpr::Contains(list, x) => {
            // Stored values (a profile attribute, a constant list) are read
            // in place: membership tests are common and lists are heap data.
            if let (Some(xv), Some(lv)) = (stored(x, cx), stored(list, cx)) {
                return R::fixed(member(xv, lv), FOREVER);
            }
            let (x, list) = (run::<H>(x, cx), run::<H>(list, cx));
            let until = x.until.min(list.until).min(moving(&x, cx.now));
            R::fixed(member(&x.v, &list.v), until)
        }
        CExpr::IsNull(a, negated) => {
            let a = run::<H>(a, cx);
            R::fixed(Value::Bool(a.v.is_null() != *negated), a.until)
        }
        CExpr::List(items) => {
            let mut until = FOREVER;
            let values = items
                .iter()
                .map(|i| {
                    let r = run::<H>(i, cx);
                    until = until.min(r.until).min(moving(&r, cx.now));
                    r.v
                })
                .collect();
            R::fixed(Value::List(values), until)
        }
        CExpr::Call(f, args) => call::<H>(*f, args, cx),
        CExpr::Agg(i) => aggregate::value(*i, cx),
        CExpr::Balance(l) => cx.facts.ledgers()[*l].balance(cx.now),
        CExpr::Expiring(l, horizon) => cx.facts.ledgers()[*l].expiring(cx.now, *horizon),
    }
}

/// A value held in the program or the state, borrowed rather than
/// evaluated: constants, profile attributes, event fields. Such values never
/// change with time.
fn stored<'a>(e: &'a CExpr, cx: &'a Ctx<'_>) -> Option<&'a Value> {
    const NULL: Value = Value::Null;
    match e {
        CExpr::Const(v) => Some(v),
        CExpr::Profile(i) => Some(cx.facts.profile().get(*i).unwrap_or(&NULL)),
        CExpr::EventField(i) => Some(cx.trigger.and_then(|f| f.get(*i)).unwrap_or(&NULL)),
        CExpr::RowField(i) => Some(cx.row.and_then(|f| f.get(*i)).unwrap_or(&NULL)),
        _ => None,
    }
}

fn field(fields: Option<&[Value]>, i: usize) -> Value {
    fields
        .and_then(|f| f.get(i))
        .cloned()
        .unwrap_or(Value::Null)
}

/// A moving value used where only its exact value matters (list
/// membership, text): it may differ from the next second on.
fn moving(r: &R, now: i64) -> i64 {
    if r.rate == 0.0 {
        FOREVER
    } else {
        now.saturating_add(1)
    }
}

fn member(x: &Value, list: &Value) -> Value {
    match (x, list) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (x, Value::List(items)) => {
            Value::Bool(items.iter().any(|i| x.compare(i) == Some(Ordering::Equal)))
        }
        _ => Value::Null,
    }
}

/// Kleene `and` (`or` when `is_or`), short-circuit. The horizon is that of
/// the operand that decides the result when one does.
fn logic<const H: bool>(a: &CExpr, b: &CExpr, is_or: bool, cx: &Ctx<'_>) -> R {
    let decisive = is_or;
    let a = run::<H>(a, cx);
    if a.v.truth() == Some(decisive) {
        return a;
    }
    let b = run::<H>(b, cx);
    if b.v.truth() == Some(decisive) {
        return b;
    }
    let v = match (a.v.truth(), b.v.truth()) {
        (Some(_), Some(_)) => Value::Bool(!decisive),
        _ => Value::Null,
    };
    R::fixed(v, a.until.min(b.until))
}

/// A numeric view of a value, for comparing moving quantities.
fn scalar(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::Time(t) | Value::Duration(t) => Some(*t as f64),
        _ => None,
    }
}

pub(crate) fn holds(op: CmpOp, ord: Ordering) -> bool {
    // Each operator as the orderings it accepts (bits: less, equal,
    // greater): a table look-up and a shift where a `match` on both would
    // be a jump the fast tier pays at every comparison.
    let accepts: u8 = match op {
        CmpOp::Eq => 0b010,
        CmpOp::Ne => 0b101,
        CmpOp::Lt => 0b001,
        CmpOp::Le => 0b011,
        CmpOp::Gt => 0b100,
        CmpOp::Ge => 0b110,
    };
    (accepts >> (ord as i8 + 1)) & 1 == 1
}

fn compare<const H: bool>(op: CmpOp, a: &R, b: &R, now: i64) -> R {
    let until = a.until.min(b.until);
    let Some(ord) = a.v.compare(&b.v) else {
        return R::null(until);
    };
    let now_holds = holds(op, ord);
    let rate = a.rate - b.rate;
    let until = if !H || rate == 0.0 {
        until
    } else {
        match (scalar(&a.v), scalar(&b.v)) {
            (Some(x), Some(y)) => match flip_after(op, x - y, rate, now_holds) {
                Some(dt) => until.min(now.saturating_add(dt)),
                None => until,
            },
            _ => until.min(now.saturating_add(1)),
        }
    };
    R::fixed(Value::Bool(now_holds), until)
}

/// The first whole second `dt >= 1` at which `op(d + rate·dt, 0)` differs
/// from `now_holds`, or a second no later than it; `None` if it never does.
///
/// With whole values and rates (times and durations moving with the clock)
/// the answer is exact. Otherwise it is conservative: a second or two early,
/// after which the caller evaluates again and gets closer.
pub(crate) fn flip_after(op: CmpOp, d: f64, rate: f64, now_holds: bool) -> Option<i64> {
    if rate == 0.0 || !rate.is_finite() || !d.is_finite() {
        return None;
    }
    let at = |dt: i64| {
        let x = d + rate * dt as f64;
        holds(op, x.partial_cmp(&0.0).unwrap_or(Ordering::Equal))
    };
    let crossing = -d / rate;
    let exact = d.fract() == 0.0 && rate.fract() == 0.0 && d.abs() < 9e15;
    let early = |c: f64| Some(((c.floor() as i64).saturating_sub(1)).max(1));
    match op {
        CmpOp::Eq | CmpOp::Ne => {
            if d == 0.0 {
                Some(1)
            } else if crossing < 1.0 {
                None
            } else if exact {
                let dt = crossing.round() as i64;
                (dt as f64 == crossing).then_some(dt)
            } else {
                early(crossing)
            }
        }
        _ => {
            // `d` moves monotonically, so the truth changes at most once: if
            // it ends as it is now, it never changes.
            let end = holds(
                op,
                if rate > 0.0 {
                    Ordering::Greater
                } else {
                    Ordering::Less
                },
            );
            if end == now_holds {
                return None;
            }
            if at(1) != now_holds {
                return Some(1);
            }
            if exact {
                let base = crossing.floor() as i64;
                if let Some(dt) = (base - 1..=base + 2)
                    .filter(|dt| *dt >= 1)
                    .find(|dt| at(*dt) != now_holds)
                {
                    return Some(dt);
                }
            }
            early(crossing)
        }
    }
}

fn arith(op: ArithOp, a: R, b: R, now: i64) -> R {
    let until = a.until.min(b.until);
    let (ra, rb) = (a.rate, b.rate);
    let v = match (op, &a.v, &b.v) {
        (_, Value::Null, _) | (_, _, Value::Null) => Value::Null,
        (ArithOp::Add, Value::Int(x), Value::Int(y)) => {
            x.checked_add(*y).map_or(Value::Null, Value::Int)
        }
        (ArithOp::Sub, Value::Int(x), Value::Int(y)) => {
            x.checked_sub(*y).map_or(Value::Null, Value::Int)
        }
        (ArithOp::Mul, Value::Int(x), Value::Int(y)) => {
            x.checked_mul(*y).map_or(Value::Null, Value::Int)
        }
        (ArithOp::Add, Value::Time(t), Value::Duration(d))
        | (ArithOp::Add, Value::Duration(d), Value::Time(t)) => {
            t.checked_add(*d).map_or(Value::Null, Value::Time)
        }
        (ArithOp::Sub, Value::Time(t), Value::Duration(d)) => {
            t.checked_sub(*d).map_or(Value::Null, Value::Time)
        }
        (ArithOp::Sub, Value::Time(x), Value::Time(y)) => {
            x.checked_sub(*y).map_or(Value::Null, Value::Duration)
        }
        (ArithOp::Add, Value::Duration(x), Value::Duration(y)) => {
            x.checked_add(*y).map_or(Value::Null, Value::Duration)
        }
        (ArithOp::Sub, Value::Duration(x), Value::Duration(y)) => {
            x.checked_sub(*y).map_or(Value::Null, Value::Duration)
        }
        (op, x, y) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => {
                let r = match op {
                    ArithOp::Add => x + y,
                    ArithOp::Sub => x - y,
                    ArithOp::Mul => x * y,
                    _ if y == 0.0 => f64::NAN,
                    _ => x / y,
                };
                if r.is_finite() {
                    Value::Number(r)
                } else {
                    Value::Null
                }
            }
            _ => Value::Null,
        },
    };
    let (rate, until) = match op {
        ArithOp::Add => (ra + rb, until),
        ArithOp::Sub => (ra - rb, until),
        ArithOp::Mul | ArithOp::Div => {
            let (x, y) = (a.v.as_f64().unwrap_or(0.0), b.v.as_f64().unwrap_or(0.0));
            match (ra == 0.0, rb == 0.0, op) {
                (true, true, _) => (0.0, until),
                (false, true, ArithOp::Mul) => (ra * y, until),
                (true, false, ArithOp::Mul) => (rb * x, until),
                (false, true, ArithOp::Div) if y != 0.0 => (ra / y, until),
                // Not linear in time: good for this second only.
                _ => (0.0, until.min(now.saturating_add(1))),
            }
        }
    };
    if v.is_null() {
        return R::null(until);
    }
    R { v, rate, until }
}

fn call<const H: bool>(f: Func, args: &[CExpr], cx: &Ctx<'_>) -> R {
    let now = cx.now;
    let arg = |i: usize| args.get(i).map_or(R::null(FOREVER), |a| run::<H>(a, cx));
    let x = arg(0);
    let until = x.until;
    match f {
        Func::Since | Func::Until => match x.v {
            Value::Time(t) => {
                let (v, rate) = if f == Func::Since {
                    (now.checked_sub(t), 1.0 - x.rate)
                } else {
                    (t.checked_sub(now), x.rate - 1.0)
                };
                match v {
                    Some(v) => R {
                        v: Value::Duration(v),
                        rate,
                        until,
                    },
                    None => R::null(until),
                }
            }
            _ => R::null(until),
        },
        Func::Days | Func::Hours => match x.v {
            Value::Duration(d) => {
                let unit = if f == Func::Days { 86_400.0 } else { 3600.0 };
                R {
                    v: Value::Number(d as f64 / unit),
                    rate: x.rate / unit,
                    until,
                }
            }
            _ => R::null(until),
        },
        Func::Date | Func::Hour | Func::Weekday => match x.v {
            Value::Time(t) => {
                let v = match f {
                    Func::Date => Value::Date(cx.zone.date(t)),
                    Func::Hour => Value::Int(cx.zone.hour(t)),
                    _ => Value::Int(cx.zone.weekday(t)),
                };
                // A time moving with the clock reaches the boundary after
                // the same span; a fixed one never does.
                let until = if !H || x.rate == 0.0 {
                    until
                } else if x.rate == 1.0 {
                    let boundary = match f {
                        Func::Hour => cx.zone.next_hour(t),
                        _ => cx.zone.next_midnight(t),
                    };
                    until.min(now.saturating_add(boundary - t))
                } else {
                    until.min(now.saturating_add(1))
                };
                R::fixed(v, until)
            }
            _ => R::null(until),
        },
        Func::Lower => match x.v {
            Value::Str(s) => R::fixed(Value::Str(s.to_lowercase()), until),
            _ => R::null(until),
        },
        Func::Len => match x.v {
            Value::Str(s) => R::fixed(Value::Int(s.chars().count() as i64), until),
            Value::List(l) => R::fixed(Value::Int(l.len() as i64), until),
            _ => R::null(until),
        },
        Func::Abs => {
            let negative = scalar(&x.v).is_some_and(|s| s < 0.0);
            let v = match x.v {
                Value::Int(i) => i.checked_abs().map_or(Value::Null, Value::Int),
                Value::Number(n) => Value::Number(n.abs()),
                Value::Duration(d) => d.checked_abs().map_or(Value::Null, Value::Duration),
                _ => Value::Null,
            };
            let zero = scalar(&x.v)
                .filter(|_| H && x.rate != 0.0)
                .and_then(|s| flip_after(CmpOp::Lt, s, x.rate, s < 0.0))
                .map_or(FOREVER, |dt| now.saturating_add(dt));
            let rate = if negative { -x.rate } else { x.rate };
            R {
                v,
                rate,
                until: until.min(zero),
            }
        }
        Func::Min | Func::Max => {
            let y = arg(1);
            let until = x.until.min(y.until);
            let Some(ord) = x.v.compare(&y.v) else {
                return R::null(until);
            };
            let take_x = (ord != Ordering::Greater) == (f == Func::Min);
            let crossing = match (scalar(&x.v), scalar(&y.v)) {
                (Some(a), Some(b)) if H && x.rate != y.rate => {
                    flip_after(CmpOp::Le, a - b, x.rate - y.rate, a <= b)
                        .map_or(FOREVER, |dt| now.saturating_add(dt))
                }
                _ => FOREVER,
            };
            let chosen = if take_x { x } else { y };
            R {
                until: until.min(crossing),
                ..chosen
            }
        }
        Func::Round | Func::Floor | Func::Ceil => {
            let Some(n) = x.v.as_f64() else {
                return R::null(until);
            };
            let r = match f {
                Func::Round => n.round(),
                Func::Floor => n.floor(),
                _ => n.ceil(),
            };
            if !r.is_finite() || r.abs() > 9.2e18 {
                return R::null(until);
            }
            // The next whole (or half, for round) crossing ends the value.
            let until = if x.rate == 0.0 {
                until
            } else {
                let step = if f == Func::Round { 0.5 } else { 1.0 };
                let target = if x.rate > 0.0 {
                    (n / step).floor() * step + step
                } else {
                    (n / step).ceil() * step - step
                };
                let dt = (target - n) / x.rate;
                until.min(now.saturating_add(((dt.floor() as i64) - 1).max(1)))
            };
            R::fixed(Value::Int(r as i64), until)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: the first second at which the comparison flips.
    fn brute(op: CmpOp, d: f64, rate: f64) -> Option<i64> {
        let at = |dt: i64| {
            holds(
                op,
                (d + rate * dt as f64)
                    .partial_cmp(&0.0)
                    .unwrap_or(Ordering::Equal),
            )
        };
        let now = at(0);
        (1..2000).find(|dt| at(*dt) != now)
    }

    #[test]
    fn flips_are_exact_for_whole_values() {
        for op in [
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
        ] {
            for d in -50..50 {
                for rate in [-2.0, -1.0, 1.0, 2.0] {
                    let now_holds =
                        holds(op, (d as f64).partial_cmp(&0.0).unwrap_or(Ordering::Equal));
                    let got = flip_after(op, d as f64, rate, now_holds);
                    assert_eq!(got, brute(op, d as f64, rate), "{op:?} d={d} rate={rate}");
                }
            }
        }
    }

    #[test]
    fn flips_are_never_late_for_fractions() {
        for op in [CmpOp::Eq, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
            for d in -40..40 {
                let d = d as f64 * 0.37;
                for rate in [-1.0 / 3.0, 0.25, 1.0 / 86_400.0 * 1000.0] {
                    let now_holds = holds(op, d.partial_cmp(&0.0).unwrap_or(Ordering::Equal));
                    if let Some(truth) = brute(op, d, rate) {
                        let got = flip_after(op, d, rate, now_holds).expect("a flip is found");
                        assert!(got <= truth, "{op:?} d={d} rate={rate}: {got} > {truth}");
                    }
                }
            }
        }
    }
}
