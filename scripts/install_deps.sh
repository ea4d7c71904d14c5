#!/usr/bin/env bash
# Installs the Debian packages hjbft needs (as root), only those that are missing.
# Extra package names given as arguments are installed too (the validation's and the
# benchmarks' own dependencies: scripts/install_validation_deps.sh, install_benchmark_deps.sh).
set -euo pipefail
pkgs=(cmake g++ make pkg-config libpetsc-real-dev libhdf5-openmpi-dev libopenmpi-dev openmpi-bin
      libeigen3-dev libboost-dev catch2 python3-h5py python3-matplotlib "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
