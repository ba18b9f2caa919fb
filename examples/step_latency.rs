//! Per-event latency of a replay (issue 17): each line's call timed on its
//! own — the event's parse, the timers due before it (everyone's, in `at`
//! order) and its step, actions written as JSON lines into a reused buffer
//! — and the distribution printed. Broadcast lines, which step every
//! customer, are counted apart.
//!
//! `cargo run --release --example step_latency -- RULES.siyu EVENTS.jsonl`

use std::time::Instant;

// The replay allocates and frees small blocks at every step; mimalloc's
// per-size free lists take about a quarter off the time glibc's malloc
// spends (BENCHMARKS.md). A host embedding the library picks its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn quantile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rules, events] = <[String; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("usage: step_latency RULES.siyu EVENTS.jsonl");
        std::process::exit(2)
    });
    let source = std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
    let program = siyu::compile(&source).unwrap_or_else(|e| panic!("{}", e.render(&rules)));
    let text = std::fs::read_to_string(&events).unwrap_or_else(|e| panic!("{events}: {e}"));
    let mut engine = siyu::Engine::new(&program);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut sink = |a: siyu::ActionRef<'_>| {
        a.write_json_line(&mut buf);
        if buf.len() >= 1 << 16 {
            buf.clear();
        }
    };
    let mut customer = Vec::new();
    let mut broadcast = Vec::new();
    for line in text.lines() {
        let start = Instant::now();
        let _ = engine.replay_line_into(line, &mut sink);
        let ns = start.elapsed().as_nanos() as u64;
        // Only a broadcast has no `customer` key.
        if line.contains("\"customer\"") {
            customer.push(ns);
        } else {
            broadcast.push(ns);
        }
    }
    for (name, mut v) in [("customer events", customer), ("broadcasts", broadcast)] {
        if v.is_empty() {
            continue;
        }
        v.sort_unstable();
        let us = |ns: u64| ns as f64 / 1000.0;
        println!(
            "{name}: {} lines, p50 {:.2} µs, p90 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs, max {:.0} µs",
            v.len(),
            us(quantile(&v, 0.5)),
            us(quantile(&v, 0.9)),
            us(quantile(&v, 0.99)),
            us(quantile(&v, 0.999)),
            us(v[v.len() - 1]),
        );
    }
}
