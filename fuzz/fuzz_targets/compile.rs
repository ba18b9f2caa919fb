//! Any bytes as a program: compiling must never panic, overflow the stack
//! or hang, and every error must render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match siyu::compile_bytes(data, &siyu::Limits::default()) {
        Ok(program) => {
            let _ = program.render_warnings("fuzz.siyu");
            // The canonical form of an accepted program compiles again.
            let printed = siyu::syntax::print(program.module());
            if let Err(e) = siyu::compile(&printed) {
                panic!("printed form rejected:\n{printed}\n{}", e.render("printed"));
            }
        }
        Err(e) => {
            let _ = e.render("fuzz.siyu");
        }
    }
});
