//! The stateless core (HOST.md call 3): one customer's state as a value,
//! and the step function that turns an event or a clock advance into
//! actions, exactly as LANGUAGE.md §5–§6 define.

use super::action::Action;
use super::calendar;
use super::event::{Event, EventKind};
use super::fire::{Candidate, fire, tag_action};
pub use super::fire::{Outcome, Verdict};
use crate::check::hir::{Derived, Trigger};
use crate::compile::{AggMode, CExpr, Ir, Program, SegmentId};
use crate::eval::aggregate::{AggState, Entry, LogEntry, prune_log};
use crate::eval::ledger::{self, Credit};
use crate::eval::{self, Ctx, FOREVER, eval};
use crate::limits::{MAX_ROUNDS, StateLimits};
use crate::value::Value;
use crate::zone::Zone;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Why a step was rejected; the state is left as it was.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// Built-in actions kept changing state for more than 16 rounds.
    #[error(
        "cascade depth: built-in actions at {at} kept triggering rules for more than {MAX_ROUNDS} rounds"
    )]
    CascadeDepth {
        /// The instant (RFC 3339).
        at: String,
    },
    /// A per-customer limit was reached.
    #[error("limit: {0}")]
    Limit(String),
    /// The state belongs to another program or is damaged.
    #[error("customer state does not fit this program: {0}")]
    Mismatch(String),
}

/// The last known value of a segment, tag or stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DVal {
    /// Before the customer's first event: a member of nothing.
    Unknown,
    /// A segment's or tag's membership.
    Bool(bool),
    /// A stage's label index.
    Label(usize),
}

/// A derived value and the instant up to which it holds without events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedState {
    /// The value.
    pub value: DVal,
    /// Holds until this instant (exclusive).
    pub until: i64,
}

/// A scheduled firing: an `after` trigger falling due, or a firing moved
/// by `at` snapping or quiet hours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// When it fires (or is judged).
    pub due: i64,
    /// The starting instant (the E event's time, or the followed firing).
    pub origin: i64,
    /// Arrival number of the starting event.
    pub seq: u64,
    /// Fields of the starting event (`event.*`).
    pub fields: Vec<Value>,
    /// For a moved firing: its trigger instant and occurrence there.
    pub moved: Option<(i64, u32)>,
}

/// Per-rule trigger state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// `no … for` and `after last`: time and arrival of the latest
    /// matching event.
    pub anchor: Option<(i64, u64)>,
    /// `no … for`: the anchor time it has fired for.
    pub fired: Option<i64>,
    /// Scheduled firings, by due time.
    pub pending: Vec<Pending>,
    /// Instants of emitted firings inside the limit window.
    pub emitted: VecDeque<i64>,
    /// Emitted firings ever.
    pub emitted_ever: u64,
    /// The last trigger instant and how many firings it has had, for ids.
    pub occurrence: (i64, u32),
    /// Open goal windows: firing instant and variant (`None`: control).
    pub goals: Vec<(i64, Option<usize>)>,
    /// A calendar trigger's next occurrence, as of the last instant
    /// processed: working it out takes time-zone arithmetic, and
    /// `next_wakeup` is asked far more often than it changes.
    pub calendar: Option<i64>,
}

impl RuleState {
    /// Adds a scheduled firing in due order.
    pub(crate) fn schedule(&mut self, p: Pending) {
        let at = self
            .pending
            .partition_point(|q| (q.due, q.seq) <= (p.due, p.seq));
        self.pending.insert(at, p);
    }

    /// The next instant this rule (with `trigger`, for a customer first
    /// seen at `first_seen`) is due by a timer: its earliest scheduled
    /// firing, the end of a `no … for` silence, its next calendar occurrence.
    fn timer(&self, trigger: &Trigger<CExpr>, first_seen: i64) -> Option<i64> {
        let timer = match *trigger {
            Trigger::No { duration, .. } => self.silence(first_seen, duration).map(|s| s.1),
            Trigger::Every { .. } | Trigger::Anniversary { .. } => self.calendar,
            _ => None,
        };
        // Pending firings are kept in due order.
        let pending = self.pending.first().map(|p| p.due);
        timer.into_iter().chain(pending).min()
    }

    /// A `no … for duration` trigger not yet fired for its silence: the
    /// silence's start (the latest matching event, else the first event)
    /// and the instant it has lasted `duration`.
    fn silence(&self, first_seen: i64, duration: i64) -> Option<(i64, i64)> {
        let anchor = self.anchor.map_or(first_seen, |a| a.0);
        (self.fired != Some(anchor)).then(|| (anchor, anchor.saturating_add(duration)))
    }
}

