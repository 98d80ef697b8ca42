#!/usr/bin/env bash
# A 3-node swarm on this machine, started from config/loopback/{a,b,c}.ini, and
# actor-chat's REPL joined to it through node c. Makes the demo model those files name
# (build/demo/stories260k-q8_0.gguf) with the model maker if it is not there. The nodes'
# output goes to build/demo/node-{a,b,c}.log; leaving the REPL stops them (SIGTERM:
# they drain and leave). Arguments go to actor-chat: `bash scripts/swarm.sh -n 40`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/loopback.sh

loopback_prepare
trap loopback_stop EXIT
for node in a b c; do loopback_start "$node" --config "config/loopback/$node.ini"; done

build/apps/actor-chat --config config/loopback/c.ini "$@"
