//! pest parse tree → typed AST, and pest errors → [`Diagnostic`]s.

use super::ast::*;
use super::lexical::{self, Invalid};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::limits::Limits;
use pest::Parser as _;
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/siyu.pest"]
struct Grammar;

type P<'i> = Pair<'i, Rule>;

mod error;
mod expr;

use error::syntax_error;

pub(super) fn is_keyword(word: &str) -> bool {
    Grammar::parse(Rule::keyword_only, word).is_ok()
}

/// The module of a source, and each item's source range, in order.
pub(super) fn build(source: &str, limits: &Limits) -> Result<(Module, Vec<Span>), Vec<Diagnostic>> {
    let mut pairs = Grammar::parse(Rule::program, source).map_err(|e| recover(source, &e))?;
    let mut b = Builder {
        source,
        errors: Vec::new(),
        max_depth: limits.max_expr_depth,
    };
    let mut module = Module::default();
    let mut spans = Vec::new();
    // `program` always yields exactly one pair; an empty iterator would be a
    // pest bug, answered with an empty module rather than a panic.
    if let Some(program) = pairs.next() {
        for item in program.into_inner() {
            if item.as_rule() == Rule::EOI {
                continue;
            }
            let s = span(&item);
            if let Some(item) = b.item(item) {
                module.items.push(item);
                spans.push(s);
            }
        }
    }
    let rules = module
        .items
        .iter()
        .filter(|i| matches!(i, Item::Rule(_)))
        .count();
    if rules > limits.max_rules {
        b.errors.push(Diagnostic::error(
            Code::Limit,
            source,
            Span::new(0, 0),
            format!(
                "program has {rules} rules, more than the limit of {}",
                limits.max_rules
            ),
        ));
    }
    if b.errors.is_empty() {
        Ok((module, spans))
    } else {
        Err(b.errors)
    }
}

/// Every syntax error of a source that does not parse: the first as the
/// whole parse found it, then one for each later item that does not parse
/// on its own. Items start with a keyword (§1), so the text is cut before
/// each line that starts one; the parse is pest's, one per piece after the
/// first error (linear in the source overall).
fn recover(source: &str, first: &pest::error::Error<Rule>) -> Vec<Diagnostic> {
    let first = syntax_error(source, 0, first);
    let starts = item_starts(source);
    let mut errors = vec![first];
    let after: Vec<usize> = starts
        .iter()
        .copied()
        .filter(|&s| s > errors[0].span.start)
        .collect();
    for (i, &start) in after.iter().enumerate() {
        let end = after.get(i + 1).copied().unwrap_or(source.len());
        if let Err(e) = Grammar::parse(Rule::program, &source[start..end]) {
            errors.push(syntax_error(source, start, &e));
        }
    }
    errors
}

/// Where lines start that begin an item: a declaration keyword first on
/// the line, in a form no clause or expression takes (`rule NAME {`, not
/// `after rule`; `quiet HH:MM`, not `quiet defer`; `event NAME`, not
/// `event.F`).
fn item_starts(source: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let start = at + (line.len() - trimmed.len());
        at += line.len();
        let (word, rest) = trimmed.split_at(
            trimmed
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(trimmed.len()),
        );
        let rest = rest.trim_start();
        let next = rest.chars().next();
        let starts_item = match word {
            "rule" | "stage" | "ledger" => {
                let name_end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                name_end > 0 && rest[name_end..].trim_start().starts_with('{')
            }
            "event" | "broadcast" | "action" | "segment" => {
                next.is_some_and(|c| c.is_alphabetic() || c == '_')
            }
            "timezone" | "cap" => next.is_some(),
            "profile" => next == Some('{'),
            "tag" => next == Some('"'),
            "quiet" => next.is_some_and(|c| c.is_ascii_digit()),
            _ => false,
        };
        if starts_item {
            out.push(start);
        }
    }
    out
}

struct Builder<'s> {
    source: &'s str,
    errors: Vec<Diagnostic>,
    max_depth: usize,
}

/// The span of a pair, without the whitespace and comments that pest's
/// implicit skipping leaves at its end when an optional part is absent.
fn span(p: &P<'_>) -> Span {
    let start = p.as_span().start();
    Span::new(start, start + trim_trailing(p.as_str()).len())
}

