#!/bin/sh
# usage: expect.sh STATUS REGEX command [args...]
#   STATUS: the exact exit status the command must return;
#   REGEX : extended regular expression its combined stdout+stderr must match.
status=$1
regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
[ "$rc" -eq "$status" ] || { echo "expect.sh: expected exit status $status, got $rc"; exit 1; }
printf '%s\n' "$out" | grep -E -q -e "$regex" || { echo "expect.sh: output does not match /$regex/"; exit 1; }
echo "expect.sh: ok (exit status $rc)"
