#!/usr/bin/python3
"""Validation of the discrete-time ground truth `hjbft bellman` (DESIGN.md section 5): runs it on
problems with known answers and writes a Markdown report with the measured numbers.

    /usr/bin/python3 validation/run_discrete_validation.py [--hjbft build/hjbft] [--out discrete_validation_out]
                                                           [--report docs/validation_discrete.md] [--quick]

Needs Debian's python3-h5py and python3-numpy.  Every run's HDF5 file and log go to OUT/runs/, all
numbers to OUT/results.json, the report to --report (default OUT/validation_discrete.md).

Sections: the unit tests of tests/discrete/test_bellman.cpp that the preamble names (run by name from
--discrete-tests); (a) the discrete optimum against the continuous-time closed form as K grows; (b) grid and
quadrature convergence at fixed K (1-D and 2-D); (c) the exact PI-FT iteration against the discrete
optimum for beta = 1, 0.3, 0.1: errors per iteration, fitted and predicted linear rates; (d) a 2-D
eight-mode ring with a reward favouring some modes, with timings, on 1 and 2 ranks.

The error norms are computed here, independently of the solver: on the grid points of highest
reference density holding 99.9% of the mass of p_{T-t} (sup), and weighted by that density (L2).

Exit status: 0 when every check in the "Checks" table passes, 1 otherwise, 2 for usage errors, 77 when
h5py/numpy are missing (CTest: skipped).
"""
import math
import os
import subprocess
import sys
import time

import vcommon as vc
from vcommon import Ctx, cite, e, failed, o, provenance, table

vc.require_numpy()
import h5py  # noqa: E402
import numpy as np  # noqa: E402

# --- problems (hjbft problem options; vp, h_min 0.1, h_max 20, T 1, eta 1 throughout) -----------------
GMM1 = []  # the default: modes -2, 2 (var 0.25, weights 1/2), quadratic reward -(x-1)^2/2, beta 1
GMM2 = ["-dim", "2", "-target_weights", "0.4,0.6", "-target_means", "-1,0.5,1.5,-1", "-target_vars", "0.5,0.3",
        "-reward", "quadratic", "-reward_center", "1,-1"]
RING_R = 2.5
RING = ["-dim", "2", "-target_weights", ",".join(["0.125"] * 8),
        "-target_means", ",".join("%.12g,%.12g" % (RING_R * math.cos(2 * math.pi * k / 8),
                                                  RING_R * math.sin(2 * math.pi * k / 8)) for k in range(8)),
        "-target_vars", "0.15", "-reward", "quadratic",
        "-reward_center", "%.12g,%.12g" % (RING_R * math.cos(math.pi / 4), RING_R * math.sin(math.pi / 4)),
        "-reward_scale", "0.5"]
PROBLEM_TEXT = {
    "GMM1": "1-D, modes -2, 2 (variance 0.25, weights 1/2), quadratic reward -(x-1)^2/2",
    "GMM2": "2-D, weights 0.4/0.6, means (-1, 0.5), (1.5, -1), variances 0.5/0.3, quadratic reward -|x-(1,-1)|^2/2",
    "RING": "2-D, eight modes on the circle of radius 2.5 (variance 0.15, equal weights), quadratic reward "
            "-0.25 |x - c|^2 centred on the mode at 45 degrees",
}


def grid_opts(dim, n):
    return ["-da_grid_x", str(n)] + (["-da_grid_y", str(n)] if dim >= 2 else [])


def run(ctx, name, command, opts, nproc=None, timeout=1200):
    """Runs `hjbft command opts -o OUT/runs/name.h5`; returns rc, error line, wall/cpu time, attributes, history."""
    out = vc.fresh_output(os.path.join(ctx.runs, name + ".h5"))
    p = vc.run_hjbft(ctx, name, [command] + opts + ["-o", out], nproc, timeout)
    rc = p["rc"]
    r = {"name": name, "rc": rc, "error": vc.error_line(p["text"], hjbft_only=True), "wall": p["wall"],
         "cpu": p["cpu"], "file": out, "attrs": {}, "hist": {}, "cmd": " ".join(["hjbft", command] + opts)}
    if rc == 0 and os.path.exists(out):
        r["attrs"], r["hist"] = vc.read_result(out)
    print("  %-40s rc %d %7.1fs  %s" % (name, rc, r["wall"], r["error"]), flush=True)
    ctx.results[name] = {k: v for k, v in r.items() if k != "file"}
    return r


# --- the reference law and the error norms, computed here ---------------------------------------------
def reference_laws(opts, h5file, mass=0.999):
    """Per saved time: (mask of the region holding `mass`, weights summing to 1) of p_{T-t} on the grid."""
    problem = vc.parse_problem(opts)
    dim = problem[0]
    with h5py.File(h5file, "r") as f:
        axes = [f["grid/x%d" % a][:] for a in range(dim)]
        times = f["time"][:]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # arrays [n_{d-1}]..[n_0], x0 fastest
    out = []
    for t in times:
        p = vc.reference_density(problem, t, mesh)
        p /= p.sum()
        flat = np.sort(p.ravel())[::-1]
        c = np.cumsum(flat)
        level = flat[min(np.searchsorted(c, mass), len(flat) - 1)]
        out.append((p >= level, p))
    return out


def errors(opts, fa, fb, stride=1):
    """Errors of A against B per saved time: sup on the mass region and mass-weighted L2, for V and u.
    B may be on a finer grid (every stride-th point of B in each axis is a point of A)."""
    laws = reference_laws(opts, fa)
    per = []
    with h5py.File(fa, "r") as a, h5py.File(fb, "r") as b:
        dim = int(a.attrs["dim"])
        sl = tuple([slice(None, None, stride)] * dim)
        for j, (mask, wgt) in enumerate(laws):
            va, vb = a["value"][j], b["value"][j][sl]
            ua, ub = a["control"][j], b["control"][j][sl]
            dv = np.abs(va - vb)
            du = np.sqrt(((ua - ub) ** 2).sum(axis=-1))
            per.append({"t": float(a["time"][j]), "v_sup": float(dv[mask].max()), "u_sup": float(du[mask].max()),
                        "v_l2": float(np.sqrt((wgt * dv * dv).sum())), "u_l2": float(np.sqrt((wgt * du * du).sum()))})
    tot = {"v_sup": max(p["v_sup"] for p in per), "u_sup": max(p["u_sup"] for p in per),
           "v_l2": math.sqrt(sum(p["v_l2"] ** 2 for p in per) / len(per)),
           "u_l2": math.sqrt(sum(p["u_l2"] ** 2 for p in per) / len(per))}
    return per, tot


# --- formatting ---------------------------------------------------------------------------------------
def order(a, b, ratio=2.0):
    return math.log(a / b) / math.log(ratio) if a and b and a > 0 and b > 0 else float("nan")


def pi_tail_ratios(hist, lo=1e-9, hi=1e-4):
    """Smallest and largest ratio of successive control errors where both lie in [lo, hi] (the linear tail)."""
    e_ = hist["error_control_sup"]
    rs = [e_[m] / e_[m - 1] for m in range(1, len(e_)) if lo <= e_[m] <= hi and lo <= e_[m - 1] <= hi]
    return (min(rs), max(rs)) if rs else (0.0, 0.0)


def fitted_rate(errs, lo=1e-9, hi=1e-2):
    """Least-squares slope of log(error) against the iteration over the errors in [lo, hi]."""
    pts = [(m, math.log(x)) for m, x in enumerate(errs) if lo <= x <= hi]
    if len(pts) < 3:
        return float("nan")
    ms = np.array([p[0] for p in pts], float)
    ls = np.array([p[1] for p in pts])
    return float(math.exp(np.polyfit(ms, ls, 1)[0]))


