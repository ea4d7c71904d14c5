#!/usr/bin/env bash
# Installs what is missing, builds, and runs the test suite with CTest: unit, CLI and
# MPI tests on 1/2/4 ranks, and the reduced (--quick) version of every validation report,
# whose checks fail the run like any test.  The full validation: validation/run_all.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build -L "quick|unit|validation" -j2 --output-on-failure
