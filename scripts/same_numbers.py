#!/usr/bin/env python3
"""Same numbers: runs one set of hjbft commands with two builds and compares
every HDF5 output they write, dataset by dataset and attribute by attribute,
and the XDMF files next to them byte for byte.

A restructuring of the code must not change a result: this is the check that
it did not (issue 12).  Each case is a small run of one solver path (every
command, every grid method, every sampler scheme and control source, neural
PI-FT in both modes and with a grid reference, every pg estimator and update
rule, 1 and 2 MPI ranks).  Outputs are compared bit for bit by default;
`--rtol X` allows a stated relative difference (for a change of operation
order, whose size must then be reported).  Wall-clock attributes (timings,
dates, the version line) are not compared.

    /usr/bin/python3 scripts/same_numbers.py --ref /tmp/ref/hjbft --new build/hjbft

Exit status 0 when every output agrees, 1 otherwise.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}

G1 = ["-da_grid_x", "101", "-nt", "40"]
G2 = ["-dim", "2", "-da_grid_x", "33", "-da_grid_y", "29", "-nt", "20",
      "-target_weights", "0.3,0.3,0.4", "-target_means", "-2,0,2,1,0,-2", "-target_vars", "0.4",
      "-reward", "quadratic", "-reward_center", "1,0.5", "-beta", "0.5"]
NEURAL = ["-neural_outer", "2", "-neural_paths", "256", "-neural_steps", "20", "-neural_value_hidden", "8",
          "-neural_control_hidden", "8", "-neural_value_steps", "40", "-neural_control_steps", "40",
          "-neural_batch", "256", "-da_grid_x", "51", "-nt", "20"]
PG = ["-pg_iterations", "3", "-pg_paths", "256", "-pg_steps", "20", "-neural_value_hidden", "8",
      "-neural_control_hidden", "8", "-neural_value_steps", "40", "-neural_batch", "256", "-da_grid_x", "51",
      "-nt", "20", "-target_weights", "1", "-target_means", "0.5", "-target_vars", "0.3", "-reward", "linear",
      "-reward_vector", "1", "-sde_hmax", "8"]
BELL2 = ["-dim", "2", "-target_weights", "0.4,0.6", "-target_means", "-1,0.5,1.5,-1", "-target_vars", "0.5,0.3",
         "-reward", "quadratic", "-reward_center", "1,-1", "-da_grid_x", "21", "-da_grid_y", "17",
         "-ddpm_steps", "10", "-bellman_quad", "6", "-bellman_monitor", "0"]

# (name, ranks, argv); "{dir}" is replaced by the run's output folder (for inputs
# written by an earlier case).
CASES = [
    ("exact_1d", 1, ["exact"] + G1),
    ("exact_2d_riccati", 1, ["exact", "-dim", "2", "-da_grid_x", "21", "-da_grid_y", "21", "-nt", "10",
                             "-target_weights", "1", "-target_means", "0.5,-0.5", "-target_vars", "0.7",
                             "-reward", "linear", "-reward_vector", "1,2", "-exact_method", "riccati"]),
    ("solve_pi_1d", 1, ["solve"] + G1 + ["-fp_init", "tilted"]),
    ("solve_pi_1d_n2", 2, ["solve"] + G1 + ["-fp_init", "tilted"]),
    ("solve_howard_1d", 1, ["solve", "-hjb_method", "howard", "-fp_init", "exact"] + G1),
    ("solve_colehopf_1d", 1, ["solve", "-hjb_method", "colehopf"] + G1),
    ("solve_pi_2d", 1, ["solve"] + G2),
    ("solve_howard_2d_n2", 2, ["solve", "-hjb_method", "howard", "-fp_init", "gaussian"] + G2),
    ("solve_colehopf_2d", 1, ["solve", "-hjb_method", "colehopf"] + G2),
    ("solve_score_error", 1, ["solve", "-score_error_amp", "0.2", "-score_error_freq", "1.5",
                              "-reward", "bump", "-eta", "0.5"] + G1),
    ("solve_cou_doublewell", 1, ["solve", "-sde", "cou", "-reward", "doublewell", "-beta", "2"] + G1),
    ("solve_ve_howard", 1, ["solve", "-sde", "ve", "-sde_smax", "5", "-hjb_method", "howard"] + G1),
    ("sample_exact_heun", 1, ["sample", "-control", "exact", "-init", "tilted", "-n", "300", "-nsteps", "40"]),
    ("sample_exact_heun_n2", 2, ["sample", "-control", "exact", "-init", "tilted", "-n", "300", "-nsteps", "40"]),
    ("sample_ode_dopri5", 1, ["sample", "-eta", "0", "-sampler", "dopri5", "-control", "exact", "-n", "200",
                              "-target_weights", "1", "-target_means", "0.5", "-target_vars", "0.3",
                              "-reward", "linear", "-reward_vector", "1"]),
    ("sample_ode_rk4", 1, ["sample", "-eta", "0", "-sampler", "rk4", "-init", "exact", "-n", "200", "-nsteps", "30"]),
    ("sample_em_grid", 1, ["sample", "-sampler", "em", "-control", "grid:{dir}/solve_pi_1d.h5", "-init", "tilted",
                           "-n", "300", "-nsteps", "40"]),
    ("sample_resampled_n2", 2, ["sample", "-control", "grid:{dir}/solve_pi_1d.h5", "-init", "tilted",
                                "-score_error_amp", "0.1", "-n", "500", "-nsteps", "40"]),
    ("sample_2d_none", 1, ["sample", "-n", "300", "-nsteps", "30"] + G2[:2] + G2[8:]),
    ("neural_1d", 1, ["neural"] + NEURAL),
    ("neural_1d_n2", 2, ["neural"] + NEURAL),
    ("neural_td", 1, ["neural", "-neural_evaluation", "td"] + NEURAL),
    ("neural_discrete", 1, ["neural", "-neural_mode", "discrete"] + NEURAL),
    ("neural_grid_ref", 1, ["neural", "-neural_reference", "grid:{dir}/solve_pi_1d_51.h5"] + NEURAL),
    ("solve_pi_1d_51", 1, ["solve", "-da_grid_x", "51", "-nt", "20"]),
    ("sample_neural", 1, ["sample", "-control", "neural:{dir}/neural_1d.h5", "-n", "200", "-nsteps", "20"]),
    ("bellman_1d", 1, ["bellman", "-da_grid_x", "81", "-ddpm_steps", "20", "-beta", "0.5", "-bellman_monitor", "0"]),
    ("bellman_1d_n2", 2, ["bellman", "-da_grid_x", "81", "-ddpm_steps", "20", "-beta", "0.5", "-bellman_monitor", "0"]),
    ("bellman_2d_pi", 1, ["bellman", "-bellman_method", "pi"] + BELL2),
    ("bellman_2d_optimum_n2", 2, ["bellman"] + BELL2),
    ("pg_lr", 1, ["pg", "-pg_estimator", "lr"] + PG),
    ("pg_td", 1, ["pg", "-pg_estimator", "td"] + PG),
    ("pg_pathwise", 1, ["pg", "-pg_estimator", "pathwise"] + PG),
    ("pg_ode", 1, ["pg", "-eta", "0", "-pg_estimator", "pathwise"] + PG),
    ("pg_ppo_n2", 2, ["pg", "-pg_method", "ppo"] + PG),
    ("pg_trust_region", 1, ["pg", "-pg_method", "trust_region"] + PG),
]
# Inputs must exist before their readers run.
ORDER = ["solve_pi_1d", "solve_pi_1d_51", "neural_1d"]

# Wall-clock measurements (attributes and /history columns) differ from run to run.
WALL_CLOCK = {"wall_time", "optimum_wall_time", "seconds", "paths_per_second", "version",
              "time_fit_control", "time_fit_value", "time_measure", "time_simulate", "peak_rss_mib"}
# Summary attributes added after the reference build may be missing from its outputs
# (issue 13: the memory estimate); where both have them they are compared.
ADDED = {"memory_estimate_mib", "peak_rss_mib"}


def as_before_issue13(argv):
    """`hjbft solve` defaults to Howard with -hjb_tolerance auto since issue 13; the cases
    keep the defaults they were written for (global PI, tight tolerances), which a
    reference build from before accepts with -allow_unused_options."""
    if not argv or argv[0] != "solve":
        return argv
    extra = [] if "-hjb_method" in argv else ["-hjb_method", "pi"]
    return argv + extra + ["-hjb_tolerance", "tight", "-allow_unused_options"]


def run_case(binary, mpiexec, name, ranks, argv, outdir):
    """Runs one case in `outdir` with relative file names, so that both builds record the same options."""
    argv = [a.replace("{dir}/", "") for a in as_before_issue13(argv)]
    cmd = ([mpiexec, "-n", str(ranks), "--oversubscribe"] if ranks > 1 else []) + [binary] + argv + ["-o", name + ".h5"]
    env = dict(os.environ, **MPI_ENV)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, cwd=outdir)
    return p.returncode, p.stdout + p.stderr, os.path.join(outdir, name + ".h5")


def walk(f):
    items = {}
    def visit(name, obj):
        items[name] = obj
    f.visititems(visit)
    items["/"] = f
    return items


def compare_files(a, b, rtol):
    """List of differences between HDF5 files a and b (empty: the same)."""
    diffs = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ia, ib = walk(fa), walk(fb)
        if set(ia) != set(ib):
            diffs.append(f"objects differ: only ref {sorted(set(ia) - set(ib))}, only new {sorted(set(ib) - set(ia))}")
        worst = 0.0
        for key in sorted(set(ia) & set(ib)):
            oa, ob = ia[key], ib[key]
            for at in sorted(set(oa.attrs) | set(ob.attrs)):
                if at in WALL_CLOCK:
                    continue
                if at not in oa.attrs and at in ADDED:
                    continue
                if at not in oa.attrs or at not in ob.attrs:
                    diffs.append(f"{key}@{at}: present in one only")
                    continue
                va, vb = np.asarray(oa.attrs[at]), np.asarray(ob.attrs[at])
                if va.dtype.kind in "fc" and va.shape == vb.shape:
                    rel = _rel(va, vb)
                    worst = max(worst, rel)
                    if rel > rtol:
                        diffs.append(f"{key}@{at}: relative difference {rel:.3e}")
                elif not np.array_equal(va, vb):
                    diffs.append(f"{key}@{at}: {va!r} != {vb!r}")
            if isinstance(oa, h5py.Dataset) and key.split("/")[-1] not in WALL_CLOCK:
                va, vb = oa[()], ob[()]
                if np.shape(va) != np.shape(vb):
                    diffs.append(f"{key}: shape {np.shape(va)} != {np.shape(vb)}")
                elif np.asarray(va).dtype.kind in "fc":
                    rel = _rel(np.asarray(va), np.asarray(vb))
                    worst = max(worst, rel)
                    if rel > rtol:
                        diffs.append(f"{key}: relative difference {rel:.3e}")
                elif not np.array_equal(va, vb):
                    diffs.append(f"{key}: values differ")
    return diffs, worst


def _rel(va, vb):
    if np.array_equal(va, vb, equal_nan=True):
        return 0.0
    scale = max(np.nanmax(np.abs(va)) if va.size else 0.0, 1e-300)
    return float(np.nanmax(np.abs(va - vb)) / scale)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", required=True, help="hjbft binary of the reference build")
    ap.add_argument("--new", required=True, help="hjbft binary of the build under test")
    ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--rtol", type=float, default=0.0, help="allowed relative difference (default 0: bit for bit)")
    ap.add_argument("--only", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--keep", default="", help="folder for the outputs (default: a temporary one)")
    args = ap.parse_args()
    cases = sorted(CASES, key=lambda c: (c[0] not in ORDER, ORDER.index(c[0]) if c[0] in ORDER else 0))
    if args.only:
        want = set(args.only.split(","))
        cases = [c for c in cases if c[0] in want or c[0] in ORDER]
    root = args.keep or tempfile.mkdtemp(prefix="same_numbers_")
    dirs = {k: os.path.join(root, k) for k in ("ref", "new")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    failures = 0
    for name, ranks, argv in cases:
        rcs, outs = {}, {}
        for k, binary in (("ref", args.ref), ("new", args.new)):
            rcs[k], log, outs[k] = run_case(os.path.abspath(binary), args.mpiexec, name, ranks, argv, dirs[k])
            if rcs[k] != 0:
                print(f"  {k} exit {rcs[k]}:\n{log[-1500:]}")
        if rcs["ref"] != rcs["new"]:
            print(f"DIFF  {name}: exit status {rcs['ref']} (ref) != {rcs['new']} (new)")
            failures += 1
            continue
        if rcs["ref"] != 0:
            print(f"DIFF  {name}: both failed (exit {rcs['ref']})")
            failures += 1
            continue
        diffs, worst = compare_files(outs["ref"], outs["new"], args.rtol)
        xa, xb = (os.path.splitext(outs[k])[0] + ".xmf" for k in ("ref", "new"))
        if os.path.exists(xa) or os.path.exists(xb):  # the XDMF description: the same text
            if not (os.path.exists(xa) and os.path.exists(xb)) or open(xa, "rb").read() != open(xb, "rb").read():
                diffs.append("the .xmf files differ")
        if diffs:
            failures += 1
            print(f"DIFF  {name}:")
            for d in diffs[:20]:
                print("      " + d)
        else:
            print(f"same  {name}" + (f" (largest relative difference {worst:.2e})" if worst > 0 else " (bit for bit)"))
    print(f"{len(cases) - failures} of {len(cases)} cases give the same outputs; outputs in {root}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
