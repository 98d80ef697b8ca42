#!/usr/bin/env bash
# Failover seen from the REPL: the loopback swarm of scripts/swarm.sh, actor-chat joined
# through node c with its session open on a -> b -> c, then a spare for b's blocks (b2,
# port 7704), a long answer asked for, and node b killed with SIGKILL in the middle of
# it. The answer goes on: the session notices the lost connection, routes blocks [2, 4)
# to b2, replays there what it had sent b, and carries on; the REPL says so after the
# answer. FAILOVER_SIGNAL=TERM stops b the planned way instead: it drains, b2 takes the
# session's caches over from it, nothing is replayed. Arguments go to actor-chat
# (default: 300 greedy tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/loopback.sh

loopback_prepare
chat_pid=
cleanup() {
  exec 3>&-
  [ -n "$chat_pid" ] && wait "$chat_pid" 2>/dev/null || true
  loopback_stop
}
trap cleanup EXIT
for node in a b c; do loopback_start "$node" --config "config/loopback/$node.ini"; done

fifo=build/demo/chat.in
rm -f "$fifo" build/demo/chat.err
mkfifo "$fifo"
build/apps/actor-chat --config config/loopback/c.ini --max-tokens 300 --temperature 0 "$@" \
  < "$fifo" 2> >(tee build/demo/chat.err >&2) &
chat_pid=$!
exec 3> "$fifo"
for _ in $(seq 100); do
  grep -q "joined the swarm" build/demo/chat.err 2>/dev/null && break
  sleep 0.1
done

loopback_start b2 --config config/loopback/b.ini --name b2 --port 7704
sleep 1  # a gossip period or two: the client's table learns of b2
echo "Once upon a time" >&3
sleep 0.2
signal=${FAILOVER_SIGNAL:-KILL}
echo "kill -$signal b (pid ${node_pid[b]}) while the answer streams" >&2
kill "-$signal" "${node_pid[b]}"
wait "${node_pid[b]}" 2>/dev/null || true  # reaped here: no "Killed" notice from bash
echo "/route" >&3
exec 3>&-
wait "$chat_pid"
chat_pid=
