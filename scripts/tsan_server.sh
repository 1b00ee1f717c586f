#!/usr/bin/env bash
# ThreadSanitizer over the running server: the shard loops, forwarding between shards,
# the reply gate, group commit, give-backs applied once durable (engine credit.c) and
# the snapshot barrier, none of which the Criterion suites can run under TSan.
#
# Usage: scripts/tsan_server.sh TSAN_BUILD_DIR RELEASE_BUILD_DIR
#   Builds invd in TSAN_BUILD_DIR (configured with -DINV_SANITIZE=thread), starts it on a
#   free loopback port with 2 shards, fsync durability and a snapshot every 300 ms,
#   drives invbench's full mix against it (reserves, commits, releases, availability,
#   TTL expiry; orders cross shards) from RELEASE_BUILD_DIR, stops it with SIGTERM by
#   its pid, and fails if TSan reported anything or invd did not exit 0. Bounded: the
#   server is waited for 60 s to start and 60 s to stop; the load runs a few seconds.
set -euo pipefail
tsan_dir=$1
release_dir=$2
cd "$(dirname "$0")/.."
cmake --build "$tsan_dir" -j "$(nproc)" --target invd
cmake --build "$release_dir" -j "$(nproc)" --target invbench

work=$(mktemp -d /tmp/invd-tsan-XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# exitcode=66: a server that raced exits with it even after a clean drain.
TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1" \
  "$tsan_dir/apps/invd" --port 0 --admin-port 0 --shards 2 --durability fsync \
  --snapshot-interval-ms 300 --data-dir "$work/data" --ready-file "$work/ready" \
  --log-level info 2>"$work/invd.log" &
pid=$!
for _ in $(seq 600); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "TSan invd did not start:"; cat "$work/invd.log"; exit 1; }
port=$(sed -n 's/^port=//p' "$work/ready")
echo "TSan invd (pid $pid) on 127.0.0.1:$port"

bench_status=0
"$release_dir/bench/invbench/invbench" --quiet --systems invd --invd-port "$port" \
  --nodes 200 --skus 2000 --customers 20000 --pool-orders 40000 --ttl-ms 500 \
  --warmup-s 1 --flash-s 1 --steady-s "${INV_TSAN_SERVER_SECONDS:-6}" --no-half-peak \
  --connections 2 --depth 16 --out "$work/bench" || bench_status=$?

kill -TERM "$pid"
status=0
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid" || status=$?
pid=""
if grep -q "ThreadSanitizer" "$work/invd.log"; then
  echo "ThreadSanitizer reported in invd:"
  cat "$work/invd.log"
  exit 1
fi
[ "$status" -eq 0 ] || { echo "TSan invd exited with $status:"; cat "$work/invd.log"; exit 1; }
[ "$bench_status" -eq 0 ] || { echo "invbench against the TSan invd failed ($bench_status)"; exit 1; }
snapshots=$(grep -c "snapshot durable" "$work/invd.log" || true)
[ "$snapshots" -ge 1 ] || { echo "no snapshot was taken under load:"; cat "$work/invd.log"; exit 1; }
echo "TSan invd: no report, clean exit, $snapshots snapshots taken under load"
