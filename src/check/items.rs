//! The second pass: every declaration, rule and ledger checked against the
//! declared names, and its checked form built.

use super::hir::{self, Cap, Derived, Hir, Ledger, Quiet, Rule, Trigger};
use super::{Checker, DerivedKey, Scope, Tables, names};
use crate::diagnostic::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::limits::MAX_STAGE_LABELS;
use crate::syntax::ast::*;
use indexmap::{IndexMap, IndexSet};

/// What the items pass built, before derived state is put in evaluation
/// order.
pub(super) struct Checked {
    customer_zone: Option<hir::AttrId>,
    /// By declaration index.
    derived: Vec<Derived<hir::Expr>>,
    ledgers: Vec<Ledger<hir::Expr>>,
    rules: Vec<Rule<hir::Expr>>,
    caps: Vec<Cap>,
    quiet: Option<Quiet>,
}

impl Checked {
    /// The checked program, derived state in `order` (declaration indices
    /// in evaluation order) and every reference to it renumbered so.
    pub(super) fn into_hir(self, t: Tables, order: &[hir::DerivedId]) -> Hir<hir::Expr> {
        let mut slot = vec![0; order.len()];
        for (position, &decl) in order.iter().enumerate() {
            slot[decl] = position;
        }
        let renumber = |d: hir::DerivedId| slot[d];
        let mut by_decl: Vec<Option<Derived<hir::Expr>>> =
            self.derived.into_iter().map(Some).collect();
        let derived = order.iter().filter_map(|&d| by_decl[d].take()).collect();
        let events = t
            .events
            .into_iter()
            .map(|(name, e)| hir::EventDef {
                name,
                broadcast: e.broadcast,
                fields: e.fields.into_iter().collect(),
            })
            .collect();
        let actions = t
            .actions
            .into_iter()
            .map(|(name, a)| hir::ActionDef {
                name,
                params: a.params.into_keys().collect(),
                channel: a.channel,
            })
            .collect();
        let mut rules = self.rules;
        for r in &mut rules {
            match &mut r.trigger {
                Trigger::Membership { segment: d, .. } | Trigger::Stage { stage: d, .. } => {
                    *d = renumber(*d)
                }
                _ => {}
            }
        }
        let unchecked = Hir {
            zone: t.timezone,
            customer_zone: self.customer_zone,
            events,
            profile: t.profile.into_iter().collect(),
            actions,
            derived,
            ledgers: self.ledgers,
            rules,
            caps: self.caps,
            quiet: self.quiet,
        };
        unchecked.map(|e| renumber_expr(e, &renumber))
    }
}

/// An expression with its derived references renumbered, aggregates'
/// filters included.
fn renumber_expr(e: hir::Expr, renumber: &impl Fn(hir::DerivedId) -> hir::DerivedId) -> hir::Expr {
    e.map(
        &mut |mut a: Box<hir::Aggregate>| {
            a.filter = a.filter.map(|f| renumber_expr(f, renumber));
            a
        },
        renumber,
    )
}