# --- the unit tests the preamble names -------------------------------------------------------------------
UNIT_TESTS = [  # (what the preamble says, the Catch2 test name in tests/discrete/test_bellman.cpp, a prefix)
    ("gh", "Gauss-Hermite exactness", "bellman: Gauss-Hermite rules integrate polynomials of degree <= 2n-1"),
    ("spline", "the spline on polynomials", "bellman: The not-a-knot spline reproduces cubic polynomials"),
    ("alpha", "the DDPM alpha form", "bellman: DdpmChain for vp is the DDPM ancestral sampler in the alpha form"),
    ("tweedie", "Tweedie's mean", "bellman: One DDPM step from p_tau_k has Tweedie's posterior mean"),
    ("lq", "the linear-quadratic recursion", "bellman: Linear-quadratic: the grid optimum equals an independent"),
    ("separable", "the separable 2-D problem", "bellman: 2-D: a separable problem gives the sum of the 1-D values"),
    ("pilinear", "PI with a linear reward", "bellman: PI-FT with a linear reward (Gaussian data) reaches the optimum"),
]


def sec_unit(ctx):
    """Runs the unit tests the preamble describes (build/tests/discrete/discrete_tests, one test case each)."""
    exe = ctx.discrete_tests
    for key, what, name in UNIT_TESTS:
        if not os.access(exe, os.X_OK):
            ok, detail = False, "no unit-test executable at %s (--discrete-tests PATH)" % exe
        else:
            # A prefix with Catch2's trailing wildcard: the names hold characters (<, =, ') that are safe there.
            p = subprocess.run([exe, name + "*"], capture_output=True, text=True, timeout=300)
            last = [l for l in p.stdout.splitlines() if l.strip()]
            detail = last[-1].strip() if last else p.stderr.strip()[-200:]
            ok = p.returncode == 0 and "in 1 test case" in detail
        ctx.label(key, ctx.check("unit test: %s (`%s ...`) passes" % (what, name), ok, detail))


# --- (a) discrete vs continuous -------------------------------------------------------------------------
GAP_NORMS = [("v_sup", "sup|V-V*|"), ("v_l2", "L2 V"), ("u_sup", "sup|u-u*|"), ("u_l2", "L2 u"),
             ("jgap", "|J*-J*_cont|")]


def mode_centres(opts, t):
    """The centres m(T-t) mu_k of the components of p_{T-t}, the reference law of Y_t (1-D: sorted)."""
    dim, w, mu, var, hmin, hmax, T = vc.parse_problem(opts)
    return sorted(float(v) for v in vc.vp_mv(T - t, hmin, hmax, T)[0] * mu[:, 0])


def gap_location(ctx, beta, K, n):
    """Where the gap is largest: bellman and exact at K saving every step; per field the time and point
    of the largest error on the mass region, the mode centres then, and the steepest point of u*."""
    opts = GMM1 + ["-beta", beta] + grid_opts(1, n) + ["-save_every", "1"]
    rb = run(ctx, "gapwhere_b%s_K%d" % (beta, K), "bellman", opts + ["-ddpm_steps", str(K), "-bellman_monitor", "0"])
    rx = run(ctx, "gapwhere_b%s_K%d_exact" % (beta, K), "exact", opts + ["-nt", str(K)])
    if rb["rc"] or rx["rc"]:
        return None
    per, _ = errors(GMM1 + ["-beta", beta], rb["file"], rx["file"])
    laws = reference_laws(GMM1, rb["file"])
    out = {}
    with h5py.File(rb["file"], "r") as a, h5py.File(rx["file"], "r") as b:
        x = a["grid/x0"][:]
        for key, field in (("v", "value"), ("u", "control")):
            j = max(range(len(per)), key=lambda i: per[i][key + "_sup"])
            mask = laws[j][0]
            d = np.abs(a[field][j] - b[field][j])
            if d.ndim > 1:
                d = d[..., 0]
            d[~mask] = -1
            t = per[j]["t"]
            out[key] = {"t": t, "x": float(x[int(np.argmax(d))]), "err": float(d.max()), "modes": mode_centres(GMM1, t)}
            if key == "u":
                us = b["control"][j][..., 0]
                g = np.abs(np.gradient(us, x))
                g[~mask] = -1
                out["steep_x"], out["steep_slope"] = float(x[int(np.argmax(g))]), float(g.max())
    return out


