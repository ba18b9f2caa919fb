//! `siyu check`: compile programs, report every diagnostic.

use crate::Format;
use crate::input::{FAILED, eprint_styled, read};
use siyu::{Diagnostic, Severity};
use std::path::PathBuf;

/// Exit code 0 clean or warnings only, 1 warnings under `deny_warnings`,
/// 2 errors (or a file that cannot be read).
pub fn run(files: &[PathBuf], format: Format, deny_warnings: bool) -> u8 {
    let (mut errors, mut warnings) = (0usize, 0usize);
    for path in files {
        let name = path.display().to_string();
        let source = match read(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                errors += 1;
                continue;
            }
        };
        let diagnostics: Vec<Diagnostic> = match siyu::compile(&source) {
            Ok(p) => p.warnings().to_vec(),
            Err(e) => e.diagnostics().to_vec(),
        };
        for d in &diagnostics {
            match d.severity {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            match format {
                Format::Human => eprint_styled(&format!("{}\n", d.render_ansi(&source, &name))),
                Format::Json => println!("{}", json(d, &source, &name)),
            }
        }
    }
    if format == Format::Human {
        let files = files.len();
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        eprintln!(
            "checked {}: {}, {}",
            plural(files, "file"),
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
    if errors > 0 {
        FAILED
    } else if deny_warnings && warnings > 0 {
        1
    } else {
        0
    }
}

/// One diagnostic as a JSON object: where (1-based lines, columns in
/// characters, the end just past the span), how bad, its code, what and
/// how to fix it.
fn json(d: &Diagnostic, source: &str, file: &str) -> serde_json::Value {
    let (end_line, end_column) = d.end(source);
    serde_json::json!({
        "file": file,
        "line": d.line,
        "column": d.column,
        "end_line": end_line,
        "end_column": end_column,
        "severity": match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "code": d.code.as_str(),
        "message": d.message,
        "help": d.help,
    })
}
