//! A deliberately naive reference evaluator of the siyu semantics
//! (docs/language.md §3–§6), for checking the engine.
//!
//! It shares nothing with the engine but the AST: it keeps every event it
//! has seen, and at every second from a customer's first event to the end
//! it recomputes every aggregate, segment, tag and stage from that full
//! history and looks at every rule. No horizons, no timers, no indexes.
//!
//! Customers do not interact (no broadcasts here), so each one is simulated
//! on its own, driven by the global input exactly as the engine is: an
//! event at `t` first runs the customer's seconds before it, an advance
//! closes every second up to it for everyone, and a late event is applied
//! at the clock.

use serde_json::{Map, Value as Json, json};
use siyu::syntax::ast::*;
use std::collections::{BTreeMap, BTreeSet};

/// A value of the reference's own.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Null,
    B(bool),
    I(i64),
    F(f64),
    S(String),
    T(i64),
    D(i64),
    L(Vec<V>),
}

impl V {
    fn num(&self) -> Option<f64> {
        match self {
            V::I(i) => Some(*i as f64),
            V::F(f) => Some(*f),
            _ => None,
        }
    }

    fn cmp(&self, o: &V) -> Option<std::cmp::Ordering> {
        match (self, o) {
            (V::I(a), V::I(b)) | (V::T(a), V::T(b)) | (V::D(a), V::D(b)) => Some(a.cmp(b)),
            (V::S(a), V::S(b)) => Some(a.cmp(b)),
            (V::B(a), V::B(b)) => Some(a.cmp(b)),
            _ => self.num()?.partial_cmp(&o.num()?),
        }
    }

    fn truth(&self) -> Option<bool> {
        match self {
            V::B(b) => Some(*b),
            _ => None,
        }
    }

    fn to_json(&self) -> Json {
        match self {
            V::Null => Json::Null,
            V::B(b) => json!(b),
            V::I(i) => json!(i),
            V::F(f) => json!(f),
            V::S(s) => json!(s),
            V::T(t) => json!(rfc3339(*t)),
            V::D(d) => json!(d),
            V::L(l) => Json::Array(l.iter().map(V::to_json).collect()),
        }
    }

    fn from_json(j: &Json, ty: Type) -> V {
        match (ty, j) {
            (_, Json::Null) => V::Null,
            (Type::Int, Json::Number(n)) => V::I(n.as_f64().unwrap_or(0.0) as i64),
            (Type::Number, Json::Number(n)) => V::F(n.as_f64().unwrap_or(0.0)),
            (Type::String, Json::String(s)) => V::S(s.clone()),
            (Type::Bool, Json::Bool(b)) => V::B(*b),
            (Type::Date, Json::String(s)) => V::S(s.clone()),
            _ => V::Null,
        }
    }
}

/// A ledger as written: (earn?, event, amount) and the expiry.
struct RefLedger<'m> {
    ops: Vec<(bool, String, &'m Expr)>,
    expire: Option<i64>,
}

/// A rule to judge: its index, order among its firings, `event.*` fields,
/// whether it was moved here already, and its starting instant.
struct Cand {
    rule: usize,
    order: (i64, u64),
    fields: Option<BTreeMap<String, V>>,
    moved: bool,
    origin: i64,
}

#[derive(Clone, Debug)]
struct Ev {
    seq: u64,
    t: i64,
    kind: String,
    fields: BTreeMap<String, V>,
}

/// A rule firing owed by `D after …`: its starting event (by arrival) or
/// the followed firing, and when it falls due.
#[derive(Clone, Debug)]
struct Owed {
    rule: usize,
    due: i64,
    origin: i64,
    seq: u64,
    fields: BTreeMap<String, V>,
    /// Arrival number at creation: cancelling events must come later.
    created: u64,
    /// A firing already triggered and moved by `at` or quiet hours.
    moved: bool,
}

#[derive(Clone, Debug, Default)]
struct Cust {
    id: String,
    /// Its customer events, each with its arrival number.
    events: Vec<Ev>,
    /// Arrivals so far (events of any kind), for "arrived after".
    arrivals: u64,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    profile: BTreeMap<String, V>,
    tags: BTreeSet<String>,
    prev: BTreeMap<String, V>,
    processed: Option<i64>,
    no_fired: BTreeSet<(usize, i64)>,
    owed: Vec<Owed>,
    /// `after last`: the latest matching event per rule, by (t, seq).
    latest: BTreeMap<usize, (i64, u64)>,
    /// `no … for`: matching events per rule (times).
    no_matches: BTreeMap<usize, Vec<(i64, u64)>>,
    ids: BTreeMap<String, i64>,
    seq: u64,
    /// Emitted firings (rule, instant) and emitted capped actions' instants.
    fired_log: Vec<(usize, i64)>,
    capped_log: Vec<i64>,
    /// Ledger operations in arrival order: ledger, earn (or spend), event
    /// time, instant applied, arrival, amount.
    ledger_ops: Vec<(String, bool, i64, i64, u64, f64)>,
    /// Calendar occurrences fired: (rule, instant).
    calendar_fired: BTreeSet<(usize, i64)>,
}

impl Cust {
    /// Where rule `i`'s `no … for` silence starts at second `s`: the latest
    /// matching event, else the first event.
    fn no_anchor(&self, i: usize, s: i64) -> i64 {
        self.no_matches
            .get(&i)
            .and_then(|v| v.iter().max().map(|a| a.0))
            .or(self.first_seen)
            .unwrap_or(s)
    }
}

