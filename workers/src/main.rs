//! siyu scaled out over Redis Streams (issue 10).
//!
//! ```text
//! siyu-workers produce REDIS_URL SHARDS EVENTS.jsonl   # shard the input
//! siyu-workers work    REDIS_URL SHARDS RULES.siyu NAME # run a worker
//! ```
//!
//! Events are sharded by `fnv1a64(customer) % SHARDS` into one stream per
//! shard (`siyu:stream:S`); broadcasts and `{"advance": …}` lines go to every
//! shard. A worker holds a lease on each shard it serves, so a shard has one
//! worker at a time and is processed in order. Each customer's
//! `CustomerState` lives at `siyu:state:CUSTOMER` (JSON), next to the shard's
//! timer set `siyu:timers:S` (customer → next wake-up) and clock
//! `siyu:clock:S`. Applying one stream entry — the timers it makes due, the
//! event, the new states and timers, the emitted actions (deduplicated by
//! action id), the shard clock and the `XACK` — is one Lua script: all or
//! nothing. A worker that dies leaves its entries pending and its lease
//! expiring; the next worker to take the shard claims them with
//! `XAUTOCLAIM` and recomputes them from the same committed state, which
//! gives the same actions with the same ids.

use redis::{Commands, Connection, Value as RValue};
use siyu::{CustomerState, Event, Input, Program, StateLimits, step};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const GROUP: &str = "workers";
const LEASE_MS: u64 = 2_000;

fn stream(shard: u64) -> String {
    format!("siyu:stream:{shard}")
}

/// The shard of a customer.
pub fn shard_of(customer: &str, shards: u64) -> u64 {
    siyu::fnv1a64(customer) % shards
}

/// Unix seconds as a siyu instant (every time here came from one).
fn at(t: i64) -> siyu::Instant {
    siyu::Instant::from_unix(t).unwrap_or(siyu::Instant::MAX)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["produce", url, shards, events] => produce(url, parse(shards), events),
        ["work", url, shards, rules, name] => work(url, parse(shards), rules, name),
        _ => {
            Err("usage: siyu-workers produce URL SHARDS EVENTS | work URL SHARDS RULES NAME".into())
        }
    };
    if let Err(e) = result {
        eprintln!("siyu-workers: {e}");
        std::process::exit(1);
    }
}

fn parse(n: &str) -> u64 {
    n.parse().unwrap_or(1).max(1)
}

type Result<T> = std::result::Result<T, String>;

fn connect(url: &str) -> Result<Connection> {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| format!("redis {url}: {e}"))
}

/// Shards the input: each line to its customer's stream, or to every
/// stream for broadcasts and advances; a final advance to the latest
/// instant seen closes every shard (as `replay` does at end of input).
fn produce(url: &str, shards: u64, events: &str) -> Result<()> {
    let mut con = connect(url)?;
    for s in 0..shards {
        let _: RValue = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream(s))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query(&mut con)
            .unwrap_or(RValue::Nil);
    }
    let text = std::fs::read_to_string(events).map_err(|e| format!("{events}: {e}"))?;
    let mut latest: Option<i64> = None;
    let mut pipe = redis::pipe();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let json: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let time = json
            .get("time")
            .or_else(|| json.get("advance"))
            .and_then(|t| t.as_str())
            .and_then(|t| siyu::Instant::parse(t).ok())
            .map(siyu::Instant::unix);
        if let Some(t) = time {
            latest = Some(latest.map_or(t, |l| l.max(t)));
        }
        let targets: Vec<u64> = match json.get("customer").and_then(|c| c.as_str()) {
            Some(c) => vec![shard_of(c, shards)],
            None => (0..shards).collect(),
        };
        for s in targets {
            pipe.cmd("XADD")
                .arg(stream(s))
                .arg("*")
                .arg("line")
                .arg(line)
                .ignore();
        }
    }
    if let Some(t) = latest {
        let line = format!("{{\"advance\": \"{}\"}}", at(t));
        for s in 0..shards {
            pipe.cmd("XADD")
                .arg(stream(s))
                .arg("*")
                .arg("line")
                .arg(&line)
                .ignore();
        }
    }
    pipe.query::<()>(&mut con).map_err(|e| e.to_string())
}

