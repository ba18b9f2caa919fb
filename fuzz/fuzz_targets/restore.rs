//! Arbitrary bytes as a snapshot of the bundled SOP's engine: restore must
//! refuse them (or, for a real snapshot, give an engine that keeps working)
//! and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn program() -> &'static siyu::Program {
    static PROGRAM: OnceLock<siyu::Program> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        siyu::compile(include_str!("../../examples/sop/sop.siyu")).unwrap_or_else(|e| panic!("{}", e.render("sop.siyu")))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(mut engine) = siyu::Engine::restore(program(), data) {
        let _ = engine.snapshot();
        let _ = engine.advance_to(engine.clock().unwrap_or(0).saturating_add(86_400));
    }
});
