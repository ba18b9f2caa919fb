//! `siyu fmt`: rewrite programs in canonical form, comments kept.

use crate::input::{FAILED, eprint_styled, read};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit code 0 done (or already formatted), 1 a file is not formatted
/// under `check`, 2 a file does not parse or cannot be read or written.
pub fn run(files: &[PathBuf], check: bool) -> u8 {
    let mut code = 0;
    for path in files {
        code = code.max(one(path, check));
    }
    code
}

fn one(path: &Path, check: bool) -> u8 {
    let name = path.display().to_string();
    let source = match read(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let formatted = match siyu::syntax::format(&source, &siyu::Limits::default()) {
        Ok(f) => f,
        Err(diagnostics) => {
            for d in diagnostics {
                eprint_styled(&format!("{}\n", d.render_ansi(&source, &name)));
            }
            return FAILED;
        }
    };
    let stdin = path == Path::new("-");
    if check {
        if formatted == source {
            return 0;
        }
        print!("{}", diff(&name, &source, &formatted));
        return 1;
    }
    if stdin {
        let _ = std::io::stdout().write_all(formatted.as_bytes());
        return 0;
    }
    if formatted != source {
        if let Err(e) = std::fs::write(path, formatted) {
            eprintln!("error: cannot write {name}: {e}");
            return FAILED;
        }
    }
    0
}

/// A unified diff (three lines of context) from the text on disk to its
/// canonical form. `similar` implements Myers' O(ND) diff with a deadline,
/// so even a large file that differs throughout is diffed in bounded time.
fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, &format!("{name} (formatted)"))
        .to_string()
}
