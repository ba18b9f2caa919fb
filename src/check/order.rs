//! Segments, tags and stages in dependency order: each after what it reads,
//! ties by declaration order; a cycle is reported by name (§4).

use super::{Checker, DerivedKey};
use crate::diagnostic::Code;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

impl Checker<'_> {
    /// The evaluation order (declaration indices), or `None` after
    /// reporting a cycle. Kahn's algorithm with the ready nodes in a heap
    /// by declaration index: O((n + e) log n) for n nodes and e reads.
    pub(super) fn order_derived(&mut self) -> Option<Vec<usize>> {
        let n = self.deps.len();
        let mut waiting: Vec<usize> = self.deps.iter().map(|d| d.len()).collect();
        let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (node, deps) in self.deps.iter().enumerate() {
            for &d in deps {
                readers[d].push(node);
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> =
            (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse(node)) = ready.pop() {
            order.push(node);
            for &r in &readers[node] {
                waiting[r] -= 1;
                if waiting[r] == 0 {
                    ready.push(Reverse(r));
                }
            }
        }
        if order.len() == n {
            return Some(order);
        }
        // Everything left is on or behind a cycle: report the one reached
        // from the first declared of them.
        let done: Vec<bool> = {
            let mut d = vec![false; n];
            order.iter().for_each(|&i| d[i] = true);
            d
        };
        if let Some(start) = (0..n).find(|&i| !done[i]) {
            self.report_cycle(start, &done);
        }
        None
    }

    fn report_cycle(&mut self, start: usize, done: &[bool]) {
        // Walk unfinished dependencies until a node repeats.
        let mut path = vec![start];
        let mut on_path = vec![false; done.len()];
        on_path[start] = true;
        let mut at = start;
        loop {
            let Some(&next) = self.deps[at].iter().find(|&&d| !done[d]) else {
                return;
            };
            if on_path[next] {
                let Some(pos) = path.iter().position(|&p| p == next) else {
                    return;
                };
                let cycle: Vec<String> = path[pos..]
                    .iter()
                    .chain([&next])
                    .map(|&d| self.describe(d))
                    .collect();
                let Some((_, &span)) = self.t.derived.get_index(path[pos]) else {
                    return;
                };
                self.error(
                    Code::Cycle,
                    span,
                    format!("cycle in derived state: {}", cycle.join(" → ")),
                )
                .help = Some(
                    "a segment, tag or stage cannot depend on itself, directly or through others"
                        .into(),
                );
                return;
            }
            on_path[next] = true;
            path.push(next);
            at = next;
        }
    }

    fn describe(&self, d: usize) -> String {
        match self.t.derived.get_index(d).map(|(k, _)| k) {
            Some(DerivedKey::Segment(n)) => format!("segment `{n}`"),
            Some(DerivedKey::Tag(n)) => format!("tag \"{n}\""),
            Some(DerivedKey::Stage(n)) => format!("stage `{n}`"),
            None => "?".to_string(),
        }
    }
}
