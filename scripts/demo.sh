#!/usr/bin/env bash
# The main job: build invd and run a short flash sale against the built-in demo data
# set (nodes and customers from bench/data/cn_cities.csv), printing what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target invdemo
exec build/apps/invdemo "$@"
