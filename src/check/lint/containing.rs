//! For the `shadowed` lint: for each interval of a sequence, the earliest
//! interval before it that contains it, in O(n log n) for n intervals
//! (a sweep by lower bound over a max segment tree of upper bounds, indexed
//! by position), instead of comparing every pair.

use super::Interval;
use std::cmp::Ordering;

/// A bound as a key: for lower bounds, a smaller key is looser; for upper
/// bounds, a larger key is looser (`within`'s order, inclusivity included).
#[derive(Clone, Copy, Debug)]
struct Key(f64, u8);

impl Key {
    fn lower(i: Interval) -> Key {
        // `+ 0.0` makes -0 and 0 one key, as `==` has them.
        Key(i.lo + 0.0, u8::from(!i.lo_in))
    }

    fn upper(i: Interval) -> Key {
        Key(i.hi + 0.0, u8::from(i.hi_in))
    }

    fn cmp(self, o: Key) -> Ordering {
        self.0.total_cmp(&o.0).then(self.1.cmp(&o.1))
    }
}

/// For each `(position, interval)` query, the smallest position of a
/// candidate before it whose interval contains the query's (`None` where
/// there is none). Candidates and queries are `(position, interval)`;
/// positions are below `n`.
pub(super) fn earliest_containing(
    n: usize,
    candidates: &[(usize, Interval)],
    queries: &[(usize, Interval)],
) -> Vec<Option<usize>> {
    #[derive(Clone, Copy)]
    enum Step {
        Insert(usize, Key),
        Query(usize, usize, Key),
    }
    let mut steps: Vec<(Key, Step)> = Vec::with_capacity(candidates.len() + queries.len());
    for &(pos, i) in candidates {
        steps.push((Key::lower(i), Step::Insert(pos, Key::upper(i))));
    }
    for (q, &(pos, i)) in queries.iter().enumerate() {
        steps.push((Key::lower(i), Step::Query(q, pos, Key::upper(i))));
    }
    // By lower bound, loosest first; at one key, inserts before queries,
    // since an equal lower bound contains.
    steps.sort_by(|a, b| {
        a.0.cmp(b.0)
            .then_with(|| matches!(a.1, Step::Query(..)).cmp(&matches!(b.1, Step::Query(..))))
    });
    let mut tree = MaxTree::new(n);
    let mut out = vec![None; queries.len()];
    for (_, step) in steps {
        match step {
            Step::Insert(pos, hi) => tree.raise(pos, hi),
            Step::Query(q, pos, hi) => out[q] = tree.first_at_least(pos, hi),
        }
    }
    out
}

/// The maximum upper-bound key over positions, with "the first position
/// before `end` whose key is at least `k`".
struct MaxTree {
    size: usize,
    max: Vec<Option<Key>>,
}

impl MaxTree {
    fn new(n: usize) -> MaxTree {
        let size = n.max(1).next_power_of_two();
        MaxTree {
            size,
            max: vec![None; 2 * size],
        }
    }

    fn raise(&mut self, pos: usize, k: Key) {
        let mut i = pos + self.size;
        while i >= 1 {
            match self.max[i] {
                Some(m) if m.cmp(k) != Ordering::Less => break,
                _ => self.max[i] = Some(k),
            }
            i /= 2;
        }
    }

    fn first_at_least(&self, end: usize, k: Key) -> Option<usize> {
        self.descend(1, 0, self.size, end, k)
    }

    fn descend(&self, node: usize, lo: usize, hi: usize, end: usize, k: Key) -> Option<usize> {
        if lo >= end || self.max[node].is_none_or(|m| m.cmp(k) == Ordering::Less) {
            return None;
        }
        if hi - lo == 1 {
            return Some(lo);
        }
        let mid = (lo + hi) / 2;
        self.descend(2 * node, lo, mid, end, k)
            .or_else(|| self.descend(2 * node + 1, mid, hi, end, k))
    }
}

#[cfg(test)]
mod tests {
    use super::{Interval, earliest_containing};
    use proptest::prelude::*;

    fn interval() -> impl Strategy<Value = Interval> {
        (-3i8..4, any::<bool>(), 0i8..5, any::<bool>()).prop_map(|(lo, lo_in, w, hi_in)| Interval {
            lo: f64::from(lo),
            lo_in,
            hi: f64::from(lo) + f64::from(w),
            hi_in,
        })
    }

    proptest! {
        /// The sweep answers what comparing every earlier pair answers.
        #[test]
        fn the_sweep_is_the_pairwise_scan(
            all in proptest::collection::vec((interval(), any::<bool>()), 1..40),
        ) {
            let candidates: Vec<(usize, Interval)> = all
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| *c)
                .map(|(p, (i, _))| (p, *i))
                .collect();
            let queries: Vec<(usize, Interval)> =
                all.iter().enumerate().map(|(p, (i, _))| (p, *i)).collect();
            let got = earliest_containing(all.len(), &candidates, &queries);
            for (q, &(pos, i)) in queries.iter().enumerate() {
                let want = candidates
                    .iter()
                    .find(|(p, c)| *p < pos && i.within(*c))
                    .map(|(p, _)| *p);
                prop_assert_eq!(got[q], want, "query {} at {}", q, pos);
            }
        }
    }
}
