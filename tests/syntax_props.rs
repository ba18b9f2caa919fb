//! Properties of the front end:
//! - the pretty-printer is the inverse of the parser on every tree it can
//!   print (`parse(print(m)) == m`);
//! - no source text or byte string makes `compile` panic.

use proptest::prelude::*;
use siyu::Span;
use siyu::syntax::{self, ast::*};

fn sp<T>(node: T) -> Spanned<T> {
    Spanned::new(node, Span::default())
}

/// Names a program may declare or reference: never keywords.
fn plain_name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b1",
        "purchase",
        "interaction",
        "nowhere",
        "index",
        "notice",
        "高价值",
        "_x",
        "Δt",
        "order_2",
        "ano",
    ])
    .prop_map(String::from)
}

/// Field and parameter names: any word, keywords included.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        plain_name(),
        prop::sample::select(vec!["at", "when", "channel", "in", "not", "count", "day"])
            .prop_map(String::from),
    ]
}

/// Bare names inside expressions: declared names, or keywords that cannot
/// begin an expression (a field such as `channel`).
fn bare_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => plain_name(),
        1 => prop::sample::select(vec!["channel", "at", "day", "when", "monday"]).prop_map(String::from),
    ]
}

fn ident(s: impl Strategy<Value = String>) -> impl Strategy<Value = Ident> {
    s.prop_map(sp)
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z 中文]{0,8}",
        any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![0i64..100_000, 0i64..400 * 86_400].prop_map(sp)
}

fn time_of_day() -> impl Strategy<Value = TimeOfDay> {
    (0u8..24, 0u8..60).prop_map(|(hour, minute)| TimeOfDay { hour, minute })
}

fn share() -> impl Strategy<Value = Share> {
    (0u32..=10_000).prop_map(sp)
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(ExprKind::Null),
        any::<bool>().prop_map(ExprKind::Bool),
        (0i64..=i64::MAX).prop_map(ExprKind::Int),
        prop_oneof![0.0f64..1e6, 0.0f64..1e300, Just(0.5), Just(1e-7)].prop_map(ExprKind::Number),
        text().prop_map(ExprKind::Str),
        (0i64..10_000_000).prop_map(ExprKind::Duration),
        Just(ExprKind::Now),
        Just(ExprKind::FirstSeen),
        Just(ExprKind::LastSeen),
        ident(field_name()).prop_map(ExprKind::Profile),
        ident(field_name()).prop_map(ExprKind::EventField),
        ident(field_name()).prop_map(ExprKind::Customer),
        bare_name().prop_map(ExprKind::Name),
        text().prop_map(|t| ExprKind::HasTag(sp(t))),
        ident(plain_name()).prop_map(ExprKind::Balance),
        (ident(plain_name()), duration()).prop_map(|(l, d)| ExprKind::Expiring(l, d)),
    ]
    .prop_map(sp)
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::Or,
        BinaryOp::And,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::In,
        BinaryOp::Contains,
        BinaryOp::Coalesce,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
    ])
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 48, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(ExprKind::List),
            (
                prop::sample::select(vec![UnaryOp::Not, UnaryOp::Neg]),
                inner.clone()
            )
                .prop_map(|(op, e)| ExprKind::Unary(op, Box::new(e))),
            (binary_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| ExprKind::Binary(
                op,
                Box::new(l),
                Box::new(r)
            )),
            (
                inner.clone(),
                any::<bool>(),
                prop::option::of(ident(plain_name()))
            )
                .prop_map(|(e, negated, label)| ExprKind::Is {
                    expr: Box::new(e),
                    negated,
                    label
                }),
            (
                prop::sample::select(Func::ALL.to_vec()),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|((f, _), mut args)| {
                    // `min(x)` with one argument reads as the aggregate.
                    if matches!(f, Func::Min | Func::Max) {
                        args.resize(2, sp(ExprKind::Int(1)));
                    }
                    ExprKind::Call(f, args)
                }),
            (
                prop::sample::select(AggFunc::ALL.to_vec()),
                ident(plain_name()),
                prop::option::of(ident(field_name())),
                prop::option::of(inner),
                prop::option::of(duration()),
            )
                .prop_map(|((func, _), event, field, filter, window)| {
                    ExprKind::Aggregate(Box::new(Aggregate {
                        func,
                        event,
                        field,
                        filter,
                        window,
                    }))
                }),
        ]
        .prop_map(sp)
    })
}

fn event_filter() -> impl Strategy<Value = EventFilter> {
    (ident(plain_name()), prop::option::of(expr()))
        .prop_map(|(event, filter)| EventFilter { event, filter })
}

