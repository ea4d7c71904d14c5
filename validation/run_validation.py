#!/usr/bin/python3
"""Validation of the grid HJB solver (issue 3): runs `hjbft solve` on problems
with known answers and writes a Markdown report with the measured numbers.

    /usr/bin/python3 validation/run_validation.py [--hjbft build/hjbft] [--out validation_out]
                                                  [--report docs/validation.md] [--quick]

Needs Debian's python3-h5py and python3-numpy.  The refinement ladders are read
from meshes/ladders.txt (--quick uses the "quick_" ladders and fewer cases).
Every run's HDF5 file and log go to OUT/runs/, all numbers to OUT/results.json,
the report to --report (default OUT/validation.md).  The report starts with
validation/validation_preamble.md (hand-written: problems, norms, findings).

Exit status: 0 when every check listed under "Checks" in the report passes, 1
otherwise (2 for usage errors).  The checks are the robust claims only
(1-D orders, PI = Howard, MPI equality, clean failures on bad input); results
that do not match theory are reported in the tables, not turned into checks.
"""
import argparse
import glob
import json
import math
import os
import re
import subprocess
import sys
import time

try:
    import h5py
    import numpy as np

    from h5result import read_result
except ImportError as exc:  # CTest: SKIP_RETURN_CODE 77
    print("run_validation: needs Debian's python3-h5py and python3-numpy (%s)" % exc, file=sys.stderr)
    sys.exit(77)

from vcommon import MPI_ENV, ROOT, Ctx

# --- problems (hjbft problem options) -------------------------------------------------------
GMM1 = []  # the default: two modes at -2, 2 (var 0.25), vp, eta 1, quadratic reward at 1
GMM1_LIN = ["-reward", "linear", "-reward_vector", "1"]
GMM2 = ["-dim", "2", "-target_weights", "0.4,0.6", "-target_means", "-1,0.5,1.5,-1", "-target_vars", "0.5,0.3",
        "-reward", "quadratic", "-reward_center", "1,-1"]
GMM2_LIN = GMM2[:-4] + ["-reward", "linear", "-reward_vector", "1,-0.5"]
GMM3 = ["-dim", "3", "-target_weights", "0.5,0.5", "-target_means", "-1,0,0.5,1,0.5,-0.5", "-target_vars", "0.5,0.4",
        "-reward", "quadratic", "-reward_center", "0.5,0,-0.5"]
GAUSS1 = ["-target_weights", "1", "-target_means", "0.5", "-target_vars", "0.5", "-reward", "quadratic",
          "-reward_center", "1"]
PROBLEM_TEXT = {
    "GMM1": "1-D, modes -2, 2 (var 0.25, weights 1/2), quadratic reward -(x-1)^2/2",
    "GMM1_LIN": "1-D, modes -2, 2 (var 0.25), linear reward r = x",
    "GMM2": "2-D, weights 0.4/0.6, means (-1,0.5), (1.5,-1), vars 0.5/0.3, quadratic reward at (1,-1)",
    "GMM2_LIN": "2-D, same data, linear reward r = x0 - 0.5 x1",
    "GMM3": "3-D, weights 1/2, means (-1,0,0.5), (1,0.5,-0.5), vars 0.5/0.4, quadratic reward at (0.5,0,-0.5)",
    "GAUSS1": "1-D Gaussian N(0.5, 0.5), quadratic reward at 1",
}


def read_ladders(path, quick):
    lad = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            name, dim, steps = line[0], int(line[1]), [tuple(int(v) for v in s.split("/")) for s in line[2:]]
            lad[name] = (dim, steps)
    pick = {}
    for name in lad:
        if name.startswith("quick_"):
            continue
        q = "quick_" + name
        pick[name] = lad[q] if quick and q in lad else lad[name]
    return pick


def grid_opts(dim, n):
    g = ["-da_grid_x", str(n)]
    if dim >= 2:
        g += ["-da_grid_y", str(n)]
    if dim >= 3:
        g += ["-da_grid_z", str(n)]
    return g


def error_line(text):
    lines = [l.strip() for l in text.splitlines() if l.startswith("hjbft:") or "error" in l.lower()]
    if not lines:
        lines = [l.strip() for l in text.splitlines() if "warning" in l.lower()]
    return lines[-1] if lines else ""


