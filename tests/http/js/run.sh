#!/usr/bin/env bash
# Runs one JavaScript client test file with Node's test runner; exits 77 (ctest: skipped)
# when Node.js or the npm packages (scripts/install-deps.sh installs them) are missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary_dir="$1"
test_file="$2"
if ! command -v node > /dev/null; then
  echo "skipped: no Node.js (the HTTP tests' real clients run on it)"
  exit 77
fi
if [ ! -d "$here/node_modules/openai" ] || [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "skipped: npm packages missing: run scripts/install-deps.sh (npm ci in tests/http/js)"
  exit 77
fi
cd "$here"
COROLLA_BINARY_DIR="$binary_dir" exec node --test --test-reporter=spec "$test_file"
