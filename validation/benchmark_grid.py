#!/usr/bin/python3
"""Performance benchmark of the grid HJB solver (issue 3, "Performance").

For 2-D problems of N^2 points and nt time steps it runs `hjbft solve` with
-hjb_method colehopf and pi, on 1 and 2 MPI ranks, and reports:

* wall time of one evaluation sweep (PI iteration 0: the pre-trained control
  u = 0 evaluated over the whole horizon), of the full PI solve (and its
  iteration count) and of the Cole-Hopf solve;
* linear (GMRES) iterations per time step;
* grid-point updates per second (N^2 nt / time of one sweep);
* peak resident memory per rank (/usr/bin/time -v around each rank), next to
  a memory model of what the solver stores;
* where the time goes (-log_view: HJBAssemble vs KSPSolve);
* strong scaling 1 -> 2 ranks (speedup, efficiency);
* the targets of issue 3: full PI <= (PI iterations + 1) x Cole-Hopf, and a
  257^2 x 400 Cole-Hopf solve in seconds;
* the cost of the ground-truth tolerance (-ksp_rtol 1e-13, the default) vs a
  looser -ksp_rtol 1e-8, and the change of V it causes.

Every row carries the errors against the closed form (control L2 on the mass
region, value sup) next to the time.  The full run writes section "Grid HJB
solver (`hjbft solve`)" of docs/performance.md (validation/bench_doc.py);
--quick writes no doc unless --doc is given.

    /usr/bin/python3 validation/benchmark_grid.py                 # 129, 257, 513 x 400 steps, ~4 minutes
    /usr/bin/python3 validation/benchmark_grid.py --quick         # tiny sizes, seconds
    /usr/bin/python3 validation/benchmark_grid.py --sizes 129,257 --nt 200 --ranks 1

By default PI runs on 129^2 and 257^2 on 1 rank and the 2-rank runs are
129^2 and 257^2 (--pi-sizes, --pi-ranks, --multi-rank-sizes; 513^2 x 400 PI
needs ~1.8 GiB and ~10 minutes).  Timings are only meaningful on a quiet
machine: before every run the script waits (up to --wait seconds) for the
1-minute load average to fall below --max-load and records the load it saw
and the CPU other processes took during the run.
"""
import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import bench_doc as bd
from vcommon import MPI_ENV

SECTION = "## Grid HJB solver (`hjbft solve`)"
EVENTS = ("HJBAssemble", "KSPSolve", "PCSetUp", "PCApply", "MatMult", "KSPGMRESOrthog", "MatILUFactorSym")


def load1():
    return bd.loadavg()[0]


def parse_log_view(text):
    """Max-over-ranks time and count of the events we care about (main stage)."""
    ev = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 4 and f[0] in EVENTS and f[0] not in ev:
            try:
                ev[f[0]] = {"count": int(f[1]), "time": float(f[3])}
            except ValueError:
                pass
    return ev


