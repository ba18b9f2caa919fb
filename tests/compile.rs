//! The front end accepts every valid program: the bundled SOP, every
//! conformance program, and one program per construct of docs/language.md.

use siyu::syntax::{self, ast::*};
use siyu::{Limits, Severity, compile, compile_bytes, compile_with};
use std::fs;
use std::path::PathBuf;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn shipped_programs() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/sop/sop.siyu")];
    let mut cases: Vec<PathBuf> = fs::read_dir(data("conformance"))
        .expect("conformance data")
        .map(|e| e.expect("entry").path().join("rules.siyu"))
        .collect();
    cases.sort();
    files.extend(cases);
    files
}

fn compiles(src: &str) -> siyu::Program {
    match compile(src) {
        Ok(p) => p,
        Err(e) => panic!("did not compile:\n{}", e.render("test.siyu")),
    }
}

fn first_error(src: &str) -> String {
    match compile(src) {
        Ok(_) => panic!("compiled, but should not:\n{src}"),
        Err(e) => e.diagnostics()[0].message.clone(),
    }
}

#[test]
fn bundled_programs_compile_and_round_trip() {
    let files = shipped_programs();
    assert_eq!(files.len(), 11);
    for f in files {
        let src = fs::read_to_string(&f).expect("readable");
        let program = compiles(&src);
        assert!(
            program.warnings().is_empty(),
            "{}: {:?}",
            f.display(),
            program.warnings()
        );
        let printed = syntax::print(program.module());
        let reparsed = syntax::parse(&printed, &Limits::default()).expect("printed form parses");
        assert_eq!(&reparsed, program.module(), "{}", f.display());
        assert_eq!(syntax::print(&reparsed), printed, "printing is stable");
        compiles(&printed);
    }
}

#[test]
fn keywords_are_whole_words_and_contextual() {
    // Field and parameter names may be keywords; `no`/`now`/`in` never match
    // a prefix of a longer word.
    let p = compiles(
        r#"
        event add_friend { channel: string, at: time, when: int }
        event interaction { kind: string }
        event notice {}
        action push(content: string, for: string)
        segment nowhere = count(interaction where kind == "x") > 0
        segment index = count(notice in 1d) > 0 and nowhere
        rule innocent {
          when add_friend where channel == "qr" and when > 1
          if event.at < now
          do push(content: event.channel, for: "x")
        }
        "#,
    );
    assert_eq!(p.event_types().count(), 3);
    assert_eq!(
        first_error("event not {}"),
        "`not` is a keyword and cannot name an event"
    );
}

#[test]
fn unicode_identifiers() {
    let p = compiles(
        r#"
        event 购买 { 金额: number }
        segment 高价值 = sum(购买.金额 in 180d) >= 5000
        tag "高消费群体" when 高价值
        "#,
    );
    assert!(p.segment_id("高价值").is_some());
}

fn segment_expr(program: &siyu::Program, name: &str) -> ExprKind {
    program
        .module()
        .items
        .iter()
        .find_map(|i| match i {
            Item::Segment(s) if s.name.node == name => Some(s.cond.node.clone()),
            _ => None,
        })
        .expect("segment exists")
}

