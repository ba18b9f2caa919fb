//! What rules keep of one customer: the scalars each rule's clauses use
//! (laid out by the program, see `compile::layout::RuleSlots`), and the
//! lists all rules share — scheduled firings, limit and cap windows, open
//! goals, occurrence counters — each holding entries only while they
//! matter.

use crate::check::hir::Trigger;
use crate::compile::Ir;
use crate::hint::{prefetch, prefetch_slice};
use crate::tight::Tight;
use crate::time::MaybeAt;
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A word that holds no instant or count ("none").
const NONE: i64 = i64::MIN;

/// A scheduled firing: an `after` trigger falling due, or a firing moved by
/// `at` snapping or quiet hours.
///
/// A customer may hold many (a night-time broadcast defers one for every
/// customer to the morning), so the moved instant is one word and its
/// occurrence shares a word with the rule: 56 bytes where the plain
/// layout takes 72. It encodes as that plain layout (`PendingData`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "PendingData")]
pub(crate) struct Pending {
    /// When it fires (or is judged).
    pub due: i64,
    /// The starting instant (the E event's time, or the followed firing).
    pub origin: i64,
    /// Arrival number of the starting event.
    pub seq: u64,
    /// Fields of the starting event, when the rule reads `event.*`.
    pub fields: Box<[Value]>,
    /// For a moved firing: its trigger instant (see `moved`).
    moved_at: MaybeAt,
    /// The rule.
    pub rule: u32,
    /// For a moved firing: its occurrence at its trigger instant.
    moved_occurrence: u32,
}

/// A scheduled firing as it is encoded.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Pending")]
struct PendingData<'a> {
    due: i64,
    rule: u32,
    origin: i64,
    seq: u64,
    fields: Cow<'a, [Value]>,
    moved: Option<(i64, u32)>,
}

impl Pending {
    /// A firing of `rule` due at `due`, started at `origin` by the event
    /// of arrival number `seq` (carrying `fields`); `moved`: the trigger
    /// instant and occurrence of a firing moved from there.
    pub fn new(
        (due, rule): (i64, u32),
        (origin, seq): (i64, u64),
        fields: Box<[Value]>,
        moved: Option<(i64, u32)>,
    ) -> Pending {
        Pending {
            due,
            origin,
            seq,
            fields,
            moved_at: moved.map(|m| m.0).into(),
            rule,
            moved_occurrence: moved.map_or(0, |m| m.1),
        }
    }

    /// [`Pending::new`] for a firing read from outside (a snapshot, a
    /// state's JSON): a moved instant of `i64::MIN` seconds, the one word
    /// that stands for none, is refused rather than read as not moved.
    pub fn read(
        at: (i64, u32),
        start: (i64, u64),
        fields: Box<[Value]>,
        moved: Option<(i64, u32)>,
    ) -> Result<Pending, &'static str> {
        if moved.is_some_and(|m| m.0 == i64::MIN) {
            return Err("a moved firing's instant of i64::MIN seconds is out of range");
        }
        Ok(Pending::new(at, start, fields, moved))
    }

    /// For a moved firing: its trigger instant and occurrence there.
    pub fn moved(&self) -> Option<(i64, u32)> {
        self.moved_at.get().map(|t| (t, self.moved_occurrence))
    }
}

impl Serialize for Pending {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PendingData {
            due: self.due,
            rule: self.rule,
            origin: self.origin,
            seq: self.seq,
            fields: Cow::Borrowed(&self.fields),
            moved: self.moved(),
        }
        .serialize(s)
    }
}

impl TryFrom<PendingData<'_>> for Pending {
    type Error = &'static str;

    fn try_from(p: PendingData<'_>) -> Result<Pending, &'static str> {
        let fields = p.fields.into_owned().into_boxed_slice();
        Pending::read((p.due, p.rule), (p.origin, p.seq), fields, p.moved)
    }
}

/// A goal window opened by a firing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct OpenGoal {
    /// The rule.
    pub rule: u32,
    /// When it fired (or was held out).
    pub fired: i64,
    /// Its variant, or `None` for the control group.
    pub group: Option<u16>,
}

/// Instants of emitted firings or actions, by key (a rule's limit, a
/// cap), kept while inside their window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Counts(Tight<(u32, i64)>);

impl Counts {
    /// Asks for its block (see `hint`).
    pub fn prefetch(&self) {
        prefetch(self.0.as_ptr());
    }

    /// How many of `key`'s instants are inside the window of `per` seconds
    /// ending at `t`: `(t - per, t]`.
    pub fn used(&self, key: u32, per: i64, t: i64) -> u64 {
        let from = t.saturating_sub(per);
        self.0
            .iter()
            .filter(|(k, x)| *k == key && *x > from)
            .count() as u64
    }

