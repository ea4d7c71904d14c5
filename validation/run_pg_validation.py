#!/usr/bin/python3
"""Validation of the policy-gradient estimators and of `hjbft pg` (issue 6); writes docs/validation_pg.md.

    /usr/bin/python3 validation/run_pg_validation.py --pg-tests build-pg/tests/pg/pg_tests
        [--hjbft build-pg/hjbft --train] [--out pg_validation_out] [--report docs/validation_pg.md]

1. Unbiasedness and variance over step counts (always): runs the hidden Catch2 case
   `pg_tests "[table]"` (Gaussian data, linear reward, constant score shift u = theta e, the exact
   dJ/dtheta of the K-step chain from the mean recursion) for K = 10 ... 160 and eta = 1, 0.5, 0;
   checks every estimator's mean against the exact derivative (4 standard errors) and tabulates
   the per-path standard deviations.
2. Training (--train, needs --hjbft): `hjbft solve` gives the grid optimum for eta = 1, 0.5, 0
   (eta = 0: Howard with the upwind scheme), then `hjbft pg` trains the control network against it
   (-pg_reference grid:FILE) with the td / pathwise estimators; the objective gap and the control
   error over iterations are reported.

Exit status 0 when every check passes, 1 otherwise, 77 without numpy/h5py (only needed by --train).
"""
import argparse
import math
import os
import subprocess
import sys
import time


def run(cmd, log=None, env=None):
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if log:
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n" + p.stdout)
    return p.returncode, p.stdout, time.time() - t0


