//! Resource limits: every input siyu accepts is bounded, so that no source
//! text, event or snapshot can exhaust the host's stack or memory.
//!
//! [`Limits`] bound what the compiler accepts, [`StateLimits`] what one
//! customer's state may hold, and [`MAX_ROUNDS`] the cascade of one
//! instant.

/// Cascade rounds allowed at one instant (§6): an event whose instant does
/// not settle within them is rejected; a timer instant is passed.
pub const MAX_ROUNDS: usize = 16;

/// Labels one stage may have: a customer keeps its stage's label in two
/// bytes, among three codes of its own.
pub const MAX_STAGE_LABELS: usize = 65_533;

/// Configurable limits, with the defaults documented on each field.
///
/// Exceeding a limit is a clear error, never a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest source text accepted, in bytes. Default 1 MiB.
    pub max_source_bytes: usize,
    /// Deepest nesting of brackets and prefix operators (`not`, unary `-`)
    /// accepted by the parser. Checked by a linear scan before the parser
    /// runs, because the parser recurses per level and a deep input would
    /// overflow the stack, which aborts the host process. Default 48.
    pub max_nesting: usize,
    /// Deepest expression tree accepted, counting operator chains such as
    /// `a and b and c …` that nest without brackets. Every later stage
    /// (checker, evaluator, `Drop`) recurses at most this deep. Default 256.
    pub max_expr_depth: usize,
    /// Most rules in one program. Default 10,000.
    pub max_rules: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 1 << 20,
            max_nesting: 48,
            max_expr_depth: 256,
            max_rules: 10_000,
        }
    }
}

/// Limits of one customer's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateLimits {
    /// Dedup horizon in seconds (default 7 days).
    pub dedup_horizon: i64,
    /// Entries kept in windows and logs (default 100,000).
    pub max_retained: usize,
    /// Scheduled firings (`after` delays, firings moved by `at` or quiet
    /// hours) (default 10,000).
    pub max_pending: usize,
    /// Event ids kept for dedup (default 100,000).
    pub max_ids: usize,
}

impl Default for StateLimits {
    fn default() -> Self {
        StateLimits {
            dedup_horizon: 7 * 86_400,
            max_retained: 100_000,
            max_pending: 10_000,
            max_ids: 100_000,
        }
    }
}
