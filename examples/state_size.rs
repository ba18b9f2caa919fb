//! Bytes of state per customer (issue 8): replays RULES over EVENTS and
//! reports the snapshot size per customer, which part of a customer's
//! state takes the most, and what the engine holds in memory per customer
//! (and at most, at any moment of the replay).
//!
//! `cargo run --release --example state_size -- RULES.siyu EVENTS.jsonl`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting the bytes and blocks live.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
/// The most bytes live at once, reset before the replay.
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(now: usize) {
    PEAK_BYTES.fetch_max(now, Relaxed);
}

// SAFETY: every call is passed unchanged to the system allocator; the
// counters are only read.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(LIVE_BYTES.fetch_add(layout.size(), Relaxed) + layout.size());
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        grew(LIVE_BYTES.fetch_add(size, Relaxed) + size);
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rules, events] = <[String; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("usage: state_size RULES.siyu EVENTS.jsonl");
        std::process::exit(2)
    });
    let source = std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
    let program = siyu::compile(&source).unwrap_or_else(|e| panic!("{}", e.render(&rules)));
    let text = std::fs::read_to_string(&events).unwrap_or_else(|e| panic!("{events}: {e}"));
    let ids: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|line| {
            let j = serde_json::from_str::<serde_json::Value>(line).ok()?;
            j.get("customer")?.as_str().map(String::from)
        })
        .collect();
    let before = (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed));
    PEAK_BYTES.store(before.0, Relaxed);
    let mut engine = siyu::Engine::new(&program);
    let mut discard = |_: siyu::ActionRef<'_>| {};
    for line in text.lines() {
        let _ = engine.replay_line_into(line, &mut discard);
    }
    engine.replay_end_into(None, &mut discard);
    // Before anything below allocates: the engine is all that was added.
    let held = (
        LIVE_BYTES.load(Relaxed).saturating_sub(before.0),
        LIVE_BLOCKS.load(Relaxed).saturating_sub(before.1),
    );
    let peak = PEAK_BYTES.load(Relaxed).saturating_sub(before.0);
    let snapshot = engine.snapshot().len();
    let customers = engine.len().max(1);
    // Each part of the state, as JSON, summed over customers.
    let mut parts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for id in &ids {
        let Some(st) = engine.customer(id) else {
            continue;
        };
        let json = serde_json::to_value(st).unwrap_or_default();
        if let Some(obj) = json.as_object() {
            for (k, v) in obj {
                *parts.entry(k.clone()).or_default() += v.to_string().len();
            }
        }
    }
    let total: usize = parts.values().sum();
    println!(
        "{customers} customers: snapshot {snapshot} bytes, {} bytes per customer (postcard)",
        snapshot / customers
    );
    println!(
        "  in memory: {} bytes per customer in {} heap blocks (whole engine: states, \
         index, timer queue)",
        held.0 / customers,
        held.1 / customers,
    );
    println!(
        "  the engine's heap: {} bytes at the end, {} at its peak during the replay",
        held.0, peak
    );
    let mut parts: Vec<_> = parts.into_iter().collect();
    parts.sort_by_key(|p| std::cmp::Reverse(p.1));
    for (part, bytes) in parts.iter().take(6) {
        println!(
            "  {part:<10} {:>5.1}% of the state ({} JSON bytes per customer)",
            100.0 * *bytes as f64 / total.max(1) as f64,
            bytes / customers
        );
    }
}
