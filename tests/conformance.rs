//! The public conformance cases (copied from `shared/conformance/cases`),
//! run in-process through the same replay path as the `replay` example.
//! Actions are compared as multisets: `at` as an instant, arguments as JSON
//! values with numbers as numbers.

use siyu::{Engine, compile};
use std::fs;
use std::path::{Path, PathBuf};

/// The cases whose behaviour the resolved issues cover.
const COVERED: &[&str] = &[
    "01_event_where",
    "02_inactivity",
    "03_delay_unless_debounce",
    "04_window_enter_exit",
    "05_caps_limits_priority",
    "06_quiet_hours_timezone",
    "07_split_holdout",
    "08_stage_transitions",
    "09_auto_and_rule_tags",
    "10_dedup_and_bad_events",
];

fn normalize(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Number(n) => n.as_f64().map_or(J::Null, |f| serde_json::json!(f)),
        J::Array(items) => J::Array(items.iter().map(normalize).collect()),
        J::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            J::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), normalize(&m[k])))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

fn key(a: &serde_json::Value) -> String {
    let at = a["at"]
        .as_str()
        .and_then(|s| siyu::Instant::parse(s).ok())
        .expect("`at` is a time");
    format!(
        "{at} {} {} {} {} {}",
        a["customer"],
        a.get("rule").unwrap_or(&serde_json::Value::Null),
        a["action"],
        normalize(&a["args"]),
        a.get("variant").unwrap_or(&serde_json::Value::Null)
    )
}

fn run_case(dir: &Path) -> Result<(), String> {
    let rules = fs::read_to_string(dir.join("rules.siyu")).map_err(|e| e.to_string())?;
    let program = compile(&rules).map_err(|e| e.render("rules.siyu"))?;
    let mut engine = Engine::new(&program);
    let mut got = Vec::new();
    let events = fs::read_to_string(dir.join("events.jsonl")).map_err(|e| e.to_string())?;
    for line in events.lines() {
        // Bad lines are part of the cases: they are skipped.
        got.extend(engine.replay_line(line).unwrap_or_default());
    }
    got.extend(engine.replay_end(None));
    let mut got: Vec<String> = got.iter().map(|a| key(&a.to_json())).collect();
    let expected = fs::read_to_string(dir.join("expected.jsonl")).map_err(|e| e.to_string())?;
    let mut want: Vec<String> = expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| key(&serde_json::from_str(l).expect("expected.jsonl is JSON")))
        .collect();
    got.sort();
    want.sort();
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "want:\n  {}\ngot:\n  {}",
            want.join("\n  "),
            got.join("\n  ")
        ))
    }
}

#[test]
fn covered_conformance_cases_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/conformance");
    let mut failures = Vec::new();
    for case in COVERED {
        if let Err(e) = run_case(&root.join(case)) {
            failures.push(format!("{case}:\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