fn trim_trailing(mut text: &str) -> &str {
    loop {
        text = text.trim_end();
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        let mut in_string = false;
        let mut escaped = false;
        let mut comment = None;
        for (i, c) in text[line_start..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '#' if !in_string => {
                    comment = Some(line_start + i);
                    break;
                }
                _ => {}
            }
        }
        match comment {
            Some(at) => text = &text[..at],
            None => return text,
        }
    }
}

/// Punctuation carries no information once the tree is built.
fn is_punct(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::lbrace
            | Rule::rbrace
            | Rule::lparen
            | Rule::rparen
            | Rule::lbracket
            | Rule::rbracket
            | Rule::comma
            | Rule::colon
            | Rule::dot
            | Rule::assign
            | Rule::dash
            | Rule::langle
            | Rule::rangle
    )
}

/// The children of a pair that carry meaning.
fn kids<'i>(p: P<'i>) -> impl Iterator<Item = P<'i>> {
    p.into_inner().filter(|c| !is_punct(c.as_rule()))
}

impl<'s> Builder<'s> {
    fn error(&mut self, code: Code, span: Span, message: impl Into<String>, help: Option<String>) {
        let mut d = Diagnostic::error(code, self.source, span, message);
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.errors.push(d);
    }

    fn lexical<T>(
        &mut self,
        code: Code,
        p: &P<'_>,
        f: impl FnOnce(&str) -> Result<T, Invalid>,
    ) -> Option<T> {
        match f(p.as_str()) {
            Ok(v) => Some(v),
            Err(Invalid { message, help }) => {
                self.error(code, span(p), message, help);
                None
            }
        }
    }

    /// A name being declared: any word, but not a keyword.
    fn decl_name(&mut self, p: P<'_>, what: &str) -> Option<Ident> {
        let text = p.as_str();
        if is_keyword(text) {
            self.error(
                Code::KeywordName,
                span(&p),
                format!("`{text}` is a keyword and cannot name {what}"),
                Some(format!("rename it, e.g. `{text}_`")),
            );
            return None;
        }
        Some(Ident::new(text.to_string(), span(&p)))
    }

    /// A field or parameter name: any word, keywords included (§1).
    fn field_name(p: P<'_>) -> Ident {
        Ident::new(p.as_str().to_string(), span(&p))
    }

    fn ident(p: P<'_>) -> Ident {
        Ident::new(p.as_str().to_string(), span(&p))
    }

    fn string(&mut self, p: P<'_>) -> Option<Spanned<String>> {
        let s = span(&p);
        self.lexical(Code::Escape, &p, lexical::string)
            .map(|v| Spanned::new(v, s))
    }

    fn duration(&mut self, p: P<'_>) -> Option<Duration> {
        let s = span(&p);
        let inner = must(p.into_inner().next());
        self.lexical(Code::Duration, &inner, lexical::duration)
            .map(|v| Spanned::new(v, s))
    }

    fn time_of_day(&mut self, p: P<'_>) -> Option<Spanned<TimeOfDay>> {
        let s = span(&p);
        self.lexical(Code::Number, &p, lexical::time_of_day)
            .map(|v| Spanned::new(v, s))
    }

    fn share(&mut self, p: P<'_>) -> Option<Share> {
        let s = span(&p);
        self.lexical(Code::Number, &p, lexical::percent)
            .map(|v| Spanned::new(v, s))
    }

