#!/usr/bin/env bash
# A real multi-host herd, on this machine: five network namespaces ("hosts"), each with its own
# private address on a bridge that lives in a sixth namespace, so nothing touches this machine's
# own interfaces. One `herd serve` per host from a single herd file with those addresses and the
# herd secret (TLS peer links). Checks: an IAMAT at Alford is answered by WHATSAT at Holiday, two
# hops away; Hamilton's link cut (`ip link set ... down`) and restored loses nothing; logs and
# metrics name the right peers. Everything the test made is removed on exit, even on failure.
# Root only: skipped (exit 77, saying so) otherwise.  Usage: multihost_test.sh HERD_BINARY
set -u
herd=$1
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  echo "multihost: skipped (needs root and iproute2)"; exit 77
fi
tag="hm$$"
subnet="10.213.$(( $$ % 200 + 20 ))"
names=(Alford Ball Hamilton Holiday Welsh)
dir=$(mktemp -d /tmp/herd-multihost-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  for i in 0 1 2 3 4; do ip netns del "${tag}h$i" 2>/dev/null; done
  ip netns del "${tag}sw" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "multihost: FAILED: $*"; for n in "${names[@]}"; do echo "--- $n.log"; tail -n 20 "$dir/logs/$n.log" 2>/dev/null; done; exit 1; }
in_ns() { local ns=$1; shift; timeout 20 ip netns exec "$ns" "$@"; }

# Namespaces must be made and entered (in a chroot whose / is not a mount point, entering fails).
if ! ip netns add "${tag}sw" 2>/dev/null || ! ip netns exec "${tag}sw" true 2>/dev/null; then
  echo "multihost: skipped (cannot make and enter network namespaces here)"; exit 77
fi
in_ns "${tag}sw" ip link add br0 type bridge || fail "bridge"
in_ns "${tag}sw" ip link set br0 up
for i in 0 1 2 3 4; do
  ns="${tag}h$i"
  ip netns add "$ns" || fail "namespace $ns"
  ip link add "${tag}v$i" type veth peer name eth0 netns "$ns" || fail "veth $i"
  ip link set "${tag}v$i" netns "${tag}sw"
  in_ns "${tag}sw" ip link set "${tag}v$i" master br0 up
  in_ns "$ns" ip addr add "$subnet.$((i + 1))/24" dev eth0
  in_ns "$ns" ip link set eth0 up
  in_ns "$ns" ip link set lo up
done

{
  for i in 0 1 2 3 4; do echo "server ${names[$i]} $subnet.$((i + 1)):12000"; done
  printf 'link Alford Hamilton\nlink Alford Welsh\nlink Ball Holiday\nlink Ball Welsh\nlink Hamilton Holiday\n'
} > "$dir/herd.conf"
# As the README's "Across hosts, step by step" writes it: (2) the secret, mode 600; (4) each
# server with its data folder and its admin port on the host's own address; (6) metrics scraped
# from another host.
head -c 32 /dev/urandom | base64 > "$dir/herd.secret"
chmod 600 "$dir/herd.secret"
for i in 0 1 2 3 4; do
  ip netns exec "${tag}h$i" "$herd" serve "${names[$i]}" --config "$dir/herd.conf" \
    --secret-file "$dir/herd.secret" --data-dir "$dir/data/${names[$i]}" \
    --admin "$subnet.$((i + 1)):9100" --log-dir "$dir/logs" \
    > "$dir/${names[$i]}.out" 2>&1 &
  pids+=($!)
done

ask() { # ask HOST_INDEX TARGET_INDEX LINE: the first line of the reply
  printf '%s\n' "$3" | in_ns "${tag}h$1" "$herd" client "$subnet.$(( $2 + 1 )):12000" 2>/dev/null | head -n 1
}
metric() { # metric HOST_INDEX SERIES, scraped from the next host, as a Prometheus elsewhere would
  in_ns "${tag}h$(( ($1 + 1) % 5 ))" curl -s "http://$subnet.$(( $1 + 1 )):9100/metrics" |
    grep "^$2 " | awk '{print $2}'
}
wait_for() { # wait_for SECONDS COMMAND...: until it succeeds
  local end=$((SECONDS + $1)); shift
  until "$@"; do [[ $SECONDS -ge $end ]] && return 1; sleep 0.2; done
}
linked() { [[ "$(metric "$1" 'herd_connections{kind="peer"}')" == "$2" ]]; }

for i in 0 1 2 3 4; do wait_for 20 linked "$i" 2 || fail "${names[$i]} did not link to both neighbours"; done
now() { date +%s.%N; }
at=$(ask 0 0 "IAMAT kiwi +34.068930-118.445127 $(now)")
[[ $at == "AT Alford "* ]] || fail "IAMAT at Alford: '$at'"
far() { [[ "$(ask 3 3 'WHATSAT kiwi 10 1')" == "$at" ]]; }
wait_for 10 far || fail "Holiday (two hops away) did not answer with Alford's line"

# Cut Hamilton off, update at Alford meanwhile, restore: Hamilton catches up.
in_ns "${tag}sw" ip link set "${tag}v2" down
wait_for 20 linked 0 1 || fail "Alford did not see its link to Hamilton go"
during=$(ask 0 0 "IAMAT during-cut +1.000000+1.000000 $(now)")
[[ $during == "AT Alford "* ]] || fail "IAMAT during the cut: '$during'"
in_ns "${tag}sw" ip link set "${tag}v2" up
caught_up() { [[ "$(ask 2 2 'WHATSAT during-cut 1 0')" == "$during" ]]; }
wait_for 30 caught_up || fail "Hamilton did not catch up after its link came back"
wait_for 20 linked 2 2 || fail "Hamilton's links did not come back"

# Logs and metrics name the right peers.
grep -q "peer Hamilton up" "$dir/logs/Alford.log" || fail "Alford's log does not name Hamilton"
grep -q "peer Welsh up" "$dir/logs/Alford.log" || fail "Alford's log does not name Welsh"
grep -q "peer Holiday down" "$dir/logs/Hamilton.log" || fail "Hamilton's log does not show the cut"
grep -q "(TLS)\|TLS up" "$dir/logs/Alford.log" || fail "Alford's peer links are not TLS"
[[ "$(metric 0 herd_records_stored)" == 2 ]] || fail "Alford does not store both records"
echo "multihost: ok (5 hosts on $subnet.0/24, TLS peers, a cut and a restore, nothing lost)"
