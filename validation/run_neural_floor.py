#!/usr/bin/python3
"""The floor of neural PI-FT decomposed (issue 14): which part of the algorithm leaves the error that the
outer iterations do not remove, where in (t, x) it lives, and what lowers it.

    /usr/bin/python3 validation/run_neural_floor.py --hjbft build/hjbft --report docs/validation_neural_floor.md

Each problem is run with hjbft neural's defaults and with one change at a time (evaluation, fit length,
paths, width, simulation steps, control form, time embedding, activation), two seeds each; every number
comes from the runs' files, against the closed form (`hjbft exact`) on the same grid.  The error of u^{k+1} splits, pointwise, into

    u - u*  =  (gain grad V_psi - u*)  +  (u - gain grad V_psi)
               evaluation term            improvement-fit term

(gain grad V_psi: the improvement the value network asks for, by central differences on the grid), so the
report says which of the two dominates, and at which times.  About 20 minutes on the 2-core machine.

Exit status: 0 when every check passes, 1 otherwise, 2 for usage errors, 77 without h5py/numpy.
"""
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import vcommon as vc
from vcommon import table

vc.require_numpy()
import numpy as np  # noqa: E402

import run_neural_validation as rn  # noqa: E402  (its problems, runner and error norm)

DEF1 = rn.Problem("DEF1", "1-D, hjbft's default data (modes -2 and 2, variance 0.25) and default quadratic "
                  "reward, beta 1, the default vp schedule h_max 20 (the problem of issue 14, not used by "
                  "docs/validation_neural.md)", [0.5, 0.5], [[-2.0], [2.0]], [0.25, 0.25], [], beta=1.0, hmax=20.0)
PROBLEMS = [DEF1, rn.GMM1.with_beta(1.0)]
GRID = rn.grid1()
OUTER = 10
SEEDS = [1, 2]
VARIANTS = [  # (name, options added to hjbft neural's defaults)
    ("defaults", []),
    ("td refresh 1", ["-neural_td_refresh", "1"]),
    ("mc evaluation", ["-neural_evaluation", "mc"]),
    ("td 1, value steps 3000", ["-neural_td_refresh", "1", "-neural_value_steps", "3000"]),
    ("td 1, paths 16384", ["-neural_td_refresh", "1", "-neural_paths", "16384"]),
    ("td 1, width 64", ["-neural_td_refresh", "1", "-neural_value_hidden", "64,64", "-neural_control_hidden",
                        "64,64"]),
    ("td 1, 200 steps", ["-neural_td_refresh", "1", "-neural_steps", "200"]),
    ("td 1, terminal form", ["-neural_td_refresh", "1", "-neural_control_form", "terminal"]),
    ("td 1, time freq 0", ["-neural_td_refresh", "1", "-neural_time_freq", "0"]),
    ("td 1, time freq 6", ["-neural_td_refresh", "1", "-neural_time_freq", "6"]),
    ("td 1, silu", ["-neural_td_refresh", "1", "-neural_activation", "silu"]),
]
BANDS = [(0.0, 0.5), (0.5, 0.9), (0.9, 1.01)]  # generation-time bands of the per-time L2 table


def split_errors(prob, norm, path):
    """Per saved time: weighted L2 of u - u*, of the evaluation term and of the fit term; sup of u - u* on the
    mass region and where it is."""
    F = rn.load_fields(path)
    R = norm.ref
    x = R["pts"][:, 0]
    gain = 1.0 / prob.beta  # eta = 1, constant beta
    out = []
    for j, t in enumerate(R["t"]):
        gv = gain * np.gradient(F["V"][j], x[1] - x[0])
        u, us, W, M = F["U"][j, :, 0], R["U"][j, :, 0], norm.W[j], norm.M[j]
        l2 = lambda e: math.sqrt(float((W * e * e).sum()))
        i = int(np.argmax(np.abs(u - us) * M))
        out.append({"t": float(t), "total": l2(u - us), "eval": l2(gv - us), "fit": l2(u - gv),
                    "sup": float(abs(u[i] - us[i])), "sup_x": float(x[i]),
                    "sup_eval": float(abs(gv[i] - us[i])), "sup_fit": float(abs(u[i] - gv[i]))})
    return out