    /// Records an instant of `key`, and forgets those of `key` no window of
    /// `per` seconds can see from `t` on.
    pub fn record(&mut self, key: u32, t: i64, per: i64) {
        self.0.push((key, t));
        let horizon = t.saturating_sub(per);
        self.0.retain(|(k, x)| *k != key || *x > horizon);
    }

    /// `key`'s instants, oldest first.
    pub fn of(&self, key: u32) -> impl Iterator<Item = i64> + '_ {
        self.0
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|(_, t)| *t)
    }

    /// From entries `(key, instant)` in recording order.
    pub fn from_entries(entries: Vec<(u32, i64)>) -> Counts {
        Counts(entries.into())
    }

    /// Under new keys: `map[new]` is the old key of new key `new`; the
    /// instants of old keys nothing maps to are dropped.
    pub fn remap(&self, map: &[Option<usize>]) -> Counts {
        Counts(
            self.0
                .iter()
                .filter_map(|(k, t)| {
                    let new = map.iter().position(|o| *o == Some(*k as usize))?;
                    Some((new as u32, *t))
                })
                .collect(),
        )
    }
}

/// Per rule and auto tag, the firings at the latest instant it fired at,
/// for action ids; forgotten once the clock moves on (a later firing's id
/// starts its count again).
///
/// Every entry is at one instant (an instant forgets those before it
/// before it counts any), kept once. The first cause is inline: most
/// instants fire one, so counting it allocates nothing, and forgetting
/// reads no other block. It encodes as the list of `(cause, instant,
/// count)` it stands for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Occurrences {
    /// The instant of every entry (none: no entries).
    at: MaybeAt,
    /// The first cause counted there and its count (`NO_CAUSE`: none).
    first: (u32, u32),
    /// The other causes counted there, in counting order.
    more: Tight<(u32, u32)>,
}

/// No cause (causes are rule and auto-tag indices, far below).
const NO_CAUSE: u32 = u32::MAX;

impl Default for Occurrences {
    fn default() -> Occurrences {
        Occurrences {
            at: MaybeAt::NONE,
            first: (NO_CAUSE, 0),
            more: Tight::new(),
        }
    }
}

impl Occurrences {
    /// Asks for its block of further causes (see `hint`).
    pub fn prefetch(&self) {
        prefetch(self.more.as_ptr());
    }

    /// The occurrence of another firing of `cause` at `t` (the instant
    /// being stepped: none counted is later).
    pub fn next(&mut self, cause: u32, t: i64) -> u32 {
        if self.at.get() != Some(t) {
            *self = Occurrences::default();
        }
        let first = std::iter::once(&mut self.first).filter(|(c, _)| *c != NO_CAUSE);
        match first
            .chain(self.more.as_mut_slice())
            .find(|(c, _)| *c == cause)
        {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                self.add(t, cause, 0);
                0
            }
        }
    }

    /// Counts `n` firings of `cause`, not counted yet, at `t` (the instant
    /// of every entry already held).
    fn add(&mut self, t: i64, cause: u32, n: u32) {
        self.at = MaybeAt::some(t);
        if self.first.0 == NO_CAUSE {
            self.first = (cause, n);
        } else {
            self.more.push((cause, n));
        }
    }

    /// Forgets the counts of instants before `t`.
    pub fn forget_before(&mut self, t: i64) {
        if self.at.get().is_some_and(|at| at < t) {
            *self = Occurrences::default();
        }
    }

    /// The causes counted at `at`, with their counts, in counting order.
    fn counts(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let first = (self.first.0 != NO_CAUSE).then_some(self.first);
        first.into_iter().chain(self.more.iter().copied())
    }

    /// From entries `(cause, instant, count)`, all at one instant.
    pub fn from_entries(entries: Vec<(u32, i64, u32)>) -> Result<Occurrences, &'static str> {
        let mut occ = Occurrences::default();
        for (cause, t, n) in entries {
            if occ.at.get().is_some_and(|at| at != t) {
                return Err("occurrences at more than one instant");
            }
            if cause == NO_CAUSE || t == i64::MIN {
                return Err("an occurrence's cause or instant is out of range");
            }
            occ.add(t, cause, n);
        }
        Ok(occ)
    }

    /// Under a new program: rules by `rules` (new → old), auto tags by
    /// `derived` (new slot → old slot).
    pub fn remap(
        &self,
        old_ir: &Ir,
        ir: &Ir,
        rules: &[Option<usize>],
        derived: &[Option<usize>],
    ) -> Occurrences {
        let (old_rules, new_rules) = (old_ir.rules.len(), ir.rules.len());
        let mut occ = Occurrences::default();
        let Some(t) = self.at.get() else {
            return occ;
        };
        for (cause, n) in self.counts() {
            let c = cause as usize;
            let new = if c < old_rules {
                rules.iter().position(|o| *o == Some(c))
            } else {
                derived
                    .iter()
                    .position(|o| *o == Some(c - old_rules))
                    .map(|d| new_rules + d)
            };
            if let Some(new) = new {
                occ.add(t, new as u32, n);
            }
        }
        occ
    }
}

