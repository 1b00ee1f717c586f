#!/usr/bin/env bash
# The main job: install what is missing, build invd, start it on a temporary data
# directory and a free loopback port, load the built-in demo data set (nodes and stock
# from bench/data/cn_cities.csv) with invctl, run a short flash sale through libinvclient
# (e2e_bench --demo), print what happened, and stop the server by its pid. Bounded: the
# server is waited for 30 s at most and always stopped. (The same sale in-process, with
# no network and no disk: build/apps/invdemo.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j "$(nproc)" --target invd invctl e2e_bench >/dev/null

work=$(mktemp -d /tmp/invd-demo-XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

build/bench/e2e_bench --write-scenario "$work"
build/apps/invd --port 0 --admin-port 0 --data-dir "$work/data" --ready-file "$work/ready" \
  --log-level warn "$@" 2>"$work/invd.log" &
pid=$!
for _ in $(seq 300); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "invd did not start:"; cat "$work/invd.log"; exit 1; }
port=$(sed -n 's/^port=//p' "$work/ready")
admin=$(sed -n 's/^admin_port=//p' "$work/ready")
echo "invd (pid $pid) on 127.0.0.1:$port, admin http://127.0.0.1:$admin/metrics"

ctl() { build/apps/invctl --port "$port" "$@"; }
ctl load-nodes "$work/nodes.csv"
ctl load-stock "$work/stock.csv"
status=0
build/bench/e2e_bench --port "$port" --demo || status=$?
echo
ctl stats
echo
ctl availability FLASH-00 --lat 31.23 --lon 121.47 --max-nodes 5
kill -TERM "$pid"
wait "$pid" || status=$?
pid=""
echo "invd stopped cleanly"
exit "$status"
