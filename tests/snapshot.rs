//! Snapshots: restore gives back the same engine; any damage is an error,
//! never a panic or a wrong engine.

use siyu::{Engine, SnapshotError, compile};

const SRC: &str = "event purchase { amount: number }\nevent interaction {}\naction push(content: string) channel wecom\n\
                   cap wecom: 2 per 1d\n\
                   segment big = sum(purchase.amount in 7d) >= 100\n\
                   ledger pts {\n  earn floor(event.amount) on purchase\n  expire after 30d\n}\n\
                   rule enter { when enters big do push(content: \"big\") }\n\
                   rule silent { when no interaction for 3d do push(content: \"quiet\") limit once per 10d }\n\
                   rule tips { when 2d after purchase do push(content: \"tips\") }";

fn filled() -> (siyu::Program, Engine) {
    let program = compile(SRC).expect("compiles");
    let mut engine = Engine::new(&program);
    for i in 0..50 {
        let line = format!(
            "{{\"customer\": \"c{}\", \"type\": \"purchase\", \"time\": \"2026-01-{:02}T00:00:00Z\", \"data\": {{\"amount\": {}}}}}",
            i % 7,
            1 + i % 20,
            10 * i
        );
        engine.process(&line).expect("valid");
    }
    (program, engine)
}

#[test]
fn restore_continues_exactly() {
    let (program, mut engine) = filled();
    let bytes = engine.snapshot();
    let mut restored = Engine::restore(&program, &bytes).expect("restores");
    assert_eq!(restored.snapshot(), bytes, "snapshots are deterministic");
    let t = siyu::Instant::parse("2026-03-01T00:00:00Z").expect("time");
    let a = engine.advance_to(t);
    let b = restored.advance_to(t);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(engine.metrics(), restored.metrics());
}

/// A snapshot at the instant of a firing carries the firing's occurrence
/// count (what the next firing's action id at that second continues from),
/// the moved firings and the window totals: every part of a state, whole.
#[test]
fn a_snapshot_at_a_firing_keeps_every_part_of_the_state() {
    let program = compile(SRC).expect("compiles");
    let mut engine = Engine::new(&program);
    let line = "{\"customer\": \"c\", \"type\": \"purchase\", \"time\": \"2026-01-01T00:00:00Z\", \"data\": {\"amount\": 150}}";
    let fired = engine.process(line).expect("valid");
    assert!(!fired.is_empty(), "entering `big` fires at once");
    let state = serde_json::to_value(engine.customer("c").expect("known")).expect("serializes");
    assert_ne!(state["occurrences"], serde_json::json!([]), "{state}");
    let bytes = engine.snapshot();
    let restored = Engine::restore(&program, &bytes).expect("restores");
    let again =
        serde_json::to_value(restored.customer("c").expect("restored")).expect("serializes");
    assert_eq!(again, state);
    assert_eq!(restored.snapshot(), bytes);
}

