//! Replay streams its input: a line that is not UTF-8, not JSON or not a
//! valid event is reported with its 1-based number and skipped, and every
//! other line is applied — one bad byte never stops a replay.

use siyu::Engine;
use siyu::engine::LineError;

#[test]
fn a_bad_byte_skips_its_line_only() {
    let program = siyu::compile(
        "event visit { n: number }\naction push(content: string)\n\
         rule each { when visit do push(content: \"x\") }",
    )
    .expect("compiles");
    let mut input = Vec::new();
    input.extend_from_slice(
        br#"{"customer": "a", "type": "visit", "time": "2026-01-01T00:00:00Z", "data": {"n": 1}}"#,
    );
    input.push(b'\n');
    input.extend_from_slice(b"{\"customer\": \"b\xff\", \"type\": \"visit\"}\n");
    input.extend_from_slice(b"not json\n");
    input.extend_from_slice(
        br#"{"customer": "c", "type": "visit", "time": "2026-01-01T00:00:01Z", "data": {"n": "x"}}"#,
    );
    input.push(b'\n');
    input.extend_from_slice(
        br#"{"customer": "d", "type": "visit", "time": "2026-01-01T00:00:02Z", "data": {"n": 2}}"#,
    );
    let mut engine = Engine::new(&program);
    let mut actions = Vec::new();
    let mut bad = Vec::new();
    let lines = engine
        .replay_from(&input[..], &mut actions, &mut |n, e| bad.push((n, e)))
        .expect("reads");
    assert_eq!(lines, 5);
    let customers: Vec<&str> = actions.iter().map(|a| a.customer.as_str()).collect();
    assert_eq!(customers, ["a", "d"]);
    let numbers: Vec<u64> = bad.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2, 3, 4]);
    assert!(matches!(bad[0].1, LineError::NotUtf8(15)), "{:?}", bad[0].1);
    assert_eq!(engine.metrics().rejected, 3);
}
