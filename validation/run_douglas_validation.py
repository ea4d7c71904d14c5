#!/usr/bin/python3
"""The Douglas (alternating-direction) step of the grid HJB solver, -hjb_splitting douglas (issue 13),
validated like the other schemes before it may become a default: order in time, monotonicity, PI = Howard,
agreement with the unsplit scheme and the closed form.

    /usr/bin/python3 validation/run_douglas_validation.py --hjbft build/hjbft --report docs/validation_douglas.md
    /usr/bin/python3 validation/run_douglas_validation.py --quick     # smaller grids, no report by default

Douglas solves each step's system A delta = R - A W in the product M_1 ... M_d of its one-axis factors
M_a = I - theta dt L_a (solvers/hjb/hjb_douglas.hpp).  What it is checked against, none of which it computes:

  A. the unsplit scheme on the same grid and steps (the splitting error V_douglas - V_none must fall at
     second order in dt under Crank-Nicolson) and the GMM closed form (its errors must be the unsplit ones);
  B. the discrete maximum principle: for a monotone scheme the box maximum of V cannot grow and its
     minimum cannot fall going back in time (zero running cost for u = 0, a cost >= 0 otherwise), measured
     at every step (-save_every 1) on a narrow bump reward; the unsplit backward-Euler scheme is monotone
     (an M-matrix with zero row sums), which checks the measure itself;
  C. global PI and Howard under the same splitting (the same discrete solution), and the 1-D case, where
     Douglas is the unsplit scheme;
  D. 3-D: the errors against the closed form, split and unsplit.

About two minutes on the 2-core machine (--quick: seconds).  Exit status: 0 when every check passes, 1
otherwise, 2 for usage errors, 77 without h5py/numpy.
"""
import math
import os
import sys
import time

import vcommon as vc
from vcommon import table

vc.require_numpy()
import h5py  # noqa: E402
import numpy as np  # noqa: E402

P2 = ["-dim", "2", "-target_weights", "0.3,0.3,0.4", "-target_means", "-2,0,2,1,0,-2", "-target_vars", "0.25",
      "-beta", "0.5", "-grid_lo", "-8", "-grid_hi", "8"]  # issue 13's problem (benchmark_grid.py)
P3 = ["-dim", "3", "-target_weights", "0.5,0.5", "-target_means", "-1.5,0,0,1.5,0.5,0", "-target_vars", "0.3",
      "-beta", "0.5", "-grid_lo", "-6", "-grid_hi", "6"]
BUMP = ["-reward", "bump", "-reward_width", "0.3", "-reward_center", "1,-1"]  # a narrow reward: steep V near T
MASS = 4.0  # the splitting error is measured on [-MASS, MASS]^d, which holds the reference mass
TIGHT = ["-hjb_method", "howard", "-hjb_tolerance", "tight", "-ksp_rtol", "1e-12"]  # line solves too


def solve(ctx, name, args):
    """One `hjbft solve` (tight tolerances unless ARGS say otherwise); dict(rc, error, file, attrs, hist)."""
    path = os.path.join(ctx.runs, name + ".h5")
    vc.fresh_output(path)
    r = vc.run_hjbft(ctx, name, ["solve"] + args + ["-hjb_monitor", "0", "-o", path])
    out = {"rc": r["rc"], "error": vc.error_line(r["text"], hjbft_only=True), "file": path, "wall": r["wall"]}
    if r["rc"] == 0:
        out["attrs"], out["hist"] = vc.read_result(path)
    return out


def fields(path):
    """(value [saved times, grid...], control [..., d], grid coordinates per axis)."""
    with h5py.File(path, "r") as f:
        g = f["grid"]
        return f["value"][()], f["control"][()], [g["x%d" % a][()] for a in range(len(g))]


def region_mask(coords):
    m = np.ones([len(c) for c in coords], dtype=bool)
    for a, c in enumerate(coords):
        shape = [1] * len(coords)
        shape[a] = len(c)
        m &= (np.abs(c) <= MASS).reshape(shape)
    return m


def diff(a, b):
    """sup |V_a - V_b| over the box and on the mass box, sup |u_a - u_b| on the mass box (all saved times)."""
    Va, ua, x = fields(a["file"])
    Vb, ub, _ = fields(b["file"])
    m = region_mask(x)
    du = np.abs(ua - ub)
    if du.ndim > Va.ndim:  # a component axis (d > 1)
        du = du.max(axis=-1)
    dV = np.abs(Va - Vb)
    return float(dV.max()), float(dV[:, m].max()), float(du[:, m].max())


