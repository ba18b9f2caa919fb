//! Expressions: each is typed and resolved in one walk. A sub-expression
//! with an error has the type [`Ty::Error`] and no checked form; so has
//! every expression around it.

use super::hir::{self, ArithOp, CmpOp, TagRef};
use super::types::Ty;
use super::{Checker, DerivedKey, Scope};
use crate::diagnostic::Code;
use crate::diagnostic::Span;
use crate::syntax::ast::*;
use crate::syntax::print_expr;
use crate::value::Value;

/// An expression's type, and its checked form unless it has an error.
pub(super) struct Typed {
    pub ty: Ty,
    pub hir: Option<hir::Expr>,
}

impl Typed {
    fn new(ty: Ty, hir: hir::Expr) -> Typed {
        Typed { ty, hir: Some(hir) }
    }

    fn error(ty: Ty) -> Typed {
        Typed { ty, hir: None }
    }
}

fn bx(e: hir::Expr) -> Box<hir::Expr> {
    Box::new(e)
}

impl Checker<'_> {
    /// A whole expression (a condition, an argument, an amount). Whatever
    /// has no checked form has had its error reported: the one form with
    /// no error of its own, a bare stage name, gets one here.
    pub(super) fn value(&mut self, e: &Expr, scope: Scope<'_>) -> Typed {
        let before = self.out.errors.len();
        let typed = self.expr(e, scope);
        if typed.hir.is_none() && self.out.errors.len() == before {
            let d = self.error(
                Code::StageValue,
                e.span,
                "a stage is read through its label, not as a value",
            );
            d.help = Some("write `STAGE is LABEL` or `STAGE in [LABEL, …]`".into());
        }
        typed
    }

    /// A whole expression that must be a condition.
    pub(super) fn condition(
        &mut self,
        e: &Expr,
        scope: Scope<'_>,
        what: &str,
    ) -> Option<hir::Expr> {
        let before = self.out.errors.len();
        let typed = self.expr(e, scope);
        self.expect_condition(e, &typed.ty, what);
        if typed.hir.is_none() && self.out.errors.len() == before {
            self.error(
                Code::Mismatch,
                e.span,
                format!("{what} could not be checked"),
            );
        }
        typed.hir
    }

    fn expect_condition(&mut self, e: &Expr, ty: &Ty, what: &str) {
        if !(*ty == Ty::Bool || ty.is_wild()) {
            let help = match ty {
                Ty::Stage(s) => Some(format!("compare the stage's label: `{s} is LABEL`")),
                _ => None,
            };
            let d = self.error(
                Code::NotCondition,
                e.span,
                format!("{what} must be a condition (bool), this is {ty}"),
            );
            d.help = help;
        }
    }

    /// The recursive walk. Kept to the recursion itself, with every message
    /// built in non-recursive helpers, so that each level of a deep
    /// expression costs little stack even in a debug build.
    fn expr(&mut self, e: &Expr, scope: Scope<'_>) -> Typed {
        match &e.node {
            ExprKind::List(items) => {
                let typed: Vec<Typed> = items.iter().map(|i| self.expr(i, scope)).collect();
                self.list(items, typed)
            }
            ExprKind::Unary(op, x) => {
                let t = self.expr(x, scope);
                self.unary(*op, x, t)
            }
            ExprKind::Binary(op, l, r) => {
                if let Some(t) = self.stage_test(*op, l, r, scope) {
                    return t;
                }
                let lt = self.expr(l, scope);
                let rt = self.expr(r, scope);
                self.binary(*op, l, r, lt, rt)
            }
            ExprKind::Is {
                expr,
                negated,
                label,
            } => {
                if let (Some(label), ExprKind::Name(stage)) = (label, &expr.node) {
                    if self.t.stage_labels.contains_key(stage) && !self.field_shadows(stage, scope)
                    {
                        let stage = Ident::new(stage.clone(), expr.span);
                        let hir =
                            self.stage_label(&stage, label)
                                .map(|(stage, l)| hir::Expr::StageIs {
                                    stage,
                                    labels: vec![l],
                                    negated: *negated,
                                });
                        return Typed { ty: Ty::Bool, hir };
                    }
                }
                let t = self.expr(expr, scope);
                self.is(label.as_ref(), *negated, t)
            }
            ExprKind::Call(f, args) => {
                let typed: Vec<Typed> = args.iter().map(|a| self.expr(a, scope)).collect();
                self.call(*f, args, typed, e.span)
            }
            ExprKind::Aggregate(a) => {
                let event = self.customer_event(&a.event, "an aggregate");
                let filter = a.filter.as_ref().map(|f| {
                    let inner = if event.is_some() {
                        scope.with_where(&a.event.node)
                    } else {
                        scope
                    };
                    self.condition(f, inner, "a `where` condition")
                });
                match event {
                    Some(event) => self.aggregate(a, e, event, filter),
                    None => Typed::error(Ty::Error),
                }
            }
            _ => self.leaf(e, scope),
        }
    }

    fn leaf(&mut self, e: &Expr, scope: Scope<'_>) -> Typed {
        let constant = |ty: Ty, v: Value| Typed::new(ty, hir::Expr::Const(v));
        match &e.node {
            ExprKind::Null => constant(Ty::Null, Value::Null),
            ExprKind::Bool(b) => constant(Ty::Bool, Value::Bool(*b)),
            ExprKind::Int(i) => constant(Ty::Int, Value::Int(*i)),
            ExprKind::Number(n) => constant(Ty::Number, Value::Number(*n)),
            ExprKind::Str(s) => constant(Ty::String, Value::Str(s.as_str().into())),
            ExprKind::Duration(d) => constant(Ty::Duration, Value::Duration(*d)),
            ExprKind::Now => Typed::new(Ty::Time, hir::Expr::Now),
            ExprKind::FirstSeen => Typed::new(Ty::Time, hir::Expr::FirstSeen),
            ExprKind::LastSeen => Typed::new(Ty::Time, hir::Expr::LastSeen),
            ExprKind::Profile(attr) => match self.t.profile.get_full(&attr.node) {
                Some((i, _, t)) => Typed::new(Ty::of(*t), hir::Expr::Profile(i)),
                None => {
                    self.unknown_profile(attr);
                    Typed::error(Ty::Error)
                }
            },
            ExprKind::EventField(f) => match scope.trigger_event {
                Some(event) => match self.field_of(event, f) {
                    Some((i, ty)) => Typed::new(ty, hir::Expr::EventField(i)),
                    None => Typed::error(Ty::Error),
                },
                None => {
                    let reason = scope.no_event_reason;
                    let d = self.error(
                        Code::NoEventHere,
                        f.span.to(e.span),
                        "`event.*` is only available where the trigger has an event",
                    );
                    if !reason.is_empty() {
                        d.help = Some(reason.to_string());
                    }
                    Typed::error(Ty::Error)
                }
            },
            ExprKind::Customer(f) => {
                if f.node != "id" {
                    self.error(
                        Code::NoEventHere,
                        f.span,
                        format!(
                            "customer has no `{}`; the only customer attribute is `id`",
                            f.node
                        ),
                    )
                    .help = Some("profile attributes are read as `profile.NAME`".into());
                    return Typed::error(Ty::Error);
                }
                Typed::new(Ty::String, hir::Expr::CustomerId)
            }
            ExprKind::Name(n) => self.name(n, e.span, scope),
            ExprKind::HasTag(t) => {
                let key = DerivedKey::Tag(t.node.clone());
                let tag = match self.t.derived_id(&key) {
                    Some(id) => {
                        self.depend(key);
                        TagRef::Auto(id)
                    }
                    None => TagRef::Manual(t.node.clone()),
                };
                Typed::new(Ty::Bool, hir::Expr::HasTag(tag))
            }
            ExprKind::Balance(l) | ExprKind::Expiring(l, _) => {
                let ledger = self.t.ledgers.get_index_of(&l.node);
                if ledger.is_none() {
                    self.out.suggest(
                        Code::UnknownName,
                        l.span,
                        format!("unknown ledger `{}`", l.node),
                        &l.node,
                        super::names(&self.t.ledgers),
                    );
                }
                let hir = match &e.node {
                    ExprKind::Expiring(_, d) => {
                        self.positive(d, "an expiry horizon");
                        ledger.map(|l| hir::Expr::Expiring(l, d.node))
                    }
                    _ => ledger.map(hir::Expr::Balance),
                };
                Typed {
                    ty: Ty::Number,
                    hir,
                }
            }
            ExprKind::List(_)
            | ExprKind::Unary(..)
            | ExprKind::Binary(..)
            | ExprKind::Is { .. }
            | ExprKind::Call(..)
            | ExprKind::Aggregate(_) => self.expr(e, scope),
        }
    }

    fn list(&mut self, items: &[Expr], typed: Vec<Typed>) -> Typed {
        let mut elem = Ty::Null;
        let mut hirs = Vec::with_capacity(typed.len());
        for (item, t) in items.iter().zip(typed) {
            match elem.unify(&t.ty) {
                Some(u) => elem = u,
                None => {
                    self.error(
                        Code::ListType,
                        item.span,
                        format!("list elements must have one type: {elem} and {}", t.ty),
                    );
                    elem = Ty::Error;
                }
            }
            hirs.push(t.hir);
        }
        let ty = Ty::List(Box::new(elem));
        let Some(hirs) = hirs.into_iter().collect::<Option<Vec<hir::Expr>>>() else {
            return Typed::error(ty);
        };
        // A list of literals is a literal.
        let constants: Option<Vec<Value>> = hirs
            .iter()
            .map(|h| match h {
                hir::Expr::Const(v) => Some(v.clone()),
                _ => None,
            })
            .collect();
        let hir = match constants {
            Some(values) => hir::Expr::Const(Value::List(values.into())),
            None => hir::Expr::List(hirs),
        };
        Typed::new(ty, hir)
    }

    fn unary(&mut self, op: UnaryOp, x: &Expr, t: Typed) -> Typed {
        let ty = match (op, &t.ty) {
            (UnaryOp::Not, ty) => {
                self.expect_bool(x, ty, "`not`");
                Ty::Bool
            }
            (UnaryOp::Neg, ty @ (Ty::Int | Ty::Number | Ty::Duration | Ty::Null | Ty::Error)) => {
                ty.clone()
            }
            (UnaryOp::Neg, other) => {
                self.error(Code::Mismatch, x.span, format!("cannot negate {other}"));
                Ty::Error
            }
        };
        let hir = t.hir.map(|h| match op {
            UnaryOp::Not => hir::Expr::Not(bx(h)),
            UnaryOp::Neg => hir::Expr::Neg(bx(h)),
        });
        Typed { ty, hir }
    }

    fn is(&mut self, label: Option<&Ident>, negated: bool, t: Typed) -> Typed {
        if let Some(label) = label {
            if t.ty != Ty::Error {
                self.error(
                    Code::UnknownLabel,
                    label.span,
                    format!(
                        "`is {}` needs a stage on its left, not {}",
                        label.node, t.ty
                    ),
                )
                .help = Some("`is` compares a stage's label, or tests `is null`".into());
            }
            return Typed::error(Ty::Bool);
        }
        let hir = t.hir.map(|h| hir::Expr::IsNull(bx(h), negated));
        Typed { ty: Ty::Bool, hir }
    }

    /// A field of an event: its index and type.
    fn field_of(&mut self, event: &str, f: &Ident) -> Option<(hir::FieldId, Ty)> {
        let sym = self.t.events.get(event)?;
        match sym.fields.get_full(&f.node) {
            Some((i, _, t)) => Some((i, Ty::of(*t))),
            None => {
                let candidates: Vec<String> = sym.fields.keys().cloned().collect();
                self.out.suggest(
                    Code::UnknownField,
                    f.span,
                    format!("event `{event}` has no field `{}`", f.node),
                    &f.node,
                    candidates.iter().map(String::as_str),
                );
                None
            }
        }
    }

    fn name(&mut self, n: &str, span: Span, scope: Scope<'_>) -> Typed {
        if let Some(event) = scope.where_event {
            if let Some((i, _, t)) = self.t.events.get(event).and_then(|s| s.fields.get_full(n)) {
                return Typed::new(Ty::of(*t), hir::Expr::RowField(i));
            }
        }
        let segment = DerivedKey::Segment(n.to_string());
        if let Some(id) = self.t.derived_id(&segment) {
            self.depend(segment);
            return Typed::new(Ty::Bool, hir::Expr::Segment(id));
        }
        let stage = DerivedKey::Stage(n.to_string());
        if self.t.has(stage.clone()) {
            // Read only through `is`/`in`, which do not come here.
            self.depend(stage);
            return Typed::error(Ty::Stage(n.to_string()));
        }
        let mut candidates: Vec<String> = self
            .t
            .derived
            .keys()
            .filter_map(|k| match k {
                DerivedKey::Segment(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        candidates.extend(self.t.stage_labels.keys().cloned());
        if let Some(event) = scope.where_event.and_then(|e| self.t.events.get(e)) {
            candidates.extend(event.fields.keys().cloned());
        }
        let msg = if let Some(event) = scope.where_event {
            format!("`{n}` is neither a field of `{event}` nor a segment")
        } else if self.t.events.contains_key(n) {
            format!("`{n}` is an event; count it with `count({n})` or test it with `last({n})`")
        } else if self.t.profile.contains_key(n) {
            format!("unknown name `{n}`; profile attributes are read as `profile.{n}`")
        } else {
            format!("unknown name `{n}`")
        };
        let code = match scope.where_event {
            Some(_) => Code::UnknownField,
            None => Code::UnknownName,
        };
        self.out
            .suggest(code, span, msg, n, candidates.iter().map(String::as_str));
        Typed::error(Ty::Error)
    }

    fn expect_bool(&mut self, e: &Expr, t: &Ty, op: &str) {
        if !(*t == Ty::Bool || t.is_wild()) {
            self.error(
                Code::NotCondition,
                e.span,
                format!("{op} needs a condition (bool), this is {t}"),
            );
        }
    }

    /// `STAGE ==/!=/in ...`: stage tests, which name labels, not values.
    fn stage_test(&mut self, op: BinaryOp, l: &Expr, r: &Expr, scope: Scope<'_>) -> Option<Typed> {
        let ExprKind::Name(stage) = &l.node else {
            return None;
        };
        if !self.t.stage_labels.contains_key(stage) || self.field_shadows(stage, scope) {
            return None;
        }
        // A stage's label is tested with `is`, not compared as a value.
        if matches!(op, BinaryOp::Eq | BinaryOp::Ne) {
            let label = match &r.node {
                ExprKind::Name(label) => label.as_str(),
                _ => "LABEL",
            };
            let is = if op == BinaryOp::Eq { "is" } else { "is not" };
            self.error(
                Code::StageValue,
                l.span.to(r.span),
                "a stage is compared with `is`, not `==`/`!=`",
            )
            .help = Some(format!("write `{stage} {is} {label}`"));
            return Some(Typed::error(Ty::Error));
        }
        // `STAGE in [LABEL, ...]` names labels, not values.
        let (BinaryOp::In, ExprKind::List(items)) = (op, &r.node) else {
            return None;
        };
        let stage_ident = Ident::new(stage.clone(), l.span);
        let mut id = None;
        let mut labels = Some(Vec::with_capacity(items.len()));
        for item in items {
            let found = match &item.node {
                ExprKind::Name(label) => {
                    self.stage_label(&stage_ident, &Ident::new(label.clone(), item.span))
                }
                _ => {
                    self.error(
                        Code::UnknownLabel,
                        item.span,
                        format!("`{stage} in [...]` lists labels of the stage"),
                    );
                    None
                }
            };
            match (found, labels.as_mut()) {
                (Some((s, label)), Some(list)) => {
                    id = Some(s);
                    list.push(label);
                }
                _ => labels = None,
            }
        }
        if items.is_empty() {
            id = self.stage_ref(&stage_ident).map(|(s, _)| s);
        }
        let hir = match (id, labels) {
            (Some(stage), Some(labels)) => Some(hir::Expr::StageIs {
                stage,
                labels,
                negated: false,
            }),
            _ => None,
        };
        Some(Typed { ty: Ty::Bool, hir })
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr, lt: Typed, rt: Typed) -> Typed {
        let ty = self.binary_type(op, l, r, &lt.ty, &rt.ty);
        let (Some(a), Some(b)) = (lt.hir, rt.hir) else {
            return Typed::error(ty);
        };
        let (a, b) = (bx(a), bx(b));
        let hir = match op {
            BinaryOp::And => hir::Expr::And(a, b),
            BinaryOp::Or => hir::Expr::Or(a, b),
            BinaryOp::In => hir::Expr::In(a, b),
            BinaryOp::Contains => hir::Expr::Contains(a, b),
            BinaryOp::Coalesce => hir::Expr::Coalesce(a, b),
            BinaryOp::Add => hir::Expr::Arith(ArithOp::Add, a, b),
            BinaryOp::Sub => hir::Expr::Arith(ArithOp::Sub, a, b),
            BinaryOp::Mul => hir::Expr::Arith(ArithOp::Mul, a, b),
            BinaryOp::Div => hir::Expr::Arith(ArithOp::Div, a, b),
            cmp => match CmpOp::of(cmp) {
                Some(c) => hir::Expr::Cmp(c, a, b),
                None => return Typed::error(ty),
            },
        };
        Typed::new(ty, hir)
    }

    fn binary_type(&mut self, op: BinaryOp, l: &Expr, r: &Expr, lt: &Ty, rt: &Ty) -> Ty {
        let mismatch = |c: &mut Self| {
            let d = c.error(
                Code::Mismatch,
                l.span.to(r.span),
                format!("`{}` cannot combine {lt} and {rt}", op.as_str()),
            );
            // A bare number beside a duration is a duration missing its unit.
            let bare = match (lt, rt, &l.node, &r.node) {
                (Ty::Duration, Ty::Int, _, ExprKind::Int(n))
                | (Ty::Int, Ty::Duration, ExprKind::Int(n), _) => Some(*n),
                _ => None,
            };
            if let Some(n) = bare {
                d.help = Some(format!(
                    "a duration needs a unit: `{n}d`, `{n}h`, `{n}m` or `{n}s`?"
                ));
            }
            Ty::Error
        };
        match op {
            BinaryOp::And | BinaryOp::Or => {
                self.expect_bool(l, lt, &format!("`{}`", op.as_str()));
                self.expect_bool(r, rt, &format!("`{}`", op.as_str()));
                Ty::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if lt.unify(rt).is_none() {
                    return mismatch(self);
                }
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let ordered = |t: &Ty| {
                    matches!(
                        t,
                        Ty::Int | Ty::Number | Ty::String | Ty::Date | Ty::Time | Ty::Duration
                    ) || t.is_wild()
                };
                if lt.unify(rt).is_none() || !ordered(lt) || !ordered(rt) {
                    return mismatch(self);
                }
                Ty::Bool
            }
            BinaryOp::In => {
                match rt {
                    Ty::List(elem) if lt.unify(elem).is_some() => {}
                    Ty::Null | Ty::Error => {}
                    Ty::List(_) => return mismatch(self),
                    other => {
                        self.error(
                            Code::ListType,
                            r.span,
                            format!("the right side of `in` must be a list, this is {other}"),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Bool
            }
            BinaryOp::Contains => {
                match lt {
                    Ty::List(elem) if rt.unify(elem).is_some() => {}
                    Ty::Null | Ty::Error => {}
                    Ty::List(_) => return mismatch(self),
                    other => {
                        self.error(
                            Code::ListType,
                            l.span,
                            format!("the left side of `contains` must be a list, this is {other}"),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Bool
            }
            BinaryOp::Coalesce => match lt.unify(rt) {
                Some(t) if !matches!(t, Ty::Stage(_)) => t,
                _ => mismatch(self),
            },
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                if lt.is_wild() || rt.is_wild() {
                    let other = if lt.is_wild() { rt } else { lt };
                    return match (op, other) {
                        (BinaryOp::Div, _) => Ty::Number,
                        (_, t) if t.is_wild() => Ty::Error,
                        (_, t) => t.clone(),
                    };
                }
                match (op, lt, rt) {
                    (BinaryOp::Div, a, b) if a.is_numeric() && b.is_numeric() => Ty::Number,
                    (_, Ty::Int, Ty::Int) => Ty::Int,
                    (_, a, b) if a.is_numeric() && b.is_numeric() => Ty::Number,
                    (BinaryOp::Add, Ty::Time, Ty::Duration)
                    | (BinaryOp::Add, Ty::Duration, Ty::Time) => Ty::Time,
                    (BinaryOp::Sub, Ty::Time, Ty::Duration) => Ty::Time,
                    (BinaryOp::Sub, Ty::Time, Ty::Time) => Ty::Duration,
                    (BinaryOp::Add | BinaryOp::Sub, Ty::Duration, Ty::Duration) => Ty::Duration,
                    _ => mismatch(self),
                }
            }
        }
    }

    /// Inside a `where`, a field of the event shadows a stage of that name.
    fn field_shadows(&self, name: &str, scope: Scope<'_>) -> bool {
        scope
            .where_event
            .and_then(|e| self.t.events.get(e))
            .is_some_and(|s| s.fields.contains_key(name))
    }

    fn call(&mut self, f: Func, args: &[Expr], typed: Vec<Typed>, span: Span) -> Typed {
        let types: Vec<&Ty> = typed.iter().map(|t| &t.ty).collect();
        let ty = self.call_type(f, args, &types, span);
        let hir: Option<Vec<hir::Expr>> = typed.into_iter().map(|t| t.hir).collect();
        Typed {
            ty,
            hir: hir.map(|args| hir::Expr::Call(f, args)),
        }
    }

    fn call_type(&mut self, f: Func, args: &[Expr], types: &[&Ty], span: Span) -> Ty {
        let arity = if matches!(f, Func::Min | Func::Max) {
            2
        } else {
            1
        };
        if args.len() != arity {
            let what = if arity == 1 {
                "one argument"
            } else {
                "two arguments"
            };
            self.error(
                Code::Arguments,
                span,
                format!("`{}` takes {what}, not {}", f.as_str(), args.len()),
            );
            return Ty::Error;
        }
        let t = types[0];
        let want = |c: &mut Self, expected: &str| {
            c.error(
                Code::Arguments,
                args[0].span,
                format!("`{}` needs {expected}, this is {t}", f.as_str()),
            );
            Ty::Error
        };
        if t.is_wild() && arity == 1 {
            return match f {
                Func::Since | Func::Until => Ty::Duration,
                Func::Days | Func::Hours => Ty::Number,
                Func::Date => Ty::Date,
                Func::Hour | Func::Weekday | Func::Len | Func::Round | Func::Floor | Func::Ceil => {
                    Ty::Int
                }
                Func::Lower => Ty::String,
                _ => Ty::Error,
            };
        }
        match f {
            Func::Since | Func::Until => match t {
                Ty::Time => Ty::Duration,
                _ => want(self, "a time"),
            },
            Func::Days | Func::Hours => match t {
                Ty::Duration => Ty::Number,
                _ => want(self, "a duration"),
            },
            Func::Date | Func::Hour | Func::Weekday => match t {
                Ty::Time => {
                    if f == Func::Date {
                        Ty::Date
                    } else {
                        Ty::Int
                    }
                }
                _ => want(self, "a time"),
            },
            Func::Lower => match t {
                Ty::String => Ty::String,
                _ => want(self, "a string"),
            },
            Func::Len => match t {
                Ty::String | Ty::List(_) => Ty::Int,
                _ => want(self, "a string or a list"),
            },
            Func::Abs => match t {
                Ty::Int | Ty::Number | Ty::Duration => t.clone(),
                _ => want(self, "a number or a duration"),
            },
            Func::Round | Func::Floor | Func::Ceil => match t {
                Ty::Int | Ty::Number => Ty::Int,
                _ => want(self, "a number"),
            },
            Func::Min | Func::Max => {
                let ok = |t: &Ty| {
                    matches!(t, Ty::Int | Ty::Number | Ty::Duration | Ty::Time | Ty::Date)
                        || t.is_wild()
                };
                match types[0].unify(types[1]) {
                    Some(u) if ok(types[0]) && ok(types[1]) => u,
                    _ => {
                        self.error(
                            Code::Mismatch,
                            span,
                            format!(
                                "`{}` cannot compare {} and {}",
                                f.as_str(),
                                types[0],
                                types[1]
                            ),
                        );
                        Ty::Error
                    }
                }
            }
        }
    }

    fn aggregate(
        &mut self,
        a: &Aggregate,
        e: &Expr,
        event: hir::EventId,
        filter: Option<Option<hir::Expr>>,
    ) -> Typed {
        if let Some(w) = &a.window {
            self.positive(w, "a window");
        }
        let field = a
            .field
            .as_ref()
            .map(|f| (f, self.field_of(&a.event.node, f)));
        // An unknown field has been reported: the aggregate is typed as if
        // it were known, so that one mistake is reported once.
        let field_ty = field
            .as_ref()
            .map(|(f, found)| (*f, found.as_ref().map_or(Ty::Error, |(_, t)| t.clone())));
        let name = a.func.as_str();
        let ty = match (a.func, field_ty) {
            (AggFunc::Count, None) => Ty::Int,
            (AggFunc::Count, Some((f, _))) => {
                self.error(
                    Code::AggregateField,
                    f.span,
                    format!("`count` counts events; write `count({})`", a.event.node),
                );
                return Typed::error(Ty::Error);
            }
            (AggFunc::Last | AggFunc::First, None) => Ty::Time,
            (AggFunc::Last | AggFunc::First, Some((_, t))) => t,
            (_, None) => {
                self.error(
                    Code::AggregateField,
                    a.event.span,
                    format!("`{name}` needs a field: `{name}({}.FIELD)`", a.event.node),
                );
                return Typed::error(Ty::Error);
            }
            (AggFunc::Sum | AggFunc::Avg, Some((f, t))) => {
                if !(t.is_numeric() || t.is_wild()) {
                    self.error(
                        Code::AggregateField,
                        f.span,
                        format!("`{name}` needs a numeric field, `{}` is {t}", f.node),
                    );
                    return Typed::error(Ty::Error);
                }
                Ty::Number
            }
            (_, Some((f, t))) => {
                if !(matches!(t, Ty::Int | Ty::Number | Ty::Duration | Ty::Time | Ty::Date)
                    || t.is_wild())
                {
                    self.error(
                        Code::AggregateField,
                        f.span,
                        format!("`{name}` needs an ordered field, `{}` is {t}", f.node),
                    );
                    return Typed::error(Ty::Error);
                }
                t
            }
        };
        let field = match field {
            Some((_, Some((i, _)))) => Some(i),
            Some((_, None)) => return Typed::error(ty),
            None => None,
        };
        let filter = match filter {
            Some(Some(f)) => Some(f),
            Some(None) => return Typed::error(ty),
            None => None,
        };
        let hir = hir::Expr::Agg(Box::new(hir::Aggregate {
            key: print_expr(e),
            span: e.span,
            func: a.func,
            event,
            field,
            filter,
            window: a.window.as_ref().map(|w| w.node),
        }));
        Typed::new(ty, hir)
    }
}
