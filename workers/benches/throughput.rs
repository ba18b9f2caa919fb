//! How fast the workers go against one process, on this machine
//! (BENCHMARKS.md, "Redis workers"). Starts its own redis-server (and, with
//! `--cluster`, a 3-master cluster) on loopback ports.
//!
//! ```text
//! cargo bench -p siyu-workers --bench throughput [-- [--cluster] [--runs N] [--events FILE]]
//! ```
//!
//! For 1 and 2 workers over the bundled sample or `FILE` (4 shards): the time from
//! the first event produced to the last committed with the workers
//! already running ("warm"), and with the events produced first and the
//! workers started after ("cold": includes start-up, restore and
//! balancing); Redis commands and bytes per event from `INFO`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SHARDS: u64 = 4;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `INFO` counters of every node: commands by name, bytes in and out,
/// CPU seconds.
fn counters(urls: &[String]) -> (BTreeMap<String, u64>, u64, u64, f64) {
    let mut calls = BTreeMap::new();
    let (mut input, mut output, mut cpu) = (0, 0, 0.0);
    for url in urls {
        let mut con = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .expect("a node");
        let info: String = redis::cmd("INFO").arg("all").query(&mut con).expect("INFO");
        for line in info.lines() {
            if let Some(rest) = line.strip_prefix("cmdstat_") {
                let (name, stats) = rest.split_once(':').unwrap_or((rest, ""));
                let n: u64 = stats
                    .split(',')
                    .find_map(|kv| kv.strip_prefix("calls="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                *calls.entry(name.to_string()).or_default() += n;
            }
            if let Some(v) = line.strip_prefix("total_net_input_bytes:") {
                input += v.trim().parse::<u64>().unwrap_or(0);
            }
            if let Some(v) = line.strip_prefix("total_net_output_bytes:") {
                output += v.trim().parse::<u64>().unwrap_or(0);
            }
            for field in ["used_cpu_sys:", "used_cpu_user:"] {
                if let Some(v) = line.strip_prefix(field) {
                    cpu += v.trim().parse::<f64>().unwrap_or(0.0);
                }
            }
        }
    }
    (calls, input, output, cpu)
}

/// CPU seconds of this process's children that have been waited for.
fn children_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn nodes(url: &str, cluster: bool) -> Vec<String> {
    if cluster {
        common::masters(url)
    } else {
        vec![url.to_string()]
    }
}

fn reset(url: &str) {
    common::reset(common::connect(url).as_mut(), SHARDS);
}

fn produce(url: &str, events: &std::path::Path) {
    let ok = common::command(url, SHARDS)
        .arg("produce")
        .arg(events)
        .stderr(Stdio::null())
        .status()
        .expect("producer")
        .success();
    assert!(ok, "producer");
}

fn workers(url: &str, n: usize) -> Vec<common::Killed> {
    let rules = common::root().join("examples/sop/sop.siyu");
    (0..n)
        .map(|i| {
            common::Killed(
                common::command(url, SHARDS)
                    .arg("work")
                    .arg(&rules)
                    .args(["--name", &format!("w{i}"), "--metrics-every", "0"])
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("worker"),
            )
        })
        .collect()
}

/// Polls every `every` until all is committed; gives the polls made (each
/// asks every shard once).
fn wait_drained(url: &str, every: Duration) -> u64 {
    let mut con = common::connect(url);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut polls = 1;
    // Every shard is asked every time (two commands each), so that the
    // polls' share of Redis's work is known exactly.
    let committed = |con: &mut dyn redis::ConnectionLike| {
        let each: Vec<(u64, u64)> = (0..SHARDS).map(|s| common::progress(con, s)).collect();
        each.iter().all(|&(added, done)| added > 0 && added == done)
    };
    while !committed(con.as_mut()) {
        assert!(Instant::now() < deadline, "workers did not finish");
        std::thread::sleep(every);
        polls += 1;
    }
    polls
}

/// Waits until every shard has an owner and no worker has more than its
/// share.
fn wait_balanced(url: &str, n: usize) {
    let mut con = common::connect(url);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut owners: BTreeMap<String, u64> = BTreeMap::new();
        for s in 0..SHARDS {
            let o: Option<String> = redis::cmd("GET")
                .arg(format!("siyu:{{{s}}}:lease"))
                .query(con.as_mut())
                .unwrap_or(None);
            if let Some(o) = o {
                *owners.entry(o).or_default() += 1;
            }
        }
        let fair = SHARDS.div_ceil(n as u64);
        if owners.values().sum::<u64>() == SHARDS && owners.values().all(|&k| k <= fair) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "workers did not share the shards"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cluster = args.iter().any(|a| a == "--cluster");
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let started = if cluster {
        common::cluster()
    } else {
        common::single()
    };
    let Some((_servers, url)) = started else {
        eprintln!("redis-server could not be started");
        std::process::exit(2);
    };
    let all = nodes(&url, cluster);
    let (lines, events) = match args.iter().position(|a| a == "--events") {
        Some(i) => common::sample_of(
            std::path::Path::new(args.get(i + 1).expect("--events PATH")),
            usize::MAX,
            "throughput",
        ),
        None => common::sample(usize::MAX, "throughput"),
    };
    let want = common::one_process(&lines).len();

    // One process, the same lines, in this process.
    let program = siyu::compile(
        &std::fs::read_to_string(common::root().join("examples/sop/sop.siyu")).expect("rules"),
    )
    .expect("compiles");
    let one = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let mut engine = siyu::Engine::new(&program);
                let mut out: Vec<siyu::Action> = Vec::new();
                for line in &lines {
                    let _ = engine.replay_line_into(line, &mut out);
                }
                engine.replay_end_into(None, &mut out);
                assert_eq!(out.len(), want);
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!(
        "{} events, {want} actions, {SHARDS} shards, redis {}",
        lines.len(),
        if cluster {
            "cluster of 3 masters"
        } else {
            "single node"
        }
    );
    println!(
        "one process: {one:.3} s ({:.0} events/s)",
        lines.len() as f64 / one
    );

    let mut producer = Vec::new();
    for _ in 0..runs {
        reset(&url);
        let t = Instant::now();
        produce(&url, &events);
        producer.push(t.elapsed().as_secs_f64());
    }
    println!("producer alone: {:.3} s", median(producer));

    for n in [1usize, 2] {
        let (mut warm, mut cold) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            reset(&url);
            let _w = workers(&url, n);
            wait_balanced(&url, n);
            let t = Instant::now();
            produce(&url, &events);
            wait_drained(&url, Duration::from_millis(2));
            warm.push(t.elapsed().as_secs_f64());
            drop(_w);

            reset(&url);
            produce(&url, &events);
            let t = Instant::now();
            let _w = workers(&url, n);
            wait_drained(&url, Duration::from_millis(2));
            cold.push(t.elapsed().as_secs_f64());
            drop(_w);
            let got = common::actions(common::connect(&url).as_mut(), SHARDS).len();
            assert_eq!(got, want, "every action, once");
        }
        // Redis's work, counted in a run of its own that polls seldom
        // (the polls are then taken off).
        reset(&url);
        produce(&url, &events);
        let before = counters(&all);
        let cpu = children_cpu();
        let w = workers(&url, n);
        let polls = wait_drained(&url, Duration::from_millis(100));
        let mut after = counters(&all);
        drop(w); // killed and waited for: their CPU is counted
        let worker_cpu = children_cpu() - cpu;
        for cmd in ["xinfo|stream", "hget"] {
            if let Some(v) = after.0.get_mut(cmd) {
                *v -= polls * SHARDS;
            }
        }
        let per_event = (before, after);
        let (w, c) = (median(warm), median(cold));
        println!(
            "{n} worker(s): warm {w:.3} s ({:.0} events/s, {:.0} per worker, {:.1}x one process); cold {c:.3} s ({:.1}x)",
            lines.len() as f64 / w,
            lines.len() as f64 / w / n as f64,
            w / one,
            c / one
        );
        {
            let ((b, bi, bo, bc), (a, ai, ao, ac)) = per_event;
            let e = lines.len() as f64;
            let mut ops: Vec<String> = a
                .iter()
                .filter_map(|(k, v)| {
                    let d = v - b.get(k).copied().unwrap_or(0);
                    (d > 0 && !k.starts_with("info") && !k.starts_with("cluster"))
                        .then(|| format!("{k} {d}"))
                })
                .collect();
            ops.sort();
            let total: u64 = a
                .iter()
                .map(|(k, v)| v - b.get(k).copied().unwrap_or(0))
                .sum();
            println!(
                "  redis work: {total} commands ({:.4} per event: {}), {:.0} bytes in and {:.0} out per event",
                total as f64 / e,
                ops.join(", "),
                (ai - bi) as f64 / e,
                (ao - bo) as f64 / e
            );
            println!(
                "  CPU per event: redis {:.2} µs, workers {:.2} µs (against {:.2} µs in one process)",
                (ac - bc) * 1e6 / e,
                worker_cpu * 1e6 / e,
                one * 1e6 / e
            );
        }
    }
    let _ = std::fs::remove_file(&events);
}