/// Commits one processed entry atomically, if this worker still holds the
/// shard's lease. KEYS: stream, clock, timers, customers, lease, actions,
/// action ids. ARGV: group, entry id, worker, clock, n states, then
/// (customer, state, wake-up or "") per state, then (id, json) per action.
const COMMIT: &str = r#"
if redis.call('GET', KEYS[5]) ~= ARGV[3] then return 0 end
local n = tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  local customer, state, wake = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('SET', 'siyu:state:' .. customer, state)
  redis.call('SADD', KEYS[4], customer)
  if wake == '' then
    redis.call('ZREM', KEYS[3], customer)
  else
    redis.call('ZADD', KEYS[3], wake, customer)
  end
  i = i + 3
end
while i <= #ARGV do
  if redis.call('SADD', KEYS[7], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[6], ARGV[i + 1])
  end
  i = i + 2
end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
"#;

struct Shard {
    id: u64,
    program: Program,
}

impl Shard {
    fn key(&self, what: &str) -> String {
        format!("siyu:{what}:{}", self.id)
    }

    fn load(
        &self,
        con: &mut Connection,
        cache: &mut BTreeMap<String, CustomerState>,
        customer: &str,
    ) -> Result<()> {
        if cache.contains_key(customer) {
            return Ok(());
        }
        let json: Option<String> = con
            .get(format!("siyu:state:{customer}"))
            .map_err(|e| e.to_string())?;
        let st = match json {
            Some(j) => serde_json::from_str(&j).map_err(|e| format!("state of {customer}: {e}"))?,
            None => CustomerState::new(&self.program, customer),
        };
        cache.insert(customer.to_string(), st);
        Ok(())
    }

    /// Processes one entry and commits it; false if the lease was lost.
    fn apply(&self, con: &mut Connection, entry_id: &str, line: &str, me: &str) -> Result<bool> {
        let limits = StateLimits::default();
        let clock: Option<i64> = con.get(self.key("clock")).map_err(|e| e.to_string())?;
        let mut cache: BTreeMap<String, CustomerState> = BTreeMap::new();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        let mut actions: Vec<siyu::Action> = Vec::new();
        let json: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let advance = json
            .get("advance")
            .and_then(|t| t.as_str())
            .and_then(|t| siyu::Instant::parse(t).ok())
            .map(siyu::Instant::unix);
        let event = Event::parse_for(&self.program, line).ok();
        let (target, inclusive) = match (&advance, &event) {
            (Some(t), _) => (*t, true),
            (None, Some(ev)) => {
                let t = ev.time().unix();
                (clock.map_or(t, |c| c.max(t)), false)
            }
            (None, None) => (clock.unwrap_or(i64::MIN), false),
        };
        // The shard's own timers due before the event (or up to the advance).
        let mut timers: Vec<(String, f64)> = con
            .zrangebyscore_withscores(self.key("timers"), "-inf", target as f64)
            .map_err(|e| e.to_string())?;
        timers.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut queue: BTreeSet<(i64, String)> =
            timers.into_iter().map(|(c, w)| (w as i64, c)).collect();
        while let Some((w, customer)) = queue.pop_first() {
            if w > target || (!inclusive && w == target) {
                break;
            }
            self.load(con, &mut cache, &customer)?;
            let st = cache.get_mut(&customer).ok_or("state vanished")?;
            if let Ok(r) = step(&self.program, st, Input::Tick(at(w)), at(w), &limits) {
                actions.extend(r.actions);
            }
            touched.insert(customer.clone());
            if let Some(next) = st.next_wakeup(&self.program) {
                queue.insert((next.unix(), customer));
            }
        }
        let mut new_clock = clock.map_or(target, |c| c.max(target));
        if let Some(ev) = &event {
            let customers: Vec<String> = match ev.customer() {
                Some(c) => vec![c.to_string()],
                None => {
                    let mut all: Vec<String> = con
                        .smembers(self.key("customers"))
                        .map_err(|e| e.to_string())?;
                    all.sort();
                    all
                }
            };
            let mut applied = false;
            for c in customers {
                self.load(con, &mut cache, &c)?;
                let st = cache.get_mut(&c).ok_or("state vanished")?;
                if ev.customer().is_none() && st.first_seen().is_none_or(|f| f >= ev.time()) {
                    continue;
                }
                if let Ok(r) = step(&self.program, st, Input::Event(ev), at(target), &limits) {
                    applied |= !r.duplicate;
                    actions.extend(r.actions);
                    touched.insert(c);
                }
            }
            if !applied && ev.customer().is_some() {
                // A rejected or duplicate event does not move the clock.
                new_clock = clock.unwrap_or(new_clock);
            }
        }
        let script = redis::Script::new(COMMIT);
        let mut call = script.prepare_invoke();
        call.key(stream(self.id))
            .key(self.key("clock"))
            .key(self.key("timers"))
            .key(self.key("customers"))
            .key(self.key("lease"))
            .key("siyu:actions")
            .key("siyu:action_ids")
            .arg(GROUP)
            .arg(entry_id)
            .arg(me)
            .arg(new_clock)
            .arg(touched.len());
        for c in &touched {
            let st = &cache[c];
            let wake = st
                .next_wakeup(&self.program)
                .map_or(String::new(), |w| w.unix().to_string());
            call.arg(c)
                .arg(serde_json::to_string(st).map_err(|e| e.to_string())?)
                .arg(wake);
        }
        for a in &actions {
            call.arg(format!("{}|{}", a.customer, a.id))
                .arg(a.to_json().to_string());
        }
        let ok: i64 = call.invoke(con).map_err(|e| e.to_string())?;
        Ok(ok == 1)
    }
}

