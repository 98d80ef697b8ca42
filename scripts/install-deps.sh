#!/usr/bin/env bash
# Installs every Debian package Corolla needs to build, test, fuzz and benchmark.
# Idempotent: apt-get skips what is already installed. Uses sudo when not root.
set -euo pipefail

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
)

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
