//! siyu scaled out over Redis Streams: a single Redis or a Redis Cluster.
//!
//! ```text
//! siyu-workers produce EVENTS.jsonl      # shard the input into the streams
//! siyu-workers work RULES.siyu           # run a worker (as many as you like)
//! siyu-workers status                    # owner, lag and rate of each shard
//! ```
//!
//! Events go by `fnv1a64(customer) % SHARDS` to one stream per shard;
//! broadcasts and `{"advance": …}` lines to every shard. A shard is served
//! by one worker at a time (a lease), in stream order, from an engine the
//! worker keeps in memory; each batch's actions, position and — every so
//! often — a checkpoint of the engine are committed by one script on the
//! shard's slot (see `work.rs`). Keys are laid out in `store.rs`.

mod produce;
mod status;
mod store;
mod work;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Redis could not be reached.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Redis refused or failed a request.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A file could not be read.
    #[error("{0}: {1}")]
    File(PathBuf, std::io::Error),
    /// The input could not be read.
    #[error("reading the input: {0}")]
    Input(std::io::Error),
    /// A signal handler could not be installed.
    #[error("installing the SIGTERM handler: {0}")]
    Signal(std::io::Error),
    /// The rules do not compile.
    #[error("{0}")]
    Compile(String),
    /// A shard's checkpoint does not restore (taken under other rules?).
    #[error("shard {0}: the checkpoint does not restore: {1}")]
    Checkpoint(u64, siyu::SnapshotError),
    /// The command was given another shard count than the deployment's.
    #[error(
        "--shards {given}, but this deployment has {recorded} shards (key siyu:shards): \
         every command of a deployment needs the same count"
    )]
    Shards {
        /// The count given.
        given: u64,
        /// The count in Redis.
        recorded: u64,
    },
    /// A shard's keys contradict each other.
    #[error("shard {0}: {1}")]
    Corrupt(u64, String),
}

/// siyu scaled out: workers over Redis Streams, keyed by customer.
///
/// Every setting can also be given by the environment variable shown.
#[derive(Parser, Debug)]
#[command(version, after_help = EXAMPLE)]
struct Cli {
    /// A Redis node; on a cluster node, the whole cluster is used.
    #[arg(
        long,
        global = true,
        env = "SIYU_REDIS_URL",
        default_value = "redis://127.0.0.1:6379/"
    )]
    redis: String,

    /// Shards (streams): the most workers that can share the load. Every
    /// command of one deployment must be given the same number.
    #[arg(long, global = true, env = "SIYU_SHARDS", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=16_384))]
    shards: u64,

    #[command(subcommand)]
    command: Command,
}

const EXAMPLE: &str = "\
Example:
  siyu-workers --redis redis://127.0.0.1:6379/ --shards 4 produce examples/sop/events.jsonl
  siyu-workers --shards 4 work examples/sop/sop.siyu --name w1 &
  siyu-workers --shards 4 work examples/sop/sop.siyu --name w2 &
  siyu-workers --shards 4 status
  redis-cli LRANGE 'siyu:{0}:actions' 0 -1    # shard 0's actions";

#[derive(Subcommand, Debug)]
enum Command {
    /// Shards an event file (one JSON object per line; `-` = stdin) into
    /// the streams.
    Produce {
        /// The events, as `replay` reads them.
        events: PathBuf,
        /// Do not end with an advance of every shard to the latest instant
        /// seen (`replay` ends that way; a live feed does not end).
        #[arg(long)]
        open: bool,
    },
    /// Serves shards until stopped (SIGTERM or SIGINT: the batch in hand
    /// is committed, each shard checkpointed and released).
    Work {
        /// The rules.
        rules: PathBuf,
        /// This worker's name, unique among live workers [default:
        /// HOSTNAME-PID].
        #[arg(long, env = "SIYU_WORKER_NAME")]
        name: Option<String>,
        /// Stream entries applied and committed at once, at most.
        #[arg(long, env = "SIYU_BATCH", default_value_t = 1_000,
              value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch: u64,
        /// Milliseconds a lease lives without renewal: how long a dead
        /// worker's shards wait for a new owner.
        #[arg(long, env = "SIYU_LEASE_MS", default_value_t = 2_000,
              value_parser = clap::value_parser!(u64).range(100..))]
        lease_ms: u64,
        /// Entries between checkpoints of a shard: the most a take-over
        /// re-applies.
        #[arg(long, env = "SIYU_CHECKPOINT_EVERY", default_value_t = 50_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        checkpoint_every: u64,
        /// Seconds between metrics lines on stderr (entries, entries/s,
        /// actions, lag by shard); 0: none.
        #[arg(long, env = "SIYU_METRICS_EVERY", default_value_t = 10)]
        metrics_every: u64,
        /// Testing only: exit abruptly after applying this many entries,
        /// without committing the batch or releasing a lease.
        #[arg(long, env = "SIYU_CRASH_AFTER", hide = true)]
        crash_after: Option<u64>,
    },
    /// Prints each shard's worker, committed entries, lag, rate, actions
    /// and entries since its checkpoint.
    Status {
        /// Seconds between the two readings the rate is taken from; 0: no
        /// rate, one reading.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
        /// One JSON object per shard.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("siyu-workers: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let mut con = store::connect(&cli.redis)?;
    store::agree_on_shards(&mut con, cli.shards)?;
    match cli.command {
        Command::Produce { events, open } => {
            let done = if events.as_os_str() == "-" {
                produce::produce(&mut con, cli.shards, std::io::stdin().lock(), open)?
            } else {
                let file =
                    std::fs::File::open(&events).map_err(|e| Error::File(events.clone(), e))?;
                produce::produce(&mut con, cli.shards, std::io::BufReader::new(file), open)?
            };
            eprintln!(
                "siyu-workers: {} lines into {} shards ({} entries)",
                done.lines, cli.shards, done.entries
            );
            Ok(())
        }
        Command::Work {
            rules,
            name,
            batch,
            lease_ms,
            checkpoint_every,
            metrics_every,
            crash_after,
        } => {
            let source =
                std::fs::read_to_string(&rules).map_err(|e| Error::File(rules.clone(), e))?;
            let program = siyu::compile(&source)
                .map_err(|e| Error::Compile(e.render(&rules.display().to_string())))?;
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(Error::Signal)?;
            }
            let settings = work::Settings {
                name: name.unwrap_or_else(default_name),
                batch: batch as usize,
                lease: Duration::from_millis(lease_ms),
                checkpoint_every,
                metrics_every: (metrics_every > 0).then(|| Duration::from_secs(metrics_every)),
                crash_after,
            };
            work::Worker::new(con, (&source, &program), cli.shards, settings).run(&stop)
        }
        Command::Status { interval, json } => {
            let interval = (interval > 0.0).then(|| Duration::from_secs_f64(interval));
            status::status(&mut con, cli.shards, interval, json)
        }
    }
}

/// HOSTNAME-PID: unique among workers without being told.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| h.lines().next().map(str::to_string))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}