def max_principle(path):
    """Largest growth of max V and fall of min V from one step to the one before it, over the value range."""
    V = fields(path)[0]
    flat = V.reshape(V.shape[0], -1)
    mx, mn = flat.max(axis=1), flat.min(axis=1)  # index s is earlier in time than s + 1
    over = float(np.maximum(mx[:-1] - mx[1:], 0).max())
    under = float(np.maximum(mn[1:] - mn[:-1], 0).max())
    return max(over, under) / float(mx[-1] - mn[-1])


def grid2(n):
    return ["-da_grid_x", str(n), "-da_grid_y", str(n)]


def errs(r):
    a = r["attrs"]
    return a["error_value_sup"], a["error_control_sup"], a["error_control_l2"]


def sec_order(ctx, n, nts):
    """A: the splitting error against the unsplit scheme, and both against the closed form."""
    rows, dVm = [], []
    res = {}
    for nt in nts:
        for s in ("none", "douglas"):
            res[(nt, s)] = solve(ctx, "order_%s_nt%d" % (s, nt), P2 + grid2(n) + ["-nt", str(nt)] + TIGHT +
                                 ["-hjb_splitting", s])
    for nt in nts:
        a, b = res[(nt, "none")], res[(nt, "douglas")]
        if a["rc"] or b["rc"]:
            rows.append([nt, vc.failed(a if a["rc"] else b)] + [""] * 8)
            dVm.append(math.nan)
            continue
        dbox, dm, du = diff(a, b)
        dVm.append(dm)
        o = "%.2f" % math.log2(dVm[-2] / dm) if len(dVm) > 1 and dVm[-2] > 0 and dm > 0 else "-"
        ea, eb = errs(a), errs(b)
        its = b["hist"]["linear_iterations"][-1] / max(1.0, b["hist"]["howard_iterations"][-1]) / 2
        rows.append([nt, "%.2e" % dbox, "%.2e" % dm, o, "%.2e" % du,
                     "%.3e / %.3e" % (ea[0], eb[0]), "%.3e / %.3e" % (ea[1], eb[1]), "%.3e / %.3e" % (ea[2], eb[2]),
                     "%.0f / %.0f" % (a["hist"]["howard_iterations"][-1], b["hist"]["howard_iterations"][-1]),
                     "%.2f" % its])
    ctx.results["order"] = {str(k): v.get("attrs", {}) for k, v in res.items()}
    good = [d for d in dVm if d == d]
    orders = [math.log2(dVm[i - 1] / dVm[i]) for i in range(len(dVm) - 2, len(dVm)) if dVm[i - 1] > 0 and dVm[i] > 0]
    lab = [ctx.check("A: the splitting error on the mass box falls at second order in dt (last two halvings > 1.7)",
                     len(good) == len(dVm) and len(orders) == 2 and min(orders) > 1.7,
                     "orders " + ", ".join("%.2f" % o for o in orders))]
    nt_def = [nt for nt in nts if nt >= 200] or nts[-1:]
    ok, det = True, []
    for nt in nt_def:
        a, b = res[(nt, "none")], res[(nt, "douglas")]
        if a["rc"] or b["rc"]:
            ok = False
            continue
        rel = max(abs(y / x - 1) for x, y in zip(errs(a), errs(b)))
        det.append("nt %d: largest relative difference %.1e" % (nt, rel))
        ok &= rel < 0.05
    lab.append(ctx.check("A: at nt >= 200 Douglas's errors against the closed form (sup V, sup u, L2 u) are the "
                         "unsplit scheme's within 5%", ok and bool(det), "; ".join(det)))
    txt = ("## A. Order in time and agreement with the unsplit scheme\n\nIssue 13's 2-D problem on %d^2, Howard "
           "with tight tolerances (line and Krylov solves to 1e-12), Crank-Nicolson after 2 backward-Euler steps.  "
           "*split*: sup |V_douglas - V_none| over the box and on [-%g, %g]^2 (the mass box), its observed order "
           "in dt, and sup |u_douglas - u_none| on the mass box, over the saved times; then the errors against "
           "the closed form (sup on the 99.9%%-mass region, L2 mass-weighted) as *unsplit / douglas*, the Howard "
           "iterations of the last sweep and Douglas's line-solve iterations per axis and solve%s.\n\n"
           % (n, MASS, MASS, vc.cite(lab)))
    txt += table(["nt", "split V box", "split V mass", "order", "split u mass", "sup err V", "sup err u", "L2 err u",
                  "Howard its", "line its"], rows)
    txt += ("The splitting error is second order only once dt |L_a| is small where the drift is large (the box "
            "corners); at the coarsest steps it is larger than the order predicts.  From nt = 200 (the default) "
            "Douglas's errors against the closed form are the unsplit scheme's%s.\n\n" % vc.cite(lab[1]))
    return txt


