#!/usr/bin/env bash
# Memory per stored record: the RSS of one server before and after it stores N distinct
# clients (default 1 million), sent by `herd bench load`. Loopback only; stops the server by PID.
set -euo pipefail
herd=${HERD:-build/cli/herd}
clients=${1:-1000000}
port=${PORT:-$((20000 + RANDOM % 12000))}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "server Solo 127.0.0.1:$port" > "$dir/solo.herd"
"$herd" serve Solo --config "$dir/solo.herd" --log-dir "" > "$dir/out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/out" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
before=$(rss)
connections=10
"$herd" bench load "127.0.0.1:$port" --connections $connections --in-flight 64 --clients $((clients / connections)) \
  --requests "$clients" --seconds 300 | sed 's/^/  /'
after=$(rss)
echo "RSS before: ${before} KiB, after ${clients} clients: ${after} KiB"
echo "bytes per stored record: $(( (after - before) * 1024 / clients ))"
