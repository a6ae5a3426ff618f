#!/usr/bin/env bash
# Memory per idle connection: the RSS of one server before and after N connections that send
# nothing (default 2000), then after each of them sends a 60 KiB partial line. Connections are
# opened by bash itself (/dev/tcp); loopback only; the server is stopped by PID.
set -euo pipefail
herd=${HERD:-build/cli/herd}
conns=${1:-2000}
port=${PORT:-$((20000 + RANDOM % 12000))}
ulimit -n $((conns + 256))
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "server Solo 127.0.0.1:$port" > "$dir/solo.herd"
"$herd" serve Solo --config "$dir/solo.herd" --log-dir "" --max-conns-per-ip $((conns + 10)) \
  --admin 127.0.0.1:$((port + 1)) > "$dir/out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/out" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
clients() {
  exec {m}<>/dev/tcp/127.0.0.1/$((port + 1))
  printf 'GET /metrics HTTP/1.1\r\n\r\n' >&$m
  awk '/^herd_connections\{kind="client"\}/ {print $2}' <&$m
  exec {m}>&-
}
settle() { for _ in $(seq 100); do [[ $(clients) == "$1" ]] && break; sleep 0.1; done; sleep 0.5; }
# A first connection and a first line, so what is allocated once is not counted per connection.
exec {warm}<>/dev/tcp/127.0.0.1/$port
printf 'IAMAT warm +1.0+1.0 5\n' >&$warm
settle 1
before=$(rss)
fds=()
for ((i = 0; i < conns; i++)); do
  exec {fd}<>/dev/tcp/127.0.0.1/$port
  fds+=("$fd")
done
settle $((conns + 1))
idle=$(rss)
partial=$(head -c 61440 /dev/zero | tr '\0' 'x')
for fd in "${fds[@]}"; do printf '%s' "$partial" >&"$fd"; done
sleep 1
holding=$(rss)
echo "RSS with 1 connection: ${before} KiB; with $conns more idle: ${idle} KiB; each holding 60 KiB of a line: ${holding} KiB"
echo "bytes per idle connection: $(( (idle - before) * 1024 / conns ))"
echo "bytes per connection holding a 60 KiB partial line: $(( (holding - before) * 1024 / conns ))"
