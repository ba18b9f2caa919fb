//! The stateless core (docs/host.md, the stateless API): the step that
//! turns an event or a clock advance into a customer's actions, exactly as
//! the language's time semantics define.
//!
//! A step runs one instant at a time (`instant`): the event if any, derived
//! state, then rules by priority in cascade rounds (`triggers` finds what
//! fires, `fire` judges and carries out each firing). What an instant
//! produces is held until the instant is done, then handed to the sink:
//! an instant that does not settle is undone whole, and memory never holds
//! more than one instant's actions.

mod at;
mod fire;
mod instant;
mod triggers;

use super::action::{Action, ActionRef, Emitted};
use super::event::{Event, EventKind};
use super::state::CustomerState;
pub use super::state::Standing;
use crate::compile::{Ir, Program};
use crate::limits::{MAX_ROUNDS, StateLimits};
use crate::time::{Instant, MaybeAt};
use crate::value::Value;
pub use at::{Outcome, Verdict};
pub(crate) use fire::{cap_used, capped, held_out, in_quiet, limit_used, quiet_for, variant};
pub(crate) use triggers::refresh_calendars;

/// Why a step was rejected; the state is left as it was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// Built-in actions kept changing state for more than the cascade
    /// bound's rounds.
    #[error(
        "cascade depth: built-in actions at {at} kept triggering rules for more than {MAX_ROUNDS} rounds"
    )]
    CascadeDepth {
        /// The instant.
        at: Instant,
    },
    /// The state belongs to another program or is damaged.
    #[error(transparent)]
    Mismatch(#[from] super::state::Mismatch),
}

/// One input to a step.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// An event for this customer, or a broadcast (which reaches it only
    /// if it was first seen strictly before the broadcast's time).
    Event(&'a Event),
    /// The clock reached this instant.
    Tick(Instant),
}

/// A per-customer limit a step reached, and what it gave up for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Degraded {
    /// `StateLimits::max_retained`: the oldest window entries or credits
    /// left early.
    Retained,
    /// `StateLimits::max_pending`: a firing was not scheduled.
    Pending,
    /// `StateLimits::max_ids`: the oldest event ids were forgotten early
    /// (a resent event carrying one is accepted again).
    Ids,
    /// A firing would fall after 9999-12-31T23:59:59Z: it was dropped.
    Horizon,
}

/// What a step did besides its actions.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StepStatus {
    /// The event was a duplicate and was ignored.
    pub duplicate: bool,
    /// The event's type is not declared.
    pub ignored: bool,
    /// Instants passed without firing because their cascade did not settle.
    pub faults: usize,
}