def parse_time_v(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", line)
            if m:
                out["maxrss_kb"] = int(m.group(1))
            m = re.search(r"Elapsed \(wall clock\) time .*: (.*)$", line)
            if m:
                parts = [float(x) for x in m.group(1).strip().split(":")]
                s = 0.0
                for p in parts:
                    s = 60 * s + p
                out["elapsed"] = s
    return out


def run_solve(args, binary, n, nt, method, ranks, extra, tag, workdir):
    """One `hjbft solve`; returns a dict of measurements."""
    out = os.path.join(workdir, f"{tag}.h5")
    logf = os.path.join(workdir, f"{tag}.log_view")
    opts = ["solve", "-dim", "2", "-da_grid_x", str(n), "-da_grid_y", str(n), "-nt", str(nt),
            "-hjb_method", method, "-o", out, "-log_view", f":{logf}"] + extra + args.extra
    tv = os.path.join(workdir, f"{tag}.time")
    # /usr/bin/time around every rank (not around mpiexec), so each rank's peak RSS is its own.
    inner = f"/usr/bin/time -v -o {tv}.${{OMPI_COMM_WORLD_RANK:-0}} {binary} " + " ".join(opts)
    cmd = ["sh", "-c", inner]
    if ranks > 1:
        cmd = ["mpiexec", "-n", str(ranks), "--bind-to", "none"] + cmd
    env = dict(os.environ, **MPI_ENV)
    with bd.Measured(args) as m:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate()
        except BaseException:  # interrupted: stop the solve (and its mpiexec) we started
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
    p = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        sys.exit(f"benchmark_grid: run {tag} failed (exit {p.returncode}): {' '.join(cmd)}")
    r = {"n": n, "nt": nt, "method": method, "ranks": ranks, "extra": extra, "load1": m.load,
         "waited_s": round(m.waited), "process_elapsed": m.wall, "cpu": m.cpu, "others": m.others}
    with h5py.File(out, "r") as f:
        r["wall_time"] = float(f.attrs["wall_time"])
        h = f["history"]
        r["iter_wall"] = [float(x) for x in h["wall_time"][()]]
        r["iter_lin"] = [int(x) for x in h["linear_iterations"][()]]
        r["exact"] = "exact_solution" in f.attrs
        r["saved"] = int(f["time"].shape[0])
        r["V0"] = np.array(f["value"][0]) if args.keep_value else None
        for k in ("error_value_sup", "error_value_l2", "error_control_l2", "error_control_sup"):
            if k in f.attrs:
                r[k] = float(f.attrs[k])
    with open(logf) as f:
        r["events"] = parse_log_view(f.read())
    r["rss_kb"] = [parse_time_v(f"{tv}.{k}").get("maxrss_kb", 0) for k in range(ranks)]
    for k in range(ranks):
        os.remove(f"{tv}.{k}")
    os.remove(out)
    xmf = os.path.splitext(out)[0] + ".xmf"
    if os.path.exists(xmf):
        os.remove(xmf)
    return r


def local_points(n, ranks):
    """Points owned by the largest rank: PETSc's DMDA splits 2-D over a px x py process grid."""
    best = None
    for px in range(1, ranks + 1):
        if ranks % px:
            continue
        py = ranks // px
        cost = abs(px - py)
        if best is None or cost < best[0]:
            best = (cost, px, py)
    _, px, py = best
    return math.ceil(n / px) * math.ceil(n / py)


def memory_model(n, nt, method, ranks, saved, pi_iters, exact, baseline_kb):
    """Predicted peak RSS per rank (bytes): what the solver allocates, plus the
    process baseline (MPI + PETSc + HDF5 libraries, measured on the smallest grid).

    Global vectors of n_loc doubles:
      value at every step: (nt+1), twice for PI (current and previous iterate);
      saved steps: mass weight + region mask (2), exact V (1) and u (d) when a closed form exists;
      PI: the improved control at the saved steps for every iteration (d per saved step and iteration);
      work: cost, costprev, rhs, work (4), U, U2 (2d), ghosted locals (~3), Cole-Hopf phi (2);
      GMRES(30): 30 Krylov + ~3 work vectors.
    Matrices (AIJ, 5-point star): A, Aprev and the ILU(0) factor, 5 nnz x (8 + 4) bytes per row + row pointers.
    Output: the writer's control vector (d) and PETSc HDF5 buffers (~1 field).
    """
    d = 2
    nl = local_points(n, ranks)
    vecs = (nt + 1) * (2 if method == "pi" else 1)
    vecs += saved * (2 + ((1 + d) if exact else 0))
    if method == "pi":
        vecs += pi_iters * saved * d
    vecs += 4 + 2 * d + 3 + (2 if method == "colehopf" else 0)
    vecs += 33
    vecs += d + 1
    mats = 3 * nl * (5 * 12 + 4)
    solver = 8 * nl * vecs + mats
    return solver, solver + baseline_kb * 1024

def fmt_t(s):
    return f"{s:.2f}" if s < 100 else f"{s:.0f}"


def ev_time(r, k):
    return r["events"].get(k, {}).get("time", float("nan"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="129,257,513", help="points per axis, comma separated")
    ap.add_argument("--nt", type=int, default=400, help="time steps")
    ap.add_argument("--pi-nt", default="", help="per-size override of nt for PI, e.g. 513:100 (Cole-Hopf then also "
                    "runs with that nt, for the PI target)")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--pi-ranks", default="1", help="rank counts for which PI runs (default 1; '' : all of --ranks)")
    ap.add_argument("--pi-sizes", default="129,257", help="sizes for which PI runs (default 129,257; '' : all)")
    ap.add_argument("--multi-rank-sizes", default="129,257", help="sizes run on more than 1 rank ('' : all)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (33, 65) and 40 steps: a smoke test")
    ap.add_argument("--hjbft", default="", help="the hjbft binary (default: build-bench/ or build/)")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                    help="further options for every solve (problem, -ksp_*, ...); must come last")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-min load average to fall below this "
                    "(it includes the benchmark's own previous run)")
    ap.add_argument("--wait", type=float, default=60, help="longest wait for a quiet machine per run (s)")
    ap.add_argument("--no-rtol-check", action="store_true", help="skip the -ksp_rtol 1e-8 comparison")
    ap.add_argument("--json", default="", help="also write all measurements here")
    ap.add_argument("--workdir", default="", help="scratch folder (default: a temporary one)")
    bd.add_doc_options(ap)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("benchmark_grid: terminated"))
    args.keep_value = False
    if args.quick:
        args.sizes, args.nt = "33,65", 40
        args.pi_sizes = args.multi_rank_sizes = ""
    doc = bd.doc_path(args)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    ranks_list = [int(s) for s in args.ranks.split(",") if s]
    pi_ranks = [int(s) for s in args.pi_ranks.split(",") if s] or ranks_list
    pi_sizes = [int(s) for s in args.pi_sizes.split(",") if s] or sizes
    mr_sizes = [int(s) for s in args.multi_rank_sizes.split(",") if s] or sizes
    pi_nt = {int(a): int(b) for a, b in (x.split(":") for x in args.pi_nt.split(",") if x)}
    binary = bd.find_binary(args.hjbft)
    workdir = args.workdir or tempfile.mkdtemp(prefix="hjbft-bench-")
    os.makedirs(workdir, exist_ok=True)

    print(f"# hjbft grid benchmark: {binary}")
    print(f"# sizes {sizes}, nt {args.nt}, PI on sizes {pi_sizes}, ranks {pi_ranks}, nt overrides {pi_nt or 'none'}, "
          f"ranks {ranks_list}, extra {args.extra}")
    print(f"# {os.cpu_count()} CPUs; load at start {load1():.2f}", flush=True)

    res = {}
    t_start = time.time()
    for n in sizes:
        for ranks in ranks_list:
            if ranks > 1 and n not in mr_sizes:
                continue
            jobs = [("colehopf", args.nt)]
            if n in pi_sizes and ranks in pi_ranks:
                jobs.append(("pi", pi_nt.get(n, args.nt)))
                if pi_nt.get(n, args.nt) != args.nt:
                    jobs.append(("colehopf", pi_nt[n]))  # the PI target compares at the same nt
            for method, nt in jobs:
                tag = f"{method}_{n}_{nt}_r{ranks}"
                r = run_solve(args, binary, n, nt, method, ranks, [], tag, workdir)
                res[(n, method, ranks, nt)] = r
                if args.json:
                    with open(args.json + ".partial", "w") as f:
                        json.dump([{k: v for k, v in x.items() if k != "V0"} for x in res.values()], f)
                print(f"  {tag}: {r['wall_time']:.2f}s solve, {len(r['iter_wall'])} iteration(s), "
                      f"rss/rank {[round(k / 1024) for k in r['rss_kb']]} MiB, load {r['load1']:.2f}, "
                      f"others {r['others']:.2f} cores (+{time.time() - t_start:.0f}s)", flush=True)

    rtol = None
    if not args.no_rtol_check:
        n = 257 if 257 in sizes else sizes[len(sizes) // 2]
        args.keep_value = True
        a = run_solve(args, binary, n, args.nt, "colehopf", 1, [], f"rtol13_{n}", workdir)
        b = run_solve(args, binary, n, args.nt, "colehopf", 1, ["-ksp_rtol", "1e-8"], f"rtol8_{n}", workdir)
        args.keep_value = False
        rtol = (n, a, b, float(np.max(np.abs(a["V0"] - b["V0"]))))

    L = report(args, binary, sizes, ranks_list, res, rtol, time.time() - t_start)
    text = bd.section_text(SECTION, L)
    print()
    print(text)
    print(f"# total benchmark time {time.time() - t_start:.0f}s; load at end {load1():.2f}")
    if doc:
        bd.write_section(doc, SECTION, text)
    if args.json:
        def clean(r):
            return {k: v for k, v in r.items() if k != "V0"}
        with open(args.json, "w") as f:
            json.dump({"runs": [clean(r) for r in res.values()],
                       "rtol": None if not rtol else {"n": rtol[0], "tight": clean(rtol[1]), "loose": clean(rtol[2]),
                                                      "sup_dV0": rtol[3]}}, f, indent=1)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


def report(args, binary, sizes, ranks_list, res, rtol, seconds):
    """The Markdown lines of the section."""
    L = []
    runs = list(res.values()) + ([rtol[1], rtol[2]] if rtol else [])
    cmd = bd.command_line()
    L.append("Benchmark of `hjbft solve` (issue 3, \"Performance\"): the default 2-D problem of `hjbft solve -dim 2` "
             "(VP SDE, default GMM target, quadratic reward, beta = 1, eta = 1, Crank-Nicolson after 2 "
             "backward-Euler steps). A closed form exists, so every row carries the error against it next to "
             "the time.")
    L.append("")
    L.append("* Reproduce: `%s` (`--quick`: a smoke test in about a minute that writes no doc; `--extra -ksp_type "
             "... -pc_type ...` passes PETSc options to every solve; `--json FILE` keeps all measurements)." % cmd)
    L.append("* Run: sizes %s x %d steps on ranks %s; PI only on %s^2, %s rank(s)%s. Total %.0f s."
             % (", ".join("%d^2" % n for n in sizes), args.nt, ", ".join(map(str, ranks_list)),
                "^2, ".join(str(n) for n in sorted({k[0] for k in res if k[1] == "pi"})) or "no",
                ", ".join(str(r) for r in sorted({k[2] for k in res if k[1] == "pi"})) or "-",
                (" (PI nt overrides %s)" % args.pi_nt) if args.pi_nt else "", seconds))
    L.append("* Machine: %s. hjbft %s; PETSc %s." % (bd.machine(), bd.describe_build(binary), bd.petsc_version(binary)))
    L.append("* PETSc solver: GMRES(30), default preconditioner (ILU(0) on 1 rank, block Jacobi + ILU(0) on more), "
             "`-ksp_rtol 1e-13` (ground-truth accuracy, the default), nonzero initial guess (the previous time "
             "step)%s." % ((", extra options " + " ".join(args.extra)) if args.extra else ""))
    L.append("* Times are the solver's own `wall_time` (root attribute and `/history/wall_time`: no start-up, no "
             "HDF5 output). Errors: against the closed form on the 99.9% mass region at the saved times "
             "(`error_control_l2`: mass-weighted L2 of u - u*; `error_value_sup`: sup |V - V*|).")
    L.append("* " + bd.load_note([r["load1"] for r in runs], [r["others"] for r in runs]))
    L.append("")
    L.append("### Results")
    L.append("")
    L.append("| grid | nt | ranks | method | time (s) | PI its | eval sweep (s) | lin its/step | updates/s | "
             "assemble / KSPSolve (s) | peak RSS/rank MiB | error u L2 | error V sup | load | others |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(res, key=lambda k: (k[0], k[2], k[3] != args.nt, k[1] != "colehopf", k[3])):
        n, method, ranks, nt = key
        r = res[key]
        its = len(r["iter_wall"])
        sweep = r["iter_wall"][0]
        lin = sum(r["iter_lin"]) / (its * nt) if method == "pi" else sum(r["iter_lin"]) / nt
        ups = n * n * nt / sweep
        L.append(f"| {n}^2 | {nt} | {ranks} | {'PI' if method == 'pi' else 'Cole-Hopf'} | {fmt_t(r['wall_time'])} | "
                 f"{its if method == 'pi' else '-'} | {fmt_t(sweep) if method == 'pi' else '-'} | {lin:.1f} | "
                 f"{ups:.3g} | {ev_time(r, 'HJBAssemble'):.2f} / {ev_time(r, 'KSPSolve'):.2f} | "
                 f"{max(r['rss_kb']) / 1024:.0f} | {r.get('error_control_l2', float('nan')):.3e} | "
                 f"{r.get('error_value_sup', float('nan')):.3e} | {r['load1']:.2f} | {r['others']:.2f} |")
    L.append("")
    L.append("\"eval sweep\" = PI iteration 0 (the pre-trained control u = 0 over the whole horizon, incl. the "
             "per-iteration diagnostics); \"PI its\" = evaluation sweeps until sup |u^{k+1} - u^k| < 1e-7; "
             "updates/s = N^2 nt / (time of one sweep: the whole solve for Cole-Hopf, iteration 0 for PI); "
             "\"others\" = cores' worth of CPU that other processes took during the run.")
    L.append("")
    L.append("### Where the time goes")
    L.append("")
    L.append("`-log_view`, max over ranks, seconds:")
    L.append("")
    L.append("| run | total | HJBAssemble | KSPSolve | of which PCSetUp | PCApply | MatMult | GMRES orthog | "
             "MatILUFactorSym | assemble ns / point / sweep |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(res):
        n, method, ranks, nt = key
        r = res[key]
        sweeps = len(r["iter_wall"])
        ns = 1e9 * ev_time(r, "HJBAssemble") / (n * n * nt * sweeps) * ranks
        L.append(f"| {method} {n}^2 x {nt}, {ranks} rank(s) | {r['wall_time']:.2f} | {ev_time(r, 'HJBAssemble'):.2f} | "
                 f"{ev_time(r, 'KSPSolve'):.2f} | {ev_time(r, 'PCSetUp'):.2f} | {ev_time(r, 'PCApply'):.2f} | "
                 f"{ev_time(r, 'MatMult'):.2f} | {ev_time(r, 'KSPGMRESOrthog'):.2f} | "
                 f"{ev_time(r, 'MatILUFactorSym'):.2f} | {ns:.0f} |")
    L.append("")
    one = [r for k, r in res.items() if k[2] == 1]
    if one:
        share = [ev_time(r, "HJBAssemble") / r["wall_time"] for r in one]
        pcs = [ev_time(r, "PCSetUp") / ev_time(r, "KSPSolve") for r in one]
        pca = [ev_time(r, "PCApply") / ev_time(r, "KSPSolve") for r in one]
        sym = [ev_time(r, "MatILUFactorSym") / r["wall_time"] for r in one]
        L.append("On 1 rank: the assembly (HJBAssemble: the score and drift at every point, the matrix and right-hand "
                 "side) is %.0f-%.0f%% of the solve; in KSPSolve the ILU(0) triangular solves (PCApply) are "
                 "%.0f-%.0f%% and PCSetUp (a fresh ILU(0) every step) %.0f-%.0f%%; the symbolic ILU factorization "
                 "alone is %.1f-%.1f%% of the solve."
                 % (100 * min(share), 100 * max(share), 100 * min(pca), 100 * max(pca), 100 * min(pcs),
                    100 * max(pcs), 100 * min(sym), 100 * max(sym)))
        L.append("")
    if rtol:
        n, a, b, dv = rtol
        la, lb = sum(a["iter_lin"]) / a["nt"], sum(b["iter_lin"]) / b["nt"]
        L.append(f"Cost of accuracy (Cole-Hopf {n}^2 x {a['nt']}, 1 rank, run again): `-ksp_rtol 1e-13` "
                 f"{a['wall_time']:.2f} s, {la:.1f} GMRES its/step; `-ksp_rtol 1e-8` {b['wall_time']:.2f} s, "
                 f"{lb:.1f} its/step ({a['wall_time'] / b['wall_time']:.2f}x faster); sup |V(0) difference| "
                 f"{dv:.1e} (control error {a.get('error_control_l2', float('nan')):.3e} vs "
                 f"{b.get('error_control_l2', float('nan')):.3e}).")
        L.append("")
    L.append("### Targets")
    L.append("")
    L.append("| grid | nt | ranks | full PI (s) | (PI its + 1) x Cole-Hopf (s) | PI <= bound? | error u L2 PI / Cole-Hopf |")
    L.append("|---|---|---|---|---|---|---|")
    for key in sorted(res):
        n, method, ranks, nt = key
        if method != "pi" or (n, "colehopf", ranks, nt) not in res:
            continue
        pi, ch = res[key], res[(n, "colehopf", ranks, nt)]
        its = len(pi["iter_wall"])
        bound = (its + 1) * ch["wall_time"]
        L.append(f"| {n}^2 | {nt} | {ranks} | {fmt_t(pi['wall_time'])} | {its + 1} x {ch['wall_time']:.2f} = "
                 f"{fmt_t(bound)} | {'yes' if pi['wall_time'] <= bound else '**no** (by %.0f%%)' % (100 * (pi['wall_time'] / bound - 1))} | "
                 f"{pi.get('error_control_l2', float('nan')):.3e} / {ch.get('error_control_l2', float('nan')):.3e} |")
    L.append("")
    k257 = (257, "colehopf", 1, 400)
    if k257 in res:
        t = res[k257]["wall_time"]
        t2 = res.get((257, "colehopf", 2, 400), {}).get("wall_time")
        L.append(f"257^2 x 400 Cole-Hopf in seconds: {t:.2f} s on 1 rank" + (f", {t2:.2f} s on 2 ranks" if t2 else "")
                 + (": **met** (< 60 s)." if t < 60 else ": **missed** (>= 60 s)."))
        L.append("")
    sweeps = [(k[0], res[k]["iter_wall"][0] / res[(k[0], "colehopf", k[2], k[3])]["wall_time"])
              for k in sorted(res) if k[1] == "pi" and (k[0], "colehopf", k[2], k[3]) in res]
    if sweeps:
        L.append("One PI evaluation sweep (iteration 0, with its diagnostics) / one Cole-Hopf solve: "
                 + ", ".join("%.2fx at %d^2" % (s, n) for n, s in sweeps) + ".")
        L.append("")
    if len(ranks_list) > 1 and 1 in ranks_list:
        L.append("### Scaling 1 -> %s ranks" % "/".join(str(r) for r in ranks_list if r > 1))
        L.append("")
        L.append("| grid | ranks | Cole-Hopf speedup (efficiency) | full PI speedup (efficiency) | lin its/step CH 1 / R ranks |")
        L.append("|---|---|---|---|---|")
        for n in sizes:
            for R in ranks_list:
                if R == 1 or (n, "colehopf", R, args.nt) not in res:
                    continue
                c1, cr = res[(n, "colehopf", 1, args.nt)], res[(n, "colehopf", R, args.nt)]
                s = c1["wall_time"] / cr["wall_time"]
                p1, pr = res.get((n, "pi", 1, args.nt)), res.get((n, "pi", R, args.nt))
                ps = f"{p1['wall_time'] / pr['wall_time']:.2f} ({100 * p1['wall_time'] / pr['wall_time'] / R:.0f}%)" \
                    if p1 and pr else "-"
                L.append(f"| {n}^2 x {args.nt} | {R} | {s:.2f} ({100 * s / R:.0f}%) | {ps} | "
                         f"{sum(c1['iter_lin']) / c1['nt']:.1f} / {sum(cr['iter_lin']) / cr['nt']:.1f} |")
        L.append("")
        L.append("Block-Jacobi ILU(0) on more ranks needs more GMRES iterations per step (last column), and every "
                 "GMRES(30) iteration ends in reductions over the ranks; with other processes on the cores "
                 "(column \"others\" of the results) a rank that loses its core stalls the other at each of them.")
        L.append("")
    # Memory
    smallest = min(sizes)
    r0 = res[(smallest, "colehopf", 1, args.nt)]
    pred0, _ = memory_model(smallest, r0["nt"], "colehopf", 1, r0["saved"], 1, r0["exact"], 0)
    baseline_kb = max(0, r0["rss_kb"][0] - pred0 / 1024)
    L.append("### Memory per rank")
    L.append("")
    L.append("The solver stores V at every time step (nt+1 vectors; twice for PI: current and previous iterate), "
             "plus at each saved step the mass weight, region mask, exact V and exact u (d components), and for "
             "PI the improved control at the saved steps of every iteration; plus work vectors, GMRES(30)'s "
             "Krylov basis, and three AIJ matrices (A, Aprev, ILU factor). So per rank, with n = points on the "
             "rank (`memory_model` in the script):")
    L.append("")
    L.append("    bytes ~ 8 n [ (nt+1) (2 for PI, 1 otherwise) + saved (2 + 1 + d) + PI its x saved x d + 50 ] "
             "+ 3 x 64 n + baseline")
    L.append("")
    L.append(f"with the process baseline (MPI, PETSc, HDF5) {baseline_kb / 1024:.0f} MiB, measured as the smallest "
             f"Cole-Hopf run's peak RSS minus its model. Peak RSS: `/usr/bin/time -v` around each rank.")
    L.append("")
    L.append("| run | points/rank | solver data (model) | predicted RSS | measured peak RSS | measured / predicted |")
    L.append("|---|---|---|---|---|---|")
    for key in sorted(res):
        n, method, ranks, nt = key
        r = res[key]
        solver, pred = memory_model(n, nt, method, ranks, r["saved"], len(r["iter_wall"]), r["exact"], baseline_kb)
        meas = max(r["rss_kb"]) * 1024
        L.append(f"| {method} {n}^2 x {nt}, {ranks} rank(s) | {local_points(n, ranks)} | {solver / 2**20:.0f} MiB | "
                 f"{pred / 2**20:.0f} MiB | {meas / 2**20:.0f} MiB | {meas / pred:.2f} |")
    L.append("")
    return L


if __name__ == "__main__":
    main()
