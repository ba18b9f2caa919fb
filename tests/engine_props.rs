//! The correctness proof of the engine: for random programs over segments,
//! tags, stages and every trigger of issue 3, and random event streams with
//! advances, late events, duplicates and host events, the engine's actions
//! equal, to the second and in order per customer, those of the naive
//! reference evaluator in `reference/`, which recomputes everything from
//! the full history at every second.

mod reference;

use reference::rfc3339;

/// An instant in Unix seconds.
fn at(t: i64) -> siyu::Instant {
    siyu::Instant::from_unix(t).expect("generated instant")
}

use proptest::prelude::*;
use serde_json::Value as Json;
use siyu::{Engine, compile, syntax};
use std::collections::BTreeMap;

/// Cases per property: `default`, or `SIYU_CASES` for a longer run
/// (`SIYU_CASES=20000 cargo test --release --test engine_props`).
fn cases(default: u32) -> u32 {
    std::env::var("SIYU_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

const EVENTS: [&str; 2] = ["a", "b"];
const DURATIONS: [&str; 8] = ["1s", "5s", "10s", "30s", "45s", "1m", "1m30s", "2m"];

/// Zones customers and programs take: offsets of a minute or two, so that
/// local wall-clock times (`at`, quiet hours, calendars) fall inside the
/// generated streams at different instants per customer; a zone far off;
/// a name that is no zone (the program's zone applies).
const ZONES: [&str; 6] = [
    "UTC",
    "+00:01",
    "-00:02",
    "+00:00",
    "Asia/Kathmandu",
    "Mars/Base",
];

fn duration() -> impl Strategy<Value = String> {
    prop::sample::select(DURATIONS.to_vec()).prop_map(String::from)
}

fn event_name() -> impl Strategy<Value = String> {
    prop::sample::select(EVENTS.to_vec()).prop_map(String::from)
}

fn opt_where() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (0i64..5).prop_map(|k| format!(" where x > {k}"))
    ]
}

/// A condition; `refs` are derived names it may read (earlier ones only,
/// so there is never a cycle).
fn cond(refs: Vec<String>) -> BoxedStrategy<String> {
    let mut atoms: Vec<BoxedStrategy<String>> = vec![
        (
            event_name(),
            opt_where(),
            prop::option::of(duration()),
            1i64..4,
        )
            .prop_map(|(e, w, d, n)| {
                let window = d.map(|d| format!(" in {d}")).unwrap_or_default();
                format!("count({e}{w}{window}) >= {n}")
            })
            .boxed(),
        (event_name(), prop::option::of(duration()), 1i64..15)
            .prop_map(|(e, d, n)| {
                let window = d.map(|d| format!(" in {d}")).unwrap_or_default();
                format!("sum({e}.x{window}) >= {n}")
            })
            .boxed(),
        (event_name(), duration())
            .prop_map(|(e, d)| format!("since(last({e}) ?? first_seen) >= {d}"))
            .boxed(),
        (event_name(), opt_where(), duration())
            .prop_map(|(e, w, d)| format!("since(last({e}{w})) < {d}"))
            .boxed(),
        duration()
            .prop_map(|d| format!("since(first_seen) < {d}"))
            .boxed(),
        duration()
            .prop_map(|d| format!("now - first_seen >= {d}"))
            .boxed(),
        Just("last_seen > first_seen".to_string()).boxed(),
        (0i64..4).prop_map(|k| format!("profile.p > {k}")).boxed(),
        Just("has tag \"m\"".to_string()).boxed(),
        prop::sample::select(vec!["0.0001", "0.0003", "0.0007"])
            .prop_map(|f| format!("days(since(first_seen)) > {f}"))
            .boxed(),
        (event_name(), duration())
            .prop_map(|(e, d)| format!("first({e}) + {d} < now"))
            .boxed(),
        (1i64..10)
            .prop_map(|n| format!("balance(pts) >= {n}"))
            .boxed(),
        duration()
            .prop_map(|d| format!("expiring(pts in {d}) > 0"))
            .boxed(),
    ];
    if !refs.is_empty() {
        atoms.push(prop::sample::select(refs).boxed());
    }
    let leaf = prop::strategy::Union::new(atoms);
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| format!("not ({c})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a}) or ({b})")),
        ]
    })
    .boxed()
}