/// Receives what steps produce, as they produce it.
///
/// Every call that produces actions has a form that hands them here one by
/// one, so that no call's memory grows with the actions it produces. A
/// closure `FnMut(ActionRef)` is a sink, and so is a `Vec<Action>`.
pub trait Sink {
    /// An action, in emission order.
    fn action(&mut self, action: ActionRef<'_>);

    /// An observer to hand everything else the engine decides (rules
    /// judged, firings scheduled and cancelled, transitions, ledger
    /// movements), if this sink has one: any engine call that takes a sink
    /// then reports to it. Asked once per customer step; `None` (the
    /// default) costs nothing more.
    fn observer(&mut self) -> Option<&mut dyn Observer> {
        None
    }
}

impl<F: FnMut(ActionRef<'_>)> Sink for F {
    fn action(&mut self, action: ActionRef<'_>) {
        self(action)
    }
}

impl Sink for Vec<Action> {
    fn action(&mut self, action: ActionRef<'_>) {
        self.push(action.to_owned());
    }
}

/// Receives what a step decides besides actions: for metrics, reports and
/// observers. Every method does nothing unless implemented.
pub trait Observer {
    /// A rule was judged.
    fn judged(&mut self, _customer: &str, _outcome: Outcome) {}
    /// A goal event converted a firing of `rule` (`group`: its variant,
    /// `None` for the control group).
    fn converted(&mut self, _customer: &str, _rule: usize, _group: Option<usize>) {}
    /// A spend was larger than the balance of ledger `ledger`, by `points`.
    fn shortfall(&mut self, _customer: &str, _ledger: &str, _points: f64) {}
    /// A per-customer limit was reached `count` times.
    fn degraded(&mut self, _customer: &str, _limit: Degraded, _count: usize) {}
    /// Does this observer want the details about `customer` —
    /// [`Observer::scheduled`], [`Observer::cancelled`],
    /// [`Observer::transition`] and [`Observer::ledger`]? Asked once per
    /// step; `false` spares the step recording them (a replay schedules a
    /// firing or earns points at nearly every event, and most observers
    /// follow few customers or none).
    fn detailed(&self, _customer: &str) -> bool {
        true
    }
    /// A `D after E` firing was scheduled.
    fn scheduled(&mut self, _customer: &str, _firing: Firing) {}
    /// A scheduled firing was cancelled before it was judged.
    fn cancelled(&mut self, _customer: &str, _cancel: Cancel) {}
    /// A segment, auto tag or stage changed. Auto tags and what a
    /// transition trigger (`enters`, `exits`, `becomes`, `changes`) reads
    /// change at their exact instant; any other definition is worked out
    /// when the customer is next stepped, so its change is reported then
    /// (query [`crate::CustomerState::standing`] for its value at any
    /// instant).
    fn transition(&mut self, _customer: &str, _transition: Transition) {}
    /// Points moved in ledger `ledger`.
    fn ledger(&mut self, _customer: &str, _ledger: &str, _movement: Movement) {}
}

/// A change of a segment, auto tag or stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// When.
    pub at: Instant,
    /// Which: its index in [`crate::Program::definitions`].
    pub definition: usize,
    /// Its value before: `None` for a stage's first label. A customer
    /// starts outside every segment and tag (no transition), so their
    /// first transition is from `Member(false)`.
    pub from: Option<Standing>,
    /// Its value after.
    pub to: Standing,
}

/// Points moving in a ledger.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Movement {
    /// Earned, expiring at `expires` (`None`: never).
    Earned {
        /// When.
        at: Instant,
        /// The points.
        points: f64,
        /// When they expire.
        expires: Option<Instant>,
    },
    /// Spent (at most the balance: the rest is a shortfall).
    Spent {
        /// When.
        at: Instant,
        /// The points taken from the balance.
        points: f64,
    },
}

/// A firing scheduled for later by an event (`D after E`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Firing {
    /// The rule (declaration order).
    pub rule: usize,
    /// When it falls due (before `at` snapping and quiet hours).
    pub due: Instant,
    /// The time of the event that started it.
    pub origin: Instant,
}

/// Why a scheduled firing will not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// An `unless` event of this type (by declaration order) arrived.
    Unless {
        /// The event type.
        event: usize,
        /// Its time.
        at: Instant,
    },
    /// `D after last E`: a later E replaced it.
    Replaced {
        /// The later E's time.
        at: Instant,
    },
}

/// A scheduled firing cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cancel {
    /// The firing.
    pub firing: Firing,
    /// What cancelled it.
    pub reason: CancelReason,
}

/// Everything a step produced, collected: the convenient form of
/// [`step_into`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StepReport {
    /// Actions, in emission order.
    pub actions: Vec<super::action::Action>,
    /// The event was a duplicate and was ignored.
    pub duplicate: bool,
    /// The event's type is not declared.
    pub ignored: bool,
    /// What became of each rule judged.
    pub outcomes: Vec<Outcome>,
    /// Goal conversions: rule and variant (`None`: control).
    pub conversions: Vec<(usize, Option<usize>)>,
    /// Spends larger than the balance: ledger and the points missing.
    pub shortfalls: Vec<(String, f64)>,
    /// Per-customer limits reached, and how often.
    pub degraded: Vec<(Degraded, usize)>,
    /// Instants passed without firing because their cascade did not settle.
    pub faults: usize,
}

impl Sink for StepReport {
    fn action(&mut self, action: ActionRef<'_>) {
        self.actions.push(action.to_owned());
    }
}

impl Observer for StepReport {
    fn detailed(&self, _: &str) -> bool {
        false
    }

    fn judged(&mut self, _: &str, outcome: Outcome) {
        self.outcomes.push(outcome);
    }

    fn converted(&mut self, _: &str, rule: usize, group: Option<usize>) {
        self.conversions.push((rule, group));
    }

    fn shortfall(&mut self, _: &str, ledger: &str, points: f64) {
        self.shortfalls.push((ledger.to_string(), points));
    }

