//! Calendars, time zones, broadcasts and points ledgers (docs/language.md §2, §5,
//! §7), end to end through the engine.

use siyu::{Action, CustomerState, Event, Input, StateLimits, compile, step};

mod common;
use common::{engine, ev, t};

fn times(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| format!("{}@{}", a.customer, a.at))
        .collect()
}

const DAILY: &str = "timezone \"UTC\"\ntimezone profile.tz\nprofile { tz: string }\nevent ping {}\n\
                     action push(content: string)\n\
                     rule morning { when every day at 09:00 do push(content: \"gm\") }";

#[test]
fn nine_am_local_on_both_sides_of_dst() {
    let mut e = engine(DAILY);
    let mut out = ev(
        &mut e,
        "ny",
        "$profile",
        "2026-03-06T12:00:00Z",
        "{\"tz\": \"America/New_York\"}",
    );
    out.extend(ev(
        &mut e,
        "be",
        "$profile",
        "2026-03-27T12:00:00Z",
        "{\"tz\": \"Europe/Berlin\"}",
    ));
    out.extend(e.advance_to(t("2026-03-31T00:00:00Z")));
    let ny: Vec<String> = times(&out)
        .into_iter()
        .filter(|s| s.starts_with("ny"))
        .collect();
    // New York springs forward on 8 March: 14:00Z before, 13:00Z after.
    assert_eq!(
        &ny[..4],
        [
            "ny@2026-03-06T14:00:00Z",
            "ny@2026-03-07T14:00:00Z",
            "ny@2026-03-08T13:00:00Z",
            "ny@2026-03-09T13:00:00Z"
        ]
    );
    let be: Vec<String> = times(&out)
        .into_iter()
        .filter(|s| s.starts_with("be"))
        .collect();
    // Berlin on 29 March: 08:00Z before, 07:00Z after.
    assert_eq!(
        be,
        [
            "be@2026-03-28T08:00:00Z",
            "be@2026-03-29T07:00:00Z",
            "be@2026-03-30T07:00:00Z"
        ]
    );
}

/// `at` snapping and quiet-hour deferral land on local times that a DST
/// change skips or repeats (§6: a missing time moves forward by the gap, a
/// repeated one takes the earlier offset).
#[test]
fn snapping_and_quiet_hours_across_dst() {
    let src = "timezone profile.tz\nprofile { tz: string }\nevent ping {}\n\
               action push(k: string)\nquiet 01:00-02:30 defer\n\
               rule snap { when ping do push(k: \"snap\") at 02:15 quiet ignore }\n\
               rule early { when ping do push(k: \"early\") at 01:30 quiet ignore }\n\
               rule q { when ping do push(k: \"q\") }";
    let mut e = engine(src);
    let mut out = ev(
        &mut e,
        "ny",
        "$profile",
        "2026-03-07T12:00:00Z",
        "{\"tz\": \"America/New_York\"}",
    );
    // 01:30 EST on the night New York springs forward (02:00 -> 03:00).
    out.extend(ev(&mut e, "ny", "ping", "2026-03-08T06:30:00Z", "{}"));
    // 01:30 EDT, the first pass through the hour repeated when it falls
    // back (02:00 EDT -> 01:00 EST), then 01:30 EST, the second.
    out.extend(ev(&mut e, "ny", "ping", "2026-11-01T05:30:00Z", "{}"));
    out.extend(ev(&mut e, "ny", "ping", "2026-11-01T06:30:00Z", "{}"));
    out.extend(e.advance_to(t("2026-11-02T12:00:00Z")));
    let got: Vec<String> = out
        .iter()
        .map(|a| format!("{}@{}", a.rule.as_deref().unwrap_or(""), a.at))
        .collect();
    assert_eq!(
        got,
        [
            // 02:15 and 02:30 do not exist on 8 March: 03:15 and 03:30 EDT.
            "early@2026-03-08T06:30:00Z",
            "snap@2026-03-08T07:15:00Z",
            "q@2026-03-08T07:30:00Z",
            // 01:30 on 1 November is 01:30 EDT; 02:15 and 02:30 are EST,
            // for both pings (their firings come out in `at` order).
            "early@2026-11-01T05:30:00Z",
            "snap@2026-11-01T07:15:00Z",
            "snap@2026-11-01T07:15:00Z",
            "q@2026-11-01T07:30:00Z",
            "q@2026-11-01T07:30:00Z",
            // At 01:30 EST, 01:30 (taken as EDT) has passed: the next day's.
            "early@2026-11-02T06:30:00Z",
        ]
    );
}

