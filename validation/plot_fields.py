#!/usr/bin/python3
"""Plot an hjbft result file (the HDF5 layout of DESIGN.md section 6) as PNGs.

    /usr/bin/python3 validation/plot_fields.py FILE.h5 [-o OUTDIR]

Needs Debian's python3-h5py and python3-matplotlib (Agg backend, no display).
OUTDIR defaults to FILE_plots/ next to FILE.h5.  What is written (see
docs/plotting.md):

  1-D  value_heatmap.png    V(t, x) over (x, t)
       control_heatmap.png  u(t, x) over (x, t)
       value_lines.png      V(t, .) at up to 6 saved times
       control_lines.png    u(t, .) at up to 6 saved times
  2-D  value_slices.png     V at the first, middle and last saved time
       control_slices.png   |u| at the same times, with a quiver of u
  3-D  the same two files, on the middle z-slice (x2 = its middle grid value)
  any  density_*.png        /density, like the value, when the file has it
       history.png          the /history columns against the outer iteration

Every figure is titled with the file's solver and problem attributes.  The
script accepts any file of the layout: one saved time, axes of one point,
missing /control, /history or attributes, non-finite values (drawn blank).
"""
import argparse
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

try:
    import h5py  # noqa: E402
except ImportError:  # pragma: no cover
    sys.exit("plot_fields.py: needs h5py (Debian: apt-get install python3-h5py)")


def text_attr(f, name, default="?"):
    """A root attribute as text (h5py gives fixed-length strings as bytes)."""
    if name not in f.attrs:
        return default
    v = f.attrs[name]
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(()).item()
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", "replace").rstrip("\0")
    return str(v)


class Result:
    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            self.solver = text_attr(f, "solver")
            self.problem = text_attr(f, "problem")
            self.axes = []
            while "grid/x%d" % len(self.axes) in f and len(self.axes) < 3:
                self.axes.append(np.asarray(f["grid/x%d" % len(self.axes)][...], dtype=float).ravel())
            self.dim = len(self.axes)
            if self.dim == 0:
                raise ValueError("%s has no /grid/x0: not an hjbft output file" % path)
            self.spatial = tuple(len(x) for x in reversed(self.axes))  # (n_{d-1}, ..., n_0)
            self.time = np.asarray(f["time"][...], dtype=float).ravel() if "time" in f else None
            self.value = self._field(f, "value", 0)
            self.control = self._field(f, "control", self.dim)
            self.density = self._field(f, "density", 0)
            self.history = {}
            if "history" in f and isinstance(f["history"], h5py.Group):
                for k, d in f["history"].items():
                    if isinstance(d, h5py.Dataset) and d.dtype.kind in "fiu" and d.size > 0:
                        self.history[k] = np.asarray(d[...], dtype=float).ravel()
        if self.time is None:
            n = self.value.shape[0] if self.value is not None else 1
            self.time = np.arange(n, dtype=float)

    def _field(self, f, name, ncomp):
        """Dataset as [n_time, n_{d-1}, ..., n_0(, ncomp)], or None when absent/odd-shaped."""
        if name not in f or not isinstance(f[name], h5py.Dataset):
            return None
        a = np.asarray(f[name][...], dtype=float)
        shape = self.spatial + ((ncomp,) if ncomp else ())
        if a.shape[1:] == shape:
            return a
        if a.shape == shape:  # a single time without the time axis
            return a[np.newaxis]
        print("plot_fields.py: warning: /%s has shape %s, expected [n_time]%s; not plotted"
              % (name, a.shape, list(shape)), file=sys.stderr)
        return None

    def title(self, what):
        head = "%s  -  %s  (%s)" % (what, self.solver, os.path.basename(self.path))
        return head + "\n" + "\n".join(textwrap.wrap(self.problem, 110))


def extent_of(x, y):
    """imshow extent with half-cell margins; degenerate axes get a unit width."""
    def ends(v):
        if len(v) > 1:
            h = (v[-1] - v[0]) / (len(v) - 1)
            return v[0] - h / 2, v[-1] + h / 2
        return (v[0] - 0.5, v[0] + 0.5) if len(v) else (-0.5, 0.5)
    return (*ends(x), *ends(y))


def finite_limits(a):
    a = np.asarray(a)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return None, None
    lo, hi = float(a.min()), float(a.max())
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def pick_times(nt, k):
    return sorted(set(np.linspace(0, nt - 1, min(k, nt)).round().astype(int).tolist()))


def save(fig, outdir, name, written):
    path = os.path.join(outdir, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)


