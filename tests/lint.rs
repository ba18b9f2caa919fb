//! Static warnings (§8): each kind fires on a minimal example, stays quiet
//! on a near miss that is fine, and can be silenced on purpose.

use siyu::compile;

fn warnings(src: &str) -> Vec<String> {
    match compile(src) {
        Ok(p) => p.warnings().iter().map(|d| d.message.clone()).collect(),
        Err(e) => panic!("{}", e.render("lint.siyu")),
    }
}

const HEAD: &str = "event purchase { amount: number, sku: string }\nprofile { age: int }\naction push(content: string)\n";

fn with_head(body: &str) -> String {
    format!("{HEAD}{body}")
}

#[test]
fn contradictory_rules_and_segments() {
    let w = warnings(&with_head(
        "rule r { when purchase where amount > 100 if event.amount < 50 do push(content: \"x\") }",
    ));
    assert_eq!(
        w,
        ["rule `r` can never fire: its conditions contradict each other [never-fires]"]
    );
    let w = warnings(&with_head(
        "segment s = count(purchase in 30d) > 3 and count(purchase in 30d) < 4\nrule r { when enters s do push(content: \"x\") }",
    ));
    assert_eq!(
        w,
        ["segment `s` can never hold: its bounds contradict each other [never-fires]"]
    );
    let w = warnings(&with_head(
        "rule r { when purchase if not (profile.age >= 18) and profile.age > 20 do push(content: \"x\") }",
    ));
    assert_eq!(w.len(), 1, "not is pushed through the comparison: {w:?}");
}

#[test]
fn near_misses_stay_quiet() {
    for body in [
        // Overlapping bounds.
        "rule r { when purchase where amount > 100 if event.amount < 500 do push(content: \"x\") }",
        // Either branch of an `or` can hold.
        "rule r { when purchase if event.amount < 10 or event.amount > 100 do push(content: \"x\") }",
        // Real numbers between 3 and 4 exist for sums.
        "segment s = sum(purchase.amount) > 3 and sum(purchase.amount) < 4\nrule r { when enters s do push(content: \"x\") }",
        // Different quantities.
        "segment s = count(purchase in 30d) > 3 and count(purchase in 7d) < 2\nrule r { when exits s do push(content: \"x\") }",
        // Unknown parts make it undecidable: quiet.
        "rule r { when purchase if lower(event.sku) == \"a\" and event.amount > 1 do push(content: \"x\") }",
    ] {
        assert!(warnings(&with_head(body)).is_empty(), "{body}");
    }
}

#[test]
fn shadowed_stage_labels() {
    let w = warnings(&with_head(
        "stage tier {\n  gold when sum(purchase.amount in 365d) >= 5000\n  diamond when sum(purchase.amount in 365d) >= 20000\n  bronze otherwise\n}\n\
         rule r { when tier changes do push(content: \"x\") }",
    ));
    assert_eq!(
        w,
        [
            "label `diamond` of stage `tier` is never chosen: every customer it matches matches `gold` first [shadowed]"
        ]
    );
    // The right order is fine.
    let w = warnings(&with_head(
        "stage tier {\n  diamond when sum(purchase.amount in 365d) >= 20000\n  gold when sum(purchase.amount in 365d) >= 5000\n  bronze otherwise\n}\n\
         rule r { when tier changes do push(content: \"x\") }",
    ));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn unused_definitions() {
    let w = warnings(
        "event purchase { amount: number }\naction push(content: string)\naction sms(text: string)\n\
         segment lonely = count(purchase) > 1\nstage st {\n  a when count(purchase) > 5\n  b otherwise\n}\n\
         ledger pts {\n  earn 1 on purchase\n}\ntag \"exported\" when count(purchase) > 2\n\
         rule r { when purchase do push(content: \"x\") }",
    );
    assert_eq!(
        w,
        [
            "action `sms` is never used [unused]",
            "segment `lonely` is never used [unused]",
            "stage `st` is never used [unused]",
            "ledger `pts` is never used [unused]",
        ]
    );
}

#[test]
fn uncapped_channels() {
    let src = "event ping {}\naction push(content: string) channel wecom\naction sms(text: string) channel sms\n\
               cap wecom: 3 per 1d\nrule r { when ping do push(content: \"x\"), sms(text: \"y\") }";
    assert_eq!(
        warnings(src),
        ["channel `sms` has no cap, while `wecom` do [uncapped]"]
    );
    // `cap all` covers every channel.
    assert!(warnings(&src.replace("cap wecom: 3 per 1d", "cap all: 3 per 1d")).is_empty());
}

#[test]
fn double_sends() {
    let w = warnings(&with_head(
        "rule a { when purchase do push(content: \"thanks\") }\n\
         rule b { when purchase where amount > 100 do push(content: \"thanks\") }",
    ));
    assert_eq!(
        w,
        [
            "rules `a` and `b` both send `push(content: \"thanks\")` on the same trigger: a customer can get it twice [double-send]"
        ]
    );
    for body in [
        // A limit on one of them.
        "rule a { when purchase do push(content: \"thanks\") limit once per 1d }\nrule b { when purchase do push(content: \"thanks\") }",
        // Different arguments.
        "rule a { when purchase do push(content: \"thanks\") }\nrule b { when purchase do push(content: \"merci\") }",
        // Disjoint filters never fire for the same event.
        "rule a { when purchase where amount < 10 do push(content: \"x\") }\nrule b { when purchase where amount > 100 do push(content: \"x\") }",
        // Different triggers.
        "rule a { when purchase do push(content: \"x\") }\nrule b { when 1d after purchase do push(content: \"x\") }",
    ] {
        assert!(warnings(&with_head(body)).is_empty(), "{body}");
    }
}

#[test]
fn warnings_can_be_silenced_on_purpose() {
    let w = warnings(&with_head(
        "# allow(double-send): the second one is the receipt\n\
         rule a { when purchase do push(content: \"thanks\") }\n\
         # allow(double-send)\n\
         rule b { when purchase do push(content: \"thanks\") }\n\
         segment spare = count(purchase) > 1 # allow(unused)",
    ));
    assert!(w.is_empty(), "{w:?}");
    // Only the named kind is silenced.
    let w = warnings(&with_head(
        "segment spare = count(purchase) > 1 # allow(shadowed)",
    ));
    assert_eq!(w.iter().filter(|m| m.contains("spare")).count(), 1, "{w:?}");
}

#[test]
fn the_bundled_programs_have_no_warnings() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("examples/sop/sop.siyu")];
    for case in std::fs::read_dir(root.join("tests/data/conformance")).expect("cases") {
        files.push(case.expect("entry").path().join("rules.siyu"));
    }
    for f in files {
        let w = warnings(&std::fs::read_to_string(&f).expect("readable"));
        assert!(w.is_empty(), "{}: {w:?}", f.display());
    }
}
