//! `siyu report`: the 复盘 of a replay — what an SOP did (or would do), in
//! one self-contained HTML page or the same figures as JSON.

mod build;
mod collect;
mod html;

use crate::input::{self, FAILED, Hooks};
use collect::{Collector, DAY};
use siyu::{Engine, Instant, Sink};
use std::path::PathBuf;

/// What `siyu report` was asked.
#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub run: input::Run,
    /// Where to write the report (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Compare with this program replayed over the same events.
    #[arg(long, value_name = "OLD.siyu")]
    pub baseline: Option<PathBuf>,
    /// `html` (one self-contained page) or `json` (the same figures).
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// The page's language.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: Lang,
}

/// The report's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One HTML file with its charts, working offline.
    Html,
    /// The figures, for a team's own dashboards.
    Json,
}

/// The language of the page's words (figures and names are as they are).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// English.
    En,
    /// 中文.
    Zh,
}

/// The collector with its daily look at the population.
struct Daily<'p> {
    collector: Collector<'p>,
    /// The next day end to look at, once the clock passes it.
    next: Option<i64>,
}

impl Sink for Daily<'_> {
    fn action(&mut self, a: siyu::ActionRef<'_>) {
        self.collector.action(a);
    }

    fn observer(&mut self) -> Option<&mut dyn siyu::Observer> {
        self.collector.observer()
    }
}

impl Hooks for Daily<'_> {
    /// Before a line stamped on a later day than the clock, the engine is
    /// advanced to each day's last second in between and looked at: the
    /// same timers fire, in the same order, as when the line itself moves
    /// the clock (it fires every timer due before its time).
    fn before_line(&mut self, engine: &mut Engine, at: Option<Instant>) {
        let Some(t) = at.map(Instant::unix) else {
            return;
        };
        if engine.clock().is_none() {
            self.next = Some(t.div_euclid(DAY) * DAY + DAY - 1);
            return;
        }
        self.days_before(engine, t);
    }

    /// `--until` past the last line: the days up to it are looked at too.
    fn before_end(&mut self, engine: &mut Engine, until: Option<Instant>) {
        if let Some(t) = until {
            self.days_before(engine, t.unix());
        }
    }
}

impl Daily<'_> {
    /// Advances to, and looks at, each day's end from the clock up to
    /// (not including) instant `t`.
    fn days_before(&mut self, engine: &mut Engine, t: i64) {
        let Some(clock) = engine.clock().map(Instant::unix) else {
            return;
        };
        while let Some(end) = self.next.filter(|&e| e < t && e >= clock) {
            if let Ok(at) = Instant::from_unix(end) {
                engine.advance_into(at, self);
            }
            self.collector.sample(engine, end);
            self.next = Some(end + DAY);
        }
    }
}

/// A replay with everything the report counts.
fn collect(program: &siyu::Program, o: &Options) -> Result<(collect::Collected, Engine), String> {
    let mut daily = Daily {
        collector: Collector::new(program),
        next: None,
    };
    let replayed = input::replay(program, &o.run.events, o.run.until, &mut daily)?;
    let engine = replayed.engine;
    if let Some(end) = engine.clock().map(Instant::unix) {
        daily.collector.sample(&engine, end);
    }
    Ok((daily.collector.c, engine))
}

/// Exit code 0 written, 2 a program does not compile or a file cannot be
/// read or written.
pub fn run(o: Options) -> u8 {
    let Some(program) = input::load(&o.run.rules) else {
        return FAILED;
    };
    let (collected, engine) = match collect(&program, &o) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let baseline = match &o.baseline {
        None => None,
        Some(path) => {
            if o.run.events == std::path::Path::new("-") {
                eprintln!("error: --baseline reads the events twice: give a file, not `-`");
                return FAILED;
            }
            let Some(old) = input::load(path) else {
                return FAILED;
            };
            match collect(&old, &o) {
                Ok((c, _)) => Some((path.display().to_string(), c)),
                Err(e) => {
                    eprintln!("error: {e}");
                    return FAILED;
                }
            }
        }
    };
    let report = build::report(
        &program,
        &o.run.rules.display().to_string(),
        &o.run.events.display().to_string(),
        &collected,
        &engine,
        baseline.as_ref().map(|(name, c)| (name.as_str(), c)),
    );
    let text = match o.format {
        ReportFormat::Json => match serde_json::to_string_pretty(&report) {
            Ok(t) => t + "\n",
            Err(e) => {
                eprintln!("error: {e}");
                return FAILED;
            }
        },
        ReportFormat::Html => match html::render(&report, o.lang) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return FAILED;
            }
        },
    };
    let written = match &o.output {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot write: {e}"))
        }
    };
    match written {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}
