//! What the workers keep in Redis, and how they reach it.
//!
//! Every key of shard `S` carries `{S}` as its hash tag, so on a Redis
//! Cluster all of a shard lives in one slot and each script or pipeline
//! touches one node:
//!
//! | key                   | type   | holds                                      |
//! |-----------------------|--------|--------------------------------------------|
//! | `siyu:{S}:events`     | stream | input lines (field `line`), in order       |
//! | `siyu:{S}:actions`    | list   | the shard's actions, one JSON object each  |
//! | `siyu:{S}:lease`      | string | the worker serving the shard (expires)     |
//! | `siyu:{S}:progress`   | hash   | last committed entry, counts, checkpoint   |
//! | `siyu:{S}:checkpoint` | string | the shard's engine snapshot at `checkpoint`|
//!
//! plus `siyu:workers`, a sorted set of live workers by last heartbeat
//! (milliseconds), read to share the shards out fairly, and `siyu:shards`,
//! the deployment's shard count, which every command checks.

use redis::cluster::ClusterConnection;
use redis::{Client, Cmd, Connection, ConnectionLike, FromRedisValue, RedisError};

/// The sorted set of live workers, scored by their last heartbeat.
pub(crate) const WORKERS: &str = "siyu:workers";

/// The deployment's shard count, set by the first command that runs: a
/// command given another count would route customers elsewhere, or leave
/// shards unserved.
const SHARDS: &str = "siyu:shards";

/// Holds `shards` to the deployment's count: records it if none is yet,
/// and refuses another.
pub(crate) fn agree_on_shards(con: &mut Conn, shards: u64) -> Result<(), crate::Error> {
    let _: Option<String> = redis::cmd("SET")
        .arg(SHARDS)
        .arg(shards)
        .arg("NX")
        .query(con.as_dyn())?;
    let recorded: Option<u64> = redis::cmd("GET").arg(SHARDS).query(con.as_dyn())?;
    match recorded {
        Some(n) if n != shards => Err(crate::Error::Shards {
            given: shards,
            recorded: n,
        }),
        _ => Ok(()),
    }
}

/// A connection to a single Redis or to a Redis Cluster. Every request
/// the workers make names keys of one slot, so both serve the same calls;
/// only pipelines differ (a cluster's are routed by slot).
pub(crate) enum Conn {
    /// One node.
    Single(Connection),
    /// A cluster, reached through any of its nodes.
    Cluster(ClusterConnection),
}

/// Why Redis could not be reached or refused a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// Connecting, or a request, failed.
    #[error("redis {url}: {source}")]
    Redis {
        /// The URL given.
        url: String,
        /// What Redis or the client said.
        source: RedisError,
    },
}

/// Connects to `url`; if that node runs in cluster mode, to the whole
/// cluster through it (requests are then routed by their key's slot).
pub(crate) fn connect(url: &str) -> Result<Conn, StoreError> {
    let fail = |source| StoreError::Redis {
        url: url.to_string(),
        source,
    };
    let mut single = Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(fail)?;
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query(&mut single)
        .map_err(fail)?;
    if info.lines().any(|l| l.trim() == "cluster_enabled:1") {
        let cluster = redis::cluster::ClusterClient::new(vec![url])
            .and_then(|c| c.get_connection())
            .map_err(fail)?;
        return Ok(Conn::Cluster(cluster));
    }
    Ok(Conn::Single(single))
}

impl Conn {
    /// For a single command or a script.
    pub(crate) fn as_dyn(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c,
        }
    }

    /// Sends `commands` in one round trip per node they reach (one, when
    /// they name keys of one slot) and gives their replies.
    pub(crate) fn pipe<T: FromRedisValue>(
        &mut self,
        commands: impl IntoIterator<Item = Cmd>,
    ) -> Result<T, RedisError> {
        match self {
            Conn::Single(c) => {
                let mut pipe = redis::pipe();
                for cmd in commands {
                    pipe.add_command(cmd);
                }
                pipe.query(c)
            }
            Conn::Cluster(c) => {
                let mut pipe = redis::cluster::cluster_pipe();
                for cmd in commands {
                    pipe.add_command(cmd);
                }
                pipe.query(c)
            }
        }
    }
}

/// The keys of one shard.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keys(pub(crate) u64);

impl Keys {
    fn key(self, what: &str) -> String {
        format!("siyu:{{{}}}:{what}", self.0)
    }

    /// The input stream.
    pub(crate) fn events(self) -> String {
        self.key("events")
    }

    /// The output list.
    pub(crate) fn actions(self) -> String {
        self.key("actions")
    }

    /// Who serves the shard.
    pub(crate) fn lease(self) -> String {
        self.key("lease")
    }

    /// The committed position and counters.
    pub(crate) fn progress(self) -> String {
        self.key("progress")
    }

    /// The engine snapshot the position was last checkpointed at.
    pub(crate) fn checkpoint(self) -> String {
        self.key("checkpoint")
    }
}

/// A shard's `progress` hash, as the commit script writes it: absent
/// fields are a shard nothing was committed to yet.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The last committed stream entry ("0-0": none).
    pub(crate) entry: String,
    /// Entries committed, ever.
    pub(crate) entries: u64,
    /// Actions committed, ever.
    pub(crate) actions: u64,
    /// The entry the checkpoint was taken at ("0-0": none).
    pub(crate) checkpoint: String,
    /// `entries` when the checkpoint was taken.
    pub(crate) checkpoint_entries: u64,
    /// The source of the rules the checkpoint was taken under.
    pub(crate) rules: Option<String>,
}

impl Progress {
    /// The hash's fields (`HGETALL`) of shard `shard`; a counter that is
    /// not a number is an error, not a zero.
    pub(crate) fn parse(
        shard: u64,
        mut hash: std::collections::HashMap<String, String>,
    ) -> Result<Progress, crate::Error> {
        let count = |k: &str| -> Result<u64, crate::Error> {
            hash.get(k).map_or(Ok(0), |v| {
                v.parse()
                    .map_err(|_| crate::Error::Corrupt(shard, format!("progress {k} = {v:?}")))
            })
        };
        let (entries, actions, checkpoint_entries) = (
            count("entries")?,
            count("actions")?,
            count("checkpoint_entries")?,
        );
        let mut text = |k: &str| hash.remove(k);
        Ok(Progress {
            entry: text("entry").unwrap_or_else(|| "0-0".into()),
            entries,
            actions,
            checkpoint: text("checkpoint").unwrap_or_else(|| "0-0".into()),
            checkpoint_entries,
            rules: text("rules"),
        })
    }
}

/// The shard of a customer: 64-bit FNV-1a of the id, modulo the shard
/// count (a hash any host can compute to route events without siyu).
pub(crate) fn shard_of(customer: &str, shards: u64) -> u64 {
    siyu::fnv1a64(customer) % shards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_shard_has_the_shard_as_its_hash_tag() {
        let k = Keys(7);
        for key in [
            k.events(),
            k.actions(),
            k.lease(),
            k.progress(),
            k.checkpoint(),
        ] {
            // Redis Cluster hashes only what lies between the first `{`
            // and the next `}` when that is not empty.
            let open = key.find('{').expect("a tag");
            let close = open + key[open..].find('}').expect("closed");
            assert_eq!(&key[open + 1..close], "7", "{key}");
        }
    }

    #[test]
    fn a_customer_always_lands_on_the_same_shard() {
        assert_eq!(shard_of("c1", 4), shard_of("c1", 4));
        assert!((0..100).all(|i| shard_of(&format!("c{i}"), 4) < 4));
    }
}
