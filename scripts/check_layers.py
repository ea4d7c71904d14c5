#!/usr/bin/env python3
"""The layering of hjbft, enforced (docs/architecture.md).

Every C++ file belongs to one layer, named by its folder:

    include/hjbft/<layer>/...   src/<layer>/...        the library layers
    include/hjbft/solvers/<s>.hpp, solvers/<s>/...       solver <s> (public header, private files)
    cli/...                                             the executable

and may include only headers of its own layer or of layers below it:

    core < model < exact < grid < simulation < nn < analysis < io < solvers < cli

Solvers are peers: a solver's files include no other solver's header, public
or private, except where PEER_USES below says so (and why), and a private
header (solvers/<s>/*.hpp) is included from solvers/<s>/ only (and from the
tests of that solver).  Tests may include any public header.

Exit status 1, with one line per offending include, when a rule is broken.
"""
import os
import re
import sys

LAYERS = ["core", "model", "exact", "grid", "simulation", "nn", "analysis", "io", "solvers", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
# Solver-to-solver uses through the public header only.
PEER_USES = {
    # pg is a control-update strategy of the neural PI-FT outer loop (the loop,
    # the networks and the value fit are neural PI-FT's; pg supplies the step).
    ("pg", "neural"),
    # the sampler's -control neural:FILE.h5 builds the networks of a neural result.
    ("sample", "neural"),
}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.M)
# Third-party APIs that one layer owns: the HDF5 C API is called from the io layer only
# (and from tests that inspect files), so every file format lives in one place.
OWNED = {"hdf5.h": "io"}


def layer_of(path):
    """(layer, solver or None) of a repository-relative path; None for files outside the rules."""
    parts = path.split("/")
    if parts[0] == "include" and len(parts) >= 4 and parts[1] == "hjbft":
        if parts[2] == "solvers":
            return "solvers", os.path.splitext(parts[3])[0]
        return parts[2], None
    if parts[0] == "src" and len(parts) >= 3:
        return parts[1], None
    if parts[0] == "solvers" and len(parts) >= 3:
        return "solvers", parts[1]
    if parts[0] == "cli":
        return "cli", None
    if parts[0] == "tests":
        return "tests", parts[1] if len(parts) >= 3 else None
    return None, None


def resolve(root, src, inc):
    """Repository-relative path of an included header, or None when it is not ours."""
    if inc.startswith("hjbft/"):
        return "include/" + inc
    cand = os.path.normpath(os.path.join(os.path.dirname(src), inc))
    return cand if os.path.exists(os.path.join(root, cand)) else None


def check(root):
    errors = []
    sources = []
    for top in ("include", "src", "solvers", "cli", "tests"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".cpp", ".hpp")):
                    sources.append(os.path.relpath(os.path.join(d, f), root))
    for src in sorted(sources):
        layer, solver = layer_of(src)
        if layer is None:
            errors.append(f"{src}: not in a layer folder ({', '.join(LAYERS)})")
            continue
        if layer not in RANK and layer != "tests":
            errors.append(f"{src}: unknown layer '{layer}'")
            continue
        with open(os.path.join(root, src), encoding="utf-8") as fh:
            text = fh.read()
        for inc in SYSTEM_INCLUDE.findall(text):
            owner = OWNED.get(inc)
            if owner and layer not in (owner, "tests"):
                errors.append(f"{src} ({layer}): includes <{inc}>, which only the '{owner}' layer uses")
        for inc in INCLUDE.findall(text):
            target = resolve(root, src, inc)
            if target is None:
                errors.append(f"{src}: includes \"{inc}\", which is not in the tree")
                continue
            tl, ts = layer_of(target)
            if tl is None or (tl not in RANK and tl != "tests"):
                errors.append(f"{src}: includes {target}, which is in no layer")
                continue
            private = target.startswith("solvers/")
            if layer == "tests":
                if private and solver != ts:
                    errors.append(f"{src}: includes {target}, a private header of solver '{ts}'")
                continue
            if tl == "tests":
                errors.append(f"{src}: includes test code {target}")
            elif RANK[tl] > RANK[layer]:
                errors.append(f"{src} ({layer}): includes {target} of the higher layer '{tl}'")
            elif layer == "solvers" and tl == "solvers" and ts != solver:
                if private:
                    errors.append(f"{src}: includes {target}, a private header of solver '{ts}'")
                elif (solver, ts) not in PEER_USES:
                    errors.append(f"{src} (solver {solver}): includes solver {ts}'s header {target}")
            elif private and layer != "solvers":
                errors.append(f"{src}: includes {target}, a solver's private header")
    return errors, len(sources)


def self_test():
    """The checker on a small tree with one violation of each rule: it must find exactly those."""
    import tempfile
    files = {
        "include/hjbft/core/a.hpp": '#include "hjbft/model/b.hpp"\n',          # a lower layer includes a higher one
        "include/hjbft/model/b.hpp": '#include "hjbft/core/a.hpp"\n',          # fine
        "solvers/x/private.hpp": "",
        "solvers/y/y.cpp": '#include "../x/private.hpp"\n#include "hjbft/solvers/x.hpp"\n',  # private + peer
        "include/hjbft/solvers/x.hpp": "",
        "src/model/c.cpp": "#include <hdf5.h>\n",                              # HDF5 outside io
        "tests/x/t.cpp": '#include "../../solvers/x/private.hpp"\n',            # fine: the solver's own tests
    }
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as fh:
                fh.write(text)
        errors, _ = check(root)
    expected = ["include/hjbft/core/a.hpp", "solvers/y/y.cpp", "solvers/y/y.cpp", "src/model/c.cpp"]
    found = sorted(e.split(" ")[0].rstrip(":") for e in errors)
    for e in errors:
        print("found (expected): " + e)
    if found != sorted(expected):
        print(f"check_layers self-test FAILED: expected violations in {expected}, found {found}")
        return 1
    print("check_layers self-test: the four planted violations are found, nothing else")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    errors, n = check(os.path.abspath(root))
    for e in errors:
        print("layering: " + e)
    print(f"check_layers: {n} files, {len(errors)} violation(s) of the layering "
          f"({' < '.join(LAYERS)})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
