#!/usr/bin/env bash
# The determinism check across standard libraries: core and sim built with clang-14 and libc++
# must replay scenarios with the same trace hash as the g++/libstdc++ build.
set -euo pipefail
cd "$(dirname "$0")/.."
gcc_build=${1:-build}
scripts/setup.sh clang-14 libc++-14-dev libc++abi-14-dev
CXX=clang++-14 cmake -S . -B build-libcxx -G Ninja -DHERD_CORE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS=-stdlib=libc++ -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++ >/dev/null
cmake --build build-libcxx -j2 --target herd_sim_hash
cmake --build "$gcc_build" -j2 --target herd_sim_hash
status=0
for scenario in scenarios/chaos.scn scenarios/partition_heal.scn scenarios/places.scn scenarios/clock_skew.scn; do
  a=$("$gcc_build"/sim/herd_sim_hash "$scenario")
  b=$(build-libcxx/sim/herd_sim_hash "$scenario")
  if [[ "$a" == "$b" ]]; then
    echo "same trace on libstdc++ and libc++: $scenario ($a)"
  else
    echo "DIFFERENT traces for $scenario: libstdc++ $a, libc++ $b" >&2
    status=1
  fi
done
exit $status
