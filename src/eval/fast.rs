//! The fast tier: conditions in their typed form (`compile::fast`)
//! evaluated without a horizon, for rule guards and host queries of a
//! segment.

use super::DVal;
use super::aggregate::{quick_number, quick_whole};
use super::{Ctx, holds, run};
use crate::compile::fast::{Chain, Guard, Int, IntOp, Num, Test};
use crate::value::Value;

/// Evaluates a condition in its fast form: `null` counts as false.
pub(crate) fn test(g: &Guard, cx: &Ctx<'_>) -> bool {
    let v = chain(&g.chain, cx);
    #[cfg(debug_assertions)]
    assert_eq!(
        v,
        run::<false>(&g.expr, cx).v.truth(),
        "fast tier disagrees on {:?}",
        g.expr
    );
    v.unwrap_or(false)
}

fn chain(c: &Chain, cx: &Ctx<'_>) -> Option<bool> {
    let mut unknown = false;
    for t in &*c.tests {
        match operand(t, cx) {
            Some(x) if x == c.decisive => return Some(x),
            None => unknown = true,
            _ => {}
        }
    }
    (!unknown).then_some(!c.decisive)
}

#[inline(always)]
fn operand(t: &Test, cx: &Ctx<'_>) -> Option<bool> {
    match t {
        Test::Number { agg, op, y } => Some(holds(*op, quick_number(*agg, cx)?.partial_cmp(y)?)),
        Test::Whole { agg, op, y } => Some(holds(*op, quick_whole(*agg, cx)?.cmp(y))),
        Test::Since { agg, until, op, y } => {
            let at = quick_whole(*agg, cx)?;
            let d = if *until {
                at.checked_sub(cx.now)
            } else {
                cx.now.checked_sub(at)
            };
            Some(holds(*op, d?.cmp(y)))
        }
        Test::Member { attr, items } => match cx.facts.profile().get(*attr) {
            Some(Value::Str(s)) => Some(items.iter().any(|i| same(i.as_bytes(), s.as_bytes()))),
            _ => None,
        },
        Test::IdMember(items) => Some(items.iter().any(|i| same(i.as_bytes(), cx.id.as_bytes()))),
        Test::Flag(slot) => Some(cx.facts.derived()[*slot].value() == DVal::Bool(true)),
        Test::Const(v) => *v,
        Test::Chain(c) => chain(c, cx),
        Test::Not(t) => operand(t, cx).map(|x| !x),
        Test::CmpInt(op, a, b) => Some(holds(*op, int(a, cx)?.cmp(&int(b, cx)?))),
        Test::CmpIntConst(op, a, y) => Some(holds(*op, int(a, cx)?.cmp(y))),
        Test::CmpNum(op, a, b) => Some(holds(*op, num(a, cx)?.partial_cmp(&num(b, cx)?)?)),
        Test::CmpNumConst(op, a, y) => Some(holds(*op, num(a, cx)?.partial_cmp(y)?)),
        Test::General(e) => run::<false>(e, cx).v.truth(),
    }
}

fn int(e: &Int, cx: &Ctx<'_>) -> Option<i64> {
    match e {
        Int::Const(v) => *v,
        Int::Now => Some(cx.now),
        Int::Agg(q) => quick_whole(*q, cx),
        Int::Since(x) => cx.now.checked_sub(int(x, cx)?),
        Int::Until(x) => int(x, cx)?.checked_sub(cx.now),
        Int::Arith(op, a, b) => {
            let (a, b) = (int(a, cx)?, int(b, cx)?);
            match op {
                IntOp::Add => a.checked_add(b),
                IntOp::Sub => a.checked_sub(b),
                IntOp::Mul => a.checked_mul(b),
            }
        }
        Int::General(e) => run::<false>(e, cx).v.as_whole(),
    }
}

fn num(e: &Num, cx: &Ctx<'_>) -> Option<f64> {
    match e {
        Num::Const(v) => *v,
        Num::Agg(q) => quick_number(*q, cx),
        Num::Int(i) => int(i, cx).map(|i| i as f64),
        Num::General(e) => run::<false>(e, cx).v.as_f64(),
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
