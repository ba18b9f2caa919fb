//! Per-customer limits degrade and say so (README, "Limits"): at each
//! limit the oldest of what is held goes (or the one new firing is not
//! scheduled), the metric counts it, and every later event of that customer
//! is still applied — never a cliff after which the customer is dropped.

use siyu::{Engine, Instant, StateLimits, compile};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn time(t: i64) -> String {
    Instant::from_unix(t).expect("test instant").to_string()
}

fn visit(customer: &str, t: i64, id: Option<usize>, amount: i64) -> String {
    let id = id.map_or(String::new(), |i| format!(r#", "id": "e{i}""#));
    format!(
        r#"{{"customer": "{customer}", "type": "visit", "time": "{}"{id}, "data": {{"amount": {amount}}}}}"#,
        time(t)
    )
}

fn engine(src: &str, limits: StateLimits) -> Engine {
    let program = compile(src).unwrap_or_else(|e| panic!("{}", e.render("test.siyu")));
    Engine::with_limits(&program, limits)
}

fn limits() -> StateLimits {
    StateLimits {
        max_retained: 50,
        max_pending: 5,
        max_ids: 20,
        ..StateLimits::default()
    }
}

/// Past `max_retained`, the oldest window entries leave and are counted;
/// the window keeps counting what arrives.
#[test]
fn retained_entries_evict_the_oldest() {
    let mut e = engine(
        "event visit { amount: number }\naction push(content: string)\n\
         rule many { when visit if count(visit in 365d) == 50 do push(content: \"50\") }\n\
         rule later { when visit where amount == 7 do push(content: \"seen\") }",
        limits(),
    );
    let mut fired = Vec::new();
    for i in 0..200 {
        fired.extend(e.process(&visit("c", T0 + i, None, 1)).expect("valid"));
    }
    // The window holds at most 50: it reaches 50 and stays there, so the
    // rule fires on the 50th visit and on every visit after.
    assert!(
        fired
            .iter()
            .filter(|a| a.rule.as_deref() == Some("many"))
            .count()
            >= 100
    );
    assert_eq!(e.metrics().evicted_entries, 150);
    let last = e.process(&visit("c", T0 + 300, None, 7)).expect("valid");
    assert!(
        last.iter().any(|a| a.rule.as_deref() == Some("later")),
        "{last:?}"
    );
}

/// Past `max_pending`, a new firing is not scheduled (counted); those
/// already scheduled fire, and later events still schedule once room is
/// made.
#[test]
fn pending_firings_past_the_limit_are_counted_not_fatal() {
    let mut e = engine(
        "event visit { amount: number }\naction push(content: string)\n\
         rule follow { when 1d after visit do push(content: \"follow\") }",
        limits(),
    );
    for i in 0..8 {
        e.process(&visit("c", T0 + i, None, 1)).expect("valid");
    }
    assert_eq!(e.metrics().dropped_timers, 3);
    let fired = e.advance_to(Instant::from_unix(T0 + 2 * 86_400).expect("instant"));
    assert_eq!(fired.len(), 5);
    e.process(&visit("c", T0 + 3 * 86_400, None, 1))
        .expect("valid");
    let fired = e.advance_to(Instant::from_unix(T0 + 5 * 86_400).expect("instant"));
    assert_eq!(fired.len(), 1, "room was made: the next one is scheduled");
}

/// Past `max_ids`, the oldest ids are forgotten early (counted): a resend
/// of a recent id is still a duplicate, and new events are applied.
#[test]
fn event_ids_past_the_limit_forget_the_oldest() {
    let mut e = engine(
        "event visit { amount: number }\naction push(content: string)\n\
         rule each { when visit do push(content: \"x\") }",
        limits(),
    );
    for i in 0..30 {
        assert_eq!(
            e.process(&visit("c", T0 + i as i64, Some(i), 1))
                .expect("valid")
                .len(),
            1
        );
    }
    assert_eq!(e.metrics().evicted_ids, 10);
    let resent = e.process(&visit("c", T0 + 40, Some(29), 1)).expect("valid");
    assert!(resent.is_empty(), "a recent id is still known");
    let oldest = e.process(&visit("c", T0 + 41, Some(0), 1)).expect("valid");
    assert_eq!(oldest.len(), 1, "an evicted id is accepted again");
    assert_eq!(e.metrics().duplicates, 1);
}

/// A firing that would fall after 9999-12-31T23:59:59Z is dropped and
/// counted; nothing is printed past RFC 3339's range, and an input time
/// past it is refused.
#[test]
fn nothing_goes_past_the_last_instant() {
    let mut e = engine(
        "event visit { amount: number }\naction push(content: string)\n\
         rule far { when 36500d after visit do push(content: \"far\") }",
        StateLimits::default(),
    );
    let late = Instant::MAX.unix() - 10 * 86_400;
    e.process(&visit("c", late, None, 1)).expect("valid");
    assert_eq!(e.metrics().past_horizon, 1);
    assert!(e.advance_to(Instant::MAX).is_empty());
    let err = e
        .process(r#"{"customer": "c", "type": "visit", "time": "9999-12-31T23:00:00-12:00", "data": {"amount": 1}}"#)
        .expect_err("year 10000 in UTC");
    assert!(
        err.to_string().contains("is after 9999-12-31T23:59:59Z"),
        "{err}"
    );
}