    fn degraded(&mut self, _: &str, limit: Degraded, count: usize) {
        self.degraded.push((limit, count));
    }
}

/// Steps a customer: applies an event (or advances to an instant) at the
/// host's clock `now`, firing every time-driven change up to it at its own
/// instant. On error the state is exactly as it was and nothing was
/// produced. A state from outside is checked against the program first
/// (in time proportional to its size, as reading it was).
pub fn step(
    program: &Program,
    st: &mut CustomerState,
    input: Input<'_>,
    now: Instant,
    limits: &StateLimits,
) -> Result<StepReport, StepError> {
    st.validate(program.ir())?;
    let mut report = StepReport::default();
    let mut r = Runner {
        program,
        limits,
        buf: &mut Buffer::default(),
        out: &mut report,
    };
    let status = run(&mut r, st, input, now.unix(), Settles::Unknown)?;
    report.duplicate = status.duplicate;
    report.ignored = status.ignored;
    report.faults = status.faults;
    Ok(report)
}

/// [`step`], handing each action to `sink` and everything else to
/// `observer` as each instant is done.
pub fn step_into(
    program: &Program,
    st: &mut CustomerState,
    input: Input<'_>,
    now: Instant,
    limits: &StateLimits,
    sink: &mut dyn Sink,
    observer: &mut dyn Observer,
) -> Result<StepStatus, StepError> {
    st.validate(program.ir())?;
    let mut r = Runner {
        program,
        limits,
        buf: &mut Buffer::default(),
        out: &mut Split { sink, observer },
    };
    run(&mut r, st, input, now.unix(), Settles::Unknown)
}

/// A sink and an observer in one.
pub(crate) trait Outputs: Sink + Observer {}

impl<T: Sink + Observer + ?Sized> Outputs for T {}

/// A sink and an observer given apart.
struct Split<'a> {
    sink: &'a mut dyn Sink,
    observer: &'a mut dyn Observer,
}

impl Sink for Split<'_> {
    fn action(&mut self, action: ActionRef<'_>) {
        self.sink.action(action);
    }
}

impl Observer for Split<'_> {
    fn detailed(&self, customer: &str) -> bool {
        self.observer.detailed(customer)
    }

    fn judged(&mut self, customer: &str, outcome: Outcome) {
        self.observer.judged(customer, outcome);
    }

    fn converted(&mut self, customer: &str, rule: usize, group: Option<usize>) {
        self.observer.converted(customer, rule, group);
    }

    fn shortfall(&mut self, customer: &str, ledger: &str, points: f64) {
        self.observer.shortfall(customer, ledger, points);
    }

    fn degraded(&mut self, customer: &str, limit: Degraded, count: usize) {
        self.observer.degraded(customer, limit, count);
    }

    fn scheduled(&mut self, customer: &str, firing: Firing) {
        self.observer.scheduled(customer, firing);
    }

    fn cancelled(&mut self, customer: &str, cancel: Cancel) {
        self.observer.cancelled(customer, cancel);
    }

    fn transition(&mut self, customer: &str, transition: Transition) {
        self.observer.transition(customer, transition);
    }

    fn ledger(&mut self, customer: &str, ledger: &str, movement: Movement) {
        self.observer.ledger(customer, ledger, movement);
    }
}

/// What nothing is kept of: a dry run's output.
pub(crate) struct Discard;

impl Sink for Discard {
    fn action(&mut self, _: ActionRef<'_>) {}
}

impl Observer for Discard {
    fn detailed(&self, _: &str) -> bool {
        false
    }
}

/// What one instant of one customer produced, held until it is done.
#[derive(Clone, Debug, Default)]
pub(crate) struct Buffer {
    actions: Vec<Emitted>,
    /// Computed values actions refer to (arguments, `set` values).
    values: Vec<Value>,
    outcomes: Vec<Outcome>,
    conversions: Vec<(usize, Option<usize>)>,
    shortfalls: Vec<(usize, f64)>,
    degraded: Vec<(Degraded, usize)>,
    scheduled: Vec<Firing>,
    cancelled: Vec<Cancel>,
    transitions: Vec<Transition>,
    movements: Vec<(usize, Movement)>,
    /// Whether the details (`scheduled`, `cancelled`, `transitions`,
    /// `movements`) are recorded in this step: the observer's `detailed`.
    pub(super) detailed: bool,
}

/// How much a buffer held, to undo what came after.
#[derive(Clone, Copy)]
struct Mark([usize; 10]);

impl Buffer {
    fn mark(&self) -> Mark {
        Mark([
            self.actions.len(),
            self.values.len(),
            self.outcomes.len(),
            self.conversions.len(),
            self.shortfalls.len(),
            self.degraded.len(),
            self.scheduled.len(),
            self.cancelled.len(),
            self.transitions.len(),
            self.movements.len(),
        ])
    }

