#!/usr/bin/python3
"""Plot the terminal samples of `hjbft sample` against the law they are compared
with (the tilted law, or p_data without control), stored in the same file:
1-D: histogram and the exact density; 2-D: scatter and density contours.

usage: /usr/bin/python3 validation/plot_samples.py samples.h5 [out.png]
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def gmm_density(points, w, means, covs):
    d = means.shape[1]
    out = np.zeros(points.shape[0])
    for k in range(len(w)):
        C = covs[k].reshape(d, d)
        P = np.linalg.inv(C)
        diff = points - means[k]
        q = np.einsum("ni,ij,nj->n", diff, P, diff)
        out += w[k] * np.exp(-0.5 * q) / np.sqrt((2 * np.pi) ** d * np.linalg.det(C))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    png = sys.argv[2] if len(sys.argv) > 2 else path.rsplit(".", 1)[0] + ".png"
    with h5py.File(path, "r") as f:
        x = f["/samples"][...]
        attrs = {k: f.attrs[k] for k in f.attrs}
        law = None
        if "/compare/law_weights" in f:
            law = (f["/compare/law_weights"][...], f["/compare/law_component_means"][...],
                   f["/compare/law_component_covs"][...])
    def text(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    which = text(attrs.get("compare", "none"))
    title = "%s\ncontrol %s, init %s, n = %d" % (text(attrs.get("problem", "")), text(attrs.get("control", "")),
                                                 text(attrs.get("init", "")).split(":")[0], x.shape[0])
    d = x.shape[1]
    fig, ax = plt.subplots(figsize=(7, 5))
    if d == 1:
        ax.hist(x[:, 0], bins=120, density=True, alpha=0.5, label="samples")
        if law is not None:
            g = np.linspace(x.min() - 1, x.max() + 1, 800)[:, None]
            ax.plot(g[:, 0], gmm_density(g, *law), "k-", lw=1.5, label="%s law (exact)" % which)
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        if "ks_distance" in attrs:
            ax.text(0.02, 0.95, "KS = %.3g" % attrs["ks_distance"], transform=ax.transAxes, va="top")
    else:
        ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.3, label="samples")
        if law is not None and d == 2:
            gx = np.linspace(x[:, 0].min() - 1, x[:, 0].max() + 1, 200)
            gy = np.linspace(x[:, 1].min() - 1, x[:, 1].max() + 1, 200)
            X, Y = np.meshgrid(gx, gy)
            Z = gmm_density(np.column_stack([X.ravel(), Y.ravel()]), *law).reshape(X.shape)
            # log-spaced levels, so that light modes show too
            ax.contour(X, Y, Z, levels=Z.max() * np.array([1e-3, 1e-2, 0.05, 0.2, 0.5, 0.8]), colors="k",
                       linewidths=0.8)
        ax.set_xlabel("x0")
        ax.set_ylabel("x1")
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print("wrote", png)


if __name__ == "__main__":
    main()
