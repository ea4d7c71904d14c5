"""What the validation scripts share: the repository root, the environment that lets Open MPI run as root
(with oversubscription), and the run context with its list of checks."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}


class Ctx:
    """Paths of one validation run (OUT/runs for the hjbft outputs), its results and its checks."""

    def __init__(self, args):
        self.hjbft = os.path.abspath(args.hjbft)
        self.out = os.path.abspath(args.out)
        self.runs = os.path.join(self.out, "runs")
        os.makedirs(self.runs, exist_ok=True)
        self.quick = args.quick
        self.mpiexec = getattr(args, "mpiexec", None)
        self.results = {}
        self.checks = []  # (description, passed, detail)
        self.total_wall = 0.0
        self.nruns = 0

    def check(self, desc, ok, detail=""):
        self.checks.append((desc, bool(ok), detail))
        print(("  CHECK ok   " if ok else "  CHECK FAIL ") + desc + (" (" + detail + ")" if detail else ""), flush=True)
