#!/bin/sh
# Fidelity of t-visibility (issue 29): each scenario of bench/fidelity/ in both worlds with
# `herd replay --compare`, RUNS times, with the simulator's processing cost as measured on this
# machine by `herd replay --calibrate` (PROCESSING, e.g. "normal(204us,61us)"; empty: none).
# Prints each run's t-visibility lines (windows and the largest gap between the two curves).
# Usage: bench/fidelity.sh [RUNS] [PROCESSING]   (from the repository's root, after a build)
set -u
runs=${1:-3}
processing=${2:-}
herd=${HERD:-build/cli/herd}
for file in bench/fidelity/*.scn; do
    for run in $(seq 1 "$runs"); do
        if [ -n "$processing" ]; then
            out=$("$herd" replay "$file" --compare --late-tolerance 1s --skew-tolerance 100ms \
                --sim-processing "$processing" 2>&1)
        else
            out=$("$herd" replay "$file" --compare --late-tolerance 1s --skew-tolerance 100ms 2>&1)
        fi
        echo "== $file run $run${processing:+ (sim processing $processing)}"
        printf '%s\n' "$out" | grep -A1 '^t-visibility' | grep -v '^--'
        printf '%s\n' "$out" | grep '^worlds:'
    done
done