def solve(ctx, name, opts, dim, n, nt, nproc=None, out=None, timeout=300):
    """Run hjbft solve; returns a dict with rc, error line, attributes, history, wall time."""
    out = out or os.path.join(ctx.runs, name + ".h5")
    for f in glob.glob(out + "*") + glob.glob(out[:-3] + ".xmf"):
        os.remove(f)
    cmd = [ctx.hjbft, "solve"] + opts + grid_opts(dim, n) + ["-nt", str(nt), "-o", out]
    env = dict(os.environ)
    if nproc:
        cmd = [ctx.mpiexec, "-n", str(nproc), "--oversubscribe"] + cmd
        env.update(MPI_ENV)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        rc, text = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, text = 124, (e.stdout or b"").decode(errors="replace") + "\nvalidation: timed out after %ds" % timeout
    wall = time.time() - t0
    ctx.total_wall += wall
    with open(os.path.join(ctx.runs, name + ".log"), "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    r = {"name": name, "cmd": " ".join(cmd[cmd.index("solve") - 1:]).replace(ctx.hjbft, "hjbft"), "rc": rc,
         "error": error_line(text) if rc else "", "wall": wall, "file": out, "n": n, "nt": nt, "dim": dim,
         "attrs": {}, "hist": {}}
    if rc == 0 and os.path.exists(out):
        r["attrs"], r["hist"] = read_result(out)
    print("  %-34s rc %d  %6.1fs  %s" % (name, rc, wall, r["error"] if rc else
                                           "errV %.3e erru %.3e" % (r["attrs"].get("error_value_sup", float("nan")),
                                                                     r["attrs"].get("error_control_sup", float("nan")))),
          flush=True)
    ctx.results[name] = r
    return r


def compare(ctx, a, b, tol):
    """hjbft compare A B -tol: (rc, overall sup, overall L2, where)."""
    p = subprocess.run([ctx.hjbft, "compare", a, b, "-tol", "%g" % tol], capture_output=True, text=True,
                       env=dict(os.environ, **MPI_ENV))
    m = re.search(r"overall: sup (\S+) \(([^)]*)\), L2 (\S+)", p.stdout)
    if not m:
        return p.returncode, float("nan"), float("nan"), (p.stdout + p.stderr).strip().splitlines()[-1:]
    return p.returncode, float(m.group(1)), float(m.group(3)), m.group(2)


# --- the reference mass region, computed here independently of the solver ------------------
def parse_problem_opts(opts):
    d = {"-dim": "1", "-target_weights": "0.5,0.5", "-target_means": "-2,2", "-target_vars": "0.25",
         "-sde_hmin": "0.1", "-sde_hmax": "20", "-sde_T": "1"}
    for i in range(0, len(opts) - 1):
        if opts[i] in d:
            d[opts[i]] = opts[i + 1]
    dim = int(d["-dim"])
    w = np.array([float(v) for v in d["-target_weights"].split(",")])
    mu = np.array([float(v) for v in d["-target_means"].split(",")]).reshape(len(w), dim)
    var = [float(v) for v in d["-target_vars"].split(",")]
    var = np.array(var if len(var) == len(w) else var * len(w))
    return dim, w, mu, var, float(d["-sde_hmin"]), float(d["-sde_hmax"]), float(d["-sde_T"])


def mass_masks(opts, h5file, mass=0.999):
    """Per saved time: boolean mask of the grid points of highest reference density holding `mass`
    (vp SDE, isotropic GMM marginals N(m mu_k, (m^2 s_k + v) I))."""
    dim, w, mu, var, hmin, hmax, T = parse_problem_opts(opts)
    with h5py.File(h5file, "r") as f:
        axes = [f["grid/x%d" % a][:] for a in range(dim)]
        times = f["time"][:]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # x0 fastest: arrays of shape [n_{d-1}]..[n_0]
    masks = []
    for t in times:
        tau = T - t
        H = hmin * tau + (hmax - hmin) * tau * tau / (2 * T)
        m = math.exp(-H / 2)
        v = 1 - m * m
        p = np.zeros(mesh[0].shape)
        for k in range(len(w)):
            s = m * m * var[k] + v
            r2 = sum((mesh[a] - m * mu[k, a]) ** 2 for a in range(dim))
            p += w[k] * np.exp(-r2 / (2 * s)) / (2 * math.pi * s) ** (dim / 2)
        flat = np.sort(p.ravel())[::-1]
        c = np.cumsum(flat) / flat.sum()
        level = flat[min(np.searchsorted(c, mass), len(flat) - 1)]
        masks.append(p >= level)
    return masks