impl Serialize for Occurrences {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // The length first: postcard (the snapshot) needs it up front.
        let at = self.at.get();
        let len = if at.is_some() {
            self.counts().count()
        } else {
            0
        };
        let mut seq = s.serialize_seq(Some(len))?;
        if let Some(at) = at {
            for (cause, n) in self.counts() {
                seq.serialize_element(&(cause, at, n))?;
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Occurrences {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Occurrences, D::Error> {
        let entries = Vec::<(u32, i64, u32)>::deserialize(d)?;
        Occurrences::from_entries(entries).map_err(serde::de::Error::custom)
    }
}

/// What the rules keep of one customer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct RuleStates {
    /// The rules' scalars (see `RuleSlots`); `NONE` where none is held.
    words: Box<[i64]>,
    /// Scheduled firings of every rule, by due time, ties by arrival of
    /// their starting event, then in the order they were scheduled.
    pending: Tight<Pending>,
    /// Emitted firings inside their rule's limit window, by rule.
    pub emitted: Counts,
    /// Open goal windows.
    goals: Tight<OpenGoal>,
}

/// A rule's scalar, by which of its slots.
#[derive(Clone, Copy)]
pub(crate) enum Word {
    /// The latest matching event's time (`no … for`, `after last`).
    Anchor,
    /// The anchor or occurrence it fired for.
    Fired,
    /// A calendar trigger's next occurrence.
    Calendar,
    /// Emitted firings ever (`limit N` without a window).
    Ever,
}

impl RuleStates {
    /// Nothing kept yet.
    pub fn new(ir: &Ir) -> RuleStates {
        RuleStates {
            words: vec![NONE; ir.rule_words].into(),
            pending: Tight::new(),
            emitted: Counts::default(),
            goals: Tight::new(),
        }
    }

    /// Asks for the blocks a step reads first (see `hint`).
    pub fn prefetch(&self) {
        prefetch_slice(&self.words);
        prefetch(self.pending.as_ptr());
        self.emitted.prefetch();
    }

    /// Does this state have the program's shape?
    pub fn fits(&self, ir: &Ir) -> bool {
        self.words.len() == ir.rule_words
            && self
                .pending
                .iter()
                .all(|p| (p.rule as usize) < ir.rules.len())
            && self
                .goals
                .iter()
                .all(|g| (g.rule as usize) < ir.rules.len())
    }

    fn offset(ir: &Ir, r: usize, w: Word) -> Option<usize> {
        let s = ir.rule_slots.get(r)?;
        let at = match w {
            Word::Anchor => s.anchor,
            Word::Fired => s.fired,
            Word::Calendar => s.calendar,
            Word::Ever => s.ever,
        };
        at.map(|a| a as usize)
    }

    /// Rule `r`'s scalar `w`, if it holds one.
    pub fn get(&self, ir: &Ir, r: usize, w: Word) -> Option<i64> {
        let at = RuleStates::offset(ir, r, w)?;
        self.words.get(at).copied().filter(|v| *v != NONE)
    }

    /// Sets rule `r`'s scalar `w` (a rule whose clauses keep no such
    /// scalar has nothing to set).
    pub fn set(&mut self, ir: &Ir, r: usize, w: Word, v: Option<i64>) {
        if let Some(word) = RuleStates::offset(ir, r, w).and_then(|at| self.words.get_mut(at)) {
            *word = v.unwrap_or(NONE);
        }
    }

    /// A `no … for duration` trigger not yet fired for its silence: the
    /// silence's start (the latest matching event, else the first event)
    /// and the instant it has lasted `duration`.
    pub fn silence(&self, ir: &Ir, r: usize, first_seen: i64, duration: i64) -> Option<(i64, i64)> {
        let anchor = self.get(ir, r, Word::Anchor).unwrap_or(first_seen);
        (self.get(ir, r, Word::Fired) != Some(anchor))
            .then(|| (anchor, anchor.saturating_add(duration)))
    }

    /// The next instant rule `r` is due by its trigger's own timer (a
    /// silence ending, a calendar occurrence), for a customer first seen
    /// at `first_seen`; scheduled firings are [`RuleStates::next_due`].
    pub fn timer(&self, ir: &Ir, r: usize, first_seen: i64) -> Option<i64> {
        match ir.rules[r].trigger {
            Trigger::No { duration, .. } => self.silence(ir, r, first_seen, duration).map(|s| s.1),
            Trigger::Every { .. } | Trigger::Anniversary { .. } => self.get(ir, r, Word::Calendar),
            _ => None,
        }
    }

    /// Adds a scheduled firing in due order.
    pub fn schedule(&mut self, p: Pending) {
        let at = self
            .pending
            .partition_point(|q| (q.due, q.seq) <= (p.due, p.seq));
        self.pending.insert(at, p);
    }

    /// The earliest scheduled firing's instant.
    pub fn next_due(&self) -> Option<i64> {
        self.pending.first().map(|p| p.due)
    }

    /// The earliest scheduled firing of rule `r`.
    pub fn next_due_of(&self, r: usize) -> Option<i64> {
        self.pending
            .iter()
            .find(|p| p.rule as usize == r)
            .map(|p| p.due)
    }

    /// Takes out every scheduled firing due at or before `tau`, handing
    /// each to `f` in order.
    pub fn take_due(&mut self, tau: i64, f: impl FnMut(Pending)) {
        let split = self.pending.partition_point(|p| p.due <= tau);
        self.pending.take_front(split, f);
    }

    /// Keeps rule `r`'s scheduled firings for which `keep` holds.
    pub fn retain_of(&mut self, r: usize, mut keep: impl FnMut(&Pending) -> bool) {
        self.pending.retain(|p| p.rule as usize != r || keep(p));
    }

    /// Scheduled firings of every rule.
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    /// Opens a goal window.
    pub fn open_goal(&mut self, g: OpenGoal) {
        self.goals.push(g);
    }

    /// Any goal window of rule `r` open?
    pub fn has_goals(&self, r: usize) -> bool {
        self.goals.iter().any(|g| g.rule as usize == r)
    }

    /// Rule `r`'s goal windows, taken out.
    pub fn take_goals(&mut self, r: usize) -> Vec<OpenGoal> {
        let (taken, kept): (Vec<_>, Vec<_>) = self
            .goals
            .take_all()
            .into_iter()
            .partition(|g| g.rule as usize == r);
        self.goals = kept.into();
        taken
    }

    /// Puts back goal windows still open.
    pub fn keep_goals(&mut self, goals: impl IntoIterator<Item = OpenGoal>) {
        self.goals.extend(goals);
    }

    /// Under a new program: each new rule kept from old rule `rules[new]`
    /// keeps what it kept (its scalars, scheduled firings, limit window,
    /// open goals); other rules start with nothing.
    pub fn migrate(&self, old_ir: &Ir, ir: &Ir, rules: &[Option<usize>]) -> RuleStates {
        let mut st = RuleStates::new(ir);
        for (r, from) in rules.iter().enumerate() {
            let Some(o) = *from else { continue };
            for w in [Word::Anchor, Word::Fired, Word::Calendar, Word::Ever] {
                st.set(ir, r, w, self.get(old_ir, o, w));
            }
        }
        let new_of = |old: u32| rules.iter().position(|o| *o == Some(old as usize));
        st.pending = self
            .pending
            .iter()
            .filter_map(|p| {
                let rule = new_of(p.rule)? as u32;
                Some(Pending { rule, ..p.clone() })
            })
            .collect();
        st.emitted = self.emitted.remap(rules);
        st.goals = self
            .goals
            .iter()
            .filter_map(|g| {
                let rule = new_of(g.rule)? as u32;
                Some(OpenGoal { rule, ..*g })
            })
            .collect();
        st
    }

    /// The raw parts, for the snapshot of a former version to fill.
    pub fn from_parts(
        ir: &Ir,
        words: Vec<(usize, Word, i64)>,
        pending: Vec<Pending>,
        emitted: Counts,
        goals: Vec<OpenGoal>,
    ) -> RuleStates {
        let mut st = RuleStates::new(ir);
        for (r, w, v) in words {
            st.set(ir, r, w, Some(v));
        }
        for p in pending {
            st.schedule(p);
        }
        st.emitted = emitted;
        st.goals = goals.into();
        st
    }
}

/// The fields a firing of rule `r` carries while it waits: the starting
/// event's, when the rule reads `event.*`; none otherwise.
pub(crate) fn carried_fields(ir: &Ir, r: usize, fields: Option<&[Value]>) -> Box<[Value]> {
    match fields {
        Some(f) if ir.reads_event[r] => f.into(),
        _ => Box::default(),
    }
}
