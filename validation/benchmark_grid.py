#!/usr/bin/python3
"""Benchmark of the grid HJB solver at scale (issue 13): methods, preconditioners,
time to accuracy, strong scaling with a scaling model, and a 3-D 129^3 x 200 run.

Every time is printed next to the errors of the same run against the closed form
(sup of V and u on the region holding 99.9% of the reference mass, and the
mass-weighted L2 error of u), and next to the run's own discretization error
estimate (-hjb_tolerance auto).  Problems (both have the GMM closed form):

  2-D: three modes at (-2,1), (0,0), (2,-2), variance 0.25, weights 0.3/0.3/0.4,
       quadratic reward, beta 0.5, box [-8,8]^2 (the problem of issue 13);
  3-D: two modes at (-1.5,0,0), (1.5,0.5,0), variance 0.3, beta 0.5, box [-6,6]^3.

Sections (all in one run, so that every ratio compares runs of the same machine
state; repeated runs give the spread):

  A. methods at 129^2 x 200 (repeated) and 257^2 x 200: the default (Howard,
     -hjb_tolerance auto), Howard and PI with tight tolerances, PI auto,
     Cole-Hopf; with --ref BINARY also the build before issue 13 ("today":
     its default PI and its Howard), for the speed-ups the issue asks for;
  B. preconditioners: ILU(0) (block Jacobi on >1 rank) and geometric MG on
     the DMDA (Galerkin), each rebuilt at every solve and kept for 10 steps
     (the default under auto tolerances), hypre BoomerAMG and GAMG kept for 10
     steps; linear iterations per solve from 129^2 to 1025^2
     (2-D) and 33^3 to 97^3 (3-D), and the fastest per dimension;
  C. time to a mass-weighted L2 control error of 0.1, 0.03, 0.01 per method;
  D. strong scaling 1 -> 2 ranks at 257^2 x 200, 513^2 x 400, 97^3 x 100,
     with the -log_view split of the 2-rank run;
  E. a scaling model from the measured per-point compute, halo volume and
     reduction count, to 16..1024 ranks (assumed network parameters stated);
  F. 3-D 129^3 x 200 with the default method: time, memory, errors.

    /usr/bin/python3 validation/benchmark_grid.py --ref /tmp/ref/hjbft   # ~40 minutes, writes docs/performance.md
    /usr/bin/python3 validation/benchmark_grid.py --quick                # small sizes, a minute, no doc

Timings are only meaningful on a quiet machine: before every run the script
waits (up to --wait seconds) for the 1-minute load to fall below --max-load.
"""
import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile

import h5py

import bench_doc as bd
from vcommon import MPI_ENV

SECTION = "## Grid HJB solver (`hjbft solve`)"
P2 = ["-dim", "2", "-target_weights", "0.3,0.3,0.4", "-target_means", "-2,0,2,1,0,-2", "-target_vars", "0.25",
      "-beta", "0.5", "-grid_lo", "-8", "-grid_hi", "8"]
P3 = ["-dim", "3", "-target_weights", "0.5,0.5", "-target_means", "-1.5,0,0,1.5,0.5,0", "-target_vars", "0.3",
      "-beta", "0.5", "-grid_lo", "-6", "-grid_hi", "6"]
METHODS = {  # label: options (the new build)
    "default (howard, auto)": [],
    "howard, tight": ["-hjb_method", "howard", "-hjb_tolerance", "tight"],
    "pi, tight": ["-hjb_method", "pi", "-hjb_tolerance", "tight"],
    "pi, auto": ["-hjb_method", "pi"],
    "colehopf, auto": ["-hjb_method", "colehopf"],
}
PCS = {  # "kept 10": the default -hjb_pc_refresh under auto tolerances
    "ilu, every solve": ["-pc_type", "ilu", "-hjb_pc_refresh", "1"],
    "ilu, kept 10": ["-pc_type", "ilu"],
    "mg, every solve": ["-pc_type", "mg", "-hjb_pc_refresh", "1"],
    "mg, kept 10": ["-pc_type", "mg"],
    "hypre, kept 10": ["-pc_type", "hypre"],
    "gamg, kept 10": ["-pc_type", "gamg"],
}
PC_RTOL = 1e-10  # section B: the same linear tolerance on every grid
EVENTS = ("KSPSolve", "PCSetUp", "HJBAssemble", "HJBDrift", "MatMult", "VecScatterEnd", "VecNorm", "VecMDot")
ATTRS = ("wall_time", "error_value_sup", "error_control_sup", "error_control_l2", "error_estimate_control_sup",
         "error_estimate_value_sup", "companion_wall_time", "memory_estimate_mib", "peak_rss_mib", "howard_tol",
         "ksp_rtol")


