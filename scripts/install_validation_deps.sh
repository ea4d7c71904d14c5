#!/usr/bin/env bash
# Installs (as root, only what is missing) what the full validation needs beyond the test
# suite: ParaView's Python module, so that the XDMF files are read back by ParaView itself
# (tests/io/check_xdmf_paraview.py runs instead of skipping).  Called by validation/run_all.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh python3-paraview
