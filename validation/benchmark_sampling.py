#!/usr/bin/python3
"""Throughput of `hjbft sample` (issue 4): paths per second for 1-D and 2-D problems at 100 and
1000 steps, control none / exact (closed form) / grid (a `hjbft exact` file), 1 and 2 ranks, each
with the accuracy of its samples beside it.

    /usr/bin/python3 validation/benchmark_sampling.py [--hjbft build/hjbft] [--quick] [--doc FILE]

Paths per second = n / (wall time of the integration, max over ranks), as `hjbft sample` reports
it (`paths_per_second`; initial sampling, gathering and statistics excluded).  Accuracy: the
samples against the law they should follow (`-compare auto`: the data law for control none, the
tilted law for exact and grid): the error of the mean in Monte Carlo standard errors, the largest
mode-weight error and, in 1-D, the Kolmogorov-Smirnov distance.  The full run (about 2 minutes)
writes section "Sampling (`hjbft sample`)" of docs/performance.md (validation/bench_doc.py);
--quick (1-D, 100 steps, n / 10: seconds) writes no doc unless --doc is given.  Every run waits (up
to --wait s) for the 1-minute load average to fall below --max-load and records it, and the CPU
other processes took during the run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py

import bench_doc as bd
from vcommon import MPI_ENV, ROOT

SECTION = "## Sampling (`hjbft sample`)"
P1 = []  # default: 1-D modes -2, 2, quadratic reward at 1, eta 1
P2 = ["-dim", "2", "-target_weights", "0.4,0.6", "-target_means", "-1,0.5,1.5,-1", "-target_vars", "0.5,0.3",
      "-reward", "quadratic", "-reward_center", "1,-1"]
# paths per run: (control, steps) -> n
N = {("none", 100): 40000, ("none", 1000): 8000, ("exact", 100): 4000, ("exact", 1000): 800,
     ("grid", 100): 40000, ("grid", 1000): 8000}
CONTROLS = ("none", "exact", "grid")


def one_run(args, cmd, out):
    """Runs one `hjbft sample`; returns its attributes plus load, others' CPU and the process wall time."""
    with bd.Measured(args) as m:
        p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **MPI_ENV))
    if p.returncode:
        print(p.stdout + p.stderr, file=sys.stderr)
        sys.exit("benchmark_sampling: failed (exit %d): %s" % (p.returncode, " ".join(cmd)))
    with h5py.File(out, "r") as f:
        a = {k: float(v) for k, v in f.attrs.items() if not isinstance(v, (bytes, str))}
        a["compare"] = f.attrs["compare"].decode() if isinstance(f.attrs["compare"], bytes) else str(f.attrs["compare"])
    a.update(load=m.load, others=m.others, process_wall=m.wall)
    return a


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", default=os.path.join(ROOT, "build", "hjbft"))
    ap.add_argument("--out", default="", help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--quick", action="store_true", help="1-D, 100 steps, a tenth of the paths: a smoke test")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-minute load to fall below this "
                    "(it includes the benchmark's own previous run)")
    ap.add_argument("--wait", type=float, default=30, help="... for at most this many seconds per run")
    ap.add_argument("--json", default="", help="also write all measurements here")
    bd.add_doc_options(ap)
    args = ap.parse_args()
    doc = bd.doc_path(args)
    hj = os.path.abspath(args.hjbft)
    work = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="bench_sampling_")
    os.makedirs(work, exist_ok=True)
    dims = (1,) if args.quick else (1, 2)
    steps_list = (100,) if args.quick else (100, 1000)
    scale = 10 if args.quick else 1
    grids = {}
    for d, prob, gx in ((1, P1, ["-da_grid_x", "801"]), (2, P2, ["-da_grid_x", "129", "-da_grid_y", "129"])):
        if d not in dims:
            continue
        f = os.path.join(work, "exact_%dd.h5" % d)
        subprocess.run([hj, "exact"] + prob + gx + ["-nt", "200", "-o", f], check=True, capture_output=True,
                       env=dict(os.environ, **MPI_ENV))
        grids[d] = f
    res = {}
    t0 = time.time()
    for d in dims:
        prob = P1 if d == 1 else P2
        for steps in steps_list:
            for ranks in (1, 2):
                for ctl in CONTROLS:
                    n = N[(ctl, steps)] // scale
                    out = os.path.join(work, "s.h5")
                    c = "grid:" + grids[d] if ctl == "grid" else ctl
                    cmd = [hj, "sample"] + prob + ["-control", c, "-n", str(n), "-nsteps", str(steps), "-sampler",
                                                   "heun", "-energy_n", "0", "-compare", "auto", "-o", out]
                    if ranks > 1:
                        cmd = [args.mpiexec, "-n", str(ranks)] + cmd
                    a = one_run(args, cmd, out)
                    res[(d, steps, ctl, ranks)] = a
                    print("d %d steps %4d ranks %d control %-5s n %6d: %9.0f paths/s, mean error %.2f s.e., "
                          "load %.2f, others %.2f cores" % (d, steps, ranks, ctl, n, a["paths_per_second"],
                                                             a["mean_error_sigmas"], a["load"], a["others"]),
                          flush=True)
    seconds = time.time() - t0
    text = bd.section_text(SECTION, report(res, dims, steps_list, hj, seconds, args.quick))
    print()
    print(text)
    if doc:
        bd.write_section(doc, SECTION, text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([dict(v, d=k[0], steps=k[1], control=k[2], ranks=k[3]) for k, v in res.items()], f, indent=1)
    if not args.out:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def g3(x):
    """Three significant digits, thousands separated by a thin space as in the rest of the doc."""
    s = "%.3g" % x
    if "e" in s:
        s = "%.0f" % float(s)
    if "." not in s and len(s) > 3:
        s = "{:,}".format(int(s)).replace(",", " ")
    return s


def span(v, nd=2):
    f = "%." + str(nd) + "f"
    return f % min(v) if f % min(v) == f % max(v) else (f + "-" + f) % (min(v), max(v))


def report(res, dims, steps_list, hj, seconds, quick):
    L = []
    L.append("Throughput of `hjbft sample` with the accuracy of the same samples beside it. Paths per second = "
             "n / (integration wall time, max over ranks), as `hjbft sample` reports it (`paths_per_second`: "
             "initial sampling, gathering, statistics and output excluded). Stochastic Heun, eta = 1, uniform "
             "time grid, `-energy_n 0 -compare auto`. 1-D: the default problem (modes -2, 2, quadratic reward at "
             "1); 2-D: weights 0.4/0.6, means (-1, 0.5), (1.5, -1), variances 0.5/0.3, quadratic reward at "
             "(1, -1). Controls: `none` (reference sampler, compared with the data law), `exact` (GMM closed "
             "form) and `grid:` (an `hjbft exact` file, 801 points or 129^2, 201 saved times: multilinear in "
             "space, linear in time), both compared with the tilted law. 2 ranks: `mpiexec -n 2`.")
    if quick:
        L.append("")
        L.append("**This is a --quick smoke run** (1-D, 100 steps, a tenth of the paths).")
    L.append("")
    L.append("* Reproduce: `%s` (about 2 minutes; `--quick`: seconds, no doc)." % bd.command_line())
    L.append("* Machine: %s. hjbft %s." % (bd.machine(), bd.describe_build(hj)))
    L.append("* " + bd.load_note([a["load"] for a in res.values()], [a["others"] for a in res.values()])
             + " Run time %.0f s." % seconds)
    dm = max(abs(res[k]["mean_error"] - res[k[:3] + (2,)]["mean_error"]) for k in res if k[3] == 1)
    L.append("* Accuracy columns (1-rank run; the 2-rank run draws the same paths: %s): mean error = |sample mean - law mean| in Monte Carlo standard errors; mode weights = "
             "largest error of the fraction of samples nearest each mode; KS = Kolmogorov-Smirnov distance (1-D; "
             "1.36/sqrt(n) is its 95%% level)." % ("its mean error is the same to the last bit" if dm == 0 else
                                                 "its mean error differs by at most %.1e" % dm))
    L.append("")
    L.append("| d | steps | control | n | paths/s, 1 rank | paths/s, 2 ranks | 2 / 1 rank | us per path-step (1 rank) "
             "| mean error (s.e.) | mode weights | KS (1.36/sqrt n) | load | others |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for d in dims:
        for steps in steps_list:
            for ctl in CONTROLS:
                a, b = res[(d, steps, ctl, 1)], res[(d, steps, ctl, 2)]
                n = int(a["n"])
                ks = "%.4f (%.4f)" % (a["ks_distance"], 1.36 / n ** 0.5) if d == 1 and "ks_distance" in a else "-"
                L.append("| %d | %d | %s | %d | %s | %s | %.2f | %.3f | %.2f | %.4f | %s | %.2f / %.2f | %.2f / %.2f |"
                         % (d, steps, ctl, n, g3(a["paths_per_second"]), g3(b["paths_per_second"]),
                            b["paths_per_second"] / a["paths_per_second"], 1e6 / (a["paths_per_second"] * steps),
                            a["mean_error_sigmas"], a.get("mode_weight_error", float("nan")), ks,
                            a["load"], b["load"], a["others"], b["others"]))
    L.append("")
    L.append("(load, others: 1-rank / 2-rank run.)")
    L.append("")
    cost = {c: [1e6 / (res[(d, s, c, 1)]["paths_per_second"] * s) for d in dims for s in steps_list] for c in CONTROLS}
    ratio_eg = [res[(d, s, "grid", 1)]["paths_per_second"] / res[(d, s, "exact", 1)]["paths_per_second"]
                for d in dims for s in steps_list]
    sp = [res[(d, s, c, 2)]["paths_per_second"] / res[(d, s, c, 1)]["paths_per_second"]
          for d in dims for s in steps_list for c in CONTROLS]
    L.append("* Cost per path-step on 1 rank: %s us without control, %s us with the grid control, %s us with the "
             "GMM closed-form control: the closed form is %sx slower than a grid file of the same control."
             % (span(cost["none"]), span(cost["grid"]), span(cost["exact"]), span(ratio_eg, 0)))
    if len(steps_list) > 1:
        lin = [res[(d, 100, c, 1)]["paths_per_second"] / res[(d, 1000, c, 1)]["paths_per_second"]
               for d in dims for c in CONTROLS]
        L.append("* 100-step / 1000-step throughput: %sx (10 if the time were linear in the steps with no "
                 "fixed cost per path)." % span(lin, 1))
    L.append("* 2 ranks / 1 rank: %sx (the paths are independent; one gather of the terminal states at the "
             "end)." % span(sp))
    return L


if __name__ == "__main__":
    sys.exit(main())
