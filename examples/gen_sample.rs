//! Generates a deterministic sample of customer events for the bundled SOP
//! (`examples/sop/sop.siyu`): WeCom friends who chat, sign in, browse,
//! buy, share, invite, post reviews and redeem points, with monthly restock
//! broadcasts. The same arguments always give the same file.
//!
//! `cargo run --release --example gen_sample -- [CUSTOMERS] [DAYS] [SEED] [MAX_PER_CUSTOMER] > events.jsonl`
//!
//! The bundled `examples/sop/events.jsonl` is `-- 300 420 7`: long enough
//! for points to near their 365-day expiry, so every rule of the SOP fires.

use std::io::{BufWriter, Write};

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
    siyu::value::format_time(t)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let customers = arg(0, 400);
    let days = arg(1, 240) as i64;
    let mut rng = Rng(arg(2, 42).max(1));
    let max_per_customer = arg(3, u64::MAX);
    let mut events: Vec<(i64, u64, String)> = Vec::new();
    let push = |t: i64, line: String, events: &mut Vec<(i64, u64, String)>| {
        let n = events.len() as u64;
        events.push((t, n, line));
    };
    for c in 0..customers {
        let id = format!("u{c:05}");
        // Friends arrive over the first two thirds of the period.
        let mut t = START + rng.below((days * 2 / 3) as u64 * DAY as u64) as i64;
        let channel = rng.pick(&["qr", "search", "referral", "live"]);
        push(
            t,
            ev(
                &id,
                "add_friend",
                t,
                &format!("{{\"channel\": \"{channel}\"}}"),
                &mut rng,
            ),
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
        push(
            t + 60,
            ev(&id, "$profile", t + 60, &profile, &mut rng),
            &mut events,
        );
        // How engaged this customer is: gaps between visits, and whether
        // they drift away for good.
        let mean_gap = [DAY / 2, DAY, 3 * DAY, 7 * DAY, 20 * DAY][rng.below(5) as usize];
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
            if emitted > max_per_customer {
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
            push(t, ev(&id, kind, t, &data, &mut rng), &mut events);
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
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (_, _, line) in events {
        if writeln!(out, "{line}").is_err() {
            return;
        }
    }
}

/// One event line; every tenth carries an id (some hosts send them).
fn ev(customer: &str, kind: &str, t: i64, data: &str, rng: &mut Rng) -> String {
    let id = if rng.chance(10) {
        format!("\"id\": \"{customer}-{t}\", ")
    } else {
        String::new()
    };
    format!(
        "{{{id}\"customer\": \"{customer}\", \"type\": \"{kind}\", \"time\": \"{}\", \"data\": {data}}}",
        time(t)
    )
}