/// Everything siyu holds about one customer. Serializes with serde, so a
/// host can keep it in its own store and step it there (HOST.md call 3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerState {
    pub(crate) id: String,
    /// The latest instant this customer has been stepped to.
    pub(crate) clock: Option<i64>,
    pub(crate) first_seen: Option<i64>,
    pub(crate) last_seen: Option<i64>,
    /// Accepted customer events, for ordering events of the same second.
    pub(crate) seq: u64,
    pub(crate) profile: Vec<Value>,
    pub(crate) tags: BTreeSet<String>,
    pub(crate) aggs: Vec<AggState>,
    pub(crate) logs: Vec<VecDeque<LogEntry>>,
    pub(crate) derived: Vec<DerivedState>,
    pub(crate) rules: Vec<RuleState>,
    /// Dedup ids → event time.
    pub(crate) ids: BTreeMap<String, i64>,
    /// Per cap: instants of emitted actions it counts, inside its window.
    pub(crate) caps: Vec<VecDeque<i64>>,
    /// Per auto tag: the last change instant and changes there, for ids.
    pub(crate) tag_occ: BTreeMap<String, (i64, u32)>,
    /// Per ledger: unspent credits, oldest first.
    pub(crate) ledgers: Vec<VecDeque<Credit>>,
    /// The zone attribute as last written, parsed: `profile[attr]` is this
    /// zone (`None`: not a valid one). Found per step and per firing, a
    /// zone is otherwise a name look-up each time.
    #[serde(skip)]
    zone_memo: Memo<Option<(usize, Option<Zone>)>>,
    /// No window entry, logged event or credit leaves before this instant,
    /// so a step before it has nothing to prune (`None`: unknown).
    #[serde(skip)]
    leaves: Memo<Option<i64>>,
}

/// What follows from the rest of the state and is kept only to save work:
/// not stored, no part in equality. A state without it (new, restored,
/// upgraded) works it out again.
#[derive(Clone, Debug, Default)]
struct Memo<T>(T);

impl<T> PartialEq for Memo<T> {
    fn eq(&self, _: &Memo<T>) -> bool {
        true
    }
}

/// What a step did besides its actions, for metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReport {
    /// Actions, in emission order.
    pub actions: Vec<Action>,
    /// The event was a duplicate and was ignored.
    pub duplicate: bool,
    /// The event's type is not declared.
    pub ignored: bool,
    /// What became of each rule judged.
    pub outcomes: Vec<Outcome>,
    /// Goal conversions: rule and variant (`None`: control).
    pub conversions: Vec<(usize, Option<usize>)>,
    /// Spends larger than the balance: ledger name and the points missing.
    pub shortfalls: Vec<(String, f64)>,
    /// Instants passed without firing because their cascade did not settle.
    pub faults: usize,
}

/// One input to a step.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// An event for this customer, or a broadcast (which reaches it only
    /// if it was first seen strictly before the broadcast's time).
    Event(&'a Event),
    /// The clock reached this instant.
    Tick(i64),
}

impl CustomerState {
    /// A customer unknown so far.
    pub fn new(program: &Program, id: &str) -> CustomerState {
        let ir = program.ir();
        CustomerState {
            id: id.to_string(),
            clock: None,
            first_seen: None,
            last_seen: None,
            seq: 0,
            profile: vec![Value::Null; ir.profile.len()],
            tags: BTreeSet::new(),
            aggs: ir.aggs.iter().map(AggState::new).collect(),
            logs: vec![VecDeque::new(); ir.logs.len()],
            derived: vec![
                DerivedState {
                    value: DVal::Unknown,
                    until: FOREVER,
                };
                ir.derived.len()
            ],
            rules: vec![RuleState::default(); ir.rules.len()],
            ids: BTreeMap::new(),
            caps: vec![VecDeque::new(); ir.caps.len()],
            tag_occ: BTreeMap::new(),
            ledgers: vec![VecDeque::new(); ir.ledgers.len()],
            zone_memo: Memo::default(),
            leaves: Memo::default(),
        }
    }

    /// Writes a profile attribute (the one place that does, so the zone
    /// memo follows it).
    pub(crate) fn set_profile(&mut self, ir: &Ir, attr: usize, v: Value) {
        self.zone_memo.0 = if ir.customer_zone == Some(attr) {
            Some((attr, parse_zone(&v)))
        } else {
            self.zone_memo.0.filter(|(a, _)| *a != attr)
        };
        self.profile[attr] = v;
    }

    /// The customer id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The earliest instant of an accepted event.
    pub fn first_seen(&self) -> Option<i64> {
        self.first_seen
    }

    /// Checks that the state has the shape the program expects.
    pub(crate) fn fits(&self, ir: &Ir) -> Result<(), StepError> {
        let shape = [
            ("profile", self.profile.len(), ir.profile.len()),
            ("aggregates", self.aggs.len(), ir.aggs.len()),
            ("logs", self.logs.len(), ir.logs.len()),
            ("derived", self.derived.len(), ir.derived.len()),
            ("rules", self.rules.len(), ir.rules.len()),
            ("caps", self.caps.len(), ir.caps.len()),
            ("ledgers", self.ledgers.len(), ir.ledgers.len()),
        ];
        for (what, have, want) in shape {
            if have != want {
                return Err(StepError::Mismatch(format!(
                    "{what}: {have}, program has {want}"
                )));
            }
        }
        Ok(())
    }

    /// `fits`, and every stored value consistent with its definition: for
    /// states from outside (a snapshot), checked once rather than per step.
    pub(crate) fn validate(&self, ir: &Ir) -> Result<(), StepError> {
        self.fits(ir)?;
        for (i, (spec, agg)) in ir.aggs.iter().zip(&self.aggs).enumerate() {
            let fits = matches!(
                (spec.mode, agg),
                (AggMode::Running, AggState::Running(_))
                    | (AggMode::Window, AggState::Window { .. })
                    | (AggMode::Scan(_), AggState::Scan)
            );
            if !fits {
                return Err(StepError::Mismatch(format!(
                    "aggregate {i} has the wrong kind of state"
                )));
            }
        }
        for (slot, (node, d)) in ir.derived.iter().zip(&self.derived).enumerate() {
            let fits = match (&node.def, d.value) {
                (_, DVal::Unknown) => true,
                (Derived::Stage { labels, .. }, DVal::Label(l)) => l < labels.len(),
                (Derived::Segment { .. } | Derived::Tag { .. }, DVal::Bool(_)) => true,
                _ => false,
            };
            if !fits {
                return Err(StepError::Mismatch(format!(
                    "derived value {slot} does not fit its node"
                )));
            }
        }
        Ok(())
    }

