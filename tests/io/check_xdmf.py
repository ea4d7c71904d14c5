#!/usr/bin/python3
"""Checks the .xmf companion of an hjbft HDF5 file: well-formed XML, one
uniform grid per saved time with the file's /time, a 3DCoRectMesh whose
origin/spacing/point counts match /grid, and every HyperSlab DataItem
consistent with the dataset it points into (shape, start + stride * (count-1)
inside the dataset, number of values = number of mesh points, times 3 for a
vector).  Usage: check_xdmf.py FILE.xmf [expected attribute names...]
Exit status 0 ok, 1 failed, 77 skipped (no h5py)."""
import os
import sys
import xml.etree.ElementTree as ET

try:
    import numpy as np
    import h5py
except ImportError:
    print("check_xdmf.py: skipped: no numpy/h5py")
    sys.exit(77)


def ints(text):
    return [int(v) for v in text.split()]


def fail(msg):
    print("check_xdmf.py: FAIL: " + msg)
    sys.exit(1)


def main():
    xmf = sys.argv[1]
    expected_attrs = set(sys.argv[2:])
    root = ET.parse(xmf).getroot()  # raises on malformed XML
    if root.tag != "Xdmf":
        fail("root element is %s, not Xdmf" % root.tag)
    coll = root.find("Domain/Grid")
    if coll is None or coll.get("CollectionType") != "Temporal":
        fail("no temporal collection under Domain")
    grids = coll.findall("Grid")
    h5name = None
    nchecked = 0
    for g in grids:
        for it in g.iter("DataItem"):
            if it.get("Format") == "HDF":
                h5name = it.text.strip().split(":")[0]
    if h5name is None or os.path.isabs(h5name) or "/" in h5name:
        fail("HDF references must name the .h5 file relative to the .xmf, got %r" % h5name)
    h5path = os.path.join(os.path.dirname(os.path.abspath(xmf)), h5name)
    with h5py.File(h5path, "r") as f:
        times = f["time"][...]
        if len(grids) != len(times):
            fail("%d grids for %d saved times" % (len(grids), len(times)))
        axes = []
        while "grid/x%d" % len(axes) in f:
            axes.append(f["grid/x%d" % len(axes)][...])
        d = len(axes)
        # XDMF order: slowest first (z y x), padded to 3 axes with one point.
        mesh = [len(axes[a]) if a < d else 1 for a in (2, 1, 0)]
        origin = [axes[a][0] if a < d else 0.0 for a in (2, 1, 0)]
        npoints = int(np.prod(mesh))
        for j, g in enumerate(grids):
            t = float(g.find("Time").get("Value"))
            if abs(t - times[j]) > 1e-12 * max(1.0, abs(times[j])):
                fail("grid %d has Time %r, /time[%d] = %r" % (j, t, j, times[j]))
            topo = g.find("Topology")
            if topo.get("TopologyType") != "3DCoRectMesh" or ints(topo.get("Dimensions")) != mesh:
                fail("grid %d: topology %s %s, expected 3DCoRectMesh %s"
                     % (j, topo.get("TopologyType"), topo.get("Dimensions"), mesh))
            geo = g.find("Geometry")
            o, h = [[float(v) for v in it.text.split()] for it in geo.findall("DataItem")]
            for k, a in enumerate((2, 1, 0)):
                if a < d:
                    x = axes[a]
                    hx = (x[-1] - x[0]) / (len(x) - 1) if len(x) > 1 else None
                    if abs(o[k] - origin[k]) > 1e-12 * max(1.0, abs(origin[k])) or (
                            hx is not None and abs(h[k] - hx) > 1e-12 * abs(hx)):
                        fail("grid %d: origin/spacing %s %s do not match /grid/x%d" % (j, o, h, a))
            names = set()
            for attr in g.findall("Attribute"):
                names.add(attr.get("Name"))
                slab = attr.find("DataItem")
                if slab.get("ItemType") != "HyperSlab":
                    fail("attribute %s is not a HyperSlab" % attr.get("Name"))
                sel, data = slab.findall("DataItem")
                ref = data.text.strip()
                fname, dname = ref.split(":", 1)
                ds = f[dname]
                ddims = ints(data.get("Dimensions"))
                if list(ds.shape) != ddims:
                    fail("%s: Dimensions %s but the dataset has shape %s" % (ref, ddims, list(ds.shape)))
                r = len(ddims)
                if ints(sel.get("Dimensions")) != [3, r]:
                    fail("%s: hyperslab selection must be 3 x %d" % (ref, r))
                v = ints(sel.text)
                start, stride, count = v[:r], v[r:2 * r], v[2 * r:]
                for s_, st, c, n in zip(start, stride, count, ddims):
                    if s_ < 0 or st < 1 or c < 1 or s_ + st * (c - 1) >= n:
                        fail("%s: selection %s outside the dataset %s" % (ref, v, ddims))
                if start[0] != j or count[0] != 1:
                    fail("%s in grid %d selects time %d (count %d)" % (ref, j, start[0], count[0]))
                ncomp = 3 if attr.get("AttributeType") == "Vector" else 1
                if int(np.prod(count)) != npoints * ncomp or int(np.prod(ints(slab.get("Dimensions")))) != npoints * ncomp:
                    fail("%s: %d values selected for %d points x %d components"
                         % (ref, int(np.prod(count)), npoints, ncomp))
                nchecked += 1
            if expected_attrs and not expected_attrs <= names:
                fail("grid %d lacks attributes %s" % (j, sorted(expected_attrs - names)))
    print("check_xdmf.py: ok: %s, %d times, %d hyperslabs consistent with %s" % (xmf, len(grids), nchecked, h5name))


main()
