//! Expressions: the operator levels of the grammar, built without a
//! recursion per level an expression passes through unchanged, and with
//! the nesting depth bounded.

use super::{Builder, P, Rule, kids, must, profile_attr, span, unreachable_pair};
use crate::diagnostic::{Code, Span};
use crate::syntax::ast::*;
use crate::syntax::lexical;

impl Builder<'_> {
    pub(super) fn expr(&mut self, p: P<'_>) -> Option<Expr> {
        self.expr_depth(p).map(|(e, _)| e)
    }

    fn too_deep(&mut self, s: Span) {
        let max = self.max_depth;
        self.error(
            Code::Limit,
            s,
            format!("expression nested more than {max} levels deep"),
            Some("split it into named segments".into()),
        );
    }

    /// Builds an expression and returns its tree depth, so that operator
    /// chains (which nest without brackets) are bounded as they are built.
    ///
    /// This is the recursion of the builder: it only dispatches, so each
    /// level of nesting costs one small frame plus the frame of one helper.
    fn expr_depth(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let p = pass_through(p);
        match p.as_rule() {
            Rule::or_expr
            | Rule::and_expr
            | Rule::coalesce_expr
            | Rule::sum_expr
            | Rule::product_expr => self.chain(p),
            Rule::not_expr | Rule::unary_expr => self.prefix(p),
            Rule::cmp_expr => self.comparison(p),
            Rule::list | Rule::call => self.sequence(p),
            Rule::aggregate => self.aggregate(p),
            _ => self.atom(p),
        }
    }

    /// `a OP b OP c …`, folded to the left.
    fn chain(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let s = span(&p);
        let mut k = kids(p);
        let (mut acc, mut depth) = self.expr_depth(must(k.next()))?;
        while let Some(op) = k.next() {
            let op = match op.as_str() {
                "or" => BinaryOp::Or,
                "and" => BinaryOp::And,
                "??" => BinaryOp::Coalesce,
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                _ => BinaryOp::Div,
            };
            let (rhs, rd) = self.expr_depth(must(k.next()))?;
            depth = depth.max(rd) + 1;
            if depth > self.max_depth {
                self.too_deep(s);
                return None;
            }
            let sp = acc.span.to(rhs.span);
            acc = Expr::new(ExprKind::Binary(op, Box::new(acc), Box::new(rhs)), sp);
        }
        Some((acc, depth))
    }

    /// `not e`, `-e`.
    fn prefix(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let op = if p.as_rule() == Rule::not_expr {
            UnaryOp::Not
        } else {
            UnaryOp::Neg
        };
        let start = p.as_span().start();
        let operand = must(kids(p).nth(1));
        let (e, d) = self.expr_depth(operand)?;
        let sp = Span::new(start, e.span.end);
        self.node(ExprKind::Unary(op, Box::new(e)), sp, d + 1)
    }

    /// `a == b`, `a in b`, `a contains b`, `a is [not] null|LABEL`.
    fn comparison(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let mut k = kids(p);
        let (lhs, ld) = self.expr_depth(must(k.next()))?;
        let test = must(k.next());
        if test.as_rule() == Rule::is_test {
            let mut negated = false;
            let mut label = None;
            let mut end = lhs.span;
            for t in kids(test).skip(1) {
                end = span(&t);
                match t.as_rule() {
                    Rule::kw_not => negated = true,
                    Rule::kw_null => {}
                    _ => label = Some(Self::ident(t)),
                }
            }
            let sp = lhs.span.to(end);
            let kind = ExprKind::Is {
                expr: Box::new(lhs),
                negated,
                label,
            };
            return self.node(kind, sp, ld + 1);
        }
        let mut tk = kids(test);
        let op = match must(tk.next()).as_str() {
            "in" => BinaryOp::In,
            "contains" => BinaryOp::Contains,
            "==" => BinaryOp::Eq,
            "!=" => BinaryOp::Ne,
            "<" => BinaryOp::Lt,
            "<=" => BinaryOp::Le,
            ">" => BinaryOp::Gt,
            _ => BinaryOp::Ge,
        };
        let (rhs, rd) = self.expr_depth(must(tk.next()))?;
        let sp = lhs.span.to(rhs.span);
        self.node(
            ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            sp,
            ld.max(rd) + 1,
        )
    }

    /// `[a, b]` and `f(a, b)`: a node over a sequence of expressions.
    fn sequence(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let s = span(&p);
        let is_call = p.as_rule() == Rule::call;
        let mut k = kids(p).peekable();
        let func = if is_call {
            let name = must(k.next());
            Func::from_name(name.as_str())
        } else {
            None
        };
        let mut items = Vec::new();
        let mut depth = 0;
        let mut ok = true;
        for item in k {
            match self.expr_depth(item) {
                Some((e, d)) => {
                    depth = depth.max(d);
                    items.push(e);
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let kind = match func {
            Some(f) => ExprKind::Call(f, items),
            None => ExprKind::List(items),
        };
        self.node(kind, s, depth + 1)
    }

    /// `FUNC(E[.F] [where C] [in D])`.
    fn aggregate(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let s = span(&p);
        let mut k = kids(p).peekable();
        let func_pair = must(k.next());
        let func = AggFunc::from_name(func_pair.as_str()).unwrap_or(AggFunc::Count);
        let event = Self::ident(must(k.next()));
        let field = k
            .next_if(|c| c.as_rule() == Rule::name)
            .map(Self::field_name);
        let mut depth = 1;
        let filter = match k.next_if(|c| c.as_rule() == Rule::where_part) {
            Some(w) => {
                let (e, d) = self.expr_depth(must(kids(w).nth(1)))?;
                depth = d + 1;
                Some(e)
            }
            None => None,
        };
        let window = match k.next() {
            Some(w) => Some(self.duration(must(kids(w).nth(1)))?),
            None => None,
        };
        let kind = ExprKind::Aggregate(Box::new(Aggregate {
            func,
            event,
            field,
            filter,
            window,
        }));
        self.node(kind, s, depth)
    }

    /// Literals, names and the other forms without sub-expressions.
    fn atom(&mut self, p: P<'_>) -> Option<(Expr, usize)> {
        let s = span(&p);
        let kind = match p.as_rule() {
            Rule::has_tag => ExprKind::HasTag(self.string(must(kids(p).nth(2)))?),
            Rule::balance_call => ExprKind::Balance(Self::ident(must(kids(p).nth(1)))),
            Rule::expiring_call => {
                let mut k = kids(p);
                let ledger = Self::ident(must(k.nth(1)));
                let window = self.duration(must(k.nth(1)))?;
                ExprKind::Expiring(ledger, window)
            }
            Rule::duration_lit => ExprKind::Duration(self.duration(p)?.node),
            Rule::percent => {
                self.error(
                    Code::Percent,
                    s,
                    "a percentage is only a share, in `split` and `holdout`",
                    Some(format!(
                        "write the number: `{}`",
                        p.as_str().trim_end_matches('%')
                    )),
                );
                return None;
            }
            Rule::number => {
                if p.as_str().contains('.') {
                    ExprKind::Number(self.lexical(Code::Number, &p, lexical::number)?)
                } else {
                    ExprKind::Int(self.lexical(Code::Number, &p, lexical::int)?)
                }
            }
            Rule::string => ExprKind::Str(self.string(p)?.node),
            Rule::kw_true => ExprKind::Bool(true),
            Rule::kw_false => ExprKind::Bool(false),
            Rule::kw_null => ExprKind::Null,
            Rule::kw_now => ExprKind::Now,
            Rule::kw_first_seen => ExprKind::FirstSeen,
            Rule::kw_last_seen => ExprKind::LastSeen,
            Rule::profile_ref => ExprKind::Profile(profile_attr(p)),
            Rule::event_ref => ExprKind::EventField(profile_attr(p)),
            Rule::customer_ref => ExprKind::Customer(profile_attr(p)),
            Rule::ident | Rule::field_keyword => ExprKind::Name(p.as_str().to_string()),
            _ => unreachable_pair(),
        };
        Some((Expr::new(kind, s), 1))
    }

    fn node(&mut self, kind: ExprKind, s: Span, depth: usize) -> Option<(Expr, usize)> {
        if depth > self.max_depth {
            self.too_deep(s);
            return None;
        }
        Some((Expr::new(kind, s), depth))
    }
}

/// Descends through the grammar levels an expression passes without an
/// operator (`expr`, parentheses, a chain of one operand, …) iteratively,
/// so that they cost no recursion.
fn pass_through(mut p: P<'_>) -> P<'_> {
    loop {
        let single = match p.as_rule() {
            Rule::expr | Rule::paren => true,
            Rule::or_expr
            | Rule::and_expr
            | Rule::not_expr
            | Rule::cmp_expr
            | Rule::coalesce_expr
            | Rule::sum_expr
            | Rule::product_expr
            | Rule::unary_expr => kids(p.clone()).nth(1).is_none(),
            _ => false,
        };
        if !single {
            return p;
        }
        p = must(kids(p).next());
    }
}
