//! Workers over one Redis replay the bundled SOP's sample while two of
//! them crash mid-batch and a third is killed: the actions in Redis must
//! equal, as a multiset with ids, those of a one-process replay — nothing
//! lost, nothing doubled — at every batch size.
//!
//! Needs `redis-server` (CI installs it; there the test may not skip).

mod common;

#[test]
fn workers_crashing_mid_batch_lose_and_double_nothing() {
    let Some((_redis, url)) = common::single() else {
        return common::unavailable("redis-server");
    };
    let shards = 6;
    for (batch, crash) in [
        (1, [700, 1_900]),
        (37, [1_000, 2_222]),
        (1_000, [1_500, 2_500]),
    ] {
        let run = common::crash_run(&url, shards, batch, 20_000, crash);
        println!(
            "crash test, batch {batch}: {:.1} s, {} events, {shards} shards, {} workers; crashed mid-batch: {:?} (name, entries applied); SIGKILLed: {:?}; {} actions, {} expected",
            run.seconds,
            run.events,
            run.workers,
            run.injected,
            run.killed,
            run.got.len(),
            run.want.len()
        );
        assert_eq!(run.injected.len(), 2, "both crashes happened");
        assert_eq!(
            run.got.len(),
            run.want.len(),
            "nothing lost, nothing doubled"
        );
        assert!(run.got == run.want, "the same actions, ids included");
    }
}
