#!/bin/bash
# Side by side: 2 workers of the first design (OLD, a siyu-workers built
# at 9dfb934) and of this one (NEW), over the bundled sample, 4 shards,
# redis-server on loopback; the time from the workers' start to the last
# of the 24,407 actions in Redis, three rounds alternating.
#
#   git worktree add /tmp/old 9dfb934 && (cd /tmp/old && cargo build --release -p siyu-workers)
#   cargo build --release -p siyu-workers
#   OLD=/tmp/old/target/release/siyu-workers workers/benches/old_and_new.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=${PORT:-16999}
OLD=${OLD:?set OLD to a siyu-workers built at 9dfb934}
NEW=${NEW:-$ROOT/target/release/siyu-workers}
RULES=$ROOT/examples/sop/sop.siyu
EV=$ROOT/examples/sop/events.jsonl
cd /tmp && redis-server --port $PORT --save "" --appendonly no >/dev/null 2>&1 &
RPID=$!
sleep 0.5
R="redis-cli -p $PORT"
count_old() { $R LLEN siyu:actions; }
count_new() { local n=0; for s in 0 1 2 3; do n=$((n + $($R LLEN "siyu:{$s}:actions"))); done; echo $n; }
for round in 1 2 3; do
  for which in old new; do
    $R FLUSHALL >/dev/null
    if [ $which = old ]; then
      $OLD produce redis://127.0.0.1:$PORT/ 4 $EV
    else
      $NEW --redis redis://127.0.0.1:$PORT/ --shards 4 produce $EV 2>/dev/null
    fi
    t0=$(date +%s.%N)
    if [ $which = old ]; then
      $OLD work redis://127.0.0.1:$PORT/ 4 $RULES a & P1=$!
      $OLD work redis://127.0.0.1:$PORT/ 4 $RULES b & P2=$!
    else
      $NEW --redis redis://127.0.0.1:$PORT/ --shards 4 work $RULES --name a --metrics-every 0 2>/dev/null & P1=$!
      $NEW --redis redis://127.0.0.1:$PORT/ --shards 4 work $RULES --name b --metrics-every 0 2>/dev/null & P2=$!
    fi
    while [ "$(count_$which)" -lt 24407 ]; do sleep 0.005; done
    t1=$(date +%s.%N)
    kill $P1 $P2; wait $P1 $P2 2>/dev/null
    echo "round $round $which: $(echo "$t1 - $t0" | bc) s, $(count_$which) actions"
  done
done
kill $RPID
