//! Stage 2, check: resolves every name and type of a parsed module (§2–§7)
//! and builds the symbol tables the compiler works from.
//!
//! The checker reports all errors of a program at once. A sub-expression
//! with an error gets the type [`Ty::Error`], which is compatible with
//! everything, so one mistake is reported once.

mod lint;
mod types;

use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::*;
use crate::zone::Zone;
use indexmap::{IndexMap, IndexSet};
pub use types::Ty;

/// A declared event or broadcast.
#[derive(Clone, Debug)]
pub struct EventSym {
    /// Sent without a customer, seen by all.
    pub broadcast: bool,
    /// Fields and their types, in declared order.
    pub fields: IndexMap<String, Type>,
}

/// A declared host action.
#[derive(Clone, Debug)]
pub struct ActionSym {
    /// Parameters and their types, in declared order.
    pub params: IndexMap<String, Type>,
    /// The channel caps count it against.
    pub channel: Option<String>,
}

/// A node of derived state, in evaluation order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Derived {
    /// A segment, by name.
    Segment(String),
    /// An auto tag, by tag text.
    Tag(String),
    /// A stage, by name.
    Stage(String),
}

/// What the checker learned about a program: every declared name with its
/// meaning, in declaration order (so that iteration is deterministic).
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// The program zone (default UTC).
    pub timezone: Zone,
    /// `timezone profile.F`: the per-customer zone attribute.
    pub customer_timezone: Option<String>,
    /// Events and broadcasts.
    pub events: IndexMap<String, EventSym>,
    /// Profile attributes.
    pub profile: IndexMap<String, Type>,
    /// Host actions.
    pub actions: IndexMap<String, ActionSym>,
    /// Segments → index of their item in the module.
    pub segments: IndexMap<String, usize>,
    /// Auto tags → index of their item.
    pub tags: IndexMap<String, usize>,
    /// Stages → index of their item, and their labels in order.
    pub stages: IndexMap<String, (usize, Vec<String>)>,
    /// Ledgers → index of their item.
    pub ledgers: IndexMap<String, usize>,
    /// Rules → index of their item.
    pub rules: IndexMap<String, usize>,
    /// Segments, auto tags and stages in dependency order (ties by
    /// declaration order): the order derived state is re-evaluated in.
    pub derived: Vec<Derived>,
}

/// Checks a module; returns its symbols and warnings, or every error found.
pub fn check(source: &str, module: &Module) -> Result<(Symbols, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut c = Checker {
        out: Sink {
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
        },
        syms: Symbols::default(),
        deps: IndexMap::new(),
        current: None,
    };
    c.declare(module);
    c.check_items(module);
    c.order_derived(module);
    if c.out.errors.is_empty() {
        c.out.warnings.extend(lint::lint(source, module));
        c.out.warnings.sort_by_key(|d| d.span.start);
        Ok((c.syms, c.out.warnings))
    } else {
        c.out.errors.sort_by_key(|d| d.span.start);
        Err(c.out.errors)
    }
}

/// Where an expression is, which decides what its names mean.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// Inside a `where`: bare names are this event's fields first.
    where_event: Option<&'a str>,
    /// The event `event.*` reads, if the context has one.
    trigger_event: Option<&'a str>,
    /// Why `event.*` is not available here, for the error message.
    no_event_reason: &'a str,
}

impl<'a> Scope<'a> {
    fn derived() -> Scope<'a> {
        Scope {
            where_event: None,
            trigger_event: None,
            no_event_reason: "segments, tags and stages are not about one event",
        }
    }

    fn with_where(self, event: &'a str) -> Scope<'a> {
        Scope {
            where_event: Some(event),
            ..self
        }
    }
}

/// Where diagnostics go; separate from the symbol tables so that a
/// suggestion can borrow the names while the error is recorded.
struct Sink<'s> {
    source: &'s str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn suggest<'a>(
        &mut self,
        span: Span,
        message: impl Into<String>,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) {
        let d = Diagnostic::error(self.source, span, message).with_suggestion(wrong, candidates);
        self.errors.push(d);
    }
}

struct Checker<'s> {
    out: Sink<'s>,
    syms: Symbols,
    /// Derived state → (its declaration span, what it reads).
    deps: IndexMap<Derived, (Span, IndexSet<Derived>)>,
    /// The derived node being checked, collecting its dependencies.
    current: Option<Derived>,
}

fn names<V>(map: &IndexMap<String, V>) -> impl Iterator<Item = &str> {
    map.keys().map(String::as_str)
}

