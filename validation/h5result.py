"""Reading an hjbft result file for the validation scripts (shared by them)."""
import h5py
import numpy as np


def read_result(path):
    """Root attributes (strings decoded, numbers as float/list) and /history columns (lists) of a result file."""
    attrs, hist = {}, {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode(errors="replace").rstrip("\0")
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, (np.floating, np.integer)):
                v = float(v)
            attrs[k] = v
        if "history" in f:
            for k in f["history"]:
                hist[k] = [float(x) for x in f["history"][k][:]]
    return attrs, hist
