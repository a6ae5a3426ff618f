#!/bin/sh
# bench/herd_size.sh [N...]: the simulator's cost as the herd grows. For each N, a `herd random N 4`
# herd (seed 5, links uniform(1ms,5ms)) takes 200 clients' IAMATs at 200/s for 2 s and must
# converge by 6 s; prints peer deliveries, CPU seconds (user), CPU per delivery, peak RSS and RSS
# per server. Default N: 30 300 3000 10000. Run from the repository root after `make build`.
set -eu
HERD=${HERD:-build/cli/herd}
[ -x "$HERD" ] || { echo "herd_size.sh: $HERD not found (make build first)" >&2; exit 2; }
[ $# -gt 0 ] || set -- 30 300 3000 10000
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf '%8s %12s %10s %14s %10s %14s\n' servers deliveries cpu_s us_per_delivery rss_mb kb_per_server
for n in "$@"; do
    printf 'herd random %s 4\nseed 5\nlatency uniform(1ms,5ms)\nat 0ms workload clients=200 rate=200/s for=2s\nat 6s expect converged\n' \
        "$n" > "$dir/size.scn"
    /usr/bin/time -f '%U %M' -o "$dir/time" "$HERD" sim "$dir/size.scn" > "$dir/out" 2>&1 || {
        echo "herd_size.sh: the $n-server run failed:" >&2; tail -5 "$dir/out" >&2; exit 1; }
    deliveries=$(sed -n 's/.*peer deliveries: \([0-9]*\).*/\1/p' "$dir/out")
    read -r user kb < "$dir/time"
    awk -v n="$n" -v d="$deliveries" -v u="$user" -v kb="$kb" 'BEGIN {
        printf "%8d %12d %10.2f %14.2f %10.0f %14.1f\n", n, d, u, u * 1e6 / d, kb / 1024, kb / n }'
done
