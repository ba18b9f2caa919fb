//! A program and an event stream from one input (split at the first NUL
//! byte): compiling, replaying, advancing and the stateless step must never
//! panic, whatever either half holds.
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
});
