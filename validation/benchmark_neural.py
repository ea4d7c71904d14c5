#!/usr/bin/python3
"""Neural PI-FT: hjbft against a plain PyTorch implementation (issue 5, "Performance").

For each problem it runs `hjbft exact` on the output grid (the reference V*, u*), then, interleaved,
--reps times each (hjbft, PyTorch, hjbft, PyTorch, ...):
  * `hjbft neural` on 1 MPI rank;
  * validation/pytorch_pift.py (the same algorithm in PyTorch, float64, CPU) with 1 thread
    (torch.set_num_threads(1), OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1; both sides get these),
all with the same hyper-parameters, and reports per run: the median wall time per outer iteration
(and its parts: simulate, fit value, fit control, measure), the CPU time per iteration, the control
error error_control_l2 (L2 weighted by the fine-tuned marginal, against the closed form, on the same
grid) after each iteration, and the wall time until that error first falls below a threshold every
run reaches (1.2 x the worst final error); then the ratio PyTorch / hjbft of each interleaved pair,
median and min-max over the pairs.  Optional extra rows (once each): hjbft on 2 ranks (--ranks 1,2),
PyTorch with more threads (--threads 1,2), other hjbft builds (--extra-hjbft).
The error function of pytorch_pift.py is checked first: applied to hjbft's final /control it must
reproduce hjbft's last error_control_l2 to 1e-6.  It reports the BLAS each side used (PyTorch: the
libraries mapped into its process; hjbft: Eigen's own kernels and the instruction set of the binary),
with perf installed profiles one outer iteration of each, and writes section "Neural PI-FT vs PyTorch"
of docs/performance.md (validation/bench_doc.py; not with --quick unless --doc is given).

    /usr/bin/python3 validation/benchmark_neural.py --hjbft build/hjbft            # about 10 minutes
    /usr/bin/python3 validation/benchmark_neural.py --hjbft build/hjbft --quick    # smoke test, ~1 minute

Timings are meaningful only on a quiet machine: every run waits (up to --wait s) for the 1-minute load
average to fall below --max-load, and records the load before it and the CPU other processes took
during it.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

import bench_doc as bd
import vcommon
from vcommon import MPI_ENV, ROOT

PYTORCH = os.path.join(ROOT, "validation", "pytorch_pift.py")
SECTION = "## Neural PI-FT vs PyTorch"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

# Problems: hjbft problem options and the same problem for pytorch_pift.py.
PROBLEMS = [
    {"name": "1-D default",
     "desc": "d = 1, default problem: modes -2, +2 (weights 0.5, variance 0.25), quadratic reward "
             "r = -1/2 (x - 1)^2, beta = 1; output grid 201 points, 11 saved times",
     "hjbft": [],
     "torch": ["--dim", "1"]},
    {"name": "2-D 4 modes, linear",
     "desc": "d = 2, 4 modes at (+-2, +-2) (weights 0.25, variance 0.25), linear reward r = x0 + 0.5 x1, "
             "beta = 1; output grid 65 x 65, 11 saved times",
     "hjbft": ["-dim", "2", "-target_weights", "0.25,0.25,0.25,0.25", "-target_means", "-2,-2,2,-2,-2,2,2,2",
               "-target_vars", "0.25", "-reward", "linear", "-reward_vector", "1,0.5"],
     "torch": ["--dim", "2", "--target-weights", "0.25,0.25,0.25,0.25", "--target-means=-2,-2,2,-2,-2,2,2,2",
               "--target-vars", "0.25", "--reward", "linear", "--reward-vector", "1,0.5"]},
]

# Hyper-parameters: hjbft neural's defaults (-neural_*), and a tiny set for --quick.
FULL = {"outer": 8, "paths": 4096, "steps": 100, "td_refresh": 100, "value_hidden": "32,32",
        "control_hidden": "32,32", "time_freq": 2, "value_steps": 1500, "control_steps": 800, "batch": 1024,
        "lr": 3e-3, "lr_min_ratio": 0.1, "seed": 1}
QUICK = dict(FULL, outer=2, paths=512, steps=20, value_steps=100, control_steps=60, batch=256, td_refresh=25)


def hjbft_hyper(h):
    return ["-neural_outer", str(h["outer"]), "-neural_paths", str(h["paths"]), "-neural_steps", str(h["steps"]),
            "-neural_evaluation", "td", "-neural_td_refresh", str(h["td_refresh"]),
            "-neural_value_hidden", h["value_hidden"], "-neural_control_hidden", h["control_hidden"],
            "-neural_activation", "tanh", "-neural_time_freq", str(h["time_freq"]),
            "-neural_value_steps", str(h["value_steps"]), "-neural_control_steps", str(h["control_steps"]),
            "-neural_batch", str(h["batch"]), "-neural_lr", str(h["lr"]), "-neural_lr_schedule", "cosine",
            "-neural_lr_min_ratio", str(h["lr_min_ratio"]), "-seed", str(h["seed"]), "-init", "gaussian",
            "-neural_reference", "exact"]


def torch_hyper(h):
    return ["--outer", str(h["outer"]), "--paths", str(h["paths"]), "--steps", str(h["steps"]),
            "--td-refresh", str(h["td_refresh"]), "--value-hidden", h["value_hidden"],
            "--control-hidden", h["control_hidden"], "--time-freq", str(h["time_freq"]),
            "--value-steps", str(h["value_steps"]), "--control-steps", str(h["control_steps"]),
            "--batch", str(h["batch"]), "--lr", str(h["lr"]), "--lr-min-ratio", str(h["lr_min_ratio"]),
            "--seed", str(h["seed"])]



def run(cmd, args, log, env=None):
    """Runs cmd (after waiting for a quieter machine); returns {load before, load after, CPU seconds of the
    process and its children, wall seconds, cores other processes used meanwhile}."""
    with bd.Measured(args) as m:
        with open(log, "w") as f:
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})),
                               cwd=os.path.dirname(log))
    if p.returncode != 0:
        sys.stdout.write(open(log).read()[-3000:])
        sys.exit("benchmark_neural: failed (%d): %s" % (p.returncode, " ".join(cmd)))
    return {"load0": m.load, "load1": bd.loadavg()[0], "cpu": m.cpu, "wall": m.wall, "others": m.others}


def hjbft_history(path):
    with h5py.File(path, "r") as f:
        return {k: [float(v) for v in f["history"][k][()]] for k in f["history"]}


def summarize(label, hist, r):
    """Per-run numbers from a history with wall_time, time_* and error_control_l2."""
    n = len(hist["wall_time"])
    train = [hist["time_simulate"][k] + hist["time_fit_value"][k] + hist["time_fit_control"][k] for k in range(n)]
    return {"label": label, "iters": n, "wall": statistics.median(hist["wall_time"]),
            "train": statistics.median(train),
            "sim": statistics.median(hist["time_simulate"]), "fitv": statistics.median(hist["time_fit_value"]),
            "fitu": statistics.median(hist["time_fit_control"]), "meas": statistics.median(hist["time_measure"]),
            "cpu": r["cpu"] / n, "errors": hist["error_control_l2"], "cum": list(np.cumsum(hist["wall_time"])),
            "final": hist["error_control_l2"][-1], "loads": (r["load0"], r["load1"]), "others": r["others"],
            "total": sum(hist["wall_time"]), "process_wall": r["wall"]}


def time_to(s, thr):
    for k, e in enumerate(s["errors"]):
        if e <= thr:
            return k, s["cum"][k]
    return None, None


def hjbft_blas(binary):
    """The BLAS/LAPACK libraries the hjbft binary links (through PETSc), resolved through the alternatives."""
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    except OSError:
        return []
    libs = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m and re.match(r"lib(blas|lapack|openblas)", m.group(1)):
            libs.append("%s -> %s" % (m.group(1), os.path.realpath(m.group(2))))
    return libs


def eigen_version():
    try:
        txt = open("/usr/include/eigen3/Eigen/src/Core/util/Macros.h").read()
        v = [re.search(r"#define EIGEN_%s_VERSION (\d+)" % k, txt).group(1) for k in ("WORLD", "MAJOR", "MINOR")]
        return ".".join(v)
    except (OSError, AttributeError):
        return "?"


def torch_version():
    try:
        out = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True).stdout.strip()
        return out or "?"
    except OSError:
        return "?"


def perf_profile(binary, problem, hyper, workdir, args):
    """Top symbols of one 1-rank outer iteration of hjbft neural (perf record)."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(workdir, "perf.data")
    h = dict(hyper, outer=1)
    cmd = ["perf", "record", "-q", "-o", data, binary, "neural"] + problem["hjbft"] + hjbft_hyper(h) + [
        "-o", os.path.join(workdir, "perf.h5")]
    try:
        run(cmd, args, os.path.join(workdir, "perf.log"), dict(MPI_ENV, **ONE_THREAD))
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio"],
                             capture_output=True, text=True).stdout
    except SystemExit:
        return None
    rows = []
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+\[[.k]\]\s+(.*?)\s*$", line)
        if m:
            sym = re.split(r"\s{2,}", m.group(2).strip())[0]  # drop perf's padding and trailing columns
            sym = sym.replace("(anonymous namespace)", "{anon}")
            sym = re.sub(r"<[^<>]*>", "<>", sym)
            sym = re.sub(r"<[^<>]*>", "<>", sym)
            sym = re.sub(r"\(.*\)", "()", sym)
            rows.append((float(m.group(1)), sym.strip()[:90]))
    return rows[:12]


