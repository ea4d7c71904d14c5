#!/bin/sh
# usage: fresh.sh FILE command [args...]
# Removes FILE (with its .xmf companion and temporaries), then runs the command: a test that
# produces FILE for another test can never leave an earlier run's FILE in place, so the
# reader cannot pass on a stale result (alone, under ctest -R, or after a failed producer).
f=$1
shift
rm -f "$f" "${f%.h5}.xmf" "$f".tmp.*
exec "$@"
