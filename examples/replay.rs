//! `replay RULES.siyu EVENTS.jsonl [--until TIME] [--summary]`
//!
//! HOST.md's replay command: compiles RULES (warnings to stderr; errors to
//! stderr and exit status 2), feeds EVENTS line by line to an engine
//! (`{"advance": TIME}` lines advance the clock), and writes every action as
//! one JSON line to stdout, in emission order. Bad lines are reported with
//! their line number and skipped.

use siyu::value::parse_time;
use siyu::{Engine, Metrics};
use std::io::{BufWriter, IsTerminal, Write};
use std::process::ExitCode;

struct Args {
    rules: String,
    events: String,
    until: Option<i64>,
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
                until = Some(
                    parse_time(&text).ok_or(format!("--until: not an RFC 3339 time: {text}"))?,
                );
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
    let events = match std::fs::read_to_string(&args.events) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.events);
            return ExitCode::from(2);
        }
    };
    if let Some(other) = &args.diff {
        let Some(other_program) = load(other) else {
            return ExitCode::from(2);
        };
        let a = run_quietly(&program, &events, args.until);
        let b = run_quietly(&other_program, &events, args.until);
        let diffs = siyu::engine::diff::compare(&a, &b);
        print!("{}", siyu::engine::diff::render(&diffs, &args.rules, other));
        return ExitCode::SUCCESS;
    }
    let mut engine = Engine::new(&program);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let progress = std::io::stderr().is_terminal();
    let mut write = |actions: Vec<siyu::Action>| {
        for a in actions {
            // A closed stdout (e.g. piped into `head`) ends the output.
            let _ = serde_json::to_writer(&mut out, &a);
            let _ = writeln!(out);
        }
    };
    for (n, line) in events.lines().enumerate() {
        if progress && (n + 1) % 100_000 == 0 {
            eprint!("\r{} lines", n + 1);
        }
        match engine.replay_line(line) {
            Ok(actions) => write(actions),
            Err(e) => eprintln!("{}:{}: {e}", args.events, n + 1),
        }
    }
    if progress {
        eprintln!();
    }
    write(engine.replay_end(args.until));
    if args.summary {
        eprint!("{}", summary(engine.metrics(), engine.timer_steps()));
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
fn run_quietly(program: &siyu::Program, events: &str, until: Option<i64>) -> Vec<siyu::Action> {
    let mut engine = Engine::new(program);
    let mut out = Vec::new();
    for line in events.lines() {
        out.extend(engine.replay_line(line).unwrap_or_default());
    }
    out.extend(engine.replay_end(until));
    out
}

/// The metrics' table, and the customer steps timers took (beside one per
/// event, what a replay's cost is made of).
fn summary(m: &Metrics, timer_steps: u64) -> String {
    let width = m
        .rules
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = format!(
        "{:<width$} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>8}\n",
        "rule",
        "triggered",
        "fired",
        "guard",
        "limit",
        "cap",
        "deferred",
        "dropped",
        "snapped",
        "held out"
    );
    for (name, r) in &m.rules {
        s.push_str(&format!(
            "{name:<width$} {:>9} {:>7} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7} {:>8}\n",
            r.triggered,
            r.fired,
            r.guard_false,
            r.suppressed_limit,
            r.suppressed_cap,
            r.deferred_quiet,
            r.dropped_quiet,
            r.snapped,
            r.held_out
        ));
    }
    for (name, r) in &m.rules {
        if r.groups.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "\nexperiment {name}: goal conversions (two-proportion z-test, alpha = 0.05)\n"
        ));
        s.push_str(&format!(
            "  {:<10} {:>8} {:>9} {:>7} {:>8}\n",
            "group", "assigned", "converted", "rate", "p-value"
        ));
        for row in r.goal_report() {
            let p = row.p_value.map_or("-".to_string(), |p| format!("{p:.4}"));
            let verdict = match row.p_value {
                Some(p) if p < 0.05 => "  significant",
                _ => "",
            };
            s.push_str(&format!(
                "  {:<10} {:>8} {:>9} {:>6.1}% {:>8}{verdict}\n",
                row.group,
                row.assigned,
                row.converted,
                100.0 * row.rate,
                p
            ));
        }
    }
    s.push_str(&format!(
        "\nevents {}  duplicates {}  rejected {}  ignored {}  faults {}  shortfalls {}  timer steps {}\n",
        m.events, m.duplicates, m.rejected, m.ignored, m.faults, m.shortfalls, timer_steps
    ));
    s
}
