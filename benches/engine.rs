//! Engine benchmarks (issue 8). Run: `cargo bench --bench engine`.
//!
//! - `process/sop`: the bundled SOP over the bundled sample (48,801 events);
//! - `advance/year/N`: one `advance_to` across a year with 1,000 customers'
//!   timers due, beside N - 1,000 customers with nothing due;
//! - `compile/1000_rules`: compiling a program of 1,000 rules;
//! - `dedup/ids/N`: one customer's N events, each with its own `id` (within
//!   the dedup horizon): the time per event stays flat in N (issue 18).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use siyu::{Engine, compile};
use std::hint::black_box;
use std::time::Duration;

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: i64 = 86_400;

fn process(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("examples/sop/sop.siyu")).expect("bundled SOP");
    let events =
        std::fs::read_to_string(root.join("examples/sop/events.jsonl")).expect("bundled sample");
    let program = compile(&source).expect("compiles");
    let lines: Vec<&str> = events.lines().collect();
    let mut g = c.benchmark_group("process");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.throughput(criterion::Throughput::Elements(lines.len() as u64));
    g.bench_function("sop", |b| {
        b.iter(|| {
            let mut engine = Engine::new(&program);
            let mut n = 0;
            for line in &lines {
                n += engine.replay_line(line).map_or(0, |a| a.len());
            }
            black_box(n)
        })
    });
    g.finish();
}

fn advance(c: &mut Criterion) {
    let program = compile(
        "event purchase {}\nevent browse {}\naction push(content: string)\n\
         rule tips { when 3d after purchase do push(content: \"tips\") }\n\
         rule again { when 90d after purchase do push(content: \"again\") }",
    )
    .expect("compiles");
    let mut g = c.benchmark_group("advance/year");
    g.sample_size(10);
    for population in [10_000usize, 100_000, 1_000_000] {
        let mut engine = Engine::new(&program);
        for i in 0..population {
            let kind = if i % (population / 1000) == 0 {
                "purchase"
            } else {
                "browse"
            };
            let line = format!(
                "{{\"customer\": \"c{i}\", \"type\": \"{kind}\", \"time\": \"{}\"}}",
                siyu::Instant::from_unix(T0 + (i as i64 % 1000) * 60).expect("instant")
            );
            engine.process(&line).expect("valid");
        }
        g.bench_function(population.to_string(), |b| {
            b.iter_batched(
                || engine.clone(),
                // The engine is returned so that dropping it is not timed.
                |mut e| {
                    let fired = e
                        .advance_to(siyu::Instant::from_unix(T0 + 365 * DAY).expect("instant"))
                        .len();
                    (e, black_box(fired))
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// A program of `n` rules over a handful of events and segments, the kind
/// a large SOP has.
pub fn many_rules(n: usize) -> String {
    let mut s = String::from(
        "event purchase { amount: number, sku: string }\nevent interaction { kind: string }\n\
         profile { city: string }\naction push(content: string) channel wecom\ncap wecom: 5 per 1d\n",
    );
    for i in 0..n / 10 {
        s.push_str(&format!(
            "segment s{i} = sum(purchase.amount in {}d) >= {} and count(interaction in 30d) >= {}\n",
            30 + i % 300,
            100 * (i % 50),
            i % 7
        ));
    }
    for i in 0..n {
        let trigger = match i % 5 {
            0 => format!("purchase where amount > {}", i % 500),
            1 => format!("no interaction for {}d", 7 + i % 90),
            2 => format!("{}h after last purchase unless interaction", 1 + i % 48),
            3 => format!("enters s{}", i / 10),
            _ => format!("every day at {:02}:{:02}", i % 24, i % 60),
        };
        s.push_str(&format!(
            "rule r{i} {{ when {trigger} if profile.city in [\"Shanghai\", \"Beijing\"] do push(content: \"m{i}\") limit once per {}d }}\n",
            1 + i % 30
        ));
    }
    s
}

fn compiling(c: &mut Criterion) {
    let source = many_rules(1000);
    assert!(compile(&source).is_ok());
    let mut g = c.benchmark_group("compile");
    g.sample_size(20);
    g.bench_function("1000_rules", |b| {
        b.iter(|| compile(black_box(&source)).map(|p| p.fingerprint()))
    });
    g.finish();
}

fn dedup(c: &mut Criterion) {
    let program = compile(
        "event visit {}\naction push(content: string)\n\
         rule each { when visit do push(content: \"x\") }",
    )
    .expect("compiles");
    let mut g = c.benchmark_group("dedup/ids");
    g.sample_size(10);
    for n in [10_000i64, 40_000] {
        let lines: Vec<String> = (0..n)
            .map(|i| {
                let t = siyu::Instant::from_unix(T0 + i).expect("instant");
                format!(r#"{{"customer": "c", "type": "visit", "time": "{t}", "id": "e{i}"}}"#)
            })
            .collect();
        g.throughput(criterion::Throughput::Elements(n as u64));
        g.bench_function(n.to_string(), |b| {
            b.iter(|| {
                let mut engine = Engine::new(&program);
                for line in &lines {
                    let _ = engine.process_into(line, &mut |_: siyu::ActionRef<'_>| {});
                }
                engine
            })
        });
    }
    g.finish();
}

criterion_group!(benches, process, advance, compiling, dedup);
criterion_main!(benches);
