//! What the workers' tests share: Redis servers they start themselves on
//! loopback ports (a single node, or a 3-master cluster), the one-process
//! answer, and a run of workers that crash mid-batch.

#![allow(dead_code)] // each test file uses its own part

use redis::ConnectionLike;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `redis-server` with `extra` arguments on a free port, in a scratch
/// directory; `None` if it cannot be started (no redis-server installed).
fn server(extra: &[&str]) -> Option<(Killed, u16)> {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("siyu-redis-{port}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let mut args = vec![
        "--port".to_string(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let child = Command::new("redis-server")
        .args(&args)
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let guard = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let up = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
            .is_ok_and(|mut con| redis::cmd("PING").query::<String>(&mut con).is_ok());
        if up {
            return Some((guard, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Says why a test that needs Redis cannot run: a skip on a developer's
/// machine, a failure under CI (which installs redis-server).
pub fn unavailable(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} could not be started, and CI must run this test"
    );
    eprintln!("SKIPPED: {what} could not be started on loopback ports");
}

/// One redis-server.
pub fn single() -> Option<(Vec<Killed>, String)> {
    let (guard, port) = server(&[])?;
    Some((vec![guard], format!("redis://127.0.0.1:{port}/")))
}

/// A Redis Cluster of three masters (no replicas), every slot served.
pub fn cluster() -> Option<(Vec<Killed>, String)> {
    let mut nodes = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..3 {
        // The cluster bus port is given, not port + 10000, which may not
        // exist for a port the system handed out.
        let bus = free_port().to_string();
        let (guard, port) = server(&[
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            &bus,
            "--cluster-node-timeout",
            "5000",
        ])?;
        nodes.push(guard);
        ports.push(port);
    }
    let mut create = Command::new("redis-cli");
    create.arg("--cluster").arg("create");
    for p in &ports {
        create.arg(format!("127.0.0.1:{p}"));
    }
    let out = create
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        return None;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let ok = ports.iter().all(|p| {
            redis::Client::open(format!("redis://127.0.0.1:{p}/"))
                .and_then(|c| c.get_connection())
                .and_then(|mut con| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut con))
                .is_ok_and(|info| info.contains("cluster_state:ok"))
        });
        if ok {
            return Some((nodes, format!("redis://127.0.0.1:{}/", ports[0])));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A connection like the workers': through the cluster if the node is in
/// one.
pub fn connect(url: &str) -> Box<dyn ConnectionLike> {
    let mut con = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connects");
    let info: String = redis::cmd("INFO")
        .arg("cluster")
        .query(&mut con)
        .expect("INFO");
    if info.contains("cluster_enabled:1") {
        Box::new(
            redis::cluster::ClusterClient::new(vec![url])
                .and_then(|c| c.get_connection())
                .expect("cluster connects"),
        )
    } else {
        Box::new(con)
    }
}

/// The bundled sample's first `n` lines, in a scratch file.
pub fn sample(n: usize, tag: &str) -> (Vec<String>, PathBuf) {
    sample_of(&root().join("examples/sop/events.jsonl"), n, tag)
}

/// The first `n` lines of an event file, in a scratch file.
pub fn sample_of(events: &std::path::Path, n: usize, tag: &str) -> (Vec<String>, PathBuf) {
    let text = std::fs::read_to_string(events).expect("the events");
    let lines: Vec<String> = text.lines().take(n).map(str::to_string).collect();
    let path = std::env::temp_dir().join(format!("siyu-{tag}-{}.jsonl", std::process::id()));
    std::fs::write(&path, lines.join("\n")).expect("writable temp");
    (lines, path)
}

/// What one process gives for these lines, as JSON lines, sorted.
pub fn one_process(lines: &[String]) -> Vec<String> {
    let rules = std::fs::read_to_string(root().join("examples/sop/sop.siyu")).expect("rules");
    let program = siyu::compile(&rules).expect("compiles");
    let mut engine = siyu::Engine::new(&program);
    let mut want: Vec<String> = Vec::new();
    for line in lines {
        want.extend(
            engine
                .replay_line(line)
                .unwrap_or_default()
                .iter()
                .map(|a| a.to_json().to_string()),
        );
    }
    want.extend(
        engine
            .replay_end(None)
            .iter()
            .map(|a| a.to_json().to_string()),
    );
    want.sort();
    want
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_siyu-workers")
}

/// `siyu-workers` with the deployment's settings.
pub fn command(url: &str, shards: u64) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SIYU_REDIS_URL", url)
        .env("SIYU_SHARDS", shards.to_string());
    c
}

/// Runs `siyu-workers produce` over `events` (with `extra` arguments)
/// and holds it to success.
pub fn produce(url: &str, shards: u64, events: &std::path::Path, extra: &[&str]) {
    let ok = command(url, shards)
        .arg("produce")
        .arg(events)
        .args(extra)
        .status()
        .expect("producer runs")
        .success();
    assert!(ok, "producer");
}

/// Waits (60 s at most) until every entry of every shard is committed.
pub fn wait_drained(con: &mut dyn ConnectionLike, shards: u64) {
    let start = Instant::now();
    while !drained(con, shards) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the workers commit every entry"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Entries added to shard `s`'s stream, and committed.
pub fn progress(con: &mut dyn ConnectionLike, s: u64) -> (u64, u64) {
    let key = format!("siyu:{{{s}}}:events");
    let info: HashMap<String, redis::Value> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(&key)
        .query(con)
        .unwrap_or_default();
    let added = match info.get("entries-added") {
        Some(redis::Value::Int(n)) => *n as u64,
        _ => 0,
    };
    let done: Option<u64> = redis::cmd("HGET")
        .arg(format!("siyu:{{{s}}}:progress"))
        .arg("entries")
        .query(con)
        .unwrap_or(None);
    (added, done.unwrap_or(0))
}

pub fn drained(con: &mut dyn ConnectionLike, shards: u64) -> bool {
    (0..shards).all(|s| {
        let (added, done) = progress(con, s);
        added > 0 && added == done
    })
}

/// A fresh deployment, whichever run came before on this server: every
/// key of every shard, and the live workers, deleted.
pub fn reset(con: &mut dyn ConnectionLike, shards: u64) {
    let mut keys = vec!["siyu:workers".to_string(), "siyu:shards".to_string()];
    for s in 0..shards {
        for what in ["events", "actions", "lease", "progress", "checkpoint"] {
            keys.push(format!("siyu:{{{s}}}:{what}"));
        }
    }
    for key in keys {
        let _: i64 = redis::cmd("DEL").arg(key).query(con).expect("DEL");
    }
}

/// Every shard's actions, sorted.
pub fn actions(con: &mut dyn ConnectionLike, shards: u64) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for s in 0..shards {
        let part: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("siyu:{{{s}}}:actions"))
            .arg(0)
            .arg(-1)
            .query(con)
            .expect("actions");
        all.extend(part);
    }
    all.sort();
    all
}

/// What a crash run did.
pub struct Crashes {
    pub events: usize,
    pub seconds: f64,
    pub injected: Vec<(String, u64)>,
    pub killed: Vec<String>,
    pub workers: usize,
    pub got: Vec<String>,
    pub want: Vec<String>,
}

/// Replays the sample through workers on `url`, batch size `batch`: two
/// workers, started first, crash mid-batch (exit without committing their
/// batch or releasing their leases, after `crash[i]` entries), a third is
/// killed with SIGKILL once a third of the actions are in, two more run
/// to the end (one of them started after the first crash, to take shards
/// over).
pub fn crash_run(url: &str, shards: u64, batch: u64, events: usize, crash: [u64; 2]) -> Crashes {
    let (lines, path) = sample(events, &format!("crash-{batch}"));
    let want = one_process(&lines);
    let mut con = connect(url);
    reset(con.as_mut(), shards);
    let rules = root().join("examples/sop/sop.siyu");
    let spawn = |name: &str, crash_after: Option<u64>| {
        let mut c = command(url, shards);
        c.args(["work"])
            .arg(&rules)
            .args(["--name", name, "--lease-ms", "500", "--metrics-every", "0"])
            .args(["--batch", &batch.to_string(), "--checkpoint-every", "3000"]);
        if let Some(n) = crash_after {
            // Read once it has exited: it writes a line or two.
            c.env("SIYU_CRASH_AFTER", n.to_string())
                .stderr(Stdio::piped());
        }
        Killed(c.spawn().expect("worker starts"))
    };
    let mut crashers = vec![
        ("w1".to_string(), crash[0], spawn("w1", Some(crash[0]))),
        ("w2".to_string(), crash[1], spawn("w2", Some(crash[1]))),
    ];
    // The crashers hold shards before there are events or other workers,
    // so that each surely applies its entries (about a third of them).
    let holding = Instant::now();
    while !["w1", "w2"]
        .iter()
        .all(|w| owners(con.as_mut(), shards).contains(*w))
    {
        assert!(
            holding.elapsed() < Duration::from_secs(10),
            "w1 and w2 take shards"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut victim = Some(spawn("w3", None));
    let _w4 = spawn("w4", None);
    produce(url, shards, &path, &[]);
    let mut late = None;
    let mut injected = Vec::new();
    let mut killed = Vec::new();
    let start = Instant::now();
    while !drained(con.as_mut(), shards) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "workers did not finish (batch {batch})"
        );
        crashers.retain_mut(|(name, n, child)| match child.0.try_wait() {
            Ok(Some(status)) => {
                assert_crashed(name, status, &mut child.0);
                injected.push((name.clone(), *n));
                false
            }
            _ => true,
        });
        if late.is_none() && !injected.is_empty() {
            late = Some(spawn("w5", None));
        }
        let done = actions_so_far(con.as_mut(), shards);
        if victim.is_some() && done * 3 > want.len() {
            victim = None; // dropping the guard kills w3 (SIGKILL)
            killed.push("w3".to_string());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some((name, n, _)) = crashers.first() {
        panic!("{name} finished before applying {n} entries: crash it sooner");
    }
    let _ = std::fs::remove_file(&path);
    Crashes {
        events: lines.len(),
        seconds: start.elapsed().as_secs_f64(),
        injected,
        killed,
        workers: 5,
        got: actions(con.as_mut(), shards),
        want,
    }
}

/// The workers holding a lease now.
pub fn owners(con: &mut dyn ConnectionLike, shards: u64) -> std::collections::BTreeSet<String> {
    (0..shards)
        .filter_map(|s| {
            redis::cmd("GET")
                .arg(format!("siyu:{{{s}}}:lease"))
                .query::<Option<String>>(con)
                .ok()
                .flatten()
        })
        .collect()
}

impl Crashes {
    /// Prints what happened and holds the run to one process's answer.
    pub fn check(&self, what: &str, shards: u64) {
        println!(
            "{what}: {:.1} s, {} events, {shards} shards, {} workers; crashed mid-batch: {:?} (name, entries applied); SIGKILLed: {:?}; {} actions, {} expected",
            self.seconds,
            self.events,
            self.workers,
            self.injected,
            self.killed,
            self.got.len(),
            self.want.len()
        );
        assert_eq!(self.injected.len(), 2, "both crashes happened");
        assert_eq!(
            self.got.len(),
            self.want.len(),
            "nothing lost, nothing doubled"
        );
        assert!(self.got == self.want, "the same actions, ids included");
    }
}

fn actions_so_far(con: &mut dyn ConnectionLike, shards: u64) -> usize {
    (0..shards)
        .map(|s| {
            redis::cmd("LLEN")
                .arg(format!("siyu:{{{s}}}:actions"))
                .query::<usize>(con)
                .unwrap_or(0)
        })
        .sum()
}

/// The worker exited the way an injected crash does, mid-batch.
fn assert_crashed(name: &str, status: ExitStatus, child: &mut Child) {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(70), "{name} crashed as injected: {err}");
    assert!(err.contains("crash injected"), "{name}: {err}");
}

/// The URL of every master of the cluster `url` belongs to.
pub fn masters(url: &str) -> Vec<String> {
    let mut con = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connects");
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut con)
        .expect("nodes");
    nodes
        .lines()
        .filter(|l| l.contains("master"))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|addr| format!("redis://{}/", addr.split('@').next().unwrap_or(addr)))
        .collect()
}

/// How many keys each master of the cluster `url` belongs to holds.
pub fn nodes_holding_keys(url: &str) -> Vec<u64> {
    masters(url)
        .iter()
        .map(|m| {
            redis::Client::open(m.as_str())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("DBSIZE").query::<u64>(&mut c))
                .expect("a master answers")
        })
        .collect()
}
