#!/usr/bin/env bash
# Builds everything and runs the whole test suite (ctest lists every test).
# Tests that need ../shared (the real stories260K model, llama.cpp's reference
# outputs) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
