#!/usr/bin/python3
"""Validation of the discrete-time ground truth `hjbft bellman` (DESIGN.md section 5): runs it on
problems with known answers and writes a Markdown report with the measured numbers.

    /usr/bin/python3 validation/run_discrete_validation.py [--hjbft build/hjbft] [--out discrete_validation_out]
                                                           [--report docs/validation_discrete.md] [--quick]

Needs Debian's python3-h5py and python3-numpy.  Every run's HDF5 file and log go to OUT/runs/, all
numbers to OUT/results.json, the report to --report (default OUT/validation_discrete.md).

Sections: (a) the discrete optimum against the continuous-time closed form as K grows; (b) grid and
quadrature convergence at fixed K (1-D and 2-D); (c) the exact PI-FT iteration against the discrete
optimum for beta = 1, 0.3, 0.1: errors per iteration, fitted and predicted linear rates; (d) a 2-D
eight-mode ring with a reward favouring some modes, with timings, on 1 and 2 ranks.

The error norms are computed here, independently of the solver: on the grid points of highest
reference density holding 99.9% of the mass of p_{T-t} (sup), and weighted by that density (L2).

Exit status: 0 when every check in the "Checks" table passes, 1 otherwise, 2 for usage errors, 77 when
h5py/numpy are missing (CTest: skipped).
"""
import argparse
import glob
import json
import math
import os
import resource
import subprocess
import sys
import time

try:
    import h5py
    import numpy as np

    from h5result import read_result
except ImportError as exc:  # CTest: SKIP_RETURN_CODE 77
    print("run_discrete_validation: needs Debian's python3-h5py and python3-numpy (%s)" % exc, file=sys.stderr)
    sys.exit(77)

from vcommon import MPI_ENV, ROOT, Ctx, provenance

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
    out = os.path.join(ctx.runs, name + ".h5")
    for f in glob.glob(out + "*") + glob.glob(out[:-3] + ".xmf"):
        os.remove(f)
    cmd = [ctx.hjbft, command] + opts + ["-o", out]
    env = dict(os.environ, **MPI_ENV)
    if nproc:
        cmd = [ctx.mpiexec, "-n", str(nproc), "--oversubscribe"] + cmd
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        rc, text = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, text = 124, (e.stdout or b"").decode(errors="replace") + "\nvalidation: timed out"
    wall = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ctx.total_wall += wall
    ctx.nruns += 1
    with open(os.path.join(ctx.runs, name + ".log"), "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    err = [l.strip() for l in text.splitlines() if l.startswith("hjbft:")]
    r = {"name": name, "rc": rc, "error": err[-1] if err else "", "wall": wall,
         "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), "file": out, "attrs": {}, "hist": {},
         "cmd": " ".join(["hjbft", command] + opts)}
    if rc == 0 and os.path.exists(out):
        r["attrs"], r["hist"] = read_result(out)
    print("  %-40s rc %d %7.1fs  %s" % (name, rc, wall, r["error"]), flush=True)
    ctx.results[name] = {k: v for k, v in r.items() if k != "file"}
    return r


# --- the reference law and the error norms, computed here ---------------------------------------------
def parse_problem(opts):
    d = {"-dim": "1", "-target_weights": "0.5,0.5", "-target_means": "-2,2", "-target_vars": "0.25",
         "-sde_hmin": "0.1", "-sde_hmax": "20", "-sde_T": "1"}
    for i in range(len(opts) - 1):
        if opts[i] in d:
            d[opts[i]] = opts[i + 1]
    dim = int(d["-dim"])
    w = np.array([float(v) for v in d["-target_weights"].split(",")])
    mu = np.array([float(v) for v in d["-target_means"].split(",")]).reshape(len(w), dim)
    var = [float(v) for v in d["-target_vars"].split(",")]
    var = np.array(var if len(var) == len(w) else var * len(w))
    return dim, w, mu, var, float(d["-sde_hmin"]), float(d["-sde_hmax"]), float(d["-sde_T"])


def reference_laws(opts, h5file, mass=0.999):
    """Per saved time: (mask of the region holding `mass`, weights summing to 1) of p_{T-t} on the grid."""
    dim, w, mu, var, hmin, hmax, T = parse_problem(opts)
    with h5py.File(h5file, "r") as f:
        axes = [f["grid/x%d" % a][:] for a in range(dim)]
        times = f["time"][:]
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # arrays [n_{d-1}]..[n_0], x0 fastest
    out = []
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
def e(x):
    return "—" if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))) else "%.3e" % x