impl Checker<'_> {
    pub(super) fn items(&mut self, module: &Module) -> Option<Checked> {
        let mut caps: IndexMap<Option<String>, Span> = IndexMap::new();
        let mut quiet = None;
        let mut customer_zone = None;
        let mut derived: Vec<Option<Derived<hir::Expr>>> = vec![None; self.t.derived.len()];
        let mut ledgers = Vec::new();
        let mut rules = Vec::new();
        let mut cap_defs = Vec::new();
        let mut complete = true;
        for item in &module.items {
            match item {
                Item::CustomerTimezone(attr) => {
                    if customer_zone.is_some() {
                        self.error(
                            Code::Duplicate,
                            attr.span,
                            "the per-customer time zone is declared twice",
                        );
                    }
                    customer_zone = Some(self.customer_zone(attr));
                }
                Item::Cap(cap) => cap_defs.push(self.cap(cap, &mut caps)),
                Item::Quiet(q) => {
                    if quiet.is_some() {
                        self.error(
                            Code::Duplicate,
                            q.start.span,
                            "quiet hours are declared twice",
                        );
                    }
                    quiet = Some(self.quiet(q));
                }
                Item::Segment(s) => {
                    let key = DerivedKey::Segment(s.name.node.clone());
                    let Some(id) = self.t.derived_id(&key) else {
                        continue;
                    };
                    self.current = Some(id);
                    let cond = self.condition(&s.cond, Scope::derived(), "a segment");
                    self.current = None;
                    derived[id] = cond.map(|cond| Derived::Segment {
                        name: s.name.node.clone(),
                        cond,
                    });
                }
                Item::Tag(t) => {
                    let key = DerivedKey::Tag(t.name.node.clone());
                    let Some(id) = self.t.derived_id(&key) else {
                        continue;
                    };
                    if self
                        .t
                        .derived
                        .get_index(id)
                        .is_some_and(|(_, span)| *span != t.name.span)
                    {
                        // A second declaration of the tag, already reported:
                        // its condition is checked, and kept nowhere.
                        self.condition(&t.cond, Scope::derived(), "a tag condition");
                        continue;
                    }
                    self.current = Some(id);
                    let cond = self.condition(&t.cond, Scope::derived(), "a tag condition");
                    self.current = None;
                    derived[id] = cond.map(|cond| Derived::Tag {
                        name: t.name.node.clone(),
                        cond,
                    });
                }
                Item::Stage(s) => {
                    let key = DerivedKey::Stage(s.name.node.clone());
                    let Some(id) = self.t.derived_id(&key) else {
                        continue;
                    };
                    self.current = Some(id);
                    derived[id] = self.stage(s);
                    self.current = None;
                }
                Item::Ledger(l) => match self.ledger(l) {
                    Some(l) => ledgers.push(l),
                    None => complete = false,
                },
                Item::Rule(r) => match self.rule(r) {
                    Some(r) => rules.push(r),
                    None => complete = false,
                },
                Item::Timezone(_) | Item::Event(_) | Item::Profile(_) | Item::Action(_) => {}
            }
        }
        let derived: Option<Vec<_>> = derived.into_iter().collect();
        let customer_zone = match customer_zone {
            Some(z) => Some(z?),
            None => None,
        };
        let cap_defs: Option<Vec<Cap>> = cap_defs.into_iter().collect();
        if !complete || rules.len() != self.t.rules.len() || ledgers.len() != self.t.ledgers.len() {
            return None;
        }
        Some(Checked {
            customer_zone,
            derived: derived?,
            ledgers,
            rules,
            caps: cap_defs?,
            quiet: quiet.flatten(),
        })
    }

    fn customer_zone(&mut self, attr: &Ident) -> Option<hir::AttrId> {
        match self.t.profile.get_full(&attr.node) {
            Some((i, _, Type::String)) => Some(i),
            Some((_, _, t)) => {
                let msg = format!(
                    "the customer time zone must be a string attribute, `{}` is {}",
                    attr.node,
                    t.as_str()
                );
                self.error(Code::Mismatch, attr.span, msg);
                None
            }
            None => {
                self.unknown_profile(attr);
                None
            }
        }
    }

    fn cap(&mut self, cap: &CapDecl, seen: &mut IndexMap<Option<String>, Span>) -> Option<Cap> {
        let key = cap.channel.as_ref().map(|c| c.node.clone());
        let span = cap.channel.as_ref().map_or(cap.max.span, |c| c.span);
        let mut ok = true;
        if seen.insert(key.clone(), span).is_some() {
            let what = cap
                .channel
                .as_ref()
                .map_or("all".to_string(), |c| format!("`{}`", c.node));
            self.error(
                Code::Duplicate,
                span,
                format!("channel {what} is capped twice"),
            );
            ok = false;
        }
        if let Some(ch) = &cap.channel {
            let channels: IndexSet<&str> = self
                .t
                .actions
                .values()
                .filter_map(|a| a.channel.as_deref())
                .collect();
            if !channels.contains(ch.node.as_str()) {
                let msg = format!(
                    "no action is sent on channel `{}`, so this cap limits nothing",
                    ch.node
                );
                let d = Diagnostic::warning(Code::NeverActs, self.out.source, ch.span, msg)
                    .with_suggestion(&ch.node, channels.iter().copied());
                self.out.warnings.push(d);
            }
        }
        self.positive(&cap.per, "a cap window");
        ok.then_some(Cap {
            channel: key,
            max: cap.max.node,
            per: cap.per.node,
        })
    }

    fn quiet(&mut self, q: &QuietDecl) -> Option<Quiet> {
        if q.start.node == q.end.node {
            self.warn(
                Code::NeverActs,
                q.start.span.to(q.end.span),
                "quiet hours start and end at the same time, so they are empty",
            );
        }
        let policy = match &q.policy {
            Some(p) if p.node == QuietPolicy::Ignore => {
                self.error(
                    Code::QuietHours,
                    p.span,
                    "`ignore` applies to a rule; the program's quiet hours `defer` or `drop`",
                );
                return None;
            }
            Some(p) => p.node,
            None => QuietPolicy::Defer,
        };
        Some(Quiet {
            start: q.start.node,
            end: q.end.node,
            policy,
        })
    }

    fn stage(&mut self, s: &StageDecl) -> Option<Derived<hir::Expr>> {
        let mut seen: IndexSet<&str> = IndexSet::new();
        let mut otherwise = None;
        let mut labels = Vec::new();
        let mut complete = true;
        for (i, l) in s.labels.iter().enumerate() {
            if !seen.insert(&l.name.node) {
                self.error(
                    Code::Duplicate,
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
                            Code::StageLabels,
                            l.name.span,
                            format!(
                                "label `{}` comes after `otherwise`, so it can never apply",
                                l.name.node
                            ),
                        )
                        .help = Some("`otherwise` must be the last label".into());
                    }
                    match self.condition(c, Scope::derived(), "a stage label") {
                        Some(c) => labels.push((l.name.node.clone(), Some(c))),
                        None => complete = false,
                    }
                }
                None => {
                    if otherwise.is_some() {
                        self.error(
                            Code::StageLabels,
                            l.name.span,
                            "a stage has only one `otherwise` label",
                        );
                    }
                    otherwise = Some(i);
                    labels.push((l.name.node.clone(), None));
                }
            }
        }
        if s.labels.len() > MAX_STAGE_LABELS {
            self.error(
                Code::Limit,
                s.name.span,
                format!(
                    "stage `{}` has {} labels; a stage has at most {MAX_STAGE_LABELS}",
                    s.name.node,
                    s.labels.len()
                ),
            );
            complete = false;
        }
        if otherwise.is_none() {
            self.error(
                Code::StageLabels,
                s.name.span,
                format!("stage `{}` has no `otherwise` label", s.name.node),
            )
            .help =
                Some("add a last label `NAME otherwise` for customers no condition matches".into());
        }
        (complete && otherwise.is_some()).then(|| Derived::Stage {
            name: s.name.node.clone(),
            labels,
        })
    }

    fn ledger(&mut self, l: &LedgerDecl) -> Option<Ledger<hir::Expr>> {
        let mut expire = None;
        let mut earn = Vec::new();
        let mut spend = Vec::new();
        let mut complete = true;
        for c in &l.clauses {
            match c {
                LedgerClause::Earn { amount, on } | LedgerClause::Spend { amount, on } => {
                    let event = self.customer_event(on, "a ledger");
                    let scope = Scope {
                        where_event: None,
                        trigger_event: event.map(|_| on.node.as_str()),
                        no_event_reason: "",
                    };
                    let typed = self.value(amount, scope);
                    if !(typed.ty.is_numeric() || typed.ty.is_wild()) {
                        self.error(
                            Code::Ledger,
                            amount.span,
                            format!("points must be a number, this is {}", typed.ty),
                        );
                    }
                    match (event, typed.hir) {
                        (Some(e), Some(a)) if matches!(c, LedgerClause::Earn { .. }) => {
                            earn.push((e, a))
                        }
                        (Some(e), Some(a)) => spend.push((e, a)),
                        _ => complete = false,
                    }
                }
                LedgerClause::Expire(d) => {
                    if expire.replace(d.node).is_some() {
                        self.error(
                            Code::Ledger,
                            d.span,
                            format!("ledger `{}` has two `expire` clauses", l.name.node),
                        );
                    }
                    self.positive(d, "an expiry");
                }
            }
        }
        if earn.is_empty() {
            self.warn(
                Code::NeverActs,
                l.name.span,
                format!("ledger `{}` never earns points", l.name.node),
            )
            .help = Some("add `earn EXPR on EVENT`".into());
        }
        complete.then(|| Ledger {
            name: l.name.node.clone(),
            earn,
            spend,
            expire,
        })
    }

    // ------------------------------------------------------------- names --

    pub(super) fn unknown_profile(&mut self, attr: &Ident) {
        self.out.suggest(
            Code::UnknownProfile,
            attr.span,
            format!("unknown profile attribute `{}`", attr.node),
            &attr.node,
            names(&self.t.profile),
        );
    }

    /// An event or broadcast type; its index when declared.
    pub(super) fn event_any(&mut self, e: &Ident) -> Option<hir::EventId> {
        if let Some(id) = self.t.events.get_index_of(&e.node) {
            return Some(id);
        }
        self.unknown_event(e);
        None
    }

    fn unknown_event(&mut self, e: &Ident) {
        let msg = if self.t.has(DerivedKey::Segment(e.node.clone())) {
            format!(
                "`{}` is a segment, not an event; use `enters {}`",
                e.node, e.node
            )
        } else {
            format!("unknown event `{}`", e.node)
        };
        self.out.suggest(
            Code::UnknownEvent,
            e.span,
            msg,
            &e.node,
            names(&self.t.events),
        );
    }

    /// An event type of the customer's own history (not a broadcast).
    pub(super) fn customer_event(&mut self, e: &Ident, context: &str) -> Option<hir::EventId> {
        match self.t.events.get_full(&e.node) {
            Some((_, _, sym)) if sym.broadcast => {
                let msg = format!(
                    "`{}` is a broadcast: it is not part of a customer's history, so {context} cannot use it",
                    e.node
                );
                self.error(Code::UnknownEvent, e.span, msg);
                None
            }
            Some((id, _, _)) => Some(id),
            None => {
                self.unknown_event(e);
                None
            }
        }
    }

    /// A stage by name: its index and labels.
    pub(super) fn stage_ref(&mut self, stage: &Ident) -> Option<(hir::DerivedId, Vec<String>)> {
        let key = DerivedKey::Stage(stage.node.clone());
        match (
            self.t.derived_id(&key),
            self.t.stage_labels.get(&stage.node),
        ) {
            (Some(id), Some(labels)) => {
                let labels = labels.clone();
                self.depend(key);
                Some((id, labels))
            }
            _ => {
                self.out.suggest(
                    Code::UnknownName,
                    stage.span,
                    format!("unknown stage `{}`", stage.node),
                    &stage.node,
                    names(&self.t.stage_labels),
                );
                None
            }
        }
    }

    /// A label of a stage: the stage's index and the label's.
    pub(super) fn stage_label(
        &mut self,
        stage: &Ident,
        label: &Ident,
    ) -> Option<(hir::DerivedId, hir::LabelId)> {
        let (id, labels) = self.stage_ref(stage)?;
        match labels.iter().position(|l| *l == label.node) {
            Some(l) => Some((id, l)),
            None => {
                let d = Diagnostic::error(
                    Code::UnknownLabel,
                    self.out.source,
                    label.span,
                    format!("stage `{}` has no label `{}`", stage.node, label.node),
                )
                .with_suggestion(&label.node, labels.iter().map(String::as_str));
                self.out.errors.push(d);
                None
            }
        }
    }
}
