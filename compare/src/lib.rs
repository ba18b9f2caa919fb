//! The fixture of the predicate benchmark: one customer's prepared state,
//! in siyu and hand-written, and the same predicate's inputs for the
//! general-purpose interpreters.
//!
//! The predicate (issue 8):
//! `sum(purchase.amount in 180d) >= 5000 and count(purchase in 180d) >= 3
//!  and since(last(interaction)) > 90d and profile.city in ["Shanghai", "Beijing"]`

use siyu::{CustomerState, Event, Input, Program, SegmentId, StateLimits, compile, step};

/// The predicate as a siyu segment.
pub const SIYU: &str = "event purchase { amount: number }\nevent interaction {}\nprofile { city: string }\n\
                        segment target = sum(purchase.amount in 180d) >= 5000 and count(purchase in 180d) >= 3\n\
                        and since(last(interaction)) > 90d and profile.city in [\"Shanghai\", \"Beijing\"]";

/// Unix seconds of 2026-07-01, when the predicate is evaluated.
pub const NOW: i64 = 1_782_864_000;
const DAY: i64 = 86_400;

/// The customer's history: purchases (day, amount) and interactions (day),
/// days counted back from `NOW`.
pub const PURCHASES: [(i64, f64); 6] = [
    (300, 900.0),
    (170, 1200.0),
    (120, 2100.0),
    (60, 880.0),
    (20, 450.0),
    (5, 999.0),
];
/// Days of the interactions.
pub const INTERACTIONS: [i64; 3] = [400, 200, 100];

/// siyu's side: the program, the segment, and the customer stepped through
/// the history.
pub fn siyu_fixture() -> (Program, SegmentId, CustomerState) {
    let program = compile(SIYU).unwrap_or_else(|e| panic!("{}", e.render("bench.siyu")));
    let id = program
        .segment_id("target")
        .unwrap_or_else(|| panic!("the segment exists"));
    let mut st = CustomerState::new(&program, "c1");
    let mut lines: Vec<(i64, String)> = PURCHASES
        .iter()
        .map(|(d, a)| {
            (
                NOW - d * DAY,
                format!("\"type\": \"purchase\", \"data\": {{\"amount\": {a}}}"),
            )
        })
        .chain(
            INTERACTIONS
                .iter()
                .map(|d| (NOW - d * DAY, "\"type\": \"interaction\"".to_string())),
        )
        .collect();
    lines.push((
        NOW - 500 * DAY,
        "\"type\": \"$profile\", \"data\": {\"city\": \"Shanghai\"}".to_string(),
    ));
    lines.sort();
    for (t, body) in lines {
        let json = format!(
            "{{\"customer\": \"c1\", \"time\": \"{}\", {body}}}",
            siyu::Instant::from_unix(t).expect("an instant")
        );
        let ev = Event::parse_for(&program, &json).unwrap_or_else(|e| panic!("{json}: {e}"));
        step(
            &program,
            &mut st,
            Input::Event(&ev),
            ev.time(),
            &StateLimits::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    (program, id, st)
}

/// The hand-written limit: the same data kept as plainly as possible.
pub struct HandWritten {
    /// (time, amount), oldest first.
    pub purchases: Vec<(i64, f64)>,
    /// Latest interaction.
    pub last_interaction: Option<i64>,
    /// Profile city.
    pub city: String,
}

impl HandWritten {
    /// The history above.
    pub fn new() -> HandWritten {
        HandWritten {
            purchases: PURCHASES.iter().map(|(d, a)| (NOW - d * DAY, *a)).collect(),
            last_interaction: INTERACTIONS.iter().map(|d| NOW - d * DAY).max(),
            city: "Shanghai".into(),
        }
    }

    /// The predicate, written by hand.
    #[inline(never)]
    pub fn eval(&self, now: i64) -> bool {
        let from = now - 180 * DAY;
        let (mut sum, mut count) = (0.0, 0);
        for (t, a) in &self.purchases {
            if *t > from {
                sum += a;
                count += 1;
            }
        }
        sum >= 5000.0
            && count >= 3
            && self.last_interaction.is_some_and(|l| now - l > 90 * DAY)
            && (self.city == "Shanghai" || self.city == "Beijing")
    }
}

impl Default for HandWritten {
    fn default() -> Self {
        HandWritten::new()
    }
}

/// The inputs the interpreters get: the aggregates already computed (they
/// have none of their own), so they are measured on expression evaluation
/// alone.
pub struct Inputs {
    /// `sum(purchase.amount in 180d)`.
    pub sum180: f64,
    /// `count(purchase in 180d)`.
    pub count180: i64,
    /// Days since the last interaction.
    pub days_since: f64,
    /// Profile city.
    pub city: String,
}

/// The inputs at `NOW`.
pub fn inputs() -> Inputs {
    let h = HandWritten::new();
    let from = NOW - 180 * DAY;
    let window: Vec<f64> = h
        .purchases
        .iter()
        .filter(|(t, _)| *t > from)
        .map(|(_, a)| *a)
        .collect();
    Inputs {
        sum180: window.iter().sum(),
        count180: window.len() as i64,
        days_since: h
            .last_interaction
            .map_or(0.0, |l| (NOW - l) as f64 / DAY as f64),
        city: h.city,
    }
}
