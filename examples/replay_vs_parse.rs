//! Replay throughput against the I/O floor (issue 17): what any replay
//! must do at least — parse every event line into a typed record, and
//! write every action it produces as a JSON line. All three are timed over
//! the same lines held in memory, five rounds each (parse and write
//! interleaved, then the replays, once the actions held for the write are
//! freed), and their medians printed with the ratio of the replay to the
//! floor (parse + write). The replay is timed twice, interleaved: on one
//! thread (`Engine::replay_from`), and with the lines read and parsed on
//! a second (`Engine::replay_from_pipelined`).
//!
//! `cargo run --release --example replay_vs_parse -- RULES.siyu EVENTS.jsonl`

use serde::Deserialize;
use std::hint::black_box;
use std::time::Instant;

/// The typed record of a line: its keys borrowed where they need no
/// escaping, `data` as a map of JSON values.

// The replay allocates and frees small blocks at every step; mimalloc's
// per-size free lists take about a quarter off the time glibc's malloc
// spends (BENCHMARKS.md). A host embedding the library picks its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Line<'a> {
    #[serde(borrow)]
    customer: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

const ROUNDS: usize = 5;

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// One replay of `input`, each action written as a JSON line into a reused
/// buffer (as the `replay` example writes them); the actions kept when
/// `keep` is given; the lines parsed on a second thread when `pipelined`.
fn replay(
    program: &siyu::Program,
    input: &[u8],
    keep: Option<&mut Vec<siyu::Action>>,
    pipelined: bool,
) -> usize {
    let mut engine = siyu::Engine::new(program);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut bytes = 0usize;
    let mut kept = keep;
    let mut sink = |a: siyu::ActionRef<'_>| {
        a.write_json_line(&mut buf);
        if buf.len() >= 1 << 16 {
            bytes += buf.len();
            buf.clear();
        }
        if let Some(k) = kept.as_mut() {
            k.push(a.to_owned());
        }
    };
    // Reading from memory cannot fail.
    let _ = if pipelined {
        engine.replay_from_pipelined(input, &mut sink, &mut |_, _| {})
    } else {
        engine.replay_from(input, &mut sink, &mut |_, _| {})
    };
    engine.replay_end_into(None, &mut sink);
    bytes + buf.len()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rules, events] = <[String; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("usage: replay_vs_parse RULES.siyu EVENTS.jsonl");
        std::process::exit(2)
    });
    let source = std::fs::read_to_string(&rules).unwrap_or_else(|e| panic!("{rules}: {e}"));
    let program = siyu::compile(&source).unwrap_or_else(|e| panic!("{}", e.render(&rules)));
    let text = std::fs::read(&events).unwrap_or_else(|e| panic!("{events}: {e}"));
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // The actions to write, from an untimed run; dropped before the
    // replays are timed, so that holding them weighs on none of them.
    let mut actions = Vec::new();
    replay(&program, &text, Some(&mut actions), false);
    let count = actions.len();
    let (mut parse, mut write) = (Vec::new(), Vec::new());
    let (mut run, mut piped) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for line in &lines {
            black_box(serde_json::from_slice::<Line<'_>>(line).ok());
        }
        parse.push(start.elapsed().as_secs_f64());

        let start = Instant::now();
        let mut buf = Vec::with_capacity(1 << 16);
        let mut bytes = 0usize;
        for a in &actions {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut buf, a);
            buf.push(b'\n');
            if buf.len() >= 1 << 16 {
                bytes += buf.len();
                buf.clear();
            }
        }
        black_box(bytes + buf.len());
        write.push(start.elapsed().as_secs_f64());
    }
    drop(actions);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        black_box(replay(&program, &text, None, false));
        run.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        black_box(replay(&program, &text, None, true));
        piped.push(start.elapsed().as_secs_f64());
    }
    let (p, w, r, rp) = (median(parse), median(write), median(run), median(piped));
    println!(
        "{} lines, {} actions, medians of {ROUNDS} rounds: parse {p:.3} s, \
         write {w:.3} s, floor {:.3} s; replay {r:.3} s ({:.0} events/s): \
         {:.2}x the floor, {:.2}x the parse; pipelined {rp:.3} s: \
         {:.2}x the floor, {:.2}x the parse",
        lines.len(),
        count,
        p + w,
        lines.len() as f64 / r,
        r / (p + w),
        r / p,
        rp / (p + w),
        rp / p,
    );
}