/// A trigger, and whether it has an event (`event.*` readable); `wide`
/// ones may also be a broadcast.
fn trigger(rules: usize, wide: bool) -> BoxedStrategy<(String, bool)> {
    let base = prop_oneof![
        (event_name(), opt_where()).prop_map(|(e, w)| (format!("{e}{w}"), true)),
        (event_name(), opt_where(), duration())
            .prop_map(|(e, w, d)| (format!("no {e}{w} for {d}"), false)),
        (
            duration(),
            any::<bool>(),
            event_name(),
            opt_where(),
            prop::option::of((event_name(), opt_where()))
        )
            .prop_map(|(d, last, e, w, u)| {
                let last = if last { "last " } else { "" };
                let unless = u
                    .map(|(f, w2)| format!(" unless {f}{w2}"))
                    .unwrap_or_default();
                (format!("{d} after {last}{e}{w}{unless}"), true)
            }),
        (duration(), 0..rules, prop::option::of(event_name())).prop_map(|(d, r, u)| {
            let unless = u.map(|f| format!(" unless {f}")).unwrap_or_default();
            (format!("{d} after rule r{r}{unless}"), false)
        }),
        Just(("enters s0".to_string(), false)),
        Just(("exits s1".to_string(), false)),
        Just(("st becomes l1".to_string(), false)),
        Just(("st changes".to_string(), false)),
        (0u32..20).prop_map(|m| (format!("every day at 00:{m:02}"), false)),
        (0u32..20).prop_map(|m| (format!("anniversary of profile.bd at 00:{m:02}"), false)),
    ];
    if !wide {
        return base.boxed();
    }
    prop_oneof![
        5 => base,
        1 => opt_where().prop_map(|w| (format!("restock{w}"), true)),
    ]
    .boxed()
}

/// Governance clauses of a rule: `limit`, `at`, `quiet`, `holdout`.
fn governance() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            3 => Just(String::new()),
            1 => Just(" limit once".to_string()),
            1 => (1u32..3, duration()).prop_map(|(n, d)| format!(" limit {n} per {d}")),
        ],
        prop_oneof![4 => Just(String::new()), 1 => (0u32..20).prop_map(|m| format!(" at 00:{m:02}"))],
        prop_oneof![
            4 => Just(String::new()),
            1 => prop::sample::select(vec![" quiet ignore", " quiet drop", " quiet defer"]).prop_map(String::from),
        ],
        prop_oneof![4 => Just(String::new()), 1 => Just(" holdout 30%".to_string())],
    )
        .prop_map(|(limit, at, quiet, holdout)| format!("{limit}{at}{quiet}{holdout}"))
}

/// A built-in action (in wide programs, also one that moves the customer
/// to another zone).
fn builtin(wide: bool) -> BoxedStrategy<String> {
    let plain = prop_oneof![
        Just(", add tag \"m\"".to_string()),
        Just(", remove tag \"m\"".to_string()),
        (0i64..5).prop_map(|k| format!(", set profile.p = {k}")),
    ];
    if !wide {
        return plain.boxed();
    }
    prop_oneof![
        3 => plain,
        1 => prop::sample::select(ZONES.to_vec()).prop_map(|z| format!(", set profile.tz = \"{z}\"")),
    ]
    .boxed()
}

fn rule(index: usize, rules: usize, wide: bool) -> impl Strategy<Value = String> {
    let refs = vec![
        "s0".to_string(),
        "s1".to_string(),
        "st is l0".to_string(),
        "st in [l1, l2]".to_string(),
    ];
    // In wide programs an event's guard may also aggregate what matches the
    // event (`count(purchase where sku == event.sku in 365d)`); nothing is
    // drawn here otherwise, so narrow programs draw as they always have.
    let history = if wide {
        prop::option::of(prop::sample::select(vec![
            "count(a where x == event.x) >= 1",
            "count(b where x >= event.x in 30s) >= 1",
            "sum(a.x where x != event.x in 1m) > 2",
        ]))
        .boxed()
    } else {
        Just(None).boxed()
    };
    (
        trigger(rules, wide),
        prop::option::of(cond(refs)),
        any::<bool>(),
        prop::option::of(builtin(wide)),
        prop::option::of(-2i64..3),
        governance(),
        any::<bool>(),
        history,
    )
        .prop_map(move |((trigger, has_event), guard, event_guard, builtin, priority, governance, staff, history)| {
            let on_event = match history {
                Some(h) => format!("event.x > 1 and {h}"),
                None => "event.x > 1".to_string(),
            };
            let guard = match (has_event && event_guard, guard) {
                (true, Some(g)) => format!(" if {on_event} and ({g})"),
                (true, None) => format!(" if {on_event}"),
                (false, Some(g)) => format!(" if {g}"),
                (false, None) => String::new(),
            };
            let value = if has_event { "event.x" } else { "count(a)" };
            let builtin = builtin.unwrap_or_default();
            let priority = priority.map(|p| format!(" priority {p}")).unwrap_or_default();
            // A calendar trigger carries its own `at`.
            let calendar = trigger.starts_with("every") || trigger.starts_with("anniversary");
            let governance = match (calendar, governance.find(" at 00:")) {
                (true, Some(i)) => format!("{}{}", &governance[..i], &governance[i + 9..]),
                _ => governance,
            };
            // `staff` has no channel: caps never count it.
            let action = if staff { "staff" } else { "push" };
            format!(
                "rule r{index} {{ when {trigger}{guard} do {action}(k: \"r{index}\", v: {value}){builtin}{priority}{governance} }}"
            )
        })
}

