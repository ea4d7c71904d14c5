"""The validation harness: what every report script (validation/run_*_validation.py) shares, so that each
of them holds only its cases, its checks and its sections.

* the repository root and the environment that lets Open MPI run as root (with oversubscription);
* the command line every report takes (parser(), have_hjbft(), require_numpy());
* running hjbft or any other program: run_cmd(), run_hjbft(), fresh_output(), compare_files(),
  error_line(), and reading a result file (read_result());
* the run context Ctx with its numbered checks (G12, S3, ...) and the labels the text cites (cite());
* Markdown: table(), failed(), the number formatters (number(), e, f2, f3, o), the checks as a table or a
  list, and the report's tail (finish(): report, OUT/results.json, summary line, exit status);
* the reference law of the problems (vp_mv(), parse_problem(), reference_density());
* provenance(): the commit and date every report states.
"""
import argparse
import datetime
import glob
import importlib
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}


def script_name():
    """The running script's name without '.py' (e.g. 'run_validation'), the prefix of its messages."""
    return os.path.splitext(os.path.basename(sys.argv[0]))[0]


# --- the command line --------------------------------------------------------------------------------
def missing_numpy():
    """The ImportError when Debian's python3-h5py or python3-numpy is missing, else None."""
    try:
        for module in ("h5py", "numpy"):
            importlib.import_module(module)
    except ImportError as exc:
        return exc
    return None


def require_numpy():
    """Exits 77 (CTest: skipped) with a message when Debian's python3-h5py or python3-numpy is missing."""
    exc = missing_numpy()
    if exc:
        print("%s: needs Debian's python3-h5py and python3-numpy (%s)" % (script_name(), exc), file=sys.stderr)
        sys.exit(77)


def parser(doc, out, report, quick, sections, mpiexec=True):
    """The options every report takes: --hjbft, --out (default OUT), --report (default OUT/REPORT), --quick
    (help QUICK), --sections (default SECTIONS) and, with mpiexec, --mpiexec; the script adds its own."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hjbft", default=os.path.join(ROOT, "build", "hjbft"))
    ap.add_argument("--out", default=out)
    ap.add_argument("--report", default=None, help="Markdown report (default OUT/%s)" % report)
    if mpiexec:
        ap.add_argument("--mpiexec", default="mpiexec")
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--sections", default=sections)
    return ap


def have_hjbft(args):
    """True when --hjbft names an executable; otherwise says so on stderr (the caller exits 2)."""
    if os.access(args.hjbft, os.X_OK):
        return True
    print("%s: no hjbft executable at %s (use --hjbft PATH)" % (script_name(), args.hjbft), file=sys.stderr)
    return False


# --- the run context and its checks --------------------------------------------------------------------
class Ctx:
    """Paths of one validation run (OUT/runs for the hjbft outputs), its results, its checks and the labels
    the text cites."""

    check_prefix = "C"  # each report sets its own letter, so that a check is cited as e.g. G12 in the text
    check_line = "  CHECK {verdict:<4} {label} {desc}"  # the progress line a check prints (stdout)

    def __init__(self, args):
        self.hjbft = os.path.abspath(args.hjbft)
        self.out = os.path.abspath(args.out)
        self.runs = os.path.join(self.out, "runs")
        os.makedirs(self.runs, exist_ok=True)
        self.quick = args.quick
        self.mpiexec = getattr(args, "mpiexec", None)
        self.results = {}
        self.checks = []  # (label + " " + description, passed, detail)
        self.labels = {}  # key -> labels of the checks behind a statement written later (label())
        self.total_wall = 0.0
        self.nruns = 0
        self.lock = threading.Lock()  # run counts, when runs go in parallel threads

    def check(self, desc, ok, detail=""):
        """Records a check under the next number and returns its label (e.g. 'G12'), which the report's text
        puts next to the claim the check proves."""
        label = "%s%d" % (self.check_prefix, len(self.checks) + 1)
        self.checks.append((label + " " + desc, bool(ok), detail))
        print(self.check_line.format(verdict="ok" if ok else "FAIL", label=label, desc=desc) +
              (" (" + detail + ")" if detail else ""), flush=True)
        return label

    def label(self, key, lab):
        """Remembers a check's label under key, for text written later (findings, preamble); returns it."""
        self.labels.setdefault(key, []).append(lab)
        return lab

    def npass(self):
        """How many checks passed."""
        return sum(1 for c in self.checks if c[1])

    def failing(self):
        """The labels of the checks that failed."""
        return [c[0].split()[0] for c in self.checks if not c[1]]