def field_diff(opts, fa, fb, region=True):
    """max over saved times of sup |A - B| for value and control (mass region or whole box)."""
    masks = mass_masks(opts, fa) if region else None
    out = {}
    with h5py.File(fa, "r") as a, h5py.File(fb, "r") as b:
        for name in ("value", "control"):
            x, y = a[name][:], b[name][:]
            dd = np.abs(x - y) if name == "value" else np.sqrt(((x - y) ** 2).sum(axis=-1))
            if region:
                out[name] = max(float(dd[j][masks[j]].max()) for j in range(dd.shape[0]))
            else:
                out[name] = float(dd.max())
    return out


# --- formatting ------------------------------------------------------------------------------
def e(x):
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else "%.3e" % x


def o(x):
    return "—" if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))) else "%.2f" % x


def order(ec, ef, hc, hf):
    if not (ec and ef) or ec <= 0 or ef <= 0:
        return float("nan")
    return math.log(ec / ef) / math.log(hc / hf)


def table(head, rows):
    s = "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
    for r in rows:
        s += "| " + " | ".join(str(c) for c in r) + " |\n"
    return s + "\n"


def failed(r):
    return "**failed (exit %d)**: `%s`" % (r["rc"], r["error"].replace("|", "\\|"))


# --- sections --------------------------------------------------------------------------------
KEYS = ["error_value_sup", "error_value_l2", "error_control_sup", "error_control_l2"]


def ladder_table(runs, hkey="h"):
    """rows: size, errors with orders, iterations, wall."""
    rows = []
    prev = None
    for r in runs:
        h = 1.0 / (r["n"] - 1) if hkey == "h" else 1.0 / r["nt"]
        size = ("%d^%d" % (r["n"], r["dim"]) if r["dim"] > 1 else "%d" % r["n"]) + " / %d" % r["nt"]
        if r["rc"] != 0:
            rows.append([size, failed(r)] + [""] * 9)
            prev = None
            continue
        a = r["attrs"]
        row = [size]
        for k in KEYS:
            row.append(e(a.get(k)))
            row.append(o(order(prev[0]["attrs"].get(k), a.get(k), prev[1], h)) if prev else "")
        row.append("%d" % len(r["hist"].get("iteration", [0])))
        row.append("%.1f" % r["wall"])
        rows.append(row)
        prev = (r, h)
    return table(["n / nt", "sup\\|V-V*\\|", "ord", "L2 V", "ord", "sup\\|u-u*\\|", "ord", "L2 u", "ord", "iters",
                  "wall s"], rows)


def last_orders(runs, key):
    out = []
    for a, b in zip(runs, runs[1:]):
        if a["rc"] == 0 and b["rc"] == 0:
            out.append(order(a["attrs"][key], b["attrs"][key], 1.0 / (a["n"] - 1), 1.0 / (b["n"] - 1)))
    return out