pub struct Reference<'m> {
    events: BTreeMap<String, Vec<(String, Type)>>,
    /// The event types above that are broadcasts.
    broadcasts: BTreeSet<String>,
    profile: BTreeMap<String, Type>,
    actions: BTreeMap<String, Vec<String>>,
    segments: BTreeMap<String, &'m Expr>,
    tags: BTreeMap<String, &'m Expr>,
    stages: BTreeMap<String, Vec<(String, Option<&'m Expr>)>>,
    /// Derived nodes in the order their changes are reported.
    order: Vec<String>,
    rules: Vec<&'m RuleDecl>,
    /// Actions on a channel (every cap here counts them).
    channelled: BTreeSet<String>,
    caps: Vec<(u32, i64)>,
    quiet: Option<(i64, i64, QuietPolicy)>,
    /// The program's zone as a UTC offset in seconds, and the profile
    /// attribute naming each customer's own (only fixed offsets and zones
    /// without daylight saving here: see [`offset_of`]).
    zone: i64,
    customer_zone: Option<String>,
    ledgers: BTreeMap<String, RefLedger<'m>>,
    customers: BTreeMap<String, Cust>,
    clock: Option<i64>,
    closed: Option<i64>,
    out: Vec<Json>,
}

const SEG: &str = "segment:";
const TAG: &str = "tag:";
const STAGE: &str = "stage:";

struct Cx<'c> {
    c: &'c Cust,
    now: i64,
    trigger: Option<&'c BTreeMap<String, V>>,
    row: Option<&'c BTreeMap<String, V>>,
}

enum Step {
    Ok,
    Cascade,
}

