//! A program and an event stream from one input (split at the first NUL
//! byte): compiling, replaying, advancing and the stateless step must never
//! panic, whatever either half holds, and the pipelined replay must give
//! what the one-thread replay gives, with or without hooks that advance
//! the engine between lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (source, events) = data.split_at(split);
    let Ok(program) = siyu::compile_bytes(source, &siyu::Limits::default()) else {
        return;
    };
    let mut engine = siyu::Engine::new(&program);
    let events = String::from_utf8_lossy(events);
    for line in events.lines() {
        let _ = engine.replay_line(line);
        if let Ok(ev) = siyu::Event::parse_for(&program, line) {
            let mut st = siyu::CustomerState::new(&program, "fuzz");
            let _ = siyu::step(&program, &mut st, siyu::Input::Event(&ev), ev.time(), &siyu::StateLimits::default());
        }
    }
    let _ = engine.replay_end(None);
    // The pipelined replay gives what the one-thread replay gives, line
    // for line, whatever the lines hold.
    let bytes = events.as_bytes();
    let run = |pipelined: bool| {
        let mut engine = siyu::Engine::new(&program);
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        let mut note = |n: u64, e: siyu::engine::LineError| bad.push((n, e.to_string()));
        let read = if pipelined {
            engine.replay_from_pipelined(bytes, &mut out, &mut note)
        } else {
            engine.replay_from(bytes, &mut out, &mut note)
        };
        (read.ok(), out, bad)
    };
    let plain = run(false);
    assert_eq!(run(true), plain);
    // Hooks that advance the engine to just before each line's instant,
    // as the report does at each day's end, change nothing either: the
    // same timers fire, in the same order, as when the line moves the
    // clock itself.
    let mut engine = siyu::Engine::new(&program);
    let mut ahead = Ahead::default();
    let read = engine.replay_with(bytes, &mut ahead);
    assert_eq!((read.ok(), ahead.out, ahead.bad), plain);
});

/// Hooks that drive the engine between lines.
#[derive(Default)]
struct Ahead {
    out: Vec<siyu::Action>,
    bad: Vec<(u64, String)>,
}

impl siyu::Sink for Ahead {
    fn action(&mut self, action: siyu::ActionRef<'_>) {
        self.out.push(action.to_owned());
    }
}

impl siyu::engine::ReplayHooks for Ahead {
    fn before_line(&mut self, engine: &mut siyu::Engine, _: u64, at: Option<siyu::Instant>) {
        let earlier = at.and_then(|t| siyu::Instant::from_unix(t.unix().checked_sub(1)?).ok());
        if let Some(t) = earlier.filter(|t| engine.clock().is_some_and(|c| c < *t)) {
            engine.advance_into(t, self);
        }
    }

    fn bad(&mut self, n: u64, e: siyu::engine::LineError) {
        self.bad.push((n, e.to_string()));
    }
}