def sec_gap(ctx):
    Ks = [50, 100, 200] if ctx.quick else [25, 50, 100, 200, 400]
    n = 201 if ctx.quick else 401
    betas = ["1"] if ctx.quick else ["1", "0.3"]
    res, body = {}, ""
    for beta in betas:
        tot_rows, prow, runs = [], None, []
        for K in Ks:
            opts = GMM1 + ["-beta", beta] + grid_opts(1, n) + ["-save_every", str(K // 5)]
            rb = run(ctx, "gap_b%s_K%d" % (beta, K), "bellman", opts + ["-ddpm_steps", str(K), "-bellman_monitor", "0"])
            rx = run(ctx, "gap_b%s_K%d_exact" % (beta, K), "exact", opts + ["-nt", str(K)])
            if rb["rc"] or rx["rc"]:
                tot_rows.append(["%d" % K, failed(rb if rb["rc"] else rx)] + [""] * 10)
                prow = None
                continue
            per, tot = errors(GMM1 + ["-beta", beta], rb["file"], rx["file"])
            jg = abs(rb["attrs"]["objective"] - rb["attrs"]["continuous_objective"])
            cur = dict(tot, jgap=jg, per=per, K=K, attrs=rb["attrs"], wall=rb["wall"], file=rb["file"])
            runs.append(cur)
            row = ["%d" % K]
            for k, _ in GAP_NORMS:
                row += [e(cur[k]), o(order(prow[k], cur[k])) if prow else ""]
            row.append("%.2f" % rb["wall"])
            tot_rows.append(row)
            prow = cur
        info = {"runs": runs}
        res[beta] = info
        body += "### beta = %s: over the saved times\n\n" % beta
        body += table(["K", "sup\\|V-V*\\|", "ord", "L2 V", "ord", "sup\\|u-u*\\|", "ord", "L2 u", "ord",
                       "\\|J* - J*_cont\\|", "ord", "wall s"], tot_rows)
        if not runs:
            continue
        times = [p["t"] for p in runs[0]["per"]][:-1]
        head = ["t"] + ["K = %d: sup V / sup u" % r["K"] for r in runs] + ["ord V, u (last pair)"]
        rows = []
        for j, t in enumerate(times):
            row = ["%.1f" % t] + ["%s / %s" % (e(r["per"][j]["v_sup"]), e(r["per"][j]["u_sup"])) for r in runs]
            if len(runs) > 1:
                a, b = runs[-2]["per"][j], runs[-1]["per"][j]
                row.append("%s, %s" % (o(order(a["v_sup"], b["v_sup"])), o(order(a["u_sup"], b["u_sup"]))))
            else:
                row.append("")
            rows.append(row)
        body += "Per saved time (sup on the mass region):\n\n" + table(head, rows)
        last = runs[-1]
        # The solver's own summary (its C++ mass region) must agree with the numbers computed here.
        diff = abs(last["attrs"]["continuous_error_value_sup"] - last["v_sup"]) / last["v_sup"]
        ctx.label("summary", ctx.check(
            "beta %s: the solver's continuous_error_value_sup equals the error computed here (K = %d; relative "
            "difference < 1e-6, both are maxima of the same numbers)" % (beta, last["K"]), diff < 1e-6,
            "relative difference %.1e" % diff))
        # At t = 1 (the last saved time) no step is taken: both sides are r and grad r / beta.
        t1 = max(max(r["per"][-1]["v_sup"], r["per"][-1]["u_sup"]) for r in runs)
        info["t1"] = ctx.check("beta %s: at t = 1 the discrete and the continuous V, u are both r, grad r / beta "
                               "(largest difference over all K < 1e-12, rounding)" % beta,
                               runs[0]["per"][-1]["t"] == 1.0 and t1 < 1e-12,
                               "t = %g, largest difference %.1e" % (runs[0]["per"][-1]["t"], t1))
        # The grid error at the largest K, against the grid of 2n - 1 points: the gap is the time error.
        K, n2 = last["K"], 2 * n - 1
        rf = run(ctx, "gap_b%s_K%d_n%d" % (beta, K, n2), "bellman",
                 GMM1 + ["-beta", beta] + grid_opts(1, n2) + ["-save_every", str(K // 5), "-ddpm_steps", str(K),
                                                            "-bellman_monitor", "0"])
        if rf["rc"] == 0:
            _, gt = errors(GMM1 + ["-beta", beta], last["file"], rf["file"], 2)
            rv, ru = gt["v_sup"] / last["v_sup"], gt["u_sup"] / last["u_sup"]
            info["grid"] = dict(gt, n=n, n2=n2, K=K, label=ctx.check(
                "beta %s, K = %d: the grid error at n = %d (against n = %d) is below 1e-3 of the gap, for V and u "
                "(sup; measured 2e-5 to 2e-4)" % (beta, K, n, n2), rv < 1e-3 and ru < 1e-3,
                "sup |dV| %s = %.1e of the gap, sup |du| %s = %.1e of it" % (e(gt["v_sup"]), rv, e(gt["u_sup"]), ru)))
        else:
            info["grid"] = {"label": ctx.check("beta %s: grid error run" % beta, False, failed(rf))}
        # Where the gap is largest, on every step of the largest K.
        loc = gap_location(ctx, beta, K, n)
        if loc:
            v, u = loc["v"], loc["u"]
            between = all(l["modes"][0] < l["x"] < l["modes"][-1] for l in (v, u))
            dist = abs(u["x"] - loc["steep_x"])
            loc["between"] = ctx.check(
                "beta %s, K = %d: the largest errors of V and of u (every step) lie between the two mode centres of "
                "p_{T-t}" % (beta, K), between,
                "V: t = %.3f, x = %.2f; u: t = %.3f, x = %.2f; modes at %.2f, %.2f (t of u)"
                % (v["t"], v["x"], u["t"], u["x"], u["modes"][0], u["modes"][-1]))
            loc["steep"] = ctx.check(
                "beta %s, K = %d: the largest error of u is within 0.5 of the steepest point of u* at that time "
                "(0.5: a sixth of the distance between the modes; measured 0.1 to 0.25)" % (beta, K), dist < 0.5,
                "error at x = %.2f, steepest u* at x = %.2f (|du*/dx| = %.1f), distance %.2f"
                % (u["x"], loc["steep_x"], loc["steep_slope"], dist))
            info["loc"] = loc
        else:
            info["loc"] = None
            ctx.check("beta %s: the runs that locate the gap" % beta, False, "failed")
        # First order in 1/K: the orders of the last pair, and how they approach 1.
        if len(runs) >= 2:
            ords = {k: [order(runs[i][k], runs[i + 1][k]) for i in range(len(runs) - 1)] for k, _ in GAP_NORMS}
            info["ords"] = ords
            lastp = {k: ords[k][-1] for k, _ in GAP_NORMS}
            info["first_order"] = ctx.check(
                "beta %s: the gap is first order in 1/K in all five norms on the last pair K = %d -> %d "
                "(|ord - 1| < 0.25; measured 0.02 to 0.17)" % (beta, runs[-2]["K"], runs[-1]["K"]),
                all(abs(x - 1) < 0.25 for x in lastp.values()),
                ", ".join("%s %s" % (nm, o(lastp[k])) for k, nm in GAP_NORMS))
            # Asymptotic from the first pair after which every order of every norm is within 0.25 of 1.
            start = None
            for i in range(len(runs) - 1):
                if all(abs(ords[k][m] - 1) < 0.25 for k, _ in GAP_NORMS for m in range(i, len(runs) - 1)):
                    start = i
                    break
            info["asym_from"] = runs[start]["K"] if start is not None else None
            if len(runs) >= 3:
                # e = A/K + B/K^2 + ...: the order is 1 + O(1/K), so its distance to 1 falls as K doubles.
                dev = {k: [abs(x - 1) for x in ords[k]] for k, _ in GAP_NORMS}
                info["approach"] = ctx.check(
                    "beta %s: the orders approach 1 as K doubles (|ord - 1| falls from each pair to the next, all "
                    "five norms; an error A/K + B/K^2 has order 1 + O(1/K))" % beta,
                    all(dev[k][m + 1] < dev[k][m] for k, _ in GAP_NORMS for m in range(len(runs) - 2)),
                    "; ".join("%s %s" % (nm, ", ".join(o(x) for x in ords[k])) for k, nm in GAP_NORMS))
        g, loc = info.get("grid"), info.get("loc")
        if g and "v_sup" in g:
            body += ("Grid error at K = %d: against n = %d, sup |dV| = %s and sup |du| = %s, below 1e-3 of the gap "
                     "there%s, so the numbers above are the time-discretization gap.  At t = 1 both sides are r "
                     "and grad r / beta: the difference is 0%s (t = 1 counts in the root mean square).\n\n"
                     % (g["K"], g["n2"], e(g["v_sup"]), e(g["u_sup"]), cite(g["label"]), cite(info["t1"])))
        if loc:
            body += ("Where the gap is largest (K = %d, every step saved, `-save_every 1`): V at t = %.3f, x = %.2f; "
                     "u at t = %.3f, x = %.2f, between the mode centres %.2f and %.2f of p_{T-t}%s and %.2f from the "
                     "steepest point of u* (x = %.2f, |du*/dx| = %.1f)%s.\n\n"
                     % (K, loc["v"]["t"], loc["v"]["x"], loc["u"]["t"], loc["u"]["x"], loc["u"]["modes"][0],
                        loc["u"]["modes"][-1], cite(loc["between"]), abs(loc["u"]["x"] - loc["steep_x"]),
                        loc["steep_x"], loc["steep_slope"], cite(loc["steep"])))
    md = "## (a) The discrete optimum against the continuous-time closed form\n\n"
    md += ("%s; eta = 1; grid n = %d on the default box; exact expectations (1-D).  For each K, `hjbft bellman "
           "-ddpm_steps K` and `hjbft exact -nt K` on the same grid; errors of the discrete V_t and u_t against "
           "V*(t j/K) and u*(t j/K) of the closed form at the saved times t = 0, 0.2, ..., 1.  `ord` = log2 of the "
           "ratio to the previous K.  J* = E V_0(Y_0), Y_0 ~ N(0, v(T)).\n\n" % (PROBLEM_TEXT["GMM1"], n))
    ctx.results["_gap"] = {b: dict({k: v for k, v in info.items() if k != "runs"},
                                   runs=[{k: v for k, v in r.items() if k not in ("attrs", "file")} for r in info["runs"]])
                           for b, info in res.items()}
    return md + body


# --- (b) grid and quadrature convergence -----------------------------------------------------------------
def sec_grid(ctx):
    md = "## (b) Grid and quadrature convergence at fixed K\n\n"
    K = 50
    ns = [201, 401, 801] if ctx.quick else [51, 101, 201, 401, 801]
    nref = 1601
    base = GMM1 + ["-ddpm_steps", str(K), "-bellman_monitor", "0"]
    ref = run(ctx, "grid1d_n%d" % nref, "bellman", base + grid_opts(1, nref))
    rows, prev, pairs, tots = [], None, [], {}
    for n in ns:
        r = run(ctx, "grid1d_n%d" % n, "bellman", base + grid_opts(1, n))
        if r["rc"] or ref["rc"]:
            rows.append(["%d" % n, failed(r if r["rc"] else ref)] + [""] * 8)
            prev = None
            continue
        _, tot = errors(GMM1, r["file"], ref["file"], (nref - 1) // (n - 1))
        tots[n] = tot
        row = ["%d" % n]
        for k in ("v_sup", "v_l2", "u_sup", "u_l2"):
            row += [e(tot[k]), o(order(prev[k], tot[k])) if prev else ""]
        if prev:
            pairs.append((prev["n"], n, {k: order(prev[k], tot[k]) for k in ("v_sup", "v_l2", "u_sup", "u_l2")}))
        row += ["%.2f" % r["wall"]]
        rows.append(row)
        prev = dict(tot, n=n)
    # Theory: the not-a-knot cubic spline interpolates at O(h^4); the Gaussian expectation of its gradient
    # (the control) is the gradient of the smoothed spline, also O(h^4) once sigma spans several cells.
    lab_grid, asym = None, None
    if len(pairs) >= 2:
        lastp = pairs[-2:]
        lab_grid = ctx.check(
            "1-D grid convergence: V and u (sup and L2) converge at fourth order: the orders of the last two pairs "
            "(n = %d -> %d -> %d) are within 0.5 of 4 (cubic spline; measured within 0.11)"
            % (lastp[0][0], lastp[0][1], lastp[1][1]),
            all(abs(x - 4) < 0.5 for p in lastp for x in p[2].values()),
            "; ".join("%d->%d: %s" % (a, b, ", ".join(o(d[k]) for k in ("v_sup", "v_l2", "u_sup", "u_l2")))
                      for a, b, d in pairs))
        for i in range(len(pairs)):
            if all(abs(x - 4) < 0.5 for p in pairs[i:] for x in p[2].values()):
                asym = pairs[i][0]
                break
    ctx.results["_grid1d"] = {"pairs": pairs, "asym_from": asym, "label": lab_grid}
    md += ("### %s, beta = 1, K = %d\n\nSelf-convergence: differences to the n = %d solution on the coarse "
           "grid's points (same box, so every coarse point is a fine point), over the saved times t = 0, 0.1, "
           "..., 1.  Exact expectations (the default in 1-D), so there is no quadrature error.  Fourth order in "
           "V and u, sup and L2%s, from n = %s on (the first n from which every later pair's four orders are "
           "within 0.5 of 4%s).\n\n"
           % (PROBLEM_TEXT["GMM1"], K, nref, cite(lab_grid), asym if asym else "—",
              "; the smallest n here" if asym == ns[0] else ""))
    md += table(["n", "sup\\|dV\\|", "ord", "L2 V", "ord", "sup\\|du\\|", "ord", "L2 u", "ord", "wall s"], rows)

    # Gauss-Hermite against the exact expectation, same grid.
    n = 201 if ctx.quick else 401
    qs = [8, 12, 24, 48, 96] if ctx.quick else [8, 12, 16, 24, 48, 96]
    ex = run(ctx, "quad1d_exact_n%d" % n, "bellman", base + grid_opts(1, n))
    rows, qerr = [], {}
    for q in qs:
        r = run(ctx, "quad1d_q%d_n%d" % (q, n), "bellman",
                base + grid_opts(1, n) + ["-bellman_expectation", "quadrature", "-bellman_quad", str(q)])
        if r["rc"] or ex["rc"]:
            rows.append(["%d" % q, failed(r if r["rc"] else ex), "", "", "", "", "", ""])
            continue
        _, tot = errors(GMM1, r["file"], ex["file"])
        qerr[q] = tot
        rate = ""
        if len(qerr) >= 2:
            qa = sorted(qerr)[-2]
            rate = "%.3f" % (math.log(qerr[qa]["v_sup"] / tot["v_sup"]) / (q - qa))
        rows.append(["%d" % q, e(tot["v_sup"]), rate, e(tot["v_l2"]), e(tot["u_sup"]), e(tot["u_l2"]),
                     e(abs(r["attrs"]["objective"] - ex["attrs"]["objective"])), "%.2f" % r["wall"]])
    if not ex["rc"]:
        rows.append(["exact", "", "", "", "", "", "", "%.2f" % ex["wall"]])
    lab_exp, lab_dom, rates = None, None, None
    if len(qerr) == len(qs):
        # Exponential convergence (smooth integrand) keeps the per-node rate ln(e_q / e_q') / (q' - q) constant;
        # a piecewise-smooth integrand makes it fall as q grows.
        r0 = math.log(qerr[qs[0]]["v_sup"] / qerr[qs[1]]["v_sup"]) / (qs[1] - qs[0])
        r1 = math.log(qerr[qs[-2]]["v_sup"] / qerr[qs[-1]]["v_sup"]) / (qs[-1] - qs[-2])
        rates = (r0, r1)
        lab_exp = ctx.check(
            "1-D Gauss-Hermite is not exponentially convergent here: the per-node rate of sup |dV| on the last pair "
            "(q = %d -> %d) is below half that of the first (q = %d -> %d) (exponential: equal; measured 0.09 to 0.2 "
            "of it)" % (qs[-2], qs[-1], qs[0], qs[1]), r1 < 0.5 * r0, "%.3f -> %.3f per node (%.2f of it)"
                                                                   % (r0, r1, r1 / r0))
        if n in tots and 12 in qerr:
            ratio = qerr[12]["v_sup"] / tots[n]["v_sup"]
            lab_dom = ctx.check(
                "1-D: at the 2-D default q = 12 the Gauss-Hermite error of V is over 10 times the grid error at "
                "n = %d (measured 200 to 5000 times)" % n, ratio > 10,
                "sup |dV| %s against %s: %.0f times" % (e(qerr[12]["v_sup"]), e(tots[n]["v_sup"]), ratio))
    # The defaults the text names: exact expectations in 1-D, and no exact choice in 2-D.
    rxe = run(ctx, "quad1d_explicit_exact_n%d" % n, "bellman",
              base + grid_opts(1, n) + ["-bellman_expectation", "exact"])
    if ex["rc"] == 0 and rxe["rc"] == 0:
        p = vc.compare_files(ctx, ex["file"], rxe["file"], "0")
        ok, detail = p.returncode == 0, (p.stdout.strip().splitlines() or [""])[-1]
    else:
        ok, detail = False, failed(ex if ex["rc"] else rxe)
    lab_def = ctx.check("1-D: the default expectation is the exact one (default and `-bellman_expectation exact` "
                        "give the same fields, compare -tol 0)", ok, detail)
    r2x = run(ctx, "quad2d_exact_refused", "bellman", GMM2 + grid_opts(2, 17) + ["-ddpm_steps", "5",
              "-bellman_monitor", "0", "-bellman_expectation", "exact"])
    lab_2dq = ctx.check("2-D: `-bellman_expectation exact` is refused (exit 1, naming the option): Gauss-Hermite is "
                        "the only choice there", r2x["rc"] == 1 and "-bellman_expectation" in r2x["error"],
                        "exit %d: %s" % (r2x["rc"], r2x["error"]))
    ctx.results["_quad1d"] = {"rates": rates, "label_exp": lab_exp, "label_dom": lab_dom, "label_def": lab_def,
                              "label_2dq": lab_2dq}
    md += ("### 1-D: Gauss-Hermite quadrature against the exact expectation\n\nSame problem and K, n = %d.  "
           "Differences of `-bellman_expectation quadrature -bellman_quad q` to the exact expectation (sup and L2 "
           "on the mass region, all saved times); `rate`: ln(e_q' / e_q) / (q - q') of sup |dV| over the previous "
           "row, the per-node rate that exponential convergence would keep constant.  The integrand V_{t+1}(mu + "
           "b u + sigma Z) is a piecewise cubic whose third derivative jumps at every grid point: the rate "
           "falls as q grows%s, and at q = 12 the quadrature error is over ten times the spline's%s, so 1-D uses "
           "the exact integral by default%s.  "
           "(|dJ| also holds the error of J's own Gauss-Hermite rule, with -bellman_quad nodes.)\n\n"
           % (n, cite(lab_exp), cite(lab_dom), cite(lab_def)))
    md += table(["q", "sup\\|dV\\|", "rate", "L2 V", "sup\\|du\\|", "L2 u", "\\|dJ\\|", "wall s"], rows)

    # 2-D: Gauss-Hermite (the only choice there); grid refinement at fixed q, then q at fixed grid.
    K2 = 20
    ns2 = [17, 33] if ctx.quick else [17, 33, 65]
    nref2 = 65 if ctx.quick else 129
    q2 = "12"
    base2 = GMM2 + ["-ddpm_steps", str(K2), "-bellman_monitor", "0", "-bellman_quad", q2]
    ref2 = run(ctx, "grid2d_n%d" % nref2, "bellman", base2 + grid_opts(2, nref2))
    rows, prev, tots2 = [], None, {}
    for n in ns2:
        r = run(ctx, "grid2d_n%d" % n, "bellman", base2 + grid_opts(2, n))
        if r["rc"] or ref2["rc"]:
            rows.append(["%d^2" % n, failed(r if r["rc"] else ref2)] + [""] * 8)
            prev = None
            continue
        _, tot = errors(GMM2, r["file"], ref2["file"], (nref2 - 1) // (n - 1))
        tots2[n] = tot
        row = ["%d^2" % n]
        for k in ("v_sup", "v_l2", "u_sup", "u_l2"):
            row += [e(tot[k]), o(order(prev[k], tot[k])) if prev else ""]
        row += ["%.2f" % r["wall"]]
        rows.append(row)
        prev = tot
    if not ref2["rc"]:
        rows.append(["%d^2 (reference)" % nref2] + [""] * 8 + ["%.2f" % ref2["wall"]])
    md += ("### %s, beta = 1, K = %d\n\nGauss-Hermite with %s x %s nodes; self-convergence against n = %d^2 as "
           "above.\n\n" % (PROBLEM_TEXT["GMM2"], K2, q2, q2, nref2))
    md += table(["n", "sup\\|dV\\|", "ord", "L2 V", "ord", "sup\\|du\\|", "ord", "L2 u", "ord", "wall s"], rows)
    nq = 33 if ctx.quick else 65
    qs2 = [6, 8, 12] if ctx.quick else [6, 8, 12, 16]
    qref = 16 if ctx.quick else 24
    refq = run(ctx, "quad2d_q%d_n%d" % (qref, nq), "bellman", GMM2 + ["-ddpm_steps", str(K2), "-bellman_monitor", "0",
                                                                    "-bellman_quad", str(qref)] + grid_opts(2, nq))
    rows, qerr2 = [], {}
    for q in qs2:
        r = run(ctx, "quad2d_q%d_n%d" % (q, nq), "bellman", GMM2 + ["-ddpm_steps", str(K2), "-bellman_monitor", "0",
                                                                   "-bellman_quad", str(q)] + grid_opts(2, nq))
        if r["rc"] or refq["rc"]:
            rows.append(["%d" % q, failed(r if r["rc"] else refq), "", "", "", ""])
            continue
        _, tot = errors(GMM2, r["file"], refq["file"])
        qerr2[q] = tot
        rows.append(["%d" % q, e(tot["v_sup"]), e(tot["v_l2"]), e(tot["u_sup"]), e(tot["u_l2"]), "%.2f" % r["wall"]])
    if not refq["rc"]:
        rows.append(["%d (reference)" % qref, "", "", "", "", "%.2f" % refq["wall"]])
    lab_2d, ratio2 = None, None
    if int(q2) in qerr2 and nq in tots2:
        ratio = ratio2 = qerr2[int(q2)]["u_sup"] / tots2[nq]["u_sup"]
        lab_2d = ctx.check(
            "2-D: at q = %s and n = %d^2 the quadrature error of u is not small against the grid difference there "
            "(>= 0.1 of it; measured 0.6 to 1)" % (q2, nq), ratio >= 0.1,
            "sup |du| %s (q = %s against %d) and %s (n = %d against %d): %.2f" % (
                e(qerr2[int(q2)]["u_sup"]), q2, qref, e(tots2[nq]["u_sup"]), nq, nref2, ratio))
    ctx.results["_quad2d"] = {"label": lab_2d}
    md += ("2-D quadrature: n = %d^2, q x q nodes against q = %d (the rest as above).  In 2-D Gauss-Hermite is "
           "the only choice%s, and it limits the accuracy: at q = %s the quadrature error of u is %s of the grid "
           "difference at this n%s.\n\n" % (nq, qref, cite(lab_2dq), q2, "%.2f" % ratio2 if ratio2 else "—",
                                            cite(lab_2d)))
    md += table(["q", "sup\\|dV\\|", "L2 V", "sup\\|du\\|", "L2 u", "wall s"], rows)
    return md


# --- (c) PI-FT --------------------------------------------------------------------------------------------
def sec_pi(ctx):
    betas = ["1"] if ctx.quick else ["1", "0.3", "0.1"]
    Ks = [100] if ctx.quick else [100, 400]
    n = 201
    md = "## (c) The exact PI-FT iteration against the discrete optimum\n\n"
    md += ("%s, n = %d, `-bellman_method pi -bellman_pi_max 60 -bellman_pi_tol 1e-9`.  From u^0 = 0 (the "
           "pre-trained model), iteration m evaluates u^m (V^m) and improves it to u^{m+1} = sigma^2/(beta b) "
           "E grad V^m_{t+1}(mu + b u^m + sigma Z).  Errors of (u^m, V^m) against the discrete optimum, sup on the "
           "99.9%% mass region over the saved times (from /history).  `fitted rate`: least-squares geometric rate "
           "of the control error over the iterations where it lies in [1e-9, 1e-2]; `predicted`: the attribute "
           "pi_rate_predicted, the largest spectral radius of (sigma_t^2/beta) E Hess V*_{t+1} at the optimum over "
           "steps and mass-region points, which is the linear rate of the improvement step near the optimum@PIRATE@."
           "  The rate falls like 1/K@PI1K@; it grows as beta falls, by less than 1/beta@PIBETA@.\n\n"
           % (PROBLEM_TEXT["GMM1"], n))
    rows, runs = [], {}
    for K in Ks:
        for beta in betas:
            r = run(ctx, "pi_b%s_K%d" % (beta, K), "bellman",
                    GMM1 + grid_opts(1, n) + ["-beta", beta, "-ddpm_steps", str(K), "-bellman_method", "pi",
                                              "-bellman_pi_max", "60", "-bellman_pi_tol", "1e-9"])
            runs[(beta, K)] = r
            pred = None
            if r["rc"] == 0:
                a, h = r["attrs"], r["hist"]
                pred = a["pi_rate_predicted"]
                fit = fitted_rate(h["error_control_sup"])
                rows.append([beta, "%d" % K, "converged" if a["pi_converged"] else "not converged",
                             "%d" % a["pi_iterations"], o(fit), o(pred), e(h["error_control_sup"][-1]),
                             e(h["error_value_sup"][-1]), e(h["objective_gap"][-1]),
                             "%.3g" % a["concavity_margin"], "%.2f" % r["wall"]])
            else:
                rows.append([beta, "%d" % K, failed(r)] + [""] * 8)
    # Too few steps for beta: the predicted rate is above 1 and PI diverges (exit 2).
    if not ctx.quick:
        beta, K = "0.1", 40
        r = run(ctx, "pi_b%s_K%d" % (beta, K), "bellman",
                GMM1 + grid_opts(1, n) + ["-beta", beta, "-ddpm_steps", str(K), "-bellman_method", "pi",
                                          "-bellman_pi_max", "60", "-bellman_pi_tol", "1e-9"])
        ro = run(ctx, "pi_b%s_K%d_optimum" % (beta, K), "bellman",
                 GMM1 + grid_opts(1, n) + ["-beta", beta, "-ddpm_steps", str(K)])
        pred = o(ro["attrs"]["pi_rate_predicted"]) if ro["rc"] == 0 else "—"
        rows.append([beta, "%d" % K, "diverged (exit %d)" % r["rc"] if r["rc"] else "converged", "", "", pred,
                     "", "", "", "%.3g" % ro["attrs"]["concavity_margin"] if ro["rc"] == 0 else "",
                     "%.2f" % r["wall"]])
        ctx.label("pi_div", ctx.check(
            "PI beta %s K %d (predicted rate %s > 1) fails with exit 2, naming the predicted rate" % (beta, K, pred),
            r["rc"] == 2 and "predicted" in r["error"], r["error"]))
        ctx.results["_pi_diverged"] = {"beta": beta, "K": K, "rc": r["rc"], "predicted": pred, "error": r["error"]}
    md += table(["beta", "K", "PI", "iterations", "fitted rate", "predicted", "final sup\\|u-u*\\|",
                 "final sup\\|V-V*\\|", "J* - J", "concavity margin", "wall s"], rows)
    # Per-iteration tables for the largest K.
    K = Ks[-1]
    for beta in betas:
        r = runs[(beta, K)]
        if r["rc"]:
            continue
        h = r["hist"]
        md += "### beta = %s, K = %d: per iteration\n\n" % (beta, K)
        t_rows = []
        for m in range(len(h["iteration"])):
            t_rows.append(["%d" % m, e(h["control_change"][m]), e(h["error_control_sup"][m]),
                           o(h["error_ratio"][m]), e(h["error_value_sup"][m]), e(h["error_control_l2"][m]),
                           "%.10f" % h["objective"][m], e(h["objective_gap"][m])])
        md += table(["m", "sup\\|u^{m+1}-u^m\\|", "sup\\|u^m-u*\\|", "ratio", "sup\\|V^m-V*\\|", "L2 u",
                     "J(u^m)", "J* - J(u^m)"], t_rows)
    # Checks: every run reaches the optimum, linearly, at the predicted rate; the rate falls like 1/K and
    # grows as beta falls.
    for (beta, K), r in sorted(runs.items(), key=lambda kv: (kv[0][1], -float(kv[0][0]))):
        ok = r["rc"] == 0 and r["attrs"]["pi_converged"] and r["hist"]["error_control_sup"][-1] < 1e-8
        ctx.label("pi_opt", ctx.check(
            "PI beta %s K %d converges to the optimum (sup |u - u*| < 1e-8, ten times the stopping tolerance "
            "1e-9 on the change; measured 1e-10 to 5e-10)" % (beta, K), ok,
            r["error"] if r["rc"] else e(r["hist"]["error_control_sup"][-1])))
        if r["rc"] == 0 and r["attrs"]["pi_converged"]:
            fit, pred = fitted_rate(r["hist"]["error_control_sup"]), r["attrs"]["pi_rate_predicted"]
            ctx.label("pi_rate", ctx.check(
                "PI beta %s K %d: fitted linear rate within 0.1 of the predicted rate (measured within 0.05)"
                % (beta, K), abs(fit - pred) < 0.1, "fitted %s, predicted %s" % (o(fit), o(pred))))
            lo, hi = pi_tail_ratios(r["hist"])
            ctx.label("pi_linear", ctx.check(
                "PI beta %s K %d: linear, not superlinear: the successive error ratios over the errors in [1e-9, "
                "1e-4] stay within a factor 2 (superlinear: they fall to 0; measured within 1.5)" % (beta, K),
                lo > 0 and hi / lo < 2, "ratios %s to %s" % (o(lo), o(hi))))
    ok_runs = {k: r for k, r in runs.items() if r["rc"] == 0}
    if len(Ks) > 1:
        for beta in betas:
            if ("%s" % beta, Ks[0]) in ok_runs and (beta, Ks[-1]) in ok_runs:
                a, b = (ok_runs[(beta, K)]["attrs"]["pi_rate_predicted"] for K in (Ks[0], Ks[-1]))
                ctx.label("pi_1k", ctx.check(
                    "PI beta %s: the predicted rate falls like 1/K (K %d -> %d: ratio within a factor 2 of %.2f; "
                    "sigma_t^2 ~ 1/K; measured 1.15 to 1.4 times it)" % (beta, Ks[0], Ks[-1], Ks[0] / Ks[-1]),
                    0.5 * Ks[0] / Ks[-1] < b / a < 2.0 * Ks[0] / Ks[-1], "%.3f -> %.3f, ratio %.3f" % (a, b, b / a)))
    if len(betas) > 1:
        for K in Ks:
            if all((b, K) in ok_runs for b in betas):
                rs = [ok_runs[(b, K)]["attrs"]["pi_rate_predicted"] for b in betas]  # betas decreasing
                bs = [float(b) for b in betas]
                ctx.label("pi_beta", ctx.check(
                    "PI K %d: the predicted rate grows as beta falls, by less than the factor 1/beta (beta %s -> %s: "
                    "1 < ratio < %.0f)" % (K, betas[0], betas[-1], bs[0] / bs[-1]),
                    all(rs[i + 1] > rs[i] for i in range(len(rs) - 1)) and rs[-1] / rs[0] < bs[0] / bs[-1],
                    "%s (ratio %.2f)" % (" -> ".join("%.3f" % x for x in rs), rs[-1] / rs[0])))
    ctx.results["_pi"] = {"%s_%d" % k: {"rc": r["rc"], "attrs": r["attrs"], "hist": r["hist"]} for k, r in runs.items()}
    md = md.replace("@PIRATE@", cite(ctx.labels.get("pi_rate", [])))
    md = md.replace("The rate falls like 1/K@PI1K@", "The rate falls like 1/K" + cite(ctx.labels["pi_1k"])
                    if ctx.labels.get("pi_1k") else "(One K only in --quick: how the rate moves with K is not measured)")
    md = md.replace("; it grows as beta falls, by less than 1/beta@PIBETA@",
                    "; it grows as beta falls, by less than 1/beta" + cite(ctx.labels["pi_beta"])
                    if ctx.labels.get("pi_beta") else "")
    return md


# --- (d) 2-D ring --------------------------------------------------------------------------------------------
def sec_ring(ctx):
    n, K = (33, 20) if ctx.quick else (81, 50)
    q = "8" if ctx.quick else "12"
    md = "## (d) 2-D: an eight-mode ring\n\n"
    md += ("%s; beta = 1, n = %d^2, K = %d, Gauss-Hermite %s x %s nodes.  The closed form applies (eta = 1, "
           "quadratic reward), so the gap to continuous time is reported too.  Times: wall clock and CPU (user + "
           "system, all ranks) on this machine, which other jobs shared; the 2-rank run gives the same fields "
           "as the 1-rank run (`hjbft compare -tol 0`)@RANKS@.\n\n" % (PROBLEM_TEXT["RING"], n, K, q, q))
    base = RING + grid_opts(2, n) + ["-ddpm_steps", str(K), "-bellman_quad", q]
    r1 = run(ctx, "ring_optimum_n1", "bellman", base)
    r2 = run(ctx, "ring_optimum_n2", "bellman", base, nproc=2)
    rp = run(ctx, "ring_pi_n1", "bellman", base + ["-bellman_method", "pi", "-bellman_pi_max", "60"])
    rows = []
    for lab_, r in (("optimum, 1 rank", r1), ("optimum, 2 ranks", r2), ("pi, 1 rank", rp)):
        if r["rc"]:
            rows.append([lab_, failed(r)] + [""] * 9)
            continue
        a = r["attrs"]
        rows.append([lab_, "%.2f" % r["wall"], "%.2f" % r["cpu"], "%.10f" % a["objective"],
                     "%d" % a["newton_max_iterations"], "%.3g" % a["concavity_margin"],
                     "%d" % a["multiple_maxima_points"], o(a["pi_rate_predicted"]),
                     e(a.get("continuous_error_value_sup")), e(a.get("continuous_error_control_sup")),
                     "%d" % a["pi_iterations"] if "pi_iterations" in a else ""])
    md += table(["run", "wall s", "cpu s", "J*", "Newton its", "concavity margin", "two local maxima", "predicted PI rate",
                 "sup\\|V-V*_cont\\|", "sup\\|u-u*_cont\\|", "PI its"], rows)
    if r1["rc"] == 0 and r2["rc"] == 0:
        p = vc.compare_files(ctx, r1["file"], r2["file"], "0")
        lab_ = ctx.check("2-D ring: 2 ranks give the same fields as 1 rank (compare -tol 0)", p.returncode == 0,
                         (p.stdout.strip().splitlines() or [""])[-1])
    else:
        lab_ = ctx.check("2-D ring: 2 ranks give the same fields as 1 rank (compare -tol 0)", False, "a run failed")
    md = md.replace("@RANKS@", cite(lab_))
    if rp["rc"] == 0:
        h = rp["hist"]
        fit, pred = fitted_rate(h["error_control_sup"]), rp["attrs"]["pi_rate_predicted"]
        lo, hi = pi_tail_ratios(h)
        l_opt = ctx.label("pi_opt", ctx.check(
            "2-D ring: PI reaches the optimum on the mass region (sup |u - u*| < 1e-7, ten times the default "
            "stopping tolerance 1e-8 on the change; measured 1e-10 to 3e-9)",
            rp["attrs"]["pi_converged"] and h["error_control_sup"][-1] < 1e-7, e(h["error_control_sup"][-1])))
        l_rate = ctx.label("pi_rate", ctx.check(
            "2-D ring: PI's fitted linear rate within 0.1 of the predicted rate (measured 0.01 to 0.06 apart)",
            abs(fit - pred) < 0.1, "fitted %s, predicted %s" % (o(fit), o(pred))))
        l_lin = ctx.label("pi_linear", ctx.check(
            "2-D ring: PI is linear, not superlinear: the successive error ratios over the errors in [1e-9, 1e-4] "
            "stay within a factor 2", lo > 0 and hi / lo < 2, "ratios %s to %s" % (o(lo), o(hi))))
        md += ("PI on the ring: %d iterations (%s; -bellman_pi_tol applies to the change over the whole box), "
               "final sup |u - u*| on the mass region %s%s, linear%s at the fitted rate %s (predicted %s)%s.\n\n"
               % (len(h["iteration"]), "converged" if rp["attrs"]["pi_converged"] else "stopped at -bellman_pi_max",
                  e(h["error_control_sup"][-1]), cite(l_opt), cite(l_lin), o(fit), o(pred), cite(l_rate)))
    # How the optimum moves the mass: the value-tilted weight of each mode is not computed here; the
    # fine-tuned control at t = 0.8 near each mode shows the pull towards the favoured modes.
    if r1["rc"] == 0:
        with h5py.File(r1["file"], "r") as f:
            x0, x1, times = f["grid/x0"][:], f["grid/x1"][:], f["time"][:]
            j = int(np.argmin(np.abs(times - 0.8)))
            U = f["control"][j]
        rows = []
        for k in range(8):
            ang = 2 * math.pi * k / 8
            px, py = RING_R * math.cos(ang), RING_R * math.sin(ang)
            i0, i1 = int(np.argmin(np.abs(x0 - px))), int(np.argmin(np.abs(x1 - py)))
            u = U[i1, i0]
            rows.append(["%d" % (45 * k), "(%.2f, %.2f)" % (x0[i0], x1[i1]), "(%.3f, %.3f)" % (u[0], u[1]),
                         "%.3f" % math.hypot(u[0], u[1])])
        md += ("The control u at t = %.2f at the grid point nearest to each mode (the reward's centre is the mode at "
               "45 degrees):\n\n" % times[j])
        md += table(["mode (deg)", "grid point", "u", "\\|u\\|"], rows)
    return md


def concavity(ctx):
    """The concavity margins of every bellman run here, by K (the attribute concavity_margin)."""
    runs = [(k, v["attrs"]) for k, v in ctx.results.items()
            if not k.startswith("_") and v.get("rc") == 0 and "concavity_margin" in v.get("attrs", {})]
    if not runs:
        return None
    big = [(k, a["concavity_margin"]) for k, a in runs if a["K"] >= 100]
    small_bad = [(k, a["concavity_margin"], int(a["K"]), int(a["multiple_maxima_points"])) for k, a in runs
                 if a["K"] < 100 and a["concavity_margin"] <= 0]
    out = {"n": len(runs), "nbig": len(big), "bad": small_bad}
    if big:
        k, m = min(big, key=lambda x: x[1])
        out["min_big"] = (k, m)
        out["pos"] = ctx.check("every run here with K >= 100 has a positive concavity margin (%d runs)" % len(big),
                               m > 0, "smallest %.3g (%s)" % (m, k))
    out["exists"] = ctx.check("some run here with K < 100 has concavity margin <= 0 (large steps need not give "
                              "concave per-point objectives)", bool(small_bad),
                              "; ".join("%s (K = %d): %.3g" % (k, K, m) for k, m, K, _ in small_bad[:6])
                              + (" and %d more" % (len(small_bad) - 6) if len(small_bad) > 6 else ""))
    return out


def preamble(ctx):
    u = {k: cite(ctx.labels.get(k, [])) for k, _, _ in UNIT_TESTS}
    return """# Validation of the discrete-time ground truth (`hjbft bellman`)

`hjbft bellman` solves the Bellman recursion of the K-step DDPM chain of DESIGN.md section 5 on a grid
(solvers/bellman/, docs/mathematics.md "Discrete time"): the exact optimum by a per-point Newton solve of
the first-order condition, and the exact PI-FT iteration measured against it (which reaches it in every run
here%s).  This report compares it with (a) the continuous-time closed form as K grows, (b) itself under grid
and quadrature refinement, (c) the PI-FT iteration with the discrete optimum, and (d) runs a 2-D eight-mode
problem with timings.  The unit tests (tests/discrete/test_bellman.cpp, run here by name) check the pieces
against independent answers: Gauss-Hermite exactness%s, the not-a-knot spline on cubic polynomials%s, the DDPM
alpha form%s and Tweedie's mean%s, an independent linear-quadratic recursion (agreement to 1e-9 in V and 1e-8
in u: rounding and the Newton tolerance)%s, a separable 2-D problem against the 1-D solver%s, and PI with a
linear reward reaching the optimum in one improvement%s.

Norms: sup over the grid points of highest reference density holding 99.9%% of the mass of p_{T-t}, the
continuous-time reference marginal at generation time t (the K-step chain's own law of Y_t differs from it
by a time-discretization error, not measured here), and L2 weighted by that density; both taken over the
saved times (L2: root mean square over them).  They are computed by this script from the HDF5 fields,
independently of the solver's own summary (which section (a) checks against them%s).
""" % (cite(ctx.labels.get("pi_opt", [])), u["gh"], u["spline"], u["alpha"], u["tweedie"], u["lq"],
       u["separable"], u["pilinear"], cite(ctx.labels.get("summary", [])))


def findings(ctx):
    """Short, generated statements of what the numbers show, each with the checks that back it."""
    s = "## Findings\n\n"
    g = ctx.results.get("_gap", {}).get("1")
    if g and len(g["runs"]) >= 2:
        a, b = g["runs"][-2], g["runs"][-1]
        ords = ", ".join("%s %s" % (nm, o(order(a[k], b[k]))) for k, nm in GAP_NORMS)
        s += ("* **Discrete vs continuous (a).** The gap between the discrete optimum and the continuous closed form "
              "is first order in 1/K: from K = %d to %d (beta = 1) the orders are %s%s; they are all within 0.25 "
              "of 1 from the pair K = %s on%s." % (a["K"], b["K"], ords, cite(g.get("first_order")),
                                                   "%d -> %d" % (g["asym_from"], 2 * g["asym_from"])
                                                   if g.get("asym_from") else "—",
                                          ", and rise towards 1 with every doubling of K" + cite(g["approach"])
                                          if g.get("approach") else ""))
        loc = g.get("loc")
        if loc:
            s += ("  The gap is largest late in generation, at t = %.2f for V and t = %.2f for u, between the "
                  "modes (u: x = %.2f, modes at %.2f and %.2f)%s, %.2f from the steepest point of u* "
                  "(|du*/dx| = %.0f)%s." % (loc["v"]["t"], loc["u"]["t"], loc["u"]["x"], loc["u"]["modes"][0],
                                            loc["u"]["modes"][-1], cite(loc["between"]),
                                            abs(loc["u"]["x"] - loc["steep_x"]), loc["steep_slope"],
                                            cite(loc["steep"])))
        s += ("  At K = %d, sup |V - V*| = %s and sup |u - u*| = %s, against a grid error below 1e-3 of "
              "that%s: a discrete-time solver is to be compared with this discrete answer, not with the "
              "continuous one.\n" % (b["K"], e(b["v_sup"]), e(b["u_sup"]), cite(g.get("grid", {}).get("label"))))
    g1, q1, q2 = ctx.results.get("_grid1d"), ctx.results.get("_quad1d"), ctx.results.get("_quad2d")
    if g1 and q1:
        s += ("* **Grid and quadrature (b).** In 1-D the expectations are exact Gaussian integrals of the cubic "
              "spline (the default%s), and V and u converge at fourth order under grid refinement%s, from n = %s "
              "on.  Gauss-Hermite quadrature of the same spline is not exponentially convergent: its per-node "
              "rate falls from %s to %s as q grows%s (the integrand's third derivative jumps at every grid point); "
              "at q = 12 its error is over ten times the grid error%s.  In 2-D it is the only choice%s and limits "
              "the accuracy%s.\n"
              % (cite(q1.get("label_def")), cite(g1.get("label")), g1.get("asym_from") or "—",
                 "%.3f" % q1["rates"][0] if q1.get("rates") else "—",
                 "%.3f" % q1["rates"][1] if q1.get("rates") else "—", cite(q1.get("label_exp")),
                 cite(q1.get("label_dom")), cite(q1.get("label_2dq")), cite((q2 or {}).get("label"))))
    pi = ctx.results.get("_pi", {})
    if pi:
        parts = []
        for key in sorted(pi):
            r = pi[key]
            beta, K = key.split("_")
            if r["rc"] == 0:
                parts.append("beta %s, K %s: %s in %d iterations, predicted rate %s" % (
                    beta, K, "converged" if r["attrs"]["pi_converged"] else "not converged",
                    r["attrs"]["pi_iterations"], o(r["attrs"]["pi_rate_predicted"])))
            else:
                parts.append("beta %s, K %s: diverged (exit %d)" % (beta, K, r["rc"]))
        dv = ctx.results.get("_pi_diverged")
        L = ctx.labels
        s += ("* **PI-FT (c, d).** The discrete PI-FT improvement evaluates grad V^m at the next state *under the old "
              "control*, so it is a fixed-point step, not Newton: near the optimum its error contracts by the "
              "spectral radius of (sigma^2/beta) E Hess V*, which is measured to be the observed rate%s.  So the "
              "iteration converges to the optimum%s linearly, not superlinearly%s" % (
                  cite(L.get("pi_rate", [])), cite(L.get("pi_opt", [])), cite(L.get("pi_linear", []))))
        if L.get("pi_1k"):
            s += (", at a rate that falls like 1/K (sigma_t^2 ~ 1/K)%s" % cite(L["pi_1k"]))
        if L.get("pi_beta"):
            s += (" and grows as beta falls, by less than the factor 1/beta%s" % cite(L["pi_beta"]))
        if L.get("pi_div"):
            s += ("; it diverges when the predicted rate exceeds 1%s" % cite(L["pi_div"]))
        s += (".  Measured: " + "; ".join(parts)
              + ("; beta %s, K %d: predicted rate %s, %s" % (dv["beta"], dv["K"], dv["predicted"],
                                                         "diverged (exit %d)" % dv["rc"] if dv["rc"] else "converged")
                 if dv else "") + ".\n")
    c = ctx.results.get("_concavity")
    if c:
        s += ("* **Non-concave steps.** With large steps (small K) the per-point Bellman objective need not be "
              "concave (concavity margin 1 - (sigma_t^2/beta) sup lambda_max(Hess V_{t+1}) <= 0 on the mass "
              "region): here %s%s.  The optimum is then the better of two damped-Newton local maxima (from "
              "u_{t+1} and from 0) and is not certified global; the two starts ended at different maxima at %d grid "
              "points in these runs.  In all %d runs here with K >= 100 the margin is positive (smallest %s)%s.\n"
              % ("; ".join("%s (K = %d) %.3g" % (k, K, m) for k, m, K, _ in c["bad"][:4])
                 + (" and %d more runs" % (len(c["bad"]) - 4) if len(c["bad"]) > 4 else "")
                 if c["bad"] else "no run", cite(c.get("exists")), sum(x[3] for x in c["bad"]), c["nbig"],
                 "%.3g" % c["min_big"][1] if c.get("min_big") else "—", cite(c.get("pos"))))
    return s


def main():
    ap = vc.parser(__doc__, "discrete_validation_out", "validation_discrete.md",
                   "smaller grids, fewer K and beta (CTest)", "unit,gap,grid,pi,ring")
    ap.add_argument("--discrete-tests", default=None,
                    help="the unit-test executable (default: tests/discrete/discrete_tests next to --hjbft)")
    args = ap.parse_args()
    if not vc.have_hjbft(args):
        return 2
    ctx = Ctx(args)
    ctx.check_prefix = "D"
    ctx.discrete_tests = os.path.abspath(args.discrete_tests or os.path.join(
        os.path.dirname(os.path.abspath(args.hjbft)), "tests", "discrete", "discrete_tests"))
    sections = {"unit": sec_unit, "gap": sec_gap, "grid": sec_grid, "pi": sec_pi, "ring": sec_ring}
    t0 = time.time()
    body = ""
    for s in args.sections.split(","):
        print("== " + s, flush=True)
        if s not in sections:
            print("unknown section " + s, file=sys.stderr)
            return 2
        body += sections[s](ctx) or ""  # unit writes no section: the preamble cites its checks
    ctx.results["_concavity"] = concavity(ctx)
    head = ("_Generated by `validation/run_discrete_validation.py%s` at %s, %d hjbft runs, %.0f s of hjbft runs "
            "(%.0f s in all).  Everything below this line is generated._\n\n"
            % (" --quick" if args.quick else "", provenance(), ctx.nruns, ctx.total_wall,
               time.time() - t0))
    checks = "## Checks\n\n%d of %d passed.\n\n" % (ctx.npass(), len(ctx.checks)) + vc.checks_table(ctx.checks)
    report = preamble(ctx) + "\n" + head + checks + findings(ctx) + "\n" + body
    return vc.finish(ctx, args.report or os.path.join(ctx.out, "validation_discrete.md"), report, t0)


if __name__ == "__main__":
    sys.exit(main())
