//! Stage 2, check: resolves every name and type of a parsed module (§2–§7)
//! and emits the checked program ([`hir`]), in which every name is the
//! index of what it names.
//!
//! The checker reports all errors of a program at once. A sub-expression
//! with an error gets the type [`Ty::Error`], which is compatible with
//! everything, so one mistake is reported once; it has no checked form,
//! and a program with an error has none either.
//!
//! The passes, one file each: `declare` (every declared name, so that
//! declarations are order-free), `items` (declarations, rules and ledgers
//! against those names), `expr` (expressions: types and resolved form),
//! `order` (segments, tags and stages in dependency order), then `lint`
//! (warnings about programs that compile but may not do what was meant).

mod declare;
mod expr;
pub(crate) mod hir;
mod items;
mod lint;
mod order;
mod rules;
mod types;

use crate::diagnostic::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::syntax::ast::{Module, Type};
use crate::zone::Zone;
use hir::Hir;
use indexmap::{IndexMap, IndexSet};

/// A declared event or broadcast.
#[derive(Clone, Debug)]
struct EventSym {
    broadcast: bool,
    fields: IndexMap<String, Type>,
}

/// A declared host action.
#[derive(Clone, Debug)]
struct ActionSym {
    params: IndexMap<String, Type>,
    channel: Option<String>,
}

/// A segment, auto tag or stage, by name: what dependencies are recorded
/// against while its conditions are checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum DerivedKey {
    Segment(String),
    Tag(String),
    Stage(String),
}

/// Every declared name with its meaning, in declaration order: a name's
/// position in its table is the index the checked program refers to it by.
#[derive(Clone, Debug, Default)]
struct Tables {
    timezone: Zone,
    events: IndexMap<String, EventSym>,
    profile: IndexMap<String, Type>,
    actions: IndexMap<String, ActionSym>,
    /// Segments, auto tags and stages in declaration order, each with the
    /// span of its name; stages also with their labels.
    derived: IndexMap<DerivedKey, Span>,
    stage_labels: IndexMap<String, Vec<String>>,
    ledgers: IndexMap<String, ()>,
    rules: IndexMap<String, ()>,
}

impl Tables {
    fn derived_id(&self, key: &DerivedKey) -> Option<hir::DerivedId> {
        self.derived.get_index_of(key)
    }

    fn has(&self, key: DerivedKey) -> bool {
        self.derived.contains_key(&key)
    }
}

/// Checks a module; returns the checked program and its warnings, or every
/// error found.
pub(crate) fn check(
    source: &str,
    module: &Module,
) -> Result<(Hir<hir::Expr>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut c = Checker {
        out: Sink {
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
        },
        t: Tables::default(),
        deps: Vec::new(),
        current: None,
    };
    c.declare(module);
    let checked = c.items(module);
    let order = c.order_derived();
    if !c.out.errors.is_empty() {
        c.out.errors.sort_by_key(|d| d.span.start);
        return Err(c.out.errors);
    }
    let (Some(checked), Some(order)) = (checked, order) else {
        // Every part that has no checked form reported an error.
        let d = Diagnostic::error(
            Code::Internal,
            source,
            Span::default(),
            "the program could not be checked",
        );
        return Err(vec![d]);
    };
    c.out.warnings.extend(lint::lint(source, module));
    c.out.warnings.sort_by_key(|d| d.span.start);
    Ok((checked.into_hir(c.t, &order), c.out.warnings))
}

/// Where an expression is, which decides what its names mean.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// Inside a `where`: bare names are this event's fields first.
    where_event: Option<&'a str>,
    /// The event `event.*` reads, if the context has one.
    trigger_event: Option<&'a str>,
    /// Why `event.*` is not available here, for the error message.
    no_event_reason: &'a str,
}

impl<'a> Scope<'a> {
    fn derived() -> Scope<'a> {
        Scope {
            where_event: None,
            trigger_event: None,
            no_event_reason: "segments, tags and stages are not about one event",
        }
    }

    fn with_where(self, event: &'a str) -> Scope<'a> {
        Scope {
            where_event: Some(event),
            ..self
        }
    }
}

/// Where diagnostics go; separate from the symbol tables so that a
/// suggestion can borrow the names while the error is recorded.
struct Sink<'s> {
    source: &'s str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn suggest<'a>(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
        wrong: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) {
        let d =
            Diagnostic::error(code, self.source, span, message).with_suggestion(wrong, candidates);
        self.errors.push(d);
    }
}

struct Checker<'s> {
    out: Sink<'s>,
    t: Tables,
    /// Per derived node (by declaration index): what it reads.
    deps: Vec<IndexSet<hir::DerivedId>>,
    /// The derived node being checked, collecting its dependencies.
    current: Option<hir::DerivedId>,
}

fn names<V>(map: &IndexMap<String, V>) -> impl Iterator<Item = &str> {
    map.keys().map(String::as_str)
}

impl Checker<'_> {
    fn error(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.out
            .errors
            .push(Diagnostic::error(code, self.out.source, span, message));
        let last = self.out.errors.len() - 1;
        &mut self.out.errors[last]
    }

    fn warn(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.out
            .warnings
            .push(Diagnostic::warning(code, self.out.source, span, message));
        let last = self.out.warnings.len() - 1;
        &mut self.out.warnings[last]
    }

    /// Records that the node being checked reads `on`.
    fn depend(&mut self, on: DerivedKey) {
        let (Some(cur), Some(on)) = (self.current, self.t.derived_id(&on)) else {
            return;
        };
        if let Some(deps) = self.deps.get_mut(cur) {
            deps.insert(on);
        }
    }

    /// Zero-length windows are legal but empty: they never count anything.
    fn positive(&mut self, d: &crate::syntax::ast::Duration, what: &str) {
        if d.node == 0 {
            self.warn(
                Code::NeverActs,
                d.span,
                format!("{what} of zero length is always empty"),
            );
        }
    }
}