fn trigger() -> impl Strategy<Value = Trigger> {
    prop_oneof![
        event_filter().prop_map(Trigger::Event),
        (event_filter(), duration()).prop_map(|(event, duration)| Trigger::No { event, duration }),
        (
            duration(),
            any::<bool>(),
            event_filter(),
            prop::option::of(event_filter())
        )
            .prop_map(|(delay, last, event, unless)| Trigger::After {
                delay,
                last,
                event,
                unless
            }),
        (
            duration(),
            ident(plain_name()),
            prop::option::of(event_filter())
        )
            .prop_map(|(delay, rule, unless)| Trigger::AfterRule {
                delay,
                rule,
                unless
            }),
        ident(plain_name()).prop_map(Trigger::Enters),
        ident(plain_name()).prop_map(Trigger::Exits),
        (ident(plain_name()), ident(plain_name()))
            .prop_map(|(stage, label)| Trigger::Becomes { stage, label }),
        ident(plain_name()).prop_map(Trigger::Changes),
        (
            prop_oneof![Just(Every::Day), (1u8..=7).prop_map(Every::Weekday)],
            time_of_day()
        )
            .prop_map(|(day, at)| Trigger::Every { day, at: sp(at) }),
        (
            prop::option::of(duration()),
            ident(field_name()),
            prop::option::of(time_of_day())
        )
            .prop_map(|(before, attr, at)| Trigger::Anniversary {
                before,
                attr,
                at: at.map(sp)
            }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (
            ident(plain_name()),
            prop::collection::vec((ident(field_name()), expr()), 0..3)
        )
            .prop_map(|(name, args)| Action::Call { name, args }),
        text().prop_map(|t| Action::AddTag(sp(t))),
        text().prop_map(|t| Action::RemoveTag(sp(t))),
        (ident(field_name()), expr()).prop_map(|(attr, value)| Action::Set { attr, value }),
    ]
}

fn actions() -> impl Strategy<Value = Vec<Action>> {
    prop::collection::vec(action(), 1..3)
}

fn quiet_policy() -> impl Strategy<Value = QuietPolicy> {
    prop::sample::select(vec![
        QuietPolicy::Defer,
        QuietPolicy::Drop,
        QuietPolicy::Ignore,
    ])
}

fn clause() -> impl Strategy<Value = Clause> {
    prop_oneof![
        trigger().prop_map(Clause::When),
        expr().prop_map(Clause::If),
        actions().prop_map(Clause::Do),
        time_of_day().prop_map(Clause::At),
        prop_oneof![
            Just(Limit::Once),
            duration().prop_map(|per| Limit::PerWindow {
                max: 1,
                per,
                once: true
            }),
            (0u32..100, duration()).prop_map(|(max, per)| Limit::PerWindow {
                max,
                per,
                once: false
            }),
        ]
        .prop_map(Clause::Limit),
        (-1000i64..1000).prop_map(Clause::Priority),
        (
            text(),
            prop::collection::vec((ident(plain_name()), share(), actions()), 0..3)
        )
            .prop_map(|(experiment, variants)| Clause::Split(Split {
                experiment: sp(experiment),
                variants: variants
                    .into_iter()
                    .map(|(name, share, actions)| Variant {
                        name,
                        share,
                        actions
                    })
                    .collect(),
            })),
        share().prop_map(Clause::Holdout),
        quiet_policy().prop_map(Clause::Quiet),
        (ident(plain_name()), prop::option::of(expr()), duration()).prop_map(
            |(event, filter, within)| Clause::Goal(Goal {
                event,
                filter,
                within
            })
        ),
    ]
}

fn fields() -> impl Strategy<Value = Vec<Field>> {
    let ty = prop::sample::select(vec![
        Type::Int,
        Type::Number,
        Type::String,
        Type::Bool,
        Type::Date,
        Type::Time,
        Type::Duration,
        Type::StringList,
    ]);
    prop::collection::vec((ident(field_name()), ty), 0..3).prop_map(|fs| {
        fs.into_iter()
            .map(|(name, ty)| Field { name, ty: sp(ty) })
            .collect()
    })
}

/// A trailing `at` right after an anniversary without one is read as the
/// trigger's own (§5); both mean the same, but the trees differ.
fn without_ambiguous_at(mut clauses: Vec<Clause>) -> Vec<Clause> {
    let mut i = 1;
    while i < clauses.len() {
        let ambiguous = matches!(clauses[i], Clause::At(_))
            && matches!(
                clauses[i - 1],
                Clause::When(Trigger::Anniversary { at: None, .. })
            );
        if ambiguous {
            clauses.remove(i);
        } else {
            i += 1;
        }
    }
    clauses
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        text().prop_map(|z| Item::Timezone(sp(z))),
        ident(field_name()).prop_map(Item::CustomerTimezone),
        (ident(plain_name()), any::<bool>(), fields()).prop_map(|(name, broadcast, fields)| {
            Item::Event(EventDecl {
                name,
                broadcast,
                fields,
            })
        }),
        fields().prop_map(Item::Profile),
        (
            ident(plain_name()),
            fields(),
            prop::option::of(ident(plain_name()))
        )
            .prop_map(|(name, params, channel)| Item::Action(ActionDecl {
                name,
                params,
                channel
            })),
        (
            prop::option::of(ident(plain_name())),
            0u32..1000,
            duration()
        )
            .prop_map(|(channel, max, per)| Item::Cap(CapDecl {
                channel,
                max: sp(max),
                per
            })),
        (
            time_of_day(),
            time_of_day(),
            prop::option::of(quiet_policy())
        )
            .prop_map(|(s, e, p)| Item::Quiet(QuietDecl {
                start: sp(s),
                end: sp(e),
                policy: p.map(sp)
            })),
        (ident(plain_name()), expr())
            .prop_map(|(name, cond)| Item::Segment(SegmentDecl { name, cond })),
        (text(), expr()).prop_map(|(name, cond)| Item::Tag(TagDecl {
            name: sp(name),
            cond
        })),
        (
            ident(plain_name()),
            prop::collection::vec((ident(plain_name()), prop::option::of(expr())), 0..4)
        )
            .prop_map(|(name, labels)| Item::Stage(StageDecl {
                name,
                labels: labels
                    .into_iter()
                    .map(|(name, cond)| StageLabel { name, cond })
                    .collect(),
            })),
        (
            ident(plain_name()),
            prop::collection::vec(
                prop_oneof![
                    (expr(), ident(plain_name()))
                        .prop_map(|(amount, on)| LedgerClause::Earn { amount, on }),
                    (expr(), ident(plain_name()))
                        .prop_map(|(amount, on)| LedgerClause::Spend { amount, on }),
                    duration().prop_map(LedgerClause::Expire),
                ],
                0..4
            )
        )
            .prop_map(|(name, clauses)| Item::Ledger(LedgerDecl { name, clauses })),
        (ident(plain_name()), prop::collection::vec(clause(), 0..6)).prop_map(|(name, clauses)| {
            Item::Rule(RuleDecl {
                name,
                clauses: without_ambiguous_at(clauses).into_iter().map(sp).collect(),
            })
        }),
    ]
}

