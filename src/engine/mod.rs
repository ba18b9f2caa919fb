//! Stage 5, engine: many customers over one compiled program (docs/host.md,
//! the engine), built on the stateless step of [`step`].
//!
//! One timer queue holds each customer's next wake-up, so `advance_to`
//! costs O(due · log n) and never scans the population. At one instant,
//! customers are served in the order this engine first saw them. Every
//! call that produces actions hands them to a [`Sink`] as they come, so
//! that no call holds more than one customer's instant of them.

pub mod action;
mod calendar;
pub mod diff;
pub mod event;
mod explain;
mod metrics;
mod queue;
mod replay;
mod slab;
mod snapshot;
pub mod state;
pub mod stats;
pub mod step;
mod trace;
mod upgrade;

use crate::compile::Program;
use crate::hint;
use crate::limits::StateLimits;
use crate::time::{Instant, MaybeAt};
use action::{Action, ActionRef};
use event::{Event, EventError, EventKind};
pub use explain::{ClauseState, ExplainError, Explanation};
pub use metrics::{GoalRow, GroupMetrics, Metrics, RuleMetrics};
pub use replay::{LineError, ReplayHooks};
pub use snapshot::SnapshotError;
use state::CustomerState;
use step::{Buffer, Discard, Input, Observer, Settles, Sink, StepError};
pub use trace::{Decision, What};
pub use upgrade::UpgradeReport;

/// Why an engine call was rejected. A rejected call changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event is invalid.
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    /// Applying the event failed (its cascade did not settle).
    #[error(transparent)]
    Step(#[from] StepError),
}

/// No customer (an end of the first-seen list).
const NIL: u32 = u32::MAX;

/// A customer's place in the engine.
#[derive(Clone, Debug, Default)]
struct Slot {
    /// Its state, in place (see `slab`); `None` for a slot freed by
    /// `$forget`, to be reused.
    state: Option<CustomerState>,
    /// Its place in first-seen order, which ties at one instant follow
    /// (`NIL` once freed: a later occupant's differs from it).
    rank: u32,
    /// The queue entry that stands for it: at or before its wake-up, which
    /// is queued when this entry is popped if it has moved later since.
    /// Entries at any other time (or of an earlier occupant) are stale.
    queued: MaybeAt,
    /// Neighbours in first-seen order.
    prev: u32,
    next: u32,
}

impl Slot {
    /// Asks for the blocks its customer's step reads first (see `hint`);
    /// reads the slot, so it is for a slot already on its way.
    fn prefetch_state(&self) {
        if let Some(st) = &self.state {
            st.prefetch();
        }
    }

    /// Is the customer `id` the one in this slot?
    fn holds(&self, id: &str) -> bool {
        self.state.as_ref().is_some_and(|st| st.id() == id)
    }

    /// Asks for the blocks behind its customer's first blocks; for a slot
    /// whose [`Slot::prefetch_state`] was asked a step before.
    fn prefetch_entries(&self) {
        if let Some(st) = &self.state {
            st.prefetch_entries();
        }
    }

    /// Its customer's next wake-up, if one is inside the range of
    /// instants. The state keeps it worked out (see
    /// `CustomerState::wakeup`): a step settles it, and nothing else
    /// changes a state the engine holds.
    fn wakeup(&self, ir: &crate::compile::Ir) -> Option<i64> {
        self.state
            .as_ref()
            .and_then(|st| st.wakeup(ir))
            .filter(|w| *w <= Instant::MAX.unix())
    }
}

/// Holds customers in memory and drives them with events and the clock.
#[derive(Clone, Debug)]
pub struct Engine {
    program: Program,
    limits: StateLimits,
    slots: slab::Slab<Slot>,
    /// Slots freed by `$forget`.
    free: Vec<u32>,
    /// Customer id → slot.
    index: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// First and last customer in first-seen order.
    first: u32,
    last: u32,
    /// The rank of the next customer first seen (below `NIL`, see
    /// `Engine::renumber`).
    next_rank: u32,
    queue: queue::Queue,
    /// The customers of the entries of one instant taken from the queue,
    /// as (first-seen rank, slot), in the order they are served; reused.
    due: Vec<queue::Who>,
    clock: Option<i64>,
    metrics: Metrics,
    /// Customer steps run by the clock, to show its cost follows the timers
    /// due, not the population.
    timer_steps: u64,
    /// What a customer's instant produced, reused from step to step.
    buf: Buffer,
    /// The decisions of the customers followed, when tracing.
    trace: Option<trace::Trace>,
}