def sec_refinement(ctx, lad):
    md = "## 1. Errors against the closed form under joint space-time refinement\n\n"
    md += ("Crank-Nicolson (theta = 1/2, 2 backward-Euler start-up steps), `-hjb_advection auto`, PI with "
           "`-pi_max_it 20` (default `-pi_tol 1e-7`) unless stated.  Errors: sup on the 99.9%-mass region, "
           "L2 weighted by the reference mass, both over the saved times; `ord` = observed order "
           "log(e_coarse/e_fine)/log(h_coarse/h_fine) with dt/h fixed.  `iters` = PI iterations.\n\n")
    cases = [("GMM1", GMM1, "space_time_1d", ["1", "0.3", "0.1"], "pi", []),
             ("GMM1_LIN", GMM1_LIN, "space_time_1d", ["1", "0.3"], "pi", []),
             ("GMM2", GMM2, "space_time_2d", ["1", "0.3"], "pi", []),
             ("GMM2", GMM2, "space_time_2d", ["1"], "pi", ["-hjb_advection", "upwind"]),
             ("GMM2", GMM2, "space_time_2d", ["1"], "colehopf", []),
             ("GMM2_LIN", GMM2_LIN, "space_time_2d", ["1"], "pi", []),
             ("GMM3", GMM3, "space_time_3d", ["1"], "pi", []),
             ("GMM3", GMM3, "space_time_3d", ["1"], "colehopf", [])]
    if ctx.quick:
        cases = [cases[0][:3] + (["1"],) + cases[0][4:], cases[1][:3] + (["1"],) + cases[1][4:], cases[2][:3] +
                 (["1"],) + cases[2][4:], cases[6]]
    res = {}
    for pname, popts, ladder, betas, method, extra in cases:
        dim, steps = lad[ladder]
        for beta in betas:
            tag = "%s_b%s_%s%s" % (pname, beta, method, "_upwind" if extra else "")
            runs = [solve(ctx, "ref_%s_n%d" % (tag, n), popts + ["-beta", beta, "-hjb_method", method,
                                                                  "-pi_max_it", "20"] + extra, dim, n, nt)
                    for n, nt in steps]
            res[tag] = runs
            md += "### %s, beta = %s, %s%s\n\n%s\n\n" % (pname, beta, method, " (upwind advection)" if extra else "",
                                                         PROBLEM_TEXT[pname])
            md += ladder_table(runs)
    # Checks: 1-D quadratic and linear, beta 1: last joint order of the L2 value error near 2.
    for tag in ("GMM1_b1_pi", "GMM1_LIN_b1_pi"):
        ords = last_orders(res[tag], "error_value_l2")
        ctx.check("%s: joint space-time order of L2 |V-V*| >= 1.7" % tag, ords and ords[-1] >= 1.7,
                  "orders " + ", ".join(o(x) for x in ords))
    ctx.results["_refinement_tags"] = list(res)
    return md