fn module() -> impl Strategy<Value = Module> {
    prop::collection::vec(item(), 0..6).prop_map(|items| Module { items })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_is_identity(m in module()) {
        let printed = syntax::print(&m);
        let limits = siyu::Limits { max_nesting: 1000, ..siyu::Limits::default() };
        match syntax::parse(&printed, &limits) {
            Ok(parsed) => {
                prop_assert_eq!(&parsed, &m, "printed:\n{}", printed);
                prop_assert_eq!(syntax::print(&parsed), printed);
            }
            Err(errors) => {
                let rendered: Vec<String> = errors.iter().map(|d| d.render(&printed, "printed")).collect();
                prop_assert!(false, "printed form does not parse:\n{}\n{}", printed, rendered.join("\n"));
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = siyu::compile(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = siyu::compile_bytes(&b, &siyu::Limits::default());
    }

    /// Random edits of a real program reach far deeper into the parser and
    /// checker than random text does.
    #[test]
    fn edited_programs_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..8, prop::sample::select(vec![
            "", "(", ")", "{", "}", "not ", " and ", "3mo", "\"", "#", "where ", " in 30d", "event.", "when ",
            "99999999999999999999", "\\u{110000}", "高", "..", ",", "-", "::", "%", "@",
        ])), 1..6)
    ) {
        let mut src = include_str!("../examples/sop/sop.siyu").to_string();
        for (at, cut, insert) in edits {
            let mut pos = at.index(src.len() + 1);
            while !src.is_char_boundary(pos) {
                pos -= 1;
            }
            let mut end = (pos + cut).min(src.len());
            while !src.is_char_boundary(end) {
                end += 1;
            }
            src.replace_range(pos..end, insert);
        }
        if let Err(e) = siyu::compile(&src) {
            let _ = e.render("edited.siyu");
        }
    }
}
