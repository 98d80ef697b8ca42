#!/usr/bin/env bash
# The README's main job: install dependencies, build, make a demo model with the
# model maker (stories260K's shape, random weights, synthetic vocabulary) and
# print what is in it. Re-running skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target corolla

mkdir -p demo
model=demo/stories260k-q8_0.gguf
[ -f "$model" ] || build/apps/corolla gguf make --preset stories260k --type q8_0 --seed 42 -o "$model"
build/apps/corolla gguf info "$model"