def cite(*labels):
    """' [D3, D4]': the labels of the checks that back the sentence before it ('' when none ran)."""
    flat = [l for x in labels for l in (x if isinstance(x, (list, tuple)) else [x]) if l]
    return " [%s]" % ", ".join(flat) if flat else ""


# --- running programs ------------------------------------------------------------------------------------
def fresh_output(path):
    """PATH, after removing what an earlier run left under that name (PATH*, the .xmf next to it)."""
    for f in glob.glob(path + "*") + glob.glob(path[:-3] + ".xmf"):
        os.remove(f)
    return path


def run_cmd(ctx, name, cmd, timeout=None):
    """Runs CMD with MPI_ENV in its environment (once more when MPI_Init fails: Open MPI sometimes does not
    start on the shared machine), exit status 124 after TIMEOUT seconds; writes the command line and the
    output to OUT/runs/NAME.log, counts the run in ctx; returns dict(rc, text, wall, cpu, cmd)."""
    env = dict(os.environ, **MPI_ENV)
    for attempt in range(2):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
            rc, text = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as ex:
            rc, text = 124, (ex.stdout or b"").decode(errors="replace") + "\nvalidation: timed out after %ds" % timeout
        wall = time.time() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if not (rc and "MPI_Init" in text) or attempt:
            break
        print("  %-32s MPI_Init failed, retrying" % name, flush=True)
    with ctx.lock:
        ctx.total_wall += wall
        ctx.nruns += 1
    log = os.path.join(ctx.runs, name + ".log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + text)
    return {"rc": rc, "text": text, "wall": wall, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "cmd": cmd}


def as_validated(args):
    """`hjbft solve` arguments with the defaults the validations were written and measured
    with: global PI and tight tolerances (since issue 13 `hjbft solve` defaults to Howard
    with -hjb_tolerance auto; a run that names its method or tolerance keeps it)."""
    args = list(args)
    if "solve" not in args[:2]:
        return args
    if "-hjb_method" not in args:
        args += ["-hjb_method", "pi"]
    if "-hjb_tolerance" not in args:
        args += ["-hjb_tolerance", "tight"]
    return args


def run_hjbft(ctx, name, args, nproc=None, timeout=600):
    """run_cmd() of `hjbft ARGS`, under `mpiexec -n NPROC --oversubscribe` when NPROC is given."""
    cmd = [ctx.hjbft] + as_validated(args)
    if nproc:
        cmd = [ctx.mpiexec, "-n", str(nproc), "--oversubscribe"] + cmd
    return run_cmd(ctx, name, cmd, timeout)


def compare_files(ctx, a, b, tol):
    """`hjbft compare A B -tol TOL` (TOL a string; not counted among the runs); returns the CompletedProcess."""
    return subprocess.run([ctx.hjbft, "compare", a, b, "-tol", tol], capture_output=True, text=True,
                          env=dict(os.environ, **MPI_ENV))


def error_line(text, hjbft_only=False, fallback=None):
    """The error a run reports: the last line of TEXT starting with 'hjbft:' (unless hjbft_only, also any line
    containing 'error'), stripped; when there is none, the last line containing 'warning' (fallback
    'warning'), the last line of the text (fallback 'last') or ''."""
    lines = [l.strip() for l in text.splitlines()
             if l.startswith("hjbft:") or (not hjbft_only and "error" in l.lower())]
    if lines:
        return lines[-1]
    if fallback == "warning":
        lines = [l.strip() for l in text.splitlines() if "warning" in l.lower()]
        return lines[-1] if lines else ""
    if fallback == "last":
        return (text.strip().splitlines() or [""])[-1]
    return ""


def read_result(path):
    """Root attributes (strings decoded, numbers as float/list) and /history columns (lists) of a result file."""
    import h5py
    import numpy as np
    attrs, hist = {}, {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode(errors="replace").rstrip("\0")
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, (np.floating, np.integer)):
                v = float(v)
            attrs[k] = v
        if "history" in f:
            for k in f["history"]:
                hist[k] = [float(x) for x in f["history"][k][:]]
    return attrs, hist


# --- the reference law of the problems, computed here independently of hjbft ----------------------------
def vp_mv(tau, hmin=0.1, hmax=20.0, T=1.0):
    """(m, v) of the vp forward SDE after time tau: Y_tau = m Y_0 + sqrt(v) Z (hjbft's default schedule)."""
    H = hmin * tau + (hmax - hmin) * tau * tau / (2 * T)
    m = math.exp(-H / 2)
    return m, 1 - m * m


def parse_problem(opts):
    """The GMM problem the hjbft options OPTS set (hjbft's defaults for the rest): (dim, weights, means
    [K x dim], variances, h_min, h_max, T), arrays of numpy."""
    import numpy as np
    d = {"-dim": "1", "-target_weights": "0.5,0.5", "-target_means": "-2,2", "-target_vars": "0.25",
         "-sde_hmin": "0.1", "-sde_hmax": "20", "-sde_T": "1"}
    for i in range(len(opts) - 1):
        if opts[i] in d:
            d[opts[i]] = opts[i + 1]
    dim = int(d["-dim"])
    w = np.array([float(v) for v in d["-target_weights"].split(",")])
    mu = np.array([float(v) for v in d["-target_means"].split(",")]).reshape(len(w), dim)
    var = [float(v) for v in d["-target_vars"].split(",")]
    var = np.array(var if len(var) == len(w) else var * len(w))
    return dim, w, mu, var, float(d["-sde_hmin"]), float(d["-sde_hmax"]), float(d["-sde_T"])


def reference_density(problem, t, mesh):
    """The reference marginal p_{T-t} of PROBLEM (parse_problem(): vp SDE, isotropic GMM, marginals
    N(m mu_k, (m^2 s_k + v) I)) on MESH (one array of coordinates per axis), not normalised on the grid."""
    import numpy as np
    dim, w, mu, var, hmin, hmax, T = problem
    m, v = vp_mv(T - t, hmin, hmax, T)
    p = np.zeros(mesh[0].shape)
    for k in range(len(w)):
        s = m * m * var[k] + v
        r2 = sum((mesh[a] - m * mu[k, a]) ** 2 for a in range(dim))
        p += w[k] * np.exp(-r2 / (2 * s)) / (2 * math.pi * s) ** (dim / 2)
    return p


# --- Markdown ------------------------------------------------------------------------------------------
def number(spec, keep_inf=False):
    """A formatter: x -> SPEC % x, or '—' for None, NaN and (unless keep_inf) infinities."""
    def fmt(x):
        if x is None or (isinstance(x, float) and (math.isnan(x) or (math.isinf(x) and not keep_inf))):
            return "—"
        return spec % x
    return fmt


e = number("%.3e")
f2 = number("%.2f")
f3 = number("%.3f")
o = f2  # an observed order


def table(head, rows):
    """A Markdown table with the header HEAD and the rows ROWS (cells through str())."""
    s = "| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n"
    for r in rows:
        s += "| " + " | ".join(str(c) for c in r) + " |\n"
    return s + "\n"


def cell(x):
    """X as the text of one table cell: '|' escaped."""
    return str(x).replace("|", "\\|")


def failed(r):
    """The table cell of a failed run: its exit status and error line."""
    return "**failed (exit %d)**: `%s`" % (r["rc"], cell(r["error"]))


def checks_table(checks):
    """The checks as a Markdown table: check, result (pass / **FAIL**), detail."""
    return table(["check", "result", "detail"],
                 [[cell(c[0]), "pass" if c[1] else "**FAIL**", cell(c[2])] for c in checks])


def checks_list(checks):
    """The checks as a Markdown list, one '- **PASS** check (detail)' line each."""
    return "".join("- **%s** %s (%s)\n" % ("PASS" if ok else "FAIL", desc, det) for desc, ok, det in checks)


# --- the report's tail ---------------------------------------------------------------------------------
def finish(ctx, path, report, t0, **extra):
    """Writes REPORT to PATH and ctx's results and checks (and EXTRA) to OUT/results.json, prints the summary
    line; returns the exit status: 0 when every check passed, 1 otherwise."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(report)
    with open(os.path.join(ctx.out, "results.json"), "w") as f:
        json.dump(dict({"results": ctx.results, "checks": ctx.checks}, **extra), f, indent=1, default=str)
    npass = ctx.npass()
    print("%s: %d of %d checks passed; report %s (%.0f s)" % (script_name(), npass, len(ctx.checks), path,
                                                             time.time() - t0))
    return 0 if npass == len(ctx.checks) else 1


def provenance():
    """The commit the report is generated at (with '+dirty' when the work tree differs from it) and the date,
    for the 'Generated by' line of every report: a number in docs/ is traceable to the code that made it."""
    def git(*a):
        try:
            return subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    rev = git("rev-parse", "--short=12", "HEAD") or "unknown"
    # Only tracked source files count as a change (generated reports and outputs do not).
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "src", "solvers", "include", "cli",
                "validation", "CMakeLists.txt")
    return "commit %s%s, %s" % (rev, "+dirty" if dirty else "",
                                datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
