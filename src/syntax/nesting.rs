//! The nesting pre-check.
//!
//! pest parses recursively and has no depth limit: 100,000 nested `(` (or a
//! `not not not …` chain) overflow the stack, and a stack overflow aborts the
//! whole host process — `catch_unwind` cannot catch it. So before pest runs,
//! one linear scan measures the deepest point of brackets plus consecutive
//! prefix operators, skipping strings and comments.

use crate::diagnostic::{Code, Diagnostic, Span};

pub(super) fn check(source: &str, max: usize) -> Result<(), Vec<Diagnostic>> {
    let bytes = source.as_bytes();
    let mut brackets = 0usize;
    // Consecutive `not` / `-` tokens with no operand between them; each one
    // costs the parser a level of recursion, like a bracket.
    let mut prefixes = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                prefixes = 0;
            }
            b'(' | b'[' | b'{' => brackets += 1,
            b')' | b']' | b'}' => {
                brackets = brackets.saturating_sub(1);
                prefixes = 0;
            }
            b'-' => prefixes += 1,
            b' ' | b'\t' | b'\r' | b'\n' => {}
            _ if is_word_byte(b) => {
                let start = i;
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                if &bytes[start..i] == b"not" {
                    prefixes += 1;
                } else {
                    prefixes = 0;
                }
                if brackets + prefixes > max {
                    return Err(too_deep(source, start, max));
                }
                continue;
            }
            _ => prefixes = 0,
        }
        if brackets + prefixes > max {
            return Err(too_deep(source, i, max));
        }
        i += 1;
    }
    Ok(())
}

/// Bytes that can belong to a word; non-ASCII bytes count, which is
/// conservative (a word only ever resets the prefix run).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn too_deep(source: &str, at: usize, max: usize) -> Vec<Diagnostic> {
    vec![
        Diagnostic::error(
            Code::Limit,
            source,
            Span::new(at, at + 1),
            format!("nesting deeper than the limit of {max} levels"),
        )
        .with_help("split the condition into named segments"),
    ]
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn shallow_input_passes() {
        assert!(check("segment a = ((1 + 2) > 0) and not not b", 8).is_ok());
        assert!(check("# ((((((((((\nsegment a = \"((((((((((\"", 3).is_ok());
    }

    #[test]
    fn deep_brackets_and_prefix_chains_fail() {
        assert!(check(&"(".repeat(10), 8).is_err());
        assert!(check(&"not ".repeat(10), 8).is_err());
        assert!(check(&"-".repeat(10), 8).is_err());
        assert!(check(&"not (".repeat(5), 8).is_err());
    }
}
