//! The statistics of an experiment's goal: a conversion rate with its 95%
//! Wilson interval, the difference of two rates with its 95% interval and
//! the two-sided p-value of the two-proportion z-test, the minimum
//! detectable effect at 80% power, and "too few to tell" where the normal
//! approximation behind all of these does not hold.
//!
//! Every figure is closed-form: O(1) per comparison.

use serde::Serialize;

/// z for a two-sided 95% interval: the 0.975 quantile of the standard
/// normal (Python's `statistics.NormalDist().inv_cdf(0.975)`).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// z for 80% power: the 0.8 quantile of the standard normal
/// (`NormalDist().inv_cdf(0.8)`).
pub const Z_POWER_80: f64 = 0.841_621_233_572_914_4;

/// The significance level the verdicts use.
pub const ALPHA: f64 = 0.05;

/// The fewest conversions and the fewest non-conversions each group
/// needs before a z-test is trusted: the usual rule that the normal
/// approximation to a binomial holds when n·p and n·(1−p) are both at
/// least 5.
pub const MIN_EACH: u64 = 5;

/// A rate with its 95% Wilson score interval: unlike `p ± z·se` it stays
/// within [0, 1] and is not empty at 0 or n conversions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// `converted / assigned` (0 when nothing was assigned).
    pub rate: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

/// `converted` of `assigned`, with its interval (`None` when nothing was
/// assigned: no rate at all).
pub fn wilson(converted: u64, assigned: u64) -> Option<Rate> {
    if assigned == 0 || converted > assigned {
        return None;
    }
    let n = assigned as f64;
    let p = converted as f64 / n;
    let z2 = Z_95 * Z_95;
    let d = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / d;
    let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    Some(Rate {
        rate: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    })
}

/// A group against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Comparison {
    /// Too few conversions or non-conversions in a group (fewer than
    /// [`MIN_EACH`]) for the test to mean anything.
    TooFew,
    /// The test, where it holds.
    Tested {
        /// This rate minus the baseline's.
        difference: f64,
        /// Its 95% interval (unpooled standard error).
        low: f64,
        /// The interval's upper end.
        high: f64,
        /// Two-sided p-value of the pooled two-proportion z-test.
        p_value: f64,
        /// `p_value < ALPHA`.
        significant: bool,
    },
}

/// Compares `c1` of `n1` with the baseline's `c0` of `n0`.
pub fn compare(c1: u64, n1: u64, c0: u64, n0: u64) -> Comparison {
    let enough = |c: u64, n: u64| c <= n && c >= MIN_EACH && n - c >= MIN_EACH;
    if !enough(c1, n1) || !enough(c0, n0) {
        return Comparison::TooFew;
    }
    let (n1f, n0f) = (n1 as f64, n0 as f64);
    let (p1, p0) = (c1 as f64 / n1f, c0 as f64 / n0f);
    let pooled = (c1 + c0) as f64 / (n1f + n0f);
    // Both groups have a conversion and a non-conversion, so neither
    // standard error is zero.
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n0f)).sqrt();
    let se = (p1 * (1.0 - p1) / n1f + p0 * (1.0 - p0) / n0f).sqrt();
    let z = (p1 - p0) / se_pooled;
    let p_value = erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0);
    let difference = p1 - p0;
    Comparison::Tested {
        difference,
        low: difference - Z_95 * se,
        high: difference + Z_95 * se,
        p_value,
        significant: p_value < ALPHA,
    }
}

/// The smallest absolute difference from a baseline rate `p0` that a
/// two-sided test at α = 0.05 detects with 80% power, with `n1` and `n0`
/// in the groups: `(z₀.₉₇₅ + z₀.₈) · √(p0(1−p0)(1/n1 + 1/n0))`. `None`
/// when a group is empty or the baseline rate is 0 or 1 (no variance to
/// scale by).
pub fn minimum_detectable_effect(p0: f64, n1: u64, n0: u64) -> Option<f64> {
    if n1 == 0 || n0 == 0 || !(p0 > 0.0 && p0 < 1.0) {
        return None;
    }
    let var = p0 * (1.0 - p0) * (1.0 / n1 as f64 + 1.0 / n0 as f64);
    Some((Z_95 + Z_POWER_80) * var.sqrt())
}

/// Complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error below 1.2e-7), enough for p-values.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Newcombe, "Two-sided confidence intervals for the single
    /// proportion: comparison of seven methods", Statistics in Medicine
    /// 17 (1998), table II, method 3 (Wilson score, no continuity
    /// correction), to the four decimals printed there.
    #[test]
    fn wilson_matches_newcombe_1998() {
        for (c, n, low, high) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let r = wilson(c, n).expect("a rate");
            assert!(close(r.low, low, 5e-5), "{c}/{n}: low {}", r.low);
            assert!(close(r.high, high, 5e-5), "{c}/{n}: high {}", r.high);
        }
        assert_eq!(wilson(0, 0), None);
        assert_eq!(wilson(3, 2), None);
        let all = wilson(20, 20).expect("a rate");
        assert!(all.high <= 1.0 && all.low > 0.8);
    }

    /// Two-proportion z-tests computed independently with Python 3's
    /// `statistics.NormalDist` (pooled z, `p = 2·(1 − Φ(|z|))`; the
    /// interval with the unpooled standard error and z = inv_cdf(0.975)).
    #[test]
    fn z_tests_match_an_independent_computation() {
        for (c1, n1, c0, n0, p, low, high) in [
            (
                69,
                134,
                17,
                39,
                0.385_000_596_5,
                -0.098_117_496_8,
                0.256_173_371_3,
            ),
            (
                67,
                127,
                17,
                39,
                0.316_609_421_0,
                -0.086_548_772_8,
                0.269_872_011_3,
            ),
            (
                120,
                1000,
                100,
                1000,
                0.152_917_781_9,
                -0.007_411_482_0,
                0.047_411_482_0,
            ),
        ] {
            let Comparison::Tested {
                difference,
                low: l,
                high: h,
                p_value,
                significant,
            } = compare(c1, n1, c0, n0)
            else {
                panic!("{c1}/{n1} against {c0}/{n0} is testable");
            };
            assert!(close(p_value, p, 2e-7), "p {p_value} against {p}");
            assert!(close(l, low, 1e-9) && close(h, high, 1e-9), "[{l}, {h}]");
            assert!(close(difference, (low + high) / 2.0, 1e-9));
            assert!(!significant);
        }
        // 200/1000 against 100/1000: z = 6.2, far below α.
        let Comparison::Tested { significant, .. } = compare(200, 1000, 100, 1000) else {
            panic!("testable");
        };
        assert!(significant);
    }

    /// One customer per group printed p = 0.1573 before: now it says
    /// there are too few to tell.
    #[test]
    fn too_few_to_tell() {
        assert_eq!(compare(1, 1, 0, 1), Comparison::TooFew);
        assert_eq!(compare(4, 100, 10, 100), Comparison::TooFew);
        assert_eq!(compare(96, 100, 90, 100), Comparison::TooFew);
        assert!(matches!(
            compare(5, 100, 10, 100),
            Comparison::Tested { .. }
        ));
    }

    /// (1.959964 + 0.841621) · √(0.1 · 0.9 · (1/1000 + 1/1000)) = 0.037587
    /// (the usual sample-size formula solved for the effect).
    #[test]
    fn minimum_detectable_effect_at_80_percent_power() {
        let mde = minimum_detectable_effect(0.1, 1000, 1000).expect("defined");
        assert!(close(mde, 0.037_587_3, 1e-6), "{mde}");
        assert_eq!(minimum_detectable_effect(0.0, 10, 10), None);
        assert_eq!(minimum_detectable_effect(0.5, 0, 10), None);
    }
}
