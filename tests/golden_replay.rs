//! Golden replays: the bundled SOP over its sample events gives, byte for
//! byte, the actions checked in under `tests/data/golden/`, and a snapshot
//! written by an earlier release continues the same replay where it was
//! taken. Any change to what the engine emits, or how, shows here.
//!
//! The larger golden load (`tests/data/golden/load.siyu` over 200k
//! generated events, every trigger kind) is checked by `.ci/run` through
//! the release replay binary: `load.sha256` is its output's digest.

mod common;

use siyu::{Action, Engine, compile};
use std::fmt::Write as _;

fn program(path: &str) -> siyu::Program {
    let src = std::fs::read_to_string(path).expect("program");
    compile(&src).unwrap_or_else(|e| panic!("{}", e.render(path)))
}

fn write(out: &mut String, actions: Vec<Action>) {
    for a in actions {
        let line = serde_json::to_string(&a).expect("an action serializes");
        writeln!(out, "{line}").expect("writing to a string");
    }
}

/// Replays `lines` as the replay command does, appending each action's
/// JSON line to `out`.
fn replay(engine: &mut Engine, lines: &[&str], out: &mut String) {
    for line in lines {
        if let Ok(actions) = engine.replay_line(line) {
            write(out, actions);
        }
    }
}

fn assert_same(got: &str, want: &str) {
    if got == want {
        return;
    }
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(got.lines().count().min(want.lines().count()));
    panic!(
        "output differs from the golden file at action {} (got {} actions, want {}):\n got: {}\nwant: {}",
        line + 1,
        got.lines().count(),
        want.lines().count(),
        got.lines().nth(line).unwrap_or("(end)"),
        want.lines().nth(line).unwrap_or("(end)"),
    );
}

#[test]
fn bundled_sop_replays_byte_for_byte() {
    let p = program("examples/sop/sop.siyu");
    let events = std::fs::read_to_string("examples/sop/events.jsonl").expect("events");
    let lines: Vec<&str> = events.lines().collect();
    let mut engine = Engine::new(&p);
    let mut out = String::new();
    replay(&mut engine, &lines, &mut out);
    write(&mut out, engine.replay_end(None));
    let want = std::fs::read_to_string("tests/data/golden/sop.actions.jsonl").expect("golden");
    assert_same(&out, &want);
}

/// A snapshot written by siyu 0.1.0 (format version 1, at 325c036) after
/// the first 12,000 lines of the bundled sample, when 6,243 actions had
/// been emitted: restored, the replay goes on exactly as if it had never
/// stopped.
#[test]
fn a_version_1_snapshot_continues_the_replay() {
    let p = program("examples/sop/sop.siyu");
    let bytes = std::fs::read("tests/data/snapshots/v1_sop_12000.snap").expect("fixture");
    let mut engine = Engine::restore(&p, &bytes).expect("a version 1 snapshot restores");
    let events = std::fs::read_to_string("examples/sop/events.jsonl").expect("events");
    let lines: Vec<&str> = events.lines().skip(12_000).collect();
    let mut out = String::new();
    replay(&mut engine, &lines, &mut out);
    write(&mut out, engine.replay_end(None));
    let want = std::fs::read_to_string("tests/data/golden/sop.actions.jsonl").expect("golden");
    let tail: String = want.lines().skip(6_243).map(|l| format!("{l}\n")).collect();
    assert_same(&out, &tail);
}
