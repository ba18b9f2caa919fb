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
}

const USAGE: &str = "usage: replay RULES.siyu EVENTS.jsonl [--until TIME] [--summary]";

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut until = None;
    let mut summary = false;
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
    let source = match std::fs::read(&args.rules) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.rules);
            return ExitCode::from(2);
        }
    };
    let program = match siyu::compile_bytes(&source, &siyu::Limits::default()) {
        Ok(p) => p,
        Err(e) => {
            eprint!("{}", e.render(&args.rules));
            return ExitCode::from(2);
        }
    };
    if !program.warnings().is_empty() {
        eprint!("{}", program.render_warnings(&args.rules));
    }
    let events = match std::fs::read_to_string(&args.events) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read {}: {e}", args.events);
            return ExitCode::from(2);
        }
    };
    let mut engine = Engine::new(&program);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let progress = std::io::stderr().is_terminal();
    let mut write = |actions: Vec<siyu::Action>| {
        for a in actions {
            // A closed stdout (e.g. piped into `head`) ends the output.
            let _ = writeln!(out, "{}", a.to_json());
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
        eprint!("{}", summary(engine.metrics()));
    }
    ExitCode::SUCCESS
}

fn summary(m: &Metrics) -> String {
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
        "\nevents {}  duplicates {}  rejected {}  ignored {}  faults {}  shortfalls {}\n",
        m.events, m.duplicates, m.rejected, m.ignored, m.faults, m.shortfalls
    ));
    s
}
