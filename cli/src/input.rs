//! What every subcommand that runs a program shares: compiling it with its
//! diagnostics shown, and replaying an event file through an engine with a
//! progress bar on a terminal, bad lines reported and undeclared event
//! types named.

use indexmap::IndexMap;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use siyu::engine::{LineError, ReplayHooks};
use siyu::{Engine, Instant, Program, Sink};
use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant as Clock};

/// What every command that replays is given: a program, events, and
/// where to stop.
#[derive(clap::Args)]
pub struct Run {
    /// The program.
    pub rules: PathBuf,
    /// Events, one JSON object per line (`-`: standard input).
    pub events: PathBuf,
    /// Advance to this instant at the end (RFC 3339), instead of the latest seen.
    #[arg(long, value_parser = parse_instant)]
    pub until: Option<Instant>,
}

fn parse_instant(s: &str) -> Result<Instant, String> {
    Instant::parse(s).map_err(|e| e.to_string())
}

/// Exit code when the command could not do its job.
pub const FAILED: u8 = 2;

/// Reads a file, or standard input for `-`.
pub fn read(path: &Path) -> Result<String, String> {
    let mut bytes = Vec::new();
    let result = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        File::open(path).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{} is not UTF-8 (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Writes `text` to standard error, coloured only on a terminal (and
/// never with `NO_COLOR` set).
pub fn eprint_styled(text: &str) {
    let mut err = anstream::stderr();
    let _ = err.write_all(text.as_bytes());
}

/// Compiles the program at `path`, printing its warnings (or errors) to
/// standard error; `None` when it does not compile or cannot be read.
pub fn load(path: &Path) -> Option<Program> {
    let source = match read(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    let name = path.display().to_string();
    match siyu::compile(&source) {
        Ok(p) => {
            for d in p.warnings() {
                eprint_styled(&format!("{}\n", d.render_ansi(&source, &name)));
            }
            Some(p)
        }
        Err(e) => {
            for d in e.diagnostics() {
                eprint_styled(&format!("{}\n", d.render_ansi(&source, &name)));
            }
            None
        }
    }
}

/// An event stream: a file or standard input, with its size when known.
/// `Send`: the replay reads and parses it on a thread of its own.
fn open_events(path: &Path) -> Result<(Box<dyn BufRead + Send>, Option<u64>), String> {
    if path == Path::new("-") {
        return Ok((Box::new(BufReader::new(std::io::stdin())), None));
    }
    let f = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // A pipe or a FIFO reports no length worth an ETA.
    let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 16, f)), size))
}

/// What a replay saw besides its actions.
pub struct Replayed {
    /// The engine, driven to the end.
    pub engine: Engine,
    /// Lines rejected (reported on stderr as they came).
    pub rejected: u64,
}

/// Event types the program does not declare: count and first line.
type Undeclared = IndexMap<String, (u64, u64)>;

/// What takes a replay's actions (and, through its observer, what the
/// engine decides), and what it does around the replay.
pub trait Hooks: Sink {
    /// Sets the engine up before the first line (a trace).
    fn prepare(&mut self, _engine: &mut Engine) {}
    /// Sees the instant each line carries (none for a blank line or one
    /// that is not a valid event or advance) before the engine does, and
    /// may drive the engine first (advance it to a day's end to look at
    /// it), taking the actions that come of it.
    fn before_line(&mut self, _engine: &mut Engine, _at: Option<Instant>) {}
    /// Sees the engine before the replay's end advances it to `until`.
    fn before_end(&mut self, _engine: &mut Engine, _until: Option<Instant>) {}
}

/// A sink with no hooks.
pub struct Only<'a>(pub &'a mut dyn Sink);

impl Sink for Only<'_> {
    fn action(&mut self, a: siyu::ActionRef<'_>) {
        self.0.action(a);
    }

    fn observer(&mut self) -> Option<&mut dyn siyu::Observer> {
        self.0.observer()
    }
}

impl Hooks for Only<'_> {}

/// A replay's lines as the command shows them: the actions counted on
/// their way to the command's hooks, bad lines reported with their
/// number, undeclared event types gathered, the progress bar moved.
struct Lines<'a> {
    run: &'a mut dyn Hooks,
    /// Actions the replay emitted (not those of the hooks' own looks).
    actions: u64,
    progress: &'a Progress,
    name: &'a str,
    undeclared: Undeclared,
    rejected: u64,
}

impl Sink for Lines<'_> {
    fn action(&mut self, a: siyu::ActionRef<'_>) {
        self.actions += 1;
        self.run.action(a);
    }

    fn observer(&mut self) -> Option<&mut dyn siyu::Observer> {
        self.run.observer()
    }
}

impl ReplayHooks for Lines<'_> {
    fn before_line(&mut self, engine: &mut Engine, _n: u64, at: Option<Instant>) {
        self.run.before_line(engine, at);
    }

    fn bad(&mut self, n: u64, error: LineError) {
        self.rejected += 1;
        let name = self.name;
        self.progress.suspend(|| eprintln!("{name}:{n}: {error}"));
    }

    fn undeclared(&mut self, n: u64, kind: &str) {
        self.undeclared.entry(kind.into()).or_insert((0, n)).0 += 1;
    }

    fn progress(&mut self, engine: &Engine, bytes: u64, lines: u64) {
        self.progress
            .update(bytes, lines, engine.len(), self.actions);
    }
}

/// Replays `events` through `program`, each action to `run` (and what
/// the engine decides to its observer, if it has one), with its hooks
/// around. The events are read and parsed on a second thread while this
/// one applies them (`Engine::replay_with`). A progress bar shows on a
/// terminal; bad lines are reported with their number; each event type
/// the program does not declare is named once at the end, with its count
/// and first line.
pub fn replay(
    program: &Program,
    events: &Path,
    until: Option<Instant>,
    run: &mut dyn Hooks,
) -> Result<Replayed, String> {
    let (input, size) = open_events(events)?;
    let mut engine = Engine::new(program);
    run.prepare(&mut engine);
    let progress = Progress::new(size);
    let name = events.display().to_string();
    let mut lines = Lines {
        run,
        actions: 0,
        progress: &progress,
        name: &name,
        undeclared: IndexMap::new(),
        rejected: 0,
    };
    engine
        .replay_with(input, &mut lines)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let Lines {
        run,
        undeclared,
        rejected,
        ..
    } = lines;
    run.before_end(&mut engine, until);
    engine.replay_end_into(until, &mut Only(run));
    progress.finish();
    for (kind, (count, first)) in &undeclared {
        eprint_styled(&format!(
            "\x1b[1;33mnote\x1b[0m: event type `{kind}` is not declared by the program: {count} line{} ignored, the first at {name}:{first}\n",
            if *count == 1 { "" } else { "s" }
        ));
    }
    Ok(Replayed { engine, rejected })
}

/// The progress bar: on standard error when it is a terminal, never
/// otherwise (a pipe or a file gets only the lines reported).
struct Progress {
    bar: Option<ProgressBar>,
    started: Clock,
}

impl Progress {
    fn new(size: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match size {
                Some(len) => {
                    ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10))
                        .with_style(
                            ProgressStyle::with_template("{bar:30} {percent:>3}% {msg}  ETA {eta}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        )
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
                    .with_style(
                        ProgressStyle::with_template("{spinner} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
            };
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            started: Clock::now(),
        }
    }

    fn update(&self, read: u64, lines: u64, customers: usize, actions: u64) {
        let Some(bar) = &self.bar else { return };
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        bar.set_position(read);
        bar.set_message(format!(
            "{:.0} events/s, {customers} customers, {actions} actions",
            lines as f64 / secs
        ));
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
