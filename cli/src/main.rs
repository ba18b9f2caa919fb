//! `siyu`: check, format, replay and explain customer-operations SOPs
//! written in the siyu language.
//!
//! Exit codes are the same for every subcommand, so scripts can trust
//! them: 0 success; 1 the command ran and found something the caller asked
//! to fail on (`check --deny-warnings`, `fmt --check`, `replay --strict`);
//! 2 it could not do its job (a program that does not compile, a file that
//! cannot be read, a bad argument).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

mod check;
mod codes;
mod explain;
mod fmt;
mod input;
mod next;
mod replay;
mod report;

// A replay allocates and frees small blocks at every step; mimalloc's
// per-size free lists take about a quarter off the time glibc's malloc
// takes (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "siyu",
    version,
    about = "Customer-operations SOPs as code: check, format, replay and explain siyu programs",
    long_about = "Customer-operations SOPs as code: check, format, replay and explain siyu \
                  programs.\n\nExit codes: 0 success; 1 the command found what you asked it \
                  to fail on (--deny-warnings, --check, --strict); 2 it could not do its job \
                  (a compile error, an unreadable file, a bad argument).",
    after_help = "Start here:\n  siyu check rules.siyu\n  siyu replay rules.siyu events.jsonl --summary\n  siyu explain rules.siyu events.jsonl c42 welcome"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How a command prints what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people: rendered, coloured on a terminal.
    Human,
    /// One JSON object per line, for scripts and editors.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Compile programs and report every error and warning.
    #[command(after_help = "Example:\n  siyu check rules.siyu\n  \
        siyu check --format json --deny-warnings rules/*.siyu\n\n\
        Exit code: 0 clean (or warnings only); 1 warnings with --deny-warnings; 2 errors.\n\
        Colour on a terminal; plain when piped or with NO_COLOR set.")]
    Check {
        /// Programs to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `human` (rendered) or `json` (one object per diagnostic).
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Exit 1 when there are warnings.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Rewrite programs in canonical form, keeping every comment.
    #[command(
        after_help = "Example:\n  siyu fmt rules.siyu          # rewrite in place\n  \
        siyu fmt --check rules.siyu  # exit 1 and show a diff if not formatted\n  \
        cat rules.siyu | siyu fmt -  # format standard input to standard output"
    )]
    Fmt {
        /// Programs to format (`-`: standard input to standard output).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Change nothing: exit 1 and print a diff when a file is not formatted.
        #[arg(long)]
        check: bool,
    },
    /// Replay events through a program and write every action as a JSON line.
    #[command(
        after_help = "Example:\n  siyu replay rules.siyu events.jsonl > actions.jsonl\n  \
        siyu replay rules.siyu events.jsonl --summary --until 2027-01-01T00:00:00Z\n  \
        siyu replay rules.siyu events.jsonl --diff new_rules.siyu\n  \
        kafkacat -C -t events | siyu replay rules.siyu -\n\n\
        Events are one JSON object per line; a line {\"advance\": TIME} moves the clock.\n\
        Bad lines are reported on stderr with their number and skipped. A progress bar\n\
        shows on stderr when it is a terminal."
    )]
    Replay(replay::Options),
    /// Replay, then show a customer's timeline for a rule: every trigger, guard,
    /// cancellation, suppression and firing, and when it can fire next.
    #[command(
        after_help = "Example:\n  siyu explain rules.siyu events.jsonl c42 welcome_d7\n  \
        siyu explain rules.siyu events.jsonl c42            # every rule\n  \
        siyu explain rules.siyu events.jsonl c42 welcome --format json"
    )]
    Explain(explain::Options),
    /// Replay, then list each customer's next scheduled firing, soonest first.
    #[command(
        after_help = "Example:\n  siyu next rules.siyu events.jsonl --limit 20\n  \
        siyu next rules.siyu events.jsonl --customer c42"
    )]
    Next(next::Options),
    /// Replay, then write the 复盘 report: what the SOP did — reach, funnels,
    /// sends over time, touch pressure, populations, stage moves,
    /// experiments, points — as one offline HTML page or JSON.
    #[command(
        after_help = "Example:\n  siyu report rules.siyu events.jsonl -o report.html\n  \
        siyu report rules.siyu events.jsonl --baseline old.siyu -o whatif.html\n  \
        siyu report rules.siyu events.jsonl --format json --lang zh > report.json\n\n\
        The page needs no network: its charts (Apache ECharts) are inlined."
    )]
    Report(report::Options),
    /// Explain a diagnostic code (as printed by `siyu check`).
    #[command(after_help = "Example:\n  siyu explain-code E0201\n  siyu explain-code --list")]
    ExplainCode {
        /// The code, such as E0201 or W0301.
        #[arg(required_unless_present = "list")]
        code: Option<String>,
        /// List every code with its title.
        #[arg(long)]
        list: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  siyu completions bash > /etc/bash_completion.d/siyu\n  \
        siyu completions zsh > \"${fpath[1]}/_siyu\"\n  \
        siyu completions fish > ~/.config/fish/completions/siyu.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check {
            files,
            format,
            deny_warnings,
        } => check::run(&files, format, deny_warnings),
        Command::Fmt { files, check } => fmt::run(&files, check),
        Command::Replay(o) => replay::run(o),
        Command::Explain(o) => explain::run(o),
        Command::Next(o) => next::run(o),
        Command::Report(o) => report::run(o),
        Command::ExplainCode { code, list } => codes::run(code.as_deref(), list),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "siyu", &mut std::io::stdout());
            0
        }
    };
    ExitCode::from(code)
}