    /// Evaluates segment `id` (from [`Program::segment_id`]) for this
    /// customer at `now`, from the state as it is (for hosts that query
    /// membership, and for benchmarks). `now` is at or after the instant
    /// the state was last stepped to: the history before it is no longer
    /// all there. Segments, tags and stages it reads are taken at `now`
    /// too. A query runs no rules: what timers due before `now` would do
    /// to tags or the profile is seen once the state is stepped there.
    pub fn segment(&self, program: &Program, id: SegmentId, now: i64) -> bool {
        let ir = program.ir();
        let Some(cond) = ir.fast_conds.get(id.0).and_then(Option::as_ref) else {
            return false;
        };
        if self.reads_lapsed(ir, id.0, now) {
            // A segment, tag or stage it reads may have changed since the
            // last step: work them out at `now` on a copy, as explain does.
            let mut st = self.clone();
            st.refresh(program, now);
            return eval::fast::test(cond, &Ctx::new(ir, &st, now, st.zone(ir), None));
        }
        eval::fast::test(cond, &Ctx::new(ir, self, now, self.zone(ir), None))
    }

    /// Has a derived value that node `slot` reads, directly or through
    /// others, reached the instant up to which it was known to hold?
    fn reads_lapsed(&self, ir: &Ir, slot: usize, now: i64) -> bool {
        let reads = |s: usize| ir.derived.get(s).map_or(&[][..], |n| &n.reads.slots[..]);
        if reads(slot).is_empty() {
            return false;
        }
        // A node reads only nodes before it (the checker's dependency
        // order), so one sweep down from `slot` meets every node it reads
        // after the nodes that read it.
        let mut marks = Marks::default();
        let needed = marks.of(slot);
        let mark = |needed: &mut [bool], s: usize| {
            if let Some(n) = needed.get_mut(s) {
                *n = true;
            }
        };
        for &s in reads(slot) {
            mark(needed, s);
        }
        for s in (0..slot).rev() {
            if needed[s] {
                if self.derived.get(s).is_none_or(|d| d.until <= now) {
                    return true;
                }
                for &r in reads(s) {
                    mark(needed, r);
                }
            }
        }
        false
    }

    /// Works out each calendar trigger's next occurrence after what this
    /// customer has lived through (see [`RuleState::calendar`]). With
    /// `reuse`, nothing the occurrences read has changed since they were
    /// worked out, so one still after the clock and the last firing stands.
    pub(crate) fn refresh_calendars(&mut self, ir: &Ir, reuse: bool) {
        let zone = self.zone(ir);
        let from = self.clock.map_or(i64::MIN, |c| c.saturating_add(1));
        for (r, rule) in ir.rules.iter().enumerate() {
            if rule.trigger.is_calendar() {
                let rs = &self.rules[r];
                let lived = from.saturating_sub(1).max(rs.fired.unwrap_or(i64::MIN));
                if reuse && rs.calendar.is_some_and(|c| c > lived) {
                    continue;
                }
                let due = self.calendar_due(&rule.trigger, rs, zone, from);
                self.rules[r].calendar = due;
            }
        }
    }

    /// The first instant a window entry, a logged event or a credit leaves
    /// (a spent credit: at once).
    fn next_leave(&self, ir: &Ir) -> i64 {
        let aggs = ir
            .aggs
            .iter()
            .zip(&self.aggs)
            .filter_map(|(spec, a)| a.leaves(spec));
        let logs = ir
            .logs
            .iter()
            .zip(&self.logs)
            .filter_map(|(spec, l)| Some(l.front()?.t.saturating_add(spec.retention?)));
        let credits = self.ledgers.iter().flatten().map(|c| {
            if c.remaining > 0.0 {
                c.expires
            } else {
                i64::MIN
            }
        });
        aggs.chain(logs).chain(credits).min().unwrap_or(FOREVER)
    }

    /// The customer's zone under a program.
    pub(crate) fn zone_for(&self, program: &Program) -> Zone {
        self.zone(program.ir())
    }

    /// Brings windows and derived state to `now` without firing anything
    /// (for looking, as `explain` does, not for stepping).
    pub(crate) fn refresh(&mut self, program: &Program, now: i64) {
        let ir = program.ir();
        if self.first_seen.is_none() {
            return;
        }
        for (spec, agg) in ir.aggs.iter().zip(self.aggs.iter_mut()) {
            agg.prune(spec, now);
        }
        let zone = self.zone(ir);
        reevaluate(ir, self, now, zone, Touched::ALL);
    }

    /// The next instant rule `r`'s trigger is due by a timer (for explain).
    pub(crate) fn next_trigger(&self, program: &Program, r: usize) -> Option<i64> {
        let first_seen = self.first_seen?;
        self.rules[r].timer(&program.ir().rules[r].trigger, first_seen)
    }