/// A program; a `wide` one also has a program zone or a per-customer one
/// (or both), rules that move customers between zones, a broadcast, and
/// guards that aggregate what matches the triggering event.
fn program(wide: bool) -> impl Strategy<Value = String> {
    let zones = if wide {
        (
            prop::option::of(prop::sample::select(ZONES[..5].to_vec())),
            any::<bool>(),
        )
            .prop_map(|(program, customer)| {
                let program = program
                    .map(|z| format!("timezone \"{z}\"\n"))
                    .unwrap_or_default();
                let customer = if customer {
                    "timezone profile.tz\n"
                } else {
                    ""
                };
                format!("{program}{customer}broadcast restock {{ x: int }}\n")
            })
            .boxed()
    } else {
        Just(String::new()).boxed()
    };
    (
        cond(vec![]),
        cond(vec!["s0".into()]),
        cond(vec!["s0".into(), "s1".into()]),
        cond(vec!["s1".into()]),
        cond(vec!["s0".into(), "st is l1".into()]),
        prop::collection::vec(0usize..1, 1..5),
        prop_oneof![2 => Just(String::new()), 1 => (1u32..4, duration()).prop_map(|(n, d)| format!("cap wecom: {n} per {d}\n"))],
        prop_oneof![
            2 => Just(String::new()),
            1 => (1u32..12, 1u32..6, prop::sample::select(vec!["", " defer", " drop"]))
                .prop_map(|(m, len, p)| format!("quiet 00:{m:02}-00:{:02}{p}\n", m + len)),
        ],
        // Last, and nothing drawn when not wide: the unwide properties
        // draw as they always have, so their stored regressions replay the
        // same cases.
        zones,
    )
        .prop_flat_map(move |(c0, c1, l0, l1, t0, n, cap, quiet, zones)| {
            let rules = n.len();
            let rule_strategies: Vec<_> = (0..rules).map(|i| rule(i, rules, wide)).collect();
            (Just((c0, c1, l0, l1, t0, cap, quiet, zones)), rule_strategies, duration())
        })
        .prop_map(|((c0, c1, l0, l1, t0, cap, quiet, zones), rules, expire)| {
            format!(
                "event a {{ x: int }}\nevent b {{ x: int }}\nprofile {{ p: int, bd: date, tz: string }}\n\
                 action push(k: string, v: int) channel wecom\naction staff(k: string, v: int)\n{zones}{cap}{quiet}\
                 ledger pts {{\n  earn event.x on a\n  spend event.x on b\n  expire after {expire}\n}}\n\
                 segment s0 = {c0}\nsegment s1 = {c1}\n\
                 stage st {{\n  l0 when {l0}\n  l1 when {l1}\n  l2 otherwise\n}}\n\
                 tag \"t0\" when {t0}\n{}\n",
                rules.join("\n")
            )
        })
}

/// One input line: an event of a customer or an advance, as offsets.
#[derive(Clone, Debug)]
enum In {
    Event {
        customer: u8,
        kind: u8,
        step: i64,
        late: i64,
        x: i64,
        id: Option<u8>,
    },
    Advance(i64),
    /// A `restock` broadcast (wide programs only).
    Broadcast {
        step: i64,
        late: i64,
        x: i64,
    },
}