def o(x):
    return "—" if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))) else "%.2f" % x


def order(a, b, ratio=2.0):
    return math.log(a / b) / math.log(ratio) if a and b and a > 0 and b > 0 else float("nan")


def table(head, rows):
    s = "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
    for r in rows:
        s += "| " + " | ".join(str(c) for c in r) + " |\n"
    return s + "\n"


def failed(r):
    return "**failed (exit %d)**: `%s`" % (r["rc"], r["error"].replace("|", "\\|"))


def fitted_rate(errs, lo=1e-9, hi=1e-2):
    """Least-squares slope of log(error) against the iteration over the errors in [lo, hi]."""
    pts = [(m, math.log(x)) for m, x in enumerate(errs) if lo <= x <= hi]
    if len(pts) < 3:
        return float("nan")
    ms = np.array([p[0] for p in pts], float)
    ls = np.array([p[1] for p in pts])
    return float(math.exp(np.polyfit(ms, ls, 1)[0]))


# --- (a) discrete vs continuous -------------------------------------------------------------------------
def sec_gap(ctx):
    Ks = [50, 100, 200] if ctx.quick else [25, 50, 100, 200, 400]
    n = 201 if ctx.quick else 401
    betas = ["1"] if ctx.quick else ["1", "0.3"]
    md = "## (a) The discrete optimum against the continuous-time closed form\n\n"
    md += ("%s; eta = 1; grid n = %d on the default box; exact expectations (1-D).  For each K, `hjbft bellman "
           "-ddpm_steps K` and `hjbft exact -nt K` on the same grid; errors of the discrete V_t and u_t against "
           "V*(t j/K) and u*(t j/K) of the closed form at the saved times t = 0, 0.2, ..., 0.8 (at t = 1 both are r "
           "and grad r / beta).  `ord` = log2 of the ratio to the previous K.  The grid error at this n is below "
           "1e-6 (section b), so the numbers are the time-discretization gap.  J* = E V_0(Y_0), Y_0 ~ N(0, v(T)).\n\n"
           % (PROBLEM_TEXT["GMM1"], n))
    res = {}
    for beta in betas:
        rows, prow, tot_rows = [], None, []
        runs = []
        for K in Ks:
            opts = GMM1 + ["-beta", beta] + grid_opts(1, n) + ["-save_every", str(K // 5)]
            rb = run(ctx, "gap_b%s_K%d" % (beta, K), "bellman", opts + ["-ddpm_steps", str(K), "-bellman_monitor", "0"])
            rx = run(ctx, "gap_b%s_K%d_exact" % (beta, K), "exact", opts + ["-nt", str(K)])
            if rb["rc"] or rx["rc"]:
                tot_rows.append(["%d" % K, failed(rb if rb["rc"] else rx)] + [""] * 9)
                prow = None
                continue
            per, tot = errors(GMM1 + ["-beta", beta], rb["file"], rx["file"])
            jg = abs(rb["attrs"]["objective"] - rb["attrs"]["continuous_objective"])
            cur = dict(tot, jgap=jg, per=per, K=K, attrs=rb["attrs"], wall=rb["wall"])
            runs.append(cur)
            row = ["%d" % K]
            for k in ("v_sup", "v_l2", "u_sup", "u_l2", "jgap"):
                row += [e(cur[k]), o(order(prow[k], cur[k])) if prow else ""]
            row.append("%.2f" % rb["wall"])
            tot_rows.append(row)
            prow = cur
        res[beta] = runs
        md += "### beta = %s: over the saved times\n\n" % beta
        md += table(["K", "sup\\|V-V*\\|", "ord", "L2 V", "ord", "sup\\|u-u*\\|", "ord", "L2 u", "ord",
                     "\\|J* - J*_cont\\|", "ord", "wall s"], tot_rows)
        if runs:
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
            md += "Per saved time (sup on the mass region):\n\n" + table(head, rows)
            # The solver's own summary (its C++ mass region) must agree with the numbers computed here.
            last = runs[-1]
            diff = abs(last["attrs"]["continuous_error_value_sup"] - last["v_sup"]) / last["v_sup"]
            ctx.check("beta %s: the solver's continuous_error_value_sup equals the error computed here (K = %d)"
                      % (beta, last["K"]), diff < 1e-6, "relative difference %.1e" % diff)
        if len(runs) >= 2:
            a, b = runs[-2], runs[-1]
            for k, label in (("v_l2", "L2 error of V"), ("jgap", "objective gap |J* - J*_cont|")):
                ok = abs(order(a[k], b[k]) - 1) < 0.25
                ctx.check("beta %s: %s is first order in 1/K (K = %d -> %d)" % (beta, label, a["K"], b["K"]), ok,
                          "order %s" % o(order(a[k], b[k])))
    ctx.results["_gap"] = {b: [{k: v for k, v in r.items() if k not in ("attrs",)} for r in runs]
                           for b, runs in res.items()}
    return md


# --- (b) grid and quadrature convergence -----------------------------------------------------------------
def sec_grid(ctx):
    md = "## (b) Grid and quadrature convergence at fixed K\n\n"
    K = 50
    ns = [51, 101, 201] if ctx.quick else [51, 101, 201, 401, 801]
    nref = 801 if ctx.quick else 1601
    md += ("### %s, beta = 1, K = %d\n\nSelf-convergence: differences to the n = %d solution on the coarse "
           "grid's points (same box, so every coarse point is a fine point), over the saved times t = 0, 0.1, "
           "..., 1.  Exact expectations (the default in 1-D): the error is the spline's alone.\n\n"
           % (PROBLEM_TEXT["GMM1"], K, nref))
    base = GMM1 + ["-ddpm_steps", str(K), "-bellman_monitor", "0"]
    ref = run(ctx, "grid1d_n%d" % nref, "bellman", base + grid_opts(1, nref))
    rows, prev, ords_v, ords_u = [], None, [], []
    for n in ns:
        r = run(ctx, "grid1d_n%d" % n, "bellman", base + grid_opts(1, n))
        if r["rc"] or ref["rc"]:
            rows.append(["%d" % n, failed(r if r["rc"] else ref)] + [""] * 8)
            prev = None
            continue
        _, tot = errors(GMM1, r["file"], ref["file"], (nref - 1) // (n - 1))
        row = ["%d" % n]
        for k in ("v_sup", "v_l2", "u_sup", "u_l2"):
            row += [e(tot[k]), o(order(prev[k], tot[k])) if prev else ""]
        if prev:
            ords_v.append(order(prev["v_sup"], tot["v_sup"]))
            ords_u.append(order(prev["u_sup"], tot["u_sup"]))
        row += ["%.2f" % r["wall"]]
        rows.append(row)
        prev = tot
    md += table(["n", "sup\\|dV\\|", "ord", "L2 V", "ord", "sup\\|du\\|", "ord", "L2 u", "ord", "wall s"], rows)
    if ords_v:
        ctx.check("1-D grid convergence: order of sup |dV| >= 3.5 (last pair)", ords_v[-1] >= 3.5,
                  "orders " + ", ".join(o(x) for x in ords_v))
        ctx.check("1-D grid convergence: order of sup |du| >= 3 (last pair)", ords_u[-1] >= 3.0,
                  "orders " + ", ".join(o(x) for x in ords_u))

    # Gauss-Hermite against the exact expectation, same grid.
    n = 201 if ctx.quick else 401
    qs = [8, 12, 24] if ctx.quick else [8, 12, 16, 24, 48]
    md += ("### 1-D: Gauss-Hermite quadrature against the exact expectation\n\nSame problem and K, n = %d.  "
           "Differences of `-bellman_expectation quadrature -bellman_quad q` to the exact expectation (sup and L2 "
           "on the mass region, all saved times).  The integrand V_{t+1}(mu + b u + sigma Z) is a piecewise cubic "
           "whose third derivative jumps at every grid point, so Gauss-Hermite converges only algebraically in q "
           "once sigma spans several cells; the exact integral has no such error.\n\n" % n)
    ex = run(ctx, "quad1d_exact_n%d" % n, "bellman", base + grid_opts(1, n))
    rows = []
    for q in qs:
        r = run(ctx, "quad1d_q%d_n%d" % (q, n), "bellman",
                base + grid_opts(1, n) + ["-bellman_expectation", "quadrature", "-bellman_quad", str(q)])
        if r["rc"] or ex["rc"]:
            rows.append(["%d" % q, failed(r if r["rc"] else ex), "", "", "", "", ""])
            continue
        _, tot = errors(GMM1, r["file"], ex["file"])
        rows.append(["%d" % q, e(tot["v_sup"]), e(tot["v_l2"]), e(tot["u_sup"]), e(tot["u_l2"]),
                     e(abs(r["attrs"]["objective"] - ex["attrs"]["objective"])), "%.2f" % r["wall"]])
    if not ex["rc"]:
        rows.append(["exact", "", "", "", "", "", "%.2f" % ex["wall"]])
    md += table(["q", "sup\\|dV\\|", "L2 V", "sup\\|du\\|", "L2 u", "\\|dJ\\|", "wall s"], rows)

    # 2-D: Gauss-Hermite (the only choice there); grid refinement at fixed q, then q at fixed grid.
    K2 = 20
    ns2 = [17, 33] if ctx.quick else [17, 33, 65]
    nref2 = 65 if ctx.quick else 129
    q2 = "12"
    md += ("### %s, beta = 1, K = %d\n\nGauss-Hermite with %s x %s nodes; self-convergence against n = %d^2 as "
           "above.\n\n" % (PROBLEM_TEXT["GMM2"], K2, q2, q2, nref2))
    base2 = GMM2 + ["-ddpm_steps", str(K2), "-bellman_monitor", "0", "-bellman_quad", q2]
    ref2 = run(ctx, "grid2d_n%d" % nref2, "bellman", base2 + grid_opts(2, nref2))
    rows, prev = [], None
    for n in ns2:
        r = run(ctx, "grid2d_n%d" % n, "bellman", base2 + grid_opts(2, n))
        if r["rc"] or ref2["rc"]:
            rows.append(["%d^2" % n, failed(r if r["rc"] else ref2)] + [""] * 8)
            prev = None
            continue
        _, tot = errors(GMM2, r["file"], ref2["file"], (nref2 - 1) // (n - 1))
        row = ["%d^2" % n]
        for k in ("v_sup", "v_l2", "u_sup", "u_l2"):
            row += [e(tot[k]), o(order(prev[k], tot[k])) if prev else ""]
        row += ["%.2f" % r["wall"]]
        rows.append(row)
        prev = tot
    if not ref2["rc"]:
        rows.append(["%d^2 (reference)" % nref2] + [""] * 8 + ["%.2f" % ref2["wall"]])
    md += table(["n", "sup\\|dV\\|", "ord", "L2 V", "ord", "sup\\|du\\|", "ord", "L2 u", "ord", "wall s"], rows)
    nq = 33 if ctx.quick else 65
    qs2 = [6, 8, 12] if ctx.quick else [6, 8, 12, 16]
    qref = 16 if ctx.quick else 24
    md += ("2-D quadrature: n = %d^2, q x q nodes against q = %d (the rest as above).\n\n" % (nq, qref))
    refq = run(ctx, "quad2d_q%d_n%d" % (qref, nq), "bellman", GMM2 + ["-ddpm_steps", str(K2), "-bellman_monitor", "0",
                                                                    "-bellman_quad", str(qref)] + grid_opts(2, nq))
    rows = []
    for q in qs2:
        r = run(ctx, "quad2d_q%d_n%d" % (q, nq), "bellman", GMM2 + ["-ddpm_steps", str(K2), "-bellman_monitor", "0",
                                                                   "-bellman_quad", str(q)] + grid_opts(2, nq))
        if r["rc"] or refq["rc"]:
            rows.append(["%d" % q, failed(r if r["rc"] else refq), "", "", "", ""])
            continue
        _, tot = errors(GMM2, r["file"], refq["file"])
        rows.append(["%d" % q, e(tot["v_sup"]), e(tot["v_l2"]), e(tot["u_sup"]), e(tot["u_l2"]), "%.2f" % r["wall"]])
    if not refq["rc"]:
        rows.append(["%d (reference)" % qref, "", "", "", "", "%.2f" % refq["wall"]])
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
           "steps and mass-region points, which is the linear rate of the improvement step near the optimum.\n\n"
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
        ctx.check("PI beta %s K %d (predicted rate %s > 1) fails with exit 2, naming the predicted rate" % (beta, K, pred),
                  r["rc"] == 2 and "predicted" in r["error"], r["error"])
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
    # Checks: convergence at beta = 1, the fitted rate near the predicted one, the rate falls with K.
    for (beta, K), r in sorted(runs.items()):
        if r["rc"] == 0 and r["attrs"]["pi_converged"]:
            fit, pred = fitted_rate(r["hist"]["error_control_sup"]), r["attrs"]["pi_rate_predicted"]
            ctx.check("PI beta %s K %d: fitted linear rate within 0.1 of the predicted rate" % (beta, K),
                      abs(fit - pred) < 0.1, "fitted %s, predicted %s" % (o(fit), o(pred)))
    for K in Ks:
        r = runs[("1", K)]
        ctx.check("PI beta 1 K %d converges to the optimum (sup |u - u*| < 1e-7)" % K,
                  r["rc"] == 0 and r["attrs"]["pi_converged"] and r["hist"]["error_control_sup"][-1] < 1e-7,
                  r["error"] if r["rc"] else e(r["hist"]["error_control_sup"][-1]))
    if len(Ks) > 1 and all(runs[("1", K)]["rc"] == 0 for K in Ks):
        a, b = (runs[("1", K)]["attrs"]["pi_rate_predicted"] for K in (Ks[0], Ks[-1]))
        ctx.check("PI beta 1: the predicted rate falls like 1/K (K %d -> %d)" % (Ks[0], Ks[-1]),
                  0.5 * Ks[0] / Ks[-1] < b / a < 2.0 * Ks[0] / Ks[-1], "%.3f -> %.3f" % (a, b))
    ctx.results["_pi"] = {"%s_%d" % k: {"rc": r["rc"], "attrs": r["attrs"], "hist": r["hist"]} for k, r in runs.items()}
    return md


# --- (d) 2-D ring --------------------------------------------------------------------------------------------
def sec_ring(ctx):
    n, K = (33, 20) if ctx.quick else (81, 50)
    q = "8" if ctx.quick else "12"
    md = "## (d) 2-D: an eight-mode ring\n\n"
    md += ("%s; beta = 1, n = %d^2, K = %d, Gauss-Hermite %s x %s nodes.  The closed form applies (eta = 1, "
           "quadratic reward), so the gap to continuous time is reported too.  Times: wall clock and CPU (user + "
           "system, all ranks) on this machine, which other jobs shared; the 2-rank run must give the same fields "
           "as the 1-rank run (`hjbft compare -tol 0`).\n\n" % (PROBLEM_TEXT["RING"], n, K, q, q))
    base = RING + grid_opts(2, n) + ["-ddpm_steps", str(K), "-bellman_quad", q]
    r1 = run(ctx, "ring_optimum_n1", "bellman", base)
    r2 = run(ctx, "ring_optimum_n2", "bellman", base, nproc=2)
    rp = run(ctx, "ring_pi_n1", "bellman", base + ["-bellman_method", "pi", "-bellman_pi_max", "60"])
    rows = []
    for label, r in (("optimum, 1 rank", r1), ("optimum, 2 ranks", r2), ("pi, 1 rank", rp)):
        if r["rc"]:
            rows.append([label, failed(r)] + [""] * 9)
            continue
        a = r["attrs"]
        rows.append([label, "%.2f" % r["wall"], "%.2f" % r["cpu"], "%.10f" % a["objective"],
                     "%d" % a["newton_max_iterations"], "%.3g" % a["concavity_margin"],
                     "%d" % a["multiple_maxima_points"], o(a["pi_rate_predicted"]),
                     e(a.get("continuous_error_value_sup")), e(a.get("continuous_error_control_sup")),
                     "%d" % a["pi_iterations"] if "pi_iterations" in a else ""])
    md += table(["run", "wall s", "cpu s", "J*", "Newton its", "concavity margin", "two local maxima", "predicted PI rate",
                 "sup\\|V-V*_cont\\|", "sup\\|u-u*_cont\\|", "PI its"], rows)
    if r1["rc"] == 0 and r2["rc"] == 0:
        p = subprocess.run([ctx.hjbft, "compare", r1["file"], r2["file"], "-tol", "0"], capture_output=True,
                           text=True, env=dict(os.environ, **MPI_ENV))
        ctx.check("2-D ring: 2 ranks give the same fields as 1 rank (compare -tol 0)", p.returncode == 0,
                  (p.stdout.strip().splitlines() or [""])[-1])
    if rp["rc"] == 0:
        h = rp["hist"]
        md += ("PI on the ring: %d iterations (%s; -bellman_pi_tol applies to the change over the whole box), "
               "final sup |u - u*| on the mass region %s, fitted rate %s (predicted %s).\n\n"
               % (len(h["iteration"]), "converged" if rp["attrs"]["pi_converged"] else "stopped at -bellman_pi_max",
                  e(h["error_control_sup"][-1]), o(fitted_rate(h["error_control_sup"])),
                  o(rp["attrs"]["pi_rate_predicted"])))
        ctx.check("2-D ring: PI reaches the optimum on the mass region (sup |u - u*| < 1e-6)",
                  h["error_control_sup"][-1] < 1e-6, e(h["error_control_sup"][-1]))
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


PREAMBLE = """# Validation of the discrete-time ground truth (`hjbft bellman`)

`hjbft bellman` solves the Bellman recursion of the K-step DDPM chain of DESIGN.md section 5 on a grid
(solvers/discrete/, docs/mathematics.md "Discrete time"): the exact optimum by a per-point Newton solve of
the first-order condition, and the exact PI-FT iteration measured against it.  This report compares it with
(a) the continuous-time closed form as K grows, (b) itself under grid and quadrature refinement, (c) the PI-FT
iteration with the discrete optimum, and (d) runs a 2-D eight-mode problem with timings.  The unit tests
(tests/discrete/test_bellman.cpp) check the pieces against independent answers: Gauss-Hermite exactness,
the spline on polynomials, the DDPM alpha form and Tweedie's mean, an independent linear-quadratic
recursion (agreement to rounding), a separable 2-D problem against the 1-D solver, and PI with a linear
reward converging in one improvement.

Norms: sup over the grid points of highest reference density holding 99.9% of the mass of p_{T-t} (the
law of the reference chain's Y_t, up to the O(1/K) error of the chain), and L2 weighted by that density;
both taken over the saved times (L2: root mean square over them).  They are computed by this script from the
HDF5 fields, independently of the solver's own summary (which section (a) checks against them).
"""


def findings(ctx):
    """Short, generated statements of what the numbers show."""
    s = "## Findings\n\n"
    g = ctx.results.get("_gap", {}).get("1", [])
    if len(g) >= 2:
        a, b = g[-2], g[-1]
        s += ("* **Discrete vs continuous (a).** The gap between the discrete optimum and the continuous closed form "
              "is first order in 1/K once K >= 100: from K = %d to %d the L2 error of V has order %s, the objective "
              "gap %s, sup |u - u*| %s.  For K <= 50 it is pre-asymptotic: the gap is largest at t ~ 0.8-0.9 between "
              "the modes, where the continuous control has a steep layer and one DDPM step moves a point by more "
              "than the layer's width.  At K = %d, sup |V - V*| = %s and sup |u - u*| = %s: a discrete-time "
              "solver is to be compared with this discrete answer, not with the continuous one.\n"
              % (a["K"], b["K"], o(order(a["v_l2"], b["v_l2"])), o(order(a["jgap"], b["jgap"])),
                 o(order(a["u_sup"], b["u_sup"])), b["K"], e(b["v_sup"]), e(b["u_sup"])))
    s += ("* **Grid and quadrature (b).** In 1-D the expectations are exact Gaussian integrals of the cubic "
          "spline, and V and u converge at fourth order under grid refinement.  Gauss-Hermite quadrature of the "
          "same spline converges only algebraically in the number of nodes (the integrand's third derivative "
          "jumps at every grid point), which is why 1-D does not use it by default; in 2-D it is the only "
          "choice and limits the accuracy (tables above).\n")
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
        s += ("* **PI-FT (c).** The discrete PI-FT improvement evaluates grad V^m at the next state *under the old "
              "control*, so it is a fixed-point step, not Newton: near the optimum its error contracts by the "
              "spectral radius of (sigma^2/beta) E Hess V*, which is O(1/(beta K)) and is measured to be the "
              "observed rate.  So the iteration converges linearly, faster as K grows (the continuous-time PI "
              "is the limit, superlinear), and diverges when the steps are too large for beta.  Measured: "
              + "; ".join(parts)
              + ("; beta %s, K %d: predicted rate %s, %s" % (dv["beta"], dv["K"], dv["predicted"],
                                                         "diverged (exit %d)" % dv["rc"] if dv["rc"] else "converged")
                 if dv else "") + ".\n")
    s += ("* **Non-concave steps.** For small K or beta the per-point Bellman objective need not be concave "
          "(concavity margin <= 0); the optimum is then the better of two damped-Newton local maxima (from "
          "u_{t+1} and from 0) and is not certified global.  In all runs here with K >= 100 the margin is "
          "positive.\n")
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", default=os.path.join(ROOT, "build", "hjbft"))
    ap.add_argument("--out", default="discrete_validation_out")
    ap.add_argument("--report", default=None, help="Markdown report (default OUT/validation_discrete.md)")
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--quick", action="store_true", help="smaller grids, fewer K and beta (CTest)")
    ap.add_argument("--sections", default="gap,grid,pi,ring")
    args = ap.parse_args()
    if not os.access(args.hjbft, os.X_OK):
        print("run_discrete_validation: no hjbft executable at %s (use --hjbft PATH)" % args.hjbft, file=sys.stderr)
        return 2
    ctx = Ctx(args)
    ctx.check_prefix = "D"
    t0 = time.time()
    body = ""
    for s in args.sections.split(","):
        print("== " + s, flush=True)
        if s == "gap":
            body += sec_gap(ctx)
        elif s == "grid":
            body += sec_grid(ctx)
        elif s == "pi":
            body += sec_pi(ctx)
        elif s == "ring":
            body += sec_ring(ctx)
        else:
            print("unknown section " + s, file=sys.stderr)
            return 2
    head = ("_Generated by `validation/run_discrete_validation.py%s` at %s, %d hjbft runs, %.0f s of hjbft runs "
            "(%.0f s in all).  Everything below this line is generated._\n\n"
            % (" --quick" if args.quick else "", provenance(), ctx.nruns, ctx.total_wall,
               time.time() - t0))
    npass = sum(1 for c in ctx.checks if c[1])
    checks = "## Checks\n\n%d of %d passed.\n\n" % (npass, len(ctx.checks)) + table(
        ["check", "result", "detail"], [[c[0], "pass" if c[1] else "**FAIL**", c[2]] for c in ctx.checks])
    report = PREAMBLE + "\n" + head + checks + findings(ctx) + "\n" + body
    rpath = args.report or os.path.join(ctx.out, "validation_discrete.md")
    with open(rpath, "w") as f:
        f.write(report)
    with open(os.path.join(ctx.out, "results.json"), "w") as f:
        json.dump({"results": ctx.results, "checks": ctx.checks}, f, indent=1, default=str)
    print("run_discrete_validation: %d of %d checks passed; report %s (%.0f s)" % (npass, len(ctx.checks), rpath,
                                                                                  time.time() - t0))
    return 0 if npass == len(ctx.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
