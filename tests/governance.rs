//! Limits, caps, priority, quiet hours, `at` snapping, splits and holdouts,
//! goals, action ids, metrics and `explain`.

use siyu::engine::stats::{Comparison, compare};
use siyu::fnv1a64;
use siyu::{Action, Engine};

mod common;
use common::{engine, ev, t};

fn names(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| format!("{}@{}", a.rule.as_deref().unwrap_or("-"), a.at))
        .collect()
}

/// The assignment of conformance case 07, computed by hand from §6, so a
/// host in another language can check its FNV-1a and bucket ranges.
#[test]
fn split_and_holdout_vectors() {
    let held_out = |c: &str| fnv1a64(format!("holdout:welcome:{c}")) % 10_000 < 2000;
    let variant = |c: &str| {
        if fnv1a64(format!("copy:{c}")) % 10_000 < 5000 {
            "a"
        } else {
            "b"
        }
    };
    let expected = [
        ("c1", Some("a")),
        ("c2", None),
        ("c3", None),
        ("c4", None),
        ("c5", Some("a")),
        ("c6", Some("b")),
        ("c7", Some("b")),
        ("c8", Some("a")),
        ("c9", None),
        ("c10", Some("a")),
        ("c11", None),
        ("c12", Some("b")),
        ("c13", Some("a")),
        ("c14", Some("b")),
        ("c15", Some("b")),
        ("c16", Some("a")),
        ("c17", Some("a")),
        ("c18", Some("b")),
        ("c19", Some("a")),
        ("c20", None),
    ];
    for (c, want) in expected {
        let got = if held_out(c) { None } else { Some(variant(c)) };
        assert_eq!(got, want, "{c}");
    }
    // Computed independently (Python): buckets 53 and 718.
    assert_eq!(fnv1a64("holdout:welcome:c2") % 10_000, 53);
    assert_eq!(fnv1a64("copy:c1") % 10_000, 718);
}

#[test]
fn limits_count_emitted_firings_in_half_open_windows() {
    let mut e = engine(
        "event ping {}\naction push(content: string)\n\
         rule single { when ping do push(content: \"single\") limit once }\n\
         rule daily { when ping do push(content: \"daily\") limit once per 1d }\n\
         rule twice { when ping do push(content: \"twice\") limit 2 per 1h }",
    );
    let at = |s: &str| format!("2026-01-01T{s}Z");
    let fired = |e: &mut Engine, s: &str| names(&ev(e, "c1", "ping", &at(s), "{}"));
    assert_eq!(
        fired(&mut e, "00:00:00"),
        [
            "single@2026-01-01T00:00:00Z",
            "daily@2026-01-01T00:00:00Z",
            "twice@2026-01-01T00:00:00Z"
        ]
    );
    assert_eq!(fired(&mut e, "00:30:00"), ["twice@2026-01-01T00:30:00Z"]);
    assert!(
        fired(&mut e, "00:59:59").is_empty(),
        "2 in (t-1h, t] already"
    );
    // At exactly 01:00:00 the 00:00:00 firing has left (t - 1h, t].
    assert_eq!(fired(&mut e, "01:00:00"), ["twice@2026-01-01T01:00:00Z"]);
    let m = &e.metrics().rules;
    assert_eq!((m["single"].fired, m["single"].suppressed_limit), (1, 3));
    assert_eq!((m["daily"].fired, m["daily"].suppressed_limit), (1, 3));
    assert_eq!((m["twice"].fired, m["twice"].suppressed_limit), (3, 1));
}

#[test]
fn caps_are_judged_in_priority_order_and_all_or_nothing() {
    let mut e = engine(
        "event ping {}\naction push(content: string) channel wecom\naction sms(text: string) channel sms\n\
         action staff(task: string)\n\
         cap wecom: 2 per 1d\ncap all: 3 per 1d\n\
         rule low { when ping do push(content: \"low\"), add tag \"low\" }\n\
         rule high { when ping do push(content: \"high\") priority 5 }\n\
         rule pair { when ping do push(content: \"p1\"), sms(text: \"p2\") priority 1 }\n\
         rule text { when ping do sms(text: \"t\"), staff(task: \"never capped\") priority -1 }",
    );
    let out = ev(&mut e, "c1", "ping", "2026-01-01T00:00:00Z", "{}");
    // high takes one wecom slot; pair needs wecom+sms: fits (wecom 2/2,
    // all 3/3); text's sms would make all 4/3: suppressed, staff with it;
    // low's push would make wecom 3/2: suppressed, its tag not added.
    assert_eq!(
        names(&out),
        [
            "high@2026-01-01T00:00:00Z",
            "pair@2026-01-01T00:00:00Z",
            "pair@2026-01-01T00:00:00Z"
        ]
    );
    assert!(e.customer("c1").is_some());
    let m = &e.metrics().rules;
    assert_eq!(m["low"].suppressed_cap, 1);
    assert_eq!(m["text"].suppressed_cap, 1);
    // A day later every window is empty again.
    let out = ev(&mut e, "c1", "ping", "2026-01-02T00:00:00Z", "{}");
    assert_eq!(out.len(), 3);
}