fn inputs(wide: bool) -> impl Strategy<Value = Vec<In>> {
    // Kinds: a, b, an undeclared type, `$profile`, `$tag`/`$untag`, and
    // in wide runs `$forget`.
    let kinds = if wide { 9 } else { 8 };
    let event = (
        0u8..3,
        0u8..kinds,
        0i64..40,
        prop_oneof![4 => Just(0i64), 1 => 1i64..60],
        0i64..6,
        prop::option::of(0u8..6),
    )
        .prop_map(|(customer, kind, step, late, x, id)| In::Event {
            customer,
            kind,
            step,
            late,
            x,
            id,
        });
    let advance = (0i64..240).prop_map(In::Advance);
    let input = if wide {
        let broadcast = (
            0i64..40,
            prop_oneof![3 => Just(0i64), 1 => 1i64..60],
            0i64..6,
        )
            .prop_map(|(step, late, x)| In::Broadcast { step, late, x });
        prop_oneof![6 => event, 1 => advance, 1 => broadcast].boxed()
    } else {
        prop_oneof![6 => event, 1 => advance].boxed()
    };
    prop::collection::vec(input, 1..25)
}

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// The input lines; in `wide` runs profile events also set the
/// customer's zone (or unset it).
fn lines(inputs: &[In], wide: bool) -> Vec<String> {
    let mut t = T0;
    inputs
        .iter()
        .map(|i| match i {
            In::Advance(dt) => {
                t += dt;
                format!("{{\"advance\": \"{}\"}}", rfc3339(t))
            }
            In::Broadcast { step, late, x } => {
                t += step;
                let at = rfc3339(t - late);
                format!("{{\"type\": \"restock\", \"time\": \"{at}\", \"data\": {{\"x\": {x}}}}}")
            }
            In::Event {
                customer,
                kind,
                step,
                late,
                x,
                id,
            } => {
                t += step;
                let at = rfc3339(t - late);
                let id = id.map(|i| format!("\"id\": \"e{i}\", ")).unwrap_or_default();
                let (kind, data) = match kind {
                    0..=2 => ("a", format!("{{\"x\": {x}}}")),
                    3..=4 => ("b", format!("{{\"x\": {x}}}")),
                    5 => ("zz", "{}".to_string()),
                    6 => {
                        // Birthdays on the first day (an anniversary within
                        // the run), the last, or 29 February.
                        let bd = ["2000-01-01", "1999-12-31", "2004-02-29"][(x % 3) as usize];
                        let tz = match (*x as usize + *customer as usize) % 7 {
                            _ if !wide => String::new(),
                            6 => ", \"tz\": null".to_string(),
                            i => format!(", \"tz\": \"{}\"", ZONES[i]),
                        };
                        ("$profile", format!("{{\"p\": {x}, \"bd\": \"{bd}\"{tz}}}"))
                    }
                    7 => (if x % 2 == 0 { "$tag" } else { "$untag" }, "{\"tag\": \"m\"}".to_string()),
                    _ => ("$forget", "{}".to_string()),
                };
                format!("{{{id}\"customer\": \"c{customer}\", \"type\": \"{kind}\", \"time\": \"{at}\", \"data\": {data}}}")
            }
        })
        .collect()
}

fn by_customer(actions: &[Json]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in actions {
        let customer = a["customer"].as_str().unwrap_or("?").to_string();
        out.entry(customer).or_default().push(a.to_string());
    }
    out
}

/// Ids are the engine's bookkeeping; the reference checks behaviour.
fn without_id(a: &siyu::Action) -> Json {
    let mut j = a.to_json();
    if let Some(obj) = j.as_object_mut() {
        obj.remove("id");
    }
    j
}

