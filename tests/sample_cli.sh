#!/bin/sh
# sample_cli.sh RC REGEX COMMAND...: runs COMMAND, prints its output, and passes
# when its exit status is RC ("ok" = 0) and the output matches the extended REGEX.
want=$1; regex=$2; shift 2
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
[ "$want" = ok ] && want=0
[ "$rc" -eq "$want" ] || { echo "sample_cli.sh: exit status $rc, expected $want"; exit 1; }
printf '%s\n' "$out" | grep -Eq -- "$regex" || { echo "sample_cli.sh: output does not match: $regex"; exit 1; }
