//! Engine behaviour beyond the conformance cases: the cost of `advance_to`,
//! long clock jumps, host events, transactions and the stateless API.

use siyu::{CustomerState, Engine, Event, Input, Instant, StateLimits, compile, step};

const DAY: i64 = 86_400;
const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn event(customer: &str, kind: &str, t: i64, data: &str) -> String {
    format!(
        "{{\"customer\": \"{customer}\", \"type\": \"{kind}\", \"time\": \"{}\", \"data\": {data}}}",
        format_time(t)
    )
}

/// An instant in Unix seconds.
fn at(t: i64) -> Instant {
    Instant::from_unix(t).expect("test instant")
}

fn program(src: &str) -> siyu::Program {
    compile(src).unwrap_or_else(|e| panic!("{}", e.render("test.siyu")))
}

/// `advance_to` touches only customers with something due: the same work
/// with 10 or 10,000 idle customers beside 100 busy ones.
#[test]
fn advance_cost_follows_due_timers_not_population() {
    let p = program(
        "event purchase {}\nevent browse {}\naction push(content: string)\n\
         rule tips { when 3d after purchase do push(content: \"tips\") }",
    );
    let mut steps = Vec::new();
    for idle in [10, 10_000] {
        let mut engine = Engine::new(&p);
        for i in 0..100 {
            engine
                .process(&event(&format!("busy{i}"), "purchase", T0, "{}"))
                .expect("valid");
        }
        for i in 0..idle {
            engine
                .process(&event(&format!("idle{i}"), "browse", T0, "{}"))
                .expect("valid");
        }
        let before = engine.timer_steps();
        let fired = engine.advance_to(at(T0 + 10 * DAY));
        assert_eq!(fired.len(), 100);
        steps.push(engine.timer_steps() - before);
    }
    assert_eq!(steps, vec![100, 100]);
}