    fn item(&mut self, p: P<'_>) -> Option<Item> {
        let rule = p.as_rule();
        let mut k = kids(p);
        let _keyword = k.next();
        let mut next = || must(k.next());
        match rule {
            Rule::timezone_decl => {
                let target = next();
                match target.as_rule() {
                    Rule::string => self.string(target).map(Item::Timezone),
                    _ => Some(Item::CustomerTimezone(profile_attr(target))),
                }
            }
            Rule::event_decl | Rule::broadcast_decl => {
                let broadcast = rule == Rule::broadcast_decl;
                let name =
                    self.decl_name(next(), if broadcast { "a broadcast" } else { "an event" });
                let fields = k.next().map(|f| self.fields(f)).unwrap_or(Some(Vec::new()));
                Some(Item::Event(EventDecl {
                    name: name?,
                    broadcast,
                    fields: fields?,
                }))
            }
            Rule::profile_decl => self.fields(next()).map(Item::Profile),
            Rule::action_decl => {
                let name = self.decl_name(next(), "an action");
                let mut params = Some(Vec::new());
                let mut channel = None;
                for c in k {
                    match c.as_rule() {
                        Rule::field => match (self.field(c), params.as_mut()) {
                            (Some(f), Some(ps)) => ps.push(f),
                            _ => params = None,
                        },
                        Rule::kw_channel => {}
                        _ => channel = Some(Self::field_name(c)),
                    }
                }
                Some(Item::Action(ActionDecl {
                    name: name?,
                    params: params?,
                    channel,
                }))
            }
            Rule::cap_decl => {
                let target = next();
                let channel = (target.as_rule() != Rule::kw_all).then(|| Self::field_name(target));
                let max_pair = next();
                let max = self.count(max_pair);
                let _per = next();
                let per = self.duration(next());
                Some(Item::Cap(CapDecl {
                    channel,
                    max: max?,
                    per: per?,
                }))
            }
            Rule::quiet_decl => {
                let start = self.time_of_day(next());
                let end = self.time_of_day(next());
                let policy = k.next().map(quiet_policy);
                Some(Item::Quiet(QuietDecl {
                    start: start?,
                    end: end?,
                    policy,
                }))
            }
            Rule::segment_decl => {
                let name = self.decl_name(next(), "a segment");
                let cond = self.expr(next());
                Some(Item::Segment(SegmentDecl {
                    name: name?,
                    cond: cond?,
                }))
            }
            Rule::tag_decl => {
                let name = self.string(next());
                let _when = next();
                let cond = self.expr(next());
                Some(Item::Tag(TagDecl {
                    name: name?,
                    cond: cond?,
                }))
            }
            Rule::stage_decl => {
                let name = self.decl_name(next(), "a stage");
                let mut labels = Some(Vec::new());
                for l in k {
                    let label = self.stage_label(l);
                    match (label, labels.as_mut()) {
                        (Some(l), Some(ls)) => ls.push(l),
                        _ => labels = None,
                    }
                }
                Some(Item::Stage(StageDecl {
                    name: name?,
                    labels: labels?,
                }))
            }
            Rule::ledger_decl => {
                let name = self.decl_name(next(), "a ledger");
                let mut clauses = Some(Vec::new());
                for c in k {
                    match (self.ledger_clause(c), clauses.as_mut()) {
                        (Some(c), Some(cs)) => cs.push(c),
                        _ => clauses = None,
                    }
                }
                Some(Item::Ledger(LedgerDecl {
                    name: name?,
                    clauses: clauses?,
                }))
            }
            Rule::rule_decl => {
                let name = self.decl_name(next(), "a rule");
                let mut clauses = Some(Vec::new());
                for c in k {
                    let s = span(&c);
                    match (self.clause(c), clauses.as_mut()) {
                        (Some(c), Some(cs)) => cs.push(Spanned::new(c, s)),
                        _ => clauses = None,
                    }
                }
                Some(Item::Rule(RuleDecl {
                    name: name?,
                    clauses: clauses?,
                }))
            }
            _ => None,
        }
    }

    fn count(&mut self, p: P<'_>) -> Option<Spanned<u32>> {
        let s = span(&p);
        let v = self.lexical(Code::Number, &p, lexical::int)?;
        match u32::try_from(v) {
            Ok(v) => Some(Spanned::new(v, s)),
            Err(_) => {
                self.error(
                    Code::Number,
                    s,
                    format!("`{v}` is too large for a count"),
                    None,
                );
                None
            }
        }
    }

    fn fields(&mut self, p: P<'_>) -> Option<Vec<Field>> {
        let mut out = Some(Vec::new());
        for f in kids(p) {
            match (self.field(f), out.as_mut()) {
                (Some(f), Some(v)) => v.push(f),
                _ => out = None,
            }
        }
        out
    }

    fn field(&mut self, p: P<'_>) -> Option<Field> {
        let mut k = kids(p);
        let name = Self::field_name(must(k.next()));
        let ty = self.type_expr(must(k.next()))?;
        Some(Field { name, ty })
    }

