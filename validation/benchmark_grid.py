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

    /usr/bin/python3 validation/benchmark_grid.py                 # 129, 257, 513 x 400 steps
    /usr/bin/python3 validation/benchmark_grid.py --quick         # tiny sizes, seconds
    /usr/bin/python3 validation/benchmark_grid.py --sizes 129,257 --nt 200 --ranks 1

Timings are only meaningful on a quiet machine: before every run the script
waits (up to --wait seconds) for the 1-minute load average to fall below
--max-load and records the load it saw.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
EVENTS = ("HJBAssemble", "KSPSolve", "PCSetUp", "MatMult", "KSPGMRESOrthog")


def find_binary(explicit):
    if explicit:
        return explicit
    for b in ("build-bench", "build"):
        for sub in ("hjbft", "src/hjbft", "bin/hjbft"):
            p = os.path.join(ROOT, b, sub)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    sys.exit("benchmark_grid: no hjbft binary found; build one (Release) and pass --hjbft")


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(max_load, max_wait):
    t0 = time.time()
    while True:
        l = load1()
        if l < max_load or time.time() - t0 >= max_wait:
            return l, time.time() - t0
        time.sleep(10)


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
    load, waited = wait_quiet(args.max_load, args.wait)
    env = dict(os.environ, **MPI_ENV)
    t0 = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=workdir,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:  # interrupted: stop the solve (and its mpiexec) we started
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise
    p = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    elapsed = time.time() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        sys.exit(f"benchmark_grid: run {tag} failed (exit {p.returncode}): {' '.join(cmd)}")
    r = {"n": n, "nt": nt, "method": method, "ranks": ranks, "extra": extra, "load1": load,
         "waited_s": round(waited), "process_elapsed": elapsed}
    with h5py.File(out, "r") as f:
        r["wall_time"] = float(f.attrs["wall_time"])
        h = f["history"]
        r["iter_wall"] = [float(x) for x in h["wall_time"][()]]
        r["iter_lin"] = [int(x) for x in h["linear_iterations"][()]]
        r["exact"] = "exact_solution" in f.attrs
        r["saved"] = int(f["time"].shape[0])
        r["V0"] = np.array(f["value"][0]) if args.keep_value else None
        if "error_value_sup" in f.attrs:
            r["error_value_sup"] = float(f.attrs["error_value_sup"])
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="129,257,513", help="points per axis, comma separated")
    ap.add_argument("--nt", type=int, default=400, help="time steps")
    ap.add_argument("--pi-nt", default="", help="per-size override of nt for PI, e.g. 513:100 (stated in the table)")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--pi-ranks", default="", help="rank counts for which PI runs (default: all of --ranks)")
    ap.add_argument("--multi-rank-sizes", default="", help="sizes run on more than 1 rank (default: all)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (33, 65) and 40 steps: a smoke test")
    ap.add_argument("--hjbft", default="", help="the hjbft binary (default: build-bench/ or build/)")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                    help="further options for every solve (problem, -ksp_*, ...); must come last")
    ap.add_argument("--max-load", type=float, default=1.0, help="wait for the 1-min load average to fall below this")
    ap.add_argument("--wait", type=float, default=120, help="longest wait for a quiet machine per run (s)")
    ap.add_argument("--no-rtol-check", action="store_true", help="skip the -ksp_rtol 1e-8 comparison")
    ap.add_argument("--json", default="", help="also write all measurements here")
    ap.add_argument("--workdir", default="", help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("benchmark_grid: terminated"))
    args.keep_value = False
    if args.quick:
        args.sizes, args.nt = "33,65", 40
    sizes = [int(s) for s in args.sizes.split(",") if s]
    ranks_list = [int(s) for s in args.ranks.split(",") if s]
    pi_ranks = [int(s) for s in args.pi_ranks.split(",") if s] or ranks_list
    mr_sizes = [int(s) for s in args.multi_rank_sizes.split(",") if s] or sizes
    pi_nt = {int(a): int(b) for a, b in (x.split(":") for x in args.pi_nt.split(",") if x)}
    binary = os.path.abspath(find_binary(args.hjbft))
    workdir = args.workdir or tempfile.mkdtemp(prefix="hjbft-bench-")
    os.makedirs(workdir, exist_ok=True)

    print(f"# hjbft grid benchmark: {binary}")
    print(f"# sizes {sizes}, nt {args.nt}, PI nt overrides {pi_nt or 'none'}, ranks {ranks_list}, extra {args.extra}")
    print(f"# {os.cpu_count()} CPUs; load at start {load1():.2f}", flush=True)

    res = {}
    t_start = time.time()
    for n in sizes:
        for ranks in ranks_list:
            if ranks > 1 and n not in mr_sizes:
                continue
            for method in ("colehopf", "pi"):
                if method == "pi" and ranks not in pi_ranks:
                    continue
                nt = pi_nt.get(n, args.nt) if method == "pi" else args.nt
                tag = f"{method}_{n}_{nt}_r{ranks}"
                r = run_solve(args, binary, n, nt, method, ranks, [], tag, workdir)
                res[(n, method, ranks)] = r
                if args.json:
                    with open(args.json + ".partial", "w") as f:
                        json.dump([{k: v for k, v in x.items() if k != "V0"} for x in res.values()], f)
                print(f"  {tag}: {r['wall_time']:.2f}s solve, {len(r['iter_wall'])} iteration(s), "
                      f"rss/rank {[round(k / 1024) for k in r['rss_kb']]} MiB, load {r['load1']:.2f}"
                      f" (+{time.time() - t_start:.0f}s)", flush=True)

    rtol = None
    if not args.no_rtol_check:
        n = 257 if 257 in sizes else sizes[len(sizes) // 2]
        args.keep_value = True
        a = run_solve(args, binary, n, args.nt, "colehopf", 1, [], f"rtol13_{n}", workdir)
        b = run_solve(args, binary, n, args.nt, "colehopf", 1, ["-ksp_rtol", "1e-8"], f"rtol8_{n}", workdir)
        args.keep_value = False
        rtol = (n, a, b, float(np.max(np.abs(a["V0"] - b["V0"]))))

    # Baseline RSS of the process: the smallest run's RSS minus its modelled solver memory.
    smallest = min(sizes)
    r0 = res[(smallest, "colehopf", 1)]
    pred0, _ = memory_model(smallest, r0["nt"], "colehopf", 1, r0["saved"], 1, r0["exact"], 0)
    baseline_kb = max(0, r0["rss_kb"][0] - pred0 / 1024)

    # ---- tables ----
    print()
    print(f"Machine: {os.cpu_count()} CPUs. All times in seconds (solver wall_time, without start-up and output).")
    print("PETSc: GMRES(30), default PC (ILU(0) on 1 rank, block Jacobi + ILU(0) on 2), -ksp_rtol 1e-13, "
          "nonzero initial guess (previous step)." + (f" Extra: {' '.join(args.extra)}" if args.extra else ""))
    print()
    hdr = ("| grid | nt | ranks | eval sweep (s) | full PI (s) | PI its | Cole-Hopf (s) | lin its/step CH / PI"
           " | updates/s (sweep) | updates/s (CH) | CH assemble / KSPSolve (s) | peak RSS/rank MiB CH / PI | load |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for n in sizes:
        for ranks in ranks_list:
            ch, pi = res.get((n, "colehopf", ranks)), res.get((n, "pi", ranks))
            if not ch:
                continue
            nt_ch = ch["nt"]
            li_ch = sum(ch["iter_lin"]) / nt_ch
            ups_ch = n * n * nt_ch / ch["wall_time"]
            ev = ch["events"]
            asm = ev.get("HJBAssemble", {}).get("time", float("nan"))
            ksp = ev.get("KSPSolve", {}).get("time", float("nan"))
            if pi:
                sweep, its, nt_pi = pi["iter_wall"][0], len(pi["iter_wall"]), pi["nt"]
                li_pi = sum(pi["iter_lin"]) / (its * nt_pi)
                pint = f"{nt_pi}" if nt_pi == nt_ch else f"{nt_ch} (PI: {nt_pi})"
                pcells = (f"{fmt_t(sweep)} | {fmt_t(pi['wall_time'])} | {its}", f"{li_pi:.1f}",
                          f"{n * n * nt_pi / sweep:.3g}", f"{max(pi['rss_kb']) / 1024:.0f}")
                load = max(ch["load1"], pi["load1"])
            else:
                pint, pcells, load = f"{nt_ch}", ("- | - | -", "-", "-", "-"), ch["load1"]
            print(f"| {n}^2 | {pint} | {ranks} | {pcells[0]} | {fmt_t(ch['wall_time'])} | {li_ch:.1f} / {pcells[1]} | "
                  f"{pcells[2]} | {ups_ch:.3g} | {asm:.2f} / {ksp:.2f} | {max(ch['rss_kb']) / 1024:.0f} / {pcells[3]} | "
                  f"{load:.2f} |")

    print()
    print("Where the time goes (-log_view, max over ranks, seconds):")
    print()
    print("| run | total | HJBAssemble | KSPSolve | of which PCSetUp | MatMult | GMRES orthog |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        for ranks in ranks_list:
            for method in ("colehopf", "pi"):
                r = res.get((n, method, ranks))
                if not r:
                    continue
                ev = r["events"]
                g = lambda k: ev.get(k, {}).get("time", float("nan"))
                print(f"| {method} {n}^2 x {r['nt']}, {ranks} rank(s) | {r['wall_time']:.2f} | {g('HJBAssemble'):.2f} | "
                      f"{g('KSPSolve'):.2f} | {g('PCSetUp'):.2f} | {g('MatMult'):.2f} | {g('KSPGMRESOrthog'):.2f} |")

    if len(ranks_list) > 1 and 1 in ranks_list:
        print()
        print("Strong scaling 1 -> R ranks (speedup = T1 / TR, efficiency = speedup / R):")
        print()
        print("| grid | R | eval sweep speedup (eff.) | full PI speedup (eff.) | Cole-Hopf speedup (eff.) |")
        print("|---|---|---|---|---|")
        for n in sizes:
            for R in ranks_list:
                if R == 1:
                    continue
                cells = []
                for key in ("sweep", "pi", "colehopf"):
                    if (n, "colehopf" if key == "colehopf" else "pi", 1) not in res or \
                            (n, "colehopf" if key == "colehopf" else "pi", R) not in res:
                        cells.append("-")
                        continue
                    if key == "sweep":
                        t1, tr = res[(n, "pi", 1)]["iter_wall"][0], res[(n, "pi", R)]["iter_wall"][0]
                    else:
                        t1, tr = res[(n, key, 1)]["wall_time"], res[(n, key, R)]["wall_time"]
                    s = t1 / tr
                    cells.append(f"{s:.2f} ({100 * s / R:.0f}%)")
                if any(c != "-" for c in cells):
                    print(f"| {n}^2 | {R} | " + " | ".join(cells) + " |")

    print()
    print("Targets (issue 3):")
    print()
    print("| grid | ranks | full PI (s) | (PI its + 1) x Cole-Hopf (s) | PI <= bound? |")
    print("|---|---|---|---|---|")
    for n in sizes:
        for ranks in ranks_list:
            ch, pi = res.get((n, "colehopf", ranks)), res.get((n, "pi", ranks))
            if not ch or not pi:
                continue
            its = len(pi["iter_wall"])
            scale = pi["nt"] / ch["nt"]  # PI run with fewer steps: compare with Cole-Hopf scaled to its nt
            bound = (its + 1) * ch["wall_time"] * scale
            note = "" if scale == 1 else f" (Cole-Hopf scaled to PI's {pi['nt']} steps)"
            print(f"| {n}^2 | {ranks} | {pi['wall_time']:.2f} | {bound:.2f}{note} | "
                  f"{'yes' if pi['wall_time'] <= bound else 'NO'} |")
    if (257, "colehopf", 1) in res and args.nt == 400:
        t = res[(257, "colehopf", 1)]["wall_time"]
        t2 = res.get((257, "colehopf", 2), {}).get("wall_time", float("nan"))
        print()
        print(f"257^2 x 400 Cole-Hopf: {t:.2f}s on 1 rank, {t2:.2f}s on 2 ranks: "
              f"{'in seconds (< 60 s): met' if t < 60 else 'NOT in seconds: missed'}")

    if rtol:
        n, a, b, dv = rtol
        la, lb = sum(a["iter_lin"]) / a["nt"], sum(b["iter_lin"]) / b["nt"]
        print()
        print(f"Cost of accuracy (Cole-Hopf {n}^2 x {a['nt']}, 1 rank): -ksp_rtol 1e-13 {a['wall_time']:.2f}s, "
              f"{la:.1f} its/step; -ksp_rtol 1e-8 {b['wall_time']:.2f}s, {lb:.1f} its/step "
              f"({a['wall_time'] / b['wall_time']:.2f}x); sup |V(0) difference| {dv:.2e}")

    print()
    print(f"Memory per rank: model (MiB of solver data + process baseline {baseline_kb / 1024:.0f} MiB, "
          f"measured on the smallest Cole-Hopf run) vs measured peak RSS of the largest rank:")
    print()
    print("| run | points/rank | solver data (model) | predicted RSS | measured RSS | measured / predicted |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        for ranks in ranks_list:
            for method in ("colehopf", "pi"):
                r = res.get((n, method, ranks))
                if not r:
                    continue
                solver, pred = memory_model(n, r["nt"], method, ranks, r["saved"], len(r["iter_wall"]), r["exact"],
                                            baseline_kb)
                meas = max(r["rss_kb"]) * 1024
                print(f"| {method} {n}^2 x {r['nt']}, {ranks} rank(s) | {local_points(n, ranks)} | "
                      f"{solver / 2**20:.0f} MiB | {pred / 2**20:.0f} MiB | {meas / 2**20:.0f} MiB | {meas / pred:.2f} |")
    print()
    print(f"# total benchmark time {time.time() - t_start:.0f}s; load at end {load1():.2f}")

    if args.json:
        def clean(r):
            return {k: v for k, v in r.items() if k != "V0"}
        with open(args.json, "w") as f:
            json.dump({"runs": [clean(r) for r in res.values()],
                       "rtol": None if not rtol else {"n": rtol[0], "tight": clean(rtol[1]), "loose": clean(rtol[2]),
                                                      "sup_dV0": rtol[3]}}, f, indent=1)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
