#!/bin/sh
# herd fmt as a user runs it: print, --check, --write (atomic, mode kept), stdin, errors.
# usage: fmt_test.sh HERD SOURCE_DIR (run in a scratch folder)
set -u
herd=$1
src=$2
fail() { echo "FAIL: $*"; exit 1; }

# Every shipped scenario is in canonical form.
"$herd" fmt --check "$src"/scenarios/*.scn "$src"/tests/report/*.scn "$src"/tests/net/*.scn ||
    fail "a shipped scenario is not formatted"

printf 'herd   line 3  # three\n\n  seed 4\nat 1500ms  cut s1   s2\nat 2s restore s1 s2\n' > messy.scn
printf 'herd line 3  # three\n\nseed 4\nat 1500ms cut s1 s2\nat 2s     restore s1 s2\n' > want.scn
chmod 640 messy.scn
"$herd" fmt messy.scn > printed.scn || fail "print: exit $?"
cmp printed.scn want.scn || fail "print: not the canonical text"
out=$("$herd" fmt --check messy.scn); rc=$?
[ $rc -eq 1 ] && [ "$out" = messy.scn ] || fail "--check on a messy file: exit $rc, '$out'"
"$herd" fmt --write messy.scn || fail "--write: exit $?"
cmp messy.scn want.scn || fail "--write: not the canonical text"
[ "$(stat -c %a messy.scn)" = 640 ] || fail "--write changed the mode"
ls messy.scn.herd-fmt 2> /dev/null && fail "--write left its temporary file"
"$herd" fmt --check messy.scn > /dev/null || fail "--check after --write: exit $?"
"$herd" fmt - < want.scn | cmp - want.scn || fail "stdin"

# A malformed file: file:line, exit 2, and --write leaves it as it was.
printf 'herd fall2017\nat 1s  partition a | | b\n' > bad.scn
cp bad.scn bad.orig
out=$("$herd" fmt --write bad.scn 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$out" = 'bad.scn:2: expected `partition GROUP | GROUP ...` with servers in every group' ] ||
    fail "malformed: exit $rc, '$out'"
cmp bad.scn bad.orig || fail "--write changed a malformed file"
"$herd" fmt --check --write want.scn 2> /dev/null; [ $? -eq 2 ] || fail "--check --write: not exit 2"
"$herd" fmt 2> /dev/null; [ $? -eq 2 ] || fail "no file: not exit 2"
"$herd" fmt --help | grep -q -- --check || fail "--help does not list --check"
"$herd" fmt --bogus 2> /dev/null; [ $? -eq 2 ] || fail "a bad flag: not exit 2"
"$herd" fmt nowhere.scn 2> /dev/null; [ $? -eq 2 ] || fail "a missing file: not exit 2"
# --write follows a symlink, which stays a link; the target is formatted.
printf 'herd   line 3\n' > target.scn
ln -sf target.scn link.scn
"$herd" fmt --write link.scn || fail "--write through a symlink: exit $?"
[ -L link.scn ] || fail "--write replaced the symlink"
[ "$(cat target.scn)" = 'herd line 3' ] || fail "--write did not format the symlink's target"
ls target.scn.herd-fmt-* 2> /dev/null && fail "--write left a temporary file"

# A client line ending in a CR (before the CR LF) cannot be written back: refused, not changed.
printf 'herd line 2\nat 0s send s1 IAMAT k +1.0+1.0 1.5\r\r\n' > cr.scn
"$herd" fmt cr.scn > /dev/null 2> cr.err; rc=$?
[ $rc -eq 2 ] && grep -q 'cr.scn:2: expected a client line without a carriage return' cr.err ||
    fail "CR CR LF: exit $rc, $(cat cr.err)"

# Input is read up to the 16 MiB bound only: an endless stream is refused, not read whole.
timeout 60 "$herd" fmt /dev/zero > /dev/null 2> zero.err; rc=$?
[ $rc -eq 2 ] && grep -q 'at most 16 MiB' zero.err || fail "/dev/zero: exit $rc, $(cat zero.err)"
# A file that would grow past the bound when aligned is left as it is.
awk 'BEGIN { print "herd fall2017"; for (i = 0; i < 900000; i++) print "at 0ms heal #cccc" }' > big.scn
cp big.scn big.orig
"$herd" fmt --write big.scn 2> big.err; rc=$?
[ $rc -eq 2 ] && grep -q 'over the 16 MiB' big.err && cmp -s big.scn big.orig ||
    fail "a file growing past the bound: exit $rc, $(cat big.err)"
rm -f big.scn big.orig
echo ok
