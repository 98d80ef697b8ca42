#!/usr/bin/env bash
# Fuzzes what reads untrusted bytes, and fails on any finding:
#  1. the GGUF reader (libFuzzer, gguf_fuzz), seeded with ../shared/models/stories260K.gguf
#     (when present) and model-maker files;
#  2. the wire (libFuzzer, wire_fuzz: the guard in front of CAF and Corolla's message
#     decoders), seeded with real traffic captured by `corolla bench wire --capture`;
#  3. a live actor-node: `corolla bench wire` sends FRAMES mutated frames and checks the
#     node stays alive, small and correct.
# The libFuzzer targets build in a clang + sanitizer tree (build-fuzz/) and run SECONDS
# each; their mutation seed is fixed (1) so a CI run explores what a local run of the same
# length explored.
# Usage: scripts/fuzz.sh [SECONDS] [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
frames=${2:-1000000}

cmake -S . -B build-fuzz -DCOROLLA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ > build-fuzz.log
cmake --build build-fuzz -j"$(nproc)" --target gguf_fuzz wire_fuzz >> build-fuzz.log
if [ ! -x build/apps/corolla ] || [ ! -x build/apps/actor-node ]; then
  cmake -S . -B build > /dev/null && cmake --build build -j"$(nproc)" --target corolla actor-node > /dev/null
fi

# Runs libFuzzer target $1 on corpus build-fuzz/$1-corpus with seeds from build-fuzz/$1-seeds.
run_target() {
  local target=$1 max_len=$2
  echo "fuzz: running $target for ${seconds}s"
  local rc=0
  mkdir -p "build-fuzz/$target-corpus"
  "build-fuzz/tests/fuzz/$target" "build-fuzz/$target-corpus" "build-fuzz/$target-seeds" \
    -max_total_time="$seconds" -seed=1 -timeout=10 -rss_limit_mb=4096 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="build-fuzz/$target-" > "build-fuzz/$target.log" 2>&1 || rc=$?
  grep -E "INITED|DONE|ERROR|SUMMARY|number_of_executed_units|peak_rss" "build-fuzz/$target.log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $target FINDING (exit $rc); see build-fuzz/$target.log and build-fuzz/$target-crash-*"
    tail -40 "build-fuzz/$target.log"
    exit 1
  fi
}

seeds=build-fuzz/gguf_fuzz-seeds
mkdir -p "$seeds"
if [ -f ../shared/models/stories260K.gguf ]; then
  cp ../shared/models/stories260K.gguf "$seeds/"
else
  echo "fuzz: ../shared/models/stories260K.gguf absent; seeding with model-maker files only"
fi
build/apps/corolla gguf make --dim 32 --hidden 64 --layers 1 --heads 2 --vocab 360 --type f32 \
  --seed 1 -o "$seeds/maker-f32.gguf" > /dev/null
build/apps/corolla gguf make --dim 32 --hidden 64 --layers 1 --heads 4 --kv-heads 2 --vocab 400 \
  --type q8_0 --seed 2 -o "$seeds/maker-q8_0.gguf" > /dev/null
run_target gguf_fuzz 1300000

rm -rf build-fuzz/wire_fuzz-seeds
build/apps/corolla bench wire --frames 0 --capture build-fuzz/wire_fuzz-seeds
run_target wire_fuzz 65536

echo "fuzz: $frames fuzzed frames against a live actor-node"
build/apps/corolla bench wire --frames "$frames" --check-every $((frames / 5 > 0 ? frames / 5 : 1))
echo "fuzz: no finding"
