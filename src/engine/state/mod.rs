//! One customer's state as a value (docs/host.md, the stateless API): what
//! expressions read of the customer, what its rules keep, its
//! caps' windows, its recent event ids and its clock. It serializes with
//! serde, so a host can keep it in its own store and step it there.
//!
//! Everything a customer holds is laid out by its program: a rule without
//! a limit keeps no limit history, windows over one event type share its
//! entries, an empty list allocates nothing.

mod dedup;
pub(crate) mod rules;
mod schedule;

use crate::compile::{Ir, Program, SegmentId};
use crate::eval::derived::{reads_lapsed, refresh};
use crate::eval::facts::{DVal, Memo};
use crate::eval::{Ctx, FOREVER, Facts, fast};
use crate::time::{Instant, MaybeAt};
pub(crate) use dedup::Dedup;
use rules::{Counts, Occurrences, RuleStates};
pub use schedule::{Reason, Scheduled};
use serde::{Deserialize, Serialize};

/// Everything siyu holds about one customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    /// Inline up to 24 bytes: looked up and compared at every event, it
    /// sits in the state's first cache line rather than behind a pointer.
    pub(crate) id: compact_str::CompactString,
    /// The latest instant this customer has been stepped to.
    pub(crate) clock: MaybeAt,
    /// Accepted customer events, for ordering events of the same second.
    pub(crate) seq: u64,
    pub(crate) facts: Facts,
    pub(crate) rules: RuleStates,
    /// Emitted host actions inside their caps' windows, by cap.
    pub(crate) caps: Counts,
    pub(crate) dedup: Dedup,
    pub(crate) occurrences: Occurrences,
    /// No window entry or credit leaves before this instant, so a step
    /// before it has nothing to prune (none: unknown).
    #[serde(skip)]
    pub(crate) leaves: Memo<MaybeAt>,
    /// The next wake-up as the last instant left it (`FOREVER`: none;
    /// none: unknown): it is asked for several times a step, and changes
    /// only with one.
    #[serde(skip)]
    pub(crate) wake: Memo<MaybeAt>,
}

/// Why a customer's state does not fit a program.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("customer state does not fit this program: {0}")]
pub struct Mismatch(pub(crate) String);

impl CustomerState {
    /// A customer unknown so far.
    pub fn new(program: &Program, id: &str) -> CustomerState {
        let ir = program.ir();
        CustomerState {
            id: compact_str::CompactString::new(id),
            clock: MaybeAt::NONE,
            seq: 0,
            facts: Facts::new(ir),
            rules: RuleStates::new(ir),
            caps: Counts::default(),
            dedup: Dedup::default(),
            occurrences: Occurrences::default(),
            leaves: Memo::default(),
            wake: Memo::default(),
        }
    }

    /// Asks for the blocks a step reads first, ahead of stepping this
    /// customer (see `hint`).
    pub(crate) fn prefetch(&self) {
        self.dedup.prefetch();
        self.facts.prefetch();
        self.rules.prefetch();
        self.caps.prefetch();
        self.occurrences.prefetch();
    }

    /// Asks for the blocks that the blocks of [`CustomerState::prefetch`]
    /// point to: window entries and point credits. It reads those first
    /// blocks, so it is for a state whose blocks are already on their way.
    pub(crate) fn prefetch_entries(&self) {
        self.facts.prefetch_entries();
    }

    /// The customer id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The earliest instant of an accepted event.
    pub fn first_seen(&self) -> Option<Instant> {
        self.facts.first_seen.get().and_then(Instant::checked)
    }

    /// The latest instant this customer has been stepped to.
    pub fn clock(&self) -> Option<Instant> {
        self.clock.get().and_then(Instant::checked)
    }

    /// Does the state have the shape the program expects? Cheap: checked
    /// at every step.
    pub(crate) fn fits(&self, ir: &Ir) -> Result<(), Mismatch> {
        let shape = [
            ("profile", self.facts.profile().len(), ir.profile.len()),
            ("derived", self.facts.derived().len(), ir.derived.len()),
            ("ledgers", self.facts.ledgers().len(), ir.ledgers.len()),
        ];
        for (what, have, want) in shape {
            if have != want {
                return Err(Mismatch(format!("{what}: {have}, program has {want}")));
            }
        }
        if !self.facts.aggs.shape_fits(ir) {
            return Err(Mismatch("aggregates".into()));
        }
        if !self.rules.fits(ir) {
            return Err(Mismatch("rules".into()));
        }
        Ok(())
    }

    /// `fits`, and every stored value consistent with its definition: for
    /// states from outside (a snapshot), checked once rather than per step.
    pub(crate) fn validate(&self, ir: &Ir) -> Result<(), Mismatch> {
        self.fits(ir)?;
        if !self.facts.aggs.fits(ir) {
            return Err(Mismatch(
                "aggregate entries out of order or misshapen".into(),
            ));
        }
        for (slot, (node, d)) in ir.derived.iter().zip(self.facts.derived()).enumerate() {
            use crate::check::hir::Derived;
            let fits = match (&node.def, d.value()) {
                (_, DVal::Unknown) => true,
                (Derived::Stage { labels, .. }, DVal::Label(l)) => (l as usize) < labels.len(),
                (Derived::Segment { .. } | Derived::Tag { .. }, DVal::Bool(_)) => true,
                _ => false,
            };
            if !fits {
                return Err(Mismatch(format!(
                    "derived value {slot} does not fit its node"
                )));
            }
        }
        Ok(())
    }

