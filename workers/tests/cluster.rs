//! The crash test on a Redis Cluster of three masters the test starts on
//! loopback ports: every script a worker runs names keys of one shard,
//! hash-tagged to one slot, so none is refused with CROSSSLOT, and the
//! shards really are spread over the nodes.
//!
//! Needs `redis-server` and `redis-cli` (CI installs them; there the test
//! may not skip).

mod common;

#[test]
fn a_cluster_of_three_masters_serves_the_shards_and_survives_crashes() {
    let Some((_nodes, url)) = common::cluster() else {
        return common::unavailable("a 3-master redis cluster");
    };
    let shards = 6;
    common::crash_run(&url, shards, 200, 20_000, [800, 2_100])
        .check("cluster crash test, 3 masters, batch 200", shards);
    let nodes = common::nodes_holding_keys(&url);
    println!("keys on each master: {nodes:?}");
    assert!(
        nodes.iter().filter(|&&n| n > 0).count() >= 2,
        "the shards are spread over the masters: {nodes:?}"
    );
}
