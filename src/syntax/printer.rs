//! The canonical formatting of a module (`siyu fmt`).
//!
//! One stable layout: one declaration per line, blocks (stages, ledgers,
//! rules) separated by blank lines, two-space indents, the fewest
//! parentheses that keep the tree, durations in days/hours/minutes/seconds.
//! `parse(print(m)) == m` for every module the parser can produce; comments
//! are not part of the tree and are not kept.

use super::ast::*;
use super::lexical::{format_duration, quote};

/// Formats a module canonically.
pub fn print(module: &Module) -> String {
    let mut out = String::new();
    let mut previous_block = false;
    for (i, item) in module.items.iter().enumerate() {
        let block = matches!(item, Item::Stage(_) | Item::Ledger(_) | Item::Rule(_));
        if i > 0 && (block || previous_block) {
            out.push('\n');
        }
        item_to(&mut out, item);
        previous_block = block;
    }
    out
}

fn item_to(out: &mut String, item: &Item) {
    match item {
        Item::Timezone(zone) => line(out, 0, format!("timezone {}", quote(&zone.node))),
        Item::CustomerTimezone(attr) => line(out, 0, format!("timezone profile.{}", attr.node)),
        Item::Event(e) => {
            let kw = if e.broadcast { "broadcast" } else { "event" };
            let fields = if e.fields.is_empty() {
                String::new()
            } else {
                format!(" {{ {} }}", fields(&e.fields))
            };
            line(out, 0, format!("{kw} {}{fields}", e.name.node));
        }
        Item::Profile(fs) if fs.is_empty() => line(out, 0, "profile {}".into()),
        Item::Profile(fs) => line(out, 0, format!("profile {{ {} }}", fields(fs))),
        Item::Action(a) => {
            let channel = a
                .channel
                .as_ref()
                .map(|c| format!(" channel {}", c.node))
                .unwrap_or_default();
            line(
                out,
                0,
                format!("action {}({}){channel}", a.name.node, fields(&a.params)),
            );
        }
        Item::Cap(c) => {
            let channel = c.channel.as_ref().map_or("all", |c| &c.node);
            line(
                out,
                0,
                format!(
                    "cap {channel}: {} per {}",
                    c.max.node,
                    format_duration(c.per.node)
                ),
            );
        }
        Item::Quiet(q) => {
            let policy = q
                .policy
                .as_ref()
                .map(|p| format!(" {}", p.node.as_str()))
                .unwrap_or_default();
            line(
                out,
                0,
                format!("quiet {}-{}{policy}", tod(q.start.node), tod(q.end.node)),
            );
        }
        Item::Segment(s) => line(
            out,
            0,
            format!("segment {} = {}", s.name.node, expr(&s.cond)),
        ),
        Item::Tag(t) => line(
            out,
            0,
            format!("tag {} when {}", quote(&t.name.node), expr(&t.cond)),
        ),
        Item::Stage(s) => {
            line(out, 0, format!("stage {} {{", s.name.node));
            for l in &s.labels {
                match &l.cond {
                    Some(c) => line(out, 1, format!("{} when {}", l.name.node, expr(c))),
                    None => line(out, 1, format!("{} otherwise", l.name.node)),
                }
            }
            line(out, 0, "}".into());
        }
        Item::Ledger(l) => {
            line(out, 0, format!("ledger {} {{", l.name.node));
            for c in &l.clauses {
                let text = match c {
                    LedgerClause::Earn { amount, on } => {
                        format!("earn {} on {}", expr(amount), on.node)
                    }
                    LedgerClause::Spend { amount, on } => {
                        format!("spend {} on {}", expr(amount), on.node)
                    }
                    LedgerClause::Expire(d) => format!("expire after {}", format_duration(d.node)),
                };
                line(out, 1, text);
            }
            line(out, 0, "}".into());
        }
        Item::Rule(r) => {
            line(out, 0, format!("rule {} {{", r.name.node));
            for c in &r.clauses {
                clause_to(out, &c.node);
            }
            line(out, 0, "}".into());
        }
    }
}

fn line(out: &mut String, indent: usize, text: String) {
    for _ in 0..indent {
        out.push_str("  ");
    }
    out.push_str(&text);
    out.push('\n');
}

