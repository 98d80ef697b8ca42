#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer for a bounded time (default 60 s).
# Builds a clang + sanitizer tree in build-fuzz/, seeds the corpus with
# ../shared/models/stories260K.gguf (when present) and model-maker files made by
# build/apps/corolla, and fails on any finding. The mutation seed is fixed (1) so a
# CI run explores what a local run of the same length explored.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

cmake -S . -B build-fuzz -DCOROLLA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ > build-fuzz.log
cmake --build build-fuzz -j"$(nproc)" --target gguf_fuzz >> build-fuzz.log

seeds=build-fuzz/seeds
corpus=build-fuzz/corpus
mkdir -p "$seeds" "$corpus"
if [ -f ../shared/models/stories260K.gguf ]; then
  cp ../shared/models/stories260K.gguf "$seeds/"
else
  echo "fuzz: ../shared/models/stories260K.gguf absent; seeding with model-maker files only"
fi
if [ ! -x build/apps/corolla ]; then
  cmake -S . -B build > /dev/null && cmake --build build -j"$(nproc)" --target corolla > /dev/null
fi
build/apps/corolla gguf make --dim 32 --hidden 64 --layers 1 --heads 2 --vocab 360 --type f32 \
  --seed 1 -o "$seeds/maker-f32.gguf" > /dev/null
build/apps/corolla gguf make --dim 32 --hidden 64 --layers 1 --heads 4 --kv-heads 2 --vocab 400 \
  --type q8_0 --seed 2 -o "$seeds/maker-q8_0.gguf" > /dev/null

echo "fuzz: running gguf_fuzz for ${seconds}s"
rc=0
build-fuzz/tests/fuzz/gguf_fuzz "$corpus" "$seeds" -max_total_time="$seconds" \
  -seed=1 -timeout=10 -rss_limit_mb=4096 -max_len=1300000 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/ > build-fuzz/fuzz.log 2>&1 || rc=$?
grep -E "INITED|DONE|ERROR|SUMMARY|number_of_executed_units|peak_rss" build-fuzz/fuzz.log || true
if [ "$rc" -ne 0 ]; then
  echo "fuzz: FINDING (exit $rc); see build-fuzz/fuzz.log and the crash-* artifact in build-fuzz/"
  tail -40 build-fuzz/fuzz.log
  exit 1
fi
echo "fuzz: no finding"
