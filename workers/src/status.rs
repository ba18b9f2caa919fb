//! `siyu-workers status`: each shard's owner, position, lag and rate, read
//! from Redis (so it sees every worker, wherever it runs).

use crate::store::{Conn, Keys, Progress};
use std::collections::HashMap;
use std::time::Duration;

/// One shard, as Redis has it.
#[derive(Debug, Default)]
struct Shard {
    owner: Option<String>,
    /// Entries committed, ever.
    entries: u64,
    /// Entries added to the stream, ever.
    added: u64,
    actions: u64,
    /// Entries committed since the last checkpoint.
    since_checkpoint: u64,
}

/// Entries added to the shard's stream, ever (0 if it has none yet).
fn added(con: &mut Conn, keys: Keys) -> Result<u64, crate::Error> {
    let exists: bool = redis::cmd("EXISTS")
        .arg(keys.events())
        .query(con.as_dyn())?;
    if !exists {
        return Ok(0);
    }
    let info: HashMap<String, redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(keys.events())
        .query(con.as_dyn())?;
    match info.get("entries-added") {
        Some(redis::Value::Int(n)) => Ok(*n as u64),
        _ => Err(crate::Error::Corrupt(
            keys.0,
            "XINFO STREAM gives no entries-added (Redis 7 or later is needed)".into(),
        )),
    }
}

fn read(con: &mut Conn, keys: Keys) -> Result<Shard, crate::Error> {
    let mut get = redis::cmd("GET");
    get.arg(keys.lease());
    let mut all = redis::cmd("HGETALL");
    all.arg(keys.progress());
    let (owner, progress): (Option<String>, HashMap<String, String>) = con.pipe([get, all])?;
    let progress = Progress::parse(keys.0, progress)?;
    Ok(Shard {
        owner,
        entries: progress.entries,
        added: added(con, keys)?,
        actions: progress.actions,
        since_checkpoint: progress.entries.saturating_sub(progress.checkpoint_entries),
    })
}

/// Entries of the shard's stream not committed yet.
pub(crate) fn lag(con: &mut Conn, keys: Keys) -> Result<u64, crate::Error> {
    let shard = read(con, keys)?;
    Ok(shard.added.saturating_sub(shard.entries))
}

/// Prints every shard's state; with an `interval`, reads twice that far
/// apart to give each shard's rate of entries committed per second.
pub(crate) fn status(
    con: &mut Conn,
    shards: u64,
    interval: Option<Duration>,
    json: bool,
) -> Result<(), crate::Error> {
    let first: Vec<Shard> = (0..shards)
        .map(|s| read(con, Keys(s)))
        .collect::<Result<_, _>>()?;
    let (now, rate): (Vec<Shard>, Option<Vec<f64>>) = match interval {
        Some(d) => {
            std::thread::sleep(d);
            let now: Vec<Shard> = (0..shards)
                .map(|s| read(con, Keys(s)))
                .collect::<Result<_, _>>()?;
            let secs = d.as_secs_f64().max(1e-9);
            let rate = now
                .iter()
                .zip(&first)
                .map(|(b, a)| b.entries.saturating_sub(a.entries) as f64 / secs)
                .collect();
            (now, Some(rate))
        }
        None => (first, None),
    };
    if !json {
        println!(
            "{:>5}  {:<16} {:>10} {:>8} {:>10} {:>10} {:>12}",
            "shard", "worker", "entries", "lag", "entries/s", "actions", "uncheckpointed"
        );
    }
    for (s, shard) in now.iter().enumerate() {
        let lag = shard.added.saturating_sub(shard.entries);
        let r = rate.as_ref().map(|r| r[s]);
        if json {
            let line = serde_json::json!({
                "shard": s,
                "worker": shard.owner,
                "entries": shard.entries,
                "lag": lag,
                "entries_per_second": r,
                "actions": shard.actions,
                "since_checkpoint": shard.since_checkpoint,
            });
            println!("{line}");
        } else {
            println!(
                "{s:>5}  {:<16} {:>10} {lag:>8} {:>10} {:>10} {:>12}",
                shard.owner.as_deref().unwrap_or("-"),
                shard.entries,
                r.map_or("-".to_string(), |r| format!("{r:.0}")),
                shard.actions,
                shard.since_checkpoint
            );
        }
    }
    Ok(())
}