#[test]
fn quiet_hours_defer_drop_and_ignore_in_the_customers_zone() {
    let mut e = engine(
        "timezone \"Asia/Shanghai\"\ntimezone profile.tz\nprofile { tz: string, vip: bool }\n\
         event ping {}\naction push(content: string) channel wecom\n\
         quiet 22:00-08:00 defer\n\
         rule later { when ping if profile.vip do push(content: \"later\") }\n\
         rule gone { when ping do push(content: \"gone\") quiet drop }\n\
         rule urgent { when ping do push(content: \"urgent\") quiet ignore }",
    );
    // 23:00 in Shanghai.
    ev(
        &mut e,
        "c1",
        "$profile",
        "2026-01-01T14:00:00Z",
        "{\"vip\": false}",
    );
    let out = ev(&mut e, "c1", "ping", "2026-01-01T15:00:00Z", "{}");
    assert_eq!(names(&out), ["urgent@2026-01-01T15:00:00Z"]);
    // The deferred firing is judged at 08:00, with the guard then: the
    // customer became a VIP in the night.
    ev(
        &mut e,
        "c1",
        "$profile",
        "2026-01-01T20:00:00Z",
        "{\"vip\": true}",
    );
    let out = e.advance_to(t("2026-01-02T12:00:00Z"));
    assert_eq!(names(&out), ["later@2026-01-02T00:00:00Z"]);
    let m = &e.metrics().rules;
    assert_eq!((m["later"].deferred_quiet, m["later"].fired), (1, 1));
    assert_eq!((m["gone"].dropped_quiet, m["gone"].fired), (1, 0));
    // A customer in New York: 23:00 there is 04:00 UTC; quiet ends at 08:00
    // New York time (13:00 UTC).
    ev(
        &mut e,
        "c2",
        "$profile",
        "2026-01-03T03:00:00Z",
        "{\"tz\": \"America/New_York\", \"vip\": true}",
    );
    let out = ev(&mut e, "c2", "ping", "2026-01-03T04:00:00Z", "{}");
    assert_eq!(names(&out), ["urgent@2026-01-03T04:00:00Z"]);
    let out = e.advance_to(t("2026-01-04T00:00:00Z"));
    assert_eq!(names(&out), ["later@2026-01-03T13:00:00Z"]);
}

/// §6: built-in actions change state immediately, so a firing judged after
/// `set profile.tz` at the same instant sees the new zone.
#[test]
fn a_zone_set_by_a_firing_applies_to_the_firings_after_it() {
    let mut e = engine(
        "timezone profile.tz\nprofile { tz: string }\n\
         event signup {}\naction push(content: string)\n\
         quiet 22:00-08:00 defer\n\
         rule localize { when signup do set profile.tz = \"Asia/Shanghai\" priority 10 }\n\
         rule hello { when signup do push(content: \"hi\") }",
    );
    // 15:00 UTC is 23:00 in Shanghai: quiet there, not in UTC.
    let out = ev(&mut e, "c1", "signup", "2026-01-01T15:00:00Z", "{}");
    assert_eq!(names(&out), ["localize@2026-01-01T15:00:00Z"]);
    let out = e.advance_to(t("2026-01-02T12:00:00Z"));
    assert_eq!(names(&out), ["hello@2026-01-02T00:00:00Z"]);
}

