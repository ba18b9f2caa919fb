//! `siyu replay`: events through a program, actions out as JSON lines.

use crate::input::{self, FAILED, Only};
use siyu::ActionRef;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `siyu replay` was asked.
#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub run: input::Run,
    /// Print the per-rule counters and experiment results to stderr.
    #[arg(long)]
    pub summary: bool,
    /// Replay the same events through another program and report per rule what changes.
    #[arg(long, value_name = "OTHER.siyu")]
    pub diff: Option<PathBuf>,
    /// Exit 1 when any line was rejected.
    #[arg(long)]
    pub strict: bool,
}

/// Exit code 0 replayed, 1 lines were rejected under `strict`, 2 the
/// program does not compile or a file cannot be read.
pub fn run(o: Options) -> u8 {
    let Some(program) = input::load(&o.run.rules) else {
        return FAILED;
    };
    if let Some(other) = &o.diff {
        return diff(&o, &program, other);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    // A closed stdout (piped into `head`) ends the output, not the replay.
    let mut write = |a: ActionRef<'_>| {
        buf.clear();
        a.write_json_line(&mut buf);
        let _ = out.write_all(&buf);
    };
    let replayed = match input::replay(&program, &o.run.events, o.run.until, &mut Only(&mut write))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return FAILED;
        }
    };
    let _ = out.flush();
    if o.summary {
        eprint!("{}", replayed.engine.summary());
    }
    if o.strict && replayed.rejected > 0 {
        eprintln!(
            "error: {} line{} rejected (--strict)",
            replayed.rejected,
            if replayed.rejected == 1 { "" } else { "s" }
        );
        return 1;
    }
    0
}

/// `--diff`: the same events through both programs, the changes per rule.
fn diff(o: &Options, program: &siyu::Program, other_path: &Path) -> u8 {
    let Some(other) = input::load(other_path) else {
        return FAILED;
    };
    if o.run.events.as_path() == Path::new("-") {
        eprintln!("error: --diff reads the events twice: give a file, not `-`");
        return FAILED;
    }
    let mut a = Vec::new();
    let mut b = Vec::new();
    let runs = [
        input::replay(program, &o.run.events, o.run.until, &mut Only(&mut a)),
        input::replay(&other, &o.run.events, o.run.until, &mut Only(&mut b)),
    ];
    for r in runs {
        if let Err(e) = r {
            eprintln!("error: {e}");
            return FAILED;
        }
    }
    let diffs = siyu::engine::diff::compare(&a, &b);
    print!(
        "{}",
        siyu::engine::diff::render(
            &diffs,
            &o.run.rules.display().to_string(),
            &other_path.display().to_string()
        )
    );
    0
}
