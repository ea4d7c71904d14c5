#!/usr/bin/env bash
# Installs what is missing, builds, and runs the quick test suite (unit, CLI,
# MPI on 1/2/4 ranks) with CTest.  Long validation runs: ctest -L validation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build -L "quick|unit" -j2 --output-on-failure