fn run_both(source: &str, lines: &[String]) -> Result<(), TestCaseError> {
    let program = match compile(source) {
        Ok(p) => p,
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "generated program rejected:\n{}",
                e.render("gen.siyu")
            )));
        }
    };
    let mut engine = Engine::new(&program);
    let mut got = Vec::new();
    // docs/host.md, the calls: each call's actions come out in `at` order, and an action's
    // id is unique within its customer's history (which `$forget` ends:
    // nothing is kept to tell a later life of the same id apart).
    let mut ids = std::collections::BTreeSet::new();
    let mut check = |actions: Vec<siyu::Action>, forgotten: Option<&str>| {
        prop_assert!(
            actions.windows(2).all(|w| w[0].at <= w[1].at),
            "one call's actions out of `at` order: {:?}",
            actions
        );
        for a in &actions {
            prop_assert!(
                ids.insert((a.customer.clone(), a.id.clone())),
                "action id used twice: {:?}",
                a
            );
        }
        got.extend(actions.iter().map(without_id));
        // What a `$forget` returns fell due before it, in the old life.
        if let Some(customer) = forgotten {
            ids.retain(|(c, _): &(String, String)| c != customer);
        }
        Ok(())
    };
    for line in lines {
        let json: Json = serde_json::from_str(line).expect("generated JSON");
        let forgotten = (json["type"] == "$forget")
            .then(|| json["customer"].as_str())
            .flatten();
        check(engine.replay_line(line).unwrap_or_default(), forgotten)?;
    }
    check(engine.replay_end(None), None)?;
    let order = reference::derived_order(&program);
    let mut r = reference::Reference::new(program.module(), &order);
    for line in lines {
        r.line(line);
    }
    r.finish();
    if std::env::var_os("SIYU_STATS").is_some() {
        eprintln!("actions: {}", got.len());
    }
    let (got, want) = (by_customer(&got), by_customer(r.output()));
    prop_assert_eq!(
        &got,
        &want,
        "program:\n{}\ninput:\n{}",
        syntax::print(program.module()),
        lines.join("\n")
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(600), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_the_reference(source in program(false), inputs in inputs(false)) {
        run_both(&source, &lines(&inputs, false))?;
    }

    /// The same over wide programs: a program zone, customers' own zones
    /// and customers moving between them by profile events and by rules;
    /// broadcasts; guards that aggregate what matches the triggering event.
    #[test]
    fn engine_agrees_with_the_reference_wide(source in program(true), inputs in inputs(true)) {
        run_both(&source, &lines(&inputs, true))?;
    }
}

/// How a run is interrupted: the engine goes through a snapshot and
/// restore, or is upgraded to the same source compiled again.
#[derive(Clone, Copy, Debug)]
enum Break {
    Snapshot,
    Upgrade,
}

impl Break {
    fn apply(
        self,
        program: &siyu::Program,
        source: &str,
        mut engine: Engine,
    ) -> Result<Engine, TestCaseError> {
        match self {
            Break::Snapshot => Engine::restore(program, &engine.snapshot())
                .map_err(|e| TestCaseError::fail(e.to_string())),
            Break::Upgrade => {
                let again =
                    compile(source).map_err(|e| TestCaseError::fail(e.render("gen.siyu")))?;
                let report = engine.upgrade(&again);
                prop_assert!(
                    report.rules_reset.is_empty()
                        && report.rules_dropped.is_empty()
                        && report.aggregates_new.is_empty(),
                    "the same program must keep everything: {:?}",
                    report
                );
                Ok(engine)
            }
        }
    }
}

/// The same stream through an engine interrupted after every `cut`-th line
/// (and before the end) gives byte-identical actions, ids included.
fn interrupted_run(
    source: &str,
    lines: &[String],
    cut: usize,
    how: Break,
) -> Result<(), TestCaseError> {
    let program = compile(source).map_err(|e| TestCaseError::fail(e.render("gen.siyu")))?;
    let run = |cut: Option<usize>| -> Result<Vec<String>, TestCaseError> {
        let mut engine = Engine::new(&program);
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if cut.is_some_and(|cut| i % cut == 0) {
                engine = how.apply(&program, source, engine)?;
            }
            out.extend(
                engine
                    .replay_line(line)
                    .unwrap_or_default()
                    .iter()
                    .map(|a| a.to_json().to_string()),
            );
        }
        if cut.is_some() {
            engine = how.apply(&program, source, engine)?;
        }
        out.extend(
            engine
                .replay_end(None)
                .iter()
                .map(|a| a.to_json().to_string()),
        );
        Ok(out)
    };
    let straight = run(None)?;
    prop_assert_eq!(run(Some(cut))?, straight);
    Ok(())
}

