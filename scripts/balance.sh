#!/usr/bin/env bash
# Balancing seen from the nodes: four actor-nodes of unequal speed (fault-block-ms: a
# block pass takes 4, 16, 8 and 12 ms, as on machines that far apart; ports 7711-7714),
# all started at block 0 of the demo model's five (w on [0, 3), the others on [0, 2)),
# so blocks 3 and 4 have no server, with balancers checking every 2 s (jittered)
# instead of every minute. They move until every block is served; `corolla plan --peer`
# then shows the live spans beside the plan and what one session's step should cost,
# and a greedy answer through the swarm shows what it does cost. Then the node that
# moved first is killed with SIGKILL, and another moves to re-cover its blocks. Each
# node's balancing lines are shown as they happened. `bash scripts/balance.sh plan` runs
# the balancers in plan mode (balance-mode = plan) instead of Petals' rule 2.
set -euo pipefail
mode=${1:-petals}
if [ "$mode" != petals ] && [ "$mode" != plan ]; then
  echo "usage: bash scripts/balance.sh [petals|plan]" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
source scripts/lib/loopback.sh

loopback_prepare
trap loopback_stop EXIT
balancing=(--balance on --mean-balance-check-period-ms 2000 --balance-grace-ms 1000
  --balance-mode "$mode")
loopback_start w --config config/loopback/a.ini --name w --port 7711 --span 0:3 \
  --fault-block-ms 4 "${balancing[@]}"
speeds=(16 8 12)
for i in 2 3 4; do
  name=$(echo x y z | cut -d' ' -f$((i - 1)))
  loopback_start "$name" --config config/loopback/a.ini --name "$name" --port "771$i" \
    --seed 127.0.0.1:7711 --fault-block-ms "${speeds[$((i - 2))]}" "${balancing[@]}"
done

sleep 6
echo "--- after 6 s:" >&2
cat build/demo/node-{w,x,y,z}.log | grep -h "moving from\|now serving" >&2 || true
echo "--- corolla plan --peer 127.0.0.1:7711:" >&2
build/apps/corolla plan --peer 127.0.0.1:7711 --model "$model" >&2
echo "--- a greedy answer through the swarm (actor-chat's /stats):" >&2
printf 'Once upon a time\n/stats\n' |
  build/apps/actor-chat --peer 127.0.0.1:7711 --model "$model" --max-tokens 32 \
    --temperature 0 2>&1 | grep -m 1 "tokens/s" >&2 || true
first=$(cat build/demo/node-{w,x,y,z}.log | grep -h "now serving" | head -n 1 | cut -d: -f1)
if [ -z "$first" ]; then
  echo "no node moved" >&2
  exit 1
fi
declare -A lines_before
for name in w x y z; do lines_before[$name]=$(wc -l < "build/demo/node-$name.log"); done
echo "--- kill -9 $first (pid ${node_pid[$first]}), the first to move" >&2
{ kill -KILL "${node_pid[$first]}" && wait "${node_pid[$first]}"; } 2>/dev/null || true
sleep 6
echo "--- 6 s later:" >&2
for name in w x y z; do
  [ "$name" = "$first" ] && continue
  tail -n +"$((lines_before[$name] + 1))" "build/demo/node-$name.log" |
    grep -h "moving from\|now serving" >&2 || true
done
