//! The canonical formatting of a module (`siyu fmt`).
//!
//! One stable layout: one declaration per line, blocks (stages, ledgers,
//! rules) separated by blank lines, two-space indents, the fewest
//! parentheses that keep the tree, durations in days/hours/minutes/seconds.
//! `parse(print(m)) == m` for every module the parser can produce; comments
//! are not part of the tree and are not kept.

use super::ast::*;
use super::lexical::{format_duration, quote};
use crate::diagnostic::Span;

/// Formats a module canonically.
pub fn print(module: &Module) -> String {
    let mut out = String::new();
    for l in lines(module, None) {
        if l.blank_before {
            out.push('\n');
        }
        for _ in 0..l.indent {
            out.push_str("  ");
        }
        out.push_str(&l.text);
        out.push('\n');
    }
    out
}

/// One line of the canonical form, and the source it stands for.
pub(crate) struct Line {
    /// Indentation, in levels of two spaces.
    pub indent: usize,
    /// The text, without indentation.
    pub text: String,
    /// A blank line goes before it (blocks are set apart).
    pub blank_before: bool,
    /// The source range of the node it prints (`None` for a tree without
    /// spans): a block's opening line covers the whole block, its closing
    /// brace the brace.
    pub source: Option<Span>,
    /// It opens a block (`stage S {`, `rule R {`, `split "E" {`).
    pub opens: bool,
    /// It closes a block.
    pub closes: bool,
}

/// The canonical form as lines. `spans`, when given, are the items' source
/// ranges, in order (the formatter's, to place comments).
pub(crate) fn lines(module: &Module, spans: Option<&[Span]>) -> Vec<Line> {
    let mut out = Vec::new();
    let mut previous_block = false;
    for (i, item) in module.items.iter().enumerate() {
        let block = matches!(item, Item::Stage(_) | Item::Ledger(_) | Item::Rule(_));
        let first = out.len();
        let span = spans.and_then(|s| s.get(i)).copied();
        item_to(&mut Out { lines: &mut out }, item, span);
        if let Some(l) = out.get_mut(first) {
            l.blank_before = i > 0 && (block || previous_block);
        }
        previous_block = block;
    }
    out
}

/// Lines being printed.
struct Out<'a> {
    lines: &'a mut Vec<Line>,
}

impl Out<'_> {
    fn push(&mut self, indent: usize, text: String, source: Option<Span>) {
        self.lines.push(Line {
            indent,
            text,
            blank_before: false,
            source,
            opens: false,
            closes: false,
        });
    }

    fn open(&mut self, indent: usize, text: String, source: Option<Span>) {
        self.push(indent, text, source);
        if let Some(l) = self.lines.last_mut() {
            l.opens = true;
        }
    }

    /// The closing brace of a block whose source is `block`.
    fn close(&mut self, indent: usize, block: Option<Span>) {
        let brace = block.map(|b| Span::new(b.end.saturating_sub(1), b.end));
        self.push(indent, "}".into(), brace);
        if let Some(l) = self.lines.last_mut() {
            l.closes = true;
        }
    }
}

/// The source range of each child of a block, from where each starts: a
/// child ends where the next begins, the last at the block's closing
/// brace.
fn children(block: Option<Span>, starts: impl Iterator<Item = usize>) -> Vec<Option<Span>> {
    let Some(b) = block else {
        return starts.map(|_| None).collect();
    };
    let starts: Vec<usize> = starts.collect();
    let close = b.end.saturating_sub(1);
    (0..starts.len())
        .map(|i| {
            let end = starts.get(i + 1).copied().unwrap_or(close);
            Some(Span::new(starts[i], end.max(starts[i])))
        })
        .collect()
}

