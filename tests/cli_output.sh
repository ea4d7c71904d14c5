#!/bin/sh
# usage: cli_output.sh HJBFT
# -o handling of `hjbft exact`: an unwritable path fails with an error naming -o and
# creates nothing; a failing run leaves no file (final or temporary) in the output
# directory; a successful run leaves the output file and no temporary file.
hjbft=$1
fail() { echo "cli_output: $*"; exit 1; }
dir=$(mktemp -d) || fail "mktemp"
trap 'rm -rf "$dir"' EXIT
small="-da_grid_x 9 -nt 4"

out=$("$hjbft" exact $small -o /nonexistent/dir/x.h5 2>&1); rc=$?
printf '%s\n' "$out"
[ $rc -ne 0 ] || fail "unwritable -o: exit status 0"
printf '%s\n' "$out" | grep -q -e '-o' || fail "unwritable -o: the error does not name -o"
[ ! -e /nonexistent/dir/x.h5 ] || fail "unwritable -o: a file appeared"

out=$("$hjbft" exact $small -o "$dir" 2>&1); rc=$?
printf '%s\n' "$out"
[ $rc -ne 0 ] || fail "-o naming a directory: exit status 0"
printf '%s\n' "$out" | grep -q -e '-o' || fail "-o naming a directory: the error does not name -o"

out=$("$hjbft" exact $small -beta -1 -o "$dir/x.h5" 2>&1); rc=$?
printf '%s\n' "$out"
[ $rc -ne 0 ] || fail "bad input: exit status 0"
[ -z "$(ls -A "$dir")" ] || fail "a failed run left files: $(ls -A "$dir")"

out=$("$hjbft" exact $small -btea 2 -o "$dir/x.h5" 2>&1); rc=$?
printf '%s\n' "$out"
[ $rc -eq 1 ] || fail "unused option: exit status $rc, not 1"
[ -z "$(ls -A "$dir")" ] || fail "a run with an unused option left files: $(ls -A "$dir")"

out=$("$hjbft" exact $small -o "$dir/x.h5" 2>&1); rc=$?
printf '%s\n' "$out"
[ $rc -eq 0 ] || fail "valid run: exit status $rc"
[ -f "$dir/x.h5" ] || fail "a valid run did not write x.h5"
# (companion files such as x.xmf may sit next to it; temporaries may not)
! ls -A "$dir" | grep -q -e '\.tmp' || fail "a valid run left a temporary file: $(ls -A "$dir")"
# A failed run keeps an earlier file of the same name (atomic writes) and says that it is not its result.
cp "$dir/x.h5" "$dir/before.h5"
sleep 1  # file times have a resolution of one second on some file systems
out=$("$hjbft" exact $small -beta -1 -o "$dir/x.h5" 2>&1); rc=$?
printf '%s\n' "$out"
[ $rc -eq 1 ] || fail "bad input over an earlier file: exit status $rc"
cmp -s "$dir/x.h5" "$dir/before.h5" || fail "a failed run changed the earlier x.h5"
printf '%s\n' "$out" | grep -q "note: this run wrote nothing; '$dir/x.h5' is left as an earlier run wrote it" ||
  fail "a failed run over an earlier file does not say that the file is not its result"
echo "cli_output: ok"
