#!/usr/bin/env bash
# make coverage: how much of core/ the sweeps over the two shipped bases reach. Builds `herd` with
# core counted by gcov (in BUILD, default build-cov), sweeps SEEDS seeds (default 2000) of each
# base with every fault kind, once with the base's herd and once with --topology vary, and prints
# the lines and branches of core/ run, per file and in all, after each.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build-cov}"
SEEDS="${2:-2000}"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHERD_COVERAGE=ON >/dev/null
cmake --build "$BUILD" --target herd -j"${JOBS:-2}" >/dev/null
objects="$BUILD/core/CMakeFiles/herd_core.dir"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Sums gcov's per-file lines into "lines L% of N, branches taken B% of M" (core/*.cpp only).
summary() {
    (cd "$objects" && gcov -b -n ./*.gcno 2>/dev/null) | awk -v show="$1" '
        /^File / { file = $2; gsub(/\x27/, "", file); keep = (file ~ /core\/[a-z_]+\.cpp$/) }
        keep && /^Lines executed:/ { split($2, a, ":"); p = a[2] + 0; n = $4 + 0;
            lines += p * n / 100; lines_n += n; if (show) printf "  %-28s lines %6.1f%% of %5d", file, p, n }
        keep && /^Taken at least once:/ { split($4, b, ":"); p = b[2] + 0; n = $6 + 0;
            taken += p * n / 100; taken_n += n; if (show) printf "   branches %6.1f%% of %5d\n", p, n }
        keep && /^No branches/ { if (show) printf "\n" }
        END { printf "core/ in all: lines %.1f%% of %d, branches taken %.1f%% of %d\n",
              100 * lines / lines_n, lines_n, 100 * taken / taken_n, taken_n }'
}

for topology in same vary; do
    find "$BUILD" -name '*.gcda' -delete
    for base in sweep_fall2017 sweep_random30; do
        # (Flags an older herd lacks are left out: the script also measures earlier commits.)
        flags=()
        help="$("$BUILD/cli/herd" sweep --help)"
        if grep -q -- --topology <<<"$help"; then flags+=(--topology "$topology"); fi
        if grep -q -- --unshrunk-max <<<"$help"; then flags+=(--unshrunk-max 0); fi
        "$BUILD/cli/herd" sweep "scenarios/$base.scn" --seeds "1..$SEEDS" --jobs "${JOBS:-2}" \
            --no-shrink --quiet --out "$out/$base" "${flags[@]}" >/dev/null || true
    done
    echo "== $SEEDS seeds of each shipped base, topology $topology"
    summary "${SHOW_FILES:-0}"
done
