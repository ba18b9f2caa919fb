//! The compile entry points: source → checked [`Program`], or every
//! diagnostic at once.

use crate::check::{self, Symbols};
use crate::compile::Ir;
use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::limits::Limits;
use crate::syntax::{self, ast::Module};
use std::fmt;
use std::sync::Arc;

/// A compiled siyu program: immutable, `Send + Sync`, cheap to clone and
/// share across threads and engines.
#[derive(Clone, Debug)]
pub struct Program {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: String,
    module: Module,
    symbols: Symbols,
    warnings: Vec<Diagnostic>,
    ir: Ir,
}

impl Program {
    /// The source text it was compiled from.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The syntax tree.
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// Every declared name and its meaning.
    pub fn symbols(&self) -> &Symbols {
        &self.inner.symbols
    }

    /// The evaluator IR.
    pub(crate) fn ir(&self) -> &Ir {
        &self.inner.ir
    }

    /// Warnings: the program compiled, but may not do what was meant.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.inner.warnings
    }

    /// The warnings rendered with source lines and carets.
    pub fn render_warnings(&self, path: &str) -> String {
        render_all(&self.inner.warnings, &self.inner.source, path)
    }
}

/// A program that did not compile: every error found, with the source they
/// point into so that they can be rendered.
#[derive(Clone, Debug, thiserror::Error)]
pub struct CompileError {
    source_text: Arc<str>,
    diagnostics: Vec<Diagnostic>,
}

impl CompileError {
    fn new(source: &str, diagnostics: Vec<Diagnostic>) -> CompileError {
        CompileError {
            source_text: source.into(),
            diagnostics,
        }
    }

    /// The diagnostics, in source order.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// All diagnostics rendered with source lines and carets, naming the
    /// source `path`.
    pub fn render(&self, path: &str) -> String {
        render_all(&self.diagnostics, &self.source_text, path)
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        write!(f, "{errors} error(s)")?;
        for d in &self.diagnostics {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

/// Compiles source text with the default [`Limits`].
pub fn compile(source: &str) -> Result<Program, CompileError> {
    compile_with(source, &Limits::default())
}

/// Compiles source bytes, which must be UTF-8.
pub fn compile_bytes(source: &[u8], limits: &Limits) -> Result<Program, CompileError> {
    match std::str::from_utf8(source) {
        Ok(text) => compile_with(text, limits),
        Err(e) => {
            // Diagnostics point into text, so the valid prefix is what the
            // caret can be drawn on.
            let valid = &source[..e.valid_up_to()];
            let prefix = String::from_utf8_lossy(valid).into_owned();
            let at = prefix.len();
            let d = Diagnostic::error(
                &prefix,
                Span::new(at, at),
                format!("source is not valid UTF-8 (invalid byte at offset {at})"),
            );
            Err(CompileError::new(&prefix, vec![d]))
        }
    }
}

/// Compiles source text with the given limits.
pub fn compile_with(source: &str, limits: &Limits) -> Result<Program, CompileError> {
    let module = syntax::parse(source, limits).map_err(|d| CompileError::new(source, d))?;
    let (symbols, warnings) =
        check::check(source, &module).map_err(|d| CompileError::new(source, d))?;
    let ir = crate::compile::compile(&module, &symbols);
    Ok(Program {
        inner: Arc::new(Inner {
            source: source.to_string(),
            module,
            symbols,
            warnings,
            ir,
        }),
    })
}

fn render_all(diagnostics: &[Diagnostic], source: &str, path: &str) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(source, path))
        .collect::<Vec<_>>()
        .join("\n")
}