def grid(dim, n):
    g = ["-da_grid_x", str(n), "-da_grid_y", str(n)]
    return g + (["-da_grid_z", str(n)] if dim == 3 else [])


def parse_log_view(text):
    """Main-stage (first occurrence) time, count and message/reduction totals of the events; the run's
    message and reduction totals."""
    ev, tot = {}, {}
    for line in text.splitlines():
        f = line.split()
        if len(f) > 10 and f[0] in EVENTS and f[0] not in ev:
            try:
                ev[f[0]] = {"count": int(f[1]), "time": float(f[3]), "msgs": float(f[7]), "len": float(f[8]),
                            "reduct": float(f[9])}
            except ValueError:
                pass
        # The main stage's summary line: per-rank message count, average message length, reductions.
        m = re.match(r"\s*0:\s+Main Stage:\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s+(\S+)", line)
        if m and not tot:
            tot = {"msgs": float(m.group(1)), "bytes": float(m.group(1)) * float(m.group(2)),
                   "reductions": float(m.group(3))}
    return ev, tot


def run(args, binary, dim, n, nt, opts, ranks=1, tag="run"):
    """One `hjbft solve`; a dict of what it measured, or {"failed": reason}."""
    with tempfile.TemporaryDirectory(dir=args.workdir) as d:
        out, logf = os.path.join(d, "r.h5"), os.path.join(d, "log_view")
        cmd = [binary, "solve"] + (P2 if dim == 2 else P3) + grid(dim, n) + ["-nt", str(nt)] + opts + \
              ["-hjb_monitor", "0", "-o", out, "-log_view", ":" + logf]
        if ranks > 1:
            cmd = ["mpiexec", "-n", str(ranks), "--bind-to", "none"] + cmd
        with bd.Measured(args) as m:
            p = subprocess.run(cmd, env=dict(os.environ, **MPI_ENV), capture_output=True, text=True)
        r = {"tag": tag, "dim": dim, "n": n, "nt": nt, "ranks": ranks, "load": m.load, "others": m.others,
             "elapsed": m.wall}
        if p.returncode != 0:
            err = [l for l in (p.stdout + p.stderr).splitlines() if "hjbft:" in l]
            r["failed"] = (err[0] if err else "exit %d" % p.returncode).replace("hjbft: ", "")
            print("  %-28s %s^%d x %d, %d rank(s): FAILED %s" % (tag, n, dim, nt, ranks, r["failed"]), flush=True)
            return r
        with h5py.File(out, "r") as f:
            for k in ATTRS:
                if k in f.attrs:
                    r[k] = float(f.attrs[k])
            h = f["history"]
            r["lin"] = float(h["linear_iterations"][()].sum())
            r["outer"] = len(h["linear_iterations"][()])
            if "howard_iterations" in h:
                r["howard"] = float(h["howard_iterations"][()][-1])
        r["events"], r["totals"] = parse_log_view(open(logf).read())
    solves = r["events"].get("KSPSolve", {}).get("count", 0)
    r["its_per_solve"] = r["lin"] / solves if solves else float("nan")
    print("  %-28s %s^%d x %d, %d rank(s): %7.2f s  errV %.2e erru %.2e L2u %.2e  its/solve %.2f" % (
        tag, n, dim, nt, ranks, r["wall_time"], r.get("error_value_sup", math.nan), r.get("error_control_sup", math.nan),
        r.get("error_control_l2", math.nan), r["its_per_solve"]), flush=True)
    return r


