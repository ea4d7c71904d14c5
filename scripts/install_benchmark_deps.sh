#!/usr/bin/env bash
# Installs (as root, only what is missing) the benchmark-only dependencies: Debian's PyTorch,
# the peer of validation/benchmark_neural.py, with an optimized BLAS (OpenBLAS; without it
# PyTorch's float64 GEMMs run on the reference BLAS and the comparison flatters hjbft), and
# perf for the profiles.  Not part of the test command: the tests never need them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh python3-torch libopenblas0-pthread linux-perf
