#!/usr/bin/env bash
# Installs what herd needs to build and test on Debian 12, and nothing when it is all there.
# Packages (design §9): never libboost-dev or libboost-all-dev (1.74, which conflicts with 1.81).
set -euo pipefail

# What building and running herd needs (`make run`).
packages=(
  g++ make cmake ninja-build
  libboost1.81-dev libboost-program-options1.81-dev
  libcurl4-openssl-dev libssl-dev rapidjson-dev
)
# `scripts/setup.sh test`: also what the tests use (`make test`): GoogleTest, Google Benchmark,
# and the real programs the tests drive (openssl for certificates, a Prometheus server, curl,
# YAML for the manifests, systemd-analyze for the unit, iproute2 for network namespaces).
test_packages=(
  libgtest-dev libbenchmark-dev
  openssl prometheus curl python3-yaml systemd iproute2
)
# Other arguments: extra packages a target asks for (e.g. clang-14 libc++-14-dev for the
# determinism build).
for arg in "$@"; do
  if [[ $arg == test ]]; then packages+=("${test_packages[@]}"); else packages+=("$arg"); fi
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
