#!/usr/bin/env bash
# The swarm behind an OpenAI-compatible HTTP API on one machine: installs dependencies,
# builds, and runs actor-chat --local --http (a routing table, 3 servers splitting the
# blocks, the gateway) until Ctrl-C. Without --model it makes the demo model on its first
# run, as scripts/demo.sh does. The address is COROLLA_HTTP (default 127.0.0.1:8080);
# other arguments go to actor-chat: `bash scripts/serve.sh --model FILE.gguf --http-api-key K`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target actor-chat corolla > /dev/null

exec build/apps/actor-chat --local --http "${COROLLA_HTTP:-127.0.0.1:8080}" "$@"