    /// Counts a per-customer limit reached once more.
    fn degrade(&mut self, d: Degraded) {
        match self.degraded.last_mut() {
            Some((last, n)) if *last == d => *n += 1,
            _ => self.degraded.push((d, 1)),
        }
    }

    fn truncate(&mut self, m: Mark) {
        self.actions.truncate(m.0[0]);
        self.values.truncate(m.0[1]);
        self.outcomes.truncate(m.0[2]);
        self.conversions.truncate(m.0[3]);
        self.shortfalls.truncate(m.0[4]);
        self.degraded.truncate(m.0[5]);
        self.scheduled.truncate(m.0[6]);
        self.cancelled.truncate(m.0[7]);
        self.transitions.truncate(m.0[8]);
        self.movements.truncate(m.0[9]);
    }

    /// Hands everything held to `out`, and holds nothing more.
    fn flush(&mut self, ir: &Ir, id: &str, out: &mut (impl Outputs + ?Sized)) {
        for a in &self.actions {
            out.action(a.view(ir, id, &self.values));
        }
        for o in self.outcomes.drain(..) {
            out.judged(id, o);
        }
        for (r, g) in self.conversions.drain(..) {
            out.converted(id, r, g);
        }
        for (l, p) in self.shortfalls.drain(..) {
            out.shortfall(id, &ir.ledgers[l].name, p);
        }
        for (d, n) in self.degraded.drain(..) {
            out.degraded(id, d, n);
        }
        for f in self.scheduled.drain(..) {
            out.scheduled(id, f);
        }
        for c in self.cancelled.drain(..) {
            out.cancelled(id, c);
        }
        for t in self.transitions.drain(..) {
            out.transition(id, t);
        }
        for (l, m) in self.movements.drain(..) {
            out.ledger(id, &ir.ledgers[l].name, m);
        }
        self.actions.clear();
        self.values.clear();
    }
}

/// What is known of whether an event's instant settles.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settles {
    /// Not known: a cascading program's event is run dry first.
    Unknown,
    /// It does: a dry run said so.
    Known,
    /// This is the dry run.
    Dry,
}

/// What a step works with besides the customer's state: the program and
/// limits, the scratch buffer it records into, and where each finished
/// instant goes.
pub(crate) struct Runner<'a, O: Outputs + ?Sized> {
    pub program: &'a Program,
    pub limits: &'a StateLimits,
    pub buf: &'a mut Buffer,
    pub out: &'a mut O,
}

