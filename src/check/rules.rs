//! Rules checked: clause order and repetition, the trigger and its event
//! filters, `unless`, the guard, splits, goals, and every action call
//! against its declaration.

use super::hir::{self, Effect, EventFilter, Goal, Rule, Split};
use super::types::Ty;
use super::{Checker, DerivedKey, Scope, names};
use crate::diagnostic::Code;
use crate::diagnostic::Span;
use crate::syntax::ast::{self, *};
use indexmap::{IndexMap, IndexSet};

impl Checker<'_> {
    pub(super) fn rule(&mut self, r: &RuleDecl) -> Option<Rule<hir::Expr>> {
        let mut trigger: Option<&ast::Trigger> = None;
        let mut seen: IndexSet<&'static str> = IndexSet::new();
        let mut has_do = false;
        let mut split: Option<Span> = None;
        let mut holdout = false;
        for c in &r.clauses {
            let kind = match &c.node {
                Clause::When(t) => {
                    trigger.get_or_insert(t);
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
            if kind != "do" && !seen.insert(kind) {
                self.error(
                    Code::Trigger,
                    c.span,
                    format!("rule `{}` has a second `{kind}` clause", r.name.node),
                );
            }
        }
        let Some(trigger) = trigger else {
            self.error(
                Code::Trigger,
                r.name.span,
                format!("rule `{}` has no `when` clause", r.name.node),
            )
            .help = Some("every rule needs exactly one trigger, e.g. `when purchase`".into());
            return None;
        };
        match (has_do, split) {
            (true, Some(s)) => {
                self.error(
                    Code::NoAction,
                    s,
                    "a rule has either `do` or `split`, not both",
                );
            }
            (false, None) => {
                self.error(
                    Code::NoAction,
                    r.name.span,
                    format!("rule `{}` does nothing", r.name.node),
                )
                .help = Some("add `do ACTION` or a `split`".into());
            }
            _ => {}
        }
        let (checked_trigger, unless, event) = self.trigger(trigger);
        let calendar_at = matches!(
            trigger,
            ast::Trigger::Every { .. } | ast::Trigger::Anniversary { at: Some(_), .. }
        );
        let scope = Scope {
            where_event: None,
            trigger_event: event,
            no_event_reason: trigger_without_event(trigger),
        };
        let mut complete = checked_trigger.is_some() && unless.is_some();
        let mut rule = Rule {
            name: r.name.node.clone(),
            priority: 0,
            trigger: checked_trigger.unwrap_or(hir::Trigger::Every {
                weekday: None,
                at: TimeOfDay { hour: 0, minute: 0 },
            }),
            unless: unless.flatten(),
            guard: None,
            actions: Vec::new(),
            at: None,
            limit: None,
            quiet: None,
            split: None,
            holdout: None,
            goal: None,
        };
        for c in &r.clauses {
            match &c.node {
                Clause::When(_) => {}
                Clause::Priority(p) => rule.priority = *p,
                Clause::Quiet(p) => rule.quiet = Some(*p),
                Clause::If(e) => match self.condition(e, scope, "an `if` guard") {
                    Some(g) => rule.guard = Some(g),
                    None => complete = false,
                },
                Clause::Do(actions) => match self.effects(actions, scope) {
                    Some(a) => rule.actions.extend(a),
                    None => complete = false,
                },
                Clause::At(t) => {
                    if calendar_at {
                        self.error(
                            Code::AtTwice,
                            c.span,
                            "the trigger already has an `at` time",
                        )
                        .help = Some(
                            "a trailing `at` belongs to an `every`/`anniversary` trigger; keep one"
                                .into(),
                        );
                    }
                    // `anniversary of … do … at 09:00` means the trigger's
                    // own `at 09:00` (the anniversary's 00:00 snapped to it).
                    match &mut rule.trigger {
                        hir::Trigger::Anniversary { at, .. } => *at = *t,
                        hir::Trigger::Every { .. } => {}
                        _ => rule.at = Some(*t),
                    }
                }
                Clause::Limit(Limit::PerWindow { max, per, .. }) => {
                    if *max == 0 {
                        self.warn(
                            Code::NeverActs,
                            c.span,
                            "`limit 0 per …` never lets the rule fire",
                        );
                    }
                    self.positive(per, "a limit window");
                    rule.limit = Some((*max, Some(per.node)));
                }
                Clause::Limit(Limit::Once) => rule.limit = Some((1, None)),
                Clause::Split(s) => match self.split(s, scope) {
                    Some(s) => rule.split = Some(s),
                    None => complete = false,
                },
                Clause::Holdout(share) => {
                    if share.node == 10_000 {
                        self.warn(
                            Code::NeverActs,
                            share.span,
                            "a 100% holdout never lets the rule act",
                        );
                    }
                    rule.holdout = Some(share.node);
                }
                Clause::Goal(g) => match self.goal(g, c.span, split.is_some() || holdout) {
                    Some(g) => rule.goal = Some(g),
                    None => complete = false,
                },
            }
        }
        complete.then_some(rule)
    }

    fn goal(&mut self, g: &ast::Goal, span: Span, measured: bool) -> Option<Goal<hir::Expr>> {
        if !measured {
            self.error(
                Code::Goal,
                span,
                "`goal` measures a `split` or `holdout`; this rule has neither",
            );
        }
        let event = self.customer_event(&g.event, "a goal");
        let filter = match (&g.filter, event) {
            (Some(f), Some(_)) => {
                let goal_scope = Scope {
                    where_event: Some(&g.event.node),
                    trigger_event: None,
                    no_event_reason: "in a goal's `where`, write the goal event's fields bare",
                };
                Some(self.condition(f, goal_scope, "a `where` condition"))
            }
            _ => None,
        };
        self.positive(&g.within, "a goal window");
        let filter = match filter {
            Some(f) => Some(f?),
            None => None,
        };
        Some(Goal {
            on: EventFilter {
                event: event?,
                filter,
            },
            within: g.within.node,
        })
        .filter(|_| measured)
    }

    /// Checks a trigger; returns its checked form, its `unless` (`Some(None)`
    /// when it has none) and the event `event.*` reads, if any.
    #[allow(clippy::type_complexity)]
    fn trigger<'t>(
        &mut self,
        t: &'t ast::Trigger,
    ) -> (
        Option<hir::Trigger<hir::Expr>>,
        Option<Option<EventFilter<hir::Expr>>>,
        Option<&'t str>,
    ) {
        let no_unless = Some(None);
        match t {
            ast::Trigger::Event(f) => {
                let Some(event) = self.event_any(&f.event) else {
                    return (None, no_unless, None);
                };
                let filter = self.filter(f, event, None);
                (
                    filter.map(hir::Trigger::Event),
                    no_unless,
                    Some(&f.event.node),
                )
            }
            ast::Trigger::No { event, duration } => {
                self.positive(duration, "a silence");
                let on = self
                    .customer_event(&event.event, "a `no … for` trigger")
                    .and_then(|id| self.filter(event, id, None));
                let checked = on.map(|on| hir::Trigger::No {
                    on,
                    duration: duration.node,
                });
                (checked, no_unless, None)
            }
            ast::Trigger::After {
                event,
                unless,
                delay,
                last,
            } => {
                let id = self.customer_event(&event.event, "an `after` trigger");
                let on = id.and_then(|id| self.filter(event, id, None));
                let name = id.map(|_| event.event.node.as_str());
                let unless = self.unless(unless, name);
                let checked = on.map(|on| hir::Trigger::After {
                    on,
                    delay: delay.node,
                    last: *last,
                });
                (checked, unless, name)
            }
            ast::Trigger::AfterRule {
                rule,
                unless,
                delay,
            } => {
                // A rule may follow itself: each firing schedules the next.
                let followed = self.t.rules.get_index_of(&rule.node);
                if followed.is_none() {
                    self.out.suggest(
                        Code::UnknownName,
                        rule.span,
                        format!("unknown rule `{}`", rule.node),
                        &rule.node,
                        names(&self.t.rules),
                    );
                }
                let unless = self.unless(unless, None);
                let checked = followed.map(|rule| hir::Trigger::AfterRule {
                    rule,
                    delay: delay.node,
                });
                (checked, unless, None)
            }
            ast::Trigger::Enters(s) | ast::Trigger::Exits(s) => {
                let segment = self.t.derived_id(&DerivedKey::Segment(s.node.clone()));
                if segment.is_none() {
                    let msg = if self.t.stage_labels.contains_key(&s.node) {
                        format!("`{}` is a stage; use `{} becomes LABEL`", s.node, s.node)
                    } else {
                        format!("unknown segment `{}`", s.node)
                    };
                    let segments: Vec<&str> = self
                        .t
                        .derived
                        .keys()
                        .filter_map(|k| match k {
                            DerivedKey::Segment(n) => Some(n.as_str()),
                            _ => None,
                        })
                        .collect();
                    self.out
                        .suggest(Code::UnknownName, s.span, msg, &s.node, segments);
                }
                let enters = matches!(t, ast::Trigger::Enters(_));
                let checked = segment.map(|segment| hir::Trigger::Membership { segment, enters });
                (checked, no_unless, None)
            }
            ast::Trigger::Becomes { stage, label } => {
                let checked =
                    self.stage_label(stage, label)
                        .map(|(stage, label)| hir::Trigger::Stage {
                            stage,
                            label: Some(label),
                        });
                (checked, no_unless, None)
            }
            ast::Trigger::Changes(stage) => {
                let checked = self
                    .stage_ref(stage)
                    .map(|(stage, _)| hir::Trigger::Stage { stage, label: None });
                (checked, no_unless, None)
            }
            ast::Trigger::Every { day, at } => {
                let weekday = match day {
                    Every::Day => None,
                    Every::Weekday(d) => Some(*d),
                };
                let checked = hir::Trigger::Every {
                    weekday,
                    at: at.node,
                };
                (Some(checked), no_unless, None)
            }
            ast::Trigger::Anniversary { attr, before, at } => {
                let attr_id = match self.t.profile.get_full(&attr.node) {
                    Some((i, _, Type::Date)) => Some(i),
                    Some((_, _, t)) => {
                        let msg = format!(
                            "an anniversary needs a date attribute, `{}` is {}",
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
                };
                let checked = attr_id.map(|attr| hir::Trigger::Anniversary {
                    attr,
                    before: before.as_ref().map_or(0, |b| b.node),
                    at: at
                        .as_ref()
                        .map_or(TimeOfDay { hour: 0, minute: 0 }, |t| t.node),
                });
                (checked, no_unless, None)
            }
        }
    }

    /// `unless F [where C]`: `Some(None)` when there is none, `None` when it
    /// has an error.
    fn unless(
        &mut self,
        unless: &Option<ast::EventFilter>,
        trigger_event: Option<&str>,
    ) -> Option<Option<EventFilter<hir::Expr>>> {
        let Some(u) = unless else {
            return Some(None);
        };
        let event = self.customer_event(&u.event, "`unless`")?;
        self.filter(u, event, trigger_event).map(Some)
    }

    fn filter(
        &mut self,
        f: &ast::EventFilter,
        event: hir::EventId,
        trigger_event: Option<&str>,
    ) -> Option<EventFilter<hir::Expr>> {
        let filter = match &f.filter {
            Some(c) => {
                let scope = Scope {
                    where_event: Some(&f.event.node),
                    trigger_event,
                    no_event_reason: "in a trigger's `where`, write the event's fields bare",
                };
                Some(self.condition(c, scope, "a `where` condition")?)
            }
            None => None,
        };
        Some(EventFilter { event, filter })
    }

    fn split(&mut self, s: &ast::Split, scope: Scope<'_>) -> Option<Split<hir::Expr>> {
        if s.variants.is_empty() {
            self.error(
                Code::Split,
                s.experiment.span,
                "a split needs at least one variant",
            );
            return None;
        }
        let mut seen: IndexSet<&str> = IndexSet::new();
        let mut total = 0u32;
        let mut variants = Vec::new();
        let mut complete = true;
        for v in &s.variants {
            if !seen.insert(&v.name.node) {
                self.error(
                    Code::Duplicate,
                    v.name.span,
                    format!("variant `{}` appears twice", v.name.node),
                );
            }
            total = total.saturating_add(v.share.node);
            match self.effects(&v.actions, scope) {
                Some(a) => variants.push((v.name.node.clone(), v.share.node, a)),
                None => complete = false,
            }
        }
        if total != 10_000 {
            let shown = format!("{}.{:02}%", total / 100, total % 100).replace(".00%", "%");
            self.error(
                Code::Split,
                s.experiment.span,
                format!("split shares add up to {shown}, not 100%"),
            );
        }
        complete.then(|| Split {
            experiment: s.experiment.node.clone(),
            variants,
        })
    }

    fn effects(
        &mut self,
        actions: &[ast::Action],
        scope: Scope<'_>,
    ) -> Option<Vec<Effect<hir::Expr>>> {
        let mut out = Vec::new();
        let mut complete = true;
        for a in actions {
            let effect = match a {
                ast::Action::Call { name, args } => self.call_action(name, args, scope),
                ast::Action::AddTag(t) | ast::Action::RemoveTag(t) => {
                    if self.t.has(DerivedKey::Tag(t.node.clone())) {
                        self.error(
                            Code::AutoTagWritten,
                            t.span,
                            format!("\"{}\" is an auto tag; only its condition sets it", t.node),
                        )
                        .help = Some("use a different tag name for the rule's own marker".into());
                        None
                    } else if matches!(a, ast::Action::AddTag(_)) {
                        Some(Effect::AddTag(t.node.clone()))
                    } else {
                        Some(Effect::RemoveTag(t.node.clone()))
                    }
                }
                ast::Action::Set { attr, value } => {
                    let typed = self.value(value, scope);
                    let attr_id = match self.t.profile.get_full(&attr.node) {
                        Some((i, _, want)) => {
                            if !typed.ty.fits(&Ty::of(*want)) {
                                let msg = format!(
                                    "`profile.{}` is {}, this value is {}",
                                    attr.node,
                                    want.as_str(),
                                    typed.ty
                                );
                                self.error(Code::Mismatch, value.span, msg);
                            }
                            Some(i)
                        }
                        None => {
                            self.unknown_profile(attr);
                            None
                        }
                    };
                    match (attr_id, typed.hir) {
                        (Some(attr), Some(value)) => Some(Effect::Set { attr, value }),
                        _ => None,
                    }
                }
            };
            match effect {
                Some(e) => out.push(e),
                None => complete = false,
            }
        }
        complete.then_some(out)
    }

    fn call_action(
        &mut self,
        name: &Ident,
        args: &[(Ident, Expr)],
        scope: Scope<'_>,
    ) -> Option<Effect<hir::Expr>> {
        let Some((action, _, sym)) = self.t.actions.get_full(&name.node) else {
            self.out.suggest(
                Code::UnknownAction,
                name.span,
                format!("unknown action `{}`", name.node),
                &name.node,
                names(&self.t.actions),
            );
            for (_, v) in args {
                self.value(v, scope);
            }
            return None;
        };
        let params = sym.params.clone();
        let mut given: IndexMap<&str, Option<hir::Expr>> = IndexMap::new();
        let mut complete = true;
        for (key, value) in args {
            let typed = self.value(value, scope);
            if given.contains_key(key.node.as_str()) {
                self.error(
                    Code::ActionArgs,
                    key.span,
                    format!("argument `{}` is given twice", key.node),
                );
                complete = false;
                continue;
            }
            match params.get(&key.node) {
                Some(want) => {
                    if !typed.ty.fits(&Ty::of(*want)) {
                        let msg = format!(
                            "`{}` of `{}` is {}, this value is {}",
                            key.node,
                            name.node,
                            want.as_str(),
                            typed.ty
                        );
                        self.error(Code::ActionArgs, value.span, msg);
                    }
                }
                None => {
                    self.out.suggest(
                        Code::ActionArgs,
                        key.span,
                        format!("action `{}` has no parameter `{}`", name.node, key.node),
                        &key.node,
                        names(&params),
                    );
                    complete = false;
                }
            }
            given.insert(&key.node, typed.hir);
        }
        let missing: Vec<&str> = params
            .keys()
            .map(String::as_str)
            .filter(|p| !given.contains_key(p))
            .collect();
        if !missing.is_empty() {
            let list = missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.error(
                Code::ActionArgs,
                name.span,
                format!("action `{}` is missing {list}", name.node),
            );
            return None;
        }
        // Arguments in declared parameter order.
        let args: Option<Vec<hir::Expr>> = params
            .keys()
            .map(|p| given.get_mut(p.as_str()).and_then(Option::take))
            .collect();
        complete.then_some(Effect::Host {
            action,
            args: args?,
        })
    }
}

fn trigger_without_event(t: &ast::Trigger) -> &'static str {
    match t {
        ast::Trigger::No { .. } => "a `no … for` trigger fires because an event did not happen",
        ast::Trigger::AfterRule { .. } => "`after rule` fires after another rule, not an event",
        ast::Trigger::Enters(_) | ast::Trigger::Exits(_) => {
            "`enters`/`exits` fire on a segment change, not an event"
        }
        ast::Trigger::Becomes { .. } | ast::Trigger::Changes(_) => {
            "stage transitions are not events"
        }
        ast::Trigger::Every { .. } | ast::Trigger::Anniversary { .. } => {
            "calendar triggers are not events"
        }
        ast::Trigger::Event(_) | ast::Trigger::After { .. } => "",
    }
}
