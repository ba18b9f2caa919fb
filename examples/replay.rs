//! `replay RULES.siyu EVENTS.jsonl [--until TIME] [--summary] [--diff OTHER.siyu]`
//!
//! The replay command of docs/host.md: compiles RULES (warnings to
//! stderr; errors to stderr and exit status 2), feeds EVENTS line by line
//! to an engine (`{"advance": TIME}` lines advance the clock), and writes
//! every action as one JSON line to stdout as it is produced. Bad lines —
//! not UTF-8, not JSON, not a valid event — are reported with their line
//! number and skipped. Neither the input nor the output is held in memory.

use siyu::{ActionRef, Engine, Instant};
use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::process::ExitCode;

// The replay allocates and frees small blocks at every step; mimalloc's
// per-size free lists take about a quarter off the time glibc's malloc
// spends (BENCHMARKS.md). A host embedding the library picks its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    rules: String,
    events: String,
    until: Option<Instant>,
    summary: bool,
    diff: Option<String>,
}

const USAGE: &str =
    "usage: replay RULES.siyu EVENTS.jsonl [--until TIME] [--summary] [--diff OTHER.siyu]";

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut until = None;
    let mut summary = false;
    let mut diff = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--until" => {
                let text = args.next().ok_or("--until needs a time")?;
                until = Some(Instant::parse(&text).map_err(|e| format!("--until: {e}"))?);
            }
            "--summary" => summary = true,
            "--diff" => diff = Some(args.next().ok_or("--diff needs a program")?),
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"));
            }
            _ => positional.push(a),
        }
    }
    match <[String; 2]>::try_from(positional) {
        Ok([rules, events]) => Ok(Args {
            rules,
            events,
            until,
            summary,
            diff,
        }),
        Err(_) => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let Some(program) = load(&args.rules) else {
        return ExitCode::from(2);
    };
    let open = || match File::open(&args.events) {
        Ok(f) => Some(BufReader::with_capacity(1 << 16, f)),
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.events);
            None
        }
    };
    if let Some(other) = &args.diff {
        let Some(other_program) = load(other) else {
            return ExitCode::from(2);
        };
        let (Some(a), Some(b)) = (open(), open()) else {
            return ExitCode::from(2);
        };
        let a = run_quietly(&program, a, args.until);
        let b = run_quietly(&other_program, b, args.until);
        let (Ok(a), Ok(b)) = (a, b) else {
            eprintln!("cannot read {}", args.events);
            return ExitCode::from(2);
        };
        let diffs = siyu::engine::diff::compare(&a, &b);
        print!("{}", siyu::engine::diff::render(&diffs, &args.rules, other));
        return ExitCode::SUCCESS;
    }
    let Some(input) = open() else {
        return ExitCode::from(2);
    };
    let mut engine = Engine::new(&program);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    // A closed stdout (piped into `head`) ends the output, not the replay.
    let mut write = |a: ActionRef<'_>| {
        a.write_json_line(&mut buf);
        if buf.len() >= 1 << 16 {
            let _ = out.write_all(&buf);
            buf.clear();
        }
    };
    let progress = std::io::stderr().is_terminal();
    let path = &args.events;
    let mut bad = |n: u64, e: siyu::engine::LineError| {
        if progress {
            eprint!("\r\x1b[K");
        }
        eprintln!("{path}:{n}: {e}");
    };
    if let Err(e) = engine.replay_from_pipelined(input, &mut write, &mut bad) {
        eprintln!("cannot read {path}: {e}");
        return ExitCode::from(2);
    }
    engine.replay_end_into(args.until, &mut write);
    let _ = out.write_all(&buf);
    let _ = out.flush();
    if args.summary {
        eprint!("{}", engine.summary());
    }
    ExitCode::SUCCESS
}

/// Compiles a program, printing warnings (and errors) rendered.
fn load(path: &str) -> Option<siyu::Program> {
    let source = match std::fs::read(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return None;
        }
    };
    match siyu::compile_bytes(&source, &siyu::Limits::default()) {
        Ok(p) => {
            if !p.warnings().is_empty() {
                eprint!("{}", p.render_warnings(path));
            }
            Some(p)
        }
        Err(e) => {
            eprint!("{}", e.render(path));
            None
        }
    }
}

/// Every action of a replay, bad lines skipped silently.
fn run_quietly(
    program: &siyu::Program,
    input: impl std::io::BufRead,
    until: Option<Instant>,
) -> std::io::Result<Vec<siyu::Action>> {
    let mut engine = Engine::new(program);
    let mut out = Vec::new();
    engine.replay_from(input, &mut out, &mut |_, _| {})?;
    engine.replay_end_into(until, &mut out);
    Ok(out)
}
