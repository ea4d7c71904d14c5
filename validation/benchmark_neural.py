#!/usr/bin/python3
"""Neural PI-FT: hjbft against a plain PyTorch implementation (issue 5, "Performance").

For each problem it runs
  * `hjbft exact` on the output grid (the reference V*, u*);
  * `hjbft neural` on 1 MPI rank and on 2 (`mpiexec -n 2`);
  * validation/pytorch_pift.py (the same algorithm in PyTorch, float64, CPU)
    with torch.set_num_threads(1) and (2),
all with the same hyper-parameters, and reports per implementation: the median
wall time per outer iteration (and its parts: simulate, fit value, fit
control, measure), the CPU time per iteration, the control error
error_control_l2 (L2 weighted by the fine-tuned marginal, against the closed
form, on the same grid) after each iteration, and the wall time until that
error first falls below a threshold both reach (1.2 x the worse final error).
The error function of pytorch_pift.py is checked first: applied to hjbft's
final /control it must reproduce hjbft's last error_control_l2 to 1e-6.
With perf installed it also profiles one 1-rank outer iteration of hjbft
(the top symbols), and it writes the tables into docs/performance.md,
section "Neural PI-FT vs PyTorch" (replaced if present, else appended).

    /usr/bin/python3 validation/benchmark_neural.py --hjbft build/hjbft
    /usr/bin/python3 validation/benchmark_neural.py --hjbft build/hjbft --quick    # smoke test, ~1 minute

The machine is shared: every run records the 1-minute load average before and
after it (column "load"); --max-load/--wait make each run wait for a quieter
machine first.
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
PYTORCH = os.path.join(ROOT, "validation", "pytorch_pift.py")
SECTION = "## Neural PI-FT vs PyTorch"

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


def find_binary(explicit):
    if explicit:
        return os.path.abspath(explicit)
    for b in ("build-bench", "build"):
        p = os.path.join(ROOT, b, "hjbft")
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    sys.exit("benchmark_neural: no hjbft binary found; build one (Release) and pass --hjbft")


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def wait_quiet(max_load, max_wait):
    t0 = time.time()
    while loadavg()[0] >= max_load and time.time() - t0 < max_wait:
        time.sleep(10)


def run(cmd, args, log, env=None):
    """Runs cmd; returns (load before, load after, CPU seconds of the children, wall seconds)."""
    wait_quiet(args.max_load, args.wait)
    l0 = loadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    full_env = dict(os.environ, **(env or {}))
    with open(log, "w") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=full_env, cwd=os.path.dirname(log))
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.stdout.write(open(log).read()[-3000:])
        sys.exit("benchmark_neural: failed (%d): %s" % (p.returncode, " ".join(cmd)))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return l0, loadavg()[0], cpu, wall


def hjbft_history(path):
    with h5py.File(path, "r") as f:
        return {k: [float(v) for v in f["history"][k][()]] for k in f["history"]}


def summarize(label, hist, cpu, loads):
    """Per-implementation numbers from a history with wall_time, time_* and error_control_l2."""
    n = len(hist["wall_time"])
    train = [hist["time_simulate"][k] + hist["time_fit_value"][k] + hist["time_fit_control"][k] for k in range(n)]
    return {"label": label, "iters": n, "wall": statistics.median(hist["wall_time"]),
            "train": statistics.median(train),
            "sim": statistics.median(hist["time_simulate"]), "fitv": statistics.median(hist["time_fit_value"]),
            "fitu": statistics.median(hist["time_fit_control"]), "meas": statistics.median(hist["time_measure"]),
            "cpu": cpu / n, "errors": hist["error_control_l2"], "cum": list(np.cumsum(hist["wall_time"])),
            "final": hist["error_control_l2"][-1], "loads": loads, "total": sum(hist["wall_time"])}


def time_to(s, thr):
    for k, e in enumerate(s["errors"]):
        if e <= thr:
            return k, s["cum"][k]
    return None, None


def perf_profile(binary, problem, hyper, workdir, args):
    """Top symbols of one 1-rank outer iteration of hjbft neural (perf record)."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(workdir, "perf.data")
    h = dict(hyper, outer=1)
    cmd = ["perf", "record", "-q", "-o", data, binary, "neural"] + problem["hjbft"] + hjbft_hyper(h) + [
        "-o", os.path.join(workdir, "perf.h5")]
    try:
        run(cmd, args, os.path.join(workdir, "perf.log"))
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
        run(cmd, args, os.path.join(workdir, "perf_torch.log"))
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


