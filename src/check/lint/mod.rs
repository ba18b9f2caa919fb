//! Before go-live (§8): warnings about programs that compile but probably
//! do not do what was meant. Every check is sound — when unsure it stays
//! quiet — and can be silenced on purpose with a comment naming it on the
//! warning's line or the line above: `# allow(unused)`.
//!
//! | kind | what |
//! |---|---|
//! | `never-fires` | a rule (trigger filter and guard together) or segment whose numeric bounds contradict |
//! | `shadowed` | a stage label that an earlier label always catches first |
//! | `unused` | a segment, stage, ledger or action nothing uses |
//! | `uncapped` | an action on a channel no cap names, while caps exist |
//! | `double-send` | two rules sending the same action with the same arguments on the same trigger, neither limited |

use crate::diagnostic::Code;
use crate::diagnostic::{Diagnostic, Lines, Span};
use crate::syntax::ast::*;
use crate::syntax::print_expr;
use std::collections::{BTreeMap, BTreeSet};

mod containing;

/// Warnings of a checked module (before silencing).
pub fn lint(source: &str, module: &Module) -> Vec<Diagnostic> {
    let lines = Lines::new(source);
    let mut out = Vec::new();
    never_fires(&lines, module, &mut out);
    shadowed(&lines, module, &mut out);
    unused(&lines, module, &mut out);
    uncapped(&lines, module, &mut out);
    double_sends(&lines, module, &mut out);
    out.retain(|d| !silenced(&lines, d));
    out.sort_by_key(|d| d.span.start);
    out
}

fn warn(
    lines: &Lines<'_>,
    out: &mut Vec<Diagnostic>,
    kind: &str,
    span: Span,
    message: String,
    help: &str,
) {
    let code = match kind {
        "never-fires" => Code::NeverFires,
        "shadowed" => Code::Shadowed,
        "unused" => Code::Unused,
        "uncapped" => Code::Uncapped,
        _ => Code::DoubleSend,
    };
    let message = format!("{message} [{kind}]");
    out.push(Diagnostic::warning_in(code, lines, span, message).with_help(help));
}

/// `# allow(kind)` in a comment on the warning's line or the one above.
fn silenced(lines: &Lines<'_>, d: &Diagnostic) -> bool {
    let Some(kind) = d
        .message
        .rsplit_once('[')
        .and_then(|(_, k)| k.strip_suffix(']'))
    else {
        return false;
    };
    let allow = format!("allow({kind})");
    [d.line, d.line.saturating_sub(1)].iter().any(|&n| {
        lines.line(n).is_some_and(|l| {
            l.split_once('#')
                .is_some_and(|(_, comment)| comment.contains(&allow))
        })
    })
}

// ------------------------------------------------------------ intervals --

/// A range of numbers: lower and upper bounds, each inclusive or not.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Interval {
    lo: f64,
    lo_in: bool,
    hi: f64,
    hi_in: bool,
}

impl Interval {
    const ALL: Interval = Interval {
        lo: f64::NEG_INFINITY,
        lo_in: false,
        hi: f64::INFINITY,
        hi_in: false,
    };

    fn of(op: BinaryOp, k: f64) -> Option<Interval> {
        let mut i = Interval::ALL;
        match op {
            BinaryOp::Lt => (i.hi, i.hi_in) = (k, false),
            BinaryOp::Le => (i.hi, i.hi_in) = (k, true),
            BinaryOp::Gt => (i.lo, i.lo_in) = (k, false),
            BinaryOp::Ge => (i.lo, i.lo_in) = (k, true),
            BinaryOp::Eq => {
                i = Interval {
                    lo: k,
                    lo_in: true,
                    hi: k,
                    hi_in: true,
                }
            }
            _ => return None,
        }
        Some(i)
    }