/// The engine's outputs for one call: actions to the host's sink, what the
/// steps decided to the metrics.
struct Out<'a> {
    sink: &'a mut dyn Sink,
    recorder: metrics::Recorder<'a>,
    /// The trace, when it follows this customer.
    trace: Option<(&'a mut trace::Trace, &'a crate::compile::Ir)>,
    /// The host's observer (carried by its sink) wants the details of
    /// this customer.
    host_detailed: bool,
}

impl Sink for Out<'_> {
    fn action(&mut self, action: ActionRef<'_>) {
        self.sink.action(action);
    }
}

impl Out<'_> {
    /// The host's observer, when its sink carries one.
    fn host(&mut self) -> Option<&mut dyn Observer> {
        self.sink.observer()
    }
}

impl Observer for Out<'_> {
    fn judged(&mut self, c: &str, o: step::Outcome) {
        self.recorder.judged(c, o);
        if let Some((t, ir)) = &mut self.trace {
            t.judged(ir, c, o);
        }
        if let Some(h) = self.host() {
            h.judged(c, o);
        }
    }

    fn detailed(&self, _: &str) -> bool {
        self.trace.is_some() || self.host_detailed
    }

    fn scheduled(&mut self, c: &str, f: step::Firing) {
        if let Some((t, ir)) = &mut self.trace {
            t.scheduled(ir, c, f);
        }
        if let Some(h) = self.host() {
            h.scheduled(c, f);
        }
    }

    fn cancelled(&mut self, c: &str, x: step::Cancel) {
        if let Some((t, ir)) = &mut self.trace {
            t.cancelled(ir, c, x);
        }
        if let Some(h) = self.host() {
            h.cancelled(c, x);
        }
    }

    fn transition(&mut self, c: &str, t: step::Transition) {
        if let Some(h) = self.host() {
            h.transition(c, t);
        }
    }

    fn ledger(&mut self, c: &str, ledger: &str, m: step::Movement) {
        if let Some(h) = self.host() {
            h.ledger(c, ledger, m);
        }
    }

    fn converted(&mut self, c: &str, rule: usize, group: Option<usize>) {
        self.recorder.converted(c, rule, group);
        if let Some(h) = self.host() {
            h.converted(c, rule, group);
        }
    }

    fn shortfall(&mut self, c: &str, ledger: &str, points: f64) {
        self.recorder.shortfall(c, ledger, points);
        if let Some(h) = self.host() {
            h.shortfall(c, ledger, points);
        }
    }

    fn degraded(&mut self, c: &str, limit: step::Degraded, count: usize) {
        self.recorder.degraded(c, limit, count);
        if let Some(h) = self.host() {
            h.degraded(c, limit, count);
        }
    }
}

impl Engine {
    /// An empty engine over a program, with default limits.
    pub fn new(program: &Program) -> Engine {
        Engine::with_limits(program, StateLimits::default())
    }

    /// An empty engine with the given per-customer limits.
    pub fn with_limits(program: &Program, limits: StateLimits) -> Engine {
        Engine {
            program: program.clone(),
            limits,
            slots: slab::Slab::default(),
            free: Vec::new(),
            index: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            first: NIL,
            last: NIL,
            next_rank: 0,
            queue: queue::Queue::default(),
            due: Vec::new(),
            clock: None,
            metrics: Metrics::new(program.ir()),
            timer_steps: 0,
            buf: Buffer::default(),
            trace: None,
        }
    }

