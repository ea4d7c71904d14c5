#!/usr/bin/python3
"""Opens an hjbft .xmf with ParaView's XDMF reader (when python3-paraview is
installed; exit 77 otherwise) and checks, at every saved time, that the
fields it reads equal the HDF5 datasets and that the points sit at the /grid
coordinates.  Usage: check_xdmf_paraview.py FILE.xmf"""
import sys

try:
    import numpy as np
    import h5py
    from paraview import servermanager as sm
    from paraview.simple import XDMFReader
    from paraview.vtk.numpy_interface import dataset_adapter as dsa
except ImportError as e:
    print("check_xdmf_paraview.py: skipped: %s" % e)
    sys.exit(77)

xmf = sys.argv[1]
h = h5py.File(xmf[:-4] + ".h5", "r")
times = h["time"][...]
axes = []
while "grid/x%d" % len(axes) in h:
    axes.append(h["grid/x%d" % len(axes)][...])
reader = XDMFReader(FileNames=[xmf])
rtimes = list(reader.TimestepValues) if len(times) > 1 else [times[0]]
assert np.allclose(rtimes, times, rtol=0, atol=1e-12), (rtimes, times)
worst = 0.0
for j, t in enumerate(times):
    reader.UpdatePipeline(t)
    d = sm.Fetch(reader)
    while d.IsA("vtkCompositeDataSet"):
        d = d.GetBlock(0)
    w = dsa.WrapDataObject(d)
    dims = d.GetDimensions()
    assert list(dims) == [len(axes[a]) if a < len(axes) else 1 for a in range(3)], dims
    pts = np.array([d.GetPoint(k) for k in range(d.GetNumberOfPoints())])
    for a, x in enumerate(axes):  # point k has x0 fastest, as in the file
        idx = np.unravel_index(np.arange(pts.shape[0]), tuple(reversed(dims)))
        worst = max(worst, np.max(np.abs(pts[:, a] - x[idx[2 - a]])))
    worst = max(worst, np.max(np.abs(np.asarray(w.PointData["value"]).ravel() - h["value"][j].ravel())))
    c = h["control"][j]
    for k in range(c.shape[-1]):
        worst = max(worst, np.max(np.abs(np.asarray(w.PointData["u%d" % k]).ravel() - c[..., k].ravel())))
    if "control" in w.PointData.keys():
        worst = max(worst, np.max(np.abs(np.asarray(w.PointData["control"]).reshape(-1, 3) - c.reshape(-1, 3))))
if not worst <= 1e-12:
    print("check_xdmf_paraview.py: FAIL: ParaView reads fields/points off by %g" % worst)
    sys.exit(1)
print("check_xdmf_paraview.py: ok: ParaView reads %s (%d times, dims %s) exactly" % (xmf, len(times), dims))