def section_estimators(args, lines):
    rc, out, wall = run([args.pg_tests, "[table]"])
    rows = []
    for line in out.splitlines():
        if line.startswith("TABLE ") and not line.startswith("TABLE eta"):
            eta, K, name, exact, mean, se, std = line.split()[1:]
            rows.append(dict(eta=float(eta), K=int(K), name=name, exact=float(exact), mean=float(mean),
                             se=float(se), std=float(std)))
    ok = rc == 0 and len(rows) > 0
    lines.append("## 1. Unbiasedness and variance over the number of steps\n")
    lines.append("Gaussian data (one component, mean 0.5, variance 0.3), vp with `h_max = 8`, linear reward "
                 "`r = x`, beta = 1, constant score shift `u = theta e`, theta = 0.3, 20,000 paths per row "
                 "(`pg_tests \"[table]\"`, %.0f s). `exact` is dJ/dtheta of the K-step Euler-Maruyama chain "
                 "(mean recursion, no sampling); `z = (mean - exact)/SE` must satisfy |z| <= 4; `std` is the "
                 "per-path standard deviation of the estimator (the variance the table is about). "
                 "lr = DDPO-style (whole-path return, baseline 0), lr_causal = reward-to-go, td = TD advantages "
                 "with the exact chain value, pathwise = value gradient with the exact chain value.\n" % wall)
    lines.append("| eta | K | estimator | exact | mean | SE | z | std | check |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    fails = 0
    for r in rows:
        tol = 4 * r["se"] + 1e-9 * abs(r["exact"])
        z = (r["mean"] - r["exact"]) / r["se"] if r["se"] > 0 else 0.0
        good = abs(r["mean"] - r["exact"]) <= tol
        fails += not good
        lines.append("| %g | %d | %s | %.6f | %.6f | %.2e | %+.2f | %.4g | %s |" % (
            r["eta"], r["K"], r["name"], r["exact"], r["mean"], r["se"], z, r["std"], "pass" if good else "FAIL"))
    # Variance growth with K: std at K = 160 over std at K = 10 per estimator and eta.
    lines.append("\nGrowth of the per-path standard deviation from K = 10 to K = 160:\n")
    lines.append("| eta | estimator | std(K=10) | std(K=160) | ratio |")
    lines.append("|---|---|---|---|---|")
    for eta in sorted({r["eta"] for r in rows}, reverse=True):
        for name in ("lr", "lr_causal", "td", "pathwise"):
            a = [r for r in rows if r["eta"] == eta and r["name"] == name and r["K"] == 10]
            b = [r for r in rows if r["eta"] == eta and r["name"] == name and r["K"] == 160]
            if a and b:
                ratio = b[0]["std"] / a[0]["std"] if a[0]["std"] > 0 else float("nan")
                lines.append("| %g | %s | %.4g | %.4g | %.3g |" % (eta, name, a[0]["std"], b[0]["std"], ratio))
    lines.append("\nFindings. Every estimator is unbiased for the K-step objective (|z| <= 4 in every row). The "
                 "likelihood-ratio (DDPO-style) standard deviation does **not** grow with K here: the summed "
                 "transition scores sum_i B_i sqrt(dt_i)/Sigma_i xi_i converge to the stochastic integral "
                 "int B/Sigma dW, whose variance int B^2/Sigma^2 dt = int Lambda dt is finite (it grows as eta -> 0 "
                 "instead, like 1/eta^2). The issue's expectation (variance growing with the number of steps) is "
                 "therefore not reproduced for this one-parameter family. The TD estimator's standard deviation "
                 "falls like K^(-1/2) (with the exact value, A_i is one noise increment, so each step contributes "
                 "O(dt^2) of variance); the pathwise estimator has zero variance here (grad V is constant in x for a "
                 "linear reward) and is the only one defined for eta = 0.\n")
    print("estimators: %d rows, %d failures" % (len(rows), fails))
    return ok and fails == 0


def section_training(args, lines):
    try:
        import h5py
        import numpy as np
    except ImportError as exc:
        print("--train needs python3-h5py and numpy (%s)" % exc, file=sys.stderr)
        sys.exit(77)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    runs = os.path.join(args.out, "runs")
    os.makedirs(runs, exist_ok=True)
    problem = ["-target_weights", "1", "-target_means", "0.5", "-target_vars", "0.3", "-reward", "linear",
               "-reward_vector", "1", "-beta", "1", "-sde_hmax", "8", "-grid_lo", "-4", "-grid_hi", "4"]
    lines.append("## 2. Training against the grid optimum\n")
    lines.append("Same problem; the grid optimum from `hjbft solve` (301 points on [-4, 4], nt = 200; eta = 0: "
                 "`-hjb_method howard -hjb_advection upwind -hjb_theta 1`); `hjbft pg` with %d iterations of "
                 "%d paths, K = %d, value net 16-16 (TD fit, 150 Adam steps per iteration, warm-started), "
                 "control net 16-16, -pg_lr %g. Errors of the control on the output grid (51 points, nt = 20) "
                 "in the region holding 99.9%% of the fine-tuned marginal.\n" % (
                     args.iterations, args.paths, args.steps, args.lr))
    lines.append("| eta | estimator | K | gap(first) | gap(last) +- SE | L2 err u (first) | L2 err u (last) | wall s |")
    lines.append("|---|---|---|---|---|---|---|---|")
    ok = True
    for eta in (1.0, 0.5, 0.0):
        ref = os.path.join(runs, "grid_eta%g.h5" % eta)
        solve = [args.hjbft, "solve", "-eta", str(eta), "-da_grid_x", "301", "-nt", "200", "-o", ref] + problem
        if eta == 0:
            solve += ["-hjb_method", "howard", "-hjb_advection", "upwind", "-hjb_theta", "1"]
        rc, out, _ = run(solve, os.path.join(runs, "grid_eta%g.log" % eta), env)
        if rc != 0:
            lines.append("| %g | (grid solve failed, rc %d) | | | | | | |" % (eta, rc))
            ok = False
            continue
        # eta = 0 also with 4K steps: the chain's objective differs from the continuous one by O(dt).
        for est, K in ([("td", args.steps), ("pathwise", args.steps)] if eta > 0 else
                       [("pathwise", args.steps), ("pathwise", 4 * args.steps)]):
            o = os.path.join(runs, "pg_eta%g_%s_K%d.h5" % (eta, est, K))
            cmd = [args.hjbft, "pg", "-eta", str(eta), "-pg_estimator", est, "-pg_iterations", str(args.iterations),
                   "-pg_paths", str(args.paths), "-pg_steps", str(K), "-pg_lr", str(args.lr),
                   "-neural_value_hidden", "16,16", "-neural_control_hidden", "16,16", "-neural_value_steps", "150",
                   "-neural_batch", "1024", "-da_grid_x", "51", "-nt", "20",
                   "-pg_reference", "grid:" + ref, "-o", o] + problem
            rc, out, wall = run(cmd, os.path.join(runs, "pg_eta%g_%s_K%d.log" % (eta, est, K)), env)
            if rc != 0:
                lines.append("| %g | %s | %d | (failed, rc %d) | | | | |" % (eta, est, K, rc))
                ok = False
                continue
            with h5py.File(o, "r") as f:
                h = f["history"]
                gap = np.array(h["objective_gap"])
                gse = np.array(h["objective_gap_se"])
                err = np.array(h["error_control_l2"])
            lines.append("| %g | %s | %d | %.3e | %.3e +- %.1e | %.3e | %.3e | %.0f |" % (
                eta, est, K, gap[0], gap[-1], gse[-1], err[0], err[-1], wall))
            if not err[-1] < 0.5 * err[0]:
                ok = False
    lines.append("\nCheck: the last L2 control error is below half the first one (every row). The gap is J* - J(u) "
                 "with common initial states; J* is the grid's continuous-time V*(0, Y_0), J(u) the K-step chain's "
                 "return, so the gap of a converged policy is the time-discretization difference of the objective, "
                 "not an error of the training: for eta = 0 (no noise, SE tiny) it is visibly negative at K and "
                 "shrinks at 4K.\n")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-tests", required=True)
    ap.add_argument("--hjbft")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--paths", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--out", default="pg_validation_out")
    ap.add_argument("--report")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    report = args.report or os.path.join(args.out, "validation_pg.md")
    lines = ["# Validation of the policy gradient (issue 6)\n",
             "Generated by `validation/run_pg_validation.py`; the mathematics is in `docs/policy_gradient.md`.\n"]
    ok = section_estimators(args, lines)
    if args.train:
        if not args.hjbft:
            print("--train needs --hjbft", file=sys.stderr)
            return 2
        ok = section_training(args, lines) and ok
    lines.append("Overall: %s\n" % ("all checks pass" if ok else "SOME CHECKS FAIL (see the tables)"))
    with open(report, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s: %s" % (report, "pass" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
