//! The compile entry points: source → [`Program`], or every diagnostic at
//! once.

use super::Ir;
use crate::check::{self, hir::Derived};
use crate::diagnostic::{Code, Diagnostic, Severity, Span};
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
    warnings: Vec<Diagnostic>,
    ir: Ir,
    fingerprint: u64,
}

/// A segment of a program, resolved once (see [`Program::segment_id`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentId(pub(crate) usize);

/// What a segment, auto tag or stage is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefinitionKind {
    /// `segment S = …`.
    Segment,
    /// `tag "X" when …`.
    Tag,
    /// `stage S { … }`.
    Stage,
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

    /// The declared event and broadcast types, in declaration order.
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.inner.ir.events.iter().map(|e| e.name.as_str())
    }

    /// Segments, auto tags and stages in the order their changes are worked
    /// out at an instant (each after what it reads; ties in declaration
    /// order), with their names (a tag's text).
    pub fn definitions(&self) -> impl Iterator<Item = (DefinitionKind, &str)> {
        self.inner.ir.derived.iter().map(|d| {
            let kind = match d.def {
                Derived::Segment { .. } => DefinitionKind::Segment,
                Derived::Tag { .. } => DefinitionKind::Tag,
                Derived::Stage { .. } => DefinitionKind::Stage,
            };
            (kind, d.def.name())
        })
    }

    /// The labels of definition `definition` ([`Program::definitions`]
    /// order), in declaration order, when it is a stage.
    pub fn labels(&self, definition: usize) -> Option<impl Iterator<Item = &str>> {
        match &self.inner.ir.derived.get(definition)?.def {
            Derived::Stage { labels, .. } => Some(labels.iter().map(|(l, _)| l.as_str())),
            _ => None,
        }
    }

    /// The channel caps count host action `action` against, if it has one.
    pub fn channel(&self, action: &str) -> Option<&str> {
        let a = self.inner.ir.actions.iter().find(|a| a.name == action)?;
        a.channel.as_deref()
    }

    /// The points ledgers' names, in declaration order.
    pub fn ledgers(&self) -> impl Iterator<Item = &str> {
        self.inner.ir.ledgers.iter().map(|l| l.name.as_str())
    }

    /// The rules' names, in declaration order.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.inner.ir.rules.iter().map(|r| r.name.as_str())
    }

    /// Resolves a segment by name.
    pub fn segment_id(&self, name: &str) -> Option<SegmentId> {
        self.inner
            .ir
            .derived
            .iter()
            .position(|d| matches!(&d.def, Derived::Segment { name: n, .. } if n == name))
            .map(SegmentId)
    }

    /// A fingerprint of the program's meaning: FNV-1a 64 of its canonical
    /// text (so comments and layout do not change it).
    pub fn fingerprint(&self) -> u64 {
        self.inner.fingerprint
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
                Code::Limit,
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
    let (checked, warnings) =
        check::check(source, &module).map_err(|d| CompileError::new(source, d))?;
    let ir = super::lower::lower(checked);
    let fingerprint = fnv1a64(syntax::print(&module));
    Ok(Program {
        inner: Arc::new(Inner {
            source: source.to_string(),
            module,
            warnings,
            ir,
            fingerprint,
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

/// FNV-1a, 64-bit, over bytes (§6): the split and holdout hash any host can
/// reproduce, and the fingerprint of programs and snapshots.
pub fn fnv1a64(data: impl AsRef<[u8]>) -> u64 {
    fnv1a64_parts(&[data.as_ref()])
}

/// [`fnv1a64`] of the parts one after another, without joining them.
pub(crate) fn fnv1a64_parts(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::{fnv1a64, fnv1a64_parts};

    #[test]
    fn hashing_parts_is_hashing_them_joined() {
        let parts: [&[u8]; 4] = [b"holdout:", "欢迎".as_bytes(), b":", b"u1"];
        assert_eq!(fnv1a64_parts(&parts), fnv1a64("holdout:欢迎:u1"));
        assert_eq!(fnv1a64_parts(&[]), fnv1a64(""));
    }
}
