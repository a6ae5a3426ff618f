#!/bin/sh
# The checker's memory over a long run (issue 27): the Fall 2017 herd at 1 000 IAMATs/s for each
# length given in seconds (default 60 600 3600; a day is 86390), peak RSS and CPU of `herd sim`.
# Bounded memory is the same peak at every length.
set -eu
herd=${HERD:-build/cli/herd}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for seconds in ${*:-60 600 3600}; do
    file="$dir/long$seconds.scn"
    printf 'herd fall2017\nseed 4\nat 0ms workload clients=1000 rate=1000/s for=%ss\nat %ss expect converged\n' \
        "$seconds" "$((seconds + 5 > 86400 ? 86400 : seconds + 5))" > "$file"
    /usr/bin/time -f "$seconds s: peak %M KB, %U s CPU" "$herd" sim "$file" --quiet 2>&1 | tail -1
done