    fn type_expr(&mut self, p: P<'_>) -> Option<Spanned<Type>> {
        const NAMES: [(&str, Type); 7] = [
            ("int", Type::Int),
            ("number", Type::Number),
            ("string", Type::String),
            ("bool", Type::Bool),
            ("date", Type::Date),
            ("time", Type::Time),
            ("duration", Type::Duration),
        ];
        let s = span(&p);
        let mut k = kids(p);
        let base = must(k.next());
        let base_name = base.as_str();
        let base_span = span(&base);
        match k.next() {
            None => match NAMES.iter().find(|(n, _)| *n == base_name) {
                Some((_, t)) => Some(Spanned::new(*t, base_span)),
                None => {
                    let d = Diagnostic::error(
                        Code::UnknownType,
                        self.source,
                        base_span,
                        format!("unknown type `{base_name}`"),
                    )
                    .with_suggestion(
                        base_name,
                        NAMES.iter().map(|(n, _)| *n).chain(["list<string>"]),
                    );
                    let d = if d.help.is_none() {
                        d.with_help("types are int, number, string, bool, date, time, duration and list<string>")
                    } else {
                        d
                    };
                    self.errors.push(d);
                    None
                }
            },
            Some(elem) if base_name == "list" && elem.as_str() == "string" => {
                Some(Spanned::new(Type::StringList, s))
            }
            Some(_) => {
                self.error(
                    Code::UnknownType,
                    s,
                    format!("unknown type `{}`", p_text(self.source, s)),
                    Some("the only list type is `list<string>`".into()),
                );
                None
            }
        }
    }

    fn stage_label(&mut self, p: P<'_>) -> Option<StageLabel> {
        let mut k = kids(p);
        let name = self.decl_name(must(k.next()), "a stage label");
        let kw = must(k.next());
        let cond = if kw.as_rule() == Rule::kw_when {
            Some(self.expr(must(k.next()))?)
        } else {
            None
        };
        Some(StageLabel { name: name?, cond })
    }

    fn ledger_clause(&mut self, p: P<'_>) -> Option<LedgerClause> {
        let rule = p.as_rule();
        let mut k = kids(p);
        let _kw = k.next();
        let mut next = || must(k.next());
        match rule {
            Rule::expire_clause => {
                let _after = next();
                self.duration(next()).map(LedgerClause::Expire)
            }
            _ => {
                let amount = self.expr(next());
                let _on = next();
                let on = Self::ident(next());
                let amount = amount?;
                Some(if rule == Rule::earn_clause {
                    LedgerClause::Earn { amount, on }
                } else {
                    LedgerClause::Spend { amount, on }
                })
            }
        }
    }

    fn clause(&mut self, p: P<'_>) -> Option<Clause> {
        let c = must(p.into_inner().next());
        let rule = c.as_rule();
        let mut k = kids(c);
        let _kw = k.next();
        let mut next = || must(k.next());
        match rule {
            Rule::when_clause => self.trigger(next()).map(Clause::When),
            Rule::if_clause => self.expr(next()).map(Clause::If),
            Rule::do_clause => self.actions(next()).map(Clause::Do),
            Rule::at_clause => self.time_of_day(next()).map(|t| Clause::At(t.node)),
            Rule::limit_clause => {
                let l = next();
                let lrule = l.as_rule();
                let mut lk = kids(l);
                if lrule == Rule::limit_once {
                    let _once = lk.next();
                    match lk.nth(1) {
                        None => Some(Clause::Limit(Limit::Once)),
                        Some(d) => self.duration(d).map(|per| {
                            Clause::Limit(Limit::PerWindow {
                                max: 1,
                                per,
                                once: true,
                            })
                        }),
                    }
                } else {
                    let max = self.count(must(lk.next()));
                    let per = self.duration(must(lk.nth(1)));
                    Some(Clause::Limit(Limit::PerWindow {
                        max: max?.node,
                        per: per?,
                        once: false,
                    }))
                }
            }
            Rule::priority_clause => {
                let n = next();
                let text = n.as_str();
                let (neg, digits) = match text.strip_prefix('-') {
                    Some(d) => (true, d),
                    None => (false, text),
                };
                let v = self.lexical(Code::Number, &n, |_| lexical::int(digits))?;
                Some(Clause::Priority(if neg { -v } else { v }))
            }
            Rule::split_clause => {
                let experiment = self.string(next());
                let mut variants = Some(Vec::new());
                for v in k {
                    match (self.variant(v), variants.as_mut()) {
                        (Some(v), Some(vs)) => vs.push(v),
                        _ => variants = None,
                    }
                }
                Some(Clause::Split(Split {
                    experiment: experiment?,
                    variants: variants?,
                }))
            }
            Rule::holdout_clause => self.share(next()).map(Clause::Holdout),
            Rule::quiet_clause => Some(Clause::Quiet(quiet_policy(next()).node)),
            Rule::goal_clause => {
                let event = Self::ident(next());
                let mut filter = None;
                let mut within = None;
                for c in k {
                    match c.as_rule() {
                        Rule::where_part => filter = Some(self.where_part(c)?),
                        Rule::duration_lit => within = self.duration(c),
                        _ => {}
                    }
                }
                Some(Clause::Goal(Goal {
                    event,
                    filter,
                    within: within?,
                }))
            }
            _ => None,
        }
    }