    /// Starts keeping the decisions about `customers` (every customer when
    /// `None`): the newest `keep` per customer, each firing scheduled or
    /// cancelled and each judgment with its verdict. Replaces any trace
    /// already kept. Costs nothing for customers not followed.
    pub fn trace(&mut self, customers: Option<&[&str]>, keep: usize) {
        self.trace = Some(trace::Trace::new(customers, keep));
    }

    /// The decisions kept about `customer`, oldest first (none unless
    /// [`Engine::trace`] follows them).
    pub fn decisions(&self, customer: &str) -> impl Iterator<Item = &Decision> {
        self.trace.iter().flat_map(move |t| t.of(customer))
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The latest instant the engine has been driven to.
    pub fn clock(&self) -> Option<Instant> {
        self.clock.and_then(Instant::checked)
    }

    /// Counters so far.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Customer steps run by the clock (`advance_to`, and the timers an
    /// event's instant makes due) so far.
    pub fn timer_steps(&self) -> u64 {
        self.timer_steps
    }

    /// A customer's state, if known.
    pub fn customer(&self, id: &str) -> Option<&CustomerState> {
        self.find(id).and_then(|s| self.slots[s].state.as_ref())
    }

    /// The ids of the customers known, in the order first seen.
    pub fn customers(&self) -> impl Iterator<Item = &str> + '_ {
        self.in_order()
            .filter_map(|s| self.slots[s].state.as_ref())
            .map(CustomerState::id)
    }

    /// Known customers.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No customer known yet.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Validates and applies one JSON event; returns the actions it causes,
    /// in `at` order (timers of all customers due strictly before it first).
    pub fn process(&mut self, json: &str) -> Result<Vec<Action>, Error> {
        let mut out = Vec::new();
        self.process_into(json, &mut out)?;
        Ok(out)
    }

    /// [`Engine::process`], each action handed to `sink` as it comes.
    pub fn process_into(&mut self, json: &str, sink: &mut dyn Sink) -> Result<(), Error> {
        match Event::parse(self.program.ir(), json) {
            Ok(ev) => self.process_event_into(&ev, sink),
            Err(e) => {
                self.metrics.rejected += 1;
                Err(e.into())
            }
        }
    }

    /// Applies one validated event.
    pub fn process_event(&mut self, ev: &Event) -> Result<Vec<Action>, Error> {
        let mut out = Vec::new();
        self.process_event_into(ev, &mut out)?;
        Ok(out)
    }

    /// [`Engine::process_event`], each action handed to `sink` as it comes.
    pub fn process_event_into(&mut self, ev: &Event, sink: &mut dyn Sink) -> Result<(), Error> {
        self.process_event_at(ev, None, sink).map(|_| ())
    }

    /// [`Engine::process_event_into`], with the slot the customer was
    /// last seen in, if the caller remembers one (checked, so a stale one
    /// only costs the look-up it would have spared); returns the slot the
    /// customer is in afterwards.
    fn process_event_at(
        &mut self,
        ev: &Event,
        hint: Option<u32>,
        sink: &mut dyn Sink,
    ) -> Result<Option<u32>, Error> {
        let tau = self.clock.map_or(ev.secs(), |c| c.max(ev.secs()));
        let Some(customer) = &ev.customer else {
            self.broadcast(ev, tau, sink);
            return Ok(None);
        };
        if ev.kind == EventKind::Forget {
            self.fire_until(tau, false, sink);
            if let Some(slot) = self.find(customer) {
                self.remove(slot);
            }
            if let Some(t) = &mut self.trace {
                t.forget(customer);
            }
            self.metrics.events += 1;
            self.clock = Some(tau);
            return Ok(None);
        }
        let known = hint
            .filter(|s| self.slots.get(*s).is_some_and(|s| s.holds(customer)))
            .or_else(|| self.find(customer));
        let state = known.and_then(|s| self.slots[s].state.as_ref());
        // What has no effect at all is decided first: a duplicate, and an
        // event whose instant does not settle (known only by running it).
        if state.is_some_and(|st| step::is_duplicate(st, ev, &self.limits)) {
            self.metrics.events += 1;
            self.metrics.duplicates += 1;
            return Ok(known);
        }
        if self.program.ir().may_cascade {
            let mut copy = match state {
                Some(st) => st.clone(),
                None => CustomerState::new(&self.program, customer),
            };
            let mut r = step::Runner {
                program: &self.program,
                limits: &self.limits,
                buf: &mut Buffer::default(),
                out: &mut Discard,
            };
            let dry = step::run(&mut r, &mut copy, Input::Event(ev), tau, Settles::Dry);
            if let Err(e) = dry {
                self.metrics.rejected += 1;
                return Err(e.into());
            }
        }
        // Everyone's timers before the event's instant, this customer's
        // among them, in `at` order.
        self.fire_until(tau, false, sink);
        let slot = match known {
            Some(s) => s,
            None => self.insert(CustomerState::new(&self.program, customer)),
        };
        let result = self.step(slot, Input::Event(ev), tau, Settles::Known, sink);
        self.metrics.events += 1;
        if result.is_ok_and(|s| s.ignored) {
            self.metrics.ignored += 1;
        }
        self.reschedule(slot);
        self.clock = Some(tau);
        Ok(Some(slot))
    }