def sec_monotone(ctx, n, nts):
    """B: the discrete maximum principle on a narrow bump reward, backward Euler and Crank-Nicolson."""
    rows = []
    viol = {}
    for theta in ("1", "0.5"):
        for nt in nts:
            cells = []
            for s in ("none", "douglas"):
                r = solve(ctx, "mono_%s_th%s_nt%d" % (s, theta, nt), P2 + BUMP + grid2(n) + ["-nt", str(nt)] + TIGHT +
                          ["-hjb_splitting", s, "-hjb_theta", theta, "-save_every", "1", "-hjb_advection", "upwind"])
                if r["rc"]:
                    viol[(theta, nt, s)] = None
                    cells += [vc.failed(r), "-"]
                    continue
                v = max_principle(r["file"])
                viol[(theta, nt, s)] = v
                cells += ["%.1e" % v, "%.0f" % r["hist"]["howard_iterations"][-1]]
            rows.append(["BE" if theta == "1" else "CN", nt] + cells)
    ctx.results["monotone"] = {str(k): v for k, v in viol.items()}
    be = [viol[("1", nt, "none")] for nt in nts]
    lab = [ctx.check("B: the unsplit backward-Euler scheme keeps the maximum principle at every nt (violation "
                     "< 1e-12 of the range): the measure sees none where theory says none",
                     all(v is not None and v < 1e-12 for v in be), ", ".join("%s" % v for v in be))]
    fine = [(th, nt) for th in ("1", "0.5") for nt in nts if nt >= 50]
    lab.append(ctx.check("B: Douglas keeps it at nt >= 50 (violation < 1e-10 of the range), BE and CN",
                         all(viol[(th, nt, "douglas")] is not None and viol[(th, nt, "douglas")] < 1e-10
                             for th, nt in fine), ", ".join("%s nt %d: %s" % (th, nt, viol[(th, nt, "douglas")])
                                                           for th, nt in fine)))
    coarse = viol[("1", nts[0], "douglas")]
    lab.append(ctx.check("B: Douglas is not monotone at the coarsest step: backward Euler at nt = %d violates it "
                         "(> 1e-3 of the range), which the unsplit backward Euler does not" % nts[0],
                         coarse is not None and coarse > 1e-3, "%s" % coarse))
    txt = ("## B. Monotonicity (discrete maximum principle)\n\nThe 2-D problem's data with a narrow bump reward "
           "(width 0.3 at (1, -1)), %d^2, Howard, tight tolerances, every step saved, upwind advection (with the "
           "default hybrid stencil the control, a central gradient, and the advection use different differences, "
           "and the bound below holds only up to that consistency error).  For a monotone scheme max_x "
           "V(t_j) <= max_x V(t_{j+1}) and min_x V(t_j) >= min_x V(t_{j+1}) (u = 0 costs nothing, any control "
           "costs >= 0).  *violation*: the largest step-to-step breach of either bound over the value range "
           "max r - min r; the Howard iterations of the sweep%s.  A failed run is shown with its error: Howard "
           "under the splitting need not converge at large steps (its policy-evaluation operator is a product "
           "of factors that each depend on the control).\n\n" % (n, vc.cite(lab)))
    txt += table(["scheme", "nt", "violation, unsplit", "Howard its, unsplit", "violation, douglas",
                  "Howard its, douglas"], rows)
    return txt


