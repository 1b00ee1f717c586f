#!/usr/bin/env bash
# Install the Debian 12 packages invd needs to build, test and benchmark, when missing.
# Idempotent: a second run installs nothing. Needs root (or sudo) only when something
# is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  liburing-dev libjemalloc-dev
  libprotobuf-c-dev protobuf-c-compiler
  libcriterion-dev
  libhiredis-dev libmicrohttpd-dev libinih-dev
  redis-server gnuplot-nox
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