# --- 1-D -------------------------------------------------------------------
def heatmap_1d(r, field, label, name, outdir, written):
    """field: [n_time, n_0]."""
    x, t = r.axes[0], r.time[: field.shape[0]]
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    vmin, vmax = finite_limits(field)
    im = ax.imshow(np.ma.masked_invalid(field), origin="lower", aspect="auto", extent=extent_of(x, t),
                   vmin=vmin, vmax=vmax, cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("generation time t")
    ax.set_title(r.title(label + " over (x, t)"), fontsize=9)
    save(fig, outdir, name, written)


def lines_1d(r, field, label, name, outdir, written):
    x, t = r.axes[0], r.time[: field.shape[0]]
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    for j in pick_times(field.shape[0], 6):
        ax.plot(x, field[j], marker="." if len(x) < 40 else None, label="t = %.4g" % t[j])
    ax.set_xlabel("x")
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(r.title(label + " at saved times"), fontsize=9)
    save(fig, outdir, name, written)


# --- 2-D / 3-D slices --------------------------------------------------------
def plane(r, a):
    """The x0-x1 plane of a [n_{d-1}, ..., n_0(, c)] slice: 3-D takes the middle z index."""
    return a[a.shape[0] // 2] if r.dim == 3 else a


def plane_label(r):
    if r.dim != 3:
        return ""
    z = r.axes[2]
    return ", x2 = %.4g (middle slice)" % z[len(z) // 2]


def slices(r, field, label, name, outdir, written, control=None):
    """field: [n_time, spatial...] scalar; control (optional): [n_time, spatial..., d] for the quiver."""
    x, y = r.axes[0], r.axes[1]
    times = pick_times(field.shape[0], 3)
    planes = [plane(r, field[j]) for j in times]
    fig, axs = plt.subplots(1, len(times), figsize=(5.5 * len(times), 4.8), squeeze=False, constrained_layout=True)
    for ax, j, p in zip(axs[0], times, planes):
        vmin, vmax = finite_limits(p)  # one colour scale per panel: the fields change a lot with t
        im = ax.imshow(np.ma.masked_invalid(p), origin="lower", aspect="auto", extent=extent_of(x, y),
                       vmin=vmin, vmax=vmax, cmap="viridis", interpolation="nearest")
        if control is not None:
            u = plane(r, control[j])
            sx, sy = max(1, len(x) // 20), max(1, len(y) // 20)
            X, Y = np.meshgrid(x[::sx], y[::sy])
            U, V = u[::sy, ::sx, 0], u[::sy, ::sx, 1]
            if np.isfinite(U).any() and np.isfinite(V).any() and (np.nan_to_num(np.hypot(U, V)) > 0).any():
                ax.quiver(X, Y, np.nan_to_num(U), np.nan_to_num(V), color="white", alpha=0.8)
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        ax.set_title("t = %.4g" % r.time[j], fontsize=9)
        fig.colorbar(im, ax=ax, label=label)
    fig.suptitle(r.title(label + plane_label(r)), fontsize=9)
    save(fig, outdir, name, written)


# --- history -----------------------------------------------------------------
def history(r, outdir, written):
    ratio = {k: v for k, v in r.history.items() if k.endswith("_ratio") or k.startswith("rate_")}
    conv = {k: v for k, v in r.history.items()
            if k not in ratio and any(s in k for s in ("change", "error", "residual"))}
    other = {k: v for k, v in r.history.items() if k not in conv and k not in ratio and k != "iteration"}
    panels = [(conv, "convergence (change, residual, error)", True),
              (ratio, "ratios of successive errors / changes", False),
              (other, "other measures per iteration", True)]
    panels = [p for p in panels if p[0]]
    fig, axs = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 5), squeeze=False, constrained_layout=True)
    for ax, (cols, what, logy) in zip(axs[0], panels):
        for k, v in sorted(cols.items()):
            it = np.arange(1, len(v) + 1)
            ok = np.isfinite(v) & ((v > 0) if logy else True)
            dropped = int((np.isfinite(v) & ~ok).sum())
            if ok.any():
                # Entries <= 0 (e.g. the change at the first iteration, the error of
                # the converged iterate against itself) cannot be drawn on a log axis.
                ax.plot(it[ok], v[ok], marker="o", ms=3,
                        label=k + (f" ({dropped} entries <= 0 not drawn)" if dropped else ""))
        if logy and ax.lines:
            ax.set_yscale("log")
        ax.set_xlabel("outer iteration")
        ax.set_title(what, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(r.title("history"), fontsize=9)
    save(fig, outdir, "history.png", written)


def plot_scalar(r, field, label, prefix, outdir, written, control=None):
    if r.dim == 1:
        heatmap_1d(r, field, label, prefix + "_heatmap.png", outdir, written)
        lines_1d(r, field, label, prefix + "_lines.png", outdir, written)
    else:
        slices(r, field, label, prefix + "_slices.png", outdir, written, control)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Plot an hjbft HDF5 result as PNGs.")
    ap.add_argument("file", help="hjbft output file (.h5)")
    ap.add_argument("-o", "--outdir", help="output folder (default: FILE_plots next to FILE)")
    args = ap.parse_args(argv)
    try:
        r = Result(args.file)
    except (OSError, KeyError, ValueError) as e:
        print("plot_fields.py: error: cannot read %s: %s" % (args.file, e), file=sys.stderr)
        return 1
    outdir = args.outdir or os.path.splitext(args.file)[0] + "_plots"
    os.makedirs(outdir, exist_ok=True)
    written = []
    if r.value is not None:
        plot_scalar(r, r.value, "V", "value", outdir, written)
    if r.control is not None:
        if r.dim == 1:
            plot_scalar(r, r.control[..., 0], "u", "control", outdir, written)
        else:
            speed = np.sqrt(np.sum(r.control ** 2, axis=-1))
            plot_scalar(r, speed, "|u|", "control", outdir, written, control=r.control)
    if r.density is not None:
        plot_scalar(r, r.density, "density", "density", outdir, written)
    if r.history:
        history(r, outdir, written)
    for p in written:
        print(p)
    if not written:
        print("plot_fields.py: warning: nothing to plot in %s" % args.file, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
