//! What the report counts, in one pass over a replay: the actions as they
//! come (a sink), what the engine decides (its observer), and once a day
//! the population of every segment, tag, stage and ledger.
//!
//! Memory is bounded by customers × definitions and days × series, never
//! by the number of events: per customer only the touch times of the last
//! 30 days and the last value of each stage are kept.

use indexmap::IndexMap;
use siyu::{
    ActionRef, Engine, Instant, Movement, Observer, Outcome, Program, Sink, Standing, Transition,
    Verdict,
};
use std::collections::{HashMap, HashSet, VecDeque};

/// A day's seconds.
pub const DAY: i64 = 86_400;

/// Windows of the touch-pressure distribution, in seconds, with labels.
pub const WINDOWS: [(i64, &str); 3] = [(2 * DAY, "48h"), (7 * DAY, "7d"), (30 * DAY, "30d")];

/// Per customer: touch times within the longest window, and the most
/// touches seen in each window.
#[derive(Default)]
struct Touches {
    recent: VecDeque<i64>,
    most: [u32; 3],
    /// When each message (by its number in `Collected::messages`) last
    /// reached them: a customer gets few kinds, so a short list.
    sent: Vec<(u32, i64)>,
}

/// Counts accumulated over the replay.
pub struct Collected {
    /// Channels, in the order first seen; `(no channel)` for actions
    /// without one.
    pub channels: IndexMap<String, u64>,
    /// Per rule: host actions and built-ins.
    pub by_rule: IndexMap<String, RuleCount>,
    /// First day (UTC midnight, seconds) of the daily series.
    pub first_day: Option<i64>,
    /// Per day, per rule: actions.
    pub daily_rule: Vec<IndexMap<String, u64>>,
    /// Per day, per channel: host actions.
    pub daily_channel: Vec<IndexMap<String, u64>>,
    /// Customers who got at least one host action.
    pub reached: HashSet<u32>,
    /// Customers by number, in the order their first action came (ids
    /// are kept once, not per rule and per set).
    pub customers: IndexMap<String, u32>,
    /// Messages (action and arguments) by number.
    messages: HashMap<String, u32>,
    touches: HashMap<u32, Touches>,
    /// Host actions that came within 48 hours after another to the same
    /// customer.
    pub repeats_48h: u64,
    /// Host actions that repeat a message (the same action with the same
    /// arguments) the customer got within the last 7 days.
    pub repeats_same_7d: u64,
    /// Host actions in all.
    pub host_actions: u64,
    /// Actions in all (built-ins included).
    pub actions: u64,
    /// Customers a cap stopped at least once.
    pub capped: HashSet<u32>,
    /// Per day sampled: the population of each definition's value, and each
    /// ledger's total balance.
    pub samples: Vec<Sample>,
    /// Per stage definition: transitions (from label, to label) → count.
    pub moves: IndexMap<usize, IndexMap<(usize, usize), u64>>,
    /// Per ledger, per day: points earned and spent.
    pub ledger_days: Vec<Vec<(f64, f64)>>,
}

/// One rule's actions.
#[derive(Clone, Default, serde::Serialize)]
pub struct RuleCount {
    /// Actions.
    pub actions: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Who they were.
    #[serde(skip)]
    pub seen: HashSet<u32>,
}

/// The populations at one day's end.
pub struct Sample {
    /// The instant sampled (the last second of the day).
    pub at: i64,
    /// Per definition: customers per value (a segment's or tag's members
    /// at index 1; a stage's per label).
    pub counts: Vec<Vec<u64>>,
    /// Per ledger: the balance summed over customers.
    pub balances: Vec<f64>,
}

impl Collected {
    /// Nothing counted yet, for `program`'s rules.
    pub fn new(program: &Program) -> Collected {
        // Rules in declaration order, auto tags' changes last.
        let rules = program.rules().chain(["(auto tags)"]);
        Collected {
            by_rule: rules
                .map(|r| (r.to_string(), RuleCount::default()))
                .collect(),
            channels: IndexMap::new(),
            first_day: None,
            daily_rule: Vec::new(),
            daily_channel: Vec::new(),
            reached: HashSet::new(),
            customers: IndexMap::new(),
            messages: HashMap::new(),
            touches: HashMap::new(),
            repeats_48h: 0,
            repeats_same_7d: 0,
            host_actions: 0,
            actions: 0,
            capped: HashSet::new(),
            samples: Vec::new(),
            moves: IndexMap::new(),
            ledger_days: program.ledgers().map(|_| Vec::new()).collect(),
        }
    }

    /// The day index of instant `t` (days since the first day), starting
    /// the series at `t`'s day if none has started.
    fn day(&mut self, t: i64) -> usize {
        let midnight = t.div_euclid(DAY) * DAY;
        let first = *self.first_day.get_or_insert(midnight);
        let i = usize::try_from((midnight - first) / DAY).unwrap_or(0);
        while self.daily_rule.len() <= i {
            self.daily_rule.push(IndexMap::new());
            self.daily_channel.push(IndexMap::new());
        }
        for days in &mut self.ledger_days {
            days.resize(self.daily_rule.len(), (0.0, 0.0));
        }
        i
    }

    /// The number of customer `id`.
    fn number(&mut self, id: &str) -> u32 {
        if let Some(&n) = self.customers.get(id) {
            return n;
        }
        let n = self.customers.len() as u32;
        self.customers.insert(id.to_string(), n);
        n
    }

    /// The name of customer number `n`.
    pub fn name(&self, n: u32) -> &str {
        self.customers
            .get_index(n as usize)
            .map_or("?", |(name, _)| name.as_str())
    }

