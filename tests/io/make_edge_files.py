#!/usr/bin/python3
"""Writes HDF5 files at the edges of the layout (DESIGN.md section 6) for
validation/plot_fields.py, starting from two `hjbft exact` outputs:
  edge_history_1d.h5  1-D + /density (same shape as /value) + a full /history
  edge_history_2d.h5  2-D + /density + /history with zeros, NaNs, one iteration only
  edge_one_time.h5    one saved time, an axis of one point, NaN in /value, no attributes
  edge_bare.h5        /grid, /time and /value only (no /control), text attribute as str
Usage: make_edge_files.py EXACT_1D.h5 EXACT_2D.h5 OUTDIR"""
import os
import shutil
import sys

import h5py
import numpy as np

src1, src2, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)

p = os.path.join(out, "edge_history_1d.h5")
shutil.copy(src1, p)
with h5py.File(p, "a") as f:
    v = f["value"][...]
    f["density"] = np.exp(v - v.max(axis=-1, keepdims=True))
    n = 8
    err = 0.5 ** np.arange(n)
    for k in ("control_change", "value_change", "hjb_residual", "error_value_sup", "error_value_l2",
              "error_control_sup", "error_control_l2"):
        f["history/" + k] = err * (1 + 0.1 * len(k))
    f["history/error_ratio"] = np.full(n, 0.5)
    f["history/sup_grad_u"] = np.linspace(1, 2, n)
    f["history/sup_hess_v"] = np.linspace(3, 2, n)
    f["history/linear_iterations"] = np.arange(n) * 10.0 + 5
    f["history/wall_time"] = np.linspace(0.1, 1, n)

p = os.path.join(out, "edge_history_2d.h5")
shutil.copy(src2, p)
with h5py.File(p, "a") as f:
    f["density"] = np.abs(f["value"][...])
    f["history/control_change"] = np.array([0.0])
    f["history/value_change"] = np.array([np.nan])
    f["history/error_ratio"] = np.array([-1.0])
    f["history/wall_time"] = np.array([0.25])

p = os.path.join(out, "edge_one_time.h5")
with h5py.File(p, "w") as f:
    f["grid/x0"] = np.linspace(-1, 1, 5)
    f["grid/x1"] = np.array([0.0])
    f["time"] = np.array([1.0])
    v = np.arange(5.0).reshape(1, 1, 5)
    v[0, 0, 2] = np.nan
    f["value"] = v
    f["control"] = np.zeros((1, 1, 5, 2))

p = os.path.join(out, "edge_bare.h5")
with h5py.File(p, "w") as f:
    f["grid/x0"] = np.linspace(0, 1, 3)
    f["time"] = np.array([0.0, 0.5])
    f["value"] = np.ones((2, 3))
    f.attrs["solver"] = "synthetic"
    f.attrs["dim"] = 1.0
print("make_edge_files.py: wrote 4 files in %s" % out)
