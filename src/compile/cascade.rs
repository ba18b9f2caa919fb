//! Can one instant need more rounds than the cascade bound (§6)? Only if
//! firings keep causing firings. Steps of programs that cannot cascade
//! that far need no backup copy of the customer to roll back to.

use super::{AggMode, CExpr, Ir};
use crate::check::hir::{self, Effect, Trigger};
use crate::limits::MAX_ROUNDS;
use crate::syntax::ast::Func;
use std::collections::HashMap;

/// The graph: rules, derived slots, manual tags and profile attributes. A
/// rule points to what its built-ins write (tags, attributes); a tag or
/// attribute to the slots that read it; a slot to the slots that read it
/// and to the rules whose transition trigger watches it; a rule to the
/// rules that follow it with no delay. Rule B can fire in the round after
/// rule A exactly when a path leads from A to B, so the program may
/// cascade past the bound when the graph has a cycle (through a rule: the
/// rest is acyclic) or a path through `MAX_ROUNDS` rules.
///
/// Linear in the program: one node per rule, slot, tag and attribute, one
/// edge per write, read, watch and follower.
pub(super) fn may_cascade<'a>(ir: &'a Ir) -> bool {
    let rules = ir.rules.len();
    let slots = ir.derived.len();
    let attrs = ir.profile.len();
    let mut tags: HashMap<&str, usize> = HashMap::new();
    let base_tags = rules + slots + attrs;
    let tag_node = |tags: &mut HashMap<&'a str, usize>, t: &'a str| -> usize {
        let next = base_tags + tags.len();
        *tags.entry(t).or_insert(next)
    };
    let slot = |s: usize| rules + s;
    let attr = |a: usize| rules + slots + a;
    let mut edges: Vec<(usize, usize)> = Vec::new();
    // Reads of each slot, directly.
    for (s, node) in ir.derived.iter().enumerate() {
        for c in node.def.conditions() {
            reads(c, ir, &mut |read| {
                let from = match read {
                    Read::Slot(r) => slot(r),
                    Read::Attr(a) => attr(a),
                    Read::Tag(t) => tag_node(&mut tags, t),
                };
                edges.push((from, slot(s)));
            });
        }
    }
    for (r, rule) in ir.rules.iter().enumerate() {
        let variants = rule
            .split
            .iter()
            .flat_map(|s| s.variants.iter().flat_map(|v| &v.2));
        for effect in rule.actions.iter().chain(variants) {
            match effect {
                Effect::AddTag(t) | Effect::RemoveTag(t) => {
                    let to = tag_node(&mut tags, t);
                    edges.push((r, to));
                }
                Effect::Set { attr: a, .. } => edges.push((r, attr(*a))),
                Effect::Host { .. } => {}
            }
        }
        match rule.trigger {
            Trigger::Membership { segment: s, .. } | Trigger::Stage { stage: s, .. } => {
                edges.push((slot(s), r))
            }
            Trigger::AfterRule { rule: a, delay: 0 } => edges.push((a, r)),
            _ => {}
        }
    }
    let n = base_tags + tags.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in &edges {
        out[a].push(b);
        indegree[b] += 1;
    }
    // Longest path, counting rules, in topological order (Kahn); nodes left
    // over sit on a cycle. No recursion: programs may be large.
    let mut ready: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut rules_on_path = vec![0usize; n];
    let mut done = 0;
    while let Some(v) = ready.pop() {
        done += 1;
        if v < rules {
            rules_on_path[v] += 1;
            if rules_on_path[v] >= MAX_ROUNDS {
                return true;
            }
        }
        for &w in &out[v] {
            rules_on_path[w] = rules_on_path[w].max(rules_on_path[v]);
            indegree[w] -= 1;
            if indegree[w] == 0 {
                ready.push(w);
            }
        }
    }
    done < n
}

/// What a derived condition reads that a rule's built-ins can change.
enum Read<'a> {
    Slot(usize),
    Attr(usize),
    Tag(&'a str),
}

fn reads<'a>(e: &'a CExpr, ir: &'a Ir, f: &mut impl FnMut(Read<'a>)) {
    e.walk(&mut |x| match x {
        hir::Expr::HasTag(hir::TagRef::Manual(t)) => f(Read::Tag(t)),
        hir::Expr::HasTag(hir::TagRef::Auto(s))
        | hir::Expr::Segment(s)
        | hir::Expr::StageIs { stage: s, .. } => f(Read::Slot(*s)),
        hir::Expr::Profile(a) => f(Read::Attr(*a)),
        // Calendar parts are in the customer's zone, a profile attribute.
        hir::Expr::Call(Func::Date | Func::Hour | Func::Weekday, _) => {
            if let Some(a) = ir.customer_zone {
                f(Read::Attr(a));
            }
        }
        // An aggregate recomputed from its log reads what its filter reads.
        hir::Expr::Agg(a) => {
            let spec = &ir.aggs[*a];
            if let (AggMode::Scan, Some(filter)) = (spec.mode, &spec.filter) {
                reads(filter, ir, f);
            }
        }
        _ => {}
    });
}
