//! `siyu next`: after a replay, what each customer has scheduled.

use crate::Format;
use crate::input::{self, FAILED};
use siyu::Instant;

/// What `siyu next` was asked.
#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub run: input::Run,
    /// Only this customer (every scheduled firing of theirs).
    #[arg(long)]
    pub customer: Option<String>,
    /// At most this many lines.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// `human` (a table) or `json`.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// One line of the answer.
#[derive(serde::Serialize)]
struct Row<'a> {
    at: Instant,
    customer: &'a str,
    rule: &'a str,
    reason: siyu::engine::state::Reason,
}

/// Exit code 0 answered (a customer unknown to the replay is an empty
/// answer, said on stderr), 2 the program does not compile or a file
/// cannot be read.
pub fn run(o: Options) -> u8 {
    let Some(program) = input::load(&o.run.rules) else {
        return FAILED;
    };
    let replayed = match input::replay(
        &program,
        &o.run.events,
        o.run.until,
        &mut input::Only(&mut |_: siyu::ActionRef<'_>| {}),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let engine = &replayed.engine;
    let mut rows: Vec<Row<'_>> = Vec::new();
    match &o.customer {
        Some(c) => match engine.customer(c) {
            Some(st) => rows.extend(st.scheduled(&program).into_iter().map(|s| Row {
                at: s.at,
                customer: st.id(),
                rule: s.rule,
                reason: s.reason,
            })),
            None => eprintln!("note: `{c}` is not a customer of this replay"),
        },
        None => {
            // Each customer's soonest, then all of them soonest first.
            for id in engine.customers() {
                let Some(st) = engine.customer(id) else {
                    continue;
                };
                if let Some(s) = st.scheduled(&program).into_iter().next() {
                    rows.push(Row {
                        at: s.at,
                        customer: st.id(),
                        rule: s.rule,
                        reason: s.reason,
                    });
                }
            }
        }
    }
    rows.sort_by(|a, b| (a.at, a.customer).cmp(&(b.at, b.customer)));
    rows.truncate(o.limit);
    match o.format {
        Format::Json => {
            for r in &rows {
                match serde_json::to_string(r) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return FAILED;
                    }
                }
            }
        }
        Format::Human => {
            let clock = engine
                .clock()
                .map_or_else(|| "-".to_string(), |c| c.to_string());
            println!("after the replay (clock {clock}):");
            let width = rows
                .iter()
                .map(|r| r.customer.chars().count())
                .max()
                .unwrap_or(8)
                .max(8);
            println!(
                "{:<20}  {:<width$}  {:<20}  why",
                "when", "customer", "rule"
            );
            for r in &rows {
                let why = match r.reason {
                    siyu::engine::state::Reason::Delay => "delay",
                    siyu::engine::state::Reason::Moved => "moved (at / quiet hours)",
                    siyu::engine::state::Reason::Silence => "silence ends",
                    siyu::engine::state::Reason::Calendar => "calendar",
                    _ => "scheduled",
                };
                println!(
                    "{:<20}  {:<width$}  {:<20}  {why}",
                    r.at.to_string(),
                    r.customer,
                    r.rule
                );
            }
            if rows.is_empty() {
                println!("nothing scheduled");
            }
        }
    }
    0
}