/// The step.
pub(crate) fn run<O: Outputs + ?Sized>(
    r: &mut Runner<'_, O>,
    st: &mut CustomerState,
    input: Input<'_>,
    now: i64,
    settles: Settles,
) -> Result<StepStatus, StepError> {
    let (program, limits) = (r.program, r.limits);
    let ir = program.ir();
    st.facts.remember_zone(ir);
    r.buf.detailed = r.out.detailed(&st.id);
    let mut status = StepStatus::default();
    let clock = st.clock.get().unwrap_or(i64::MIN);
    let ev = match input {
        Input::Tick(t) => {
            let target = t.unix().max(now);
            catch_up(r, st, target, true, &mut status);
            st.clock = MaybeAt::some(clock.max(target));
            return Ok(status);
        }
        Input::Event(ev) => ev,
    };
    if ev.kind == EventKind::Forget {
        // What fell due before the request still happens, as in the engine
        // (which fires every timer before an event's instant first); then
        // nothing of the customer is kept.
        let tau = ev.secs().max(now).max(clock);
        catch_up(r, st, tau, false, &mut status);
        *st = CustomerState::new(program, &st.id.clone());
        return Ok(status);
    }
    let tau = ev.secs().max(now).max(clock);
    if !reaches(st, ev) {
        return Ok(status);
    }
    if is_duplicate(st, ev, limits) {
        status.duplicate = true;
        return Ok(status);
    }
    if ir.may_cascade && settles == Settles::Unknown {
        // Whether the event's instant settles is known only by running it:
        // on a copy first, so that a rejected event has no effect at all.
        let mut copy = st.clone();
        let mut dry = Runner {
            program,
            limits,
            buf: &mut Buffer::default(),
            out: &mut Discard,
        };
        run(&mut dry, &mut copy, input, now, Settles::Dry)?;
    }
    // A customer exists from the instant its first event is applied:
    // nothing before it is ever fired, even for a late first event.
    if st.clock.is_none() {
        st.clock = MaybeAt::some(tau - 1);
    }
    catch_up(r, st, tau, false, &mut status);
    // Every second before the event has passed for this customer, with or
    // without a wake-up in it: a calendar occurrence there is over, even if
    // this event (a birthday set late) would have made it one.
    st.clock = MaybeAt::some(st.clock.get().map_or(tau - 1, |c| c.max(tau - 1)));
    let mark = r.buf.mark();
    if let Err(e) = instant::instant(ir, st, tau, Some(ev), limits, r.buf) {
        // Run dry first, a cascading program's event settles; any other
        // cannot cascade that far.
        debug_assert!(settles == Settles::Dry, "an event run dry did not settle");
        r.buf.truncate(mark);
        return Err(e);
    }
    if let Some(id) = &ev.id {
        let evicted = st.dedup.accept(id, ev.secs(), limits.max_ids);
        if evicted > 0 {
            r.buf.degraded.push((Degraded::Ids, evicted));
        }
    }
    st.dedup.expire(tau.saturating_sub(limits.dedup_horizon));
    st.clock = MaybeAt::some(tau);
    r.buf.flush(ir, &st.id, r.out);
    status.ignored = matches!(ev.kind, EventKind::Undeclared(_));
    Ok(status)
}

/// Does an event reach this customer? A broadcast reaches only customers
/// first seen strictly before it; anyone else is not sent it.
pub(crate) fn reaches(st: &CustomerState, ev: &Event) -> bool {
    !ev.is_broadcast() || st.facts.first_seen.get().is_some_and(|f| f < ev.secs())
}

/// Is the event a duplicate for this customer (its id accepted within the
/// dedup horizon)?
pub(crate) fn is_duplicate(st: &CustomerState, ev: &Event, limits: &StateLimits) -> bool {
    ev.id
        .as_deref()
        .is_some_and(|id| st.dedup.is_duplicate(id, ev.secs(), limits.dedup_horizon))
}

/// Runs every wake-up before `target` (or at it, when `inclusive`), each
/// instant handed to `out` once it is done.
fn catch_up<O: Outputs + ?Sized>(
    r: &mut Runner<'_, O>,
    st: &mut CustomerState,
    target: i64,
    inclusive: bool,
    status: &mut StepStatus,
) {
    let (ir, limits) = (r.program.ir(), r.limits);
    let buf = &mut *r.buf;
    while let Some(w) = st.wakeup(ir) {
        if w > target || (!inclusive && w == target) || w > Instant::MAX.unix() {
            break;
        }
        // Something due before the customer's clock fires at the clock:
        // nothing is reported retroactively.
        let at = st.clock.get().map_or(w, |c| w.max(c));
        // Time passing cannot be rejected: an instant whose cascade does
        // not settle is passed without firing, and reported as a fault.
        let backup = ir.may_cascade.then(|| st.clone());
        let mark = buf.mark();
        match instant::instant(ir, st, at, None, limits, buf) {
            Ok(()) => buf.flush(ir, &st.id, r.out),
            Err(_) => {
                if let Some(b) = backup {
                    *st = b;
                }
                buf.truncate(mark);
                skip_to(ir, st, at);
                status.faults += 1;
            }
        }
    }
}

/// Passes instant `w` without firing anything: consumes the timers due at
/// it and refreshes derived state. Used when a timer's cascade does not
/// settle, so that the clock can move on.
pub(crate) fn skip_to(ir: &Ir, st: &mut CustomerState, w: i64) {
    instant::skip(ir, st, w);
}
