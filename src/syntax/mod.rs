//! Stage 1, syntax: source text → [`ast::Module`].
//!
//! The grammar lives in `grammar/siyu.pest`; pest's parse tree is turned into
//! the typed AST here, and pest's errors into siyu [`Diagnostic`]s, so that no
//! pest type leaves this module. [`print()`] is the inverse: the canonical
//! formatting of a module (`parse(print(m)) == m`).

pub mod ast;
mod builder;
mod format;
mod lexical;
mod nesting;
mod printer;

use crate::diagnostic::{Code, Diagnostic, Span};
use crate::limits::Limits;

pub use format::format;
pub use lexical::format_duration;
pub use printer::{clause as print_clause, expr as print_expr, print};

/// Parses source text into a module, or returns every syntax error found.
pub fn parse(source: &str, limits: &Limits) -> Result<ast::Module, Vec<Diagnostic>> {
    parse_spanned(source, limits).map(|(m, _)| m)
}

/// [`parse`], with each item's source range.
fn parse_spanned(
    source: &str,
    limits: &Limits,
) -> Result<(ast::Module, Vec<Span>), Vec<Diagnostic>> {
    if source.len() > limits.max_source_bytes {
        return Err(vec![Diagnostic::error(
            Code::Limit,
            source,
            Span::new(0, 0),
            format!(
                "source is {} bytes, more than the limit of {} bytes",
                source.len(),
                limits.max_source_bytes
            ),
        )]);
    }
    nesting::check(source, limits.max_nesting)?;
    builder::build(source, limits)
}

/// Is `word` reserved (§1)? Keywords cannot name declared things.
pub fn is_keyword(word: &str) -> bool {
    builder::is_keyword(word)
}
