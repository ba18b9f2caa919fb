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
//! 2. `check` — names and types resolved: the checked program, in which
//!    every name is the index of what it names;
//! 3. [`compile`](mod@compile) — the checked program lowered to the
//!    evaluator's IR, and the entry points that return a [`Program`] or
//!    every [`Diagnostic`] at once;
//! 4. `eval` — expressions over a customer's state, with the instant up to
//!    which each answer holds;
//! 5. [`engine`] — the stateless step over one [`CustomerState`], and the
//!    in-memory [`Engine`] with one timer queue for all customers;
//! 6. [`ffi`] — the C ABI (`include/siyu.h`).
//!
//! The guides are part of these docs: [`guide::language`], the language
//! reference (every construct with an example, the exact semantics of
//! time), and [`guide::host`], embedding from Rust, C and Python (events
//! and actions JSON, each engine call, snapshots, the stateless API,
//! limits, threading). Diagnostic codes are explained in `docs/codes.md`
//! and by `siyu explain-code`.
//!
//! ```
//! let program = siyu::compile(r#"
//!     event purchase { amount: number }
//!     action push(content: string)
//!     rule big { when purchase where amount >= 100 do push(content: "thanks") }
//! "#)?;
//! let mut engine = siyu::Engine::new(&program);
//! let actions = engine.process(
//!     r#"{"customer": "c1", "type": "purchase", "time": "2026-01-01T00:00:00Z", "data": {"amount": 150}}"#,
//! )?;
//! assert_eq!(actions[0].action, "push");
//!
//! let err = siyu::compile("event purchase {}\nrule r { when purchse do x() }").err();
//! assert!(err.is_some_and(|e| e.render("rules.siyu").contains("did you mean `purchase`?")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod blocks;
pub(crate) mod check;
pub mod compile;
pub mod diagnostic;
pub mod engine;
pub(crate) mod eval;
pub mod ffi;
pub mod guide;
mod hint;
mod limits;
pub mod syntax;
mod tight;
mod time;
pub mod value;
mod zone;

pub use compile::{
    CompileError, DefinitionKind, Program, SegmentId, compile, compile_bytes, compile_with, fnv1a64,
};
pub use diagnostic::{Code, Diagnostic, Severity, Span};
pub use engine::action::{Action, ActionRef};
pub use engine::event::{Event, EventError};
pub use engine::state::CustomerState;
pub use engine::step::{
    Cancel, CancelReason, Degraded, Firing, Input, Movement, Observer, Outcome, Sink, Standing,
    StepError, StepReport, StepStatus, Transition, Verdict, step, step_into,
};
pub use engine::{
    Decision, Engine, Error as EngineError, Explanation, Metrics, RuleMetrics, SnapshotError, What,
};
pub use limits::{Limits, MAX_ROUNDS, MAX_STAGE_LABELS, StateLimits};
pub use time::{Instant, TimeError};
pub use value::Value;
