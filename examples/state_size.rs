//! Bytes of state per customer (issue 8): replays RULES over EVENTS and
//! reports the snapshot size per customer, and which part of a customer's
//! state takes the most.
//!
//! `cargo run --release --example state_size -- RULES.siyu EVENTS.jsonl`

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rules, events] = <[String; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("usage: state_size RULES.siyu EVENTS.jsonl");
        std::process::exit(2)
    });
    let source = std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
    let program = siyu::compile(&source).unwrap_or_else(|e| panic!("{}", e.render(&rules)));
    let mut engine = siyu::Engine::new(&program);
    let text = std::fs::read_to_string(&events).unwrap_or_else(|e| panic!("{events}: {e}"));
    let mut ids = std::collections::BTreeSet::new();
    for line in text.lines() {
        let _ = engine.replay_line(line);
        if let Some(c) = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|j| j.get("customer").and_then(|c| c.as_str()).map(String::from))
        {
            ids.insert(c);
        }
    }
    let _ = engine.replay_end(None);
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