    /// Fires every timer due at or before `t`, in `at` order.
    pub fn advance_to(&mut self, t: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.advance_into(t, &mut out);
        out
    }

    /// [`Engine::advance_to`], each action handed to `sink` as it comes.
    pub fn advance_into(&mut self, t: Instant, sink: &mut dyn Sink) {
        let t = t.unix();
        self.fire_until(t, true, sink);
        self.clock = Some(self.clock.map_or(t, |c| c.max(t)));
    }

    /// Runs a step for the customer at `slot`, its output to `sink` and the
    /// metrics; a failing one is a fault.
    fn step(
        &mut self,
        slot: u32,
        input: Input<'_>,
        now: i64,
        settles: Settles,
        sink: &mut dyn Sink,
    ) -> Result<step::StepStatus, StepError> {
        let Some(st) = self.slots[slot].state.as_mut() else {
            return Ok(step::StepStatus::default());
        };
        // Its first blocks asked for together, rather than each missed in
        // turn as the step reaches it.
        st.prefetch();
        let ir = self.program.ir();
        let trace = self.trace.as_mut().filter(|t| t.follows(st.id()));
        let host_detailed = sink.observer().is_some_and(|o| o.detailed(st.id()));
        let mut out = Out {
            sink,
            recorder: self.metrics.recorder(ir),
            trace: trace.map(|t| (t, ir)),
            host_detailed,
        };
        let mut r = step::Runner {
            program: &self.program,
            limits: &self.limits,
            buf: &mut self.buf,
            out: &mut out,
        };
        let result = step::run(&mut r, st, input, now, settles);
        match &result {
            Ok(status) => self.metrics.faults += status.faults as u64,
            Err(_) => self.metrics.faults += 1,
        }
        result
    }

    /// A broadcast reaches every customer first seen strictly before it.
    fn broadcast(&mut self, ev: &Event, tau: i64, sink: &mut dyn Sink) {
        self.fire_until(tau, false, sink);
        self.metrics.events += 1;
        let mut slot = self.first;
        while slot != NIL {
            let next = self.slots[slot].next;
            // The next customer's blocks, asked for a step ahead.
            if let Some(s) = self.slots.get(next) {
                s.prefetch_state();
            }
            let reached = self.slots[slot]
                .state
                .as_ref()
                .is_some_and(|st| step::reaches(st, ev));
            if reached {
                // A customer whose instant does not settle is left as it
                // was (a fault): the step runs a cascading program dry.
                let _ = self.step(slot, Input::Event(ev), tau, Settles::Unknown, sink);
                self.reschedule(slot);
            }
            slot = next;
        }
        self.clock = Some(tau);
    }

