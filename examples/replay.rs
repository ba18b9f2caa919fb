//! `replay RULES.siyu EVENTS.jsonl [--until TIME] [--summary]`
//!
//! The command line of HOST.md. Compiles RULES (warnings to stderr; errors
//! to stderr and exit status 2), then reads EVENTS line by line.

use std::process::ExitCode;

struct Args {
    rules: String,
    events: String,
    until: Option<String>,
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
            "--until" => until = Some(args.next().ok_or("--until needs a time")?),
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
    let lines = events.lines().filter(|l| !l.trim().is_empty()).count();
    if args.summary {
        eprintln!(
            "{} rules compiled; {lines} input lines read{}",
            program.symbols().rules.len(),
            args.until
                .map(|u| format!(", until {u}"))
                .unwrap_or_default()
        );
    }
    ExitCode::SUCCESS
}
