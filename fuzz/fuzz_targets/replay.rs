//! A program and an event stream from one input (split at the first NUL
//! byte): compiling, replaying, advancing and the stateless step must never
//! panic, whatever either half holds, and the pipelined replay must give
//! what the one-thread replay gives.
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
    assert_eq!(run(true), run(false));
});
