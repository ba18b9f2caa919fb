//! `siyu explain`: a customer's timeline for a rule, and why it would or
//! would not fire now.

use crate::Format;
use crate::input::{self, FAILED};
use siyu::{Decision, Explanation, What};

/// What `siyu explain` was asked.
#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub run: input::Run,
    /// The customer id.
    pub customer: String,
    /// The rule (every rule when omitted).
    pub rule: Option<String>,
    /// `human` (a table) or `json`.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Decisions kept per customer (the oldest leave first).
    #[arg(long, default_value_t = 1000)]
    pub keep: usize,
}

/// Exit code 0 explained, 2 the program does not compile, a file cannot
/// be read, or the customer or rule is unknown.
pub fn run(o: Options) -> u8 {
    let Some(program) = input::load(&o.run.rules) else {
        return FAILED;
    };
    if let Some(r) = &o.rule {
        if !program.rules().any(|x| x == r) {
            let names: Vec<&str> = program.rules().collect();
            let hint = siyu::diagnostic::did_you_mean(r, names.iter().copied())
                .map(|m| format!(" (did you mean `{m}`?)"))
                .unwrap_or_default();
            eprintln!("error: the program has no rule `{r}`{hint}");
            return FAILED;
        }
    }
    let customer = o.customer.as_str();
    let replayed = match input::replay(
        &program,
        &o.run.events,
        o.run.until,
        &mut Follow(customer, o.keep),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let engine = &replayed.engine;
    if engine.customer(customer).is_none() {
        eprintln!("error: `{customer}` is not a customer of this replay");
        return FAILED;
    }
    let rules: Vec<&str> = match &o.rule {
        Some(r) => vec![r.as_str()],
        None => program.rules().collect(),
    };
    let mut explanations = Vec::new();
    for r in rules {
        match engine.explain(customer, r) {
            Ok(e) => explanations.push(e),
            Err(e) => {
                eprintln!("error: {e}");
                return FAILED;
            }
        }
    }
    match o.format {
        Format::Json => {
            for e in &explanations {
                println!("{}", e.to_json());
            }
        }
        Format::Human => {
            for (i, e) in explanations.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                print!("{}", human(e));
            }
        }
    }
    0
}

/// One rule's explanation as a person reads it: the timeline, then now.
fn human(e: &Explanation) -> String {
    let mut s = format!("rule {} for customer {}\n", e.rule, e.customer);
    if e.history.is_empty() {
        s.push_str("  nothing was decided about it\n");
    }
    for d in &e.history {
        s.push_str(&format!("  {}  {}\n", d.at, decision(d)));
    }
    let now = e.at.map_or_else(|| "-".to_string(), |t| t.to_string());
    s.push_str(&format!("now ({now}):\n"));
    match (e.blocked_by.is_empty(), &e.next_fire) {
        (false, _) => s.push_str(&format!("  blocked by {}\n", e.blocked_by.join(", "))),
        (true, Some(_)) => s.push_str("  nothing blocks it\n"),
        (true, None) => {}
    }
    if let Some(t) = e.next_trigger {
        s.push_str(&format!("  its trigger is due {t}\n"));
    }
    if let Some(t) = e.next_fire {
        s.push_str(&format!("  it can fire {t}\n"));
    }
    if let Some(w) = &e.waits_for {
        s.push_str(&format!("  it waits for {w}\n"));
    }
    for c in &e.clauses {
        let mark = if c.blocks { "✗" } else { " " };
        s.push_str(&format!("  {mark} {:<48} {}\n", c.clause, c.now));
    }
    s
}

fn decision(d: &Decision) -> String {
    match &d.what {
        What::Scheduled { due } => format!("scheduled, due {due}"),
        What::Cancelled { due, by } => format!("cancelled ({by}): it was due {due}"),
        What::Judged {
            verdict,
            variant,
            lands,
            cap,
            frees,
            triggered,
        } => {
            let mut s = if *triggered {
                format!("triggered: {verdict}")
            } else {
                format!("judged where it landed: {verdict}")
            };
            if let Some(v) = variant {
                s.push_str(&format!(" (variant {v})"));
            }
            if let Some(c) = cap {
                s.push_str(&format!(" (cap {c})"));
            }
            if let Some(t) = lands {
                s.push_str(&format!(", to be judged {t}"));
            }
            if let Some(t) = frees {
                s.push_str(&format!(", a place frees {t}"));
            }
            s
        }
        _ => "decided".to_string(),
    }
}

/// Traces the one customer explained (its actions are not wanted).
struct Follow<'a>(&'a str, usize);

impl siyu::Sink for Follow<'_> {
    fn action(&mut self, _: siyu::ActionRef<'_>) {}
}

impl input::Hooks for Follow<'_> {
    fn prepare(&mut self, engine: &mut siyu::Engine) {
        engine.trace(Some(&[self.0]), self.1);
    }
}