    fn meet(self, o: Interval) -> Interval {
        let (lo, lo_in) = if self.lo > o.lo || (self.lo == o.lo && !self.lo_in) {
            (self.lo, self.lo_in)
        } else {
            (o.lo, o.lo_in)
        };
        let (hi, hi_in) = if self.hi < o.hi || (self.hi == o.hi && !self.hi_in) {
            (self.hi, self.hi_in)
        } else {
            (o.hi, o.hi_in)
        };
        Interval {
            lo,
            lo_in,
            hi,
            hi_in,
        }
    }

    /// Empty over the reals, or over the integers for integral quantities.
    fn is_empty(self, integral: bool) -> bool {
        if integral {
            let lo = if self.lo_in {
                self.lo.ceil()
            } else {
                self.lo.floor() + 1.0
            };
            let hi = if self.hi_in {
                self.hi.floor()
            } else {
                self.hi.ceil() - 1.0
            };
            return lo > hi;
        }
        self.lo > self.hi || (self.lo == self.hi && !(self.lo_in && self.hi_in))
    }

    /// Does every number of `self` lie in `o`?
    fn within(self, o: Interval) -> bool {
        let lo_ok = self.lo > o.lo || (self.lo == o.lo && (o.lo_in || !self.lo_in));
        let hi_ok = self.hi < o.hi || (self.hi == o.hi && (o.hi_in || !self.hi_in));
        lo_ok && hi_ok
    }
}

/// Bounds a condition puts on quantities: for each quantity (its canonical
/// text), the interval it must lie in for the condition to hold. `exact` is
/// false when the condition also has parts this analysis does not read.
#[derive(Clone, Debug, Default)]
struct Bounds {
    on: BTreeMap<String, (Interval, bool)>,
    exact: bool,
}

/// The quantity side of a comparison, canonically named; `event.F` and a
/// bare field `F` of the trigger event are the same quantity.
fn quantity(e: &Expr, fields: &BTreeSet<String>) -> Option<(String, bool)> {
    match &e.node {
        ExprKind::Name(n) if fields.contains(n) => Some((format!("event.{n}"), false)),
        ExprKind::EventField(f) => Some((format!("event.{}", f.node), false)),
        ExprKind::Profile(f) => Some((format!("profile.{}", f.node), false)),
        ExprKind::Aggregate(a) => Some((print_expr(e), a.func == AggFunc::Count)),
        ExprKind::Balance(_) | ExprKind::Expiring(..) => Some((print_expr(e), false)),
        _ => None,
    }
}

fn number(e: &Expr) -> Option<f64> {
    match &e.node {
        ExprKind::Int(i) => Some(*i as f64),
        ExprKind::Number(n) => Some(*n),
        ExprKind::Unary(UnaryOp::Neg, x) => number(x).map(|n| -n),
        _ => None,
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Le => BinaryOp::Ge,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Ge => BinaryOp::Le,
        other => other,
    }
}

fn negate(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Lt => BinaryOp::Ge,
        BinaryOp::Le => BinaryOp::Gt,
        BinaryOp::Gt => BinaryOp::Le,
        BinaryOp::Ge => BinaryOp::Lt,
        _ => return None,
    })
}

/// A single comparison of a quantity with a number, as a bound.
fn comparison(
    e: &Expr,
    negated: bool,
    fields: &BTreeSet<String>,
) -> Option<(String, bool, Interval)> {
    let ExprKind::Binary(op, l, r) = &e.node else {
        return None;
    };
    let (q, k, op) = match (
        quantity(l, fields),
        number(r),
        quantity(r, fields),
        number(l),
    ) {
        (Some(q), Some(k), _, _) => (q, k, *op),
        (_, _, Some(q), Some(k)) => (q, k, flip(*op)),
        _ => return None,
    };
    let op = if negated { negate(op)? } else { op };
    Some((q.0, q.1, Interval::of(op, k)?))
}