/// A host that keeps each customer's state as JSON in its own store and
/// steps it with the stateless API gets each customer's actions, ids
/// included, exactly as the engine emits them.
fn stateless_run(source: &str, lines: &[String]) -> Result<(), TestCaseError> {
    use siyu::{CustomerState, Event, Input, StateLimits, step};
    let program = compile(source).map_err(|e| TestCaseError::fail(e.render("gen.siyu")))?;
    let mut engine = Engine::new(&program);
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        for a in engine.replay_line(line).unwrap_or_default() {
            want.entry(a.customer.clone())
                .or_default()
                .push(a.to_json().to_string());
        }
    }
    for a in engine.replay_end(None) {
        want.entry(a.customer.clone())
            .or_default()
            .push(a.to_json().to_string());
    }
    let limits = StateLimits::default();
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut clock: Option<i64> = None;
    // Every stored customer stepped with one input (a failed step leaves
    // the state as it was).
    let step_all = |store: &mut BTreeMap<String, String>,
                    got: &mut BTreeMap<String, Vec<String>>,
                    input: Input<'_>,
                    now: i64| {
        for (id, json) in store.iter_mut() {
            let mut st: CustomerState = serde_json::from_str(json).expect("stored state");
            if let Ok(r) = step(&program, &mut st, input, at(now), &limits) {
                got.entry(id.clone())
                    .or_default()
                    .extend(r.actions.iter().map(|a| a.to_json().to_string()));
                *json = serde_json::to_string(&st).expect("serializes");
            }
        }
    };
    for line in lines {
        let json: Json = serde_json::from_str(line).expect("generated JSON");
        if let Some(t) = json
            .get("advance")
            .and_then(Json::as_str)
            .and_then(|s| siyu::Instant::parse(s).ok())
            .map(siyu::Instant::unix)
        {
            let t = clock.map_or(t, |c| c.max(t));
            clock = Some(t);
            step_all(&mut store, &mut got, Input::Tick(at(t)), t);
            continue;
        }
        let Ok(ev) = Event::parse_for(&program, line) else {
            continue;
        };
        let Some(id) = ev.customer().map(str::to_string) else {
            // A broadcast: the host steps every stored customer with it,
            // and `step` leaves out those it does not reach.
            let now = clock.map_or(ev.time().unix(), |c| c.max(ev.time().unix()));
            step_all(&mut store, &mut got, Input::Event(&ev), now);
            clock = Some(now);
            continue;
        };
        let now = clock.map_or(ev.time().unix(), |c| c.max(ev.time().unix()));
        let mut st = match store.get(&id) {
            Some(json) => serde_json::from_str(json).expect("stored state"),
            None => CustomerState::new(&program, &id),
        };
        if let Ok(r) = step(&program, &mut st, Input::Event(&ev), at(now), &limits) {
            if !r.duplicate {
                clock = Some(now);
            }
            got.entry(id.clone())
                .or_default()
                .extend(r.actions.iter().map(|a| a.to_json().to_string()));
            store.insert(id, serde_json::to_string(&st).expect("serializes"));
        }
    }
    if let Some(t) = clock {
        step_all(&mut store, &mut got, Input::Tick(at(t)), t);
    }
    got.retain(|_, v| !v.is_empty());
    prop_assert_eq!(got, want);
    Ok(())
}

/// A host's segment query at a later instant, on the state as its last
/// step left it, answers as the state stepped to that instant does. (Where
/// the step runs a built-in action the two differ by design: a query runs
/// no rules, so those instants are passed over.)
fn segment_run(source: &str, lines: &[String]) -> Result<(), TestCaseError> {
    use siyu::{Input, StateLimits, step};
    let program = compile(source).map_err(|e| TestCaseError::fail(e.render("gen.siyu")))?;
    let mut engine = Engine::new(&program);
    for line in lines {
        let _ = engine.replay_line(line);
    }
    let Some(clock) = engine.clock().map(siyu::Instant::unix) else {
        return Ok(());
    };
    let segments: Vec<_> = ["s0", "s1"]
        .iter()
        .filter_map(|n| program.segment_id(n))
        .collect();
    for customer in ["c0", "c1", "c2"] {
        let Some(st) = engine.customer(customer) else {
            continue;
        };
        for later in [0, 1, 7, 30, 61, 125, 600] {
            let t = clock + later;
            let mut stepped = st.clone();
            let Ok(r) = step(
                &program,
                &mut stepped,
                Input::Tick(at(t)),
                at(t),
                &StateLimits::default(),
            ) else {
                continue;
            };
            if r.actions.iter().any(|a| a.action.starts_with('$')) {
                continue;
            }
            for &id in &segments {
                prop_assert_eq!(
                    st.segment(&program, id, at(t)),
                    stepped.segment(&program, id, at(t)),
                    "{:?} of {} at +{}s",
                    id,
                    customer,
                    later
                );
            }
        }
    }
    Ok(())
}

