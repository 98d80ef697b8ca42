#!/usr/bin/env bash
# Installs every Debian package Corolla needs to build, test, fuzz and benchmark, and the
# npm packages of the HTTP tests' JavaScript clients.
# Idempotent: apt-get skips what is already installed. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake g++ make clang libclang-rt-dev
  libcaf-dev libssl-dev openssl
  libdnnl-dev ocl-icd-opencl-dev
  libcereal-dev
  libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libomp-dev
  libreadline-dev
  qemu-user
  libcpp-httplib-dev nlohmann-json3-dev
  libglpk-dev
  chromium
)

# The HTTP tests' real clients (the openai package, Playwright for chromium), from the npm
# registry with the machine's Node.js, pinned by tests/http/js/package-lock.json.
install_npm_packages() {
  local dir=tests/http/js
  if ! command -v npm > /dev/null; then
    echo "install-deps: no npm: the HTTP tests with real JavaScript clients will skip"
    return
  fi
  if [ -d "$dir/node_modules/openai" ] && [ -d "$dir/node_modules/playwright-core" ]; then
    echo "install-deps: npm packages present"
    return
  fi
  echo "install-deps: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  "${as_root[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
install_npm_packages
