//! Every diagnostic code has its section in docs/codes.md, and the
//! section's example produces that code (its first diagnostic has it).

use siyu::Code;

const CODES: &str = include_str!("../docs/codes.md");

/// The first ```siyu block after the heading of `code` (```siyu error
/// for an error's), if any.
fn example(code: Code) -> Option<&'static str> {
    let head = format!("\n## {}:", code.as_str());
    let start = CODES.find(&head)? + head.len();
    let section = &CODES[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let fence = if code.as_str().starts_with('E') {
        "```siyu error\n"
    } else {
        "```siyu\n"
    };
    let open = section.find(fence)? + fence.len();
    let len = section[open..].find("```")?;
    Some(&section[open..open + len])
}

#[test]
fn every_code_is_documented_with_an_example_that_produces_it() {
    let mut missing = Vec::new();
    for &code in Code::ALL {
        let head = format!("\n## {}: {}\n", code.as_str(), code.title());
        if !CODES.contains(&head) {
            missing.push(format!(
                "{}: no heading `## {}: {}`",
                code,
                code,
                code.title()
            ));
            continue;
        }
        if code == Code::Internal {
            continue; // a bug has no example
        }
        let Some(src) = example(code) else {
            missing.push(format!("{code}: no example"));
            continue;
        };
        let got = match siyu::compile(src) {
            Ok(p) => p.warnings().iter().map(|d| d.code).collect::<Vec<_>>(),
            Err(e) => e.diagnostics().iter().map(|d| d.code).collect(),
        };
        if !got.contains(&code) {
            missing.push(format!("{code}: its example gives {got:?}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
