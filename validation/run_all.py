#!/usr/bin/python3
"""The whole validation of hjbft in one command: every report in full, the ParaView read-back of the
XDMF files, and (with --benchmarks) the benchmarks; regenerates docs/validation*.md (and with
--benchmarks docs/performance.md) and exits non-zero if any check fails.

    /usr/bin/python3 validation/run_all.py                 # all reports (about an hour on 2 cores)
    /usr/bin/python3 validation/run_all.py --benchmarks    # and the benchmarks (needs a quiet machine)
    /usr/bin/python3 validation/run_all.py --only grid,neural --docs /tmp/docs

Each report states the commit it was generated at (vcommon.provenance()).  The reports are:

    grid      validation/run_validation.py           docs/validation.md
    sampling  validation/run_sampling_validation.py  docs/validation_sampling.md
    discrete  validation/run_discrete_validation.py  docs/validation_discrete.md
    neural    validation/run_neural_validation.py    docs/validation_neural.md (+ docs/figures/neural_*.png)
    floor     validation/run_neural_floor.py         docs/validation_neural_floor.md (issue 14's decomposition)
    pg        validation/run_pg_validation.py        docs/validation_pg.md (+ docs/figures/pg_*.png)
    douglas   validation/run_douglas_validation.py   docs/validation_douglas.md (-hjb_splitting douglas)
    paraview  tests/io/check_xdmf_paraview.py        ParaView reads 1-D, 2-D and 3-D .xmf files back
                                                     (a failure here, not a skip, when ParaView is missing)

First it installs what the full validation needs beyond the tests (scripts/install_validation_deps.sh:
ParaView's Python module; root; --no-install skips it) and builds hjbft (scripts/build.sh).  CI runs the
quick versions (ctest -L validation); this is the full run.  Exit status: 0 when every report ran and all
its checks passed, 1 otherwise.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

from vcommon import MPI_ENV, ROOT, provenance

PY = "/usr/bin/python3"
BUILD = os.path.join(ROOT, "build")
HJBFT = os.path.join(BUILD, "hjbft")
V = os.path.join(ROOT, "validation")


def reports(docs):
    """name -> command line of the full run writing its report into the folder docs."""
    fig = os.path.join(docs, "figures")
    mpi = ["--mpiexec", "mpiexec"]
    return {
        "grid": [PY, os.path.join(V, "run_validation.py"), "--hjbft", HJBFT, "--out", "validation_out",
                 "--report", os.path.join(docs, "validation.md")] + mpi,
        "sampling": [PY, os.path.join(V, "run_sampling_validation.py"), "--hjbft", HJBFT,
                     "--out", "sampling_validation_out", "--report", os.path.join(docs, "validation_sampling.md")],
        "discrete": [PY, os.path.join(V, "run_discrete_validation.py"), "--hjbft", HJBFT,
                     "--out", "discrete_validation_out", "--report", os.path.join(docs, "validation_discrete.md")]
                    + mpi,
        "neural": [PY, os.path.join(V, "run_neural_validation.py"), "--hjbft", HJBFT, "--out", "neural_validation_out",
                   "--report", os.path.join(docs, "validation_neural.md"), "--figures", fig] + mpi,
        "floor": [PY, os.path.join(V, "run_neural_floor.py"), "--hjbft", HJBFT, "--out", "neural_floor_out",
                  "--report", os.path.join(docs, "validation_neural_floor.md")],
        "douglas": [PY, os.path.join(V, "run_douglas_validation.py"), "--hjbft", HJBFT, "--out",
                    "douglas_validation_out", "--report", os.path.join(docs, "validation_douglas.md")],
        "pg": [PY, os.path.join(V, "run_pg_validation.py"), "--pg-tests", os.path.join(BUILD, "tests", "pg", "pg_tests"),
               "--hjbft", HJBFT, "--train", "--out", "pg_validation_out",
               "--report", os.path.join(docs, "validation_pg.md"), "--figures", fig],
    }


def benchmarks(docs):
    doc = os.path.join(docs, "performance.md")
    return {
        "bench_grid": [PY, os.path.join(V, "benchmark_grid.py"), "--hjbft", HJBFT, "--doc", doc],
        "bench_douglas": [PY, os.path.join(V, "benchmark_douglas.py"), "--hjbft", HJBFT, "--doc", doc],
        "bench_sampling": [PY, os.path.join(V, "benchmark_sampling.py"), "--hjbft", HJBFT, "--doc", doc],
        "bench_neural": [PY, os.path.join(V, "benchmark_neural.py"), "--hjbft", HJBFT, "--doc", doc],
    }


def run(name, cmd, logdir, env=None):
    """Runs one step, its output to LOGDIR/NAME.log (and its last lines to the terminal); (ok, seconds)."""
    log = os.path.join(logdir, name + ".log")
    print("== %s: %s" % (name, " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)),
          flush=True)
    t0 = time.time()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=logdir,
                            env=dict(os.environ, **(env or {}))).returncode
    dt = time.time() - t0
    tail = open(log).read().splitlines()[-3:]
    print("\n".join("   " + l for l in tail))
    print("== %s: %s in %.0f s (log %s)" % (name, "ok" if rc == 0 else "FAILED (exit %d)" % rc, dt, log), flush=True)
    return rc == 0, dt


def paraview(logdir):
    """ParaView's XDMF reader on 1-D, 2-D and 3-D `hjbft exact` files: exit 77 (not installed) is a failure."""
    work = tempfile.mkdtemp(prefix="paraview_", dir=logdir)
    cases = {"d1": ["-da_grid_x", "41", "-nt", "20"],
             "d2": ["-dim", "2", "-da_grid_x", "17", "-da_grid_y", "13", "-nt", "10"],
             "d3": ["-dim", "3", "-da_grid_x", "7", "-da_grid_y", "8", "-da_grid_z", "9", "-nt", "6"]}
    script = [PY, os.path.join(ROOT, "tests", "io", "check_xdmf_paraview.py")]
    ok, total = True, 0.0
    for name, opts in cases.items():
        h5 = os.path.join(work, name + ".h5")
        good, dt = run("paraview_make_" + name, [HJBFT, "exact"] + opts + ["-o", h5], logdir, MPI_ENV)
        total += dt
        if good:
            good, dt = run("paraview_" + name, script + [h5[:-3] + ".xmf"], logdir)
            total += dt
        ok = ok and good
    return ok, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated steps (grid, sampling, discrete, neural, floor, douglas, pg, paraview, "
                                               "bench_grid, bench_douglas, bench_sampling, bench_neural); default: all reports")
    ap.add_argument("--benchmarks", action="store_true", help="also run the benchmarks (docs/performance.md)")
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs"), help="where the reports go (default docs/)")
    ap.add_argument("--logs", default=os.path.join(ROOT, "validation_all_out"), help="logs and run folders")
    ap.add_argument("--no-install", action="store_true", help="do not install ParaView's Python module")
    ap.add_argument("--no-build", action="store_true", help="use build/hjbft as it is")
    args = ap.parse_args()
    os.makedirs(args.logs, exist_ok=True)
    os.makedirs(os.path.join(args.docs, "figures"), exist_ok=True)
    steps = dict(reports(args.docs))
    steps["paraview"] = None
    bench = benchmarks(args.docs)
    chosen = [s for s in args.only.split(",") if s] or list(steps) + (list(bench) if args.benchmarks else [])
    unknown = [s for s in chosen if s not in steps and s not in bench]
    if unknown:
        ap.error("--only: unknown step(s) %s" % ", ".join(unknown))
    print("run_all: %s; steps %s" % (provenance(), ", ".join(chosen)), flush=True)
    results = []
    if not args.no_install:
        results.append(("install", *run("install", ["bash", os.path.join(ROOT, "scripts", "install_validation_deps.sh")],
                                        args.logs)))
    if not args.no_build:
        results.append(("build", *run("build", ["bash", os.path.join(ROOT, "scripts", "build.sh")], args.logs)))
    for s in chosen:
        if s == "paraview":
            results.append((s, *paraview(args.logs)))
        else:
            results.append((s, *run(s, (steps.get(s) or bench[s]), args.logs, MPI_ENV)))
    print("\nrun_all: %s" % provenance())
    for name, ok, dt in results:
        print("  %-16s %-6s %6.0f s" % (name, "ok" if ok else "FAILED", dt))
    failed = [n for n, ok, _ in results if not ok]
    print("run_all: %s" % ("all %d steps passed" % len(results) if not failed else "FAILED: " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
