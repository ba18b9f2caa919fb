//! A worker: leases shards, keeps each leased shard's engine in memory, and
//! applies the shard's stream to it in batches.
//!
//! State is local, the stream is the changelog (the Kafka Streams model):
//! a batch of entries is applied to the in-memory engine, then committed
//! by one script on the shard's slot — the actions it emitted, the new
//! position and, every so often, a checkpoint (the engine's snapshot in
//! its versioned binary encoding) — all or nothing, and only while this
//! worker still holds the lease at the position it started from. A worker
//! that takes a shard over restores the checkpoint and re-applies the
//! entries committed since, emitting nothing: the engine is deterministic,
//! so it reaches the state the committed actions came from, and the next
//! batch gives the actions (and ids) the dead worker would have.

use crate::store::{Conn, Keys, Progress, WORKERS};
use siyu::{ActionRef, Engine, Program};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How a worker runs (each has a flag and an environment variable).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The worker's name, unique among live workers.
    pub(crate) name: String,
    /// Stream entries applied and committed at once, at most.
    pub(crate) batch: usize,
    /// How long a lease lives without renewal.
    pub(crate) lease: Duration,
    /// Entries between checkpoints: what a take-over re-applies, at most.
    pub(crate) checkpoint_every: u64,
    /// How often to print a metrics line; `None`: never.
    pub(crate) metrics_every: Option<Duration>,
    /// Testing only: exit abruptly, without committing or releasing
    /// anything, once this many entries have been applied.
    pub(crate) crash_after: Option<u64>,
}