    /// The customer's zone: `timezone profile.F` when set and valid, else
    /// the program's.
    fn zone(&self, ir: &Ir) -> Zone {
        ir.customer_zone
            .and_then(|i| match self.zone_memo.0 {
                Some((attr, zone)) if attr == i => zone,
                _ => parse_zone(&self.profile[i]),
            })
            .unwrap_or(ir.zone)
    }

    /// The next instant at which something can happen to this customer
    /// without an event: a derived value that is observed changing, a `no …
    /// for` silence ending, a scheduled `after`.
    pub fn next_wakeup(&self, program: &Program) -> Option<i64> {
        let ir = program.ir();
        let first_seen = self.first_seen?;
        let mut next = FOREVER;
        for (node, d) in ir.derived.iter().zip(&self.derived) {
            if node.observed {
                next = next.min(d.until);
            }
        }
        for (rule, rs) in ir.rules.iter().zip(&self.rules) {
            if let Some(t) = rs.timer(&rule.trigger, first_seen) {
                next = next.min(t);
            }
        }
        (next != FOREVER).then_some(next)
    }

    /// The next occurrence of a calendar trigger after everything this
    /// customer has already lived through (its clock, its first event, the
    /// last occurrence fired).
    ///
    /// `from` is the first instant still open: occurrences before it are
    /// over (so a birthday set late does not fire for a date already
    /// passed), one at it counts if the customer was first seen before it
    /// and it has not fired — even when an earlier step at the same instant
    /// did not yet know the customer that early.
    fn calendar_due(
        &self,
        trigger: &Trigger<CExpr>,
        rs: &RuleState,
        zone: Zone,
        from: i64,
    ) -> Option<i64> {
        let first_seen = self.first_seen?;
        let after = [Some(from.saturating_sub(1)), Some(first_seen), rs.fired]
            .into_iter()
            .flatten()
            .max()?;
        match *trigger {
            Trigger::Every { weekday, at } => calendar::next_daily(zone, after, weekday, at),
            Trigger::Anniversary { attr, before, at } => match &self.profile[attr] {
                Value::Date(d) => calendar::next_anniversary(zone, after, *d, before, at),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Steps a customer: applies an event (or advances to an instant) at the
/// host's clock `now`, firing every time-driven change up to it at its own
/// instant. On error the state is exactly as it was.
pub fn step(
    program: &Program,
    st: &mut CustomerState,
    input: Input<'_>,
    now: i64,
    limits: &StateLimits,
) -> Result<StepReport, StepError> {
    let ir = program.ir();
    st.fits(ir)?;
    let mut report = StepReport::default();
    let clock = st.clock.unwrap_or(i64::MIN);
    match input {
        Input::Tick(t) => {
            let target = t.max(now);
            catch_up(program, st, target, true, &mut report);
            st.clock = Some(clock.max(target));
        }
        Input::Event(ev) if ev.kind == EventKind::Forget => {
            // What fell due before the request still happens, as in the
            // engine (which fires every timer before an event's instant
            // first); then nothing of the customer is kept.
            catch_up(program, st, ev.time.max(now).max(clock), false, &mut report);
            *st = CustomerState::new(program, &st.id.clone());
        }
        Input::Event(ev) => {
            let tau = ev.time.max(now).max(clock);
            // A broadcast reaches only customers first seen strictly before
            // it (HOST.md); anyone else is not sent it, and nothing changes.
            if ev.is_broadcast() && st.first_seen.is_none_or(|f| f >= ev.time) {
                return Ok(report);
            }
            if let Some(id) = &ev.id {
                if st
                    .ids
                    .get(id)
                    .is_some_and(|t0| ev.time - t0 <= limits.dedup_horizon)
                {
                    report.duplicate = true;
                    return Ok(report);
                }
            }
            check_limits(ir, st, ev, limits)?;
            let backup = ir.may_cascade.then(|| st.clone());
            // A customer exists from the instant its first event is applied:
            // nothing before it is ever fired, even for a late first event.
            if st.clock.is_none() {
                st.clock = Some(tau - 1);
            }
            catch_up(program, st, tau, false, &mut report);
            // Every second before the event has passed for this customer,
            // with or without a wake-up in it: a calendar occurrence there is
            // over, even if this event (say, a birthday set late) would have
            // made it one.
            st.clock = Some(st.clock.map_or(tau - 1, |c| c.max(tau - 1)));
            let result = instant(program, st, tau, Some(ev), &mut report);
            if let Err(e) = result {
                if let Some(b) = backup {
                    *st = b;
                }
                return Err(e);
            }
            if let Some(id) = &ev.id {
                st.ids.insert(id.clone(), ev.time);
            }
            st.ids.retain(|_, t0| *t0 >= tau - limits.dedup_horizon);
            st.clock = Some(tau);
            report.ignored = matches!(ev.kind, EventKind::Undeclared(_));
        }
    }
    Ok(report)
}

/// Runs every wake-up before `target` (or at it, when `inclusive`).
fn catch_up(
    program: &Program,
    st: &mut CustomerState,
    target: i64,
    inclusive: bool,
    report: &mut StepReport,
) {
    let ir = program.ir();
    while let Some(w) = st.next_wakeup(program) {
        if w > target || (!inclusive && w == target) {
            break;
        }
        // Something due before the customer's clock fires at the clock:
        // nothing is reported retroactively.
        let at = st.clock.map_or(w, |c| w.max(c));
        // Time passing cannot be rejected: an instant whose cascade does not
        // settle is passed without firing, and reported as a fault.
        let backup = ir
            .may_cascade
            .then(|| (st.clone(), report.actions.len(), report.outcomes.len()));
        if instant(program, st, at, None, report).is_err() {
            if let Some((b, actions, outcomes)) = backup {
                *st = b;
                report.actions.truncate(actions);
                report.outcomes.truncate(outcomes);
            }
            skip_to(program, st, at);
            report.faults += 1;
        }
    }
}

/// Rejects an event that would exceed a per-customer limit, before it
/// changes anything.
fn check_limits(
    ir: &Ir,
    st: &CustomerState,
    ev: &Event,
    limits: &StateLimits,
) -> Result<(), StepError> {
    let EventKind::Declared { event, .. } = &ev.kind else {
        return Ok(());
    };
    let retained: usize = st.aggs.iter().map(AggState::retained).sum::<usize>()
        + st.logs.iter().map(VecDeque::len).sum::<usize>()
        + st.ledgers.iter().map(VecDeque::len).sum::<usize>();
    let adds = ir.aggs_by_event[*event].len()
        + usize::from(ir.log_by_event[*event].is_some())
        + ir.ledgers_by_event[*event].len();
    if retained + adds > limits.max_retained {
        return Err(StepError::Limit(format!(
            "customer `{}` would retain more than {} window entries",
            st.id, limits.max_retained
        )));
    }
    let pending: usize = st.rules.iter().map(|r| r.pending.len()).sum();
    if pending + ir.rules_by_event[*event].len() > limits.max_pending {
        return Err(StepError::Limit(format!(
            "customer `{}` would have more than {} pending timers",
            st.id, limits.max_pending
        )));
    }
    Ok(())
}

/// Everything that happens to one customer at one instant (§6): the event
/// if any, derived state, then rules by priority, in cascade rounds.
fn instant(
    program: &Program,
    st: &mut CustomerState,
    tau: i64,
    ev: Option<&Event>,
    report: &mut StepReport,
) -> Result<(), StepError> {
    let ir = program.ir();
    let mut event_fields: Option<(usize, &[Value])> = None;
    let mut touched = Touched::default();
    if let Some(ev) = ev {
        match &ev.kind {
            EventKind::Forget => return Ok(()),
            EventKind::Declared { event, fields } if ir.events[*event].broadcast => {
                event_fields = Some((*event, fields));
            }
            kind => {
                let (first, last) = (st.first_seen, st.last_seen);
                st.first_seen = Some(first.map_or(ev.time, |f| f.min(ev.time)));
                st.last_seen = Some(last.map_or(ev.time, |l| l.max(ev.time)));
                touched.first_seen = st.first_seen != first;
                touched.last_seen = st.last_seen != last;
                match kind {
                    EventKind::Declared { event, fields } => {
                        st.seq += 1;
                        // A customer event leaves the profile, hence the
                        // zone, as it was.
                        let zone = st.zone(ir);
                        // Entries and credits come in (or are spent): prune
                        // below, and work out when the next one leaves.
                        st.leaves.0 = None;
                        apply_event(ir, st, zone, *event, fields, ev.time, tau);
                        apply_ledgers(ir, st, zone, *event, fields, ev.time, tau, report);
                        event_fields = Some((*event, fields));
                        touched.event = Some(*event);
                    }
                    EventKind::Profile(attrs) => {
                        for (i, v) in attrs {
                            st.set_profile(ir, *i, v.clone());
                        }
                        touched.profile = true;
                    }
                    EventKind::Tag(t) => {
                        st.tags.insert(t.clone());
                        touched.tags = true;
                    }
                    EventKind::Untag(t) => {
                        st.tags.remove(t);
                        touched.tags = true;
                    }
                    EventKind::Undeclared(_) | EventKind::Forget => {}
                }
            }
        }
    }
    if st.first_seen.is_none() {
        return Ok(());
    }
    if st.leaves.0.is_none_or(|at| tau >= at) {
        for (spec, agg) in ir.aggs.iter().zip(st.aggs.iter_mut()) {
            agg.prune(spec, tau);
        }
        for (spec, log) in ir.logs.iter().zip(st.logs.iter_mut()) {
            prune_log(log, spec.retention, tau);
        }
        for credits in &mut st.ledgers {
            ledger::prune(credits, tau);
        }
        st.leaves.0 = Some(st.next_leave(ir));
    }
    let unread = touched.calendars_unread();
    let result = rounds(ir, st, tau, ev, event_fields, touched, report);
    st.clock = Some(st.clock.map_or(tau, |c| c.max(tau)));
    // Nothing a calendar reads changed unless the event touched the profile
    // or first_seen, or a firing changed state.
    st.refresh_calendars(ir, unread && result == Ok(false));
    result.map(|_| ())
}

fn parse_zone(v: &Value) -> Option<Zone> {
    match v {
        Value::Str(s) => Zone::parse(s),
        _ => None,
    }
}

/// The cascade rounds of one instant; whether a firing changed state.
#[allow(clippy::too_many_arguments)]
fn rounds(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    ev: Option<&Event>,
    event_fields: Option<(usize, &[Value])>,
    touched: Touched,
    report: &mut StepReport,
) -> Result<bool, StepError> {
    let mut round = 0;
    let mut changed_any = false;
    loop {
        round += 1;
        if round > MAX_ROUNDS {
            return Err(StepError::CascadeDepth {
                at: crate::value::format_time(tau),
            });
        }
        // Later rounds follow built-in actions: re-read everything, the
        // zone included (`set profile.tz` changes it at once, §6).
        let touched = if round == 1 { touched } else { Touched::ALL };
        let zone = st.zone(ir);
        let changes = reevaluate(ir, st, tau, zone, touched);
        for &(slot, old, new) in &changes {
            if let Derived::Tag { name: tag, .. } = &ir.derived[slot].def {
                let added = matches!(new, DVal::Bool(true));
                if added != matches!(old, DVal::Bool(true)) {
                    let action = tag_action(st, tau, None, added, tag);
                    report.actions.push(action);
                }
            }
        }
        let mut candidates = Vec::new();
        if round == 1 {
            if let Some((event, fields)) = event_fields {
                let seq = st.seq;
                let t = ev.map_or(tau, |e| e.time);
                bookkeeping(ir, st, tau, zone, event, fields, t, seq);
                bookkeeping_goals(ir, st, tau, zone, event, fields, t, report);
                for &r in &ir.rules_by_event[event] {
                    if let Trigger::Event(on) = &ir.rules[r].trigger {
                        let (e, filter) = (on.event, &on.filter);
                        if e == event
                            && matches_filter(
                                ir,
                                st,
                                tau,
                                zone,
                                filter.as_ref(),
                                fields,
                                Some(fields),
                            )
                        {
                            candidates.push(Candidate {
                                rule: r,
                                fields: Some(fields.to_vec()),
                                order: (tau, 0),
                                no_anchor: None,
                                origin: tau,
                                moved: None,
                            });
                        }
                    }
                }
            }
        }
        transitions(ir, &changes, &mut candidates);
        // The occurrences cached at the end of the last instant still hold
        // if nothing they read has changed since: the clock moved on and no
        // event touched the profile (dates, zone) or first_seen.
        let cached = round == 1 && touched.calendars_unread() && st.clock.is_some_and(|c| c < tau);
        due_timers(ir, st, tau, zone, round == 1, cached, &mut candidates);
        if candidates.is_empty() {
            return Ok(changed_any);
        }
        candidates.sort_by(|a, b| {
            let (ra, rb) = (&ir.rules[a.rule], &ir.rules[b.rule]);
            rb.priority
                .cmp(&ra.priority)
                .then(a.rule.cmp(&b.rule))
                .then(a.order.cmp(&b.order))
        });
        let mut changed = false;
        for c in candidates {
            // An earlier firing of this round may have set the zone.
            let zone = st.zone(ir);
            changed |= fire(ir, st, tau, zone, &c, report);
        }
        if !changed {
            return Ok(changed_any);
        }
        changed_any = true;
    }
}

/// Counts a customer event in the aggregates and logs that read its type.
#[allow(clippy::too_many_arguments)]
fn apply_event(
    ir: &Ir,
    st: &mut CustomerState,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
    tau: i64,
) {
    let seq = st.seq;
    for &a in &ir.aggs_by_event[event] {
        let spec = &ir.aggs[a];
        let matched = matches_filter(ir, st, tau, zone, spec.filter.as_ref(), fields, None);
        if matched {
            let v = spec
                .field
                .and_then(|f| fields.get(f))
                .cloned()
                .unwrap_or(Value::Null);
            st.aggs[a].insert(spec, Entry { t, seq, v }, tau);
        }
    }
    if let Some(l) = ir.log_by_event[event] {
        let retention = ir.logs[l].retention;
        if retention.is_none_or(|r| t > tau.saturating_sub(r)) {
            let log = &mut st.logs[l];
            let at = log.partition_point(|e| (e.t, e.seq) < (t, seq));
            log.insert(
                at,
                LogEntry {
                    t,
                    seq,
                    fields: fields.to_vec(),
                },
            );
        }
    }
}

/// Earns and spends points for a customer event: amounts are evaluated
/// first (with `event.*` the event), then credits change.
#[allow(clippy::too_many_arguments)]
fn apply_ledgers(
    ir: &Ir,
    st: &mut CustomerState,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
    tau: i64,
    report: &mut StepReport,
) {
    for &l in &ir.ledgers_by_event[event] {
        let spec = &ir.ledgers[l];
        let cx = Ctx::new(ir, st, tau, zone, Some(fields));
        let amount = |e: &CExpr| eval::value(e, &cx).as_f64().filter(|a| *a > 0.0);
        let earned: Vec<f64> = spec
            .earn
            .iter()
            .filter(|(e, _)| *e == event)
            .filter_map(|(_, a)| amount(a))
            .collect();
        let spent: Vec<f64> = spec
            .spend
            .iter()
            .filter(|(e, _)| *e == event)
            .filter_map(|(_, a)| amount(a))
            .collect();
        let seq = st.seq;
        let credits = &mut st.ledgers[l];
        for points in earned {
            let expires = spec.expire.map_or(FOREVER, |d| t.saturating_add(d));
            ledger::earn(
                credits,
                Credit {
                    t,
                    seq,
                    expires,
                    remaining: points,
                },
            );
        }
        for points in spent {
            let short = ledger::spend(credits, tau, points);
            if short > 0.0 {
                report.shortfalls.push((spec.name.clone(), short));
            }
        }
    }
}

/// What a step changed that derived values may read.
#[derive(Clone, Copy, Debug, Default)]
struct Touched {
    /// A customer event of this type arrived.
    event: Option<usize>,
    profile: bool,
    tags: bool,
    first_seen: bool,
    last_seen: bool,
    /// Re-evaluate everything.
    all: bool,
}

impl Touched {
    const ALL: Touched = Touched {
        event: None,
        profile: true,
        tags: true,
        first_seen: true,
        last_seen: true,
        all: true,
    };

    /// Nothing a calendar occurrence reads (the profile's dates and zone,
    /// first_seen) was touched.
    fn calendars_unread(&self) -> bool {
        !self.profile && !self.first_seen
    }
}

/// One flag per derived node, on the stack for the usual few: the marks
/// are wanted at every step, and a heap allocation would come with each.
#[derive(Default)]
struct Marks {
    small: [bool; 32],
    large: Vec<bool>,
}

impl Marks {
    /// `n` flags, all false when first asked for.
    fn of(&mut self, n: usize) -> &mut [bool] {
        if n <= self.small.len() {
            return &mut self.small[..n];
        }
        self.large.resize(n, false);
        &mut self.large
    }
}

/// Re-evaluates derived state in dependency order; returns what changed as
/// (slot, old, new). A value is recomputed only when its horizon has come,
/// or something it reads changed: an event feeding its aggregates, the
/// profile, the tags, first/last seen, or a derived value it reads.
fn reevaluate(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    touched: Touched,
) -> Vec<(usize, DVal, DVal)> {
    let mut changes = Vec::new();
    // Which nodes were worked out again.
    let mut marks = Marks::default();
    let fresh = marks.of(ir.derived.len());
    for (slot, node) in ir.derived.iter().enumerate() {
        let (d, r) = (&st.derived[slot], &node.reads);
        let stale = touched.all
            || r.always
            || d.value == DVal::Unknown
            || tau >= d.until
            || touched.event.is_some_and(|e| r.events.contains(&e))
            || (touched.profile && r.profile)
            || (touched.tags && r.tags)
            || (touched.first_seen && r.first_seen)
            || (touched.last_seen && r.last_seen)
            || r.slots
                .iter()
                .any(|s| fresh.get(*s).copied().unwrap_or(true));
        if !stale {
            continue;
        }
        fresh[slot] = true;
        let cx = Ctx::new(ir, st, tau, zone, None);
        let (value, until) = match &node.def {
            Derived::Segment { cond, .. } | Derived::Tag { cond, .. } => {
                let r = eval(cond, &cx);
                (DVal::Bool(r.v.truth().unwrap_or(false)), r.until)
            }
            Derived::Stage { labels, .. } => {
                let mut until = FOREVER;
                let mut chosen = labels.len().saturating_sub(1);
                for (i, (_, cond)) in labels.iter().enumerate() {
                    match cond {
                        Some(c) => {
                            let r = eval(c, &cx);
                            until = until.min(r.until);
                            if r.v.truth() == Some(true) {
                                chosen = i;
                                break;
                            }
                        }
                        None => {
                            chosen = i;
                            break;
                        }
                    }
                }
                (DVal::Label(chosen), until)
            }
        };
        let old = st.derived[slot].value;
        st.derived[slot] = DerivedState { value, until };
        // Before the first event a customer is a member of nothing, so a
        // segment that starts false has not changed.
        let changed = old != value && !(old == DVal::Unknown && value == DVal::Bool(false));
        if changed {
            changes.push((slot, old, value));
        }
    }
    changes
}

/// Evaluates a trigger's `where` about an event.
#[allow(clippy::too_many_arguments)]
fn matches_filter(
    ir: &Ir,
    st: &CustomerState,
    tau: i64,
    zone: Zone,
    filter: Option<&CExpr>,
    row: &[Value],
    trigger: Option<&[Value]>,
) -> bool {
    filter.is_none_or(|f| Ctx::new(ir, st, tau, zone, trigger).with_row(row).test(f))
}

/// Goal conversions: a matching goal event after a firing, within its window.
#[allow(clippy::too_many_arguments)]
fn bookkeeping_goals(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
    report: &mut StepReport,
) {
    for &r in &ir.rules_by_event[event] {
        let Some(goal) = &ir.rules[r].goal else {
            continue;
        };
        if goal.on.event != event || st.rules[r].goals.is_empty() {
            continue;
        }
        if !matches_filter(ir, st, tau, zone, goal.on.filter.as_ref(), fields, None) {
            continue;
        }
        let within = goal.within;
        let open = std::mem::take(&mut st.rules[r].goals);
        let mut kept = Vec::new();
        for (fired, group) in open {
            if t > fired && t <= fired.saturating_add(within) {
                report.conversions.push((r, group));
            } else if fired.saturating_add(within) >= tau {
                kept.push((fired, group));
            }
        }
        st.rules[r].goals = kept;
    }
}

/// What an arriving customer event does to `no`, `after` and `unless`.
#[allow(clippy::too_many_arguments)]
fn bookkeeping(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    event: usize,
    fields: &[Value],
    t: i64,
    seq: u64,
) {
    for &r in &ir.rules_by_event[event] {
        let rule = &ir.rules[r];
        // Cancel first, so that an event never cancels what it starts.
        if let Some(unless) = &rule.unless {
            let filter = &unless.filter;
            if unless.event == event {
                let pending = std::mem::take(&mut st.rules[r].pending);
                let kept = pending
                    .into_iter()
                    .filter(|p| {
                        let cancels = t > p.origin
                            && t <= p.due
                            && matches_filter(
                                ir,
                                st,
                                tau,
                                zone,
                                filter.as_ref(),
                                fields,
                                Some(&p.fields),
                            );
                        !cancels
                    })
                    .collect();
                st.rules[r].pending = kept;
            }
        }
        match &rule.trigger {
            Trigger::No { on, .. }
                if on.event == event
                    && matches_filter(ir, st, tau, zone, on.filter.as_ref(), fields, None) =>
            {
                let rs = &mut st.rules[r];
                if rs.anchor.is_none_or(|a| (t, seq) > a) {
                    rs.anchor = Some((t, seq));
                }
            }
            Trigger::After { on, delay, last }
                if on.event == event
                    && matches_filter(
                        ir,
                        st,
                        tau,
                        zone,
                        on.filter.as_ref(),
                        fields,
                        Some(fields),
                    ) =>
            {
                let due = t.saturating_add(*delay).max(tau);
                let p = Pending {
                    due,
                    origin: t,
                    seq,
                    fields: fields.to_vec(),
                    moved: None,
                };
                let rs = &mut st.rules[r];
                if *last {
                    if rs.anchor.is_none_or(|a| (t, seq) >= a) {
                        rs.anchor = Some((t, seq));
                        // A debounced trigger replaces what it scheduled,
                        // not a firing already judged and moved.
                        rs.pending.retain(|q| q.moved.is_some());
                        rs.schedule(p);
                    }
                } else {
                    rs.schedule(p);
                }
            }
            _ => {}
        }
    }
}

/// Transition triggers caused by this round's changes.
fn transitions(ir: &Ir, changes: &[(usize, DVal, DVal)], out: &mut Vec<Candidate>) {
    if changes.is_empty() {
        return;
    }
    for &r in &ir.transition_rules {
        let fires = changes
            .iter()
            .any(|&(slot, old, new)| match ir.rules[r].trigger {
                Trigger::Membership { segment: s, enters } if s == slot => {
                    let was = old == DVal::Bool(true);
                    let is = new == DVal::Bool(true);
                    was != is && is == enters
                }
                Trigger::Stage { stage: s, label } if s == slot => match label {
                    Some(l) => new == DVal::Label(l),
                    None => true,
                },
                _ => false,
            });
        if fires {
            out.push(Candidate {
                rule: r,
                fields: None,
                order: (0, 0),
                no_anchor: None,
                origin: 0,
                moved: None,
            });
        }
    }
}

/// Timers due at or before `tau`: `no … for` and calendars (first round
/// only, once per anchor or occurrence) and scheduled `after` firings,
/// which are consumed.
///
/// With `cached`, a calendar's occurrence cached after the customer's last
/// instant (the first after a point no later than `tau - 1`) answers when
/// it is not before `tau`: it is then also the first after `tau - 1`.
fn due_timers(
    ir: &Ir,
    st: &mut CustomerState,
    tau: i64,
    zone: Zone,
    first_round: bool,
    cached: bool,
    out: &mut Vec<Candidate>,
) {
    let first_seen = st.first_seen.unwrap_or(tau);
    for (r, rule) in ir.rules.iter().enumerate() {
        if first_round && rule.trigger.is_calendar() {
            let due = st.rules[r]
                .calendar
                .filter(|c| cached && *c >= tau)
                .or_else(|| st.calendar_due(&rule.trigger, &st.rules[r], zone, tau));
            if let Some(due) = due {
                if due <= tau {
                    st.rules[r].fired = Some(due);
                    out.push(Candidate {
                        rule: r,
                        fields: None,
                        order: (due, 0),
                        no_anchor: None,
                        origin: due,
                        moved: None,
                    });
                }
            }
        }
        let rs = &mut st.rules[r];
        if let Trigger::No { duration, .. } = rule.trigger {
            let silence = rs.silence(first_seen, duration);
            if let Some((anchor, end)) = silence.filter(|s| first_round && s.1 <= tau) {
                out.push(Candidate {
                    rule: r,
                    fields: None,
                    order: (end, 0),
                    no_anchor: Some(anchor),
                    origin: anchor,
                    moved: None,
                });
            }
        }
        if rs.pending.first().is_some_and(|p| p.due <= tau) {
            let split = rs.pending.partition_point(|p| p.due <= tau);
            for p in rs.pending.drain(..split) {
                out.push(Candidate {
                    rule: r,
                    fields: Some(p.fields),
                    order: (p.due, p.seq),
                    no_anchor: None,
                    origin: p.origin,
                    moved: p.moved,
                });
            }
        }
    }
}

/// Passes instant `w` without firing anything: consumes the timers due at
/// it and refreshes derived state. Used when a timer's cascade does not
/// settle, so that the clock can move on.
pub(crate) fn skip_to(program: &Program, st: &mut CustomerState, w: i64) {
    let ir = program.ir();
    if st.first_seen.is_none() {
        return;
    }
    let zone = st.zone(ir);
    reevaluate(ir, st, w, zone, Touched::ALL);
    let mut due = Vec::new();
    due_timers(ir, st, w, zone, true, false, &mut due);
    for c in due {
        if let Some(anchor) = c.no_anchor {
            st.rules[c.rule].fired = Some(anchor);
        }
    }
    st.clock = Some(st.clock.map_or(w, |c| c.max(w)));
    st.refresh_calendars(ir, false);
}