    fn variant(&mut self, p: P<'_>) -> Option<Variant> {
        let mut k = kids(p);
        let mut next = || must(k.next());
        let name = self.decl_name(next(), "a variant");
        let share = self.share(next());
        let _do = next();
        let actions = self.actions(next());
        Some(Variant {
            name: name?,
            share: share?,
            actions: actions?,
        })
    }

    fn actions(&mut self, p: P<'_>) -> Option<Vec<Action>> {
        let mut out = Some(Vec::new());
        for a in kids(p) {
            match (self.action(a), out.as_mut()) {
                (Some(a), Some(v)) => v.push(a),
                _ => out = None,
            }
        }
        out
    }

    fn action(&mut self, p: P<'_>) -> Option<Action> {
        let rule = p.as_rule();
        let mut k = kids(p);
        match rule {
            Rule::add_tag | Rule::remove_tag => {
                let tag = self.string(must(k.nth(2)))?;
                Some(if rule == Rule::add_tag {
                    Action::AddTag(tag)
                } else {
                    Action::RemoveTag(tag)
                })
            }
            Rule::set_profile => {
                let attr = profile_attr(must(k.nth(1)));
                let value = self.expr(must(k.next()))?;
                Some(Action::Set { attr, value })
            }
            _ => {
                let name = Self::ident(must(k.next()));
                let mut args = Some(Vec::new());
                for arg in k {
                    let mut ak = kids(arg);
                    let key = Self::field_name(must(ak.next()));
                    let value = self.expr(must(ak.next()));
                    match (value, args.as_mut()) {
                        (Some(v), Some(a)) => a.push((key, v)),
                        _ => args = None,
                    }
                }
                Some(Action::Call { name, args: args? })
            }
        }
    }

    fn event_filter(&mut self, event: P<'_>, filter: Option<P<'_>>) -> Option<EventFilter> {
        let filter = match filter {
            Some(w) => Some(self.where_part(w)?),
            None => None,
        };
        Some(EventFilter {
            event: Self::ident(event),
            filter,
        })
    }

    fn where_part(&mut self, p: P<'_>) -> Option<Expr> {
        let e = must(kids(p).nth(1));
        self.expr(e)
    }

