//! Replay throughput against the floor of merely parsing the same JSON
//! lines with serde_json (issue 8): both over one file, in one run, output
//! discarded, median of three; and what writing the replay's actions alone
//! costs (each serialized into a reused buffer, as a host would).
//!
//! `cargo run --release --example replay_vs_parse -- RULES.siyu EVENTS.jsonl`

use serde::Deserialize;
use std::hint::black_box;
use std::time::Instant;

/// What a host must at least do with each line: borrow the keys, build the
/// data map.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Line<'a> {
    #[serde(borrow)]
    customer: Option<&'a str>,
    #[serde(borrow, rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow)]
    time: Option<&'a str>,
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rules, events] = <[String; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("usage: replay_vs_parse RULES.siyu EVENTS.jsonl");
        std::process::exit(2)
    });
    let source = std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
    let program = siyu::compile(&source).unwrap_or_else(|e| panic!("{}", e.render(&rules)));
    let text = std::fs::read_to_string(&events).unwrap_or_else(|e| panic!("{events}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let mut parse = Vec::new();
    let mut replay = Vec::new();
    let run = |keep: &mut Option<&mut Vec<siyu::Action>>| {
        let mut engine = siyu::Engine::new(&program);
        let mut bytes = 0usize;
        let mut buf = Vec::new();
        let mut out = |a: siyu::Action| {
            buf.clear();
            let _ = serde_json::to_writer(&mut buf, &a);
            bytes += buf.len();
            if let Some(kept) = keep.as_mut() {
                kept.push(a);
            }
        };
        for line in &lines {
            engine
                .replay_line(line)
                .unwrap_or_default()
                .into_iter()
                .for_each(&mut out);
        }
        engine.replay_end(None).into_iter().for_each(&mut out);
        black_box(bytes);
    };
    for _ in 0..3 {
        let start = Instant::now();
        for line in &lines {
            black_box(serde_json::from_str::<Line<'_>>(line).ok());
        }
        parse.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        run(&mut None);
        replay.push(start.elapsed().as_secs_f64());
    }
    // Kept by a fourth, untimed run: holding them would weigh on the timed
    // ones.
    let mut kept = Vec::new();
    run(&mut Some(&mut kept));
    // The part of the replay no engine can avoid: writing its actions.
    let mut write = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let mut buf = Vec::new();
        let mut bytes = 0usize;
        for a in &kept {
            buf.clear();
            let _ = serde_json::to_writer(&mut buf, a);
            bytes += buf.len();
        }
        black_box(bytes);
        write.push(start.elapsed().as_secs_f64());
    }
    let (p, r, w) = (median(parse), median(replay), median(write));
    // The second ratio's floor is what any replay must do: read the lines
    // and write the actions.
    println!(
        "{} lines, {} actions: parse {:.3} s, replay {:.3} s (writing the actions alone: {:.3} s), \
         ratio {:.2} (to parse and writing: {:.2})",
        lines.len(),
        kept.len(),
        p,
        r,
        w,
        r / p,
        r / (p + w)
    );
}
