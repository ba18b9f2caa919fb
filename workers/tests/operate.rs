//! Running the workers: help, settings from the environment, metrics
//! lines, `status`, and a graceful stop on SIGTERM that leaves the next
//! owner nothing to re-apply.

mod common;

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Sends SIGTERM to a worker and waits (10 s at most) for it to stop;
/// its exit status and what it wrote on stderr (piped).
fn terminate(worker: &mut Child) -> (ExitStatus, String) {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
    let stopped = Instant::now();
    let status = loop {
        if let Some(status) = worker.try_wait().expect("waits") {
            break status;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "the worker stops on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    worker
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut err)
        .expect("stderr");
    (status, err)
}

#[test]
fn help_names_every_command_and_setting() {
    let out = Command::new(common::bin())
        .arg("--help")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "produce",
        "work",
        "status",
        "SIYU_REDIS_URL",
        "SIYU_SHARDS",
        "Example:",
    ] {
        assert!(text.contains(want), "--help names {want}:\n{text}");
    }
    let out = Command::new(common::bin())
        .args(["work", "--help"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "SIYU_BATCH",
        "SIYU_LEASE_MS",
        "SIYU_CHECKPOINT_EVERY",
        "SIYU_METRICS_EVERY",
        "SIYU_WORKER_NAME",
        "SIGTERM",
    ] {
        assert!(text.contains(want), "work --help names {want}:\n{text}");
    }
    assert!(!text.contains("crash"), "the testing knob stays hidden");
    let out = Command::new(common::bin())
        .args(["--shards", "0", "status"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "0 shards is refused");
}

#[test]
fn a_worker_reports_stops_on_sigterm_and_hands_over_cleanly() {
    let Some((_redis, url)) = common::single() else {
        return common::unavailable("redis-server");
    };
    let shards = 4;
    let (lines, path) = common::sample(6_000, "operate");
    let want = common::one_process(&lines);
    common::produce(&url, shards, &path, &[]);
    let other = common::command(&url, shards + 1)
        .args(["status", "--interval", "0"])
        .output()
        .expect("status");
    let said = String::from_utf8_lossy(&other.stderr);
    assert_eq!(
        other.status.code(),
        Some(1),
        "another shard count is refused"
    );
    assert!(
        said.contains("--shards 5, but this deployment has 4 shards"),
        "{said}"
    );
    let rules = common::root().join("examples/sop/sop.siyu");
    let worker = |name: &str| {
        common::command(&url, shards)
            .arg("work")
            .arg(&rules)
            .env("SIYU_WORKER_NAME", name)
            .env("SIYU_METRICS_EVERY", "1")
            .env("SIYU_CHECKPOINT_EVERY", "1000000")
            .stderr(Stdio::piped())
            .spawn()
            .expect("worker")
    };
    let mut w1 = worker("w1");
    let mut con = common::connect(&url);
    common::wait_drained(con.as_mut(), shards);
    // A metrics line is due within a second of the start.
    std::thread::sleep(Duration::from_millis(1_200));

    let status = common::command(&url, shards)
        .args(["status", "--json", "--interval", "0.2"])
        .output()
        .expect("status");
    assert!(status.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&status.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    println!("status: {rows:?}");
    assert_eq!(rows.len(), shards as usize);
    let mut actions = 0;
    for row in &rows {
        assert_eq!(row["worker"], "w1", "{row}");
        assert_eq!(row["lag"], 0, "{row}");
        assert!(row["entries"].as_u64().is_some_and(|n| n > 0), "{row}");
        assert!(row["entries_per_second"].is_number(), "{row}");
        actions += row["actions"].as_u64().expect("actions");
    }
    assert_eq!(actions as usize, want.len());
    let table = common::command(&url, shards)
        .args(["status", "--interval", "0"])
        .output()
        .expect("status");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.starts_with("shard") && table.lines().count() == 5,
        "{table}"
    );

    let (code, err) = terminate(&mut w1);
    println!("w1 said:\n{err}");
    assert!(code.success(), "a graceful stop exits 0");
    assert!(
        err.contains("lag by shard 0:0"),
        "a metrics line with the lag"
    );
    assert!(err.contains("shards released"), "{err}");
    for s in 0..shards {
        let owner: Option<String> = redis::cmd("GET")
            .arg(format!("siyu:{{{s}}}:lease"))
            .query(con.as_mut())
            .expect("GET");
        assert_eq!(owner, None, "shard {s}'s lease released");
    }

    // Checkpointed on the way out: the next owner re-applies nothing.
    let mut w2 = common::Killed(worker("w2"));
    let took = Instant::now();
    let mut owned = 0;
    while owned < shards {
        assert!(
            took.elapsed() < Duration::from_secs(10),
            "w2 takes every shard"
        );
        owned = (0..shards)
            .filter(|s| {
                redis::cmd("GET")
                    .arg(format!("siyu:{{{s}}}:lease"))
                    .query::<Option<String>>(con.as_mut())
                    .ok()
                    .flatten()
                    .is_some_and(|o| o == "w2")
            })
            .count() as u64;
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, err) = terminate(&mut w2.0);
    println!("w2 said:\n{err}");
    assert_eq!(
        err.matches("0 entries re-applied").count(),
        shards as usize,
        "{err}"
    );
    assert_eq!(
        common::actions(con.as_mut(), shards),
        want,
        "nothing more emitted"
    );
    let _ = std::fs::remove_file(&path);
}

/// A new version of the SOP rolled out: a worker running other rules
/// takes the shards over from checkpoints taken under the old ones,
/// upgrades each engine and goes on — the actions are one process's that
/// replayed the first half under the old rules, upgraded, and replayed
/// the rest.
#[test]
fn a_worker_with_new_rules_upgrades_the_shards_it_takes() {
    let Some((_redis, url)) = common::single() else {
        return common::unavailable("redis-server");
    };
    let shards = 4;
    let (lines, _) = common::sample(8_000, "upgrade");
    let (first, rest) = lines.split_at(4_000);
    let dir = std::env::temp_dir().join(format!("siyu-upgrade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    std::fs::write(dir.join("first.jsonl"), first.join("\n")).expect("writes");
    std::fs::write(dir.join("rest.jsonl"), rest.join("\n")).expect("writes");
    let old = common::root().join("examples/sop/sop.siyu");
    let new = common::root().join("examples/sop/tighter_cap.siyu");

    // One process: old rules, then an upgrade, then the new ones.
    let compile = |p: &std::path::Path| {
        siyu::compile(&std::fs::read_to_string(p).expect("rules")).expect("compiles")
    };
    let (old_program, new_program) = (compile(&old), compile(&new));
    let mut engine = siyu::Engine::new(&old_program);
    let mut want: Vec<siyu::Action> = Vec::new();
    for line in first {
        let _ = engine.replay_line_into(line, &mut want);
    }
    engine.upgrade(&new_program);
    for line in rest {
        let _ = engine.replay_line_into(line, &mut want);
    }
    engine.replay_end_into(None, &mut want);
    let mut want: Vec<String> = want.iter().map(|a| a.to_json().to_string()).collect();
    want.sort();

    let worker = |name: &str, rules: &std::path::Path| {
        common::command(&url, shards)
            .arg("work")
            .arg(rules)
            .args(["--name", name, "--metrics-every", "0"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("worker")
    };
    let mut con = common::connect(&url);
    common::produce(&url, shards, &dir.join("first.jsonl"), &["--open"]);
    let mut w1 = worker("old", &old);
    common::wait_drained(con.as_mut(), shards);
    assert!(terminate(&mut w1).0.success());

    let mut w2 = common::Killed(worker("new", &new));
    common::produce(&url, shards, &dir.join("rest.jsonl"), &[]);
    common::wait_drained(con.as_mut(), shards);
    let (_, err) = terminate(&mut w2.0);
    println!("the new worker said:\n{err}");
    assert_eq!(
        err.matches("upgraded to this worker's rules").count(),
        shards as usize,
        "every shard upgraded once"
    );
    let got = common::actions(con.as_mut(), shards);
    println!(
        "upgrade: {} + {} events, {} actions, {} expected",
        first.len(),
        rest.len(),
        got.len(),
        want.len()
    );
    assert!(
        got == want,
        "the actions of one process that upgraded at the same point"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A batch that takes longer to apply than the lease lives is cut short
/// and committed in parts: without that, its commit would be refused
/// every time (the lease gone) and the shard would never move.
#[test]
fn a_batch_too_big_for_the_lease_is_committed_in_parts() {
    let Some((_redis, url)) = common::single() else {
        return common::unavailable("redis-server");
    };
    let shards = 1;
    let (lines, path) = common::sample(usize::MAX, "big-batch");
    let want = common::one_process(&lines);
    common::produce(&url, shards, &path, &[]);
    let mut worker = common::Killed(
        common::command(&url, shards)
            .arg("work")
            .arg(common::root().join("examples/sop/sop.siyu"))
            .args(["--name", "w", "--metrics-every", "0"])
            .args(["--batch", "1000000", "--lease-ms", "100"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("worker"),
    );
    let mut con = common::connect(&url);
    // The shard moves although a whole batch outlasts the lease.
    common::wait_drained(con.as_mut(), shards);
    let (_, err) = terminate(&mut worker.0);
    let batches = err
        .lines()
        .find_map(|l| l.split(" entries in ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("the worker says how many batches");
    // On a loaded machine the first read alone may outlast the lease: that
    // commit is refused, the shard taken again and read in smaller parts.
    println!(
        "{} events in {batches} batches of a 1,000,000 limit, lease 100 ms; commits refused: {}",
        lines.len(),
        err.matches("lost shard").count()
    );
    assert!(batches > 1, "cut into parts: {err}");
    assert_eq!(common::actions(con.as_mut(), shards), want);
    let _ = std::fs::remove_file(&path);
}