def sec_time(ctx, lad):
    dim, steps = lad["time_1d"]
    md = "## 2. Time-only refinement (1-D GMM, beta 1, fixed fine grid)\n\n"
    md += ("Fixed space grid n = %d; nt ladder.  Two measures: the error against the closed form (which levels off "
           "at the spatial error), and the self-convergence difference sup |V_nt - V_2nt| over the mass region "
           "at the common saved times t = 0, 0.2, ..., 1 (no spatial error in it), whose successive ratios give the "
           "time order.\n\n" % steps[0][0])
    for theta, label in (("1", "backward Euler (theta = 1)"), ("0.5", "Crank-Nicolson (theta = 1/2)")):
        runs = [solve(ctx, "time_theta%s_nt%d" % (theta, nt),
                      GMM1 + ["-hjb_theta", theta, "-save_every", str(nt // 5), "-pi_max_it", "20"], dim, n, nt)
                for n, nt in steps]
        rows = []
        diffs = []
        for i, r in enumerate(runs):
            row = ["%d" % r["nt"]]
            if r["rc"]:
                rows.append(row + [failed(r), "", "", "", ""])
                diffs.append(None)
                continue
            ev = r["attrs"]["error_value_sup"]
            row += [e(ev), o(order(runs[i - 1]["attrs"].get("error_value_sup"), ev, 2, 1)) if i else ""]
            if i + 1 < len(runs) and runs[i + 1]["rc"] == 0:
                dv = field_diff(GMM1, r["file"], runs[i + 1]["file"])["value"]
            else:
                dv = None
            diffs.append(dv)
            row += [e(dv), o(math.log2(diffs[i - 1] / dv)) if i and dv and diffs[i - 1] else ""]
            rows.append(row)
        md += "### %s\n\n" % label
        md += table(["nt", "sup\\|V-V*\\|", "ord", "sup\\|V_nt - V_2nt\\|", "ord"], rows)
        good = [x for x in diffs if x]
        ords = [math.log2(a / b) for a, b in zip(good, good[1:])]
        ctx.results["time_orders_theta" + theta] = ords
        if ords and (theta == "1" or len(ords) >= 2):  # CN is pre-asymptotic on the first, coarsest pair
            want = 1.0 if theta == "1" else 2.0
            ctx.check("time order of %s ~ %g (self-convergence)" % (label, want),
                      abs(ords[-1] - want) < 0.35, "orders " + ", ".join(o(x) for x in ords))
    return md


def sec_methods(ctx):
    md = "## 3. PI, Howard and Cole-Hopf on the same grid\n\n"
    md += ("PI with `-pi_tol 1e-10`.  `hjbft compare` differences are over the whole box (all saved times); "
           "the mass-region differences are computed by this script (same 99.9% region as the error norms).  "
           "PI and Howard solve the same discrete equations; Cole-Hopf discretizes the linear equation for "
           "phi = exp(V/beta) and so differs by a discretization error.\n\n")
    cases = [("GMM1", GMM1, 1, 201, 200, "1"), ("GMM1", GMM1, 1, 201, 200, "0.3"), ("GMM2", GMM2, 2, 25, 24, "0.5")]
    if ctx.quick:
        cases = cases[:1]
    rows = []
    for pname, popts, dim, n, nt, beta in cases:
        rr = {}
        for m in ("pi", "howard", "colehopf"):
            rr[m] = solve(ctx, "methods_%s_b%s_%s" % (pname, beta, m),
                          popts + ["-beta", beta, "-hjb_method", m, "-pi_tol", "1e-10"], dim, n, nt)
        for a, b in (("pi", "howard"), ("pi", "colehopf")):
            size = "%s, beta %s, %s / %d" % (pname, beta, ("%d^%d" % (n, dim)) if dim > 1 else str(n), nt)
            if rr[a]["rc"] or rr[b]["rc"]:
                bad = rr[a] if rr[a]["rc"] else rr[b]
                rows.append([size, "%s vs %s" % (a, b), failed(bad), "", "", "", "", ""])
                continue
            rc, sup, l2, where = compare(ctx, rr[a]["file"], rr[b]["file"], 1e-8)
            reg = field_diff(popts, rr[a]["file"], rr[b]["file"])
            rows.append([size, "%s vs %s" % (a, b), e(sup), e(l2), e(reg["value"]), e(reg["control"]),
                         e(rr[a]["attrs"]["error_value_sup"]), e(rr[b]["attrs"]["error_value_sup"])])
            if a == "pi" and b == "howard":
                ctx.check("PI = Howard to solver tolerance (%s, mass region, value)" % size, reg["value"] < 1e-7,
                          e(reg["value"]))
    md += table(["case", "pair", "compare sup (box)", "compare L2 (box)", "sup\\|dV\\| region", "sup\\|du\\| region",
                 "sup\\|V-V*\\| first", "sup\\|V-V*\\| second"], rows)
    # Small beta: Cole-Hopf refuses, PI works.
    md += "### Small beta: where Cole-Hopf loses precision\n\n"
    rows = []
    for beta in (["0.01"] if ctx.quick else ["0.03", "0.01"]):
        for m in ("colehopf", "pi", "howard"):
            r = solve(ctx, "smallbeta_b%s_%s" % (beta, m), GMM1 + ["-beta", beta, "-hjb_method", m], 1, 401, 200)
            if r["rc"]:
                rows.append([beta, m, r["rc"], "`%s`" % r["error"], "", "", ""])
            else:
                a = r["attrs"]
                rows.append([beta, m, 0, "", e(a["error_value_sup"]), e(a["error_control_sup"]),
                             e(a.get("colehopf_min_log10_phi_region")) if m == "colehopf" else ""])
            if m == "colehopf" and beta == "0.01":
                ctx.check("Cole-Hopf at beta 0.01 exits 2 with 'lost precision'", r["rc"] == 2 and
                          "lost precision" in r["error"], r["error"])
            if m == "pi" and beta == "0.01":
                ctx.check("PI works at beta 0.01", r["rc"] == 0)
    md += ("1-D GMM, 401 / 200, default `-colehopf_trust 1e-8`.\n\n" +
           table(["beta", "method", "exit", "error line", "sup\\|V-V*\\|", "sup\\|u-u*\\|", "min log10 phi"], rows))
    return md


def sec_history(ctx):
    md = "## 4. PI convergence history and regularity\n\n"
    md += ("1-D GMM, 201 / 200, `-pi_tol 1e-10`.  `err vs conv` = sup over the mass region and the saved times "
           "of |u^k - u^final| (`error_control_vs_converged`); `rate` = its successive ratio; `err vs exact` = "
           "sup |u^k - u*| (this includes the discretization error, so it levels off); regularity: sup |Hess V^k| "
           "and sup |grad u^k| over the mass region (interior points), next to the exact solution's "
           "sup |Hess V*|.  The fitted rate is exp of the least-squares slope of log(err vs conv) over the "
           "iterations where it is above 1e-9.\n\n")
    betas = ["1", "0.3"] if ctx.quick else ["1", "0.3", "0.1", "0.03"]
    summary = []
    for beta in betas:
        r = solve(ctx, "history_b%s" % beta, GMM1 + ["-beta", beta, "-pi_tol", "1e-10"], 1, 201, 200)
        if r["rc"]:
            md += "### beta = %s\n\n%s\n\n" % (beta, failed(r))
            continue
        h, a = r["hist"], r["attrs"]
        err = h["error_control_vs_converged"]
        rows = []
        for k in range(len(err)):
            rows.append([k, e(h["control_change"][k]), e(err[k]), o(h["rate_vs_converged"][k]),
                         e(h["error_control_sup"][k]), "%.4g" % h["sup_hess_v"][k], "%.4g" % h["sup_grad_u"][k],
                         "%d" % h["linear_iterations"][k]])
        ks = [k for k in range(len(err)) if err[k] > 1e-9]
        rate = math.exp(np.polyfit(ks, np.log([err[k] for k in ks]), 1)[0]) if len(ks) >= 2 else float("nan")
        hmax = max(h["sup_hess_v"])
        summary.append([beta, len(err), o(rate), "%.4g" % a["exact_sup_hess_v"], "%.4g" % hmax,
                        "%.2f" % (hmax / a["exact_sup_hess_v"])])
        md += "### beta = %s (exact sup\\|Hess V*\\| = %.4g)\n\n" % (beta, a["exact_sup_hess_v"])
        md += table(["k", "control change", "err vs conv", "rate", "err vs exact", "sup\\|Hess V^k\\|",
                     "sup\\|grad u^k\\|", "lin its"], rows)
        ctx.results["pi_rate_b" + beta] = rate
    md += "### Summary per beta\n\n" + table(["beta", "iterations", "fitted rate", "exact sup\\|Hess V*\\|",
                                              "max_k sup\\|Hess V^k\\|", "ratio"], summary)
    return md


def sec_gaussian(ctx, lad):
    dim, steps = lad["gaussian_1d"]
    md = "## 5. Gaussian data: eta = 0.5 and eta = 0 against the Riccati closed form\n\n"
    md += PROBLEM_TEXT["GAUSS1"] + ", beta 1.  The solver picks the Riccati closed form itself (`exact_solution`).\n\n"
    for eta, extra, label in (("0.5", ["-hjb_method", "pi", "-pi_max_it", "20"], "eta = 0.5, PI, Crank-Nicolson"),
                              ("0", ["-hjb_method", "howard", "-hjb_advection", "upwind", "-hjb_theta", "1"],
                               "eta = 0 (ODE sampler), Howard, upwind, backward Euler")):
        runs = [solve(ctx, "gauss_eta%s_n%d" % (eta, n), GAUSS1 + ["-eta", eta] + extra, dim, n, nt)
                for n, nt in steps]
        ex = next((r["attrs"].get("exact_solution") for r in runs if r["rc"] == 0), "?")
        md += "### %s (closed form: %s)\n\n" % (label, ex) + ladder_table(runs)
        ords = last_orders(runs, "error_value_sup")
        ctx.results["gauss_orders_eta" + eta] = ords
        if ords:
            want = 1.5 if eta == "0.5" else 0.7
            ctx.check("Gaussian eta %s: order of sup |V-V*| >= %g" % (eta, want), ords[-1] >= want,
                      ", ".join(o(x) for x in ords))
    return md


def sec_mpi(ctx):
    md = "## 6. MPI: 1, 2 and 4 ranks give the same fields\n\n"
    opts = GMM2 + ["-beta", "0.5"]
    md += ("%s, beta 0.5, 25 x 25 / 24 (the case of the `mpi_solve_*` CTests, on a square grid).  "
           "`mpiexec -n N --oversubscribe`; differences from `hjbft compare` (whole box, all saved times, value "
           "and control).\n\n" % PROBLEM_TEXT["GMM2"])
    rows = []
    nps = [1, 2] if ctx.quick else [1, 2, 4]
    for m in ("pi", "howard", "colehopf"):
        base = None
        for npr in nps:
            r = solve(ctx, "mpi_%s_n%d" % (m, npr), opts + ["-hjb_method", m], 2, 25, 24, nproc=npr)
            if npr == 1:
                base = r
                continue
            if r["rc"] or base["rc"]:
                rows.append([m, "1 vs %d" % npr, failed(r if r["rc"] else base), "", ""])
                continue
            rc, sup, l2, where = compare(ctx, base["file"], r["file"], 1e-10)
            reg = field_diff(opts, base["file"], r["file"])
            rows.append([m, "1 vs %d" % npr, e(sup), e(l2), e(max(reg.values())), where])
            if m != "colehopf":
                ctx.check("MPI %s: 1 vs %d ranks agree to 1e-10" % (m, npr), sup <= 1e-10, e(sup))
            else:
                # phi = exp(V/beta) is solved to an absolute (not relative) accuracy: see docs/validation.md.
                ctx.check("MPI colehopf: 1 vs %d ranks agree to 1e-8 on the mass region" % npr,
                          max(reg.values()) <= 1e-8, e(max(reg.values())))
    md += table(["method", "ranks", "sup (box)", "L2 (box)", "sup (mass region)", "where the box sup is"], rows)
    return md


def sec_bad_input(ctx):
    md = "## 7. Bad input and failures\n\n"
    md += ("Each run should stop with a one-line error naming the cause, a non-zero exit status (1: bad input, "
           "2: solver failure), and leave no output (`out.h5`, its temporary `out.h5.tmp.*`, `out.xmf`).\n\n")
    small = ["-hjb_monitor", "0"]
    cases = [("grid too small (3 points)", small, 3, 10, None),
             ("box misses the mass (-grid_lo -1 -grid_hi 1)", small + ["-grid_lo", "-1", "-grid_hi", "1"], 21, 10,
              None),
             ("unwritable -o", small, 21, 10, "/nonexistent/dir/out.h5"),
             ("PI not converged (-pi_max_it 2 -pi_tol 1e-14)", small + ["-pi_max_it", "2", "-pi_tol", "1e-14"], 21, 10,
              None),
             ("non-finite reward on the grid (-reward_scale 1e308)", small + ["-reward_scale", "1e308"], 21, 10, None),
             ("Cole-Hopf lost precision (-beta 0.01)", small + ["-hjb_method", "colehopf", "-beta", "0.01"], 201, 100,
              None),
             ("unknown method (-hjb_method newton)", small + ["-hjb_method", "newton"], 21, 10, None),
             ("misspelt option (-pi_tl 1e-3)", small + ["-pi_tl", "1e-3"], 21, 10, None)]
    rows = []
    for i, (label, opts, n, nt, out) in enumerate(cases):
        name = "bad_%d" % i
        r = solve(ctx, name, GMM1 + opts, 1, n, nt, out=out)
        if "misspelt" in label:  # PETSc convention: reported as a warning, the run goes on (exit 0)
            log = open(os.path.join(ctx.runs, name + ".log")).read()
            warn = [l for l in log.splitlines() if "not used" in l]
            rows.append([label, r["rc"], "`%s`" % (warn[0] if warn else "(no warning)"), "the result (run completed)"])
            ctx.check("misspelt option is reported (warning naming it)", warn and "-pi_tl" in warn[0])
            continue
        f = out or r["file"]
        left = glob.glob(f + "*") + glob.glob(f[:-3] + ".xmf")
        rows.append([label, r["rc"], "`%s`" % r["error"].replace("|", "\\|"), "none" if not left else
                     ", ".join(os.path.basename(x) for x in left)])
        ctx.check("bad input '%s': non-zero exit, error line, no output" % label,
                  r["rc"] != 0 and r["error"] and not left, "exit %d" % r["rc"])
    md += table(["case", "exit", "error line", "files left"], rows)
    return md


def sec_fp(ctx, lad):
    dim, steps = lad["fokker_planck_1d"]
    md = "## 8. Fokker-Planck: the fine-tuned terminal law vs the tilted law\n\n"
    md += ("1-D GMM, beta 1, `-sde_hmax 2` (v(T) = %.3f: the reference keeps memory of Y_0, so the exact p_T start "
           "carries the initial-value bias).  `fp_l1_to_tilted` = L1 distance (on the grid) between the "
           "Fokker-Planck density at t = T under the computed control and the tilted law p_data e^{r/beta}/Z.\n\n"
           % (1 - math.exp(-(0.1 + (2 - 0.1) / 2))))
    rows = []
    prev = {}
    out = {}
    for n, nt in steps:
        row = ["%d / %d" % (n, nt)]
        for init in ("tilted", "exact"):
            r = solve(ctx, "fp_%s_n%d" % (init, n), GMM1 + ["-sde_hmax", "2", "-fp_init", init], 1, n, nt)
            if r["rc"]:
                row += [failed(r), ""]
                continue
            v = r["attrs"].get("fp_l1_to_tilted")
            row += [e(v), o(order(prev.get(init), v, 2, 1)) if init in prev else ""]
            prev[init] = v
            out.setdefault(init, []).append(v)
        rows.append(row)
    md += table(["n / nt", "L1, tilted start", "ord", "L1, exact p_T start", "ord"], rows)
    if out.get("tilted") and out.get("exact"):
        ctx.check("FP: exact p_T start shows a bias >> the tilted start's error at the finest grid",
                  out["exact"][-1] > 20 * out["tilted"][-1], "%s vs %s" % (e(out["exact"][-1]), e(out["tilted"][-1])))
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", default=os.path.join(ROOT, "build", "hjbft"))
    ap.add_argument("--out", default="validation_out")
    ap.add_argument("--report", default=None, help="Markdown report (default OUT/validation.md)")
    ap.add_argument("--ladders", default=os.path.join(ROOT, "meshes", "ladders.txt"))
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--quick", action="store_true", help="reduced ladders and cases (CTest)")
    ap.add_argument("--sections", default="refinement,time,methods,history,gaussian,mpi,bad_input,fp")
    args = ap.parse_args()
    if not os.access(args.hjbft, os.X_OK):
        print("run_validation: no hjbft executable at %s (use --hjbft PATH)" % args.hjbft, file=sys.stderr)
        return 2
    ctx = Ctx(args)
    lad = read_ladders(args.ladders, args.quick)
    sections = {"refinement": lambda: sec_refinement(ctx, lad), "time": lambda: sec_time(ctx, lad),
                "methods": lambda: sec_methods(ctx), "history": lambda: sec_history(ctx),
                "gaussian": lambda: sec_gaussian(ctx, lad), "mpi": lambda: sec_mpi(ctx),
                "bad_input": lambda: sec_bad_input(ctx), "fp": lambda: sec_fp(ctx, lad)}
    t0 = time.time()
    body = ""
    for s in args.sections.split(","):
        print("== " + s, flush=True)
        body += sections[s]() + "\n"
    pre_path = os.path.join(ROOT, "validation", "validation_preamble.md")
    pre = open(pre_path).read() if os.path.exists(pre_path) else "# Validation\n\n"
    head = ("_Generated by `validation/run_validation.py%s` on %s, %d hjbft runs, %.0f s of solver runs "
            "(%.0f s in all).  Ladders: `meshes/ladders.txt`.  Everything below this line is generated._\n\n"
            % (" --quick" if args.quick else "", time.strftime("%Y-%m-%d"), len([k for k in ctx.results if
                                                                                   not k.startswith("_")]),
               ctx.total_wall, time.time() - t0))
    npass = sum(1 for c in ctx.checks if c[1])
    checks = "## Checks\n\n%d of %d passed.\n\n" % (npass, len(ctx.checks)) + table(
        ["check", "result", "detail"], [[c[0], "pass" if c[1] else "**FAIL**", c[2]] for c in ctx.checks])
    report = pre.rstrip() + "\n\n" + head + checks + body
    rpath = args.report or os.path.join(ctx.out, "validation.md")
    with open(rpath, "w") as f:
        f.write(report)
    with open(os.path.join(ctx.out, "results.json"), "w") as f:
        json.dump({"results": ctx.results, "checks": ctx.checks}, f, indent=1, default=str)
    print("run_validation: %d of %d checks passed; report %s (%.0f s)" % (npass, len(ctx.checks), rpath,
                                                                         time.time() - t0))
    return 0 if npass == len(ctx.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
