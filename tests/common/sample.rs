//! A deterministic sample of customer events for the bundled SOP
//! (`examples/sop/sop.siyu`): WeCom friends who chat, sign in, browse,
//! buy, share, invite, post reviews and redeem points, with monthly restock
//! broadcasts. The same settings always give the same lines.
//!
//! Shared by `examples/gen_sample.rs` (which writes it) and the golden
//! tests (which replay it), so that both see the same events.

use std::io::{self, Write};

/// What to generate. [`Sample::new`] gives the settings the bundled sample
/// was made with; the options below it change nothing unless set.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Customers.
    pub customers: u64,
    /// Days covered, from 2026-01-01.
    pub days: i64,
    /// Seed of the generator.
    pub seed: u64,
    /// At most this many events per customer.
    pub max_per_customer: u64,
    /// Every event carries an `id` (as real streams do); otherwise one in
    /// ten does.
    pub all_ids: bool,
    /// Percent of customer events sent again later with the same `id`
    /// (an at-least-once upstream), when they have one.
    pub resend_percent: u64,
    /// A few very active customers: one in a thousand visits about every
    /// four hours, past `max_per_customer`.
    pub heavy_tail: bool,
}

impl Sample {
    /// `customers` over `days`, with `seed`.
    pub fn new(customers: u64, days: i64, seed: u64) -> Sample {
        Sample {
            customers,
            days,
            seed,
            max_per_customer: u64::MAX,
            all_ids: false,
            resend_percent: 0,
            heavy_tail: false,
        }
    }
}

/// xorshift64*: small, fast, and identical on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: i64 = 86_400;
const SKUS: [&str; 12] = [
    "oat-bar",
    "konjac-jelly",
    "protein-chips",
    "rice-cake",
    "nut-mix",
    "baby-puffs",
    "yogurt-melts",
    "seaweed",
    "dried-mango",
    "soy-milk",
    "granola",
    "coffee-jelly",
];

fn category(sku: &str) -> &'static str {
    match sku {
        "baby-puffs" | "yogurt-melts" => "baby",
        "soy-milk" | "coffee-jelly" => "drink",
        _ => "snack",
    }
}

fn time(t: i64) -> String {
    siyu::Instant::from_unix(t).map_or_else(|_| t.to_string(), |i| i.to_string())
}

