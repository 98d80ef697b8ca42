#!/usr/bin/env bash
# The README's main job: install dependencies, build, make a demo model with the
# model maker (stories260K's shape, random weights, synthetic vocabulary), show
# what is in it and generate from it on the int8 kernels. Re-running skips what is
# already done. Pass a GGUF of your own to generate from it instead.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target corolla

mkdir -p demo
model=demo/stories260k-q8_0.gguf
[ -f "$model" ] || build/apps/corolla gguf make --preset stories260k --type q8_0 --seed 42 -o "$model"
if [ $# -ge 1 ]; then
  model=$1
else
  build/apps/corolla gguf info "$model" | sed -n 1,6p
fi
build/apps/corolla generate --model "$model" --prompt "Once upon a time" --max-tokens 48 \
  --temperature 0.8 --seed 1
