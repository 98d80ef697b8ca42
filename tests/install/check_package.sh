#!/usr/bin/env bash
# The installed package serves an application as the README says: `cmake --install`
# into a fresh prefix, the embedding example (apps/embedding) configured against it with
# find_package(corolla) and built, then run against the installed actor-node on a model
# the installed `corolla` makes. Arguments: Corolla's build directory, its source directory.
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
node_pid=
cleanup() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "check_package: $1" >&2
  if [ -n "${2:-}" ]; then cat "$2" >&2; fi
  exit 1
}

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log" ||
  fail "cmake --install failed" "$work/install.log"
for f in bin/corolla bin/actor-node bin/actor-chat include/corolla/actors/swarm_node.hpp \
  share/corolla/config/defaults.ini; do
  [ -e "$work/prefix/$f" ] || fail "not installed: $f"
done
config=$(find "$work/prefix" -name corollaConfig.cmake)
[ -n "$config" ] || fail "no corollaConfig.cmake installed"
echo "installed; package config at ${config#"$work/prefix/"}"

cmake -S "$source/apps/embedding" -B "$work/app" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" 2>&1 ||
  fail "find_package(corolla) against the installed prefix failed" "$work/configure.log"
cmake --build "$work/app" > "$work/build.log" 2>&1 ||
  fail "the embedding example did not build against the package" "$work/build.log"
echo "built apps/embedding against the package"

model="$work/model.gguf"
"$work/prefix/bin/corolla" gguf make --preset stories260k --type q8_0 --seed 7 -o "$model" > /dev/null
# The log exists before the node starts: the poll below must not race the redirection
# (under set -e, a sed that can not read it ended the script).
: > "$work/node.log"
"$work/prefix/bin/actor-node" --name a --model "$model" --span 0:2 --port 0 --codec f32 \
  > "$work/node.log" 2>&1 &
node_pid=$!
address=
for _ in $(seq 200); do
  address=$(sed -n 's/^a: listening on \([0-9.]*:[0-9]*\).*/\1/p' "$work/node.log")
  if [ -n "$address" ] && grep -q "serving blocks" "$work/node.log"; then break; fi
  sleep 0.05
done
grep -q "serving blocks" "$work/node.log" || fail "the installed actor-node did not start" "$work/node.log"

"$work/app/embedded-node" --peer="$address" --model="$model" --span=2:5 --codec=f32 \
  --max-tokens=8 > "$work/app.log" 2>&1 || fail "the example failed" "$work/app.log"
grep -q "route: a \[0, 2) embedded \[2, 5)" "$work/app.log" ||
  fail "the example did not generate through both nodes" "$work/app.log"
cat "$work/app.log"
kill -TERM "$node_pid"
wait "$node_pid" || fail "actor-node did not exit cleanly" "$work/node.log"
node_pid=