#[test]
fn calendars_reach_only_customers_first_seen_before() {
    let mut e = engine(
        "event ping {}\naction push(content: string)\nrule weekly { when every monday at 09:00 do push(content: \"hi\") }",
    );
    // 2026-01-05 is a Monday.
    ev(&mut e, "early", "ping", "2026-01-05T08:59:59Z", "{}");
    ev(&mut e, "on_time", "ping", "2026-01-05T09:00:00Z", "{}");
    let out = e.advance_to(t("2026-01-13T00:00:00Z"));
    assert_eq!(
        times(&out),
        [
            "early@2026-01-05T09:00:00Z",
            "early@2026-01-12T09:00:00Z",
            "on_time@2026-01-12T09:00:00Z"
        ]
    );
}

#[test]
fn anniversaries_this_year_next_year_and_leap_days() {
    let mut e = engine(
        "profile { birthday: date }\nevent ping {}\naction push(content: string)\n\
         rule birthday { when anniversary of profile.birthday at 09:00 do push(content: \"hb\") }\n\
         rule week_before { when 7d before anniversary of profile.birthday at 10:00 do push(content: \"soon\") }",
    );
    // Set on 1 June: a 10 May birthday has passed (next year); a 20 June one
    // has not; 29 February falls on the 28th in 2027.
    ev(
        &mut e,
        "passed",
        "$profile",
        "2026-06-01T00:00:00Z",
        "{\"birthday\": \"1990-05-10\"}",
    );
    ev(
        &mut e,
        "coming",
        "$profile",
        "2026-06-01T00:00:00Z",
        "{\"birthday\": \"1990-06-20\"}",
    );
    ev(
        &mut e,
        "leap",
        "$profile",
        "2026-06-01T00:00:00Z",
        "{\"birthday\": \"2000-02-29\"}",
    );
    let out = e.advance_to(t("2027-06-01T00:00:00Z"));
    let got: Vec<String> = out
        .iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a.customer,
                a.rule.as_deref().unwrap_or("-"),
                a.at
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "coming week_before 2026-06-13T10:00:00Z",
            "coming birthday 2026-06-20T09:00:00Z",
            "leap week_before 2027-02-21T10:00:00Z",
            "leap birthday 2027-02-28T09:00:00Z",
            "passed week_before 2027-05-03T10:00:00Z",
            "passed birthday 2027-05-10T09:00:00Z",
        ]
    );
}

#[test]
fn broadcasts_reach_earlier_customers_and_read_their_history() {
    let mut e = engine(
        "event purchase { sku: string }\nbroadcast restock { sku: string }\naction push(content: string)\n\
         rule notice { when restock if count(purchase where sku == event.sku in 30d) > 0 do push(content: event.sku) }",
    );
    ev(
        &mut e,
        "bought",
        "purchase",
        "2026-01-01T00:00:00Z",
        "{\"sku\": \"A\"}",
    );
    ev(
        &mut e,
        "other",
        "purchase",
        "2026-01-01T00:00:00Z",
        "{\"sku\": \"B\"}",
    );
    ev(
        &mut e,
        "late",
        "purchase",
        "2026-01-10T00:00:00Z",
        "{\"sku\": \"A\"}",
    );
    let line =
        "{\"type\": \"restock\", \"time\": \"2026-01-10T00:00:00Z\", \"data\": {\"sku\": \"A\"}}";
    let out = e.process(line).expect("valid broadcast");
    assert_eq!(
        times(&out),
        ["bought@2026-01-10T00:00:00Z"],
        "`late` was first seen at the broadcast"
    );
    assert!(
        e.process(
            "{\"customer\": \"x\", \"type\": \"restock\", \"time\": \"2026-01-11T00:00:00Z\"}"
        )
        .is_err()
    );
    // 30 days later the purchase is out of the window.
    let line =
        "{\"type\": \"restock\", \"time\": \"2026-02-01T00:00:00Z\", \"data\": {\"sku\": \"A\"}}";
    assert_eq!(
        times(&e.process(line).expect("valid")),
        ["late@2026-02-01T00:00:00Z"]
    );
}

