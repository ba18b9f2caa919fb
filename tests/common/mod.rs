//! Helpers shared by the engine-level tests.
#![allow(dead_code)] // each test file uses the helpers it needs

use siyu::{Action, Engine, Instant, compile};

/// An RFC 3339 instant in a test.
pub fn t(text: &str) -> Instant {
    Instant::parse(text).expect("test time")
}

/// An instant in Unix seconds in a test.
pub fn at(secs: i64) -> Instant {
    Instant::from_unix(secs).expect("test instant")
}

/// An engine over a program that must compile.
pub fn engine(src: &str) -> Engine {
    match compile(src) {
        Ok(p) => Engine::new(&p),
        Err(e) => panic!("{}", e.render("test.siyu")),
    }
}

/// Processes one valid event.
pub fn ev(engine: &mut Engine, customer: &str, kind: &str, at: &str, data: &str) -> Vec<Action> {
    let line = format!(
        "{{\"customer\": \"{customer}\", \"type\": \"{kind}\", \"time\": \"{at}\", \"data\": {data}}}"
    );
    engine
        .process(&line)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}