def perf_profile_torch(py, problem, hyper, exact, workdir, args):
    """Shares of PyTorch's time by shared object (perf record, one shortened outer iteration)."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(workdir, "perf_torch.data")
    h = dict(hyper, outer=1, value_steps=max(1, hyper["value_steps"] // 5),
             control_steps=max(1, hyper["control_steps"] // 5))
    cmd = ["perf", "record", "-q", "-o", data, py, PYTORCH] + problem["torch"] + torch_hyper(h) + [
        "--threads", "1", "--reference", exact]
    try:
        run(cmd, args, os.path.join(workdir, "perf_torch.log"), ONE_THREAD)
        rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso", "--stdio"],
                             capture_output=True, text=True).stdout
    except SystemExit:
        return None
    rows = []
    for line in rep.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            rows.append((float(m.group(1)), m.group(2)))
    return rows[:8]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", help="hjbft executable (default: build-bench/hjbft or build/hjbft)")
    ap.add_argument("--quick", action="store_true", help="tiny hyper-parameters, 2 repetitions: a smoke test")
    ap.add_argument("--problems", default="", help="comma-separated indices into the problem list (default all)")
    ap.add_argument("--reps", type=int, default=0, help="interleaved repetitions of hjbft 1 rank and PyTorch 1 "
                    "thread (default 3; 2 with --quick)")
    ap.add_argument("--threads", default="1", help="torch.set_num_threads values; values above 1 add one run each")
    ap.add_argument("--multi-thread-outer", type=int, default=2,
                    help="outer iterations of the PyTorch runs with more than one thread")
    ap.add_argument("--ranks", default="1", help="MPI ranks of hjbft; values above 1 add one run each")
    ap.add_argument("--extra-hjbft", action="append", default=[], metavar="LABEL=PATH",
                    help="also run this hjbft executable once on 1 rank (e.g. a portable build); repeatable")
    ap.add_argument("--seeds", default="", help="also run hjbft (1 rank) and PyTorch (1 thread) on the first "
                    "problem with these seeds (comma-separated): the seed-to-seed scatter of the final error")
    ap.add_argument("--no-perf", action="store_true", help="skip the perf profiles")
    ap.add_argument("--workdir", help="keep the runs here (default: a temporary directory, removed)")
    ap.add_argument("--json", help="write all measurements here")
    bd.add_doc_options(ap)
    ap.add_argument("--report-only", metavar="JSON", help="only rewrite the report from a --json file of a run")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-minute load to fall below this")
    ap.add_argument("--wait", type=float, default=120, help="... for at most this many seconds per run")
    args = ap.parse_args()
    doc = bd.doc_path(args)
    if args.report_only:
        with open(args.report_only) as f:
            saved = json.load(f)
        saved["generated"] += (" Report text rewritten from that run's measurements (`--report-only`) at %s."
                               % vcommon.provenance())
        text = report(saved)
        print(text)
        if doc:
            bd.write_section(doc, SECTION, text)
        return 0
    binary = bd.find_binary(args.hjbft)
    hyper = QUICK if args.quick else FULL
    reps = args.reps or (2 if args.quick else 3)
    problems = PROBLEMS if not args.problems else [PROBLEMS[int(i)] for i in args.problems.split(",")]
    threads = [int(t) for t in args.threads.split(",") if t]
    ranks = [int(r) for r in args.ranks.split(",") if r]
    extras = [(e.split("=", 1)[0], os.path.abspath(e.split("=", 1)[1])) for e in args.extra_hjbft]
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_neural_")
    os.makedirs(workdir, exist_ok=True)
    py = "/usr/bin/python3"
    mpiexec = shutil.which("mpiexec")
    hj_env = dict(MPI_ENV, **ONE_THREAD)
    t_start = time.time()
    results = []
    torch_blas = None

    def run_hjbft(label, exe, r, h, tag, d, exact_extra=()):
        out = os.path.join(d, tag + ".h5")
        cmd = [exe, "neural"] + prob["hjbft"] + hjbft_hyper(h) + ["-o", out]
        if r > 1:
            cmd = [mpiexec, "-n", str(r)] + cmd
        info = run(cmd, args, os.path.join(d, tag + ".log"), hj_env)
        s = summarize(label, hjbft_history(out), info)
        s["exe"], s["ranks"] = exe, r
        print("  %-22s %6.2f s/iter (train %6.2f)  final error %.4f  load %.2f, others %.2f cores"
              % (s["label"], s["wall"], s["train"], s["final"], info["load0"], info["others"]), flush=True)
        return s, out

    def run_torch(label, th, h, tag, d, exact):
        nonlocal torch_blas
        js = os.path.join(d, tag + ".json")
        cmd = [py, PYTORCH] + prob["torch"] + torch_hyper(h) + ["--threads", str(th), "--reference", exact,
                                                              "--json", js]
        env = ONE_THREAD if th == 1 else {"OMP_NUM_THREADS": str(th), "OPENBLAS_NUM_THREADS": str(th)}
        info = run(cmd, args, os.path.join(d, tag + ".log"), env)
        with open(js) as f:
            saved = json.load(f)
        s = summarize(label, saved["history"], info)
        s["blas"] = saved.get("blas")
        if th == 1 and torch_blas is None:
            torch_blas = s["blas"]
        print("  %-22s %6.2f s/iter (train %6.2f)  final error %.4f  load %.2f, others %.2f cores"
              % (s["label"], s["wall"], s["train"], s["final"], info["load0"], info["others"]), flush=True)
        return s

    for pi, prob in enumerate(problems):
        print("== %s: %s" % (prob["name"], prob["desc"]), flush=True)
        d = os.path.join(workdir, "p%d" % pi)
        os.makedirs(d, exist_ok=True)
        exact = os.path.join(d, "exact.h5")
        run([binary, "exact"] + prob["hjbft"] + ["-o", exact], args, os.path.join(d, "exact.log"), MPI_ENV)
        pairs, rel = [], None
        for rep in range(reps):
            sh, out = run_hjbft("hjbft, 1 rank", binary, 1, hyper, "hjbft_%d" % rep, d)
            if rep == 0:
                # The error function of pytorch_pift.py against hjbft's own measurement.
                chk = subprocess.run([py, PYTORCH] + prob["torch"] + ["--check-error", out, "--reference", exact],
                                     capture_output=True, text=True, env=dict(os.environ, **ONE_THREAD))
                m = re.search(r"relative difference ([0-9.e+-]+)", chk.stdout)
                rel = float(m.group(1)) if m else float("nan")
                print("  error-function check: %s" % chk.stdout.strip(), flush=True)
                if not rel < 1e-6:
                    sys.exit("benchmark_neural: pytorch_pift.py's error does not reproduce hjbft's: " + chk.stdout
                             + chk.stderr)
            st = run_torch("PyTorch, 1 thread", 1, hyper, "torch_%d" % rep, d, exact)
            pairs.append((sh, st))
        others_ = []
        for r in ranks:
            if r > 1 and mpiexec:
                others_.append(run_hjbft("hjbft, %d ranks" % r, binary, r, hyper, "hjbft_r%d" % r, d)[0])
        for lab, path in extras:
            s = run_hjbft("hjbft %s, 1 rank" % lab, path, 1, hyper, "hjbft_" + lab, d)[0]
            s["extra"] = True
            others_.append(s)
        for th in threads:
            if th > 1:
                # Threads waiting for each other on a 2-core machine: a few outer iterations, time per iteration.
                h = dict(hyper, outer=min(hyper["outer"], args.multi_thread_outer))
                s = run_torch("PyTorch, %d threads" % th, th, h, "torch_t%d" % th, d, exact)
                s["partial"] = h["outer"] < hyper["outer"]
                others_.append(s)
        worst = max(s["final"] for pr in pairs for s in pr)
        worst = max([worst] + [s["final"] for s in others_ if not s.get("partial")])
        thr = 1.2 * worst
        for s in [x for pr in pairs for x in pr] + others_:
            s["k_thr"], s["t_thr"] = time_to(s, thr)
        results.append({"problem": prob, "pairs": pairs, "others": others_, "threshold": thr, "check_rel": rel})
    seed_runs = None
    if args.seeds:
        prob, d = problems[0], os.path.join(workdir, "p0")
        exact = os.path.join(d, "exact.h5")
        seed_runs = {"hjbft": {}, "torch": {}}
        for sd in (int(v) for v in args.seeds.split(",")):
            h = dict(hyper, seed=sd)
            seed_runs["hjbft"][sd] = run_hjbft("hjbft seed %d" % sd, binary, 1, h, "seed_%d" % sd, d)[0]["final"]
            seed_runs["torch"][sd] = run_torch("PyTorch seed %d" % sd, 1, h, "seed_%d_torch" % sd, d, exact)["final"]
        seed_runs["hjbft"][hyper["seed"]] = results[0]["pairs"][0][0]["final"]
        seed_runs["torch"][hyper["seed"]] = results[0]["pairs"][0][1]["final"]
    profile = torch_profile = None
    if not args.no_perf:
        profile = perf_profile(binary, problems[0], hyper, workdir, args)
        torch_profile = perf_profile_torch(py, problems[0], hyper, os.path.join(workdir, "p0", "exact.h5"),
                                           workdir, args)
    saved = {"hyper": hyper, "results": results, "profile": profile, "torch_profile": torch_profile,
             "seed_runs": seed_runs, "binary": binary, "build": bd.describe_build(binary),
             "hjbft_blas": hjbft_blas(binary), "eigen": eigen_version(), "torch_version": torch_version(),
             "torch_blas": torch_blas, "machine": bd.machine(), "reps": reps, "quick": args.quick,
             "generated": bd.generated_line(), "minutes": (time.time() - t_start) / 60}
    text = report(saved)
    print()
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(saved, f, indent=1, default=str)
    if doc:
        bd.write_section(doc, SECTION, text)
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def fmt(v, nd=2):
    if v is None:
        return "-"
    return ("%." + str(nd) + "f") % v


def spread(values, nd=2, unit=""):
    """'median (min-max)' of the values, or the one value."""
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    f = "%." + str(nd) + "f"
    if len(v) == 1 or f % min(v) == f % max(v):
        return (f % v[0]) + unit + (" (all %d)" % len(v) if len(v) > 1 else "")
    return (f + "%s (" + f + "-" + f + ")") % (statistics.median(v), unit, min(v), max(v))


def report(saved):
    hyper, results, reps = saved["hyper"], saved["results"], saved["reps"]
    profile, torch_profile, seed_runs = saved["profile"], saved["torch_profile"], saved["seed_runs"]
    tb = saved.get("torch_blas") or {}
    L = []
    L.append("Benchmark of `hjbft neural` (issue 5, \"Performance\") against a straightforward PyTorch "
             "implementation of the same algorithm, `validation/pytorch_pift.py` (float64, CPU, nn.Sequential, "
             "torch.optim.Adam with a LambdaLR cosine schedule, torch.autograd.grad for grad_x V; no compile/jit), "
             "on the same problems with the same hyper-parameters on the same machine, in the same run: "
             "%d interleaved repetitions (hjbft, PyTorch, hjbft, PyTorch, ...), both single-threaded "
             "(hjbft 1 MPI rank; PyTorch torch.set_num_threads(1); both with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1)."
             % reps)
    if saved["quick"]:
        L.append("")
        L.append("**This is a --quick smoke run** (tiny hyper-parameters): its times say nothing about performance.")
    L.append("")
    L.append("* Algorithm (both): continuous mode, eta = 1, TD(0) evaluation with a frozen target network, "
             "V = r + (1 - t/T) N([x; t/T; sin/cos(2 pi j t/T)]), control fit to grad V / beta weighted by "
             "Lambda = g^2 (mean 1), Adam reset at each fit, networks warm-started across outer iterations, "
             "u^0 = 0, paths from N(0, v(T) I). The random numbers differ (different generators), so the two "
             "runs are statistically, not bitwise, the same.")
    L.append("* Hyper-parameters: %d outer iterations, %d paths x %d Euler-Maruyama steps, value and control "
             "nets %s tanh, %d time frequencies, %d value / %d control Adam steps per fit, batch %d, lr %g cosine "
             "to %g x lr, TD refresh every %d steps, seed %d (the same seed in every repetition)."
             % (hyper["outer"], hyper["paths"], hyper["steps"], hyper["value_hidden"].replace(",", "-"),
                hyper["time_freq"], hyper["value_steps"], hyper["control_steps"], hyper["batch"], hyper["lr"],
                hyper["lr_min_ratio"], hyper["td_refresh"], hyper["seed"]))
    L.append("* Control error: `error_control_l2` = sqrt(mean over the 11 saved times of sum_x w |u - u*|^2), "
             "w proportional to p_{T-t}(x) exp(V*(t,x)/beta) normalised over the grid, u* and V* from "
             "`hjbft exact` on the same grid; measured after every outer iteration (the error of u^{k+1}). "
             "pytorch_pift.py's error function reproduces hjbft's own value on hjbft's final control to "
             + ", ".join("%.0e" % r["check_rel"] for r in results) + " (relative; problems in the order below).")
    L.append("* Times: wall seconds per outer iteration from each program's own per-iteration timers (median over "
             "the iterations; \"train\" = simulate + fit value + fit control, without the measurement, which "
             "differs: hjbft's also computes sup errors, the objective gap and the regularity by finite "
             "differences); CPU = user + system seconds of the whole process (start-up included) / iterations. "
             "Time to error = wall time from the start of iteration 0 to the end of the first iteration whose "
             "error is <= the threshold (1.2 x the worst final error of all runs of the problem). Ratios are "
             "PyTorch / hjbft of each interleaved pair (run i of each), median (min-max) over the %d pairs." % reps)
    L.append("* Machine: %s. hjbft %s; its networks use Eigen %s's own GEMM and activation kernels (no "
             "EIGEN_USE_BLAS), compiled for %s; the BLAS it links through PETSc (%s) is not used by the "
             "networks (see its profile below)."
             % (saved["machine"], saved["build"], saved["eigen"], _isa(saved["build"]),
                ", ".join(saved["hjbft_blas"]) or "none"))
    if tb:
        ob = ("%s (core %s, %d thread(s) at the end of the run)" % (tb["openblas_config"], tb.get("openblas_core", "?"),
                                                                    tb.get("openblas_threads", -1))
              if "openblas_config" in tb else "")
        L.append("* PyTorch %s (Debian python3-torch, built with BLAS_INFO=%s: it calls whatever libblas.so.3 "
                 "resolves to). BLAS libraries mapped into the 1-thread PyTorch process (`/proc/self/maps`): %s%s; "
                 "the Debian alternative `/etc/alternatives/libblas.so.3-x86_64-linux-gnu` -> `%s`. The process "
                 "had %d thread(s) at the end of the run (torch threads %d)."
                 % (saved["torch_version"], tb.get("torch_blas_info", "?"),
                    ", ".join("`%s`" % p for p in tb.get("mapped", [])) or "none",
                    ("; " + ob) if ob else "", tb.get("alternative", "?"), tb.get("process_threads", -1),
                    tb.get("torch_threads", -1)))
    runs = [s for r in results for pr in r["pairs"] for s in pr] + [s for r in results for s in r["others"]]
    L.append("* " + bd.load_note([s["loads"][0] for s in runs], [s["others"] for s in runs])
             + " Run time of the whole benchmark: %.1f minutes." % saved["minutes"])
    part = [s for s in runs if s.get("partial")]
    if part:
        L.append("* PyTorch with more than one thread ran only %d outer iteration(s) (`--multi-thread-outer`): its "
                 "row gives the time per iteration only." % part[0]["iters"])
    L.append("")
    summary = []
    for r in results:
        p, pairs, others_ = r["problem"], r["pairs"], r["others"]
        thr = r["threshold"]
        L.append("### %s" % p["name"])
        L.append("")
        L.append(p["desc"] + ".")
        L.append("")
        L.append("| run | wall s/iter | train s/iter | simulate | fit V | fit u | measure | CPU s/iter "
                 "| final error | iters to %.3g | time to %.3g (s) | load before | others (cores) |" % (thr, thr))
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        rows = [("%s #%d" % (s["label"], i + 1), s) for i, pr in enumerate(pairs) for s in pr]
        rows += [(s["label"], s) for s in others_]
        for name, s in rows:
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |"
                     % (name, fmt(s["wall"]), fmt(s["train"]), fmt(s["sim"]), fmt(s["fitv"]), fmt(s["fitu"]),
                        fmt(s["meas"]), fmt(s["cpu"]),
                        ("(%d its only)" % s["iters"]) if s.get("partial") else "%.4f" % s["final"],
                        "-" if s["k_thr"] is None else str(s["k_thr"] + 1), fmt(s["t_thr"], 1),
                        s["loads"][0], s["others"]))
        L.append("")
        L.append("Control error after each outer iteration (repetition 1; the largest difference between "
                 "repetitions of the same program is given after the name):")
        L.append("")
        n = max(len(s["errors"]) for _, s in rows)
        L.append("| run | " + " | ".join("k=%d" % k for k in range(n)) + " |")
        L.append("|---|" + "---|" * n)
        curves = [(pairs[0][0]["label"], [pr[0] for pr in pairs]), (pairs[0][1]["label"], [pr[1] for pr in pairs])]
        curves += [(s["label"], [s]) for s in others_]
        for label, ss in curves:
            dev = max(abs(a - b) for s in ss for a, b in zip(s["errors"], ss[0]["errors"]))
            name = label + ((" (all %d repetitions identical)" % len(ss) if dev == 0 else
                             " (repetitions differ by <= %.1e)" % dev) if len(ss) > 1 else "")
            L.append("| %s | " % name + " | ".join("%.4f" % e for e in ss[0]["errors"])
                     + " |" * (n - len(ss[0]["errors"])) + " |")
        L.append("")
        ratio = lambda key: [t[key] / h[key] if t.get(key) and h.get(key) else None for h, t in pairs]
        rw, rt, rc, rthr = ratio("wall"), ratio("train"), ratio("cpu"), ratio("t_thr")
        L.append("Speed-up of hjbft (PyTorch time / hjbft time, single-threaded, median (min-max) over the %d "
                 "interleaved pairs), with the errors they come with:" % len(pairs))
        L.append("")
        L.append("| comparison | per iteration (wall) | per iteration (train) | per iteration (CPU) | "
                 "to error %.3g (wall) | final error hjbft / PyTorch |" % thr)
        L.append("|---|---|---|---|---|---|")
        L.append("| PyTorch 1 thread / hjbft 1 rank | %s | %s | %s | %s | %s / %s |"
                 % (spread(rw), spread(rt), spread(rc), spread(rthr),
                    spread([h["final"] for h, _ in pairs], 4), spread([t["final"] for _, t in pairs], 4)))
        tmed = statistics.median(t["wall"] for _, t in pairs)
        hmed = statistics.median(h["wall"] for h, _ in pairs)
        for s in others_:
            if s["label"].startswith("hjbft"):
                L.append("| PyTorch 1 thread (median) / %s | %s | | | | %s / |" % (
                    s["label"], fmt(tmed / s["wall"]), "%.4f" % s["final"]))
            else:
                L.append("| %s / hjbft 1 rank (median) | %s | | | | / %s |" % (
                    s["label"], fmt(s["wall"] / hmed), "(partial)" if s.get("partial") else "%.4f" % s["final"]))
        L.append("")
        per_step = ["%s %.2f / %.2f ms" % (lab, 1e3 * statistics.median(s["fitv"] for s in ss) / hyper["value_steps"],
                                           1e3 * statistics.median(s["fitu"] for s in ss) / hyper["control_steps"])
                    for lab, ss in curves]
        L.append("Wall time per Adam step (fit V / fit u, batch %d; median over the runs): %s."
                 % (hyper["batch"], "; ".join(per_step)))
        L.append("")
        summary.append((p["name"], rw, rthr, pairs))
    # Verdict
    L.append("### Target: hjbft at least 3x faster at the same accuracy")
    L.append("")
    lines = []
    met = True
    for name, rw, rthr, pairs in summary:
        mw, mt = statistics.median(rw), statistics.median([x for x in rthr if x] or [0])
        met = met and mw >= 3 and mt >= 3
        lines.append("%s: %s per outer iteration, %s to the error %s (final errors hjbft %s, PyTorch %s)"
                     % (name, spread(rw, unit="x"), spread(rthr, unit="x"),
                        "threshold", spread([h["final"] for h, _ in pairs], 4),
                        spread([t["final"] for _, t in pairs], 4)))
    low = min(min(rw + [x for x in rthr if x]) for _, rw, rthr, _ in summary)
    L.append("Single core, hjbft 1 rank vs PyTorch 1 thread (%s BLAS), PyTorch / hjbft: %s. **%s** (median ratios%s)."
             % (_blas_name(tb), "; ".join(lines), "Met" if met else "Not met",
                "; the smallest single pair is %.2fx" % low))
    L.append("")
    if seed_runs:
        L.append("Seed-to-seed scatter (%s, 1 rank / 1 thread, final error by seed): hjbft %s; PyTorch %s. "
                 "The two implementations use different generators, initial weights and minibatches; the "
                 "\"time to error\" column compares them at the same accuracy."
                 % (results[0]["problem"]["name"],
                    ", ".join("%s: %.4f" % kv for kv in sorted(seed_runs["hjbft"].items(), key=lambda kv: int(kv[0]))),
                    ", ".join("%s: %.4f" % kv for kv in sorted(seed_runs["torch"].items(), key=lambda kv: int(kv[0])))))
        L.append("")
    two = [(r["problem"]["name"], s["wall"] / statistics.median(h["wall"] for h, _ in r["pairs"]))
           for r in results for s in r["others"] if s["label"].startswith("hjbft") and s.get("ranks", 1) > 1]
    if two:
        L.append("hjbft on 2 MPI ranks vs 1 (wall time per iteration, 2 ranks / median of 1 rank): %s. Every Adam "
                 "step (%d + %d per outer iteration) ends with an MPI_Allreduce of the gradient and the loss, with "
                 "~%d pairs per rank per step between reductions." % (
                     ", ".join("%s %.2fx" % t for t in two), hyper["value_steps"], hyper["control_steps"],
                     hyper["batch"] // 2))
        L.append("")
    if profile:
        L.append("Where hjbft's time goes (`perf record`, one 1-rank outer iteration of the first problem; "
                 "self time, top symbols):")
        L.append("")
        L.append("| % | symbol |")
        L.append("|---|---|")
        for pct, sym in profile:
            L.append("| %.1f | `%s` |" % (pct, sym.replace("|", "\\|")))
        L.append("")

        def share(*keys):
            return sum(pct for pct, sym in profile if any(k in sym for k in keys))
        act, gemm = share("activate"), share("gebp_kernel", "gemm_pack", "general_matrix_vector")
        blas = share("dgemm", "openblas", "dgemv")
        L.append("The tanh activation (`activate`) takes %.0f%% and Eigen's GEMM kernels (`gebp_kernel`, "
                 "`gemm_pack_*`) %.0f%% of the profiled self time; BLAS symbols (dgemm/dgemv/OpenBLAS) %.0f%%."
                 % (act, gemm, blas))
        L.append("")
    if torch_profile:
        L.append("PyTorch, for comparison (`perf record`, one outer iteration with 1/5 of the Adam steps, import "
                 "included; by shared object): " + ", ".join("%s %.0f%%" % (d, p) for p, d in torch_profile) + ".")
        L.append("")
    return bd.section_text(SECTION, L, generated=saved["generated"])


def _isa(build):
    m = re.search(r"instructions in the binary: ([^(]*)\(", build)
    return m.group(1).strip() if m else "the compiler's default target"


def _blas_name(tb):
    if tb.get("openblas_config"):
        return "OpenBLAS " + tb["openblas_config"].split()[1]
    return ", ".join(os.path.basename(p) for p in tb.get("mapped", [])) or "unknown"


if __name__ == "__main__":
    sys.exit(main())