#[test]
fn at_snaps_forward_and_keeps_the_instant_at_the_boundary() {
    let mut e = engine(
        "event purchase {}\naction push(content: string)\n\
         rule tips { when 1d after purchase at 10:00 do push(content: \"tips\") }",
    );
    ev(&mut e, "c1", "purchase", "2026-01-01T10:00:00Z", "{}");
    ev(&mut e, "c2", "purchase", "2026-01-01T10:00:01Z", "{}");
    let out = e.advance_to(t("2026-01-05T00:00:00Z"));
    assert_eq!(
        names(&out),
        ["tips@2026-01-02T10:00:00Z", "tips@2026-01-03T10:00:00Z"],
        "at the boundary it stays; a second after it waits a day"
    );
    // The id names the trigger instant, before snapping.
    assert_eq!(
        out[1].id,
        format!("tips/{}/0/0", t("2026-01-02T10:00:01Z").unix())
    );
    let m = &e.metrics().rules["tips"];
    assert_eq!(
        (m.triggered, m.snapped, m.fired),
        (2, 1, 2),
        "one firing moved, both fired once"
    );
}

#[test]
fn unless_cancels_a_deferred_firing_until_it_happens() {
    let mut e = engine(
        "event cart_add {}\nevent purchase {}\naction push(content: string)\nquiet 22:00-08:00\n\
         rule rescue { when 2h after last cart_add unless purchase do push(content: \"sale\") }",
    );
    ev(&mut e, "c1", "cart_add", "2026-01-01T21:00:00Z", "{}");
    // Due at 23:00, deferred to 08:00; a purchase at 07:00 still cancels.
    ev(&mut e, "c1", "purchase", "2026-01-02T07:00:00Z", "{}");
    assert!(e.advance_to(t("2026-01-03T00:00:00Z")).is_empty());
    assert_eq!(e.metrics().rules["rescue"].deferred_quiet, 1);
}

#[test]
fn holdout_is_recorded_and_goals_convert_per_group() {
    let src = "event add_friend {}\nevent purchase { amount: number }\naction push(content: string)\n\
               rule welcome {\n  when add_friend\n  split \"copy\" {\n    a 50% do push(content: \"A\")\n    b 50% do push(content: \"B\")\n  }\n\
               holdout 20%\n  goal purchase where amount > 10 within 7d\n}";
    let mut e = engine(src);
    for i in 0..200 {
        ev(
            &mut e,
            &format!("c{i}"),
            "add_friend",
            "2026-01-01T00:00:00Z",
            "{}",
        );
    }
    // Everyone whose number is even buys within the week; odd ones buy
    // too late or too little.
    for i in 0..200 {
        let (at, amount) = match i % 4 {
            0 | 2 => ("2026-01-03T00:00:00Z", 20),
            1 => ("2026-01-03T00:00:00Z", 5),
            _ => ("2026-01-09T00:00:00Z", 20),
        };
        ev(
            &mut e,
            &format!("c{i}"),
            "purchase",
            at,
            &format!("{{\"amount\": {amount}}}"),
        );
    }
    let m = &e.metrics().rules["welcome"];
    let g = &m.groups;
    assert_eq!(
        g["a"].assigned + g["b"].assigned + g["control"].assigned,
        200
    );
    assert_eq!(m.held_out, g["control"].assigned);
    assert_eq!(m.fired, g["a"].assigned + g["b"].assigned);
    let converted: u64 = g.values().map(|x| x.converted).sum();
    assert_eq!(converted, 100);
    let report = m.goal_report();
    assert_eq!(
        report.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(),
        ["a", "b", "control"]
    );
    assert!(report[2].against.is_none(), "control is the baseline");
    assert!(
        matches!(
            report[0].against,
            Some(Comparison::Tested {
                significant: false,
                ..
            })
        ),
        "no real difference: {:?}",
        report[0].against
    );
}

#[test]
fn two_proportion_z_test_matches_a_worked_example() {
    // 200/1000 against 150/1000: z = 2.93, p = 0.0034.
    let Comparison::Tested { p_value, .. } = compare(200, 1000, 150, 1000) else {
        panic!("testable");
    };
    assert!((p_value - 0.0034).abs() < 0.0002, "{p_value}");
    assert_eq!(compare(0, 0, 1, 10), Comparison::TooFew);
    let Comparison::Tested { p_value, .. } = compare(50, 100, 50, 100) else {
        panic!("testable");
    };
    assert!((p_value - 1.0).abs() < 1e-6);
}

