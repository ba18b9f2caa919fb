//! Inputs that nest deeply get a limit error, never a stack overflow (which
//! would abort the host process). Each case runs on a thread with a small
//! stack, so a regression shows up as a crash here rather than in a host.

use siyu::{Limits, compile, compile_with};
use std::thread;

/// Enough for the deepest program the default limits accept, in a debug
/// build; far less than the 2 MiB a spawned thread gets by default.
const SMALL_STACK: usize = 1024 * 1024;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

fn error_of(src: String) -> String {
    on_small_stack(move || match compile(&src) {
        Ok(_) => "compiled".to_string(),
        Err(e) => e.diagnostics()[0].message.clone(),
    })
}

const N: usize = 100_000;

#[test]
fn deep_brackets() {
    let src = format!("segment s = {}1{} > 0", "(".repeat(N), ")".repeat(N));
    assert_eq!(error_of(src), "nesting deeper than the limit of 48 levels");
    let src = format!("segment s = {}1{}", "[".repeat(N), "]".repeat(N));
    assert_eq!(error_of(src), "nesting deeper than the limit of 48 levels");
}

#[test]
fn long_not_and_minus_chains() {
    let src = format!("segment s = {}true", "not ".repeat(N));
    assert_eq!(error_of(src), "nesting deeper than the limit of 48 levels");
    let src = format!(
        "profile {{ a: int }}\nsegment s = {}profile.a > 0",
        "- ".repeat(N)
    );
    assert_eq!(error_of(src), "nesting deeper than the limit of 48 levels");
}

#[test]
fn long_operator_chains() {
    let src = format!("segment s = {}true", "true and ".repeat(N));
    assert_eq!(error_of(src), "expression nested more than 256 levels deep");
    let src = format!("segment s = {}1 > 0", "1 + ".repeat(N));
    assert_eq!(error_of(src), "expression nested more than 256 levels deep");
    let src = format!("segment s = {}1 > 0", "1 ?? ".repeat(N));
    assert_eq!(error_of(src), "expression nested more than 256 levels deep");
}

#[test]
fn the_deepest_accepted_program_fits_the_small_stack() {
    // Right at the limits: 47 brackets around a 200-term chain.
    let chain = vec!["true"; 200].join(" and ");
    let src = format!("segment s = {}{chain}{}", "(".repeat(47), ")".repeat(47));
    assert_eq!(error_of(src), "compiled");
    let src = format!("segment s = {}true", "not ".repeat(47));
    assert_eq!(error_of(src), "compiled");
}

#[test]
fn limits_are_configurable() {
    let limits = Limits {
        max_nesting: 4,
        max_expr_depth: 8,
        ..Limits::default()
    };
    let err = compile_with("segment s = (((((true)))))", &limits).unwrap_err();
    assert_eq!(
        err.diagnostics()[0].message,
        "nesting deeper than the limit of 4 levels"
    );
    let err = compile_with(
        &format!("segment s = {}true", "true or ".repeat(9)),
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        err.diagnostics()[0].message,
        "expression nested more than 8 levels deep"
    );
}
