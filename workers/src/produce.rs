//! Shards an event file into the streams.

use crate::store::{Conn, Keys, shard_of};
use std::io::BufRead;

/// Lines held before they are written; bounds the producer's memory
/// whatever the input's size.
const FLUSH_LINES: usize = 2_000;

/// What was written.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    /// Input lines read (blank ones skipped).
    pub(crate) lines: u64,
    /// Stream entries written (a broadcast counts once per shard).
    pub(crate) entries: u64,
}

/// Appends each line of `input` to its customer's stream, and a line with
/// no customer (a broadcast or an `{"advance": …}`) to every stream; a
/// line that is not JSON goes to shard 0 only, to be rejected and counted
/// once there, as one process would. Unless `open`, a final advance to
/// the latest instant seen closes every shard, as `replay` does at the end
/// of its input. Lines of a shard are written in input order, each shard's
/// as one pipeline to its own slot.
pub(crate) fn produce(
    con: &mut Conn,
    shards: u64,
    input: impl BufRead,
    open: bool,
) -> Result<Produced, crate::Error> {
    let mut pending: Vec<Vec<String>> = vec![Vec::new(); shards as usize];
    let mut held = 0;
    let mut latest: Option<siyu::Instant> = None;
    let mut done = Produced::default();
    for line in input.lines() {
        let line = line.map_err(crate::Error::Input)?;
        if line.trim().is_empty() {
            continue;
        }
        done.lines += 1;
        let head: Option<serde_json::Value> = serde_json::from_str(&line).ok();
        let field = |k: &str| {
            head.as_ref()
                .and_then(|h| h.get(k))
                .and_then(|v| v.as_str())
        };
        if let Some(t) = field("time")
            .or_else(|| field("advance"))
            .and_then(|t| siyu::Instant::parse(t).ok())
        {
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
        match (&head, field("customer")) {
            (Some(_), Some(c)) => pending[shard_of(c, shards) as usize].push(line),
            (Some(_), None) => {
                for p in &mut pending {
                    p.push(line.clone());
                }
            }
            (None, _) => pending[0].push(line),
        }
        held += 1;
        if held >= FLUSH_LINES {
            done.entries += flush(con, &mut pending)?;
            held = 0;
        }
    }
    if let (Some(t), false) = (latest, open) {
        let close = format!("{{\"advance\":\"{t}\"}}");
        for p in &mut pending {
            p.push(close.clone());
        }
    }
    done.entries += flush(con, &mut pending)?;
    Ok(done)
}

fn flush(con: &mut Conn, pending: &mut [Vec<String>]) -> Result<u64, crate::Error> {
    let mut written = 0;
    for (shard, lines) in pending.iter_mut().enumerate() {
        if lines.is_empty() {
            continue;
        }
        let key = Keys(shard as u64).events();
        let _ids: Vec<redis::Value> = con.pipe(lines.iter().map(|line| {
            let mut xadd = redis::cmd("XADD");
            xadd.arg(&key).arg("*").arg("line").arg(line);
            xadd
        }))?;
        written += lines.len() as u64;
        lines.clear();
    }
    Ok(written)
}
