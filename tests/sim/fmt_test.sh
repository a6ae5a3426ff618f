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
echo ok