/// Serves whichever shards this worker can lease, until killed.
fn work(url: &str, shards: u64, rules: &str, me: &str) -> Result<()> {
    let source = std::fs::read_to_string(rules).map_err(|e| format!("{rules}: {e}"))?;
    let program = siyu::compile(&source).map_err(|e| e.render(rules))?;
    let mut con = connect(url)?;
    let mut last_renew = Instant::now() - Duration::from_secs(10);
    loop {
        let mut busy = false;
        for s in 0..shards {
            let lease = format!("siyu:lease:{s}");
            // Take a free shard, or keep ours alive.
            let owner: Option<String> = con.get(&lease).map_err(|e| e.to_string())?;
            match owner.as_deref() {
                Some(o) if o == me => {
                    if last_renew.elapsed() > Duration::from_millis(LEASE_MS / 4) {
                        let _: bool = con
                            .pexpire(&lease, LEASE_MS as i64)
                            .map_err(|e| e.to_string())?;
                    }
                }
                Some(_) => continue,
                None => {
                    let took: bool = redis::cmd("SET")
                        .arg(&lease)
                        .arg(me)
                        .arg("NX")
                        .arg("PX")
                        .arg(LEASE_MS)
                        .query::<Option<String>>(&mut con)
                        .map(|r| r.is_some())
                        .map_err(|e| e.to_string())?;
                    if !took {
                        continue;
                    }
                }
            }
            let shard = Shard {
                id: s,
                program: program.clone(),
            };
            // Entries a dead worker left pending become ours, then ours
            // pending come first, then new ones.
            let _: RValue = redis::cmd("XAUTOCLAIM")
                .arg(stream(s))
                .arg(GROUP)
                .arg(me)
                .arg(0)
                .arg("0-0")
                .arg("COUNT")
                .arg(1000)
                .query(&mut con)
                .map_err(|e| e.to_string())?;
            let mut entries = read(&mut con, s, me, "0")?;
            if entries.is_empty() {
                entries = read(&mut con, s, me, ">")?;
            }
            for (id, line) in entries {
                busy = true;
                if !shard.apply(&mut con, &id, &line, me)? {
                    break;
                }
            }
        }
        if last_renew.elapsed() > Duration::from_millis(LEASE_MS / 4) {
            last_renew = Instant::now();
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Up to 200 entries of shard `s` for this worker: its pending ones
/// (`from` = "0") or new ones (">").
fn read(con: &mut Connection, s: u64, me: &str, from: &str) -> Result<Vec<(String, String)>> {
    let reply: RValue = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(GROUP)
        .arg(me)
        .arg("COUNT")
        .arg(200)
        .arg("STREAMS")
        .arg(stream(s))
        .arg(from)
        .query(con)
        .map_err(|e| e.to_string())?;
    let reply: redis::streams::StreamReadReply = match reply {
        RValue::Nil => return Ok(Vec::new()),
        other => redis::from_redis_value(&other).map_err(|e| e.to_string())?,
    };
    let mut out = Vec::new();
    for key in reply.keys {
        for entry in key.ids {
            if let Some(line) = entry.get::<String>("line") {
                out.push((entry.id, line));
            }
        }
    }
    Ok(out)
}