/// The bounds of a conjunction; `None` when some conjunct alone can never
/// hold. Disjunctions are read as a whole: unsatisfiable only if every
/// branch is.
fn bounds(e: &Expr, fields: &BTreeSet<String>, out: &mut Bounds) -> bool {
    match &e.node {
        ExprKind::Binary(BinaryOp::And, l, r) => bounds(l, fields, out) && bounds(r, fields, out),
        ExprKind::Binary(BinaryOp::Or, l, r) => {
            let (mut a, mut b) = (out.clone(), out.clone());
            let (sa, sb) = (bounds(l, fields, &mut a), bounds(r, fields, &mut b));
            out.exact = false;
            sa || sb
        }
        _ => {
            let negated = matches!(&e.node, ExprKind::Unary(UnaryOp::Not, _));
            let inner = match &e.node {
                ExprKind::Unary(UnaryOp::Not, x) => x.as_ref(),
                _ => e,
            };
            match comparison(inner, negated, fields) {
                Some((q, integral, interval)) => {
                    let entry = out.on.entry(q).or_insert((Interval::ALL, integral));
                    entry.0 = entry.0.meet(interval);
                    !entry.0.is_empty(integral)
                }
                None => {
                    out.exact = false;
                    true
                }
            }
        }
    }
}

fn satisfiable(conds: &[&Expr], fields: &BTreeSet<String>) -> bool {
    let mut b = Bounds {
        exact: true,
        ..Bounds::default()
    };
    conds.iter().all(|c| bounds(c, fields, &mut b))
}

// --------------------------------------------------------------- checks --

fn trigger_of(r: &RuleDecl) -> Option<&Trigger> {
    r.clauses.iter().find_map(|c| match &c.node {
        Clause::When(t) => Some(t),
        _ => None,
    })
}

fn has_limit(r: &RuleDecl) -> bool {
    r.clauses.iter().any(|c| matches!(c.node, Clause::Limit(_)))
}

fn event_fields(module: &Module, event: &str) -> BTreeSet<String> {
    module
        .items
        .iter()
        .find_map(|i| match i {
            Item::Event(e) if e.name.node == event => {
                Some(e.fields.iter().map(|f| f.name.node.clone()).collect())
            }
            _ => None,
        })
        .unwrap_or_default()
}

fn never_fires(lines: &Lines<'_>, module: &Module, out: &mut Vec<Diagnostic>) {
    for item in &module.items {
        match item {
            Item::Rule(r) => {
                let mut conds: Vec<&Expr> = Vec::new();
                let mut fields = BTreeSet::new();
                if let Some(Trigger::Event(f) | Trigger::After { event: f, .. }) = trigger_of(r) {
                    fields = event_fields(module, &f.event.node);
                    conds.extend(f.filter.as_ref());
                }
                for c in &r.clauses {
                    if let Clause::If(g) = &c.node {
                        conds.push(g);
                    }
                }
                if !conds.is_empty() && !satisfiable(&conds, &fields) {
                    warn(
                        lines,
                        out,
                        "never-fires",
                        r.name.span,
                        format!(
                            "rule `{}` can never fire: its conditions contradict each other",
                            r.name.node
                        ),
                        "check the bounds of its `where` and `if`: no value satisfies them all",
                    );
                }
            }
            Item::Segment(s) if !satisfiable(&[&s.cond], &BTreeSet::new()) => warn(
                lines,
                out,
                "never-fires",
                s.name.span,
                format!(
                    "segment `{}` can never hold: its bounds contradict each other",
                    s.name.node
                ),
                "no customer can ever be a member; check the numbers",
            ),
            _ => {}
        }
    }
}

fn shadowed(lines: &Lines<'_>, module: &Module, out: &mut Vec<Diagnostic>) {
    let none = BTreeSet::new();
    for item in &module.items {
        let Item::Stage(s) = item else { continue };
        // Each label's bounds, worked out once.
        let conds: Vec<Option<Bounds>> = s
            .labels
            .iter()
            .map(|l| {
                let mut b = Bounds {
                    exact: true,
                    ..Bounds::default()
                };
                l.cond
                    .as_ref()
                    .and_then(|c| bounds(c, &none, &mut b).then_some(b))
            })
            .collect();
        for (j, i) in first_implied(&conds) {
            let (later, earlier) = (&s.labels[j], &s.labels[i]);
            warn(
                lines,
                out,
                "shadowed",
                later.name.span,
                format!(
                    "label `{}` of stage `{}` is never chosen: every customer it matches matches `{}` first",
                    later.name.node, s.name.node, earlier.name.node
                ),
                "labels are tried in order: put the stricter threshold first",
            );
        }
    }
}

