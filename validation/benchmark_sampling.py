#!/usr/bin/python3
"""Throughput of `hjbft sample` (issue 4): paths per second for 1-D and 2-D problems at 100 and
1000 steps, control none / exact (closed form) / grid (a `hjbft exact` file), 1 and 2 ranks.

    /usr/bin/python3 validation/benchmark_sampling.py [--hjbft build/hjbft] [--out bench_sampling_out]
                                                      [--mpiexec mpiexec] [--markdown FILE]

Paths per second = n / (wall time of the integration, max over ranks), as `hjbft sample` reports
it (`paths_per_second`; initial sampling, gathering and statistics excluded).  The number of paths
is chosen per case so that one run takes a few seconds.  Writes a Markdown table to --markdown
(default OUT/sampling_performance.md) and prints it.
"""
import argparse
import os
import subprocess
import sys
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
P1 = []  # default: 1-D modes -2, 2, quadratic reward at 1, eta 1
P2 = ["-dim", "2", "-target_weights", "0.4,0.6", "-target_means", "-1,0.5,1.5,-1", "-target_vars", "0.5,0.3",
      "-reward", "quadratic", "-reward_center", "1,-1"]
# paths per run: (control, steps) -> n
N = {("none", 100): 40000, ("none", 1000): 8000, ("exact", 100): 4000, ("exact", 1000): 800,
     ("grid", 100): 40000, ("grid", 1000): 8000}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", default=os.path.join(ROOT, "build", "hjbft"))
    ap.add_argument("--out", default="bench_sampling_out")
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    hj = os.path.abspath(args.hjbft)
    os.makedirs(args.out, exist_ok=True)
    grids = {}
    for d, prob, gx in ((1, P1, ["-da_grid_x", "801"]), (2, P2, ["-da_grid_x", "129", "-da_grid_y", "129"])):
        f = os.path.join(args.out, "exact_%dd.h5" % d)
        subprocess.run([hj, "exact"] + prob + gx + ["-nt", "200", "-o", f], check=True, capture_output=True, env=ENV)
        grids[d] = f
    rows = []
    t0 = time.time()
    for d, prob in ((1, P1), (2, P2)):
        for steps in (100, 1000):
            row = ["%d" % d, "%d" % steps]
            for ranks in (1, 2):
                for ctl in ("none", "exact", "grid"):
                    n = N[(ctl, steps)]
                    out = os.path.join(args.out, "s.h5")
                    c = "grid:" + grids[d] if ctl == "grid" else ctl
                    cmd = [hj, "sample"] + prob + ["-control", c, "-n", str(n), "-nsteps", str(steps), "-sampler",
                                                   "heun", "-energy_n", "0", "-compare", "none", "-o", out]
                    if ranks > 1:
                        cmd = [args.mpiexec, "-n", str(ranks), "--oversubscribe"] + cmd
                    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
                    if p.returncode:
                        row.append("failed (%d)" % p.returncode)
                        print(p.stdout + p.stderr, file=sys.stderr)
                        continue
                    with h5py.File(out, "r") as f:
                        pps = float(f.attrs["paths_per_second"])
                    print("d %d steps %4d ranks %d control %-5s n %6d: %9.0f paths/s" % (d, steps, ranks, ctl, n, pps),
                          flush=True)
                    row.append("%.3g" % pps)
            rows.append(row)
    head = ["d", "steps", "none, 1 rank", "exact, 1 rank", "grid, 1 rank", "none, 2 ranks", "exact, 2 ranks",
            "grid, 2 ranks"]
    md = "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
    for r in rows:
        md += "| " + " | ".join(r) + " |\n"
    md += "\n_%s, %.0f s in all._\n" % (time.strftime("%Y-%m-%d %H:%M"), time.time() - t0)
    path = args.markdown or os.path.join(args.out, "sampling_performance.md")
    with open(path, "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
