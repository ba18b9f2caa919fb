//! Structured programs: the input is decoded (`arbitrary`) into events,
//! segments, a stage, caps and rules over them, rendered as source that is
//! mostly valid, so that compiling reaches the checker, the lints and the
//! lowering rather than stopping at the first syntax error. Accepted
//! programs are printed and compiled again, and replay a few events.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::fmt::Write;

const TYPES: [&str; 6] = ["number", "int", "string", "bool", "date", "time"];
const OPS: [&str; 6] = [">", ">=", "<", "<=", "==", "!="];
const FUNCS: [&str; 5] = ["count", "sum", "min", "max", "avg"];
const UNITS: [&str; 4] = ["s", "m", "h", "d"];

#[derive(Arbitrary, Debug)]
struct Program {
    events: Vec<Vec<u8>>,
    segments: Vec<Cond>,
    stage: Vec<Cond>,
    cap: Option<(u8, u8)>,
    quiet: bool,
    rules: Vec<RuleSpec>,
}

#[derive(Arbitrary, Debug)]
enum Cond {
    Agg { func: u8, event: u8, field: u8, window: Option<(u8, u8)>, op: u8, k: i16 },
    Segment(u8),
    Not(Box<Cond>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Since { op: u8, days: u8 },
}

#[derive(Arbitrary, Debug)]
enum Trigger {
    Event { event: u8, filter: Option<(u8, u8, i16)> },
    No { event: u8, days: u8 },
    After { event: u8, hours: u8, unless: Option<u8> },
    Enters(u8),
    Every { hour: u8 },
}

#[derive(Arbitrary, Debug)]
struct RuleSpec {
    trigger: Trigger,
    guard: Option<Cond>,
    limit: Option<u8>,
    tag: bool,
}

fn pick<'a>(xs: &'a [&'a str], i: u8) -> &'a str {
    xs[usize::from(i) % xs.len()]
}

impl Program {
    fn n_events(&self) -> usize {
        self.events.len().clamp(1, 6)
    }

    fn event(&self, i: u8) -> String {
        format!("e{}", usize::from(i) % self.n_events())
    }

    fn cond(&self, c: &Cond, depth: usize, out: &mut String) {
        if depth > 6 {
            out.push_str("true");
            return;
        }
        match c {
            Cond::Agg { func, event, field, window, op, k } => {
                let func = pick(&FUNCS, *func);
                let _ = write!(out, "{func}({}", self.event(*event));
                if func != "count" {
                    let _ = write!(out, ".f{}", field % 3);
                }
                if let Some((n, unit)) = window {
                    let _ = write!(out, " in {}{}", 1 + n % 90, pick(&UNITS, *unit));
                }
                let _ = write!(out, ") {} {k}", pick(&OPS, *op));
            }
            Cond::Segment(s) if !self.segments.is_empty() => {
                let _ = write!(out, "s{}", usize::from(*s) % self.segments.len());
            }
            Cond::Segment(_) => out.push_str("false"),
            Cond::Not(a) => {
                out.push_str("not (");
                self.cond(a, depth + 1, out);
                out.push(')');
            }
            Cond::And(a, b) | Cond::Or(a, b) => {
                out.push('(');
                self.cond(a, depth + 1, out);
                out.push_str(if matches!(c, Cond::And(..)) { " and " } else { " or " });
                self.cond(b, depth + 1, out);
                out.push(')');
            }
            Cond::Since { op, days } => {
                let _ = write!(out, "since(first_seen) {} {}d", pick(&OPS, *op), days);
            }
        }
    }

    fn render(&self) -> String {
        let mut s = String::new();
        for i in 0..self.n_events() {
            let types = self.events.get(i).map_or(&[][..], |t| &t[..]);
            let fields: Vec<String> = (0..3)
                .map(|f| format!("f{f}: {}", pick(&TYPES, types.get(f).copied().unwrap_or(0))))
                .collect();
            let _ = writeln!(s, "event e{i} {{ {} }}", fields.join(", "));
        }
        s.push_str("profile { city: string }\naction push(content: string) channel wecom\n");
        if let Some((n, d)) = self.cap {
            let _ = writeln!(s, "cap wecom: {} per {}d", 1 + n % 9, 1 + d % 30);
        }
        if self.quiet {
            s.push_str("quiet 22:00-08:00 defer\n");
        }
        for (i, c) in self.segments.iter().take(20).enumerate() {
            let _ = write!(s, "segment s{i} = ");
            self.cond(c, 0, &mut s);
            s.push('\n');
        }
        if !self.stage.is_empty() {
            s.push_str("stage st {\n");
            for (i, c) in self.stage.iter().take(10).enumerate() {
                let _ = write!(s, "  l{i} when ");
                self.cond(c, 0, &mut s);
                s.push('\n');
            }
            s.push_str("  rest otherwise\n}\n");
        }
        for (i, r) in self.rules.iter().take(20).enumerate() {
            let _ = write!(s, "rule r{i} {{ when ");
            match &r.trigger {
                Trigger::Event { event, filter } => {
                    s.push_str(&self.event(*event));
                    if let Some((f, op, k)) = filter {
                        let _ = write!(s, " where f{} {} {k}", f % 3, pick(&OPS, *op));
                    }
                }
                Trigger::No { event, days } => {
                    let _ = write!(s, "no {} for {}d", self.event(*event), 1 + days % 90);
                }
                Trigger::After { event, hours, unless } => {
                    let _ = write!(s, "{}h after {}", 1 + hours % 72, self.event(*event));
                    if let Some(u) = unless {
                        let _ = write!(s, " unless {}", self.event(*u));
                    }
                }
                Trigger::Enters(seg) if !self.segments.is_empty() => {
                    let _ = write!(s, "enters s{}", usize::from(*seg) % self.segments.len().min(20));
                }
                Trigger::Enters(_) => s.push_str(&self.event(0)),
                Trigger::Every { hour } => {
                    let _ = write!(s, "every day at {:02}:00", hour % 24);
                }
            }
            if let Some(g) = &r.guard {
                s.push_str(" if ");
                self.cond(g, 0, &mut s);
            }
            let _ = write!(s, " do push(content: \"m{i}\")");
            if r.tag {
                let _ = write!(s, ", add tag \"t{i}\"");
            }
            if let Some(l) = r.limit {
                let _ = write!(s, " limit {} per {}d", 1 + l % 3, 1 + l % 30);
            }
            s.push_str(" }\n");
        }
        s
    }
}

fuzz_target!(|p: Program| {
    let source = p.render();
    match siyu::compile(&source) {
        Ok(program) => {
            let _ = program.render_warnings("fuzz.siyu");
            let printed = siyu::syntax::print(program.module());
            if let Err(e) = siyu::compile(&printed) {
                panic!("printed form rejected:\n{printed}\n{}", e.render("printed"));
            }
            let mut engine = siyu::Engine::new(&program);
            for (i, day) in [1, 2, 40, 200].iter().enumerate() {
                let line = format!(
                    r#"{{"customer": "c{}", "type": "e0", "time": "2026-01-{:02}T10:00:00Z", "data": {{}}}}"#,
                    i % 2,
                    1 + day % 28
                );
                let _ = engine.replay_line(&line);
            }
            let _ = engine.replay_end(siyu::Instant::parse("2026-12-31T00:00:00Z").ok());
        }
        Err(e) => {
            let _ = e.render("fuzz.siyu");
        }
    }
});