/// Pairs of labels compared one by one (those whose earlier label bounds
/// several quantities) past which `shadowed` stays quiet: the lint is
/// sound, not complete, and its cost stays bounded.
const PAIRS_BUDGET: usize = 1 << 20;

/// For each label, the earliest label before it that it implies: every
/// quantity the earlier one bounds (exactly) the later one bounds within
/// it. Earlier labels that bound one quantity, the common case, are found
/// by a sweep per quantity in O(n log n); those bounding several are
/// compared pair by pair, up to [`PAIRS_BUDGET`].
fn first_implied(conds: &[Option<Bounds>]) -> Vec<(usize, usize)> {
    let mut first: Vec<Option<usize>> = vec![None; conds.len()];
    let mut keep = |j: usize, i: usize| first[j] = Some(first[j].map_or(i, |f| f.min(i)));
    type Sweep = (Vec<(usize, Interval)>, Vec<(usize, Interval)>);
    let mut sweeps: BTreeMap<&str, Sweep> = BTreeMap::new();
    let mut several = Vec::new();
    for (p, c) in conds.iter().enumerate() {
        let Some(c) = c.as_ref().filter(|c| c.exact) else {
            continue;
        };
        match c.on.iter().next() {
            Some((q, (i, _))) if c.on.len() == 1 => sweeps.entry(q).or_default().0.push((p, *i)),
            Some(_) => several.push(p),
            None => {}
        }
    }
    for (p, c) in conds.iter().enumerate() {
        for (q, (i, _)) in c.iter().flat_map(|c| &c.on) {
            if let Some(sweep) = sweeps.get_mut(q.as_str()) {
                sweep.1.push((p, *i));
            }
        }
    }
    for (candidates, queries) in sweeps.values() {
        let found = containing::earliest_containing(conds.len(), candidates, queries);
        for (&(j, _), i) in queries.iter().zip(found) {
            if let Some(i) = i {
                keep(j, i);
            }
        }
    }
    let mut budget = PAIRS_BUDGET;
    'labels: for (j, lc) in conds.iter().enumerate() {
        let Some(lc) = lc else { continue };
        for &i in several.iter().take_while(|&&i| i < j) {
            if budget == 0 {
                break 'labels;
            }
            budget -= 1;
            let Some(ec) = &conds[i] else { continue };
            let implied = ec
                .on
                .iter()
                .all(|(q, (ei, _))| lc.on.get(q).is_some_and(|(li, _)| li.within(*ei)));
            if implied {
                keep(j, i);
                break;
            }
        }
    }
    first
        .into_iter()
        .enumerate()
        .filter_map(|(j, i)| Some((j, i?)))
        .collect()
}

/// Every name an expression reads, for `unused`.
fn reads(e: &Expr, names: &mut BTreeSet<String>) {
    match &e.node {
        ExprKind::Name(n) => {
            names.insert(n.clone());
        }
        ExprKind::Balance(l) | ExprKind::Expiring(l, _) => {
            names.insert(l.node.clone());
        }
        ExprKind::Is { expr, .. } => reads(expr, names),
        ExprKind::Unary(_, x) => reads(x, names),
        ExprKind::Binary(_, l, r) => {
            reads(l, names);
            reads(r, names);
        }
        ExprKind::List(items) | ExprKind::Call(_, items) => {
            items.iter().for_each(|i| reads(i, names))
        }
        ExprKind::Aggregate(a) => {
            if let Some(f) = &a.filter {
                reads(f, names);
            }
        }
        _ => {}
    }
}