#[test]
fn truncated_and_bit_flipped_snapshots_are_errors() {
    let (program, engine) = filled();
    let bytes = engine.snapshot();
    for len in (0..bytes.len()).step_by(7) {
        assert!(
            Engine::restore(&program, &bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    for i in 0..bytes.len() {
        for bit in [0, 3, 7] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 1 << bit;
            assert!(
                Engine::restore(&program, &damaged).is_err(),
                "flipped bit {bit} of byte {i}"
            );
        }
    }
}

#[test]
fn foreign_bytes_and_other_programs_are_refused() {
    let (program, engine) = filled();
    assert_eq!(
        Engine::restore(&program, b"not a snapshot at all, just text").err(),
        Some(SnapshotError::BadMagic)
    );
    let other = compile(
        "event ping {}\naction push(content: string)\nrule r { when ping do push(content: \"x\") }",
    )
    .expect("compiles");
    assert!(matches!(
        Engine::restore(&other, &engine.snapshot()),
        Err(SnapshotError::ProgramMismatch { .. })
    ));
    // Comments and layout are not part of the fingerprint.
    let reformatted = compile(&format!(
        "# the same program\n{}",
        siyu::syntax::print(program.module())
    ))
    .expect("compiles");
    assert!(Engine::restore(&reformatted, &engine.snapshot()).is_ok());
}

#[test]
fn snapshots_are_compact() {
    let (_, engine) = filled();
    let bytes = engine.snapshot().len();
    let json: usize = (0..7)
        .filter_map(|i| engine.customer(&format!("c{i}")))
        .map(|st| serde_json::to_string(st).expect("serializes").len())
        .sum();
    assert!(
        bytes * 2 < json,
        "snapshot {bytes} bytes, the same states as JSON {json}"
    );
}

#[test]
fn upgrade_keeps_unchanged_aggregates_and_resets_changed_ones() {
    let v1 = compile(
        "event purchase { amount: number }\naction push(content: string)\n\
         segment regular = count(purchase in 30d) >= 3\n\
         segment spender = sum(purchase.amount in 7d) >= 100\n\
         rule welcome_back { when enters regular do push(content: \"regular\") }\n\
         rule tips { when 2d after purchase do push(content: \"tips\") }\n\
         rule old_rule { when purchase do push(content: \"old\") }",
    )
    .expect("compiles");
    let v2 = compile(
        "event purchase { amount: number }\naction push(content: string)\n\
         segment regular = count(purchase in 30d) >= 4\n\
         segment spender = sum(purchase.amount in 14d) >= 100\n\
         rule welcome_back { when enters regular do push(content: \"regular\") }\n\
         rule tips { when 2d after purchase do push(content: \"tips\") }\n\
         rule new_rule { when purchase do push(content: \"new\") }",
    )
    .expect("compiles");
    let mut engine = Engine::new(&v1);
    for day in 1..=3 {
        let line = format!(
            "{{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-0{day}T00:00:00Z\", \"data\": {{\"amount\": 60}}}}"
        );
        engine.process(&line).expect("valid");
    }
    let report = engine.upgrade(&v2);
    assert_eq!(report.aggregates_kept, ["count(purchase in 30d)"]);
    assert_eq!(report.aggregates_new, ["sum(purchase.amount in 14d)"]);
    assert_eq!(report.aggregates_dropped, ["sum(purchase.amount in 7d)"]);
    assert_eq!(report.rules_kept, ["welcome_back", "tips"]);
    assert_eq!(report.rules_added, ["new_rule"]);
    assert_eq!(report.rules_dropped, ["old_rule"]);
    assert_eq!(report.customers, 1);
    // The kept window still holds three purchases: a fourth makes the
    // customer a regular under the new threshold. The new 14-day sum
    // starts empty, so one purchase of 60 is not enough.
    let out = engine
        .process("{\"customer\": \"c1\", \"type\": \"purchase\", \"time\": \"2026-01-04T00:00:00Z\", \"data\": {\"amount\": 60}}")
        .expect("valid");
    let rules: Vec<&str> = out.iter().filter_map(|a| a.rule.as_deref()).collect();
    assert_eq!(rules, ["welcome_back", "tips", "new_rule"]);
    // The `tips` timers scheduled under v1 still fire.
    let later = engine.advance_to(siyu::Instant::parse("2026-01-10T00:00:00Z").expect("time"));
    assert_eq!(
        later
            .iter()
            .filter(|a| a.rule.as_deref() == Some("tips"))
            .count(),
        2
    );
    assert_eq!(
        engine.metrics().rules["tips"].triggered,
        4,
        "kept rules keep their metrics"
    );
}

/// Found by the `restore` fuzz target: one payload byte of a real snapshot
/// zeroed (checksum recomputed) left a window's totals disagreeing with
/// its entries; restored, the customer woke at the same second for ever.
/// Such a state is refused.
#[test]
fn window_totals_that_disagree_with_the_entries_are_refused() {
    let program = siyu::compile(include_str!("../examples/sop/sop.siyu")).expect("compiles");
    let mut engine = siyu::Engine::new(&program);
    for line in include_str!("../examples/sop/events.jsonl")
        .lines()
        .take(3000)
    {
        let _ = engine.replay_line(line);
    }
    let snapshot = engine.snapshot();
    let header = 34;
    let mut payload = snapshot[header..].to_vec();
    let at = 261 * 7 % payload.len();
    assert_eq!(
        payload[at], 7,
        "the fuzzer's byte moved: the payload layout changed"
    );
    payload[at] = 0;
    let mut bytes = snapshot[..header].to_vec();
    bytes[18..26].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes[26..34].copy_from_slice(&siyu::fnv1a64(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    let err = siyu::Engine::restore(&program, &bytes).expect_err("inconsistent totals");
    assert!(
        err.to_string().contains("does not fit this program"),
        "{err}"
    );
}
