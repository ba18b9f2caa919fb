//! Exact sums of numbers: `sum` and `avg` are the sum of the values as they
//! are, rounded once to the nearest number (ties to even) — whatever the
//! order the values arrived in, and whatever left a window since. This is
//! what lets a window add an entry and drop one in O(1): a sum rounded at
//! every step could not take a value back out.
//!
//! The sum is kept as non-overlapping partials (Shewchuk's algorithm, as in
//! Python's `math.fsum`); for amounts of money there are one to three, kept
//! inline. A sum beyond the range of a number is not one: `None`.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// An exact sum of finite numbers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ExactSum {
    /// Non-overlapping partials, smallest magnitude first; one that is not
    /// finite means the sum left the range of a number (sticky).
    partials: SmallVec<[f64; 2]>,
}

impl ExactSum {
    /// Adds `x` exactly.
    pub fn add(&mut self, x: f64) {
        if self.overflowed() {
            return;
        }
        let mut x = x;
        let p = &mut self.partials;
        let mut kept = 0;
        for j in 0..p.len() {
            let mut y = p[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                p[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        p.truncate(kept);
        if !x.is_finite() {
            p.clear();
        }
        p.push(x);
    }

    /// Takes `x` back out, exactly.
    pub fn sub(&mut self, x: f64) {
        self.add(-x);
    }

    fn overflowed(&self) -> bool {
        self.partials.iter().any(|p| !p.is_finite())
    }

    /// The sum, correctly rounded; `None` beyond the range of a number.
    pub fn value(&self) -> Option<f64> {
        let p = &self.partials;
        let Some(&top) = p.last() else {
            return Some(0.0);
        };
        if !top.is_finite() {
            return None;
        }
        let mut n = p.len() - 1;
        let mut hi = top;
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even across partials: when the rest lies exactly
        // half-way, the next partial down decides.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi.is_finite().then_some(hi)
    }

    /// Nothing added (or everything taken back out).
    pub fn clear(&mut self) {
        self.partials.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The exact sum of finite numbers as a rational: a big integer over
    /// 2^1100, from each number's mantissa and exponent.
    fn exact(values: &[f64]) -> f64 {
        // Numbers of the tests are within 2^-60 .. 2^60, so i128 at a
        // scale of 2^-64 holds every one and the sum exactly.
        let scale = 2f64.powi(64);
        let mut total: i128 = 0;
        for v in values {
            let scaled = v * scale;
            assert_eq!(scaled.fract(), 0.0, "{v} has bits below 2^-64");
            total += scaled as i128;
        }
        // `as f64` rounds to nearest, ties to even; the scale is a power
        // of two, so dividing by it is exact.
        total as f64 / scale
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-100_000i64..100_000).prop_map(|c| c as f64 / 100.0),
            (-1000i64..1000).prop_map(|c| c as f64 * 0.1),
            (-(1i64 << 40)..(1i64 << 40)).prop_map(|m| m as f64 / (1u64 << 20) as f64),
            Just(1e15),
            Just(-1e15),
            Just(0.1),
            Just(0.2),
        ]
    }

    proptest! {
        /// Any values, added in any order and some taken back out, sum to
        /// the exact sum of what is left, rounded once.
        #[test]
        fn sums_are_exact(values in prop::collection::vec(value(), 0..40), out in prop::collection::vec(any::<bool>(), 0..40)) {
            let mut s = ExactSum::default();
            for v in &values {
                s.add(*v);
            }
            let mut left = Vec::new();
            for (i, v) in values.iter().enumerate() {
                if out.get(i).copied().unwrap_or(false) {
                    s.sub(*v);
                } else {
                    left.push(*v);
                }
            }
            prop_assert_eq!(s.value(), Some(exact(&left)));
        }
    }

    #[test]
    fn rounding_is_once_and_even() {
        let mut s = ExactSum::default();
        for v in [0.1, 0.2, 0.3] {
            s.add(v);
        }
        // 0.1 + 0.2 + 0.3 rounded at each step is 0.6000000000000001.
        assert_eq!(s.value(), Some(0.6));
        let mut s = ExactSum::default();
        for v in [1.0, 1e100, 1.0, -1e100] {
            s.add(v);
        }
        assert_eq!(s.value(), Some(2.0));
        // Half-way between two numbers, split over partials: to even.
        let mut s = ExactSum::default();
        for v in [1.0, 2f64.powi(-53), 2f64.powi(-106)] {
            s.add(v);
        }
        assert_eq!(s.value(), Some(1.0 + 2f64.powi(-52)));
    }

    #[test]
    fn overflow_is_not_a_number() {
        let mut s = ExactSum::default();
        s.add(f64::MAX);
        s.add(f64::MAX);
        assert_eq!(s.value(), None);
        s.sub(f64::MAX);
        assert_eq!(s.value(), None, "sticky");
        s.clear();
        assert_eq!(s.value(), Some(0.0));
    }
}
