#!/usr/bin/env bash
# A 3-node swarm on this machine, started from config/loopback/{a,b,c}.ini, and
# actor-chat's REPL joined to it through node c. Makes the demo model those files name
# (build/demo/stories260k-q8_0.gguf) with the model maker if it is not there. The nodes'
# output goes to build/demo/node-{a,b,c}.log; leaving the REPL stops them (SIGTERM:
# they drain and leave). Arguments go to actor-chat: `bash scripts/swarm.sh -n 40`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target actor-chat actor-node corolla > /dev/null

model=build/demo/stories260k-q8_0.gguf
mkdir -p build/demo
[ -f "$model" ] || build/apps/corolla gguf make --preset stories260k --type q8_0 --seed 42 \
  -o "$model" >&2

pids=()
stop_nodes() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for node in a b c; do tail -n 2 "build/demo/node-$node.log" >&2; done
}
trap stop_nodes EXIT

for node in a b c; do
  log="build/demo/node-$node.log"
  build/apps/actor-node --config "config/loopback/$node.ini" > "$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "serving blocks" "$log" && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  head -n 3 "$log" >&2
done

build/apps/actor-chat --config config/loopback/c.ini "$@"
