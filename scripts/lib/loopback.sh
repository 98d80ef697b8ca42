# Shared by scripts/swarm.sh and scripts/failover.sh: the loopback swarm of
# config/loopback/ on this machine. Sourced, from the repository root.

# Installs what is missing, builds the programs and makes the demo model the config
# files name (build/demo/stories260k-q8_0.gguf) if it is not there.
loopback_prepare() {
  bash scripts/install-deps.sh >&2
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j"$(nproc)" --target actor-chat actor-node corolla > /dev/null
  model=build/demo/stories260k-q8_0.gguf
  mkdir -p build/demo
  [ -f "$model" ] || build/apps/corolla gguf make --preset stories260k --type q8_0 --seed 42 \
    -o "$model" >&2
}

node_pids=()
declare -A node_pid

# loopback_start NAME ARGS...: an actor-node with ARGS, its output in build/demo/node-NAME.log;
# returns once it serves (its first lines echoed to stderr).
loopback_start() {
  local name=$1
  shift
  local log="build/demo/node-$name.log"
  build/apps/actor-node "$@" > "$log" 2>&1 3>&- &  # fd 3: failover.sh's chat input
  node_pids+=($!)
  node_pid[$name]=$!
  for _ in $(seq 100); do
    grep -q "serving blocks" "$log" && break
    kill -0 "${node_pid[$name]}" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  head -n 3 "$log" >&2
}

# Stops every node started (SIGTERM: they drain and leave) and shows how each ended.
loopback_stop() {
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for name in "${!node_pid[@]}"; do tail -n 2 "build/demo/node-$name.log" >&2; done
}
