#!/usr/bin/env bash
# The default build on older CPUs, emulated by qemu-user (Debian's qemu-user): corolla
# generate under `qemu-x86_64 -cpu Nehalem` (SSE4.2, no AVX: the portable path) and
# `-cpu Haswell` (AVX2 + FMA, no AVX-512: the avx2 path) writes the same greedy text as
# the native run on this CPU. Skips (exit code 77) without qemu-x86_64.
# Usage: older_cpus_test.sh BUILD_DIR
set -euo pipefail
build=$1
if ! command -v qemu-x86_64 > /dev/null; then
  echo "qemu-x86_64 not found (Debian package qemu-user): skipped"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corolla="$build/apps/corolla"
"$corolla" gguf make --preset stories260k --type q8_0 --seed 7 -o "$work/model.gguf" > /dev/null
# GOMP_SPINCOUNT set: the program does not re-execute itself (apps/openmp_spin.hpp),
# which would leave the emulator.
export GOMP_SPINCOUNT=10000
# The greedy text on stdout; the stats line (which names the kernel path) in $work/stats.
run() {
  "$@" "$corolla" generate --model "$work/model.gguf" --prompt "Once upon a time" \
    --max-tokens 24 --temperature 0 2> "$work/stats"
}
native=$(run env)
for cpu in Nehalem:portable Haswell:avx2; do
  emulated=$(run qemu-x86_64 -cpu "${cpu%%:*}")
  path=$(grep -o "^kernels: int8 [a-z0-9-]*" "$work/stats" | sed 's/^kernels: //')
  echo "-cpu ${cpu%%:*}: $path"
  if [ "$path" != "int8 ${cpu##*:}" ]; then
    echo "FAIL: expected int8 ${cpu##*:}"
    exit 1
  fi
  if [ "$emulated" != "$native" ]; then
    printf 'FAIL: -cpu %s wrote\n%s\nnative:\n%s\n' "${cpu%%:*}" "$emulated" "$native"
    exit 1
  fi
done
echo "the same text on every path: $native"
