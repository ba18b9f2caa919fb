//! Generates a deterministic sample of customer events for the bundled SOP
//! (`examples/sop/sop.siyu`). The same arguments always give the same file.
//!
//! `cargo run --release --example gen_sample -- [CUSTOMERS] [DAYS] [SEED] [MAX_PER_CUSTOMER] [--all-ids] [--resend PERCENT] [--heavy-tail] > events.jsonl`
//!
//! The bundled `examples/sop/events.jsonl` is `-- 300 420 7`: long enough
//! for points to near their 365-day expiry, so every rule of the SOP fires.
//! `--all-ids` gives every event an `id` (as real streams do), `--resend`
//! sends that share of them twice, `--heavy-tail` makes one customer in a
//! hundred very active.

#[path = "../tests/common/sample.rs"]
mod sample;

use std::io::BufWriter;

fn main() {
    let mut positional = Vec::new();
    let mut all_ids = false;
    let mut heavy_tail = false;
    let mut resend = 0;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--all-ids" => all_ids = true,
            "--heavy-tail" => heavy_tail = true,
            "--resend" => resend = args.next().and_then(|p| p.parse().ok()).unwrap_or(5),
            _ => positional.push(a),
        }
    }
    let arg = |i: usize, default: u64| {
        positional
            .get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let mut cfg = sample::Sample::new(arg(0, 400), arg(1, 240) as i64, arg(2, 42));
    cfg.max_per_customer = arg(3, u64::MAX);
    cfg.all_ids = all_ids;
    cfg.heavy_tail = heavy_tail;
    cfg.resend_percent = resend;
    let stdout = std::io::stdout();
    // A closed stdout (piped into `head`) ends the output quietly.
    let _ = sample::write(&cfg, &mut BufWriter::new(stdout.lock()));
}