const POINTS: &str = "event purchase { amount: number }\nevent redeem { points: int }\naction push(content: string)\n\
                      ledger points {\n  earn floor(event.amount) on purchase\n  spend event.points on redeem\n  expire after 10d\n}\n\
                      segment expiring_soon = expiring(points in 3d) > 0\n\
                      segment rich = balance(points) >= 100\n\
                      rule remind { when enters expiring_soon do push(content: \"expiring\") }\n\
                      rule calm { when exits expiring_soon do push(content: \"gone\") }\n\
                      rule vip { when enters rich do push(content: \"rich\") }\n\
                      rule poor { when exits rich do push(content: \"poor\") }";

fn rules_at(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| format!("{}@{}", a.rule.as_deref().unwrap_or("-"), a.at))
        .collect()
}

#[test]
fn points_expire_and_remind_at_the_exact_second() {
    let mut e = engine(POINTS);
    let mut out = ev(
        &mut e,
        "c1",
        "purchase",
        "2026-01-01T00:00:00Z",
        "{\"amount\": 120.9}",
    );
    out.extend(ev(
        &mut e,
        "c1",
        "purchase",
        "2026-01-05T00:00:00Z",
        "{\"amount\": 30}",
    ));
    out.extend(e.advance_to(t("2026-02-01T00:00:00Z")));
    assert_eq!(
        rules_at(&out),
        [
            "vip@2026-01-01T00:00:00Z",
            // 120 points expire at 01-11: they enter the 3-day horizon at
            // 01-08 and leave it, with the balance, when they expire.
            "remind@2026-01-08T00:00:00Z",
            "calm@2026-01-11T00:00:00Z",
            "poor@2026-01-11T00:00:00Z",
            // The 30 points of 01-05 expire at 01-15: in the horizon from 01-12.
            "remind@2026-01-12T00:00:00Z",
            "calm@2026-01-15T00:00:00Z",
        ]
    );
}

#[test]
fn spending_is_fifo_partial_and_reports_shortfalls() {
    let program = compile(POINTS).expect("compiles");
    let mut st = CustomerState::new(&program, "c1");
    let limits = StateLimits::default();
    let mut run = |line: &str| {
        let ev = Event::parse_for(&program, line).expect("valid");
        step(&program, &mut st, Input::Event(&ev), ev.time(), &limits).expect("steps")
    };
    run(
        "{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"amount\": 50}}",
    );
    run(
        "{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-05T00:00:00Z\", \"data\": {\"amount\": 70}}",
    );
    // 60 points: the 50 of 01-01 and 10 of 01-05.
    let r = run(
        "{\"customer\": \"c1\", \"type\": \"redeem\", \"time\": \"2026-01-06T00:00:00Z\", \"data\": {\"points\": 60}}",
    );
    assert!(r.shortfalls.is_empty());
    // After 01-11 nothing of 01-01 would be left anyway; 60 remain until 01-15.
    let r = run(
        "{\"customer\": \"c1\", \"type\": \"redeem\", \"time\": \"2026-01-12T00:00:00Z\", \"data\": {\"points\": 100}}",
    );
    assert_eq!(r.shortfalls, [("points".to_string(), 40.0)]);
    let r = run(
        "{\"customer\": \"c1\", \"type\": \"redeem\", \"time\": \"2026-01-13T00:00:00Z\", \"data\": {\"points\": 1}}",
    );
    assert_eq!(r.shortfalls, [("points".to_string(), 1.0)]);
}

/// The main job: the complete SOP over the bundled sample. Every rule of
/// it fires at least once.
#[test]
fn the_bundled_sop_fires_every_rule() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sop");
    let source = std::fs::read_to_string(root.join("sop.siyu")).expect("bundled SOP");
    let events = std::fs::read_to_string(root.join("events.jsonl")).expect("bundled sample");
    let mut e = engine(&source);
    let mut actions = 0;
    for line in events.lines() {
        actions += e.replay_line(line).expect("the sample is valid").len();
    }
    actions += e.replay_end(None).len();
    assert!(actions > 10_000, "{actions}");
    let m = e.metrics();
    let silent: Vec<&String> = m
        .rules
        .iter()
        .filter(|(_, r)| r.fired == 0)
        .map(|(n, _)| n)
        .collect();
    assert!(silent.is_empty(), "rules that never fired: {silent:?}");
    assert_eq!(m.rejected, 0);
}