    /// Pops due wake-ups (before `t`, or at it when `inclusive`), each
    /// customer's step handed to `sink`.
    fn fire_until(&mut self, t: i64, inclusive: bool, sink: &mut dyn Sink) {
        let mut due = std::mem::take(&mut self.due);
        while let Some(w) = self.queue.peek() {
            if w > t || (!inclusive && w == t) {
                break;
            }
            let Some(tick) = Instant::checked(w) else {
                break;
            };
            // Every entry popped is at `w`. A stale one (its customer's
            // wake-up moved, or its slot freed or reused) is not `queued`
            // at `w` or carries another rank; two entries of one slot at
            // `w` are served once, as the first clears `queued`.
            due.clear();
            self.queue.pop_instant(|who| due.push(who));
            due.sort_unstable();
            // The next customers' memory, each level a step after the one
            // it is reached through: the slot three ahead, the blocks of
            // the one two ahead, what the blocks of the next point to (the
            // first two have their blocks asked for here and by the step).
            for &(_, first) in due.iter().take(3) {
                hint::prefetch_all(&self.slots[first]);
            }
            if let Some(&(_, second)) = due.get(1) {
                self.slots[second].prefetch_state();
            }
            // Most instants hold one customer, so the look-ahead above
            // has nothing to look at: the next instant's customers' slots
            // are asked for now, their blocks once this instant is done.
            let mut next = smallvec::SmallVec::<[u32; 8]>::new();
            self.queue.peek_next(8, |(_, slot)| next.push(slot));
            for &slot in &next {
                hint::prefetch_all(&self.slots[slot]);
            }
            for (i, &(rank, slot)) in due.iter().enumerate() {
                if let Some(&(_, ahead)) = due.get(i + 3) {
                    hint::prefetch_all(&self.slots[ahead]);
                }
                if let Some(&(_, ahead)) = due.get(i + 2) {
                    self.slots[ahead].prefetch_state();
                }
                if let Some(&(_, after)) = due.get(i + 1).filter(|_| i > 0) {
                    self.slots[after].prefetch_entries();
                }
                let s = &mut self.slots[slot];
                if s.queued != MaybeAt::some(w) || s.rank != rank {
                    continue;
                }
                s.queued = MaybeAt::NONE;
                match s.wakeup(self.program.ir()) {
                    Some(at) if at == w => {}
                    Some(later) => {
                        s.queued = MaybeAt::some(later);
                        self.queue.push((later, (rank, slot)));
                        continue;
                    }
                    None => continue,
                }
                self.timer_steps += 1;
                // A timer instant that does not settle is passed (a fault).
                let _ = self.step(slot, Input::Tick(tick), w, Settles::Known, sink);
                self.reschedule(slot);
            }
            for &slot in &next {
                self.slots[slot].prefetch_state();
            }
        }
        // A large instant's room is given back, as the queue's is.
        if due.capacity() > 4096 {
            due = Vec::new();
        }
        self.due = due;
    }

    fn reschedule(&mut self, slot: u32) {
        let ir = self.program.ir();
        let s = &mut self.slots[slot];
        let next = s.wakeup(ir);
        // A wake-up moved later (what most events do) waits for the entry
        // already queued; only an earlier one needs an entry of its own.
        if let Some(w) = next {
            if s.queued.get().is_none_or(|q| w < q) {
                s.queued = MaybeAt::some(w);
                self.queue.push((w, (s.rank, slot)));
            }
        }
        // Stale entries are skipped when popped; rebuild once they are as
        // many as the customers (the rebuild is O(customers), so paid for
        // by as many pushes).
        if self.queue.len() > 2 * self.slots.len() + 1024 {
            self.rebuild_queue();
        }
    }