/// Lines the engine must reject, each naming its customer and time (a
/// later one than anything in the stream, so that a rejected line that
/// moved the clock would show).
fn bad_line(kind: u8, customer: u8) -> String {
    let t = "\"2026-01-02T00:00:00Z\"";
    match kind % 8 {
        0 => format!(
            "{{\"customer\": \"c{customer}\", \"type\": \"a\", \"time\": {t}, \"data\": {{\"x\": \"one\"}}}}"
        ),
        1 => format!(
            "{{\"customer\": \"c{customer}\", \"type\": \"b\", \"time\": {t}, \"data\": {{\"x\": 1, \"y\": 2}}}}"
        ),
        2 => format!("{{\"customer\": \"c{customer}\", \"type\": \"a\", \"time\": \"yesterday\"}}"),
        3 => format!("{{\"customer\": \"c{customer}\", \"type\": "),
        4 => format!("{{\"type\": \"a\", \"time\": {t}, \"data\": {{\"x\": {customer}}}}}"),
        5 => format!("{{\"type\": \"restock\", \"time\": {t}, \"data\": {{\"x\": 1.5}}}}"),
        6 => format!(
            "{{\"customer\": \"c{customer}\", \"type\": \"$profile\", \"time\": {t}, \"data\": {{\"vip\": true}}}}"
        ),
        _ => format!(
            "{{\"customer\": \"c{customer}\", \"type\": \"$tag\", \"time\": {t}, \"data\": {{}}}}"
        ),
    }
}

/// docs/host.md, events in: a rejected line has no effect at all, not even on the clock;
/// the stream with bad lines spliced in gives the same actions, ids
/// included, and counts each bad line as rejected.
fn rejected_run(
    source: &str,
    lines: &[String],
    bad: &[(usize, u8, u8)],
) -> Result<(), TestCaseError> {
    let program = compile(source).map_err(|e| TestCaseError::fail(e.render("gen.siyu")))?;
    let run = |lines: &[String]| {
        let mut engine = Engine::new(&program);
        let mut out: Vec<String> = Vec::new();
        for line in lines {
            let actions = engine.replay_line(line).unwrap_or_default();
            out.extend(actions.iter().map(|a| a.to_json().to_string()));
        }
        out.extend(
            engine
                .replay_end(None)
                .iter()
                .map(|a| a.to_json().to_string()),
        );
        (out, engine.metrics().rejected)
    };
    let (want, rejected) = run(lines);
    let mut spliced = lines.to_vec();
    for &(at, kind, customer) in bad.iter().rev() {
        spliced.insert(at.min(spliced.len()), bad_line(kind, customer));
    }
    let (got, rejected_now) = run(&spliced);
    prop_assert_eq!(got, want);
    prop_assert_eq!(rejected_now, rejected + bad.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(200), max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn rejected_lines_change_nothing(
        source in program(true),
        inputs in inputs(true),
        bad in prop::collection::vec((0usize..25, 0u8..8, 0u8..3), 1..6),
    ) {
        rejected_run(&source, &lines(&inputs, true), &bad)?;
    }

    #[test]
    fn segment_queries_later_match_stepping_there(source in program(false), inputs in inputs(false)) {
        segment_run(&source, &lines(&inputs, false))?;
    }

    #[test]
    fn snapshot_and_restore_anywhere_change_nothing(source in program(false), inputs in inputs(false), cut in 1usize..6) {
        interrupted_run(&source, &lines(&inputs, false), cut, Break::Snapshot)?;
    }

    #[test]
    fn stateless_steps_with_stored_state_match_the_engine(source in program(false), inputs in inputs(false)) {
        stateless_run(&source, &lines(&inputs, false))?;
    }

    /// Both again over wide programs (the zone a state keeps parsed is not
    /// stored, so a restored state must find it again; a broadcast reaches
    /// stored states too).
    #[test]
    fn snapshot_and_restore_wide(source in program(true), inputs in inputs(true), cut in 1usize..6) {
        interrupted_run(&source, &lines(&inputs, true), cut, Break::Snapshot)?;
    }

    #[test]
    fn upgrading_to_the_same_program_anywhere_changes_nothing(source in program(true), inputs in inputs(true), cut in 1usize..6) {
        interrupted_run(&source, &lines(&inputs, true), cut, Break::Upgrade)?;
    }

    #[test]
    fn stateless_steps_wide(source in program(true), inputs in inputs(true)) {
        stateless_run(&source, &lines(&inputs, true))?;
    }
}