fn fields(fs: &[Field]) -> String {
    fs.iter()
        .map(|f| format!("{}: {}", f.name.node, f.ty.node.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn tod(t: TimeOfDay) -> String {
    format!("{:02}:{:02}", t.hour, t.minute)
}

fn share(bp: u32) -> String {
    let (whole, frac) = (bp / 100, bp % 100);
    if frac == 0 {
        format!("{whole}%")
    } else {
        let frac = format!("{frac:02}");
        format!("{whole}.{}%", frac.trim_end_matches('0'))
    }
}

fn clause_to(out: &mut String, clause: &Clause) {
    match clause {
        Clause::Split(s) => {
            line(out, 1, format!("split {} {{", quote(&s.experiment.node)));
            for v in &s.variants {
                line(out, 2, variant(v));
            }
            line(out, 1, "}".into());
        }
        other => line(out, 1, self::clause(other)),
    }
}

fn variant(v: &Variant) -> String {
    format!(
        "{} {} do {}",
        v.name.node,
        share(v.share.node),
        action_list(&v.actions)
    )
}

/// One clause on one line (a split's variants inline), as messages and
/// `explain` show it.
pub fn clause(clause: &Clause) -> String {
    match clause {
        Clause::When(t) => format!("when {}", trigger(t)),
        Clause::If(e) => format!("if {}", expr(e)),
        Clause::Do(actions) => format!("do {}", action_list(actions)),
        Clause::At(t) => format!("at {}", tod(*t)),
        Clause::Limit(Limit::Once) => "limit once".into(),
        Clause::Limit(Limit::PerWindow { max, per, once }) => {
            if *once {
                format!("limit once per {}", format_duration(per.node))
            } else {
                format!("limit {max} per {}", format_duration(per.node))
            }
        }
        Clause::Priority(p) => format!("priority {p}"),
        Clause::Split(s) => {
            let variants: Vec<String> = s.variants.iter().map(variant).collect();
            format!(
                "split {} {{ {} }}",
                quote(&s.experiment.node),
                variants.join("  ")
            )
        }
        Clause::Holdout(s) => format!("holdout {}", share(s.node)),
        Clause::Quiet(p) => format!("quiet {}", p.as_str()),
        Clause::Goal(g) => format!(
            "goal {}{} within {}",
            g.event.node,
            filter(&g.filter),
            format_duration(g.within.node)
        ),
    }
}

fn action_list(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| match a {
            Action::Call { name, args } => format!(
                "{}({})",
                name.node,
                args.iter()
                    .map(|(k, v)| format!("{}: {}", k.node, expr(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Action::AddTag(t) => format!("add tag {}", quote(&t.node)),
            Action::RemoveTag(t) => format!("remove tag {}", quote(&t.node)),
            Action::Set { attr, value } => format!("set profile.{} = {}", attr.node, expr(value)),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn filter(f: &Option<Expr>) -> String {
    f.as_ref()
        .map(|c| format!(" where {}", expr(c)))
        .unwrap_or_default()
}

fn event_filter(f: &EventFilter) -> String {
    format!("{}{}", f.event.node, filter(&f.filter))
}

fn unless(u: &Option<EventFilter>) -> String {
    u.as_ref()
        .map(|f| format!(" unless {}", event_filter(f)))
        .unwrap_or_default()
}

fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::Event(f) => event_filter(f),
        Trigger::No { event, duration } => format!(
            "no {} for {}",
            event_filter(event),
            format_duration(duration.node)
        ),
        Trigger::After {
            delay,
            last,
            event,
            unless: u,
        } => format!(
            "{} after {}{}{}",
            format_duration(delay.node),
            if *last { "last " } else { "" },
            event_filter(event),
            unless(u)
        ),
        Trigger::AfterRule {
            delay,
            rule,
            unless: u,
        } => format!(
            "{} after rule {}{}",
            format_duration(delay.node),
            rule.node,
            unless(u)
        ),
        Trigger::Enters(s) => format!("enters {}", s.node),
        Trigger::Exits(s) => format!("exits {}", s.node),
        Trigger::Becomes { stage, label } => format!("{} becomes {}", stage.node, label.node),
        Trigger::Changes(s) => format!("{} changes", s.node),
        Trigger::Every { day, at } => {
            let day = match day {
                Every::Day => "day",
                Every::Weekday(n) => WEEKDAYS[usize::from(n.clamp(&1, &7) - 1)],
            };
            format!("every {day} at {}", tod(at.node))
        }
        Trigger::Anniversary { before, attr, at } => {
            let before = before
                .as_ref()
                .map(|d| format!("{} before ", format_duration(d.node)))
                .unwrap_or_default();
            let at = at
                .as_ref()
                .map(|t| format!(" at {}", tod(t.node)))
                .unwrap_or_default();
            format!("{before}anniversary of profile.{}{at}", attr.node)
        }
    }
}

/// Binding strength of an expression as a whole (see [`BinaryOp::precedence`]).
fn precedence(e: &Expr) -> u8 {
    match &e.node {
        ExprKind::Binary(op, ..) => op.precedence(),
        ExprKind::Unary(UnaryOp::Not, _) => 3,
        ExprKind::Is { .. } => 4,
        ExprKind::Unary(UnaryOp::Neg, _) => 8,
        _ => 9,
    }
}

/// The binding the operand of `is [not] null` needs: tighter than a
/// comparison, which does not associate.
const IS_OPERAND_MIN: u8 = 5;

/// The binding the left operand of `op` needs: comparisons do not
/// associate; the others associate to the left.
fn left_min(op: BinaryOp) -> u8 {
    let p = op.precedence();
    if p == 4 { p + 1 } else { p }
}

/// Whether `e`, printed where it needs binding `min`, starts with a
/// duration literal (`0s ?? x` does; `(0s or x)` does not).
fn leads_with_duration(e: &Expr, min: u8) -> bool {
    if precedence(e) < min {
        return false;
    }
    match &e.node {
        ExprKind::Duration(_) => true,
        ExprKind::Binary(op, l, _) => leads_with_duration(l, left_min(*op)),
        ExprKind::Is { expr, .. } => leads_with_duration(expr, IS_OPERAND_MIN),
        _ => false,
    }
}

/// Formats an expression canonically.
pub fn expr(e: &Expr) -> String {
    let mut out = String::new();
    expr_to(&mut out, e, 0);
    out
}

fn expr_to(out: &mut String, e: &Expr, min: u8) {
    let parens = precedence(e) < min;
    if parens {
        out.push('(');
    }
    match &e.node {
        ExprKind::Null => out.push_str("null"),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Int(i) => out.push_str(&i.to_string()),
        ExprKind::Number(n) => {
            let text = n.to_string();
            out.push_str(&text);
            if !text.contains('.') {
                out.push_str(".0");
            }
        }
        ExprKind::Str(s) => out.push_str(&quote(s)),
        ExprKind::Duration(d) => out.push_str(&format_duration(*d)),
        ExprKind::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                expr_to(out, item, 0);
            }
            out.push(']');
        }
        ExprKind::Now => out.push_str("now"),
        ExprKind::FirstSeen => out.push_str("first_seen"),
        ExprKind::LastSeen => out.push_str("last_seen"),
        ExprKind::Profile(f) => {
            out.push_str("profile.");
            out.push_str(&f.node);
        }
        ExprKind::EventField(f) => {
            out.push_str("event.");
            out.push_str(&f.node);
        }
        ExprKind::Customer(f) => {
            out.push_str("customer.");
            out.push_str(&f.node);
        }
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::HasTag(t) => {
            out.push_str("has tag ");
            out.push_str(&quote(&t.node));
        }
        ExprKind::Unary(UnaryOp::Not, x) => {
            out.push_str("not ");
            expr_to(out, x, 3);
        }
        ExprKind::Unary(UnaryOp::Neg, x) => {
            out.push('-');
            expr_to(out, x, 8);
        }
        ExprKind::Binary(op, l, r) => {
            let p = op.precedence();
            expr_to(out, l, left_min(*op));
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            // After `in`, a leading duration would read as an aggregate window.
            let right_min = if *op == BinaryOp::In && leads_with_duration(r, p + 1) {
                10
            } else {
                p + 1
            };
            expr_to(out, r, right_min);
        }
        ExprKind::Is {
            expr: x,
            negated,
            label,
        } => {
            expr_to(out, x, IS_OPERAND_MIN);
            out.push_str(if *negated { " is not " } else { " is " });
            out.push_str(label.as_ref().map_or("null", |l| &l.node));
        }
        ExprKind::Call(f, args) => {
            out.push_str(f.as_str());
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                expr_to(out, a, 0);
            }
            out.push(')');
        }
        ExprKind::Aggregate(a) => {
            out.push_str(a.func.as_str());
            out.push('(');
            out.push_str(&a.event.node);
            if let Some(f) = &a.field {
                out.push('.');
                out.push_str(&f.node);
            }
            out.push_str(&filter(&a.filter));
            if let Some(w) = &a.window {
                out.push_str(" in ");
                out.push_str(&format_duration(w.node));
            }
            out.push(')');
        }
        ExprKind::Balance(l) => {
            out.push_str("balance(");
            out.push_str(&l.node);
            out.push(')');
        }
        ExprKind::Expiring(l, d) => {
            out.push_str("expiring(");
            out.push_str(&l.node);
            out.push_str(" in ");
            out.push_str(&format_duration(d.node));
            out.push(')');
        }
    }
    if parens {
        out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use crate::Limits;
    use crate::syntax::{parse, print};

    /// Prints `source` canonically, checking the printed form parses back to
    /// the same tree.
    fn canonical(source: &str) -> String {
        let limits = Limits::default();
        let module = parse(source, &limits).expect("source parses");
        let printed = print(&module);
        let again = parse(&printed, &limits).expect("printed form parses");
        assert_eq!(again, module, "printed:\n{printed}");
        printed
    }

    #[test]
    fn a_duration_leading_the_right_of_in_keeps_its_brackets() {
        // Without them `in 0s` would read as an aggregate window.
        assert!(canonical("tag \"t\" when not null in (0s ?? null)").contains("in (0s ?? null)"));
        assert!(canonical("tag \"t\" when null in (0s)").contains("in (0s)"));
        // Brackets inside the right side already keep it apart.
        assert!(
            canonical("tag \"t\" when null in ((0s or null) ?? null)")
                .contains("in (0s or null) ?? null")
        );
        assert!(canonical("tag \"t\" when null in [0s] ?? null").contains("in [0s] ?? null"));
    }
}