    /// The queue afresh: one entry per customer with a wake-up, none
    /// stale. O(customers).
    fn rebuild_queue(&mut self) {
        let ir = self.program.ir();
        let entries: Vec<queue::Entry> = self
            .slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| {
                let wake = s.wakeup(ir);
                s.queued = wake.into();
                wake.map(|w| (w, (s.rank, i as u32)))
            })
            .collect();
        self.queue.rebuild(entries.into_iter());
    }

    /// Ranks the customers 0, 1, … again in first-seen order, when the
    /// next rank would not fit 32 bits: the order, all that a rank says,
    /// stays. O(customers), once in some four billion customers first
    /// seen.
    fn renumber(&mut self) {
        let order: Vec<u32> = self.in_order().collect();
        for (rank, &slot) in order.iter().enumerate() {
            // Fewer customers than slots, and the slots' count fits
            // 32 bits (`NIL` aside).
            self.slots[slot].rank = rank as u32;
        }
        self.next_rank = order.len() as u32;
        self.rebuild_queue();
    }

    fn hash(&self, id: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(id)
    }

    fn find(&self, id: &str) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hash(id), |&s| slots[s].holds(id))
            .copied()
    }

    /// Adds a customer's state, last in first-seen order, in a free slot or
    /// a new one, and queues its wake-up.
    fn insert(&mut self, st: CustomerState) -> u32 {
        let hash = self.hash(st.id());
        if self.next_rank == NIL {
            self.renumber();
        }
        let rank = self.next_rank;
        self.next_rank += 1;
        let fresh = Slot {
            state: Some(st),
            rank,
            queued: MaybeAt::NONE,
            prev: self.last,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = fresh;
                s
            }
            None => self.slots.push(fresh),
        };
        match self.last {
            NIL => self.first = slot,
            last => self.slots[last].next = slot,
        }
        self.last = slot;
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, slot, |&s| {
            use std::hash::BuildHasher;
            slots[s]
                .state
                .as_ref()
                .map_or(0, |st| hasher.hash_one(st.id()))
        });
        self.reschedule(slot);
        slot
    }

    /// Forgets the customer at `slot`: its state, its index entry, its
    /// place in first-seen order; the slot is reused by the next new one.
    fn remove(&mut self, slot: u32) {
        if let Some(st) = &self.slots[slot].state {
            let hash = self.hash(st.id());
            if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
                entry.remove();
            }
        }
        let s = &mut self.slots[slot];
        let (prev, next) = (s.prev, s.next);
        s.state = None;
        s.queued = MaybeAt::NONE;
        // A later occupant gets another rank: entries of this one are
        // stale.
        s.rank = NIL;
        match prev {
            NIL => self.first = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.last = prev,
            n => self.slots[n].prev = prev,
        }
        self.free.push(slot);
    }

    /// Slots in first-seen order.
    fn in_order(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::successors(Some(self.first).filter(|s| *s != NIL), move |s| {
            Some(self.slots[*s].next).filter(|n| *n != NIL)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Engine, NIL};

    /// Customers whose timers tie at one instant, some forgotten and their
    /// slots reused at that instant, first seen before and after the ranks
    /// run out of 32 bits.
    fn run(engine: &mut Engine) -> Vec<super::Action> {
        let mut out = Vec::new();
        let line = |c: &str, kind: &str, s: u32| {
            format!(
                r#"{{"customer": "{c}", "type": "{kind}", "time": "2026-01-01T00:00:{s:02}Z"}}"#
            )
        };
        for (c, kind, s) in [
            ("c0", "e", 0),
            ("c1", "e", 0),
            ("c2", "e", 0),
            ("c1", "$forget", 1),
            ("c3", "e", 1),
            ("c4", "e", 0),
            ("c1", "e", 0),
            ("c2", "$forget", 2),
            ("c5", "e", 0),
        ] {
            out.extend(engine.process(&line(c, kind, s)).unwrap());
        }
        out.extend(engine.advance_to(crate::Instant::parse("2026-01-02T00:00:00Z").unwrap()));
        out
    }

    #[test]
    fn ranks_renumbered_past_32_bits_keep_the_order_of_ties() {
        let program =
            crate::compile("event e\naction a()\nrule r { when 1h after e do a() }").unwrap();
        let want = run(&mut Engine::new(&program));
        let order: Vec<&str> = want.iter().map(|a| a.customer.as_str()).collect();
        // Ties at 01:00:00 in first-seen order; c3's event came a second
        // later, and c2 was forgotten, its slot taken by c5 with c2's
        // firing still queued at that instant.
        assert_eq!(order, ["c0", "c4", "c1", "c5", "c3"]);
        let mut late = Engine::new(&program);
        late.next_rank = NIL - 2;
        assert_eq!(run(&mut late), want);
        assert!(late.next_rank < 10, "renumbered: {}", late.next_rank);
    }
}
