//! Generates the hostile loads of BENCHMARKS.md's "Hostile scale" section
//! (issue 18), each with the program it runs under in
//! `tests/data/hostile/`. The same arguments always give the same file.
//!
//! `cargo run --release --example gen_hostile -- SHAPE [N] > events.jsonl`
//!
//! | shape | what | program |
//! |---|---|---|
//! | `ids N` | one customer, N events each with a distinct `id` | `dedup.siyu` |
//! | `noids N` | the same events without ids | `dedup.siyu` |
//! | `forget N` | N customers, each seen once and forgotten | `dedup.siyu` |
//! | `kept N` | N events over 100 customers, none forgotten | `dedup.siyu` |
//! | `dense N` | N events of 50 customers (one a minute each) | `window_1d.siyu` / `window_1h.siyu` |
//! | `daily` | 2,000 customers' first events, then an advance 20 years on | `daily.siyu` |

use std::io::{BufWriter, Write};

fn time(secs: i64) -> String {
    siyu::Instant::from_unix(secs).map_or_else(|e| panic!("{e}"), |t| t.to_string())
}

const START: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: i64 = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    let mut line = |s: String| {
        let _ = writeln!(w, "{s}");
    };
    let event = |c: &str, t: i64, id: Option<i64>| {
        let id = id.map_or(String::new(), |i| format!(r#", "id": "ev-{i:08}""#));
        format!(
            r#"{{"customer": "{c}", "type": "visit", "time": "{}"{id}, "data": {{"amount": {}}}}}"#,
            time(t),
            t % 97
        )
    };
    match args.first().map(String::as_str) {
        Some("ids") => (0..n).for_each(|i| line(event("c1", START + i, Some(i)))),
        Some("noids") => (0..n).for_each(|i| line(event("c1", START + i, None))),
        Some("forget") => {
            for i in 0..n {
                let c = format!("c{i}");
                line(event(&c, START + 2 * i, None));
                line(format!(
                    r#"{{"customer": "{c}", "type": "$forget", "time": "{}"}}"#,
                    time(START + 2 * i + 1)
                ));
            }
        }
        Some("kept") => (0..n).for_each(|i| line(event(&format!("c{}", i % 100), START + i, None))),
        Some("dense") => {
            (0..n).for_each(|i| line(event(&format!("c{}", i % 50), START + 60 * (i / 50), None)))
        }
        Some("daily") => {
            (0..2000).for_each(|i| line(event(&format!("c{i}"), START + i, None)));
            line(format!(
                r#"{{"advance": "{}"}}"#,
                time(START + 20 * 365 * 86_400)
            ));
        }
        _ => {
            eprintln!("usage: gen_hostile ids|noids|forget|kept|dense|daily [N]");
            std::process::exit(2);
        }
    }
}
