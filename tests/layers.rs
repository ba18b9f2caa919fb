//! The pipeline's layers import one way only: syntax → check → compile →
//! eval → engine → ffi, each naming only the layers before it and the base
//! modules (blocks, diagnostic, hint, limits, tight, time, zone; then value, which
//! names time), which name none of the layers. The crate root only
//! re-exports.
//!
//! The check reads every source file and collects the top-level modules it
//! names through `crate::…` (grouped `use crate::{…}` included) and, in a
//! layer's own root file, `super::…`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module with its rank: a module may name a module of a
/// lower rank, and its own.
const LAYERS: &[(&str, u8)] = &[
    ("blocks", 0),
    ("diagnostic", 0),
    ("guide", 0),
    ("hint", 0),
    ("limits", 0),
    ("tight", 0),
    ("time", 0),
    ("zone", 0),
    ("value", 1),
    ("syntax", 2),
    ("check", 3),
    ("compile", 4),
    ("eval", 5),
    ("engine", 6),
    ("ffi", 7),
];

fn rank(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifier at the start of `s`.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first path segments inside a `{…}` group starting at `s[0] == '{'`.
fn group_heads(s: &str) -> Vec<&str> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start_of_item = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => {
                depth += 1;
                start_of_item = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => start_of_item = true,
            c if start_of_item && depth == 1 && !c.is_whitespace() => {
                heads.push(ident(&s[i..]));
                start_of_item = false;
            }
            _ => {}
        }
    }
    heads
}

/// The top-level modules `text` names after `prefix` (`crate::`, `super::`).
fn named(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        // `$crate::` and longer paths ending in `super::` are not ours.
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
            continue;
        }
        let rest = &text[i + prefix.len()..];
        if rest.starts_with('{') {
            out.extend(group_heads(rest).into_iter().map(str::to_string));
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out.retain(|m| rank(m).is_some());
    out
}

/// Every import that goes up or sideways, as `file: module → named`.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        let module = parts[0].as_str();
        if module == "lib" {
            continue;
        }
        let own = rank(module)
            .unwrap_or_else(|| panic!("{}: top-level module {module} has no layer", rel.display()));
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut names = named(&text, "crate::");
        // In `src/X.rs` and `src/X/mod.rs`, `super::` is the crate root.
        let root_file = parts.len() == 1 || (parts.len() == 2 && parts[1] == "mod");
        if root_file {
            names.extend(named(&text, "super::"));
        }
        for name in names {
            let theirs = rank(&name).expect("retained only layered names");
            let allowed = name == module || theirs < own;
            if !allowed {
                bad.push(format!("{}: {module} names {name}", rel.display()));
            }
        }
    }
    bad
}

#[test]
fn layers_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(
        bad.is_empty(),
        "imports against the layers:\n{}",
        bad.join("\n")
    );
}

/// The check sees what it must: an upward import in a scratch tree fails,
/// grouped or not, and a downward one passes.
#[test]
fn the_check_catches_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("siyu-layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("eval")).expect("scratch tree");
    std::fs::write(src.join("lib.rs"), "pub mod eval;").expect("write");
    std::fs::write(
        src.join("eval/mod.rs"),
        "use crate::{value::Value, compile::{Ir, CExpr}};\nuse super::syntax::ast;\n",
    )
    .expect("write");
    std::fs::write(
        src.join("eval/run.rs"),
        "use crate::engine::state::CustomerState;\n",
    )
    .expect("write");
    std::fs::write(src.join("time.rs"), "fn f() -> $crate::engine::X {}\n").expect("write");
    let bad = violations(&src);
    std::fs::remove_dir_all(&dir).expect("clean up");
    assert_eq!(
        bad,
        vec![format!(
            "eval{}run.rs: eval names engine",
            std::path::MAIN_SEPARATOR
        )]
    );
}