def spread(ts):
    return "%.2f (%.2f-%.2f)" % (statistics.median(ts), min(ts), max(ts)) if len(ts) > 1 else "%.2f" % ts[0]


def errs(r):
    if "failed" in r:
        return "failed: " + r["failed"][:60], "", "", ""
    est = r.get("error_estimate_control_sup")
    return ("%.2e" % r["error_value_sup"], "%.2e" % r["error_control_sup"], "%.2e" % r["error_control_l2"],
            "%.2e" % est if est else "-")


def section_methods(args, new, ref, L):
    """A: the methods side by side; 129^2 repeated, 257^2 once."""
    L += ["### A. Methods", "",
          "2-D problem, 1 rank.  Time = the solve's wall time (`wall_time`: companions included, set-up and "
          "output not), median and range over %d repeats at 129^2; errors against the closed form on the "
          "99.9%% mass region (sup) and mass-weighted (L2); *estimate*: the run's own estimate of sup|u_h - u| "
          "(auto only)." % args.repeat, "",
          "| grid | method | time s | x faster than today's PI | sup err V | sup err u | L2 err u | estimate u | "
          "lin its | Howard its |", "|---|---|---|---|---|---|---|---|---|---|"]
    configs = [(lab, new, o) for lab, o in METHODS.items()]
    if ref:
        configs = [("today: pi (build before issue 13)", ref, ["-hjb_method", "pi"]),
                   ("today: howard", ref, ["-hjb_method", "howard"])] + configs
    res = {}
    for n, reps in ((args.n_small, args.repeat), (args.n_mid, 1)):
        for k in range(reps):  # interleaved: every repeat sees every configuration
            for lab, b, o in configs:
                res.setdefault((n, lab), []).append(run(args, b, 2, n, 200, o, tag=lab))
        base = res.get((n, "today: pi (build before issue 13)"))
        tbase = statistics.median([r["wall_time"] for r in base]) if base and "failed" not in base[0] else None
        for lab, _, _ in configs:
            rs = res[(n, lab)]
            r = rs[0]
            if "failed" in r:
                L.append("| %d^2 x 200 | %s | failed | | %s | | | | | |" % (n, lab, r["failed"]))
                continue
            ts = [x["wall_time"] for x in rs]
            sp = "%.1f" % (tbase / statistics.median(ts)) if tbase else "-"
            L.append("| %d^2 x 200 | %s | %s | %s | %s | %s | %s | %s | %.0f | %s |" % (
                (n, lab, spread(ts), sp) + errs(r) + (r["lin"], "%.0f" % r["howard"] if "howard" in r else "-")))
    return res


def section_pcs(args, new, L):
    """B: preconditioners per dimension; iterations per solve under refinement."""
    L += ["", "### B. Preconditioners", "",
          "Howard with auto tolerances except a fixed `-ksp_rtol %g` (the automatic one depends on the grid's "
          "error estimate and, near its ceiling 3e-7, lets many solves stop at the extrapolated initial guess: "
          "iteration counts would not compare across grids), 1 rank, GMRES with each preconditioner.  *its/solve*: "
          "linear iterations per linear solve (the KSPSolve count of -log_view, Howard iterations and "
          "companions included)." % PC_RTOL, "",
          "| grid | preconditioner | time s | its/solve | sup err u | L2 err u | PCSetUp s | KSPSolve s |",
          "|---|---|---|---|---|---|---|---|"]
    ladders = {2: args.pc2, 3: args.pc3}
    best = {}
    for dim, ladder in ladders.items():
        growth = {}
        for n, nt in ladder:
            for lab, o in PCS.items():
                if n >= args.only_ilu_above.get(dim, 10 ** 9) and not lab.startswith("ilu"):
                    continue
                r = run(args, new, dim, n, nt, o + ["-ksp_rtol", str(PC_RTOL)], tag="pc " + lab)
                if "failed" in r:
                    L.append("| %d^%d x %d | %s | failed: %s | | | | | |" % (n, dim, nt, lab, r["failed"][:70]))
                    continue
                ev = r["events"]
                L.append("| %d^%d x %d | %s | %.2f | %.2f | %.2e | %.2e | %.2f | %.2f |" % (
                    n, dim, nt, lab, r["wall_time"], r["its_per_solve"], r["error_control_sup"],
                    r["error_control_l2"], ev.get("PCSetUp", {}).get("time", math.nan),
                    ev.get("KSPSolve", {}).get("time", math.nan)))
                growth.setdefault(lab, []).append((n, r["its_per_solve"], r["wall_time"]))
        for lab, g in growth.items():
            if len(g) > 1:
                L.append("")
                L.append("%d-D, %s: its/solve %s over %s: growth %.2fx." % (
                    dim, lab, " -> ".join("%.2f" % x[1] for x in g), " -> ".join("%d" % x[0] for x in g),
                    g[-1][1] / g[0][1]))
        # The fastest on the largest grid that every preconditioner ran.
        common = [n for n, _ in ladder if all(any(x[0] == n for x in g) for g in growth.values())]
        if common:
            n = max(common)
            lab = min(growth, key=lambda k: next(x[2] for x in growth[k] if x[0] == n))
            best[dim] = (lab, n)
            L.append("")
            L.append("**%d-D: fastest at %d^%d: %s.**" % (dim, n, dim, lab))
    return best