def one_run(ctx, prob, vname, opts, seed, ref):
    tag = "%s_%s_s%d" % (prob.name, vname.replace(" ", "").replace(",", "_"), seed)
    r = rn.run(ctx, tag, ["neural"] + prob.opts() + GRID + ["-neural_outer", str(OUTER), "-seed", str(seed),
                                                           "-neural_reference", "exact"] + opts)
    if r["rc"]:
        return None
    h = r["hist"]
    res = {"l2": h["error_control_l2"], "sup": h["error_control_sup"], "gap": h["objective_gap"],
           "gap_se": h["objective_gap_se"], "wall": sum(h["wall_time"]) / len(h["wall_time"]),
           "split": split_errors(prob, ctx.norms[prob.name], r["file"])}
    res["script_l2"] = ctx.norms[prob.name].l2(rn.load_fields(r["file"])["U"])
    return res


def mean_se(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    if not v:
        return float("nan"), float("nan")
    m = float(np.mean(v))
    return m, (float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan"))


def sec_problem(ctx, prob, results):
    md = "## %s\n\n%s; %d outer iterations, grid %s, seeds %s; the closed form as reference.\n\n" % (
        prob.name, prob.text, OUTER, " ".join(GRID), SEEDS)
    rows = []
    for vname, _ in VARIANTS:
        runs = [results[(prob.name, vname, s)] for s in SEEDS]
        runs = [r for r in runs if r]
        if not runs:
            rows.append([vname, "failed"] + [""] * 7)
            continue
        fin = mean_se([r["l2"][-1] for r in runs])
        rel = mean_se([r["l2"][-1] / r["l2"][0] for r in runs])
        sup = mean_se([r["sup"][-1] for r in runs])
        sup0 = mean_se([r["sup"][0] for r in runs])
        ev = mean_se([math.sqrt(np.mean([s["eval"] ** 2 for s in r["split"]])) for r in runs])
        ft = mean_se([math.sqrt(np.mean([s["fit"] ** 2 for s in r["split"]])) for r in runs])
        gap = mean_se([r["gap"][-1] / r["gap"][0] for r in runs])
        bands = []
        for lo, hi in BANDS:
            bands.append(np.mean([math.sqrt(np.mean([s["total"] ** 2 for s in r["split"] if lo <= s["t"] < hi]))
                                  for r in runs]))
        # Where the last iterate's sup error is (first seed), and the two terms there.
        at = max(runs[0]["split"], key=lambda e: e["sup"])
        where = "t %.2f, x %+.2f: %.2f / %.2f" % (at["t"], at["sup_x"], at["sup_eval"], at["sup_fit"])
        rows.append([vname, "%.4f ± %.4f" % fin, "%.1f%%" % (100 * rel[0]), "%.2f → %.2f" % (sup0[0], sup[0]),
                     where, "%.4f / %.4f" % (ev[0], ft[0]), " / ".join("%.3f" % b for b in bands),
                     "%.1f%%" % (100 * gap[0]), "%.1f" % np.mean([r["wall"] for r in runs])])
        results[(prob.name, vname, "summary")] = {"final": fin, "rel": rel, "eval": ev, "fit": ft, "sup": sup,
                                                  "sup0": sup0, "gap": gap, "sup_at": at}
    md += table(["variant", "final L2 error (mean ± SE)", "of u^1's error", "sup error u^1 → last",
                 "last sup at: evaluation / fit term there (seed %d)" % SEEDS[0], "evaluation / fit term (L2)", "L2 at t in [0,.5) / [.5,.9) / [.9,1]", "gap / initial gap",
                 "s per iteration (2 runs at a time)"], rows)
    return md


def checks(ctx, results):
    md = ""
    for prob in PROBLEMS:
        s = lambda v: results.get((prob.name, v, "summary"))
        base = s("defaults")
        if not base:
            ctx.check("%s: the default run completes" % prob.name, False)
            continue
        r0 = results[(prob.name, "defaults", SEEDS[0])]
        ctx.check("%s: the script's norm reproduces hjbft's last error_control_l2 (rel. 1e-6)" % prob.name,
                  abs(r0["script_l2"] - r0["l2"][-1]) <= 1e-6 * r0["l2"][-1],
                  "%.8e vs %.8e" % (r0["script_l2"], r0["l2"][-1]))
        ctx.check("%s, defaults: the evaluation term dominates the fit term (L2 over t)" % prob.name,
                  base["eval"][0] > base["fit"][0], "%.4f vs %.4f" % (base["eval"][0], base["fit"][0]))
        at = base["sup_at"]
        ctx.check("%s, defaults: at the last iterate's sup error (t %.2f, x %+.2f) the evaluation term dominates too"
                  % (prob.name, at["t"], at["sup_x"]), at["sup_eval"] > at["sup_fit"],
                  "%.3f vs %.3f" % (at["sup_eval"], at["sup_fit"]))
        for v in ["td 1, time freq 0", "td 1, time freq 6"]:
            o, td = s(v), s("td refresh 1")
            if not (o and td):
                ctx.check("%s: %s completes" % (prob.name, v), False)
                continue
            comb = math.sqrt(td["final"][1] ** 2 + o["final"][1] ** 2)
            ctx.check("%s: the time embedding is not what limits: %s within 2 combined SE of td refresh 1"
                      % (prob.name, v), abs(o["final"][0] - td["final"][0]) <= 2 * comb,
                      "%.4f ± %.4f vs %.4f ± %.4f" % (o["final"] + td["final"]))
        for v in ["td refresh 1", "td 1, value steps 3000"]:
            o = s(v)
            if not o:
                ctx.check("%s: %s completes" % (prob.name, v), False)
                continue
            comb = math.sqrt(base["final"][1] ** 2 + o["final"][1] ** 2)
            ctx.check("%s: %s lowers the final error below the defaults' by more than 2 combined SE" % (prob.name, v),
                      o["final"][0] < base["final"][0] - 2 * comb,
                      "%.4f ± %.4f vs %.4f ± %.4f" % (o["final"] + base["final"]))
        term = results.get((prob.name, "td 1, terminal form", SEEDS[0]))
        if term:
            eT = term["split"][-1]["total"]
            ctx.check("%s, terminal form: u(T) = gain grad r = u*(T) (L2 error at t = T below 1e-8)" % prob.name,
                      eT < 1e-8, "%.2e" % eT)
    return md


def main():
    ap = vc.parser(__doc__, "neural_floor_out", "validation_neural_floor.md", "not supported", "all")
    ap.add_argument("--jobs", type=int, default=2, help="hjbft runs at a time")
    args = ap.parse_args()
    if not vc.have_hjbft(args):
        return 2
    ctx = rn.Ctx(args)
    ctx.check_prefix = "F"
    t0 = time.time()
    ctx.norms = {}
    for prob in PROBLEMS:
        ref = rn.run(ctx, "exact_" + prob.name, ["exact"] + prob.opts() + GRID)
        if ref["rc"]:
            print("exact reference failed: " + ref["error"])
            return 1
        ctx.norms[prob.name] = rn.Norm(prob, ref["file"])
        ctx.norms[prob.name + "_file"] = ref["file"]
    jobs = [(p, v, o, s) for p in PROBLEMS for v, o in VARIANTS for s in SEEDS]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        done = list(ex.map(lambda j: one_run(ctx, j[0], j[1], j[2], j[3], ctx.norms[j[0].name + "_file"]), jobs))
    results = {(p.name, v, s): r for (p, v, o, s), r in zip(jobs, done)}
    body = "".join(sec_problem(ctx, p, results) for p in PROBLEMS)
    checks(ctx, results)
    fails = ctx.failing()
    head = ("# The floor of neural PI-FT, decomposed\n\nGenerated by `validation/run_neural_floor.py` (%s), %d hjbft "
            "runs, %.0f s of hjbft runs.  Do not edit by hand: rerun the script.\n\n" % (vc.provenance(), ctx.nruns,
                                                                                          ctx.total_wall))
    head += ("Columns: the final (last outer iteration's) mass-weighted L2 control error, mean ± standard error "
             "over the seeds; that error over u^1's (the first iterate's); the sup error on the 99.9%-mass "
             "region at the first and the last iterate; the evaluation term gain grad V_psi - u* and the fit term "
             "u - gain grad V_psi (L2 over space and time, see the script's docstring); the L2 error in three "
             "time bands (generation time, t = 1 is data); the objective gap over the initial gap.\n\n")
    chk = "## Checks\n\n%d of %d passed%s.\n\n" % (ctx.npass(), len(ctx.checks),
                                                   " (failing: %s)" % ", ".join(fails) if fails else "")
    report = head + chk + vc.checks_list(ctx.checks) + "\n" + body
    rpath = os.path.abspath(args.report or os.path.join(ctx.out, "validation_neural_floor.md"))
    return vc.finish(ctx, rpath, report, t0)


if __name__ == "__main__":
    sys.exit(main())
