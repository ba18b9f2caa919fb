//! Three workers over Redis Streams replay the bundled SOP's sample; one
//! is killed mid-run. The actions in Redis must equal, as a multiset with
//! ids, those of a single-process replay: nothing lost, nothing doubled.
//!
//! Needs `redis-server` (CI installs it); skipped with a message when it
//! cannot be started.

use redis::Commands;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(16_379)
}

fn start_redis() -> Option<(Killed, String)> {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("siyu-redis-{port}"));
    std::fs::create_dir_all(&dir).ok()?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let guard = Killed(child);
    let url = format!("redis://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let up = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .is_ok_and(|mut con| redis::cmd("PING").query::<String>(&mut con).is_ok());
        if up {
            return Some((guard, url));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every stream fully read and acknowledged.
fn drained(con: &mut redis::Connection, shards: u64) -> bool {
    (0..shards).all(|s| {
        let key = format!("siyu:stream:{s}");
        let len: u64 = con.xlen(&key).unwrap_or(0);
        let groups: Vec<BTreeMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&key)
            .query(con)
            .unwrap_or_default();
        groups.first().is_some_and(|g| {
            let num = |k: &str| match g.get(k) {
                Some(redis::Value::Int(n)) => *n as u64,
                _ => u64::MAX,
            };
            num("pending") == 0 && num("entries-read") == len
        })
    })
}

#[test]
fn three_workers_one_killed_lose_and_double_nothing() {
    let Some((_redis, url)) = start_redis() else {
        eprintln!("SKIPPED: redis-server could not be started on a loopback port");
        return;
    };
    let rules = root().join("examples/sop/sop.siyu");
    let sample =
        std::fs::read_to_string(root().join("examples/sop/events.jsonl")).expect("bundled sample");
    let lines: Vec<&str> = sample.lines().take(12_000).collect();
    let events = std::env::temp_dir().join(format!("siyu-crash-{}.jsonl", std::process::id()));
    std::fs::write(&events, lines.join("\n")).expect("writable temp");

    // The single-process answer.
    let program =
        siyu::compile(&std::fs::read_to_string(&rules).expect("rules")).expect("compiles");
    let mut engine = siyu::Engine::new(&program);
    let mut want: Vec<String> = Vec::new();
    for line in &lines {
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

    let bin = env!("CARGO_BIN_EXE_siyu-workers");
    let shards = 6u64;
    let status = Command::new(bin)
        .args(["produce", &url, &shards.to_string()])
        .arg(&events)
        .status()
        .expect("producer runs");
    assert!(status.success());
    let spawn = |name: &str| {
        Killed(
            Command::new(bin)
                .args(["work", &url, &shards.to_string()])
                .arg(&rules)
                .arg(name)
                .spawn()
                .expect("worker starts"),
        )
    };
    let mut victim = Some(spawn("w1"));
    let _w2 = spawn("w2");
    let _w3 = spawn("w3");
    let mut con = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("connects");
    let start = Instant::now();
    let mut killed_at = 0;
    while !drained(&mut con, shards) {
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "workers did not finish"
        );
        let done: usize = con.llen("siyu:actions").unwrap_or(0);
        if victim.is_some() && done > want.len() / 4 {
            killed_at = done;
            victim = None; // dropping the guard kills worker w1 (SIGKILL)
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        victim.is_none() && killed_at > 0,
        "the worker was killed mid-run"
    );
    let got: Vec<String> = con.lrange("siyu:actions", 0, -1).expect("actions");
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    println!(
        "crash test: {} events, {shards} shards, 3 workers (one killed after {killed_at} actions), {} actions, {} expected",
        lines.len(),
        got.len(),
        want.len()
    );
    assert_eq!(
        got_sorted.len(),
        want_sorted.len(),
        "nothing lost, nothing doubled"
    );
    assert!(got_sorted == want_sorted, "the same actions, ids included");
    let _ = std::fs::remove_file(&events);
}