def section_accuracy(args, new, L, known):
    """C: time to reach an L2 control error of 0.1, 0.03, 0.01 on a ladder of grids."""
    L += ["", "### C. Time to accuracy", "",
          "The first rung of the ladder %s whose mass-weighted L2 control error is at most the target, and its "
          "time (1 rank)." % ", ".join("%d^2 x %d" % x for x in args.ladder), "",
          "| method | L2 err u <= 0.1 | <= 0.03 | <= 0.01 |", "|---|---|---|---|"]
    for lab in ("default (howard, auto)", "pi, tight", "pi, auto", "colehopf, auto"):
        rungs = []
        for n, nt in args.ladder:
            if lab.startswith("pi") and n > args.pi_max_n:
                break
            r = known.get((n, nt, lab)) or run(args, new, 2, n, nt, METHODS[lab], tag="ladder " + lab)
            if "failed" not in r:
                rungs.append(r)
        cells = []
        for target in (0.1, 0.03, 0.01):
            hit = next((r for r in rungs if r["error_control_l2"] <= target), None)
            cells.append("%.2f s (%d^2 x %d, %.1e)" % (hit["wall_time"], hit["n"], hit["nt"], hit["error_control_l2"])
                         if hit else "not on the ladder")
        L.append("| %s | %s |" % (lab, " | ".join(cells)))