impl<'m> Reference<'m> {
    pub fn new(m: &'m Module, derived_order: &[String]) -> Reference<'m> {
        let mut r = Reference {
            events: BTreeMap::new(),
            broadcasts: BTreeSet::new(),
            profile: BTreeMap::new(),
            actions: BTreeMap::new(),
            segments: BTreeMap::new(),
            tags: BTreeMap::new(),
            stages: BTreeMap::new(),
            order: derived_order.to_vec(),
            rules: Vec::new(),
            channelled: BTreeSet::new(),
            caps: Vec::new(),
            quiet: None,
            zone: 0,
            customer_zone: None,
            ledgers: BTreeMap::new(),
            customers: BTreeMap::new(),
            clock: None,
            closed: None,
            out: Vec::new(),
        };
        for item in &m.items {
            match item {
                Item::Event(e) => {
                    if e.broadcast {
                        r.broadcasts.insert(e.name.node.clone());
                    }
                    r.events.insert(
                        e.name.node.clone(),
                        e.fields
                            .iter()
                            .map(|f| (f.name.node.clone(), f.ty.node))
                            .collect(),
                    );
                }
                Item::Profile(fs) => {
                    for f in fs {
                        r.profile.insert(f.name.node.clone(), f.ty.node);
                    }
                }
                Item::Action(a) => {
                    r.actions.insert(
                        a.name.node.clone(),
                        a.params.iter().map(|p| p.name.node.clone()).collect(),
                    );
                    if a.channel.is_some() {
                        r.channelled.insert(a.name.node.clone());
                    }
                }
                Item::Cap(c) => r.caps.push((c.max.node, c.per.node)),
                Item::Ledger(l) => {
                    let mut ledger = RefLedger {
                        ops: Vec::new(),
                        expire: None,
                    };
                    for c in &l.clauses {
                        match c {
                            LedgerClause::Earn { amount, on } => {
                                ledger.ops.push((true, on.node.clone(), amount))
                            }
                            LedgerClause::Spend { amount, on } => {
                                ledger.ops.push((false, on.node.clone(), amount))
                            }
                            LedgerClause::Expire(d) => ledger.expire = Some(d.node),
                        }
                    }
                    // Earns before spends, as the engine applies them.
                    ledger.ops.sort_by_key(|op| !op.0);
                    r.ledgers.insert(l.name.node.clone(), ledger);
                }
                Item::Quiet(q) => {
                    let policy = q.policy.as_ref().map_or(QuietPolicy::Defer, |p| p.node);
                    r.quiet = Some((q.start.node.seconds(), q.end.node.seconds(), policy));
                }
                Item::Timezone(z) => r.zone = offset_of(&z.node).unwrap_or(0),
                Item::CustomerTimezone(attr) => r.customer_zone = Some(attr.node.clone()),
                Item::Segment(s) => {
                    r.segments.insert(s.name.node.clone(), &s.cond);
                }
                Item::Tag(t) => {
                    r.tags.insert(t.name.node.clone(), &t.cond);
                }
                Item::Stage(s) => {
                    r.stages.insert(
                        s.name.node.clone(),
                        s.labels
                            .iter()
                            .map(|l| (l.name.node.clone(), l.cond.as_ref()))
                            .collect(),
                    );
                }
                Item::Rule(rule) => r.rules.push(rule),
            }
        }
        r
    }

    pub fn output(&self) -> &[Json] {
        &self.out
    }

    /// Second `s` on the customer's wall clock, as seconds since
    /// 1970-01-01T00:00 local: its own zone while the profile names a known
    /// one, else the program's.
    fn local(&self, c: &Cust, s: i64) -> i64 {
        let own = self
            .customer_zone
            .as_ref()
            .and_then(|a| match c.profile.get(a) {
                Some(V::S(name)) => offset_of(name),
                _ => None,
            });
        s + own.unwrap_or(self.zone)
    }

    // ---------------------------------------------------------------- input

    /// One replay line, as the engine's `replay_line` takes it.
    pub fn line(&mut self, line: &str) {
        let Ok(j) = serde_json::from_str::<Json>(line) else {
            return;
        };
        if let Some(t) = j.get("advance").and_then(Json::as_str) {
            if let Some(t) = parse_rfc3339(t) {
                self.advance(t);
            }
            return;
        }
        let (Some(kind), Some(time)) = (
            j.get("type").and_then(Json::as_str),
            j.get("time").and_then(Json::as_str).and_then(parse_rfc3339),
        ) else {
            return;
        };
        let data = j
            .get("data")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default();
        let Some(customer) = j.get("customer").and_then(Json::as_str) else {
            if self.broadcasts.contains(kind) {
                self.broadcast(kind, time, &data);
            }
            return;
        };
        let id = j.get("id").and_then(Json::as_str).map(String::from);
        self.event(customer, kind, time, &data, id);
    }

    pub fn finish(&mut self) {
        if let Some(c) = self.clock {
            self.advance(c);
        }
    }

    fn advance(&mut self, t: i64) {
        self.clock = Some(self.clock.map_or(t, |c| c.max(t)));
        self.closed = Some(self.closed.map_or(t, |c| c.max(t)));
        let ids: Vec<String> = self.customers.keys().cloned().collect();
        for id in ids {
            let mut c = self.customers.remove(&id).expect("known customer");
            self.ticks(&mut c, t);
            self.customers.insert(id, c);
        }
    }

    /// Broadcast `kind` at `t`: a trigger, at the clock if later, for every
    /// customer first seen strictly before `t`; no customer's history or
    /// first/last seen changes.
    fn broadcast(&mut self, kind: &str, t: i64, data: &Map<String, Json>) {
        let tau = self.clock.map_or(t, |c| c.max(t));
        let fields: BTreeMap<String, V> = self.events[kind]
            .iter()
            .map(|(name, ty)| {
                let v = data.get(name).map_or(V::Null, |v| V::from_json(v, *ty));
                (name.clone(), v)
            })
            .collect();
        let before = self.before(tau);
        let ids: Vec<String> = self.customers.keys().cloned().collect();
        for id in ids {
            let mut c = self.customers.remove(&id).expect("known customer");
            if c.first_seen.is_some_and(|f| f < t) {
                self.ticks(&mut c, before);
                let backup = c.clone();
                let out_len = self.out.len();
                // Rejected for this customer alone, as if never sent to it:
                // its second `tau` is still to come.
                match self.instant(&mut c, tau, Some((kind, t, fields.clone()))) {
                    Step::Cascade => {
                        self.out.truncate(out_len);
                        c = backup;
                    }
                    Step::Ok => c.processed = Some(c.processed.map_or(tau, |p| p.max(tau))),
                }
            }
            self.customers.insert(id, c);
        }
        self.clock = Some(tau);
    }

    fn event(
        &mut self,
        customer: &str,
        kind: &str,
        t: i64,
        data: &Map<String, Json>,
        id: Option<String>,
    ) {
        let tau = self.clock.map_or(t, |c| c.max(t));
        let mut c = self.customers.remove(customer).unwrap_or_else(|| Cust {
            id: customer.to_string(),
            ..Cust::default()
        });
        let backup = c.clone();
        let out_len = self.out.len();
        if kind == "$forget" {
            // Right to be forgotten: what fell due before it still fires,
            // then the customer is gone (a later event starts afresh).
            self.ticks(&mut c, self.before(tau));
            self.clock = Some(tau);
            return;
        }
        if let Some(id) = &id {
            if c.ids.get(id).is_some_and(|t0| t - t0 <= 7 * 86_400) {
                self.customers.insert(customer.to_string(), c);
                return;
            }
        }
        // A customer exists from the instant its first event is applied.
        if c.processed.is_none() {
            c.processed = Some(tau - 1);
        }
        // Seconds before the event pass (a second whose cascade does not
        // settle is skipped); only the event's own second can reject it.
        self.ticks(&mut c, self.before(tau));
        let ok = matches!(self.apply(&mut c, kind, t, tau, data), Step::Ok);
        if !ok {
            self.out.truncate(out_len);
            self.customers.insert(customer.to_string(), backup);
            return;
        }
        if let Some(id) = id {
            c.ids.insert(id, t);
        }
        c.ids.retain(|_, t0| *t0 >= tau - 7 * 86_400);
        c.processed = Some(c.processed.map_or(tau, |p| p.max(tau)));
        self.clock = Some(tau);
        self.customers.insert(customer.to_string(), c);
    }

    /// The last second that passes before an input at `tau`: the one
    /// before it, or `tau` itself when an advance has already closed it
    /// (the input is late).
    fn before(&self, tau: i64) -> i64 {
        if self.closed.is_some_and(|cl| cl >= tau) {
            tau
        } else {
            tau - 1
        }
    }

    /// Runs every second after the last processed one up to `t`; a second
    /// whose cascade does not settle is passed without firing.
    fn ticks(&mut self, c: &mut Cust, t: i64) {
        let Some(first) = c.first_seen else { return };
        let start = c.processed.map_or(first, |p| p + 1);
        for s in start..=t {
            let backup = c.clone();
            let out_len = self.out.len();
            if let Step::Cascade = self.instant(c, s, None) {
                self.out.truncate(out_len);
                *c = backup;
                self.skip(c, s);
            }
            c.processed = Some(s);
        }
    }

    fn apply(
        &mut self,
        c: &mut Cust,
        kind: &str,
        t: i64,
        tau: i64,
        data: &Map<String, Json>,
    ) -> Step {
        c.arrivals += 1;
        c.first_seen = Some(c.first_seen.map_or(t, |f| f.min(t)));
        c.last_seen = Some(c.last_seen.map_or(t, |l| l.max(t)));
        let mut fields = BTreeMap::new();
        match kind {
            "$profile" => {
                for (k, v) in data {
                    let ty = self.profile.get(k).copied().unwrap_or(Type::Int);
                    c.profile.insert(k.clone(), V::from_json(v, ty));
                }
            }
            "$tag" => {
                if let Some(tag) = data.get("tag").and_then(Json::as_str) {
                    c.tags.insert(tag.to_string());
                }
            }
            "$untag" => {
                if let Some(tag) = data.get("tag").and_then(Json::as_str) {
                    c.tags.remove(tag);
                }
            }
            k if self.events.contains_key(k) => {
                for (name, ty) in &self.events[k] {
                    fields.insert(
                        name.clone(),
                        data.get(name).map_or(V::Null, |v| V::from_json(v, *ty)),
                    );
                }
                c.seq += 1;
                c.events.push(Ev {
                    seq: c.seq,
                    t,
                    kind: k.to_string(),
                    fields: fields.clone(),
                });
                // Ledger operations, amounts evaluated as the event arrives.
                for (name, ledger) in &self.ledgers {
                    for (earn, on, amount) in &ledger.ops {
                        if on == k {
                            let cx = Cx {
                                c,
                                now: tau,
                                trigger: Some(&fields),
                                row: None,
                            };
                            if let Some(a) = self.eval(&cx, amount).num().filter(|a| *a > 0.0) {
                                let seq = c.seq;
                                c.ledger_ops.push((name.clone(), *earn, t, tau, seq, a));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        let declared = self.events.contains_key(kind);
        self.instant(c, tau, declared.then_some((kind, t, fields)))
    }

    // ------------------------------------------------------------- instants

    /// One second for one customer: derived state, then rules, in rounds.
    fn instant(
        &mut self,
        c: &mut Cust,
        s: i64,
        ev: Option<(&str, i64, BTreeMap<String, V>)>,
    ) -> Step {
        if c.first_seen.is_none() {
            return Step::Ok;
        }
        let mut round = 0;
        loop {
            round += 1;
            if round > 16 {
                return Step::Cascade;
            }
            let changes = self.derive(c, s);
            for (node, old, new) in &changes {
                if let Some(tag) = node.strip_prefix(TAG) {
                    let was = *old == V::B(true);
                    let is = *new == V::B(true);
                    if was != is {
                        self.out.push(tag_json(s, &c.id, None, is, tag));
                    }
                }
            }
            let mut cands: Vec<Cand> = Vec::new();
            if round == 1 {
                if let Some((kind, t, fields)) = &ev {
                    if !self.broadcasts.contains(*kind) {
                        self.arrive(c, s, kind, *t, fields);
                    }
                    for (i, r) in self.rules.iter().enumerate() {
                        if let Trigger::Event(f) = trigger(r) {
                            if f.event.node == *kind && self.filter(c, s, f, fields, Some(fields)) {
                                cands.push(Cand {
                                    rule: i,
                                    order: (s, 0),
                                    fields: Some(fields.clone()),
                                    moved: false,
                                    origin: s,
                                });
                            }
                        }
                    }
                }
                // Calendar triggers: this second is an occurrence, the
                // customer was first seen before it, and it has not fired yet.
                for (i, r) in self.rules.iter().enumerate() {
                    let wall = self.local(c, s);
                    let occurs = match trigger(r) {
                        // `every … at`; 1970-01-01 was a Thursday (ISO 4).
                        Trigger::Every { day, at } => {
                            let weekday_ok = match day {
                                Every::Day => true,
                                Every::Weekday(w) => {
                                    ((wall.div_euclid(86_400) + 3).rem_euclid(7) + 1) as u8 == *w
                                }
                            };
                            weekday_ok && wall.rem_euclid(86_400) == at.node.seconds()
                        }
                        // `anniversary of profile.F at HH:MM`: that time on the
                        // date's anniversary (29 February on the 28th in
                        // common years).
                        Trigger::Anniversary {
                            before: None,
                            attr,
                            at,
                        } => {
                            let at = at.as_ref().map_or(0, |a| a.node.seconds());
                            let date = match c.profile.get(&attr.node) {
                                Some(V::S(d)) => parse_date(d),
                                _ => None,
                            };
                            let (y, m, d) = civil(wall.div_euclid(86_400));
                            let hits = date.is_some_and(|(_, dm, dd)| {
                                let dd = if dm == 2 && dd == 29 && !leap(y) {
                                    28
                                } else {
                                    dd
                                };
                                (m, d) == (dm, dd)
                            });
                            hits && wall.rem_euclid(86_400) == at
                        }
                        _ => false,
                    };
                    if occurs
                        && c.first_seen.is_some_and(|f| f < s)
                        && c.calendar_fired.insert((i, s))
                    {
                        cands.push(Cand {
                            rule: i,
                            order: (s, 0),
                            fields: None,
                            moved: false,
                            origin: s,
                        });
                    }
                }
                // `no … for`.
                for (i, r) in self.rules.iter().enumerate() {
                    if let Trigger::No { duration, .. } = trigger(r) {
                        let anchor = c.no_anchor(i, s);
                        if anchor + duration.node <= s && !c.no_fired.contains(&(i, anchor)) {
                            c.no_fired.insert((i, anchor));
                            cands.push(Cand {
                                rule: i,
                                order: (anchor + duration.node, 0),
                                fields: None,
                                moved: false,
                                origin: anchor,
                            });
                        }
                    }
                }
            }
            for (i, r) in self.rules.iter().enumerate() {
                let fires = changes.iter().any(|(node, old, new)| match trigger(r) {
                    Trigger::Enters(seg) | Trigger::Exits(seg)
                        if node == &format!("{SEG}{}", seg.node) =>
                    {
                        let was = *old == V::B(true);
                        let is = *new == V::B(true);
                        was != is && is == matches!(trigger(r), Trigger::Enters(_))
                    }
                    Trigger::Becomes { stage, label }
                        if node == &format!("{STAGE}{}", stage.node) =>
                    {
                        *new == V::S(label.node.clone())
                    }
                    Trigger::Changes(stage) => node == &format!("{STAGE}{}", stage.node),
                    _ => false,
                });
                if fires {
                    cands.push(Cand {
                        rule: i,
                        order: (0, 0),
                        fields: None,
                        moved: false,
                        origin: s,
                    });
                }
            }
            // Owed `after` firings that are due and still stand.
            let mut keep = Vec::new();
            for o in std::mem::take(&mut c.owed) {
                if o.due <= s {
                    cands.push(Cand {
                        rule: o.rule,
                        order: (o.due, o.seq),
                        fields: Some(o.fields.clone()),
                        moved: o.moved,
                        origin: o.origin,
                    });
                } else {
                    keep.push(o);
                }
            }
            c.owed = keep;
            if cands.is_empty() {
                return Step::Ok;
            }
            cands.sort_by(|a, b| {
                let pa = priority(self.rules[a.rule]);
                let pb = priority(self.rules[b.rule]);
                pb.cmp(&pa)
                    .then(a.rule.cmp(&b.rule))
                    .then(a.order.cmp(&b.order))
            });
            let mut changed = false;
            for cand in cands {
                changed |= self.fire(c, s, &cand);
            }
            if !changed {
                return Step::Ok;
            }
        }
    }

    /// What an arriving event does to `no`, `after` and `unless`.
    fn arrive(&mut self, c: &mut Cust, s: i64, kind: &str, t: i64, fields: &BTreeMap<String, V>) {
        let seq = c.seq;
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(u) = unless(r) {
                if u.event.node == kind {
                    let owed = std::mem::take(&mut c.owed);
                    let mut kept = Vec::new();
                    for o in owed {
                        let cancels = o.rule == i
                            && c.arrivals > o.created
                            && t > o.origin
                            && t <= o.due
                            && self.filter(c, s, u, fields, Some(&o.fields));
                        if !cancels {
                            kept.push(o);
                        }
                    }
                    c.owed = kept;
                }
            }
            match trigger(r) {
                Trigger::No { event, .. }
                    if event.event.node == kind && self.filter(c, s, event, fields, None) =>
                {
                    c.no_matches.entry(i).or_default().push((t, seq));
                }
                Trigger::After {
                    delay, last, event, ..
                } if event.event.node == kind && self.filter(c, s, event, fields, Some(fields)) => {
                    let o = Owed {
                        rule: i,
                        due: (t + delay.node).max(s),
                        origin: t,
                        seq,
                        fields: fields.clone(),
                        created: c.arrivals,
                        moved: false,
                    };
                    if *last {
                        if c.latest.get(&i).is_none_or(|a| (t, seq) >= *a) {
                            c.latest.insert(i, (t, seq));
                            c.owed.retain(|x| x.rule != i || x.moved);
                            c.owed.push(o);
                        }
                    } else {
                        c.owed.push(o);
                    }
                }
                _ => {}
            }
        }
    }

    /// Passes second `s` without firing (its cascade did not settle).
    fn skip(&mut self, c: &mut Cust, s: i64) {
        self.derive(c, s);
        for (i, r) in self.rules.iter().enumerate() {
            if let Trigger::No { duration, .. } = trigger(r) {
                let anchor = c.no_anchor(i, s);
                if anchor + duration.node <= s {
                    c.no_fired.insert((i, anchor));
                }
            }
        }
        c.owed.retain(|o| o.due > s);
        let wall = self.local(c, s).rem_euclid(86_400);
        for (i, r) in self.rules.iter().enumerate() {
            match trigger(r) {
                Trigger::Every { at, .. } if wall == at.node.seconds() => {
                    c.calendar_fired.insert((i, s));
                }
                Trigger::Anniversary { at, .. }
                    if wall == at.as_ref().map_or(0, |a| a.node.seconds()) =>
                {
                    c.calendar_fired.insert((i, s));
                }
                _ => {}
            }
        }
    }

    fn fire(&mut self, c: &mut Cust, s: i64, cand: &Cand) -> bool {
        let i = cand.rule;
        let r = self.rules[i];
        let fields = cand.fields.as_ref();
        if !cand.moved {
            // Where the firing lands: the next `at` time, then out of quiet
            // hours; scanned second by second.
            let mut x = s;
            let wall = |x: i64| self.local(c, x).rem_euclid(86_400);
            if let Some(at) = clause_at(r) {
                while wall(x) != at {
                    x += 1;
                }
            }
            if let Some((start, end, program_policy)) = self.quiet {
                let policy = clause_quiet(r).unwrap_or(program_policy);
                let secs = wall(x);
                let inside = if start <= end {
                    start <= secs && secs < end
                } else {
                    secs >= start || secs < end
                };
                if inside && policy == QuietPolicy::Drop {
                    return false;
                }
                if inside && policy == QuietPolicy::Defer {
                    x += 1;
                    while wall(x) != end {
                        x += 1;
                    }
                }
            }
            if x > s {
                c.owed.push(Owed {
                    rule: i,
                    due: x,
                    origin: cand.origin,
                    seq: cand.order.1,
                    fields: cand.fields.clone().unwrap_or_default(),
                    created: c.arrivals,
                    moved: true,
                });
                return false;
            }
        }
        for cl in &r.clauses {
            if let Clause::If(g) = &cl.node {
                let cx = Cx {
                    c,
                    now: s,
                    trigger: fields,
                    row: None,
                };
                if self.eval(&cx, g).truth() != Some(true) {
                    return false;
                }
            }
        }
        if let Some((max, per)) = clause_limit(r) {
            let used = c
                .fired_log
                .iter()
                .filter(|(rule, t)| *rule == i && per.is_none_or(|d| *t > s - d))
                .count();
            if used >= max as usize {
                return false;
            }
        }
        let capped = self.capped_actions(r);
        for (max, per) in &self.caps {
            let used = c.capped_log.iter().filter(|t| **t > s - per).count();
            if capped > 0 && used + capped > *max as usize {
                return false;
            }
        }
        if let Some(bp) = clause_holdout(r) {
            if fnv(&format!("holdout:{}:{}", r.name.node, c.id)) % 10_000 < u64::from(bp) {
                return false;
            }
        }
        c.fired_log.push((i, s));
        c.capped_log.extend(std::iter::repeat_n(s, capped));
        let mut changed = false;
        for cl in &r.clauses {
            let Clause::Do(actions) = &cl.node else {
                continue;
            };
            for a in actions {
                match a {
                    Action::Call { name, args } => {
                        let mut obj = Map::new();
                        for p in &self.actions[&name.node] {
                            let v = args.iter().find(|(k, _)| k.node == *p).map_or(
                                V::Null,
                                |(_, e)| {
                                    self.eval(
                                        &Cx {
                                            c,
                                            now: s,
                                            trigger: fields,
                                            row: None,
                                        },
                                        e,
                                    )
                                },
                            );
                            obj.insert(p.clone(), v.to_json());
                        }
                        self.out.push(
                            json!({"at": rfc3339(s), "customer": c.id, "rule": r.name.node,
                            "action": name.node, "args": obj}),
                        );
                    }
                    Action::AddTag(t) => {
                        if c.tags.insert(t.node.clone()) {
                            self.out
                                .push(tag_json(s, &c.id, Some(&r.name.node), true, &t.node));
                            changed = true;
                        }
                    }
                    Action::RemoveTag(t) => {
                        if c.tags.remove(&t.node) {
                            self.out
                                .push(tag_json(s, &c.id, Some(&r.name.node), false, &t.node));
                            changed = true;
                        }
                    }
                    Action::Set { attr, value } => {
                        let v = self.eval(
                            &Cx {
                                c,
                                now: s,
                                trigger: fields,
                                row: None,
                            },
                            value,
                        );
                        if c.profile.get(&attr.node).unwrap_or(&V::Null) != &v {
                            c.profile.insert(attr.node.clone(), v.clone());
                            self.out.push(json!({"at": rfc3339(s), "customer": c.id, "rule": r.name.node,
                                "action": "$set", "args": {"attr": attr.node, "value": v.to_json()}}));
                            changed = true;
                        }
                    }
                }
            }
        }
        // Followers: `D after rule R`.
        for (j, f) in self.rules.iter().enumerate() {
            if let Trigger::AfterRule { delay, rule, .. } = trigger(f) {
                if rule.node == r.name.node {
                    c.owed.push(Owed {
                        rule: j,
                        due: s + delay.node,
                        origin: s,
                        seq: c.seq,
                        fields: BTreeMap::new(),
                        created: c.arrivals,
                        moved: false,
                    });
                    changed |= delay.node == 0;
                }
            }
        }
        changed
    }

    // -------------------------------------------------------- derived state

    /// Recomputes every segment, tag and stage at `s` from the full history;
    /// returns the changes since the last evaluation, in report order.
    ///
    /// Nodes are computed in dependency order, each reading the values just
    /// computed for the nodes before it; rules read these values until the
    /// next round recomputes them (§6).
    fn derive(&self, c: &mut Cust, s: i64) -> Vec<(String, V, V)> {
        let mut changes = Vec::new();
        for node in &self.order {
            let new = self.node(
                &Cx {
                    c,
                    now: s,
                    trigger: None,
                    row: None,
                },
                node,
            );
            let old = c.prev.get(node).cloned().unwrap_or(V::Null);
            let unknown_to_false = old == V::Null && new == V::B(false);
            if old != new && !unknown_to_false {
                changes.push((node.clone(), old, new.clone()));
            }
            c.prev.insert(node.clone(), new);
        }
        changes
    }

    /// The value of a derived node as of the last `derive`.
    fn current(&self, cx: &Cx<'_>, node: &str) -> V {
        cx.c.prev.get(node).cloned().unwrap_or(V::Null)
    }

    fn node(&self, cx: &Cx<'_>, node: &str) -> V {
        if let Some(seg) = node.strip_prefix(SEG) {
            V::B(self.eval(cx, self.segments[seg]).truth() == Some(true))
        } else if let Some(tag) = node.strip_prefix(TAG) {
            V::B(self.eval(cx, self.tags[tag]).truth() == Some(true))
        } else {
            let stage = &self.stages[node.strip_prefix(STAGE).unwrap_or(node)];
            for (label, cond) in stage {
                match cond {
                    None => return V::S(label.clone()),
                    Some(c) if self.eval(cx, c).truth() == Some(true) => {
                        return V::S(label.clone());
                    }
                    _ => {}
                }
            }
            V::Null
        }
    }

    fn filter(
        &self,
        c: &Cust,
        s: i64,
        f: &EventFilter,
        row: &BTreeMap<String, V>,
        trig: Option<&BTreeMap<String, V>>,
    ) -> bool {
        f.filter.as_ref().is_none_or(|e| {
            self.eval(
                &Cx {
                    c,
                    now: s,
                    trigger: trig,
                    row: Some(row),
                },
                e,
            )
            .truth()
                == Some(true)
        })
    }

    // ---------------------------------------------------------- expressions

    fn eval(&self, cx: &Cx<'_>, e: &Expr) -> V {
        match &e.node {
            ExprKind::Null => V::Null,
            ExprKind::Bool(b) => V::B(*b),
            ExprKind::Int(i) => V::I(*i),
            ExprKind::Number(f) => V::F(*f),
            ExprKind::Str(s) => V::S(s.clone()),
            ExprKind::Duration(d) => V::D(*d),
            ExprKind::List(items) => V::L(items.iter().map(|i| self.eval(cx, i)).collect()),
            ExprKind::Now => V::T(cx.now),
            ExprKind::FirstSeen => cx.c.first_seen.map_or(V::Null, V::T),
            ExprKind::LastSeen => cx.c.last_seen.map_or(V::Null, V::T),
            ExprKind::Profile(a) => cx.c.profile.get(&a.node).cloned().unwrap_or(V::Null),
            ExprKind::EventField(f) => cx
                .trigger
                .and_then(|t| t.get(&f.node))
                .cloned()
                .unwrap_or(V::Null),
            ExprKind::Customer(_) => V::S(cx.c.id.clone()),
            ExprKind::Name(n) => {
                if let Some(v) = cx.row.and_then(|r| r.get(n)) {
                    return v.clone();
                }
                if self.segments.contains_key(n) {
                    return V::B(self.current(cx, &format!("{SEG}{n}")) == V::B(true));
                }
                V::Null
            }
            ExprKind::HasTag(t) => {
                if self.tags.contains_key(&t.node) {
                    V::B(self.current(cx, &format!("{TAG}{}", t.node)) == V::B(true))
                } else {
                    V::B(cx.c.tags.contains(&t.node))
                }
            }
            ExprKind::Unary(UnaryOp::Not, x) => match self.eval(cx, x).truth() {
                Some(b) => V::B(!b),
                None => V::Null,
            },
            ExprKind::Unary(UnaryOp::Neg, x) => match self.eval(cx, x) {
                V::I(i) => V::I(-i),
                V::F(f) => V::F(-f),
                V::D(d) => V::D(-d),
                _ => V::Null,
            },
            ExprKind::Binary(op, l, r) => self.binary(cx, *op, l, r),
            ExprKind::Is {
                expr,
                negated,
                label,
            } => match label {
                Some(label) => {
                    let ExprKind::Name(stage) = &expr.node else {
                        return V::Null;
                    };
                    match self.current(cx, &format!("{STAGE}{stage}")) {
                        V::S(l) => V::B((l == label.node) != *negated),
                        _ => V::Null,
                    }
                }
                None => V::B((self.eval(cx, expr) == V::Null) != *negated),
            },
            ExprKind::Call(f, args) => {
                let a = args.first().map_or(V::Null, |a| self.eval(cx, a));
                match (f, a) {
                    (Func::Since, V::T(t)) => V::D(cx.now - t),
                    (Func::Until, V::T(t)) => V::D(t - cx.now),
                    (Func::Days, V::D(d)) => V::F(d as f64 / 86_400.0),
                    (Func::Hours, V::D(d)) => V::F(d as f64 / 3600.0),
                    (Func::Abs, V::I(i)) => V::I(i.abs()),
                    _ => V::Null,
                }
            }
            ExprKind::Aggregate(a) => self.aggregate(cx, a),
            ExprKind::Balance(l) => V::F(self.credits(cx, &l.node).iter().map(|c| c.2).sum()),
            ExprKind::Expiring(l, d) => V::F(
                self.credits(cx, &l.node)
                    .iter()
                    .filter(|c| c.1 <= cx.now + d.node)
                    .map(|c| c.2)
                    .sum(),
            ),
        }
    }

    fn binary(&self, cx: &Cx<'_>, op: BinaryOp, l: &Expr, r: &Expr) -> V {
        if op == BinaryOp::In {
            if let (ExprKind::Name(stage), ExprKind::List(items)) = (&l.node, &r.node) {
                if self.stages.contains_key(stage) {
                    return match self.current(cx, &format!("{STAGE}{stage}")) {
                        V::S(label) => V::B(
                            items
                                .iter()
                                .any(|i| matches!(&i.node, ExprKind::Name(n) if *n == label)),
                        ),
                        _ => V::Null,
                    };
                }
            }
        }
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let a = self.eval(cx, l).truth();
            let b = self.eval(cx, r).truth();
            return match (op, a, b) {
                (BinaryOp::And, Some(false), _) | (BinaryOp::And, _, Some(false)) => V::B(false),
                (BinaryOp::And, Some(true), Some(true)) => V::B(true),
                (BinaryOp::Or, Some(true), _) | (BinaryOp::Or, _, Some(true)) => V::B(true),
                (BinaryOp::Or, Some(false), Some(false)) => V::B(false),
                _ => V::Null,
            };
        }
        let a = self.eval(cx, l);
        if op == BinaryOp::Coalesce {
            return if a == V::Null { self.eval(cx, r) } else { a };
        }
        let b = self.eval(cx, r);
        if a == V::Null || b == V::Null {
            return V::Null;
        }
        use std::cmp::Ordering::*;
        let cmp = |want: &dyn Fn(std::cmp::Ordering) -> bool| {
            a.cmp(&b).map_or(V::Null, |o| V::B(want(o)))
        };
        match op {
            BinaryOp::Eq => cmp(&|o| o == Equal),
            BinaryOp::Ne => cmp(&|o| o != Equal),
            BinaryOp::Lt => cmp(&|o| o == Less),
            BinaryOp::Le => cmp(&|o| o != Greater),
            BinaryOp::Gt => cmp(&|o| o == Greater),
            BinaryOp::Ge => cmp(&|o| o != Less),
            BinaryOp::In => match b {
                V::L(items) => V::B(items.iter().any(|i| a.cmp(i) == Some(Equal))),
                _ => V::Null,
            },
            BinaryOp::Add => match (a, b) {
                (V::I(x), V::I(y)) => V::I(x + y),
                (V::T(t), V::D(d)) | (V::D(d), V::T(t)) => V::T(t + d),
                (V::D(x), V::D(y)) => V::D(x + y),
                (x, y) => V::F(x.num().unwrap_or(0.0) + y.num().unwrap_or(0.0)),
            },
            BinaryOp::Sub => match (a, b) {
                (V::I(x), V::I(y)) => V::I(x - y),
                (V::T(t), V::D(d)) => V::T(t - d),
                (V::T(x), V::T(y)) => V::D(x - y),
                (V::D(x), V::D(y)) => V::D(x - y),
                (x, y) => V::F(x.num().unwrap_or(0.0) - y.num().unwrap_or(0.0)),
            },
            BinaryOp::Mul => match (a, b) {
                (V::I(x), V::I(y)) => V::I(x * y),
                (x, y) => V::F(x.num().unwrap_or(0.0) * y.num().unwrap_or(0.0)),
            },
            _ => V::Null,
        }
    }

    fn aggregate(&self, cx: &Cx<'_>, a: &Aggregate) -> V {
        let mut count = 0;
        let mut sum = 0.0;
        let mut first: Option<&Ev> = None;
        let mut last: Option<&Ev> = None;
        for e in &cx.c.events {
            if e.kind != a.event.node {
                continue;
            }
            if let Some(w) = &a.window {
                if e.t <= cx.now - w.node {
                    continue;
                }
            }
            if let Some(f) = &a.filter {
                if self
                    .eval(
                        &Cx {
                            row: Some(&e.fields),
                            ..*cx
                        },
                        f,
                    )
                    .truth()
                    != Some(true)
                {
                    continue;
                }
            }
            count += 1;
            if let Some(field) = &a.field {
                if let Some(x) = e.fields.get(&field.node).and_then(V::num) {
                    sum += x;
                }
            }
            if first.is_none_or(|f| (e.t, e.seq) < (f.t, f.seq)) {
                first = Some(e);
            }
            if last.is_none_or(|l| (e.t, e.seq) > (l.t, l.seq)) {
                last = Some(e);
            }
        }
        let pick = |e: Option<&Ev>| match (e, &a.field) {
            (None, _) => V::Null,
            (Some(e), None) => V::T(e.t),
            (Some(e), Some(f)) => e.fields.get(&f.node).cloned().unwrap_or(V::Null),
        };
        match a.func {
            AggFunc::Count => V::I(count),
            AggFunc::Sum => V::F(sum),
            AggFunc::Last => pick(last),
            AggFunc::First => pick(first),
            _ => V::Null,
        }
    }
}

/// `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let mut parts = text.split('-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    Some((y, m, d))
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (H. Hinnant).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn trigger(r: &RuleDecl) -> &Trigger {
    r.clauses
        .iter()
        .find_map(|c| match &c.node {
            Clause::When(t) => Some(t),
            _ => None,
        })
        .expect("a checked rule has a trigger")
}

fn unless(r: &RuleDecl) -> Option<&EventFilter> {
    match trigger(r) {
        Trigger::After { unless, .. } | Trigger::AfterRule { unless, .. } => unless.as_ref(),
        _ => None,
    }
}

impl Reference<'_> {
    /// Live credits of a ledger at `cx.now` — (earned, expires, remaining) —
    /// by replaying every earn and spend from the start.
    fn credits(&self, cx: &Cx<'_>, ledger: &str) -> Vec<(i64, i64, f64)> {
        let expire = self.ledgers.get(ledger).and_then(|l| l.expire);
        let mut credits: Vec<(i64, u64, i64, f64)> = Vec::new();
        for (name, earn, t, tau, seq, amount) in &cx.c.ledger_ops {
            if name != ledger {
                continue;
            }
            if *earn {
                credits.push((*t, *seq, expire.map_or(i64::MAX, |d| t + d), *amount));
                credits.sort_by_key(|c| (c.0, c.1));
            } else {
                let mut left = *amount;
                for c in credits.iter_mut() {
                    if c.0 <= *tau && *tau < c.2 && c.3 > 0.0 && left > 0.0 {
                        let take = c.3.min(left);
                        c.3 -= take;
                        left -= take;
                    }
                }
            }
        }
        credits
            .into_iter()
            .filter(|c| c.0 <= cx.now && cx.now < c.2 && c.3 > 0.0)
            .map(|c| (c.0, c.2, c.3))
            .collect()
    }

    /// Host actions of a rule on a channel: what its caps count.
    fn capped_actions(&self, r: &RuleDecl) -> usize {
        r.clauses
            .iter()
            .filter_map(|c| match &c.node {
                Clause::Do(actions) => Some(actions),
                _ => None,
            })
            .flatten()
            .filter(
                |a| matches!(a, Action::Call { name, .. } if self.channelled.contains(&name.node)),
            )
            .count()
    }
}

fn clause_at(r: &RuleDecl) -> Option<i64> {
    r.clauses.iter().find_map(|c| match c.node {
        Clause::At(t) => Some(t.seconds()),
        _ => None,
    })
}

fn clause_quiet(r: &RuleDecl) -> Option<QuietPolicy> {
    r.clauses.iter().find_map(|c| match c.node {
        Clause::Quiet(p) => Some(p),
        _ => None,
    })
}

fn clause_limit(r: &RuleDecl) -> Option<(u32, Option<i64>)> {
    r.clauses.iter().find_map(|c| match &c.node {
        Clause::Limit(Limit::Once) => Some((1, None)),
        Clause::Limit(Limit::PerWindow { max, per, .. }) => Some((*max, Some(per.node))),
        _ => None,
    })
}

fn clause_holdout(r: &RuleDecl) -> Option<u32> {
    r.clauses.iter().find_map(|c| match &c.node {
        Clause::Holdout(h) => Some(h.node),
        _ => None,
    })
}

/// FNV-1a 64, written again here from §6.
fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn priority(r: &RuleDecl) -> i64 {
    r.clauses
        .iter()
        .find_map(|c| match c.node {
            Clause::Priority(p) => Some(p),
            _ => None,
        })
        .unwrap_or(0)
}

fn tag_json(s: i64, customer: &str, rule: Option<&str>, added: bool, tag: &str) -> Json {
    json!({"at": rfc3339(s), "customer": customer, "rule": rule,
        "action": if added { "$tag_added" } else { "$tag_removed" }, "args": {"tag": tag}})
}

/// The order derived changes are reported in: dependency order, as names
/// the reference understands.
/// The UTC offset of a zone name, in seconds: `±HH:MM`, `UTC`, or one of
/// the zones without daylight saving the property tests use; anything else
/// is not a zone (the program's zone applies).
fn offset_of(name: &str) -> Option<i64> {
    let fixed = |sign: i64, hm: &str| {
        let (h, m) = hm
            .split_once(':')
            .filter(|(h, m)| h.len() == 2 && m.len() == 2)?;
        let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
    };
    match name {
        "UTC" => Some(0),
        "Asia/Kolkata" => Some(19_800),
        "Asia/Kathmandu" => Some(20_700),
        _ => match name.split_at_checked(1) {
            Some(("+", hm)) => fixed(1, hm),
            Some(("-", hm)) => fixed(-1, hm),
            _ => None,
        },
    }
}

pub fn derived_order(program: &siyu::Program) -> Vec<String> {
    use siyu::DefinitionKind;
    program
        .definitions()
        .map(|(kind, n)| match kind {
            DefinitionKind::Segment => format!("{SEG}{n}"),
            DefinitionKind::Tag => format!("{TAG}{n}"),
            _ => format!("{STAGE}{n}"),
        })
        .collect()
}

/// Unix seconds as RFC 3339 (siyu's own formatting: the text compared is
/// the engine's output).
pub fn rfc3339(t: i64) -> String {
    siyu::Instant::from_unix(t).map_or_else(|_| t.to_string(), |i| i.to_string())
}

/// RFC 3339 text as Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    siyu::Instant::parse(text).ok().map(siyu::Instant::unix)
}