fn actions_of(r: &RuleDecl) -> Vec<&Action> {
    r.clauses
        .iter()
        .flat_map(|c| match &c.node {
            Clause::Do(list) => list.iter().collect::<Vec<_>>(),
            Clause::Split(s) => s.variants.iter().flat_map(|v| &v.actions).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn unused(lines: &Lines<'_>, module: &Module, out: &mut Vec<Diagnostic>) {
    let mut used = BTreeSet::new();
    let mut exprs: Vec<&Expr> = Vec::new();
    for item in &module.items {
        match item {
            Item::Segment(s) => exprs.push(&s.cond),
            Item::Tag(t) => exprs.push(&t.cond),
            Item::Stage(s) => exprs.extend(s.labels.iter().filter_map(|l| l.cond.as_ref())),
            Item::Ledger(l) => {
                for c in &l.clauses {
                    if let LedgerClause::Earn { amount, .. } | LedgerClause::Spend { amount, .. } =
                        c
                    {
                        exprs.push(amount);
                    }
                }
            }
            Item::Rule(r) => {
                for c in &r.clauses {
                    match &c.node {
                        Clause::When(t) => match t {
                            Trigger::Enters(s) | Trigger::Exits(s) | Trigger::Changes(s) => {
                                used.insert(s.node.clone());
                            }
                            Trigger::Becomes { stage, .. } => {
                                used.insert(stage.node.clone());
                            }
                            Trigger::Event(f) | Trigger::No { event: f, .. } => {
                                exprs.extend(f.filter.as_ref())
                            }
                            Trigger::After { event, unless, .. } => {
                                exprs.extend(event.filter.as_ref());
                                exprs.extend(unless.as_ref().and_then(|u| u.filter.as_ref()));
                            }
                            Trigger::AfterRule { unless, .. } => {
                                exprs.extend(unless.as_ref().and_then(|u| u.filter.as_ref()))
                            }
                            _ => {}
                        },
                        Clause::If(g) => exprs.push(g),
                        Clause::Goal(g) => exprs.extend(g.filter.as_ref()),
                        _ => {}
                    }
                }
                for a in actions_of(r) {
                    match a {
                        Action::Call { name, args } => {
                            used.insert(name.node.clone());
                            exprs.extend(args.iter().map(|(_, v)| v));
                        }
                        Action::Set { value, .. } => exprs.push(value),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    for e in exprs {
        reads(e, &mut used);
    }
    for item in &module.items {
        let (name, kind) = match item {
            Item::Segment(s) => (&s.name, "segment"),
            Item::Stage(s) => (&s.name, "stage"),
            Item::Ledger(l) => (&l.name, "ledger"),
            Item::Action(a) => (&a.name, "action"),
            _ => continue,
        };
        if !used.contains(&name.node) {
            warn(
                lines,
                out,
                "unused",
                name.span,
                format!("{kind} `{}` is never used", name.node),
                "remove it, or use it in a rule",
            );
        }
    }
}

fn uncapped(lines: &Lines<'_>, module: &Module, out: &mut Vec<Diagnostic>) {
    let caps: Vec<Option<&str>> = module
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Cap(c) => Some(c.channel.as_ref().map(|c| c.node.as_str())),
            _ => None,
        })
        .collect();
    if caps.is_empty() || caps.contains(&None) {
        return;
    }
    let mut reported = BTreeSet::new();
    for item in &module.items {
        let Item::Action(a) = item else { continue };
        let Some(ch) = &a.channel else { continue };
        if !caps.contains(&Some(ch.node.as_str())) && reported.insert(ch.node.clone()) {
            let capped: Vec<String> = caps.iter().flatten().map(|c| format!("`{c}`")).collect();
            warn(
                lines,
                out,
                "uncapped",
                ch.span,
                format!(
                    "channel `{}` has no cap, while {} do",
                    ch.node,
                    capped.join(", ")
                ),
                "add `cap CHANNEL: N per D` (or `cap all: …`) so this channel cannot flood customers",
            );
        }
    }
}

/// A description of when a trigger fires that is equal for two triggers
/// exactly when they fire at the same instants (for the same customer).
fn trigger_key(t: &Trigger) -> Option<String> {
    let filtered = |f: &EventFilter| f.event.node.clone();
    Some(match t {
        Trigger::Event(f) => format!("event {}", filtered(f)),
        Trigger::No { event, duration } => format!("no {} {}", filtered(event), duration.node),
        Trigger::After {
            delay, event, last, ..
        } => format!("after {} {} {last}", delay.node, filtered(event)),
        Trigger::AfterRule { delay, rule, .. } => {
            format!("after rule {} {}", delay.node, rule.node)
        }
        Trigger::Enters(s) => format!("enters {}", s.node),
        Trigger::Exits(s) => format!("exits {}", s.node),
        Trigger::Becomes { stage, label } => format!("becomes {} {}", stage.node, label.node),
        Trigger::Changes(s) => format!("changes {}", s.node),
        Trigger::Every { day, at } => format!("every {day:?} {:?}", at.node),
        Trigger::Anniversary { before, attr, at } => format!(
            "anniversary {} {:?} {:?}",
            attr.node,
            before.as_ref().map(|b| b.node),
            at.as_ref().map(|a| a.node)
        ),
    })
}

fn double_sends(lines: &Lines<'_>, module: &Module, out: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<(String, String), &RuleDecl> = BTreeMap::new();
    for item in &module.items {
        let Item::Rule(r) = item else { continue };
        if has_limit(r) {
            continue;
        }
        let Some(t) = trigger_of(r) else { continue };
        let Some(key) = trigger_key(t) else { continue };
        let fields = match t {
            Trigger::Event(f) | Trigger::After { event: f, .. } => {
                event_fields(module, &f.event.node)
            }
            _ => BTreeSet::new(),
        };
        for a in actions_of(r) {
            let Action::Call { name, args } = a else {
                continue;
            };
            let mut args: Vec<String> = args
                .iter()
                .map(|(k, v)| format!("{}: {}", k.node, print_expr(v)))
                .collect();
            args.sort();
            let call = format!("{}({})", name.node, args.join(", "));
            let slot = (key.clone(), call.clone());
            match seen.get(&slot) {
                Some(first) => {
                    // Disjoint filters mean the two never fire for one event.
                    let both: Vec<&Expr> = [first, &r]
                        .iter()
                        .filter_map(|x| match trigger_of(x) {
                            Some(Trigger::Event(f) | Trigger::After { event: f, .. }) => {
                                f.filter.as_ref()
                            }
                            _ => None,
                        })
                        .collect();
                    if satisfiable(&both, &fields) {
                        warn(
                            lines,
                            out,
                            "double-send",
                            r.name.span,
                            format!(
                                "rules `{}` and `{}` both send `{call}` on the same trigger: a customer can get it twice",
                                first.name.node, r.name.node
                            ),
                            "add a `limit` to one of them, or merge them into one rule",
                        );
                    }
                }
                None => {
                    seen.insert(slot, r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Interval;
    use crate::syntax::ast::BinaryOp;

    #[test]
    fn intervals() {
        let gt3 = Interval::of(BinaryOp::Gt, 3.0).unwrap_or(Interval::ALL);
        let lt4 = Interval::of(BinaryOp::Lt, 4.0).unwrap_or(Interval::ALL);
        assert!(!gt3.meet(lt4).is_empty(false));
        assert!(
            gt3.meet(lt4).is_empty(true),
            "no integer strictly between 3 and 4"
        );
        let le3 = Interval::of(BinaryOp::Le, 3.0).unwrap_or(Interval::ALL);
        assert!(gt3.meet(le3).is_empty(false));
        let ge5 = Interval::of(BinaryOp::Ge, 5.0).unwrap_or(Interval::ALL);
        assert!(ge5.within(gt3));
        assert!(!gt3.within(ge5));
    }
}