fn item_to(out: &mut Out<'_>, item: &Item, span: Option<Span>) {
    match item {
        Item::Timezone(zone) => out.push(0, format!("timezone {}", quote(&zone.node)), span),
        Item::CustomerTimezone(attr) => {
            out.push(0, format!("timezone profile.{}", attr.node), span)
        }
        Item::Event(e) => {
            let kw = if e.broadcast { "broadcast" } else { "event" };
            let fields = if e.fields.is_empty() {
                String::new()
            } else {
                format!(" {{ {} }}", fields(&e.fields))
            };
            out.push(0, format!("{kw} {}{fields}", e.name.node), span);
        }
        Item::Profile(fs) if fs.is_empty() => out.push(0, "profile {}".into(), span),
        Item::Profile(fs) => out.push(0, format!("profile {{ {} }}", fields(fs)), span),
        Item::Action(a) => {
            let channel = a
                .channel
                .as_ref()
                .map(|c| format!(" channel {}", c.node))
                .unwrap_or_default();
            out.push(
                0,
                format!("action {}({}){channel}", a.name.node, fields(&a.params)),
                span,
            );
        }
        Item::Cap(c) => {
            let channel = c.channel.as_ref().map_or("all", |c| &c.node);
            out.push(
                0,
                format!(
                    "cap {channel}: {} per {}",
                    c.max.node,
                    format_duration(c.per.node)
                ),
                span,
            );
        }
        Item::Quiet(q) => {
            let policy = q
                .policy
                .as_ref()
                .map(|p| format!(" {}", p.node.as_str()))
                .unwrap_or_default();
            out.push(
                0,
                format!("quiet {}-{}{policy}", tod(q.start.node), tod(q.end.node)),
                span,
            );
        }
        Item::Segment(s) => out.push(
            0,
            format!("segment {} = {}", s.name.node, expr(&s.cond)),
            span,
        ),
        Item::Tag(t) => out.push(
            0,
            format!("tag {} when {}", quote(&t.name.node), expr(&t.cond)),
            span,
        ),
        Item::Stage(s) => {
            out.open(0, format!("stage {} {{", s.name.node), span);
            let kids = children(span, s.labels.iter().map(|l| l.name.span.start));
            for (l, source) in s.labels.iter().zip(kids) {
                let text = match &l.cond {
                    Some(c) => format!("{} when {}", l.name.node, expr(c)),
                    None => format!("{} otherwise", l.name.node),
                };
                out.push(1, text, source);
            }
            out.close(0, span);
        }
        Item::Ledger(l) => {
            out.open(0, format!("ledger {} {{", l.name.node), span);
            let starts = l.clauses.iter().map(|c| match c {
                LedgerClause::Earn { amount, .. } | LedgerClause::Spend { amount, .. } => {
                    amount.span.start
                }
                LedgerClause::Expire(d) => d.span.start,
            });
            let kids = children(span, starts);
            for (c, source) in l.clauses.iter().zip(kids) {
                let text = match c {
                    LedgerClause::Earn { amount, on } => {
                        format!("earn {} on {}", expr(amount), on.node)
                    }
                    LedgerClause::Spend { amount, on } => {
                        format!("spend {} on {}", expr(amount), on.node)
                    }
                    LedgerClause::Expire(d) => format!("expire after {}", format_duration(d.node)),
                };
                out.push(1, text, source);
            }
            out.close(0, span);
        }
        Item::Rule(r) => {
            out.open(0, format!("rule {} {{", r.name.node), span);
            for c in &r.clauses {
                let source = span.map(|_| c.span);
                clause_to(out, &c.node, source);
            }
            out.close(0, span);
        }
    }
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

fn clause_to(out: &mut Out<'_>, clause: &Clause, source: Option<Span>) {
    match clause {
        Clause::Split(s) => {
            out.open(1, format!("split {} {{", quote(&s.experiment.node)), source);
            let kids = children(source, s.variants.iter().map(|v| v.name.span.start));
            for (v, kid) in s.variants.iter().zip(kids) {
                out.push(2, variant(v), kid);
            }
            out.close(1, source);
        }
        other => out.push(1, self::clause(other), source),
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
