//! Golden diagnostics: every program under `tests/golden/` is invalid, and
//! its rendered errors (message, location, caret, help) must equal the
//! `.stderr` file beside it. `SIYU_BLESS=1 cargo test --test golden`
//! rewrites the expectations; review the diff before committing.

use std::fs;
use std::path::Path;

#[test]
fn invalid_programs_render_their_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("SIYU_BLESS").is_some();
    let mut cases: Vec<_> = fs::read_dir(&dir)
        .expect("tests/golden exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "siyu"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "expected at least 30 golden programs");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let source = fs::read_to_string(case).expect("readable case");
        let rendered = match siyu::compile(&source) {
            Ok(_) => format!("{name} compiled, but it is an invalid program\n"),
            Err(e) => e.render(name),
        };
        let expected_path = case.with_extension("stderr");
        if bless {
            fs::write(&expected_path, &rendered).expect("writable expectation");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if rendered != expected {
            failures.push(format!(
                "--- {name}: expected\n{expected}--- got\n{rendered}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