/// Commits a batch if this worker holds the lease and the shard is where
/// the batch started. KEYS: lease, progress, actions, checkpoint, events.
/// ARGV: worker, lease ms, previous entry, last entry, entries, now ms,
/// checkpoint ('1' or '0'), snapshot bytes, the rules' source the snapshot
/// was taken under, then one action per argument. Returns 1, or 0 if the
/// lease is gone, or -1 if the position moved.
const COMMIT: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if (redis.call('HGET', KEYS[2], 'entry') or '0-0') ~= ARGV[3] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for i = 10, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
local entries = redis.call('HINCRBY', KEYS[2], 'entries', ARGV[5])
redis.call('HINCRBY', KEYS[2], 'actions', #ARGV - 9)
redis.call('HSET', KEYS[2], 'entry', ARGV[4], 'worker', ARGV[1], 'at', ARGV[6])
if ARGV[7] == '1' then
  redis.call('SET', KEYS[4], ARGV[8])
  redis.call('HSET', KEYS[2], 'checkpoint', ARGV[4], 'checkpoint_entries', entries, 'rules', ARGV[9])
  redis.call('XTRIM', KEYS[5], 'MINID', ARGV[4])
end
return 1
"#;

/// Renews (ARGV[2] = ms) or, with ARGV[2] = 'release', gives up the lease
/// at KEYS[1], if ARGV[1] holds it. Returns 1 if it did.
const LEASE: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'release' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"#;

/// A stream entry's field: name and value, as bytes.
type Field = (Vec<u8>, Vec<u8>);

/// A shard this worker holds.
struct Served {
    keys: Keys,
    engine: Engine,
    /// The last committed stream entry ("0-0": none yet).
    last: String,
    /// Entries committed since the last checkpoint.
    since_checkpoint: u64,
}

/// What a worker did, for its metrics line.
#[derive(Debug, Default)]
struct Tally {
    entries: u64,
    actions: u64,
    batches: u64,
}

/// A worker's loop and the scripts it calls.
pub(crate) struct Worker<'a> {
    con: Conn,
    program: &'a Program,
    /// The program's source, kept with each checkpoint so that a worker
    /// running other rules can restore it and upgrade.
    source: &'a str,
    shards: u64,
    settings: Settings,
    commit: redis::Script,
    lease: redis::Script,
    served: BTreeMap<u64, Served>,
    tally: Tally,
    applied: u64,
    /// Entries a read may bring: `--batch`, less while batches have had
    /// to be cut short to commit within the lease (see `step`).
    fits: usize,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<'a> Worker<'a> {
    /// A worker for `shards` shards, not yet serving any.
    pub(crate) fn new(
        con: Conn,
        (source, program): (&'a str, &'a Program),
        shards: u64,
        settings: Settings,
    ) -> Self {
        let settings_batch = settings.batch;
        Worker {
            con,
            program,
            source,
            shards,
            settings,
            commit: redis::Script::new(COMMIT),
            lease: redis::Script::new(LEASE),
            served: BTreeMap::new(),
            tally: Tally::default(),
            applied: 0,
            fits: settings_batch,
        }
    }

    /// Serves shards until `stop` is set (SIGTERM, SIGINT): then finishes
    /// the batch in hand, checkpoints and releases each shard, and returns.
    pub(crate) fn run(&mut self, stop: &Arc<AtomicBool>) -> Result<(), crate::Error> {
        let beat = self.settings.lease / 4;
        let mut next_beat = Instant::now();
        let mut next_metrics = self.settings.metrics_every.map(|d| Instant::now() + d);
        let mut window = (Instant::now(), 0u64);
        let mut idle = Duration::from_millis(1);
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() >= next_beat {
                self.heartbeat()?;
                next_beat = Instant::now() + beat;
            }
            let mut busy = false;
            let shards: Vec<u64> = self.served.keys().copied().collect();
            for s in shards {
                busy |= self.step(s)?;
            }
            if let Some(at) = next_metrics.filter(|at| Instant::now() >= *at) {
                let rate = (self.tally.entries - window.1) as f64
                    / window.0.elapsed().as_secs_f64().max(1e-9);
                eprintln!("{}", self.metrics_line(rate)?);
                window = (Instant::now(), self.tally.entries);
                next_metrics = self
                    .settings
                    .metrics_every
                    .map(|d| at.max(Instant::now()) + d);
            }
            if busy {
                idle = Duration::from_millis(1);
            } else {
                std::thread::sleep(idle);
                idle = (idle * 2).min(Duration::from_millis(20));
            }
        }
        let shards: Vec<u64> = self.served.keys().copied().collect();
        for s in shards {
            self.release(s)?;
        }
        let _: i64 = redis::cmd("ZREM")
            .arg(WORKERS)
            .arg(&self.settings.name)
            .query(self.con.as_dyn())?;
        eprintln!(
            "siyu-workers {}: stopped after {} entries in {} batches, {} actions; shards released",
            self.settings.name, self.tally.entries, self.tally.batches, self.tally.actions
        );
        Ok(())
    }

    /// Says this worker is alive, keeps its leases, and moves towards its
    /// fair share of the shards: ⌈shards / live workers⌉, releasing extras
    /// (checkpointed, so the next owner re-applies nothing) and taking
    /// free shards while it has fewer.
    fn heartbeat(&mut self) -> Result<(), crate::Error> {
        let now = now_ms();
        let stale = now.saturating_sub(3 * self.settings.lease.as_millis() as u64);
        let mut add = redis::cmd("ZADD");
        add.arg(WORKERS).arg(now).arg(&self.settings.name);
        let mut forget = redis::cmd("ZREMRANGEBYSCORE");
        forget.arg(WORKERS).arg("-inf").arg(format!("({stale}"));
        let mut count = redis::cmd("ZCARD");
        count.arg(WORKERS);
        let (_, _, live): (u64, u64, u64) = self.con.pipe([add, forget, count])?;
        let fair = self.shards.div_ceil(live.max(1));
        let held: Vec<u64> = self.served.keys().copied().collect();
        for s in held {
            if !self.renew(s)? {
                eprintln!("siyu-workers {}: lost shard {s}", self.settings.name);
                self.served.remove(&s);
            }
        }
        while self.served.len() as u64 > fair {
            let Some(&s) = self.served.keys().next_back() else {
                break;
            };
            self.release(s)?;
        }
        // Start the search at a place of our own so workers starting
        // together do not all reach for shard 0 first.
        let start = siyu::fnv1a64(&self.settings.name) % self.shards;
        for i in 0..self.shards {
            if self.served.len() as u64 >= fair {
                break;
            }
            let s = (start + i) % self.shards;
            if !self.served.contains_key(&s) {
                self.acquire(s)?;
            }
        }
        Ok(())
    }

    /// Renews this worker's lease on shard `s`; false if it is not ours.
    fn renew(&mut self, s: u64) -> Result<bool, crate::Error> {
        let kept: i64 = self
            .lease
            .key(Keys(s).lease())
            .arg(&self.settings.name)
            .arg(self.settings.lease.as_millis() as u64)
            .invoke(self.con.as_dyn())?;
        Ok(kept == 1)
    }

    /// Takes shard `s` if it is free: restores its checkpoint and
    /// re-applies what was committed after it.
    fn acquire(&mut self, s: u64) -> Result<(), crate::Error> {
        let keys = Keys(s);
        let took: Option<String> = redis::cmd("SET")
            .arg(keys.lease())
            .arg(&self.settings.name)
            .arg("NX")
            .arg("PX")
            .arg(self.settings.lease.as_millis() as u64)
            .query(self.con.as_dyn())?;
        if took.is_none() {
            return Ok(());
        }
        let mut position = redis::cmd("HGETALL");
        position.arg(keys.progress());
        let mut checkpoint = redis::cmd("GET");
        checkpoint.arg(keys.checkpoint());
        let (progress, snapshot): (HashMap<String, String>, Option<Vec<u8>>) =
            self.con.pipe([position, checkpoint])?;
        let progress = Progress::parse(s, progress)?;
        let committed = progress.entry;
        let mut from = progress.checkpoint;
        let mut engine = match &snapshot {
            Some(bytes) => self.restore(s, bytes, progress.rules.as_deref())?,
            None => Engine::new(self.program),
        };
        let owed = progress.entries.saturating_sub(progress.checkpoint_entries);
        let mut reapplied = 0u64;
        while from != committed {
            let chunk = self.read(keys, &from, Some(&committed))?;
            let Some((last, _)) = chunk.last() else {
                return Err(crate::Error::Corrupt(
                    s,
                    format!("stream ends before the committed entry {committed}"),
                ));
            };
            from = last.clone();
            for (_, line) in &chunk {
                // Actions from here on were committed already.
                let _ = engine.replay_bytes_into(line, &mut |_: ActionRef<'_>| {});
                reapplied += 1;
            }
            // Re-applying a long tail may outlast the lease taken above.
            if !self.renew(s)? {
                return Ok(());
            }
        }
        if reapplied != owed {
            return Err(crate::Error::Corrupt(
                s,
                format!("{reapplied} entries after the checkpoint, {owed} committed"),
            ));
        }
        eprintln!(
            "siyu-workers {}: took shard {s} at entry {committed} ({} customers, {reapplied} entries re-applied since the checkpoint)",
            self.settings.name,
            engine.len(),
        );
        if engine.program().fingerprint() != self.program.fingerprint() {
            let report = engine.upgrade(self.program);
            eprintln!(
                "siyu-workers {}: shard {s} upgraded to this worker's rules: {} rules kept, {} reset, {} added, {} dropped",
                self.settings.name,
                report.rules_kept.len(),
                report.rules_reset.len(),
                report.rules_added.len(),
                report.rules_dropped.len()
            );
            // Checkpointed at once under the new rules: what follows was
            // decided by them, and a later owner must not re-apply it
            // under the old.
            let upgraded = Served {
                keys,
                engine,
                last: committed.clone(),
                since_checkpoint: 0,
            };
            if !self.commit(&upgraded, &committed, 0, &[], true)? {
                return Ok(());
            }
            engine = upgraded.engine;
            reapplied = 0;
        }
        self.served.insert(
            s,
            Served {
                keys,
                engine,
                last: committed,
                since_checkpoint: reapplied,
            },
        );
        Ok(())
    }

    /// The engine of a checkpoint: under this worker's rules, or, if it was
    /// taken under others (a new version of the SOP being rolled out),
    /// under those, to be re-applied to and then upgraded.
    fn restore(&self, s: u64, bytes: &[u8], rules: Option<&str>) -> Result<Engine, crate::Error> {
        match (Engine::restore(self.program, bytes), rules) {
            (Err(siyu::SnapshotError::ProgramMismatch { .. }), Some(old)) => {
                let program = siyu::compile(old).map_err(|e| {
                    crate::Error::Corrupt(
                        s,
                        format!(
                            "the checkpoint's rules do not compile: {}",
                            e.render("checkpoint")
                        ),
                    )
                })?;
                Engine::restore(&program, bytes).map_err(|e| crate::Error::Checkpoint(s, e))
            }
            (restored, _) => restored.map_err(|e| crate::Error::Checkpoint(s, e)),
        }
    }

    /// Gives shard `s` up: a checkpoint at its position (unless the last
    /// one is there already), then the lease.
    fn release(&mut self, s: u64) -> Result<(), crate::Error> {
        if let Some(served) = self.served.remove(&s) {
            let last = served.last.clone();
            let checkpoint = served.since_checkpoint > 0;
            if self.commit(&served, &last, 0, &[], checkpoint)? {
                let _: i64 = self
                    .lease
                    .key(served.keys.lease())
                    .arg(&self.settings.name)
                    .arg("release")
                    .invoke(self.con.as_dyn())?;
            }
        }
        Ok(())
    }

    /// Up to a batch of entries after `after`, up to `until` if given: each
    /// entry's id and its `line` field (empty if it has none, which the
    /// engine then ignores as a blank line).
    fn read(
        &mut self,
        keys: Keys,
        after: &str,
        until: Option<&str>,
    ) -> Result<Vec<(String, Vec<u8>)>, crate::Error> {
        let reply: Vec<(String, Vec<Field>)> = redis::cmd("XRANGE")
            .arg(keys.events())
            .arg(format!("({after}"))
            .arg(until.unwrap_or("+"))
            .arg("COUNT")
            .arg(self.fits)
            .query(self.con.as_dyn())?;
        Ok(reply
            .into_iter()
            .map(|(id, fields)| {
                let line = fields
                    .into_iter()
                    .find_map(|(k, v)| (k == b"line").then_some(v))
                    .unwrap_or_default();
                (id, line)
            })
            .collect())
    }

    /// Applies and commits the next batch of shard `s`; false if there was
    /// none. A commit refused (the lease lost, the position moved) drops
    /// the shard: its engine has run ahead of what is committed.
    fn step(&mut self, s: u64) -> Result<bool, crate::Error> {
        // Out of the map while it runs ahead of what is committed: it goes
        // back only once the commit is accepted.
        let Some(mut served) = self.served.remove(&s) else {
            return Ok(false);
        };
        let started = Instant::now();
        let batch = self.read(served.keys, &served.last, None)?;
        if batch.is_empty() {
            self.served.insert(s, served);
            return Ok(false);
        }
        let mut actions: Vec<Vec<u8>> = Vec::new();
        let mut applied = 0;
        for (_, line) in &batch {
            // A rejected line is counted in the engine's metrics and
            // skipped, as `replay` does.
            let _ = served
                .engine
                .replay_bytes_into(line, &mut |a: ActionRef<'_>| {
                    let mut json = Vec::with_capacity(160);
                    a.write_json_line(&mut json);
                    json.pop();
                    actions.push(json);
                });
            applied += 1;
            self.applied += 1;
            if self.settings.crash_after.is_some_and(|n| self.applied >= n) {
                eprintln!(
                    "siyu-workers {}: crash injected after {} entries, mid-batch",
                    self.settings.name, self.applied
                );
                std::process::exit(70);
            }
            // Only a commit renews the lease: a batch that takes longer
            // than a heartbeat is cut short and committed (the rest is
            // read again), or a batch too large for the lease would be
            // refused every time, and the shard would never move.
            if started.elapsed() >= self.settings.lease / 4 {
                break;
            }
        }
        let last = batch[applied - 1].0.clone();
        let n = applied as u64;
        self.fits = if applied < batch.len() {
            applied
        } else {
            (self.fits * 2).min(self.settings.batch)
        };
        let checkpoint = served.since_checkpoint + n >= self.settings.checkpoint_every;
        if !self.commit(&served, &last, n, &actions, checkpoint)? {
            eprintln!(
                "siyu-workers {}: lost shard {s} before committing a batch",
                self.settings.name
            );
            self.fits = (self.fits / 2).max(1);
            return Ok(true);
        }
        self.tally.entries += n;
        self.tally.actions += actions.len() as u64;
        self.tally.batches += 1;
        served.since_checkpoint = if checkpoint {
            0
        } else {
            served.since_checkpoint + n
        };
        served.last = last;
        self.served.insert(s, served);
        Ok(true)
    }

    /// Runs the commit script for `served` moved on to `last`.
    fn commit(
        &mut self,
        served: &Served,
        last: &str,
        entries: u64,
        actions: &[Vec<u8>],
        checkpoint: bool,
    ) -> Result<bool, crate::Error> {
        let keys = served.keys;
        let snapshot = if checkpoint {
            served.engine.snapshot()
        } else {
            Vec::new()
        };
        let mut call = self.commit.prepare_invoke();
        call.key(keys.lease())
            .key(keys.progress())
            .key(keys.actions())
            .key(keys.checkpoint())
            .key(keys.events())
            .arg(&self.settings.name)
            .arg(self.settings.lease.as_millis() as u64)
            .arg(&served.last)
            .arg(last)
            .arg(entries)
            .arg(now_ms())
            .arg(if checkpoint { "1" } else { "0" })
            .arg(snapshot)
            .arg(if checkpoint { self.source } else { "" });
        for a in actions {
            call.arg(a.as_slice());
        }
        let done: i64 = call.invoke(self.con.as_dyn())?;
        Ok(done == 1)
    }

    /// One line: the shards served, entries and actions so far, the rate
    /// since the last line, and each shard's lag (entries not committed).
    fn metrics_line(&mut self, rate: f64) -> Result<String, crate::Error> {
        let mut lags = Vec::new();
        let shards: Vec<u64> = self.served.keys().copied().collect();
        for s in shards {
            lags.push(format!(
                "{s}:{}",
                crate::status::lag(&mut self.con, Keys(s))?
            ));
        }
        Ok(format!(
            "siyu-workers {}: {} entries ({rate:.0}/s), {} actions, {} batches; lag by shard {}",
            self.settings.name,
            self.tally.entries,
            self.tally.actions,
            self.tally.batches,
            if lags.is_empty() {
                "(none served)".to_string()
            } else {
                lags.join(" ")
            }
        ))
    }
}