def section_scaling(args, new, L):
    """D and E: 1 -> 2 ranks, the -log_view split, and the model."""
    L += ["", "### D. Strong scaling, 1 -> 2 ranks", "",
          "The default method; speed-up of the solve's wall time.  The 2-rank split: time in the main stage's "
          "KSPSolve (of it PCSetUp), the assembly and the drift, the halo exchange (VecScatterEnd: waiting for "
          "neighbours), and the MPI reductions per time step (norms and GMRES dot products).", "",
          "| grid | 1 rank s | 2 ranks s | speed-up | sup err u (1 / 2) | KSPSolve | PCSetUp | HJBAssemble | HJBDrift | "
          "VecScatterEnd | reductions/step | message bytes/step |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    model_in = []
    for dim, n, nt in args.scaling:
        r1 = run(args, new, dim, n, nt, [], 1, tag="scaling")
        r2 = run(args, new, dim, n, nt, [], 2, tag="scaling")
        if "failed" in r1 or "failed" in r2:
            L.append("| %d^%d x %d | failed | | | | | | | | | | |" % (n, dim, nt))
            continue
        ev = r2["events"]
        t = lambda k: ev.get(k, {}).get("time", math.nan)
        red = r2["totals"].get("reductions", math.nan) / nt
        byts = r2["totals"].get("bytes", math.nan) / nt
        L.append("| %d^%d x %d | %.2f | %.2f | %.2fx | %.2e / %.2e | %.2f | %.2f | %.2f | %.2f | %.3f | %.0f | %.3g |" % (
            n, dim, nt, r1["wall_time"], r2["wall_time"], r1["wall_time"] / r2["wall_time"], r1["error_control_sup"],
            r2["error_control_sup"], t("KSPSolve"), t("PCSetUp"), t("HJBAssemble"), t("HJBDrift"),
            t("VecScatterEnd"), red, byts))
        model_in.append((dim, n, nt, r1, r2, red, byts))
    # E: T(P) = c N nt / P + nt [m alpha + b(P) / beta + R alpha log2 P].
    alpha, beta = args.latency, args.bandwidth
    L += ["", "### E. Scaling model, 16 to 1024 ranks", "",
          "T(P) = c N nt / P + nt [m alpha + b(P) / beta + R alpha log2 P], fitted to the runs of D: c, the "
          "compute time per point and step (1-rank wall time / (N nt)); at 2 ranks each rank has one "
          "neighbour across a face of n^(d-1) points, so the measured messages and bytes per rank and step "
          "give the messages per neighbour and step and the bytes per face point and step; with a d-D "
          "decomposition a rank has 2d neighbours: m = 2d x (messages per neighbour) and b(P) = 2d x (bytes "
          "per face point) x (N/P)^((d-1)/d); R, the reductions per step (measured at 2 ranks: GMRES dot "
          "products and norms, Howard's convergence test; independent of P), each a tree of log2 P stages.  "
          "alpha = %.0g s per message and per reduction stage and beta = %.0g B/s are assumed values of a "
          "cluster interconnect, not measured (this machine has one node).  Not in the model: the growth of "
          "block-Jacobi ILU iterations with P (1 -> 2 ranks is in the its/solve of the runs; for hundreds "
          "of ranks -pc_type mg keeps them bounded)." % (alpha, beta), "",
          "| grid | measured 1 / 2 ranks s | model 1 / 2 | 16 | 64 | 256 | 1024 ranks | efficiency at 1024 |",
          "|---|---|---|---|---|---|---|---|"]
    for dim, n, nt, r1, r2, red, byts in model_in:
        T = scaling_model(dim, n, nt, r1, r2, n, nt, alpha, beta)
        preds = [T(P) for P in (1, 2, 16, 64, 256, 1024)]
        L.append("| %d^%d x %d | %.2f / %.2f | %.3g / %.3g | %s | %.0f%% |" % (
            n, dim, nt, r1["wall_time"], r2["wall_time"], preds[0], preds[1],
            " | ".join("%.3g" % x for x in preds[2:]), 100 * preds[0] / (1024 * preds[-1])))
    for dim, n, nt in args.model_only:
        src = [x for x in model_in if x[0] == dim]
        if not src:
            continue
        _, n0, nt0, r1, r2, _, _ = src[-1]
        T = scaling_model(dim, n0, nt0, r1, r2, n, nt, alpha, beta)
        L.append("| %d^%d x %d (model only, from %d^%d) | | %.3g / %.3g | %s | %.0f%% |" % (
            n, dim, nt, n0, dim, T(1), T(2), " | ".join("%.3g" % T(P) for P in (16, 64, 256, 1024)),
            100 * T(1) / (1024 * T(1024))))


def scaling_model(dim, n0, nt0, r1, r2, n, nt, alpha, beta):
    """T(P) for an n^dim x nt run, from the 1- and 2-rank runs of n0^dim x nt0."""
    N0, N = n0 ** dim, n ** dim
    c = r1["wall_time"] / (N0 * nt0)
    tot = r2["totals"]
    per_neighbour = tot.get("msgs", 0) / nt0          # messages per rank and step, one neighbour
    per_face_point = tot.get("bytes", 0) / nt0 / n0 ** (dim - 1)
    R = tot.get("reductions", 0) / nt0

    def T(P):
        if P == 1:
            return c * N * nt
        m = 2 * dim * per_neighbour if P > 2 else per_neighbour
        b = (2 * dim if P > 2 else 1) * per_face_point * ((N / P) ** ((dim - 1) / dim) if P > 2 else n ** (dim - 1))
        return c * N * nt / P + nt * (m * alpha + b / beta + R * alpha * math.log2(P))
    return T


def section_3d(args, new, L):
    n, nt = args.big3d
    L += ["", "### F. 3-D %d^3 x %d" % (n, nt), ""]
    r = run(args, new, 3, n, nt, [], 1, tag="3-D large")
    if "failed" in r:
        L.append("Failed: %s" % r["failed"])
        return
    L.append("Default method (Howard, auto tolerances, ILU), 1 rank: %.0f s (companions %.0f s), memory estimated "
             "%.0f MiB before the solve, peak resident %.0f MiB; sup error V %.2e, u %.2e on the mass region, L2 "
             "error u %.2e; the run's estimate of sup|u_h - u|: %.2e; %.2f linear iterations per solve, %.0f "
             "Howard iterations (%.2f per step)." % (
                 r["wall_time"], r.get("companion_wall_time", math.nan), r["memory_estimate_mib"], r["peak_rss_mib"],
                 r["error_value_sup"], r["error_control_sup"], r["error_control_l2"],
                 r.get("error_estimate_control_sup", math.nan), r["its_per_solve"], r.get("howard", math.nan),
                 r.get("howard", math.nan) / nt))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hjbft", default=None, help="binary (default: build/hjbft)")
    ap.add_argument("--ref", default=None, help="a build from before issue 13, for the 'today' rows")
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds); no doc unless --doc")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip (A-F)")
    ap.add_argument("--latency", type=float, default=2e-6)
    ap.add_argument("--bandwidth", type=float, default=1e10)
    bd.add_grid_run_options(ap)
    bd.add_doc_options(ap)
    args = ap.parse_args()
    new = os.path.abspath(bd.find_binary(args.hjbft))
    ref = os.path.abspath(args.ref) if args.ref else None
    if args.quick:
        args.n_small, args.n_mid, args.repeat = 33, 65, 1
        args.pc2, args.pc3 = [(33, 40), (65, 40)], [(17, 20)]
        args.only_ilu_above = {}
        args.ladder, args.pi_max_n = [(33, 40), (65, 80)], 65
        args.scaling, args.model_only, args.big3d = [(2, 65, 40)], [(2, 1025, 400)], (17, 20)
    else:
        args.n_small, args.n_mid = 129, 257
        args.pc2, args.pc3 = [(129, 200), (257, 200), (513, 400), (1025, 400)], [(33, 100), (65, 100), (97, 100)]
        args.only_ilu_above = {2: 1025, 3: 97}
        args.ladder, args.pi_max_n = [(65, 100), (129, 200), (257, 200), (513, 400)], 257
        args.scaling, args.model_only, args.big3d = [(2, 257, 200), (2, 513, 400), (3, 97, 100)], \
            [(2, 1025, 400), (3, 129, 200)], (129, 200)
    skip = set(args.skip.split(","))
    L = ["Issue 13's benchmark (`validation/benchmark_grid.py`): %s; %s." % (bd.describe_build(new), bd.machine()),
         ""]
    known = {}
    if "A" not in skip:
        res = section_methods(args, new, ref, L)
        for (n, lab), rs in res.items():
            known[(n, 200, lab)] = rs[0]
    best = {} if "B" in skip else section_pcs(args, new, L)
    if "C" not in skip:
        section_accuracy(args, new, L, known)
    if "D" not in skip:
        section_scaling(args, new, L)
    if "F" not in skip:
        section_3d(args, new, L)
    if best:
        L += ["", "Default preconditioner chosen from B: %s." % "; ".join(
            "%d-D %s (fastest at %d^%d)" % (d, lab, n, d) for d, (lab, n) in sorted(best.items()))]
    text = bd.section_text(SECTION, L)
    print(text)
    path = bd.doc_path(args)
    if path:
        bd.write_section(path, SECTION, text)


if __name__ == "__main__":
    sys.exit(main())