/// A wake-up that events keep moving later is stepped once, at its final
/// instant: the entry queued for the first one re-queues it, and nothing is
/// stepped at the instants it has moved away from.
#[test]
fn a_wake_up_moved_later_is_stepped_once() {
    let p = program(
        "event visit {}
action push(content: string)
         rule miss { when no visit for 3d do push(content: \"miss you\") }",
    );
    let mut engine = Engine::new(&p);
    for (c, days) in [("a", 0), ("a", 1), ("a", 2), ("b", 0)] {
        engine
            .process(&event(c, "visit", T0 + days * DAY, "{}"))
            .expect("valid");
    }
    let mut advance = |t: i64| {
        let out = engine.advance_to(at(t));
        let fired: Vec<(String, i64)> =
            out.into_iter().map(|a| (a.customer, a.at.unix())).collect();
        (fired, engine.timer_steps())
    };
    // `b` is due at day 3; `a` was, before its later visits.
    assert_eq!(
        advance(T0 + 4 * DAY),
        (vec![("b".to_string(), T0 + 3 * DAY)], 1)
    );
    assert_eq!(
        advance(T0 + 6 * DAY),
        (vec![("a".to_string(), T0 + 5 * DAY)], 2)
    );
}

/// A one-year jump fires every transition at its own instant, in order.
#[test]
fn a_year_in_one_jump() {
    let p = program(
        "event interaction {}\nevent purchase { amount: number }\naction push(content: string)\n\
         segment active = count(purchase in 30d) >= 1\n\
         rule react { when no interaction for 90d do push(content: \"comeback\") }\n\
         rule lapse { when exits active do push(content: \"lapsed\") }",
    );
    let mut engine = Engine::new(&p);
    for i in 0..500 {
        let t = T0 + i * 3600;
        engine
            .process(&event(&format!("c{i}"), "interaction", t, "{}"))
            .expect("valid");
        engine
            .process(&event(&format!("c{i}"), "purchase", t, "{\"amount\": 10}"))
            .expect("valid");
    }
    let out = engine.advance_to(at(T0 + 365 * DAY));
    assert_eq!(out.len(), 1000);
    assert!(
        out.windows(2).all(|w| w[0].at <= w[1].at),
        "actions come out in `at` order"
    );
    for a in &out {
        let i: i64 = a.customer[1..].parse().expect("numbered customer");
        let expected = match a.rule.as_deref() {
            Some("react") => T0 + i * 3600 + 90 * DAY,
            _ => T0 + i * 3600 + 30 * DAY,
        };
        assert_eq!(a.at.unix(), expected, "{a:?}");
    }
}

#[test]
fn host_events_profile_and_tags() {
    let p = program(
        "event ping {}\nprofile { vip: bool }\naction push(content: string)\n\
         segment vip = profile.vip == true\n\
         rule hello { when enters vip do push(content: \"vip\") }\n\
         rule tagged { when ping if has tag \"x\" do push(content: \"tagged\"), remove tag \"x\" }",
    );
    let mut engine = Engine::new(&p);
    let out = engine
        .process(&event("c1", "$profile", T0, "{\"vip\": true}"))
        .expect("valid");
    assert_eq!(out.len(), 1, "entering a segment through $profile");
    assert!(
        engine
            .process(&event("c1", "$tag", T0 + 1, "{\"tag\": \"x\"}"))
            .expect("valid")
            .is_empty()
    );
    let out = engine
        .process(&event("c1", "ping", T0 + 2, "{}"))
        .expect("valid");
    let names: Vec<&str> = out.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(names, ["push", "$tag_removed"]);
    // Unknown attributes and auto-tag names are rejected.
    assert!(
        engine
            .process(&event("c1", "$profile", T0 + 3, "{\"nope\": 1}"))
            .is_err()
    );
    assert_eq!(engine.metrics().rejected, 1);
}

#[test]
fn a_rejected_event_changes_nothing() {
    let p = program(
        "event purchase { amount: number }\naction push(content: string)\n\
         rule tips { when 1d after purchase do push(content: \"tips\") }",
    );
    let mut engine = Engine::new(&p);
    engine
        .process(&event("c1", "purchase", T0, "{\"amount\": 1}"))
        .expect("valid");
    let before = format!("{:?}", engine.customer("c1"));
    let clock = engine.clock();
    for bad in [
        event("c1", "purchase", T0 + 2 * DAY, "{\"amount\": \"x\"}"),
        event("c1", "purchase", T0 + 2 * DAY, "{\"other\": 1}"),
        "{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"yesterday\"}".to_string(),
        "not json".to_string(),
        "{\"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\"}".to_string(),
    ] {
        assert!(engine.process(&bad).is_err(), "{bad}");
    }
    assert_eq!(format!("{:?}", engine.customer("c1")), before);
    assert_eq!(engine.clock(), clock, "not even the clock moved");
    assert_eq!(engine.advance_to(at(T0 + 2 * DAY)).len(), 1);
}

#[test]
fn cascades_settle_or_are_rejected() {
    // Two rules that undo each other forever.
    let p = program(
        "event ping {}\naction push(content: string)\n\
         segment marked = has tag \"m\"\n\
         rule mark { when ping do add tag \"m\" }\n\
         rule off { when enters marked do remove tag \"m\" }\n\
         rule again { when exits marked do add tag \"m\" }",
    );
    let mut engine = Engine::new(&p);
    let err = engine.process(&event("c1", "ping", T0, "{}")).unwrap_err();
    assert!(err.to_string().contains("cascade depth"), "{err}");
    assert!(
        engine.customer("c1").is_none(),
        "a rejected first event leaves no customer"
    );
    // One that settles: a tag added because of another tag.
    let p = program(
        "event ping {}\naction push(content: string)\n\
         segment marked = has tag \"m\"\n\
         rule mark { when ping do add tag \"m\" }\n\
         rule follow { when enters marked do add tag \"n\", push(content: \"marked\") }",
    );
    let mut engine = Engine::new(&p);
    let out = engine
        .process(&event("c1", "ping", T0, "{}"))
        .expect("settles");
    let names: Vec<(&str, &str)> = out
        .iter()
        .map(|a| (a.rule.as_deref().unwrap_or("-"), a.action.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("mark", "$tag_added"),
            ("follow", "$tag_added"),
            ("follow", "push")
        ]
    );
}

/// A host that keeps state in its own store, serializing between calls,
/// gets the engine's actions.
#[test]
fn stateless_steps_with_serialized_state_match_the_engine() {
    let src = "event purchase { amount: number }\nevent interaction {}\naction push(content: string)\n\
               segment big = sum(purchase.amount in 7d) >= 100\n\
               rule enter { when enters big do push(content: \"big\") }\n\
               rule leave { when exits big do push(content: \"small\") }\n\
               rule silent { when no interaction for 3d do push(content: \"quiet\") }";
    let p = program(src);
    let lines: Vec<String> = (0..20)
        .map(|i| match i % 3 {
            0 => event("c1", "interaction", T0 + i * 40_000, "{}"),
            _ => event("c1", "purchase", T0 + i * 40_000, "{\"amount\": 30}"),
        })
        .collect();
    let mut engine = Engine::new(&p);
    let mut want = Vec::new();
    for l in &lines {
        want.extend(engine.process(l).expect("valid"));
    }
    want.extend(engine.advance_to(at(T0 + 60 * DAY)));
    let mut stored = serde_json::to_string(&CustomerState::new(&p, "c1")).expect("serializes");
    let mut got = Vec::new();
    let mut clock = i64::MIN;
    let limits = StateLimits::default();
    let inputs: Vec<Result<Event, i64>> = lines
        .iter()
        .map(|l| Ok(siyu::Event::parse_for(&p, l).expect("valid")))
        .chain([Err(T0 + 60 * DAY)])
        .collect();
    for input in &inputs {
        let mut st: CustomerState = serde_json::from_str(&stored).expect("deserializes");
        let (input, t) = match input {
            Ok(ev) => (Input::Event(ev), ev.time().unix()),
            Err(t) => (Input::Tick(at(*t)), *t),
        };
        clock = clock.max(t);
        got.extend(
            step(&p, &mut st, input, at(clock), &limits)
                .expect("steps")
                .actions,
        );
        stored = serde_json::to_string(&st).expect("serializes");
    }
    assert_eq!(got, want);
    assert_eq!(want.len(), 3, "{want:?}");
}

#[test]
fn forget_erases_state_timers_and_dedup_ids() {
    let p = program(
        "event purchase {}\naction push(content: string)\n\
         rule thanks { when purchase do push(content: \"thanks\") }\n\
         rule tips { when 1d after purchase do push(content: \"tips\") }",
    );
    let mut engine = Engine::new(&p);
    let line = |id: &str, t: i64| {
        format!(
            "{{\"id\": \"{id}\", \"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"{}\"}}",
            format_time(t)
        )
    };
    assert_eq!(engine.process(&line("e1", T0)).expect("valid").len(), 1);
    engine
        .process(&event("c1", "$forget", T0 + 10, "{}"))
        .expect("valid");
    assert!(engine.customer("c1").is_none());
    assert!(
        engine.advance_to(at(T0 + 3 * DAY)).is_empty(),
        "the pending `tips` is gone"
    );
    // The same id is no longer a duplicate: nothing is remembered.
    assert_eq!(
        engine
            .process(&line("e1", T0 + 3 * DAY))
            .expect("valid")
            .len(),
        1
    );
    // The stateless API forgets the same way.
    let mut st = CustomerState::new(&p, "c1");
    let ev = Event::parse_for(&p, &line("e2", T0)).expect("valid");
    step(
        &p,
        &mut st,
        Input::Event(&ev),
        at(T0),
        &StateLimits::default(),
    )
    .expect("steps");
    let forget = Event::parse_for(&p, &event("c1", "$forget", T0 + 1, "{}")).expect("valid");
    step(
        &p,
        &mut st,
        Input::Event(&forget),
        at(T0 + 1),
        &StateLimits::default(),
    )
    .expect("steps");
    assert_eq!(st, CustomerState::new(&p, "c1"));
    // What fell due before the request still fires, in both, as the
    // engine fires every timer before an event's instant first.
    let mut engine = Engine::new(&p);
    engine.process(&line("e3", T0)).expect("valid");
    let late = event("c1", "$forget", T0 + 2 * DAY, "{}");
    let fired = engine.process(&late).expect("valid");
    assert_eq!(fired.len(), 1, "`tips` fell due a day before the request");
    let mut st = CustomerState::new(&p, "c1");
    let ev = Event::parse_for(&p, &line("e3", T0)).expect("valid");
    step(
        &p,
        &mut st,
        Input::Event(&ev),
        at(T0),
        &StateLimits::default(),
    )
    .expect("steps");
    let forget = Event::parse_for(&p, &late).expect("valid");
    let r = step(
        &p,
        &mut st,
        Input::Event(&forget),
        at(T0 + 2 * DAY),
        &StateLimits::default(),
    )
    .expect("steps");
    assert_eq!(r.actions, fired);
    assert_eq!(st, CustomerState::new(&p, "c1"));
}

/// `replay --diff`: what changes when a rule changes, per rule.
#[test]
fn what_if_compares_two_programs_per_rule() {
    let run = |src: &str| {
        let p = program(src);
        let mut engine = Engine::new(&p);
        let mut out = Vec::new();
        for i in 0..10 {
            out.extend(
                engine
                    .process(&event(&format!("c{i}"), "interaction", T0 + i * DAY, "{}"))
                    .expect("valid"),
            );
        }
        out.extend(engine.advance_to(at(T0 + 200 * DAY)));
        out
    };
    let base = "event interaction {}\naction push(content: string)\n\
                rule react { when no interaction for 90d do push(content: \"x\") }\n\
                rule hello { when interaction do push(content: \"hi\") }";
    let a = run(base);
    let b = run(&base.replace("90d", "60d"));
    let diffs = siyu::engine::diff::compare(&a, &b);
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    let d = &diffs[0];
    assert_eq!(
        (d.rule.as_str(), d.firings_a, d.firings_b, d.customers),
        ("react", 10, 10, 10)
    );
    assert_eq!(
        d.differing_firings, 20,
        "every firing moved 30 days earlier"
    );
    assert!(
        siyu::engine::diff::render(&diffs, "a", "b")
            .contains("`react`: the same number of firings; 20 firings differ, for 10 customers")
    );
    assert!(siyu::engine::diff::compare(&a, &a).is_empty());
}

/// Host segment queries go through the fast tier (typed closures); debug
/// builds also check each answer against the general evaluator. These are
/// the shapes it specializes, with nulls and mixed int/number sides.
#[test]
fn segment_queries_cover_the_typed_shapes() {
    let p = program(
        "event purchase { amount: number, qty: int }\nevent visit {}\n\
         profile { city: string, level: int, score: number, since: time }\n\
         segment big = sum(purchase.amount in 30d) >= 100 and count(purchase in 30d) >= 2\n\
         segment fractional = count(purchase) > 1.5 and avg(purchase.amount) < 80\n\
         segment city = profile.city in [\"Shanghai\", \"Beijing\"] or customer.id in [\"vip\"]\n\
         segment level = profile.level in [2, 3] and profile.score >= profile.level\n\
         segment idle = since(last(visit)) > 7d or last(visit) is null\n\
         segment tenure = now - profile.since >= 30d and max(purchase.qty in 30d) >= 2\n\
         segment unknown = not (profile.score > 1)\n\
         segment settled = until(first(visit)) <= -3d and sum(purchase.amount) >= 110 and count(purchase) == 2",
    );
    let id = |name: &str| p.segment_id(name).expect("declared");
    let mut st = CustomerState::new(&p, "c1");
    let apply = |st: &mut CustomerState, t: i64, json: &str| {
        let ev = Event::parse_for(&p, json).expect("valid");
        step(&p, st, Input::Event(&ev), at(t), &StateLimits::default()).expect("steps");
    };
    let rfc = |t: i64| format_time(t);
    let all = |st: &CustomerState, t: i64| {
        [
            "big",
            "fractional",
            "city",
            "level",
            "idle",
            "tenure",
            "unknown",
            "settled",
        ]
        .map(|n| st.segment(&p, id(n), at(t)))
    };
    // A first visit: no profile, nothing bought.
    apply(&mut st, T0, &event("c1", "visit", T0, "{}"));
    assert_eq!(
        all(&st, T0),
        [false, false, false, false, false, false, false, false]
    );
    assert!(st.segment(&p, id("idle"), at(T0 + 8 * DAY)));
    apply(
        &mut st,
        T0 + DAY,
        &format!(
            "{{\"customer\": \"c1\", \"type\": \"$profile\", \"time\": \"{}\", \"data\": \
             {{\"city\": \"Beijing\", \"level\": 2, \"score\": 2.5, \"since\": \"{}\"}}}}",
            rfc(T0 + DAY),
            rfc(T0 - 40 * DAY)
        ),
    );
    for (d, amount, qty) in [(2, 70.0, 1), (3, 40.0, 2)] {
        let t = T0 + d * DAY;
        apply(
            &mut st,
            t,
            &event(
                "c1",
                "purchase",
                t,
                &format!("{{\"amount\": {amount}, \"qty\": {qty}}}"),
            ),
        );
    }
    let t = T0 + 4 * DAY;
    assert_eq!(
        all(&st, t),
        [true, true, true, true, false, true, false, true]
    );
    // Forty days on, the 30-day windows are empty and the visit is old.
    let later = T0 + 40 * DAY;
    assert_eq!(
        all(&st, later),
        [false, true, true, true, true, false, false, true]
    );
}

/// A segment query at a later instant than the customer's last step reads
/// the segments it refers to as they are at that instant, not as the step
/// left them.
#[test]
fn segment_queries_see_referenced_segments_at_the_instant_asked() {
    let p = program(
        "event purchase {}\nprofile { city: string }\n\
         segment recent = count(purchase in 7d) >= 1\n\
         segment local_recent = recent and profile.city == \"Shanghai\"\n\
         stage heat {\n hot when recent\n cold otherwise\n }\n\
         segment cooled = heat is cold\n\
         tag \"recent\" when recent\n\
         segment tagged = has tag \"recent\"",
    );
    let id = |name: &str| p.segment_id(name).expect("declared");
    let mut st = CustomerState::new(&p, "c1");
    for (t, json) in [
        (T0, event("c1", "$profile", T0, "{\"city\": \"Shanghai\"}")),
        (T0 + 1, event("c1", "purchase", T0 + 1, "{}")),
    ] {
        let ev = Event::parse_for(&p, &json).expect("valid");
        step(
            &p,
            &mut st,
            Input::Event(&ev),
            at(t),
            &StateLimits::default(),
        )
        .expect("steps");
    }
    let ask = |t: i64| {
        ["recent", "local_recent", "cooled", "tagged"].map(|n| st.segment(&p, id(n), at(t)))
    };
    assert_eq!(ask(T0 + DAY), [true, true, false, true]);
    // Eight days on, the purchase has left the window.
    assert_eq!(ask(T0 + 8 * DAY), [false, false, true, false]);
}

/// A host stepping stored states itself can hand a broadcast to every one
/// of them: `step` leaves out customers first seen at or after it.
#[test]
fn step_leaves_out_customers_a_broadcast_does_not_reach() {
    let p = program(
        "event visit {}\nbroadcast restock { x: int }\naction push(k: string)\n\
         rule notify { when restock do push(k: \"restock\") }",
    );
    let limits = StateLimits::default();
    let restock = |t: i64| {
        let json = format!(
            "{{\"type\": \"restock\", \"time\": \"{}\", \"data\": {{\"x\": 1}}}}",
            format_time(t)
        );
        Event::parse_for(&p, &json).expect("valid")
    };
    let mut st = CustomerState::new(&p, "c1");
    let before = st.clone();
    let r = step(&p, &mut st, Input::Event(&restock(T0)), at(T0), &limits).expect("steps");
    assert!(r.actions.is_empty());
    assert_eq!(st, before, "a customer never seen is not reached");
    let visit = Event::parse_for(&p, &event("c1", "visit", T0, "{}")).expect("valid");
    step(&p, &mut st, Input::Event(&visit), at(T0), &limits).expect("steps");
    let seen = st.clone();
    let r = step(&p, &mut st, Input::Event(&restock(T0)), at(T0), &limits).expect("steps");
    assert!(r.actions.is_empty());
    assert_eq!(
        st, seen,
        "first seen at the broadcast's instant: not reached"
    );
    let r = step(
        &p,
        &mut st,
        Input::Event(&restock(T0 + 1)),
        at(T0 + 1),
        &limits,
    )
    .expect("steps");
    assert_eq!(r.actions.len(), 1, "first seen before it: reached");
}

/// Unix seconds as RFC 3339.
fn format_time(t: i64) -> String {
    siyu::Instant::from_unix(t)
        .expect("test instant")
        .to_string()
}

/// The decision trace only watches: the bundled SOP replayed with every
/// customer traced gives the same actions and metrics as without, and
/// each customer's history is bounded by `keep`, newest kept.
#[test]
fn tracing_changes_no_action_and_keeps_at_most_keep() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("examples/sop/sop.siyu")).expect("sop");
    let events = std::fs::read_to_string(root.join("examples/sop/events.jsonl")).expect("events");
    let program = compile(&source).expect("the SOP compiles");
    let run = |keep: Option<usize>| {
        let mut engine = Engine::new(&program);
        if let Some(keep) = keep {
            engine.trace(None, keep);
        }
        let mut actions = Vec::new();
        for line in events.lines() {
            actions.extend(engine.replay_line(line).expect("a valid line"));
        }
        actions.extend(engine.replay_end(None));
        (engine, actions)
    };
    let (plain, want) = run(None);
    let (traced, got) = run(Some(5));
    assert_eq!(got, want);
    assert_eq!(traced.metrics(), plain.metrics());
    assert_eq!(plain.decisions("u00250").count(), 0);
    let mut followed = 0;
    for c in traced.customers() {
        let n = traced.decisions(c).count();
        assert!(n <= 5, "{c}: {n} decisions kept");
        followed += usize::from(n > 0);
    }
    assert_eq!(followed, traced.len(), "every customer has a history");
    // The newest are kept: the last decision is at the latest instant.
    let (_, full) = {
        let mut engine = Engine::new(&program);
        engine.trace(Some(&["u00250"][..]), usize::MAX);
        for line in events.lines() {
            engine.replay_line(line).expect("a valid line");
        }
        engine.replay_end(None);
        let all: Vec<_> = engine.decisions("u00250").cloned().collect();
        (engine, all)
    };
    let kept: Vec<_> = traced.decisions("u00250").cloned().collect();
    assert_eq!(kept[..], full[full.len() - kept.len()..]);
}