/// The sample's lines, in time order (ties in generation order).
pub fn lines(cfg: &Sample) -> Vec<String> {
    let mut rng = Rng(cfg.seed.max(1));
    let mut events: Vec<(i64, u64, String)> = Vec::new();
    let push = |t: i64, line: String, events: &mut Vec<(i64, u64, String)>| {
        let n = events.len() as u64;
        events.push((t, n, line));
    };
    let days = cfg.days;
    for c in 0..cfg.customers {
        let id = format!("u{c:05}");
        let ev = |kind: &str, t: i64, data: &str, rng: &mut Rng, events: &mut Vec<_>| {
            let line = event_line(cfg, &id, kind, t, data, rng);
            if line.contains("\"id\"") && cfg.resend_percent > 0 && rng.chance(cfg.resend_percent) {
                // Sent again within the dedup horizon (7 days).
                let again = t + 1 + rng.below(6 * DAY as u64) as i64;
                push(again, line.clone(), events);
            }
            push(t, line, events);
        };
        // Friends arrive over the first two thirds of the period.
        let mut t = START + rng.below((days * 2 / 3) as u64 * DAY as u64) as i64;
        let channel = rng.pick(&["qr", "search", "referral", "live"]);
        ev(
            "add_friend",
            t,
            &format!("{{\"channel\": \"{channel}\"}}"),
            &mut rng,
            &mut events,
        );
        let birthday = format!(
            "{}-{:02}-{:02}",
            1970 + rng.below(36),
            1 + rng.below(12),
            1 + rng.below(28)
        );
        let city = rng.pick(&[
            "Shanghai", "Beijing", "Hangzhou", "Chengdu", "Shenzhen", "Wuhan",
        ]);
        let tz = match rng.below(10) {
            0 => "\"America/New_York\"",
            1 => "\"Europe/Berlin\"",
            2 => "null",
            _ => "\"Asia/Shanghai\"",
        };
        let profile =
            format!("{{\"birthday\": \"{birthday}\", \"city\": \"{city}\", \"tz\": {tz}}}");
        ev("$profile", t + 60, &profile, &mut rng, &mut events);
        // How engaged this customer is: gaps between visits, and whether
        // they drift away for good.
        let mut mean_gap = [DAY / 2, DAY, 3 * DAY, 7 * DAY, 20 * DAY][rng.below(5) as usize];
        let mut max_events = cfg.max_per_customer;
        if cfg.heavy_tail && rng.below(1000) == 0 {
            mean_gap = 4 * 3600;
            max_events = u64::MAX;
        }
        let churn_after = if rng.chance(30) {
            Some(t + rng.below(90) as i64 * DAY)
        } else {
            None
        };
        let big_spender = rng.chance(8);
        let mut invited = 0;
        let mut emitted = 2;
        loop {
            t += 1 + rng.below(2 * mean_gap as u64) as i64;
            emitted += 1;
            if emitted > max_events {
                break;
            }
            if t >= START + days * DAY || churn_after.is_some_and(|c| t > c) {
                break;
            }
            let roll = rng.below(100);
            let (kind, data) = match roll {
                0..=29 => (
                    "interaction",
                    format!(
                        "{{\"kind\": \"{}\"}}",
                        rng.pick(&["msg", "reply", "like", "group_chat"])
                    ),
                ),
                30..=44 => ("sign_in", "{}".to_string()),
                45..=59 => {
                    let sku = rng.pick(&SKUS);
                    let amount = if big_spender {
                        300 + rng.below(3000)
                    } else {
                        19 + rng.below(300)
                    };
                    let cents = rng.below(10) * 10;
                    let data = format!(
                        "{{\"amount\": {amount}.{cents:02}, \"sku\": \"{sku}\", \"category\": \"{}\"}}",
                        category(sku)
                    );
                    ("purchase", data)
                }
                60..=71 => ("cart_add", format!("{{\"sku\": \"{}\"}}", rng.pick(&SKUS))),
                72..=77 => ("share", "{}".to_string()),
                78..=83 => {
                    invited += 1;
                    (
                        "invite",
                        format!("{{\"invitee\": \"{id}-friend{invited}\"}}"),
                    )
                }
                84..=90 => ("ugc_post", format!("{{\"quality\": {}}}", 1 + rng.below(5))),
                91..=94 => (
                    "redeem",
                    format!("{{\"points\": {}}}", 10 * (1 + rng.below(20))),
                ),
                _ => (
                    "task_done",
                    format!(
                        "{{\"task\": \"{}\"}}",
                        rng.pick(&["profile", "survey", "checkin"])
                    ),
                ),
            };
            ev(kind, t, &data, &mut rng, &mut events);
        }
    }
    // Stock comes back about once a month.
    let mut t = START + 20 * DAY;
    while t < START + days * DAY {
        let sku = rng.pick(&SKUS);
        let line = format!(
            "{{\"type\": \"restock\", \"time\": \"{}\", \"data\": {{\"sku\": \"{sku}\"}}}}",
            time(t)
        );
        push(t, line, &mut events);
        t += (25 + rng.below(10) as i64) * DAY + rng.below(DAY as u64) as i64;
    }
    events.sort_by_key(|(t, n, _)| (*t, *n));
    events.into_iter().map(|(_, _, line)| line).collect()
}

/// Writes the sample, one line each; stops quietly when `out` is closed.
pub fn write(cfg: &Sample, out: &mut impl Write) -> io::Result<()> {
    for line in lines(cfg) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// One event line; every event, or every tenth, carries an id.
fn event_line(
    cfg: &Sample,
    customer: &str,
    kind: &str,
    t: i64,
    data: &str,
    rng: &mut Rng,
) -> String {
    let id = if rng.chance(10) || cfg.all_ids {
        format!("\"id\": \"{customer}-{t}\", ")
    } else {
        String::new()
    };
    format!(
        "{{{id}\"customer\": \"{customer}\", \"type\": \"{kind}\", \"time\": \"{}\", \"data\": {data}}}",
        time(t)
    )
}