    /// Evaluates segment `id` (from [`Program::segment_id`]) for this
    /// customer at `now`, from the state as it is (for hosts that query
    /// membership). `now` is at or after the instant the state was last
    /// stepped to: the history before it is no longer all there. Segments,
    /// tags and stages it reads are taken at `now` too. A query runs no
    /// rules: what timers due before `now` would do to tags or the profile
    /// is seen once the state is stepped there.
    pub fn segment(&self, program: &Program, id: SegmentId, now: Instant) -> bool {
        let (ir, now) = (program.ir(), now.unix());
        let Some(cond) = ir.fast_conds.get(id.0).and_then(Option::as_ref) else {
            return false;
        };
        if reads_lapsed(ir, &self.facts, id.0, now) {
            return self.segment_refreshed(ir, cond, now);
        }
        let zone = self.facts.zone(ir);
        fast::test(cond, &Ctx::new(ir, &self.facts, &self.id, now, zone, None))
    }

    /// [`CustomerState::segment`] when a segment, tag or stage it reads may
    /// have changed since the last step: they are worked out at `now` on a
    /// copy, as explain does. Out of line, so that the common query does
    /// not set up this one's frame.
    #[inline(never)]
    fn segment_refreshed(&self, ir: &Ir, cond: &crate::compile::fast::Guard, now: i64) -> bool {
        let mut facts = self.facts.clone();
        refresh(ir, &mut facts, &self.id, now);
        let zone = facts.zone(ir);
        fast::test(cond, &Ctx::new(ir, &facts, &self.id, now, zone, None))
    }

    /// Every segment, auto tag and stage at `now` (at or after the instant
    /// the state was last stepped to), in [`Program::definitions`] order;
    /// `None` before the customer's first event. Worked out on a copy, as
    /// [`CustomerState::segment`] does when what it reads has lapsed: time
    /// and memory in proportion to the state.
    pub fn standing(&self, program: &Program, now: Instant) -> Vec<Option<Standing>> {
        let ir = program.ir();
        // Each value holds up to its `until`: when none has come, the
        // values kept are the values at `now`, and no copy is needed.
        if self.facts.derived().iter().all(|d| d.until() > now.unix()) {
            let kept: Vec<Option<Standing>> = self
                .facts
                .derived()
                .iter()
                .map(|d| standing(d.value()))
                .collect();
            debug_assert_eq!(kept, self.standing_refreshed(ir, now.unix()));
            return kept;
        }
        self.standing_refreshed(ir, now.unix())
    }

    /// [`CustomerState::standing`] worked out again on a copy.
    fn standing_refreshed(&self, ir: &Ir, now: i64) -> Vec<Option<Standing>> {
        let mut facts = self.facts.clone();
        refresh(ir, &mut facts, &self.id, now);
        facts
            .derived()
            .iter()
            .map(|d| standing(d.value()))
            .collect()
    }

    /// The points of ledger `ledger` ([`Program::ledgers`] order) unspent
    /// and unexpired at `now`; `None` for a ledger the program does not
    /// have.
    pub fn balance(&self, program: &Program, ledger: usize, now: Instant) -> Option<f64> {
        if ledger >= program.ir().ledgers.len() {
            return None;
        }
        let r = self.facts.ledgers().get(ledger)?.balance(now.unix());
        r.v.as_f64()
    }

    /// The next instant at which something can happen to this customer
    /// without an event: a derived value that is observed changing, a `no …
    /// for` silence ending, a calendar occurrence, a scheduled firing.
    pub fn next_wakeup(&self, program: &Program) -> Option<Instant> {
        self.wakeup(program.ir()).and_then(Instant::checked)
    }

    pub(crate) fn wakeup(&self, ir: &Ir) -> Option<i64> {
        match self.wake.0.get() {
            Some(FOREVER) => None,
            Some(w) => Some(w),
            None => self.work_out_wakeup(ir),
        }
    }

    /// Remembers the next wake-up, once an instant has changed the state.
    pub(crate) fn settle_wakeup(&mut self, ir: &Ir) {
        self.wake.0 = MaybeAt::some(self.work_out_wakeup(ir).unwrap_or(FOREVER));
    }

    fn work_out_wakeup(&self, ir: &Ir) -> Option<i64> {
        let first_seen = self.facts.first_seen.get()?;
        let mut next = self.rules.next_due().unwrap_or(FOREVER);
        for (node, d) in ir.derived.iter().zip(self.facts.derived().iter()) {
            if node.observed {
                next = next.min(d.until());
            }
        }
        for &r in ir.silence_rules.iter().chain(&ir.calendar_rules) {
            if let Some(t) = self.rules.timer(ir, r, first_seen) {
                next = next.min(t);
            }
        }
        (next != FOREVER).then_some(next)
    }

    /// The first instant a window entry or a credit leaves (a spent
    /// credit: at once).
    pub(crate) fn next_leave(&self, ir: &Ir) -> i64 {
        let aggs = self.facts.aggs.next_leave(ir);
        let credits = self.facts.ledgers().iter().filter_map(|l| l.next_leave());
        aggs.into_iter().chain(credits).min().unwrap_or(FOREVER)
    }
}

/// The value of a segment, auto tag or stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Standing {
    /// A segment's or tag's membership.
    Member(bool),
    /// A stage's label, by its index in [`Program::labels`].
    Label(usize),
}

/// A derived value as observers see it (`None` before the customer's
/// first evaluation).
pub(crate) fn standing(v: DVal) -> Option<Standing> {
    match v {
        DVal::Unknown => None,
        DVal::Bool(b) => Some(Standing::Member(b)),
        DVal::Label(l) => Some(Standing::Label(l as usize)),
    }
}
