#!/bin/sh
# usage: cli_expect.sh EXPECT REGEX command [args...]
#   EXPECT: ok (exit status 0), fail (non-zero), or a number (that exact status).
#   REGEX : extended regular expression that the combined stdout+stderr must match.
# Prints the command's output, then why the check failed, if it did.
expect=$1
regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
case $expect in
  ok) [ $rc -eq 0 ] || { echo "cli_expect: expected exit status 0, got $rc"; exit 1; } ;;
  fail) [ $rc -ne 0 ] || { echo "cli_expect: expected a non-zero exit status, got 0"; exit 1; } ;;
  *) [ $rc -eq "$expect" ] || { echo "cli_expect: expected exit status $expect, got $rc"; exit 1; } ;;
esac
printf '%s\n' "$out" | grep -E -q -e "$regex" || { echo "cli_expect: output does not match /$regex/"; exit 1; }
echo "cli_expect: ok (exit status $rc)"