impl<'s> Checker<'s> {
    fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.out
            .errors
            .push(Diagnostic::error(self.out.source, span, message));
        let last = self.out.errors.len() - 1;
        &mut self.out.errors[last]
    }

    fn warn(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.out
            .warnings
            .push(Diagnostic::warning(self.out.source, span, message));
        let last = self.out.warnings.len() - 1;
        &mut self.out.warnings[last]
    }

    // ------------------------------------------------------ declarations --

    /// First pass: every declared name, so that declarations are order-free.
    fn declare(&mut self, module: &Module) {
        // One namespace for events, broadcasts, actions, segments, stages,
        // ledgers and rules (§3 "Names").
        let mut namespace: IndexMap<String, (Span, &'static str)> = IndexMap::new();
        let mut claim = |c: &mut Self, name: &Ident, kind: &'static str| -> bool {
            if let Some((_, prev_kind)) = namespace.get(&name.node) {
                let article = if prev_kind.starts_with(['a', 'e']) {
                    "an"
                } else {
                    "a"
                };
                let msg = format!(
                    "`{}` is already declared as {article} {prev_kind}",
                    name.node
                );
                c.error(name.span, msg);
                return false;
            }
            namespace.insert(name.node.clone(), (name.span, kind));
            true
        };
        let mut zone_seen = false;
        for (index, item) in module.items.iter().enumerate() {
            match item {
                Item::Timezone(z) => {
                    if std::mem::replace(&mut zone_seen, true) {
                        self.error(z.span, "the program time zone is declared twice");
                    }
                    match Zone::parse(&z.node) {
                        Some(zone) => self.syms.timezone = zone,
                        None => {
                            let candidates: Vec<&str> =
                                chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
                            let d = Diagnostic::error(
                                self.out.source,
                                z.span,
                                format!("unknown time zone `{}`", z.node),
                            )
                            .with_suggestion(&z.node, candidates);
                            let d = if d.help.is_none() {
                                d.with_help("use an IANA name such as \"Asia/Shanghai\" or an offset such as \"+08:00\"")
                            } else {
                                d
                            };
                            self.out.errors.push(d);
                        }
                    }
                }
                Item::CustomerTimezone(attr) => {
                    if self.syms.customer_timezone.is_some() {
                        self.error(attr.span, "the per-customer time zone is declared twice");
                    }
                    self.syms.customer_timezone = Some(attr.node.clone());
                }
                Item::Event(e) => {
                    let kind = if e.broadcast { "broadcast" } else { "event" };
                    if claim(self, &e.name, kind) {
                        let fields = self.field_map(&e.fields, "field");
                        self.syms.events.insert(
                            e.name.node.clone(),
                            EventSym {
                                broadcast: e.broadcast,
                                fields,
                            },
                        );
                    }
                }
                Item::Profile(fields) => {
                    for f in fields {
                        if self.syms.profile.contains_key(&f.name.node) {
                            self.error(
                                f.name.span,
                                format!("profile attribute `{}` is declared twice", f.name.node),
                            );
                        } else {
                            self.syms.profile.insert(f.name.node.clone(), f.ty.node);
                        }
                    }
                }
                Item::Action(a) => {
                    if claim(self, &a.name, "action") {
                        let params = self.field_map(&a.params, "parameter");
                        self.syms.actions.insert(
                            a.name.node.clone(),
                            ActionSym {
                                params,
                                channel: a.channel.as_ref().map(|c| c.node.clone()),
                            },
                        );
                    }
                }
                Item::Segment(s) => {
                    if claim(self, &s.name, "segment") {
                        self.syms.segments.insert(s.name.node.clone(), index);
                    }
                }
                Item::Stage(s) => {
                    if claim(self, &s.name, "stage") {
                        let labels = s.labels.iter().map(|l| l.name.node.clone()).collect();
                        self.syms
                            .stages
                            .insert(s.name.node.clone(), (index, labels));
                    }
                }
                Item::Ledger(l) => {
                    if claim(self, &l.name, "ledger") {
                        self.syms.ledgers.insert(l.name.node.clone(), index);
                    }
                }
                Item::Rule(r) => {
                    if claim(self, &r.name, "rule") {
                        self.syms.rules.insert(r.name.node.clone(), index);
                    }
                }
                Item::Tag(t) => {
                    if self.syms.tags.contains_key(&t.name.node) {
                        self.error(
                            t.name.span,
                            format!("auto tag \"{}\" is declared twice", t.name.node),
                        );
                    } else {
                        self.syms.tags.insert(t.name.node.clone(), index);
                    }
                }
                Item::Cap(_) | Item::Quiet(_) => {}
            }
        }
    }

    fn field_map(&mut self, fields: &[Field], what: &str) -> IndexMap<String, Type> {
        let mut map = IndexMap::new();
        for f in fields {
            if map.insert(f.name.node.clone(), f.ty.node).is_some() {
                self.error(
                    f.name.span,
                    format!("{what} `{}` is declared twice", f.name.node),
                );
            }
        }
        map
    }

    // ------------------------------------------------------------- items --

    fn check_items(&mut self, module: &Module) {
        let mut caps: IndexMap<Option<String>, Span> = IndexMap::new();
        let mut quiet_seen = false;
        for item in &module.items {
            match item {
                Item::CustomerTimezone(attr) => match self.syms.profile.get(&attr.node) {
                    Some(Type::String) => {}
                    Some(t) => {
                        let msg = format!(
                            "the customer time zone must be a string attribute, `{}` is {}",
                            attr.node,
                            t.as_str()
                        );
                        self.error(attr.span, msg);
                    }
                    None => self.unknown_profile(attr),
                },
                Item::Cap(cap) => {
                    let key = cap.channel.as_ref().map(|c| c.node.clone());
                    let span = cap.channel.as_ref().map_or(cap.max.span, |c| c.span);
                    if caps.insert(key, span).is_some() {
                        let what = cap
                            .channel
                            .as_ref()
                            .map_or("all".to_string(), |c| format!("`{}`", c.node));
                        self.error(span, format!("channel {what} is capped twice"));
                    }
                    if let Some(ch) = &cap.channel {
                        let channels: IndexSet<&str> = self
                            .syms
                            .actions
                            .values()
                            .filter_map(|a| a.channel.as_deref())
                            .collect();
                        if !channels.contains(ch.node.as_str()) {
                            let msg = format!(
                                "no action is sent on channel `{}`, so this cap limits nothing",
                                ch.node
                            );
                            let d = Diagnostic::warning(self.out.source, ch.span, msg)
                                .with_suggestion(&ch.node, channels.iter().copied());
                            self.out.warnings.push(d);
                        }
                    }
                    self.positive(&cap.per, "a cap window");
                }
                Item::Quiet(q) => {
                    if std::mem::replace(&mut quiet_seen, true) {
                        self.error(q.start.span, "quiet hours are declared twice");
                    }
                    if q.start.node == q.end.node {
                        self.warn(
                            q.start.span.to(q.end.span),
                            "quiet hours start and end at the same time, so they are empty",
                        );
                    }
                    if let Some(p) = &q.policy {
                        if p.node == QuietPolicy::Ignore {
                            self.error(p.span, "`ignore` applies to a rule; the program's quiet hours `defer` or `drop`");
                        }
                    }
                }
                Item::Segment(s) => {
                    self.current = Some(Derived::Segment(s.name.node.clone()));
                    self.deps.insert(
                        Derived::Segment(s.name.node.clone()),
                        (s.name.span, IndexSet::new()),
                    );
                    self.condition(&s.cond, Scope::derived(), "a segment");
                    self.current = None;
                }
                Item::Tag(t) => {
                    self.current = Some(Derived::Tag(t.name.node.clone()));
                    self.deps.insert(
                        Derived::Tag(t.name.node.clone()),
                        (t.name.span, IndexSet::new()),
                    );
                    self.condition(&t.cond, Scope::derived(), "a tag condition");
                    self.current = None;
                }
                Item::Stage(s) => self.stage(s),
                Item::Ledger(l) => self.ledger(l),
                Item::Rule(r) => self.rule(r),
                Item::Timezone(_) | Item::Event(_) | Item::Profile(_) | Item::Action(_) => {}
            }
        }
    }

    fn stage(&mut self, s: &StageDecl) {
        let node = Derived::Stage(s.name.node.clone());
        self.current = Some(node.clone());
        self.deps.insert(node, (s.name.span, IndexSet::new()));
        let mut seen: IndexSet<&str> = IndexSet::new();
        let mut otherwise = None;
        for (i, l) in s.labels.iter().enumerate() {
            if !seen.insert(&l.name.node) {
                self.error(
                    l.name.span,
                    format!(
                        "label `{}` appears twice in stage `{}`",
                        l.name.node, s.name.node
                    ),
                );
            }
            match &l.cond {
                Some(c) => {
                    if otherwise.is_some() {
                        self.error(
                            l.name.span,
                            format!(
                                "label `{}` comes after `otherwise`, so it can never apply",
                                l.name.node
                            ),
                        )
                        .help = Some("`otherwise` must be the last label".into());
                    }
                    self.condition(c, Scope::derived(), "a stage label");
                }
                None => {
                    if otherwise.is_some() {
                        self.error(l.name.span, "a stage has only one `otherwise` label");
                    }
                    otherwise = Some(i);
                }
            }
        }
        if otherwise.is_none() {
            self.error(
                s.name.span,
                format!("stage `{}` has no `otherwise` label", s.name.node),
            )
            .help =
                Some("add a last label `NAME otherwise` for customers no condition matches".into());
        }
        self.current = None;
    }

    fn ledger(&mut self, l: &LedgerDecl) {
        let mut expire = false;
        let mut earns = false;
        for c in &l.clauses {
            match c {
                LedgerClause::Earn { amount, on } | LedgerClause::Spend { amount, on } => {
                    earns |= matches!(c, LedgerClause::Earn { .. });
                    let ok = self.customer_event(on, "a ledger");
                    let scope = Scope {
                        where_event: None,
                        trigger_event: ok.then_some(on.node.as_str()),
                        no_event_reason: "",
                    };
                    let ty = self.expr(amount, scope);
                    if !(ty.is_numeric() || ty.is_wild()) {
                        self.error(
                            amount.span,
                            format!("points must be a number, this is {ty}"),
                        );
                    }
                }
                LedgerClause::Expire(d) => {
                    if std::mem::replace(&mut expire, true) {
                        self.error(
                            d.span,
                            format!("ledger `{}` has two `expire` clauses", l.name.node),
                        );
                    }
                    self.positive(d, "an expiry");
                }
            }
        }
        if !earns {
            self.warn(
                l.name.span,
                format!("ledger `{}` never earns points", l.name.node),
            )
            .help = Some("add `earn EXPR on EVENT`".into());
        }
    }

    // ------------------------------------------------------------- rules --

    fn rule(&mut self, r: &RuleDecl) {
        let mut trigger: Option<(&Trigger, Span)> = None;
        let mut seen: IndexMap<&'static str, Span> = IndexMap::new();
        let mut has_do = false;
        let mut split: Option<Span> = None;
        let mut holdout = false;
        for c in &r.clauses {
            let kind = match &c.node {
                Clause::When(t) => {
                    if trigger.is_none() {
                        trigger = Some((t, c.span));
                    }
                    "when"
                }
                Clause::If(_) => "if",
                Clause::Do(_) => {
                    has_do = true;
                    "do"
                }
                Clause::At(_) => "at",
                Clause::Limit(_) => "limit",
                Clause::Priority(_) => "priority",
                Clause::Split(_) => {
                    split.get_or_insert(c.span);
                    "split"
                }
                Clause::Holdout(_) => {
                    holdout = true;
                    "holdout"
                }
                Clause::Quiet(_) => "quiet",
                Clause::Goal(_) => "goal",
            };
            if kind != "do" {
                if let Some(_first) = seen.get(kind) {
                    self.error(
                        c.span,
                        format!("rule `{}` has a second `{kind}` clause", r.name.node),
                    );
                } else {
                    seen.insert(kind, c.span);
                }
            }
        }
        let Some((trigger, _)) = trigger else {
            self.error(
                r.name.span,
                format!("rule `{}` has no `when` clause", r.name.node),
            )
            .help = Some("every rule needs exactly one trigger, e.g. `when purchase`".into());
            return;
        };
        match (has_do, split) {
            (true, Some(s)) => {
                self.error(s, "a rule has either `do` or `split`, not both");
            }
            (false, None) => {
                self.error(r.name.span, format!("rule `{}` does nothing", r.name.node))
                    .help = Some("add `do ACTION` or a `split`".into());
            }
            _ => {}
        }
        let event = self.trigger(trigger);
        let calendar_at = matches!(
            trigger,
            Trigger::Every { .. } | Trigger::Anniversary { at: Some(_), .. }
        );
        let scope = Scope {
            where_event: None,
            trigger_event: event,
            no_event_reason: trigger_without_event(trigger),
        };
        for c in &r.clauses {
            match &c.node {
                Clause::When(_) | Clause::Priority(_) | Clause::Quiet(_) => {}
                Clause::If(e) => self.condition(e, scope, "an `if` guard"),
                Clause::Do(actions) => self.actions(actions, scope),
                Clause::At(_) => {
                    if calendar_at {
                        self.error(c.span, "the trigger already has an `at` time")
                            .help = Some(
                            "a trailing `at` belongs to an `every`/`anniversary` trigger; keep one"
                                .into(),
                        );
                    }
                }
                Clause::Limit(Limit::PerWindow { max, per, .. }) => {
                    if *max == 0 {
                        self.warn(c.span, "`limit 0 per …` never lets the rule fire");
                    }
                    self.positive(per, "a limit window");
                }
                Clause::Limit(Limit::Once) => {}
                Clause::Split(s) => self.split(s, scope),
                Clause::Holdout(share) => {
                    if share.node == 10_000 {
                        self.warn(share.span, "a 100% holdout never lets the rule act");
                    }
                }
                Clause::Goal(g) => {
                    if split.is_none() && !holdout {
                        self.error(
                            c.span,
                            "`goal` measures a `split` or `holdout`; this rule has neither",
                        );
                    }
                    if self.customer_event(&g.event, "a goal") {
                        if let Some(f) = &g.filter {
                            let goal_scope = Scope {
                                where_event: Some(&g.event.node),
                                trigger_event: None,
                                no_event_reason: "in a goal's `where`, write the goal event's fields bare",
                            };
                            self.condition(f, goal_scope, "a `where` condition");
                        }
                    }
                    self.positive(&g.within, "a goal window");
                }
            }
        }
    }

    /// Checks a trigger; returns the event `event.*` reads, if any.
    fn trigger<'t>(&mut self, t: &'t Trigger) -> Option<&'t str> {
        match t {
            Trigger::Event(f) => {
                let event = self.event_any(&f.event)?;
                self.filter(f, None);
                Some(event)
            }
            Trigger::No { event, duration } => {
                if self.customer_event(&event.event, "a `no … for` trigger") {
                    self.filter(event, None);
                }
                self.positive(duration, "a silence");
                None
            }
            Trigger::After { event, unless, .. } => {
                let ok = self.customer_event(&event.event, "an `after` trigger");
                if ok {
                    self.filter(event, None);
                }
                self.unless(unless, ok.then_some(event.event.node.as_str()));
                ok.then_some(event.event.node.as_str())
            }
            Trigger::AfterRule { rule, unless, .. } => {
                // A rule may follow itself: each firing schedules the next.
                if !self.syms.rules.contains_key(&rule.node) {
                    self.out.suggest(
                        rule.span,
                        format!("unknown rule `{}`", rule.node),
                        &rule.node,
                        names(&self.syms.rules),
                    );
                }
                self.unless(unless, None);
                None
            }
            Trigger::Enters(s) | Trigger::Exits(s) => {
                if !self.syms.segments.contains_key(&s.node) {
                    let msg = if self.syms.stages.contains_key(&s.node) {
                        format!("`{}` is a stage; use `{} becomes LABEL`", s.node, s.node)
                    } else {
                        format!("unknown segment `{}`", s.node)
                    };
                    self.out
                        .suggest(s.span, msg, &s.node, names(&self.syms.segments));
                }
                None
            }
            Trigger::Becomes { stage, label } => {
                self.stage_label(stage, label);
                None
            }
            Trigger::Changes(stage) => {
                self.stage_ref(stage);
                None
            }
            Trigger::Every { .. } => None,
            Trigger::Anniversary { attr, .. } => {
                match self.syms.profile.get(&attr.node) {
                    Some(Type::Date) => {}
                    Some(t) => {
                        let msg = format!(
                            "an anniversary needs a date attribute, `{}` is {}",
                            attr.node,
                            t.as_str()
                        );
                        self.error(attr.span, msg);
                    }
                    None => self.unknown_profile(attr),
                }
                None
            }
        }
    }

    fn unless(&mut self, unless: &Option<EventFilter>, trigger_event: Option<&str>) {
        if let Some(u) = unless {
            if self.customer_event(&u.event, "`unless`") {
                self.filter(u, trigger_event);
            }
        }
    }

    fn filter(&mut self, f: &EventFilter, trigger_event: Option<&str>) {
        if let Some(c) = &f.filter {
            let scope = Scope {
                where_event: Some(&f.event.node),
                trigger_event,
                no_event_reason: "in a trigger's `where`, write the event's fields bare",
            };
            self.condition(c, scope, "a `where` condition");
        }
    }

    fn split(&mut self, s: &Split, scope: Scope<'_>) {
        if s.variants.is_empty() {
            self.error(s.experiment.span, "a split needs at least one variant");
            return;
        }
        let mut seen: IndexSet<&str> = IndexSet::new();
        let mut total = 0u32;
        for v in &s.variants {
            if !seen.insert(&v.name.node) {
                self.error(
                    v.name.span,
                    format!("variant `{}` appears twice", v.name.node),
                );
            }
            total += v.share.node;
            self.actions(&v.actions, scope);
        }
        if total != 10_000 {
            let shown = format!("{}.{:02}%", total / 100, total % 100).replace(".00%", "%");
            self.error(
                s.experiment.span,
                format!("split shares add up to {shown}, not 100%"),
            );
        }
    }

    fn actions(&mut self, actions: &[Action], scope: Scope<'_>) {
        for a in actions {
            match a {
                Action::Call { name, args } => self.call_action(name, args, scope),
                Action::AddTag(t) | Action::RemoveTag(t) => {
                    if self.syms.tags.contains_key(&t.node) {
                        self.error(
                            t.span,
                            format!("\"{}\" is an auto tag; only its condition sets it", t.node),
                        )
                        .help = Some("use a different tag name for the rule's own marker".into());
                    }
                }
                Action::Set { attr, value } => {
                    let ty = self.expr(value, scope);
                    match self.syms.profile.get(&attr.node).copied() {
                        Some(want) => {
                            if !ty.fits(&Ty::of(want)) {
                                let msg = format!(
                                    "`profile.{}` is {}, this value is {ty}",
                                    attr.node,
                                    want.as_str()
                                );
                                self.error(value.span, msg);
                            }
                        }
                        None => self.unknown_profile(attr),
                    }
                }
            }
        }
    }

    fn call_action(&mut self, name: &Ident, args: &[(Ident, Expr)], scope: Scope<'_>) {
        let Some(action) = self.syms.actions.get(&name.node).cloned() else {
            self.out.suggest(
                name.span,
                format!("unknown action `{}`", name.node),
                &name.node,
                names(&self.syms.actions),
            );
            for (_, v) in args {
                self.expr(v, scope);
            }
            return;
        };
        let mut given: IndexSet<&str> = IndexSet::new();
        for (key, value) in args {
            let ty = self.expr(value, scope);
            if !given.insert(&key.node) {
                self.error(key.span, format!("argument `{}` is given twice", key.node));
                continue;
            }
            match action.params.get(&key.node) {
                Some(want) => {
                    if !ty.fits(&Ty::of(*want)) {
                        let msg = format!(
                            "`{}` of `{}` is {}, this value is {ty}",
                            key.node,
                            name.node,
                            want.as_str()
                        );
                        self.error(value.span, msg);
                    }
                }
                None => self.out.suggest(
                    key.span,
                    format!("action `{}` has no parameter `{}`", name.node, key.node),
                    &key.node,
                    names(&action.params),
                ),
            }
        }
        let missing: Vec<&str> = action
            .params
            .keys()
            .map(String::as_str)
            .filter(|p| !given.contains(p))
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.error(
                name.span,
                format!("action `{}` is missing {list}", name.node),
            );
        }
    }

    // ------------------------------------------------------------- names --

    fn unknown_profile(&mut self, attr: &Ident) {
        self.out.suggest(
            attr.span,
            format!("unknown profile attribute `{}`", attr.node),
            &attr.node,
            names(&self.syms.profile),
        );
    }

    /// An event or broadcast type; returns its name when declared.
    fn event_any<'t>(&mut self, e: &'t Ident) -> Option<&'t str> {
        if self.syms.events.contains_key(&e.node) {
            return Some(&e.node);
        }
        self.unknown_event(e);
        None
    }

    fn unknown_event(&mut self, e: &Ident) {
        let msg = if self.syms.segments.contains_key(&e.node) {
            format!(
                "`{}` is a segment, not an event; use `enters {}`",
                e.node, e.node
            )
        } else {
            format!("unknown event `{}`", e.node)
        };
        self.out
            .suggest(e.span, msg, &e.node, names(&self.syms.events));
    }

    /// An event type of the customer's own history (not a broadcast).
    fn customer_event(&mut self, e: &Ident, context: &str) -> bool {
        match self.syms.events.get(&e.node) {
            Some(sym) if sym.broadcast => {
                let msg = format!(
                    "`{}` is a broadcast: it is not part of a customer's history, so {context} cannot use it",
                    e.node
                );
                self.error(e.span, msg);
                false
            }
            Some(_) => true,
            None => {
                self.unknown_event(e);
                false
            }
        }
    }

    fn stage_ref(&mut self, stage: &Ident) -> Option<Vec<String>> {
        match self.syms.stages.get(&stage.node) {
            Some((_, labels)) => {
                let labels = labels.clone();
                self.depend(Derived::Stage(stage.node.clone()));
                Some(labels)
            }
            None => {
                self.out.suggest(
                    stage.span,
                    format!("unknown stage `{}`", stage.node),
                    &stage.node,
                    names(&self.syms.stages),
                );
                None
            }
        }
    }

    fn stage_label(&mut self, stage: &Ident, label: &Ident) {
        if let Some(labels) = self.stage_ref(stage) {
            if !labels.contains(&label.node) {
                let d = Diagnostic::error(
                    self.out.source,
                    label.span,
                    format!("stage `{}` has no label `{}`", stage.node, label.node),
                )
                .with_suggestion(&label.node, labels.iter().map(String::as_str));
                self.out.errors.push(d);
            }
        }
    }

    fn depend(&mut self, on: Derived) {
        if let Some(cur) = &self.current {
            if let Some((_, deps)) = self.deps.get_mut(cur) {
                deps.insert(on);
            }
        }
    }

    /// Zero-length windows are legal but empty: they never count anything.
    fn positive(&mut self, d: &Duration, what: &str) {
        if d.node == 0 {
            self.warn(d.span, format!("{what} of zero length is always empty"));
        }
    }

    // ------------------------------------------------------- expressions --

    fn condition(&mut self, e: &Expr, scope: Scope<'_>, what: &str) {
        let ty = self.expr(e, scope);
        self.expect_condition(e, ty, what);
    }

    fn expect_condition(&mut self, e: &Expr, ty: Ty, what: &str) {
        if !(ty == Ty::Bool || ty.is_wild()) {
            let help = match ty {
                Ty::Stage(ref s) => Some(format!("compare the stage's label: `{s} is LABEL`")),
                _ => None,
            };
            let d = self.error(
                e.span,
                format!("{what} must be a condition (bool), this is {ty}"),
            );
            d.help = help;
        }
    }

    /// The recursive walk. Kept to the recursion itself, with every message
    /// built in non-recursive helpers, so that each level of a deep
    /// expression costs little stack even in a debug build.
    fn expr(&mut self, e: &Expr, scope: Scope<'_>) -> Ty {
        match &e.node {
            ExprKind::List(items) => {
                let types: Vec<Ty> = items.iter().map(|i| self.expr(i, scope)).collect();
                self.list_type(items, types)
            }
            ExprKind::Unary(op, x) => {
                let t = self.expr(x, scope);
                self.unary_type(*op, x, t)
            }
            ExprKind::Binary(op, l, r) => {
                if let Some(t) = self.stage_test(*op, l, r, scope) {
                    return t;
                }
                let lt = self.expr(l, scope);
                let rt = self.expr(r, scope);
                self.binary_type(*op, l, r, lt, rt)
            }
            ExprKind::Is { expr, label, .. } => {
                if let (Some(label), ExprKind::Name(stage)) = (label, &expr.node) {
                    if self.syms.stages.contains_key(stage) {
                        self.stage_label(&Ident::new(stage.clone(), expr.span), label);
                        return Ty::Bool;
                    }
                }
                let t = self.expr(expr, scope);
                self.is_type(label.as_ref(), t)
            }
            ExprKind::Call(f, args) => {
                let types: Vec<Ty> = args.iter().map(|a| self.expr(a, scope)).collect();
                self.call_type(*f, args, types, e.span)
            }
            ExprKind::Aggregate(a) => {
                let known = self.customer_event(&a.event, "an aggregate");
                if let Some(f) = &a.filter {
                    let inner = if known {
                        scope.with_where(&a.event.node)
                    } else {
                        scope
                    };
                    self.condition(f, inner, "a `where` condition");
                }
                if known {
                    self.aggregate_type(a)
                } else {
                    Ty::Error
                }
            }
            _ => self.leaf(e, scope),
        }
    }

    fn leaf(&mut self, e: &Expr, scope: Scope<'_>) -> Ty {
        match &e.node {
            ExprKind::Null => Ty::Null,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Number(_) => Ty::Number,
            ExprKind::Str(_) => Ty::String,
            ExprKind::Duration(_) => Ty::Duration,
            ExprKind::Now | ExprKind::FirstSeen | ExprKind::LastSeen => Ty::Time,
            ExprKind::Profile(attr) => match self.syms.profile.get(&attr.node) {
                Some(t) => Ty::of(*t),
                None => {
                    self.unknown_profile(attr);
                    Ty::Error
                }
            },
            ExprKind::EventField(f) => match scope.trigger_event {
                Some(event) => self.field_of(event, f),
                None => {
                    let reason = scope.no_event_reason;
                    let d = self.error(
                        f.span.to(e.span),
                        "`event.*` is only available where the trigger has an event",
                    );
                    if !reason.is_empty() {
                        d.help = Some(reason.to_string());
                    }
                    Ty::Error
                }
            },
            ExprKind::Customer(f) => {
                if f.node != "id" {
                    self.error(
                        f.span,
                        format!(
                            "customer has no `{}`; the only customer attribute is `id`",
                            f.node
                        ),
                    )
                    .help = Some("profile attributes are read as `profile.NAME`".into());
                    return Ty::Error;
                }
                Ty::String
            }
            ExprKind::Name(n) => self.name(n, e.span, scope),
            ExprKind::HasTag(t) => {
                if self.syms.tags.contains_key(&t.node) {
                    self.depend(Derived::Tag(t.node.clone()));
                }
                Ty::Bool
            }
            ExprKind::Balance(l) | ExprKind::Expiring(l, _) => {
                if !self.syms.ledgers.contains_key(&l.node) {
                    self.out.suggest(
                        l.span,
                        format!("unknown ledger `{}`", l.node),
                        &l.node,
                        names(&self.syms.ledgers),
                    );
                }
                if let ExprKind::Expiring(_, d) = &e.node {
                    self.positive(d, "an expiry horizon");
                }
                Ty::Number
            }
            ExprKind::List(_)
            | ExprKind::Unary(..)
            | ExprKind::Binary(..)
            | ExprKind::Is { .. }
            | ExprKind::Call(..)
            | ExprKind::Aggregate(_) => self.expr(e, scope),
        }
    }

    fn list_type(&mut self, items: &[Expr], types: Vec<Ty>) -> Ty {
        let mut elem = Ty::Null;
        for (item, t) in items.iter().zip(types) {
            match elem.unify(&t) {
                Some(u) => elem = u,
                None => {
                    self.error(
                        item.span,
                        format!("list elements must have one type: {elem} and {t}"),
                    );
                    elem = Ty::Error;
                }
            }
        }
        Ty::List(Box::new(elem))
    }

    fn unary_type(&mut self, op: UnaryOp, x: &Expr, t: Ty) -> Ty {
        match (op, t) {
            (UnaryOp::Not, t) => {
                self.expect_bool(x, &t, "`not`");
                Ty::Bool
            }
            (UnaryOp::Neg, t @ (Ty::Int | Ty::Number | Ty::Duration | Ty::Null | Ty::Error)) => t,
            (UnaryOp::Neg, other) => {
                self.error(x.span, format!("cannot negate {other}"));
                Ty::Error
            }
        }
    }

    fn is_type(&mut self, label: Option<&Ident>, t: Ty) -> Ty {
        if let Some(label) = label {
            if !t.is_wild() {
                self.error(
                    label.span,
                    format!("`is {}` needs a stage on its left, not {t}", label.node),
                )
                .help = Some("`is` compares a stage's label, or tests `is null`".into());
            }
        }
        Ty::Bool
    }

    fn field_of(&mut self, event: &str, f: &Ident) -> Ty {
        let Some(sym) = self.syms.events.get(event) else {
            return Ty::Error;
        };
        match sym.fields.get(&f.node) {
            Some(t) => Ty::of(*t),
            None => {
                let candidates: Vec<String> = sym.fields.keys().cloned().collect();
                self.out.suggest(
                    f.span,
                    format!("event `{event}` has no field `{}`", f.node),
                    &f.node,
                    candidates.iter().map(String::as_str),
                );
                Ty::Error
            }
        }
    }

    fn name(&mut self, n: &str, span: Span, scope: Scope<'_>) -> Ty {
        if let Some(event) = scope.where_event {
            if let Some(t) = self.syms.events.get(event).and_then(|s| s.fields.get(n)) {
                return Ty::of(*t);
            }
        }
        if self.syms.segments.contains_key(n) {
            self.depend(Derived::Segment(n.to_string()));
            return Ty::Bool;
        }
        if self.syms.stages.contains_key(n) {
            self.depend(Derived::Stage(n.to_string()));
            return Ty::Stage(n.to_string());
        }
        let mut candidates: Vec<String> = self.syms.segments.keys().cloned().collect();
        candidates.extend(self.syms.stages.keys().cloned());
        if let Some(event) = scope.where_event.and_then(|e| self.syms.events.get(e)) {
            candidates.extend(event.fields.keys().cloned());
        }
        let msg = if let Some(event) = scope.where_event {
            format!("`{n}` is neither a field of `{event}` nor a segment")
        } else if self.syms.events.contains_key(n) {
            format!("`{n}` is an event; count it with `count({n})` or test it with `last({n})`")
        } else if self.syms.profile.contains_key(n) {
            format!("unknown name `{n}`; profile attributes are read as `profile.{n}`")
        } else {
            format!("unknown name `{n}`")
        };
        self.out
            .suggest(span, msg, n, candidates.iter().map(String::as_str));
        Ty::Error
    }

    fn expect_bool(&mut self, e: &Expr, t: &Ty, op: &str) {
        if !(*t == Ty::Bool || t.is_wild()) {
            self.error(
                e.span,
                format!("{op} needs a condition (bool), this is {t}"),
            );
        }
    }

    /// `STAGE ==/!=/in ...`: stage tests, which name labels, not values.
    fn stage_test(&mut self, op: BinaryOp, l: &Expr, r: &Expr, scope: Scope<'_>) -> Option<Ty> {
        // A stage's label is tested with `is`, not compared as a value.
        if let (BinaryOp::Eq | BinaryOp::Ne, ExprKind::Name(stage)) = (op, &l.node) {
            if self.syms.stages.contains_key(stage) && !self.field_shadows(stage, scope) {
                let label = match &r.node {
                    ExprKind::Name(label) => label.as_str(),
                    _ => "LABEL",
                };
                let is = if op == BinaryOp::Eq { "is" } else { "is not" };
                self.error(
                    l.span.to(r.span),
                    "a stage is compared with `is`, not `==`/`!=`",
                )
                .help = Some(format!("write `{stage} {is} {label}`"));
                return Some(Ty::Error);
            }
        }
        // `STAGE in [LABEL, ...]` names labels, not values.
        if op == BinaryOp::In {
            if let (ExprKind::Name(stage), ExprKind::List(items)) = (&l.node, &r.node) {
                if self.syms.stages.contains_key(stage) && !self.field_shadows(stage, scope) {
                    let stage_ident = Ident::new(stage.clone(), l.span);
                    for item in items {
                        match &item.node {
                            ExprKind::Name(label) => self
                                .stage_label(&stage_ident, &Ident::new(label.clone(), item.span)),
                            _ => {
                                self.error(
                                    item.span,
                                    format!("`{stage} in [...]` lists labels of the stage"),
                                );
                            }
                        }
                    }
                    return Some(Ty::Bool);
                }
            }
        }
        None
    }

    fn binary_type(&mut self, op: BinaryOp, l: &Expr, r: &Expr, lt: Ty, rt: Ty) -> Ty {
        let mismatch = |c: &mut Self| {
            c.error(
                l.span.to(r.span),
                format!("`{}` cannot combine {lt} and {rt}", op.as_str()),
            );
            Ty::Error
        };
        match op {
            BinaryOp::And | BinaryOp::Or => {
                self.expect_bool(l, &lt, &format!("`{}`", op.as_str()));
                self.expect_bool(r, &rt, &format!("`{}`", op.as_str()));
                Ty::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if lt.unify(&rt).is_none() {
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
                if lt.unify(&rt).is_none() || !ordered(&lt) || !ordered(&rt) {
                    return mismatch(self);
                }
                Ty::Bool
            }
            BinaryOp::In => {
                match &rt {
                    Ty::List(elem) if lt.unify(elem).is_some() => {}
                    Ty::Null | Ty::Error => {}
                    Ty::List(_) => return mismatch(self),
                    other => {
                        self.error(
                            r.span,
                            format!("the right side of `in` must be a list, this is {other}"),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Bool
            }
            BinaryOp::Contains => {
                match &lt {
                    Ty::List(elem) if rt.unify(elem).is_some() => {}
                    Ty::Null | Ty::Error => {}
                    Ty::List(_) => return mismatch(self),
                    other => {
                        self.error(
                            l.span,
                            format!("the left side of `contains` must be a list, this is {other}"),
                        );
                        return Ty::Error;
                    }
                }
                Ty::Bool
            }
            BinaryOp::Coalesce => match lt.unify(&rt) {
                Some(t) if !matches!(t, Ty::Stage(_) | Ty::Label) => t,
                _ => mismatch(self),
            },
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                if lt.is_wild() || rt.is_wild() {
                    let other = if lt.is_wild() { &rt } else { &lt };
                    return match (op, other) {
                        (BinaryOp::Div, _) => Ty::Number,
                        (_, t) if t.is_wild() => Ty::Error,
                        (_, t) => t.clone(),
                    };
                }
                match (op, &lt, &rt) {
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
            .and_then(|e| self.syms.events.get(e))
            .is_some_and(|s| s.fields.contains_key(name))
    }

    fn call_type(&mut self, f: Func, args: &[Expr], types: Vec<Ty>, span: Span) -> Ty {
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
                span,
                format!("`{}` takes {what}, not {}", f.as_str(), args.len()),
            );
            return Ty::Error;
        }
        let t = &types[0];
        let want = |c: &mut Self, expected: &str| {
            c.error(
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
                match types[0].unify(&types[1]) {
                    Some(u) if ok(&types[0]) && ok(&types[1]) => u,
                    _ => {
                        self.error(
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

    fn aggregate_type(&mut self, a: &Aggregate) -> Ty {
        if let Some(w) = &a.window {
            self.positive(w, "a window");
        }
        let field_ty = a
            .field
            .as_ref()
            .map(|f| (f, self.field_of(&a.event.node, f)));
        let name = a.func.as_str();
        match (a.func, field_ty) {
            (AggFunc::Count, None) => Ty::Int,
            (AggFunc::Count, Some((f, _))) => {
                self.error(
                    f.span,
                    format!("`count` counts events; write `count({})`", a.event.node),
                );
                Ty::Error
            }
            (AggFunc::Last | AggFunc::First, None) => Ty::Time,
            (AggFunc::Last | AggFunc::First, Some((_, t))) => t,
            (_, None) => {
                self.error(
                    a.event.span,
                    format!("`{name}` needs a field: `{name}({}.FIELD)`", a.event.node),
                );
                Ty::Error
            }
            (AggFunc::Sum | AggFunc::Avg, Some((f, t))) => {
                if !(t.is_numeric() || t.is_wild()) {
                    self.error(
                        f.span,
                        format!("`{name}` needs a numeric field, `{}` is {t}", f.node),
                    );
                    return Ty::Error;
                }
                Ty::Number
            }
            (_, Some((f, t))) => {
                if !(matches!(t, Ty::Int | Ty::Number | Ty::Duration | Ty::Time | Ty::Date)
                    || t.is_wild())
                {
                    self.error(
                        f.span,
                        format!("`{name}` needs an ordered field, `{}` is {t}", f.node),
                    );
                    return Ty::Error;
                }
                t
            }
        }
    }

    // ------------------------------------------------------ derived order --

    /// Orders segments, tags and stages so that each comes after what it
    /// reads (ties by declaration order), reporting any cycle by name.
    fn order_derived(&mut self, module: &Module) {
        let decl_index = |d: &Derived| -> usize {
            module
                .items
                .iter()
                .position(|i| match (i, d) {
                    (Item::Segment(s), Derived::Segment(n)) => &s.name.node == n,
                    (Item::Tag(t), Derived::Tag(n)) => &t.name.node == n,
                    (Item::Stage(s), Derived::Stage(n)) => &s.name.node == n,
                    _ => false,
                })
                .unwrap_or(usize::MAX)
        };
        let nodes: Vec<Derived> = self.deps.keys().cloned().collect();
        let mut done: IndexSet<Derived> = IndexSet::new();
        let mut order = Vec::new();
        while done.len() < nodes.len() {
            let ready = nodes
                .iter()
                .filter(|n| !done.contains(*n))
                .filter(|n| {
                    self.deps[*n]
                        .1
                        .iter()
                        .all(|d| done.contains(d) || !self.deps.contains_key(d))
                })
                .min_by_key(|n| decl_index(n));
            match ready {
                Some(n) => {
                    done.insert(n.clone());
                    order.push(n.clone());
                }
                None => {
                    // Everything left is on or behind a cycle: report one.
                    let start = nodes
                        .iter()
                        .filter(|n| !done.contains(*n))
                        .min_by_key(|n| decl_index(n))
                        .cloned();
                    if let Some(start) = start {
                        self.report_cycle(&start, &done);
                    }
                    return;
                }
            }
        }
        self.syms.derived = order;
    }

    fn report_cycle(&mut self, start: &Derived, done: &IndexSet<Derived>) {
        // Walk unfinished dependencies until a node repeats.
        let mut path: Vec<Derived> = vec![start.clone()];
        let mut at = start.clone();
        loop {
            let next = self.deps[&at]
                .1
                .iter()
                .find(|d| self.deps.contains_key(*d) && !done.contains(*d))
                .cloned();
            let Some(next) = next else { return };
            if let Some(pos) = path.iter().position(|p| *p == next) {
                let cycle: Vec<String> = path[pos..].iter().chain([&next]).map(describe).collect();
                let span = self.deps[&path[pos]].0;
                self.error(
                    span,
                    format!("cycle in derived state: {}", cycle.join(" → ")),
                )
                .help = Some(
                    "a segment, tag or stage cannot depend on itself, directly or through others"
                        .into(),
                );
                return;
            }
            path.push(next.clone());
            at = next;
        }
    }
}

fn describe(d: &Derived) -> String {
    match d {
        Derived::Segment(n) => format!("segment `{n}`"),
        Derived::Tag(n) => format!("tag \"{n}\""),
        Derived::Stage(n) => format!("stage `{n}`"),
    }
}

fn trigger_without_event(t: &Trigger) -> &'static str {
    match t {
        Trigger::No { .. } => "a `no … for` trigger fires because an event did not happen",
        Trigger::AfterRule { .. } => "`after rule` fires after another rule, not an event",
        Trigger::Enters(_) | Trigger::Exits(_) => {
            "`enters`/`exits` fire on a segment change, not an event"
        }
        Trigger::Becomes { .. } | Trigger::Changes(_) => "stage transitions are not events",
        Trigger::Every { .. } | Trigger::Anniversary { .. } => "calendar triggers are not events",
        Trigger::Event(_) | Trigger::After { .. } => "",
    }
}