def fmt(v, nd=2):
    if v is None:
        return "-"
    return ("%." + str(nd) + "f") % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", help="hjbft executable (default: build-bench/hjbft or build/hjbft)")
    ap.add_argument("--quick", action="store_true", help="tiny hyper-parameters: a smoke test")
    ap.add_argument("--problems", default="", help="comma-separated indices into the problem list (default all)")
    ap.add_argument("--threads", default="1,2", help="torch.set_num_threads values")
    ap.add_argument("--multi-thread-outer", type=int, default=2,
                    help="outer iterations of the PyTorch runs with more than one thread")
    ap.add_argument("--extra-hjbft", action="append", default=[], metavar="LABEL=PATH",
                    help="also run this hjbft executable on 1 rank (e.g. a -march=native build); repeatable")
    ap.add_argument("--seeds", default="", help="also run hjbft (1 rank) and PyTorch (1 thread) on the first "
                    "problem with these seeds (comma-separated): the seed-to-seed scatter of the final error")
    ap.add_argument("--build-note", default="", help="how the hjbft binary was built (for the report)")
    ap.add_argument("--no-mpi", action="store_true", help="skip the 2-rank hjbft run")
    ap.add_argument("--no-perf", action="store_true", help="skip the perf profile")
    ap.add_argument("--workdir", help="keep the runs here (default: a temporary directory, removed)")
    ap.add_argument("--json", help="write all measurements here")
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "performance.md"))
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/performance.md")
    ap.add_argument("--report-only", metavar="JSON", help="only rewrite the report from a --json file of a run")
    ap.add_argument("--max-load", type=float, default=1.5, help="wait for the 1-minute load to fall below this")
    ap.add_argument("--wait", type=float, default=0, help="... for at most this many seconds per run")
    args = ap.parse_args()
    if args.report_only:
        with open(args.report_only) as f:
            saved = json.load(f)
        text = report(saved["results"], saved["hyper"], args, saved["binary"], saved["start"], saved["profile"],
                      saved.get("torch_profile"), saved.get("seed_runs"), args.build_note or saved.get("build_note", ""))
        print(text)
        if not args.no_doc:
            write_doc(args.doc, text)
        return 0
    binary = find_binary(args.hjbft)
    hyper = QUICK if args.quick else FULL
    problems = PROBLEMS if not args.problems else [PROBLEMS[int(i)] for i in args.problems.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    extras = [(e.split("=", 1)[0], os.path.abspath(e.split("=", 1)[1])) for e in args.extra_hjbft]
    workdir = args.workdir or tempfile.mkdtemp(prefix="bench_neural_")
    os.makedirs(workdir, exist_ok=True)
    py = sys.executable or "/usr/bin/python3"
    mpiexec = shutil.which("mpiexec")
    t_start = time.strftime("%Y-%m-%d %H:%M")
    results = []
    for pi, prob in enumerate(problems):
        print("== %s: %s" % (prob["name"], prob["desc"]), flush=True)
        d = os.path.join(workdir, "p%d" % pi)
        os.makedirs(d, exist_ok=True)
        exact = os.path.join(d, "exact.h5")
        run([binary, "exact"] + prob["hjbft"] + ["-o", exact], args, os.path.join(d, "exact.log"))
        impls = []
        # hjbft, 1 rank and 2 ranks
        ranks = [1] if args.no_mpi or not mpiexec else [1, 2]
        runs = [("hjbft, %d rank%s" % (r, "s" if r > 1 else ""), binary, r) for r in ranks]
        runs += [("hjbft %s, 1 rank" % lab, path, 1) for lab, path in extras]
        for ri, (label, exe, r) in enumerate(runs):
            out = os.path.join(d, "neural_%d.h5" % ri)
            cmd = [exe, "neural"] + prob["hjbft"] + hjbft_hyper(hyper) + ["-o", out]
            if r > 1:
                cmd = [mpiexec, "-n", str(r)] + cmd
            l0, l1, cpu, wall = run(cmd, args, os.path.join(d, "neural_%d.log" % ri), MPI_ENV)
            s = summarize(label, hjbft_history(out), cpu, (l0, l1))
            s["extra"] = exe != binary
            s["process_wall"] = wall
            impls.append(s)
            print("  %-20s %6.2f s/iter (train %6.2f)  final error %.3e  load %.1f-%.1f"
                  % (s["label"], s["wall"], s["train"], s["final"], l0, l1), flush=True)
            if ri == 0:
                # The error function of pytorch_pift.py against hjbft's own measurement.
                chk = subprocess.run([py, PYTORCH] + prob["torch"] + ["--check-error", out, "--reference", exact],
                                     capture_output=True, text=True)
                m = re.search(r"relative difference ([0-9.e+-]+)", chk.stdout)
                rel = float(m.group(1)) if m else float("nan")
                print("  error-function check: %s" % chk.stdout.strip(), flush=True)
                if not rel < 1e-6:
                    sys.exit("benchmark_neural: pytorch_pift.py's error does not reproduce hjbft's: " + chk.stdout
                             + chk.stderr)
        # PyTorch, 1 and 2 threads
        for th in threads:
            js = os.path.join(d, "torch_%d.json" % th)
            # More than one thread is much slower on this shared 2-core machine (OpenMP workers waiting
            # for a descheduled partner): only --multi-thread-outer iterations, for the time per iteration.
            h = hyper if th == 1 else dict(hyper, outer=min(hyper["outer"], args.multi_thread_outer))
            cmd = [py, PYTORCH] + prob["torch"] + torch_hyper(h) + ["--threads", str(th), "--reference", exact,
                                                                  "--json", js]
            l0, l1, cpu, wall = run(cmd, args, os.path.join(d, "torch_%d.log" % th))
            with open(js) as f:
                hist = json.load(f)["history"]
            s = summarize("PyTorch, %d thread%s" % (th, "s" if th > 1 else ""), hist, cpu, (l0, l1))
            s["process_wall"] = wall
            s["partial"] = h["outer"] < hyper["outer"]
            impls.append(s)
            print("  %-20s %6.2f s/iter (train %6.2f)  final error %.3e  load %.1f-%.1f"
                  % (s["label"], s["wall"], s["train"], s["final"], l0, l1), flush=True)
        worse = max(s["final"] for s in impls if not s.get("partial"))
        thr = 1.2 * worse
        for s in impls:
            s["k_thr"], s["t_thr"] = time_to(s, thr)
        results.append({"problem": prob, "impls": impls, "threshold": thr, "check_rel": rel})
    seed_runs = None
    if args.seeds:
        prob, d = problems[0], os.path.join(workdir, "p0")
        exact = os.path.join(d, "exact.h5")
        seed_runs = {"hjbft": {}, "torch": {}}
        for sd in (int(v) for v in args.seeds.split(",")):
            h = dict(hyper, seed=sd)
            out = os.path.join(d, "seed_%d.h5" % sd)
            run([binary, "neural"] + prob["hjbft"] + hjbft_hyper(h) + ["-o", out], args,
                os.path.join(d, "seed_%d.log" % sd))
            seed_runs["hjbft"][sd] = hjbft_history(out)["error_control_l2"][-1]
            js = os.path.join(d, "seed_%d.json" % sd)
            run([py, PYTORCH] + prob["torch"] + torch_hyper(h) + ["--threads", "1", "--reference", exact, "--json",
                                                                js], args, os.path.join(d, "seed_%d_torch.log" % sd))
            with open(js) as f:
                seed_runs["torch"][sd] = json.load(f)["history"]["error_control_l2"][-1]
            print("  seed %d: final error hjbft %.4f, PyTorch %.4f" % (sd, seed_runs["hjbft"][sd],
                                                                      seed_runs["torch"][sd]), flush=True)
        seed_runs["hjbft"][hyper["seed"]] = results[0]["impls"][0]["final"]
        seed_runs["torch"][hyper["seed"]] = next((x["final"] for x in results[0]["impls"]
                                                 if x["label"] == "PyTorch, 1 thread"), None)
    profile = torch_profile = None
    if not args.no_perf:
        profile = perf_profile(binary, problems[0], hyper, workdir, args)
        torch_profile = perf_profile_torch(py, problems[0], hyper, os.path.join(workdir, "p0", "exact.h5"),
                                           workdir, args)

    text = report(results, hyper, args, binary, t_start, profile, torch_profile, seed_runs, args.build_note)
    print()
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"hyper": hyper, "results": results, "profile": profile, "torch_profile": torch_profile,
                       "seed_runs": seed_runs, "binary": binary, "start": t_start, "build_note": args.build_note}, f, indent=1, default=str)
    if not args.no_doc:
        write_doc(args.doc, text)
        print("wrote section '%s' of %s" % (SECTION[3:], args.doc))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(results, hyper, args, binary, t_start, profile, torch_profile=None, seed_runs=None, build_note=""):
    L = []
    L.append(SECTION)
    L.append("")
    L.append("Benchmark of `hjbft neural` (issue 5, \"Performance\") against a straightforward PyTorch "
             "implementation of the same algorithm, `validation/pytorch_pift.py` (float64, CPU, nn.Sequential, "
             "torch.optim.Adam with a LambdaLR cosine schedule, torch.autograd.grad for grad_x V; no compile/jit), "
             "on the same problems with the same hyper-parameters on the same machine.")
    L.append("")
    L.append("Reproduce: `/usr/bin/python3 validation/benchmark_neural.py --hjbft build/hjbft"
             + (" --quick" if args.quick else "")
             + "".join(" --extra-hjbft %s=PATH" % lab for lab in sorted({x["label"][6:-8] for r in results
                                                                        for x in r["impls"] if x.get("extra")}))
             + (" --seeds " + ",".join(str(k) for k in sorted(int(k) for k in seed_runs["hjbft"])
                                        if k != hyper["seed"]) if seed_runs else "")
             + "` (`--quick`: a smoke test with tiny hyper-parameters; `--extra-hjbft LABEL=PATH` adds 1-rank rows "
             "for other builds of hjbft, e.g. LABEL native for one configured with "
             "`-DCMAKE_CXX_FLAGS=-march=native`).")
    L.append("")
    L.append("* Algorithm (both): continuous mode, eta = 1, TD(0) evaluation with a frozen target network, "
             "V = r + (1 - t/T) N([x; t/T; sin/cos(2 pi j t/T)]), control fit to grad V / beta weighted by "
             "Lambda = g^2 (mean 1), Adam reset at each fit, networks warm-started across outer iterations, "
             "u^0 = 0, paths from N(0, v(T) I). The random numbers differ (different generators), so the two "
             "runs are statistically, not bitwise, the same.")
    L.append("* Hyper-parameters: %d outer iterations, %d paths x %d Euler-Maruyama steps, value and control "
             "nets %s tanh, %d time frequencies, %d value / %d control Adam steps per fit, batch %d, lr %g cosine "
             "to %g x lr, TD refresh every %d steps, seed %d."
             % (hyper["outer"], hyper["paths"], hyper["steps"], hyper["value_hidden"].replace(",", "-"),
                hyper["time_freq"], hyper["value_steps"], hyper["control_steps"], hyper["batch"], hyper["lr"],
                hyper["lr_min_ratio"], hyper["td_refresh"], hyper["seed"]))
    L.append("* Control error: `error_control_l2` = sqrt(mean over the 11 saved times of sum_x w |u - u*|^2), "
             "w proportional to p_{T-t}(x) exp(V*(t,x)/beta) normalised over the grid, u* and V* from "
             "`hjbft exact` on the same grid; measured after every outer iteration (the error of u^{k+1}). "
             "pytorch_pift.py's error function reproduces hjbft's own value on hjbft's final control to "
             + ", ".join("%.0e" % r["check_rel"] for r in results) + " (relative).")
    L.append("* Times: wall seconds per outer iteration from each program's own per-iteration timers (median over "
             "the iterations; \"train\" = simulate + fit value + fit control, without the measurement, which "
             "differs: hjbft's also computes sup errors, the objective gap and the regularity by finite "
             "differences); CPU = user + system seconds of the whole process (all ranks / threads, start-up "
             "included) / iterations. Time to error = wall time from the start of iteration 0 to the end of the "
             "first iteration whose error is <= the threshold (1.2 x the worse final error of the runs).")
    L.append("* Machine: 2 cores (`lscpu`: AMD EPYC, AVX-512), 23 GiB; hjbft Release (-O3, no -march: "
             "Eigen uses SSE2), Open MPI; PyTorch %s (Debian python3-torch) linked to Debian's reference BLAS "
             "(netlib libblas3: the `libblas.so.3` alternative on this machine; no OpenBLAS/MKL installed). "
             "hjbft binary: `%s`%s. Run %s." % (torch_version(), shown_path(binary),
                                                    (" (" + build_note + ")") if build_note else "", t_start))
    part = [s for r in results for s in r["impls"] if s.get("partial")]
    if part:
        L.append("* PyTorch with more than one thread ran only %d outer iteration(s) (`--multi-thread-outer`): on "
                 "this loaded 2-core machine its OpenMP workers wait for each other (a partner thread that loses "
                 "its core stalls every parallel operation), which makes it several times slower than 1 thread; "
                 "its row gives the time per iteration only." % part[0]["iters"])
    loads = [l for r in results for s in r["impls"] for l in s["loads"]]
    L.append("* **The machine was shared**: other sessions were compiling and testing; the 1-minute load average "
             "(`/proc/loadavg`, as `uptime` shows it) was %.1f-%.1f during these runs, on 2 cores (column "
             "\"load\": before-after each run). Every program got roughly half a core to a core; wall times "
             "are pessimistic and noisy (+-30%%; runs minutes apart saw different loads), the CPU column is "
             "less sensitive to the load. Read the ratios below with that noise in mind." % (min(loads), max(loads)))
    L.append("")
    for r in results:
        p, impls = r["problem"], r["impls"]
        L.append("### %s" % p["name"])
        L.append("")
        L.append(p["desc"] + ".")
        L.append("")
        L.append("| implementation | wall s/iter | train s/iter | simulate | fit V | fit u | measure | CPU s/iter "
                 "| final error | iters to %.3g | time to %.3g (s) | load |" % (r["threshold"], r["threshold"]))
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in impls:
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f-%.1f |"
                     % (s["label"], fmt(s["wall"]), fmt(s["train"]), fmt(s["sim"]), fmt(s["fitv"]), fmt(s["fitu"]),
                        fmt(s["meas"]), fmt(s["cpu"]),
                        ("(%d its only)" % s["iters"]) if s.get("partial") else "%.4f" % s["final"],
                        "-" if s["k_thr"] is None else str(s["k_thr"] + 1), fmt(s["t_thr"], 1),
                        s["loads"][0], s["loads"][1]))
        L.append("")
        L.append("Control error after each outer iteration:")
        L.append("")
        n = max(len(s["errors"]) for s in impls)
        L.append("| implementation | " + " | ".join("k=%d" % k for k in range(n)) + " |")
        L.append("|---|" + "---|" * n)
        for s in impls:
            L.append("| %s | " % s["label"] + " | ".join("%.4f" % e for e in s["errors"])
                     + " |" * (n - len(s["errors"])) + " |")
        L.append("")
        h1 = impls[0]
        t1 = next((s for s in impls if s["label"] == "PyTorch, 1 thread"), None)
        tb = min((s for s in impls if s["label"].startswith("PyTorch")), key=lambda s: s["wall"])
        L.append("Speed-up of hjbft (PyTorch time / hjbft time):")
        L.append("")
        L.append("| comparison | per iteration (wall) | per iteration (train) | per iteration (CPU) | to error %.3g |"
                 % r["threshold"])
        L.append("|---|---|---|---|---|")
        pairs = []
        if t1:
            pairs.append(("PyTorch 1 thread / hjbft 1 rank", t1, h1))
        hb = min((s for s in impls if s["label"].startswith("hjbft") and not s.get("extra")), key=lambda s: s["wall"])
        pairs.append(("best PyTorch (%s) / best hjbft (%s)" % (tb["label"][9:], hb["label"][7:]), tb, hb))
        if t1:
            for s in impls:
                if s.get("extra"):
                    pairs.append(("PyTorch 1 thread / %s" % s["label"], t1, s))
        for name, a, b in pairs:
            L.append("| %s | %s | %s | %s | %s |"
                     % (name, fmt(a["wall"] / b["wall"]), fmt(a["train"] / b["train"]), fmt(a["cpu"] / b["cpu"]),
                        fmt(a["t_thr"] / b["t_thr"]) if a.get("t_thr") and b.get("t_thr") else "-"))
        L.append("")
        r["speedup_1_1"] = t1["wall"] / h1["wall"] if t1 else None
        r["speedup_thr"] = (t1["t_thr"] / h1["t_thr"]) if t1 and t1["t_thr"] and h1["t_thr"] else None
        r["speedup_extra"] = [(s["label"], t1["wall"] / s["wall"],
                               t1["t_thr"] / s["t_thr"] if t1["t_thr"] and s["t_thr"] else None)
                              for s in impls if s.get("extra")] if t1 else []
        per_step = ["%s %.2f / %.2f ms" % (s["label"], 1e3 * s["fitv"] / hyper["value_steps"],
                                           1e3 * s["fitu"] / hyper["control_steps"]) for s in impls]
        L.append("Wall time per Adam step (fit V / fit u, batch %d): %s." % (hyper["batch"], "; ".join(per_step)))
        L.append("")
    # Verdict
    sp = [r["speedup_1_1"] for r in results if r["speedup_1_1"]]
    spt = [r["speedup_thr"] for r in results if r["speedup_thr"]]
    L.append("### Target: hjbft at least 3x faster at the same accuracy")
    L.append("")
    if sp:
        met = min(sp) >= 3 and (not spt or min(spt) >= 3)
        L.append("Single core (hjbft 1 rank vs PyTorch 1 thread), problems in the order above: per outer iteration "
                 "%s; to the error threshold %s: **%s** for this build (`%s`)." % (
                     ", ".join("%.2fx" % v for v in sp), ", ".join("%.2fx" % v for v in spt) or "-",
                     "met" if met else "not met", shown_path(binary)))
        for lab in sorted({x[0] for r in results for x in r.get("speedup_extra", [])}):
            v = [x for r in results for x in r["speedup_extra"] if x[0] == lab]
            ok = all(x[1] >= 3 and (x[2] is None or x[2] >= 3) for x in v)
            L.append("%s: per outer iteration %s; to the error threshold %s: **%s**" % (
                lab, ", ".join("%.2fx" % x[1] for x in v),
                ", ".join("-" if x[2] is None else "%.2fx" % x[2] for x in v), "met." if ok else "not met."))
        L.append("")
        fin = []
        for r in results:
            h = r["impls"][0]
            t = next((x for x in r["impls"] if x["label"] == "PyTorch, 1 thread"), None)
            if t:
                fin.append("%s: hjbft %.4f, PyTorch %.4f" % (r["problem"]["name"], h["final"], t["final"]))
        L.append("Accuracy: the two implementations follow the same error curve (tables above); final errors "
                 + "; ".join(fin) + ".")
        if seed_runs:
            L.append("Seed-to-seed scatter (%s, 1 rank / 1 thread, final error by seed): hjbft %s; PyTorch %s. "
                     "The differences between the implementations are of the order of this scatter (PyTorch's "
                     "errors may be a few percent higher systematically; the generators, initial weights and "
                     "minibatches all differ); the \"time to error\" column compares them at the same accuracy."
                     % (results[0]["problem"]["name"],
                        ", ".join("%s: %.4f" % kv for kv in sorted(seed_runs["hjbft"].items())),
                        ", ".join("%s: %.4f" % kv for kv in sorted(seed_runs["torch"].items()))))
        L.append("")
    two = [(r["problem"]["name"], s["wall"] / r["impls"][0]["wall"]) for r in results for s in r["impls"]
           if s["label"] == "hjbft, 2 ranks"]
    if two:
        L.append("2 MPI ranks vs 1: %s the wall time per iteration. Every Adam step (%d + %d per outer iteration) "
                 "ends with an MPI_Allreduce of the gradient and the loss; with ~%d pairs per rank per step there "
                 "is little work between reductions, and on a machine whose 2 cores are already busy a rank that "
                 "loses its core stalls the other at every reduction." % (
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
    if profile:
        def share(*keys):
            return sum(pct for pct, sym in profile if any(k in sym for k in keys))
        act, gemm = share("activate"), share("gebp_kernel", "gemm_pack", "general_matrix_vector")
        L.append("The network kernels %s hjbft's time: the tanh activation (`activate`, one exp and one "
                 "division per element, %.0f%%) and Eigen's GEMM kernels (%.0f%%)%s. Without `-march` the "
                 "compiler targets baseline x86-64, so Eigen vectorizes both with SSE2, 2 doubles per instruction, "
                 "on a CPU with AVX-512." % ("dominate" if act + gemm > 50 else "take part of", act, gemm,
                                            "; the rest of the algorithm (gathering minibatches, targets, the "
                                            "simulation's score, Adam) is small" if act + gemm > 50 else ""))
        nat = [(r["problem"]["name"], r["impls"][0], s) for r in results for s in r["impls"]
               if s.get("extra") and "native" in s["label"]]
        if nat:
            L.append("The same sources built with `-march=native` (rows \"hjbft native\") run an outer iteration "
                     "%s faster (wall; CPU per iteration, start-up included, %s), with the same errors." % (
                         ", ".join("%.1fx (%s)" % (h["wall"] / n["wall"], name) for name, h, n in nat),
                         ", ".join("%.1fx" % (h["cpu"] / n["cpu"]) for name, h, n in nat)))
        L.append("")
    if torch_profile:
        L.append("PyTorch, for comparison (`perf record`, one outer iteration with 1/5 of the Adam steps, import "
                 "included; by shared object): " + ", ".join("%s %.0f%%" % (d, p) for p, d in torch_profile) + ".")
        blas = sum(p for p, d in torch_profile if d.startswith("libblas"))
        if blas > 5:
            L.append("Its float64 GEMMs go to the reference BLAS (%.0f%%); with an optimized BLAS (OpenBLAS, MKL) "
                     "that part would shrink several-fold, so against such a PyTorch the speed-ups above would be "
                     "up to ~%.0f%% smaller (if the BLAS time vanished entirely)." % (blas, blas))
        L.append("")
    return "\n".join(wrap(l) for l in L)


def wrap(line, width=105):
    """Wraps prose lines (not tables, headings) like the rest of docs/performance.md."""
    if not line or line.startswith(("|", "#")) or len(line) <= width:
        return line
    indent = "  " if line.startswith("* ") else ""
    return textwrap.fill(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def shown_path(p):
    rel = os.path.relpath(p, ROOT)
    return p if rel.startswith("..") else rel


def torch_version():
    try:
        out = subprocess.run(["/usr/bin/python3", "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True).stdout.strip()
        return out or "?"
    except OSError:
        return "?"


def write_doc(path, text):
    """Replaces the section (from its heading to the next '## ' heading) or appends it."""
    old = open(path).read() if os.path.exists(path) else ""
    lines = old.splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "\n".join(lines[:start] + text.rstrip("\n").splitlines() + ([""] + lines[end:] if end < len(lines)
                                                                            else [])) + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
