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
        common::crash_run(&url, shards, batch, 20_000, crash)
            .check(&format!("crash test, batch {batch}"), shards);
    }
}