/// A host observer rides on the sink: it sees every transition and
/// ledger movement, changes no action, and what it sees agrees with the
/// state — each definition's transitions chain (one's `to` is the next's
/// `from`) up to its value at the end, and the points earned less those
/// spent are never below what is left.
#[test]
fn a_host_observer_on_the_sink_sees_transitions_and_ledgers() {
    use siyu::{ActionRef, Movement, Observer, Sink, Standing, Transition};
    use std::collections::HashMap;

    #[derive(Default)]
    struct Watch {
        actions: Vec<siyu::Action>,
        last: HashMap<(String, usize), Standing>,
        broken_chains: usize,
        transitions: usize,
        earned: HashMap<String, f64>,
        spent: HashMap<String, f64>,
    }
    impl Sink for Watch {
        fn action(&mut self, a: ActionRef<'_>) {
            self.actions.push(a.to_owned());
        }
        fn observer(&mut self) -> Option<&mut dyn Observer> {
            Some(self)
        }
    }
    impl Observer for Watch {
        fn transition(&mut self, c: &str, t: Transition) {
            self.transitions += 1;
            let key = (c.to_string(), t.definition);
            // A customer starts outside every segment and tag (not a
            // change); a stage's first label comes from nothing.
            let before = match (self.last.get(&key), t.to) {
                (Some(v), _) => Some(*v),
                (None, Standing::Member(_)) => Some(Standing::Member(false)),
                (None, _) => None,
            };
            if before != t.from {
                self.broken_chains += 1;
            }
            self.last.insert(key, t.to);
        }
        fn ledger(&mut self, c: &str, _: &str, m: Movement) {
            match m {
                Movement::Earned { points, .. } => {
                    *self.earned.entry(c.into()).or_default() += points
                }
                Movement::Spent { points, .. } => {
                    *self.spent.entry(c.into()).or_default() += points
                }
                _ => {}
            }
        }
    }

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("examples/sop/sop.siyu")).expect("sop");
    let events = std::fs::read_to_string(root.join("examples/sop/events.jsonl")).expect("events");
    let program = compile(&source).expect("the SOP compiles");
    let mut plain = Engine::new(&program);
    let mut want = Vec::new();
    let mut watched = Engine::new(&program);
    let mut watch = Watch::default();
    for line in events.lines() {
        plain
            .replay_line_into(line, &mut want)
            .expect("a valid line");
        watched
            .replay_line_into(line, &mut watch)
            .expect("a valid line");
    }
    plain.replay_end_into(None, &mut want);
    watched.replay_end_into(None, &mut watch);
    assert_eq!(watch.actions, want);
    assert!(
        watch.transitions > 1000,
        "{} transitions",
        watch.transitions
    );
    assert_eq!(watch.broken_chains, 0);
    let clock = watched.clock().expect("a clock");
    // Definitions a transition trigger (`enters`, `becomes`) reads are
    // worked out at their exact instant: their last transition is their
    // value at the end. (`lifecycle` is only read by a guard: its changes
    // are seen when the customer is next stepped.)
    let observed: Vec<usize> = program
        .definitions()
        .enumerate()
        .filter(|(_, (_, name))| ["tier", "high_value", "points_expiring"].contains(name))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(observed.len(), 3);
    for c in watched.customers() {
        let st = watched.customer(c).expect("a customer");
        let now = st.standing(&program, clock);
        for &d in &observed {
            let seen = watch.last.get(&(c.to_string(), d)).copied();
            let never_in = seen.is_none() && now[d] == Some(Standing::Member(false));
            assert!(
                seen == now[d] || never_in,
                "{c}: definition {d}: {seen:?} against {:?}",
                now[d]
            );
        }
        let balance = st.balance(&program, 0, clock).expect("a ledger");
        let net = watch.earned.get(c).copied().unwrap_or(0.0)
            - watch.spent.get(c).copied().unwrap_or(0.0);
        assert!(
            balance <= net + 1e-6,
            "{c}: balance {balance} above earned less spent {net}"
        );
    }
    assert!(watch.earned.values().sum::<f64>() > 0.0 && watch.spent.values().sum::<f64>() > 0.0);
}
