//! siyu (私域, "private domain"): a company's customer-operations SOP as code.
//!
//! Rules written in the siyu language (segments, tags, lifecycle stages,
//! time-based triggers, caps, quiet hours, A/B splits, points) are compiled
//! once; the host then drives them with customer events and clock advances,
//! and siyu answers with the actions to take. It never sends anything itself.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`syntax`] — source text → typed AST (pest grammar in `grammar/`), and
//!    the canonical pretty-printer;
//! 2. [`check`] — names and types resolved, symbol tables built;
//! 3. [`compile`] — the entry points that run the stages above and return a
//!    [`Program`] or every [`Diagnostic`] at once.
//!
//! ```
//! let program = siyu::compile(r#"
//!     event purchase { amount: number }
//!     action push(content: string)
//!     rule big { when purchase where amount >= 100 do push(content: "thanks") }
//! "#).unwrap();
//! assert!(program.warnings().is_empty());
//!
//! let err = siyu::compile("event purchase {}\nrule r { when purchse do x() }").unwrap_err();
//! assert!(err.render("rules.siyu").contains("did you mean `purchase`?"));
//! ```
#![deny(missing_docs)]

pub mod check;
pub mod diagnostic;
mod limits;
mod program;
pub mod syntax;
mod zone;

pub use diagnostic::{Diagnostic, Severity, Span};
pub use limits::Limits;
pub use program::{CompileError, Program, compile, compile_bytes, compile_with};
pub use zone::Zone;

/// The compile entry points, under the name of their stage.
pub mod compile {
    pub use crate::program::{CompileError, Program, compile, compile_bytes, compile_with};
}