    /// The most touches each customer had in each window, as
    /// (window label, touches → customers).
    pub fn pressure(&self) -> Vec<(&'static str, Vec<(u32, u64)>)> {
        WINDOWS
            .iter()
            .enumerate()
            .map(|(w, (_, label))| {
                let mut histogram: HashMap<u32, u64> = HashMap::new();
                for t in self.touches.values() {
                    *histogram.entry(t.most[w]).or_default() += 1;
                }
                let mut rows: Vec<(u32, u64)> = histogram.into_iter().collect();
                rows.sort_unstable();
                (*label, rows)
            })
            .collect()
    }
}

/// The collector: a sink for the actions, an observer for the rest.
pub struct Collector<'p> {
    /// The program.
    pub program: &'p Program,
    /// What was counted.
    pub c: Collected,
    /// Per ledger name: its index.
    ledgers: HashMap<String, usize>,
}

impl<'p> Collector<'p> {
    /// A collector for `program`.
    pub fn new(program: &'p Program) -> Collector<'p> {
        Collector {
            program,
            c: Collected::new(program),
            ledgers: program
                .ledgers()
                .enumerate()
                .map(|(i, l)| (l.to_string(), i))
                .collect(),
        }
    }

    /// Samples every customer's standing and balances at `at`.
    pub fn sample(&mut self, engine: &Engine, at: i64) {
        let Ok(when) = Instant::from_unix(at) else {
            return;
        };
        let sizes: Vec<usize> = self
            .program
            .definitions()
            .enumerate()
            .map(|(i, _)| self.program.labels(i).map_or(2, |l| l.count()))
            .collect();
        let mut counts: Vec<Vec<u64>> = sizes.iter().map(|n| vec![0; *n]).collect();
        let ledgers = self.ledgers.len();
        let mut balances = vec![0.0; ledgers];
        for id in engine.customers() {
            let Some(st) = engine.customer(id) else {
                continue;
            };
            if st.clock().is_none_or(|c| c > when) {
                continue;
            }
            for (d, v) in st.standing(self.program, when).into_iter().enumerate() {
                let slot = match v {
                    Some(Standing::Member(true)) => 1,
                    Some(Standing::Label(l)) => l,
                    _ => 0,
                };
                if let Some(n) = counts.get_mut(d).and_then(|c| c.get_mut(slot)) {
                    *n += 1;
                }
            }
            for (l, total) in balances.iter_mut().enumerate() {
                *total += st.balance(self.program, l, when).unwrap_or(0.0);
            }
        }
        self.c.samples.push(Sample {
            at,
            counts,
            balances,
        });
    }
}

impl Sink for Collector<'_> {
    fn action(&mut self, a: ActionRef<'_>) {
        let c = &mut self.c;
        let t = a.at().unix();
        let day = c.day(t);
        c.actions += 1;
        let who = c.number(a.customer());
        let rule = a.rule().unwrap_or("(auto tags)").to_string();
        let r = c.by_rule.entry(rule.clone()).or_default();
        r.actions += 1;
        if r.seen.insert(who) {
            r.customers += 1;
        }
        *c.daily_rule[day].entry(rule).or_default() += 1;
        if a.action().starts_with('$') {
            return;
        }
        let channel = self
            .program
            .channel(a.action())
            .unwrap_or("(no channel)")
            .to_string();
        *c.channels.entry(channel.clone()).or_default() += 1;
        *c.daily_channel[day].entry(channel).or_default() += 1;
        c.host_actions += 1;
        c.reached.insert(who);
        let next = c.messages.len() as u32;
        let message = *c
            .messages
            .entry(format!("{}{:?}", a.action(), a.args()))
            .or_insert(next);
        let touches = c.touches.entry(who).or_default();
        if touches
            .recent
            .back()
            .is_some_and(|&last| t - last < WINDOWS[0].0)
        {
            c.repeats_48h += 1;
        }
        touches.recent.push_back(t);
        match touches.sent.iter_mut().find(|(m, _)| *m == message) {
            Some((_, before)) => {
                if t - *before < WINDOWS[1].0 {
                    c.repeats_same_7d += 1;
                }
                *before = t;
            }
            None => touches.sent.push((message, t)),
        }
        let longest = WINDOWS[WINDOWS.len() - 1].0;
        while touches.recent.front().is_some_and(|&f| f <= t - longest) {
            touches.recent.pop_front();
        }
        for (w, (span, _)) in WINDOWS.iter().enumerate() {
            let n = touches.recent.iter().filter(|&&x| x > t - span).count() as u32;
            touches.most[w] = touches.most[w].max(n);
        }
    }

    fn observer(&mut self) -> Option<&mut dyn Observer> {
        Some(self)
    }
}

impl Observer for Collector<'_> {
    fn judged(&mut self, customer: &str, outcome: Outcome) {
        if outcome.verdict == Verdict::Cap {
            let who = self.c.number(customer);
            self.c.capped.insert(who);
        }
    }

    fn transition(&mut self, _customer: &str, t: Transition) {
        if let (Some(Standing::Label(from)), Standing::Label(to)) = (t.from, t.to) {
            *self
                .c
                .moves
                .entry(t.definition)
                .or_default()
                .entry((from, to))
                .or_default() += 1;
        }
    }

    fn ledger(&mut self, _customer: &str, ledger: &str, m: Movement) {
        let Some(&l) = self.ledgers.get(ledger) else {
            return;
        };
        let (t, earned, spent) = match m {
            Movement::Earned { at, points, .. } => (at, points, 0.0),
            Movement::Spent { at, points } => (at, 0.0, points),
            _ => return,
        };
        let day = self.c.day(t.unix());
        if let Some(d) = self
            .c
            .ledger_days
            .get_mut(l)
            .and_then(|days| days.get_mut(day))
        {
            d.0 += earned;
            d.1 += spent;
        }
    }
}
