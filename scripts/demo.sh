#!/usr/bin/env bash
# The README's main job: install dependencies, build, and open actor-chat's REPL on a
# whole swarm inside this process (a routing table, 3 servers splitting the blocks, a
# client). Without --model, actor-chat makes a demo model with the model maker on its
# first run (stories260K's shape, random weights, synthetic vocabulary). Arguments go
# to actor-chat: `bash scripts/demo.sh --model FILE.gguf --servers 5`.
# With stdin not a terminal it answers one prompt per line (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target actor-chat corolla > /dev/null

exec build/apps/actor-chat --local "$@"