#[test]
fn precedence_follows_the_table() {
    let p = compiles(
        r#"
        profile { a: int, b: int, c: int, s: string }
        segment x = profile.a ?? profile.b > profile.c
        segment y = not profile.a > 1 and profile.b < 2 or profile.c == 3
        segment z = profile.a + profile.b * profile.c > -profile.a - 1
        segment w = profile.s is not null
        "#,
    );
    // `a ?? b > c` is `(a ?? b) > c`.
    match segment_expr(&p, "x") {
        ExprKind::Binary(BinaryOp::Gt, l, _) => {
            assert!(matches!(l.node, ExprKind::Binary(BinaryOp::Coalesce, ..)))
        }
        other => panic!("{other:?}"),
    }
    // `not a and b or c` is `((not a) and b) or c`.
    match segment_expr(&p, "y") {
        ExprKind::Binary(BinaryOp::Or, l, _) => match &l.node {
            ExprKind::Binary(BinaryOp::And, ll, _) => {
                assert!(matches!(ll.node, ExprKind::Unary(UnaryOp::Not, _)))
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    match segment_expr(&p, "z") {
        ExprKind::Binary(BinaryOp::Gt, l, r) => {
            assert!(matches!(l.node, ExprKind::Binary(BinaryOp::Add, ..)));
            assert!(matches!(r.node, ExprKind::Binary(BinaryOp::Sub, ..)));
        }
        other => panic!("{other:?}"),
    }
    // Comparisons do not associate.
    assert!(
        first_error("profile { a: int }\nsegment s = profile.a == 1 == true")
            .starts_with("expected")
    );
}

#[test]
fn in_duration_inside_an_aggregate_is_the_window() {
    let p = compiles(
        r#"
        event purchase { category: string, tags: list<string> }
        segment baby = count(purchase where category == "baby" in 365d) >= 1
        segment listed = count(purchase where category in ["a", "b"] in 30d) > 0
        segment tagged = count(purchase where tags contains "x") > 0
        "#,
    );
    match segment_expr(&p, "baby") {
        ExprKind::Binary(_, l, _) => match &l.node {
            ExprKind::Aggregate(a) => {
                assert_eq!(a.window.as_ref().map(|w| w.node), Some(365 * 86_400));
                assert!(matches!(
                    a.filter.as_ref().map(|f| &f.node),
                    Some(ExprKind::Binary(BinaryOp::Eq, ..))
                ));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn trailing_at_binds_to_calendar_triggers() {
    let p = compiles(
        r#"
        profile { birthday: date }
        action push(content: string)
        rule a { when anniversary of profile.birthday at 09:00 do push(content: "x") }
        rule b { when 7d before anniversary of profile.birthday at 10:00 do push(content: "x") }
        rule c { when every monday at 08:30 do push(content: "x") }
        "#,
    );
    let Item::Rule(a) = &p.module().items[2] else {
        panic!()
    };
    assert!(matches!(
        &a.clauses[0].node,
        Clause::When(Trigger::Anniversary {
            at: Some(_),
            before: None,
            ..
        })
    ));
    assert_eq!(
        a.clauses.len(),
        2,
        "the `at` is the trigger's, not a clause"
    );
    assert_eq!(
        first_error(
            "profile { b: date }\naction p()\nrule r { when anniversary of profile.b at 09:00 at 10:00 do p() }"
        ),
        "the trigger already has an `at` time"
    );
}

#[test]
fn every_trigger_and_clause_form_compiles() {
    compiles(
        r#"
        timezone "+08:00"
        timezone profile.tz
        event purchase { amount: number, sku: string, n: int, at: time, tags: list<string>, d: duration, day: date, ok: bool }
        event interaction { kind: string }
        event cart_add { sku: string }
        event redeem { points: int }
        broadcast restock { sku: string }
        profile { birthday: date, tz: string, vip: bool, score: number, city: string }
        action push(content: string) channel wecom
        action sms(text: string, n: int) channel sms
        action staff(task: string)
        cap wecom: 3 per 48h
        cap all: 5 per 7d
        quiet 22:00-08:00 drop
        segment s1 = sum(purchase.amount in 180d) >= 5000 and count(purchase in 180d) >= 3
        segment s2 = since(last(interaction) ?? first_seen) >= 90d
        segment s3 = avg(purchase.amount) > 1 or min(purchase.amount in 1d) < 2 or max(purchase.n) >= 3
        segment s4 = last(purchase.sku) == "x" and first(purchase) < now and last_seen > first_seen
        segment s5 = profile.city in ["Shanghai", "Beijing"] and profile.vip and not has tag "blacklist"
        segment s6 = days(since(first_seen)) > 1.5 and hours(until(now + 1d)) <= 24
        segment s7 = date(now) == profile.birthday and hour(now) >= 9 and weekday(now) in [6, 7]
        segment s8 = lower(profile.city) == "x" and len(profile.city) > 2 and abs(profile.score) > 1
        segment s9 = round(profile.score) + floor(1.5) + ceil(profile.score) > max(1, 2) - min(1.5, 2)
        segment s10 = balance(points) > 100 and expiring(points in 30d) > 0 and customer.id != "x"
        segment s11 = profile.score / 0 is null and (now - first_seen) > 1h and now - 1h < now
        segment s12 = count(purchase where tags contains "x" and d > 1m30s and day is not null and ok) > 0
        tag "高消费" when sum(purchase.amount in 365d) >= 5000
        stage lifecycle {
          churned when s2
          vip when s1
          growing otherwise
        }
        ledger points {
          earn floor(event.amount) on purchase
          earn 5 on interaction
          spend event.points on redeem
          expire after 365d
        }
        rule r1 { when purchase where amount > 1 do push(content: "a") limit once }
        rule r2 { when no interaction where kind == "msg" for 90d do push(content: "b") limit once per 30d priority 10 }
        rule r3 { when 2h after last cart_add where sku != "" unless purchase where sku == "x" do push(content: "c") limit 2 per 7d }
        rule r4 { when 3d after purchase at 10:00 do push(content: event.sku) quiet defer }
        rule r5 { when 48h after rule r1 unless interaction do staff(task: "call") priority -1 }
        rule r6 { when enters s1 do sms(text: "x", n: 1) }
        rule r7 { when exits s1 do push(content: "x") quiet ignore }
        rule r8 { when lifecycle becomes vip do push(content: "x"), add tag "vip", remove tag "old" }
        rule r9 { when lifecycle changes if lifecycle in [vip, churned] and lifecycle is not growing do set profile.vip = true }
        rule r10 { when every day at 09:00 do push(content: "x") }
        rule r11 { when every sunday at 20:00 do push(content: "x") quiet drop }
        rule r12 { when anniversary of profile.birthday do push(content: "x") at 09:00 }
        rule r13 { when 7d before anniversary of profile.birthday do push(content: "x") }
        rule r14 { when restock if count(purchase where sku == event.sku in 365d) > 0 do push(content: event.sku) }
        rule r15 {
          when purchase
          split "exp" {
            a 33.33% do push(content: "A")
            b 33.33% do push(content: "B"), set profile.score = event.amount * 0.1
            c 33.34% do staff(task: "C")
          }
          holdout 10%
          goal purchase where amount > 100 within 14d
        }
        rule r16 { when interaction do push(content: "x") holdout 5% goal purchase within 7d }
        "#,
    );
}

#[test]
fn invalid_utf8_is_a_clear_error() {
    let err =
        compile_bytes(b"event purchase {}\nsegment s = \xff", &Limits::default()).unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(
        d.message,
        "source is not valid UTF-8 (invalid byte at offset 30)"
    );
    assert_eq!((d.line, d.column), (2, 13));
}

#[test]
fn source_size_is_limited() {
    let limits = Limits {
        max_source_bytes: 10,
        ..Limits::default()
    };
    let err = compile_with("event purchase {}", &limits).unwrap_err();
    assert!(
        err.diagnostics()[0]
            .message
            .contains("more than the limit of 10 bytes")
    );
}

#[test]
fn rule_count_is_limited() {
    let limits = Limits {
        max_rules: 1,
        ..Limits::default()
    };
    let src = "event e\naction a()\nrule r1 { when e do a() }\nrule r2 { when e do a() }";
    let err = compile_with(src, &limits).unwrap_err();
    assert!(
        err.diagnostics()[0]
            .message
            .contains("2 rules, more than the limit of 1")
    );
}

/// A customer keeps its stage's label in two bytes: a stage of more labels
/// than fit is refused, one of exactly as many compiles and steps.
#[test]
fn stage_labels_are_limited() {
    let stage = |labels: usize| {
        let mut src = String::from("event e\nstage s {\n");
        for i in 0..labels - 1 {
            src.push_str(&format!("l{i} when false\n"));
        }
        src.push_str("rest otherwise\n}\n");
        src
    };
    let limits = Limits {
        max_source_bytes: 4 << 20,
        ..Limits::default()
    };
    let err = compile_with(&stage(siyu::MAX_STAGE_LABELS + 1), &limits).unwrap_err();
    assert!(
        err.diagnostics()[0]
            .message
            .contains("stage `s` has 65534 labels; a stage has at most 65533"),
        "{:?}",
        err.diagnostics()[0]
    );
    let program = compile_with(&stage(siyu::MAX_STAGE_LABELS), &limits).unwrap();
    let mut engine = siyu::Engine::new(&program);
    let event = r#"{"customer":"c","type":"e","time":"2026-01-01T00:00:00Z"}"#;
    engine.process(event).unwrap();
    let state = serde_json::to_value(engine.customer("c").unwrap()).unwrap();
    assert_eq!(
        state["facts"]["derived"][0]["value"]["Label"],
        siyu::MAX_STAGE_LABELS - 1
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let err = compile("segment a = x\nsegment b = y\nsegment c = z").unwrap_err();
    assert_eq!(err.diagnostics().len(), 3);
    assert!(
        err.diagnostics()
            .iter()
            .all(|d| d.severity == Severity::Error)
    );
    assert_eq!(err.diagnostics()[2].line, 3);
}

#[test]
fn warnings_do_not_stop_compilation() {
    let p =
        compiles("event e\naction a() channel wecom\ncap sms: 1 per 1d\nrule r { when e do a() }");
    assert_eq!(
        p.warnings().len(),
        2,
        "the cap limits nothing, and wecom is uncapped"
    );
    assert_eq!(p.warnings()[0].severity, Severity::Warning);
    assert!(
        p.render_warnings("w.siyu")
            .contains("warning[W0306]: no action is sent on channel `sms`")
    );
}

#[test]
fn derived_state_is_ordered_by_dependency() {
    let p = compiles(
        r#"
        event e
        segment late = early and has tag "t"
        tag "t" when early
        segment early = count(e) > 0
        "#,
    );
    use siyu::DefinitionKind;
    assert_eq!(
        p.definitions().collect::<Vec<_>>(),
        vec![
            (DefinitionKind::Segment, "early"),
            (DefinitionKind::Tag, "t"),
            (DefinitionKind::Segment, "late")
        ]
    );
}

#[test]
fn program_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<siyu::Program>();
}

/// Inputs the fuzzers found, kept so they stay fixed.
#[test]
fn fuzz_regressions_do_not_panic() {
    for entry in fs::read_dir(data("fuzz")).expect("fuzz data") {
        let bytes = fs::read(entry.expect("entry").path()).expect("readable");
        if let Err(e) = compile_bytes(&bytes, &Limits::default()) {
            let _ = e.render("fuzz.siyu");
        }
    }
}
