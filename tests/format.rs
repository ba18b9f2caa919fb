//! `siyu fmt` over every program in the repository: the formatted text
//! parses to the same tree, keeps every comment (same text, same order),
//! and formatting it again changes nothing.

use siyu::Limits;
use std::path::{Path, PathBuf};

fn programs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            programs(&path, out);
        } else if path.extension().is_some_and(|e| e == "siyu") {
            out.push(path);
        }
    }
}

/// The comments of a source, in order (`#` outside strings to the end of
/// the line), as the formatter must keep them.
fn comments(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let mut in_string = false;
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            match (in_string, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (_, false, '"') => in_string = !in_string,
                (false, _, '#') => {
                    out.push(line[i..].trim_end().to_string());
                    break;
                }
                _ => {}
            }
        }
    }
    out
}

#[test]
fn formatting_keeps_the_tree_and_every_comment_and_is_idempotent() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "tests/data", "docs"] {
        programs(&root.join(dir), &mut files);
    }
    files.sort();
    let limits = Limits::default();
    let mut formatted = 0;
    for path in &files {
        let Ok(source) = std::fs::read_to_string(path) else {
            continue; // not UTF-8: a fuzzing input
        };
        let Ok(tree) = siyu::syntax::parse(&source, &limits) else {
            continue;
        };
        let once = siyu::syntax::format(&source, &limits)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let again = siyu::syntax::format(&once, &limits)
            .unwrap_or_else(|e| panic!("{} formatted: {e:?}", path.display()));
        assert_eq!(once, again, "{}: not idempotent", path.display());
        let reparsed = siyu::syntax::parse(&once, &limits)
            .unwrap_or_else(|e| panic!("{} formatted: {e:?}", path.display()));
        assert_eq!(tree, reparsed, "{}: the tree changed", path.display());
        assert_eq!(
            comments(&source),
            comments(&once),
            "{}: comments changed",
            path.display()
        );
        formatted += 1;
    }
    assert!(formatted >= 10, "only {formatted} programs formatted");
}