    /// `IDENT [where_part]` at the front of `k`.
    fn filter_from<'i>(
        &mut self,
        k: &mut std::iter::Peekable<impl Iterator<Item = P<'i>>>,
    ) -> Option<EventFilter> {
        let event = must(k.next());
        let filter = k.next_if(|c| c.as_rule() == Rule::where_part);
        self.event_filter(event, filter)
    }

    fn trigger(&mut self, p: P<'_>) -> Option<Trigger> {
        let t = must(p.into_inner().next());
        let rule = t.as_rule();
        let mut k = kids(t).peekable();
        match rule {
            Rule::event_trigger => self.filter_from(&mut k).map(Trigger::Event),
            Rule::no_trigger => {
                let _no = k.next();
                let event = self.filter_from(&mut k);
                let _for = k.next();
                let duration = self.duration(must(k.next()));
                Some(Trigger::No {
                    event: event?,
                    duration: duration?,
                })
            }
            Rule::after_trigger => {
                let delay = self.duration(must(k.next()));
                let _after = k.next();
                let target = must(k.next());
                let unless = match k.next() {
                    Some(u) => {
                        let mut uk = kids(u).peekable();
                        let _unless = uk.next();
                        Some(self.filter_from(&mut uk)?)
                    }
                    None => None,
                };
                let target_rule = target.as_rule();
                let mut tk = kids(target).peekable();
                if target_rule == Rule::after_rule {
                    let rule = Self::ident(must(tk.nth(1)));
                    Some(Trigger::AfterRule {
                        delay: delay?,
                        rule,
                        unless,
                    })
                } else {
                    let last = tk.next_if(|c| c.as_rule() == Rule::kw_last).is_some();
                    let event = self.filter_from(&mut tk)?;
                    Some(Trigger::After {
                        delay: delay?,
                        last,
                        event,
                        unless,
                    })
                }
            }
            Rule::before_anniversary => {
                let before = self.duration(must(k.next()));
                let _before = k.next();
                let anniversary = self.anniversary(must(k.next()));
                match anniversary? {
                    Trigger::Anniversary { attr, at, .. } => Some(Trigger::Anniversary {
                        before: Some(before?),
                        attr,
                        at,
                    }),
                    other => Some(other),
                }
            }
            Rule::anniversary => self.anniversary_from(k),
            Rule::every_trigger => {
                let _every = k.next();
                let day = must(k.next());
                let day = match day.as_rule() {
                    Rule::kw_day => Every::Day,
                    _ => Every::Weekday(
                        WEEKDAYS
                            .iter()
                            .position(|w| *w == day.as_str())
                            .map_or(1, |i| i as u8 + 1),
                    ),
                };
                let _at = k.next();
                let at = self.time_of_day(must(k.next()))?;
                Some(Trigger::Every { day, at })
            }
            Rule::enters_trigger => Some(Trigger::Enters(Self::ident(must(k.nth(1))))),
            Rule::exits_trigger => Some(Trigger::Exits(Self::ident(must(k.nth(1))))),
            Rule::changes_trigger => Some(Trigger::Changes(Self::ident(must(k.next())))),
            Rule::becomes_trigger => {
                let stage = Self::ident(must(k.next()));
                let label = Self::ident(must(k.nth(1)));
                Some(Trigger::Becomes { stage, label })
            }
            _ => None,
        }
    }

    fn anniversary(&mut self, p: P<'_>) -> Option<Trigger> {
        let k = kids(p).peekable();
        self.anniversary_from(k)
    }

    fn anniversary_from<'i>(
        &mut self,
        mut k: std::iter::Peekable<impl Iterator<Item = P<'i>>>,
    ) -> Option<Trigger> {
        let _anniversary = k.next();
        let _of = k.next();
        let attr = profile_attr(must(k.next()));
        let at = match k.nth(1) {
            Some(t) => Some(self.time_of_day(t)?),
            None => None,
        };
        Some(Trigger::Anniversary {
            before: None,
            attr,
            at,
        })
    }
}

/// The field name of `profile.F` / `event.F` / `customer.F`.
fn profile_attr(p: P<'_>) -> Ident {
    let name = must(kids(p).last());
    Ident::new(name.as_str().to_string(), span(&name))
}

fn quiet_policy(p: P<'_>) -> Spanned<QuietPolicy> {
    let s = span(&p);
    let policy = match p.as_str() {
        "drop" => QuietPolicy::Drop,
        "ignore" => QuietPolicy::Ignore,
        _ => QuietPolicy::Defer,
    };
    Spanned::new(policy, s)
}

fn p_text(source: &str, s: Span) -> &str {
    source.get(s.start..s.end).unwrap_or("")
}

/// The grammar guarantees the shape of every pair the builder walks: a rule
/// that matched has the children its definition lists. Reaching this means
/// the grammar and the builder disagree, a bug in siyu itself, never in the
/// input; it is reported as such rather than silently mis-parsed.
#[cold]
fn unreachable_pair() -> ! {
    panic!("siyu bug: the parse tree does not match the grammar")
}

/// The child the grammar guarantees is there (see [`unreachable_pair`]).
fn must(p: Option<P<'_>>) -> P<'_> {
    match p {
        Some(p) => p,
        None => unreachable_pair(),
    }
}