def sec_pi_howard(ctx, n, nt):
    """C: PI = Howard under the splitting; 1-D Douglas = the unsplit scheme."""
    base = P2 + grid2(n) + ["-nt", str(nt), "-hjb_tolerance", "tight", "-hjb_splitting", "douglas",
                            "-ksp_rtol", "1e-12"]
    pi = solve(ctx, "pi_douglas", base + ["-hjb_method", "pi", "-pi_tol", "1e-10"])
    how = solve(ctx, "howard_douglas", base + ["-hjb_method", "howard"])
    d2 = diff(pi, how) if not (pi["rc"] or how["rc"]) else (math.inf,) * 3
    one = ["-da_grid_x", "401", "-nt", "200"] + TIGHT
    a = solve(ctx, "d1_none", one + ["-hjb_splitting", "none"])
    b = solve(ctx, "d1_douglas", one + ["-hjb_splitting", "douglas"])
    d1 = diff(a, b) if not (a["rc"] or b["rc"]) else (math.inf,) * 3
    ctx.results["pi_howard"] = d2
    ctx.results["one_d"] = d1
    lab = [ctx.check("C: global PI and Howard under Douglas reach the same discrete solution (sup |V| and |u| "
                     "differences over the box < 1e-9)", max(d2[0], d2[2]) < 1e-9 and
                     max(d2) == max(d2), "V %.1e, u %.1e" % (d2[0], d2[2])),
           ctx.check("C: in 1-D Douglas is the unsplit scheme (sup |V| difference < 1e-9)", d1[0] < 1e-9,
                     "%.1e" % d1[0])]
    pi_its = len(pi["hist"].get("iteration", [])) if not pi["rc"] else 0
    return ("## C. PI = Howard, and 1-D\n\nThe 2-D problem on %d^2 x %d under Douglas: global PI (%d sweeps, "
            "-pi_tol 1e-10) against Howard, sup |V_PI - V_Howard| = %.1e over the box, sup |u_PI - u_Howard| = "
            "%.1e on the mass box.  hjbft's default 1-D problem on 401 x 200: sup |V_douglas - V_none| = %.1e "
            "(one factor: the same scheme)%s.\n\n" % (n, nt, pi_its, d2[0], d2[2], d1[0], vc.cite(lab)))


def sec_3d(ctx, n, nt):
    """D: 3-D errors against the closed form, split and unsplit."""
    rows, res = [], {}
    for s in ("none", "douglas"):
        res[s] = r = solve(ctx, "d3_%s" % s, P3 + ["-da_grid_x", str(n), "-da_grid_y", str(n), "-da_grid_z", str(n),
                                                  "-nt", str(nt), "-hjb_method", "howard", "-hjb_splitting", s])
        rows.append([s, vc.failed(r)] if r["rc"] else
                    [s] + ["%.3e" % e for e in errs(r)] + ["%.1f" % r["attrs"]["wall_time"]])
    ok = not (res["none"]["rc"] or res["douglas"]["rc"])
    rel = max(abs(y / x - 1) for x, y in zip(errs(res["none"]), errs(res["douglas"]))) if ok else math.inf
    lab = ctx.check("D: 3-D, Douglas's errors against the closed form are the unsplit scheme's within 5%",
                    rel < 0.05, "largest relative difference %.1e" % rel)
    return ("## D. 3-D\n\nThe 3-D problem (two modes, box [-6, 6]^3) on %d^3 x %d, Howard with hjbft's default "
            "(auto) tolerances; errors against the closed form, and the wall time (s; timings: "
            "docs/performance.md)%s.\n\n" % (n, nt, vc.cite(lab)) +
            table(["splitting", "sup err V", "sup err u", "L2 err u", "time s"], rows))


def main():
    ap = vc.parser(__doc__, "douglas_validation_out", "validation_douglas.md", "small grids (seconds)", "all",
                   mpiexec=False)
    args = ap.parse_args()
    if not vc.have_hjbft(args):
        return 2
    ctx = vc.Ctx(args)
    ctx.check_prefix = "S"
    t0 = time.time()
    if args.quick:
        body = (sec_order(ctx, 33, [25, 50, 100, 200]) + sec_monotone(ctx, 33, [10, 50]) + sec_pi_howard(ctx, 33, 20)
                + sec_3d(ctx, 17, 20))
    else:
        body = (sec_order(ctx, 129, [25, 50, 100, 200, 400]) + sec_monotone(ctx, 129, [10, 25, 50, 200]) +
                sec_pi_howard(ctx, 65, 50) + sec_3d(ctx, 49, 100))
    fails = ctx.failing()
    head = ("# Validation of the Douglas splitting (`-hjb_splitting douglas`)\n\nGenerated by "
            "`validation/run_douglas_validation.py%s` (%s), %d hjbft runs, %.0f s of hjbft runs.  Do not edit by "
            "hand: rerun the script.  The scheme: docs/mathematics.md and solvers/hjb/hjb_douglas.hpp; its speed "
            "beside the unsplit scheme: docs/performance.md.\n\n" % (" --quick" if args.quick else "",
                                                                      vc.provenance(), ctx.nruns, ctx.total_wall))
    head += "## Checks\n\n%d of %d passed%s.\n\n" % (ctx.npass(), len(ctx.checks),
                                                     " (failing: %s)" % ", ".join(fails) if fails else "")
    report = head + vc.checks_list(ctx.checks) + "\n" + body
    rpath = os.path.abspath(args.report or os.path.join(ctx.out, "validation_douglas.md"))
    return vc.finish(ctx, rpath, report, t0)


if __name__ == "__main__":
    sys.exit(main())