#[test]
fn action_ids_are_deterministic_and_unique() {
    let src = "event ping {}\naction push(content: string)\ntag \"busy\" when count(ping in 1h) >= 2\n\
               rule a { when ping do push(content: \"1\"), push(content: \"2\") }";
    let lines = [
        "{\"customer\": \"c1\", \"type\": \"ping\", \"time\": \"2026-01-01T00:00:00Z\"}",
        "{\"customer\": \"c1\", \"type\": \"ping\", \"time\": \"2026-01-01T00:00:00Z\"}",
        "{\"customer\": \"c1\", \"type\": \"ping\", \"time\": \"2026-01-01T00:10:00Z\"}",
    ];
    let run = || {
        let mut e = engine(src);
        let mut out = Vec::new();
        for l in lines {
            out.extend(e.process(l).expect("valid"));
        }
        out.extend(e.advance_to(t("2026-01-02T00:00:00Z")));
        out.into_iter().map(|a| a.id).collect::<Vec<_>>()
    };
    let ids = run();
    assert_eq!(ids, run());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    assert!(
        ids.contains(&format!("a/{}/1/0", t("2026-01-01T00:00:00Z").unix())),
        "second firing at one instant"
    );
    assert!(ids.contains(&format!(
        "tag:busy/{}/0/0",
        t("2026-01-01T00:00:00Z").unix()
    )));
}

#[test]
fn guard_and_engine_wide_counters() {
    let mut e = engine(
        "event purchase { amount: number }\naction push(content: string)\n\
         rule big { when purchase if event.amount > 100 do push(content: \"thanks\") }",
    );
    let line = |id: &str, amount: &str| {
        format!(
            "{{\"id\": \"{id}\", \"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {{\"amount\": {amount}}}}}"
        )
    };
    e.process(&line("1", "50")).expect("valid");
    e.process(&line("2", "150")).expect("valid");
    e.process(&line("2", "150"))
        .expect("duplicate is not an error");
    assert!(e.process(&line("3", "\"x\"")).is_err());
    e.process("{\"customer\": \"c1\", \"type\": \"browse\", \"time\": \"2026-01-01T00:00:00Z\"}")
        .expect("undeclared types are accepted");
    let m = e.metrics();
    assert_eq!(
        (m.events, m.duplicates, m.rejected, m.ignored),
        (4, 1, 1, 1)
    );
    let r = &m.rules["big"];
    assert_eq!((r.triggered, r.fired, r.guard_false), (2, 1, 1));
}

#[test]
fn explain_says_what_blocks_and_when_it_can_fire() {
    let mut e = engine(
        "timezone \"Asia/Shanghai\"\nevent interaction {}\nevent purchase {}\n\
         action push(content: string) channel wecom\n\
         cap wecom: 1 per 1d\nquiet 22:00-08:00 defer\n\
         rule nudge { when purchase do push(content: \"thanks\") }\n\
         rule reactivation {\n  when no interaction for 3d\n  if count(purchase) >= 1\n  do push(content: \"comeback\")\n  limit once per 30d\n}",
    );
    // 10:00 Shanghai: the purchase nudge takes the day's only wecom slot.
    ev(&mut e, "c1", "interaction", "2026-01-01T02:00:00Z", "{}");
    ev(&mut e, "c1", "purchase", "2026-01-03T02:00:00Z", "{}");
    e.advance_to(t("2026-01-03T15:30:00Z"));
    let x = e.explain("c1", "reactivation").expect("known");
    let golden = serde_json::json!({
        "customer": "c1",
        "rule": "reactivation",
        "at": "2026-01-03T15:30:00Z",
        "clauses": [
            {"clause": "when no interaction for 3d", "now": {"next_due": "2026-01-04T02:00:00Z"}, "blocks": false},
            {"clause": "if count(purchase) >= 1", "now": {"value": true}, "blocks": false},
            {"clause": "do push(content: \"comeback\")", "now": null, "blocks": false},
            {"clause": "limit once per 30d", "now": {"used": 0, "max": 1, "frees_at": null}, "blocks": false},
            {"clause": "cap wecom: 1 per 1d", "now": {"used": 1, "max": 1, "this_firing": 1, "frees_at": "2026-01-04T02:00:00Z"}, "blocks": true},
            {"clause": "quiet 22:00-08:00 defer", "now": {"inside": true, "ends_at": "2026-01-04T00:00:00Z"}, "blocks": true}
        ],
        "blocked_by": ["cap wecom", "quiet hours"],
        "next_trigger": "2026-01-04T02:00:00Z",
        "next_fire": "2026-01-04T02:00:00Z",
        "waits_for": null
    });
    assert_eq!(
        x.to_json(),
        golden,
        "{}",
        serde_json::to_string_pretty(&x.to_json()).unwrap_or_default()
    );
    assert!(e.explain("nobody", "reactivation").is_err());
    assert!(e.explain("c1", "nothing").is_err());
}
