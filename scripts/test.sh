#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, a -Werror build, every Criterion
# suite under ctest, then the concurrency stress suites and a loaded invd under
# ThreadSanitizer, and every suite under AddressSanitizer + UBSan. CI-sized throughout.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc)
build() { # dir, [--target T...], extra cmake args...
  local dir=$1; shift
  local targets=()
  while [ "${1:-}" = "--target" ]; do targets+=(--target "$2"); shift 2; done
  cmake -S . -B "$dir" -DINV_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

echo "== release build and all suites"
build build
ctest --test-dir build --output-on-failure

echo "== ThreadSanitizer: concurrency stress"
# Only the concurrency suites: under TSan they run on tests/support/nocriterion (Criterion
# cannot start there, see tests/CMakeLists.txt).
build build-tsan --target test_stress --target test_shard \
  -DCMAKE_BUILD_TYPE=Debug -DINV_SANITIZE=thread -DCMAKE_C_COMPILER=clang-14
INV_STRESS_OPS=${INV_STRESS_OPS_TSAN:-200000} \
  ctest --test-dir build-tsan --output-on-failure -R 'test_stress|test_shard'

echo "== ThreadSanitizer: the server under load (shard loops, forwarding, snapshots)"
scripts/tsan_server.sh build-tsan build

echo "== AddressSanitizer + UBSan: every suite"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DINV_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang-14
INV_STRESS_OPS=${INV_STRESS_OPS_ASAN:-300000} \
  ctest --test-dir build-asan --output-on-failure

echo "== libFuzzer: frame decoding and request handling (bounded run)"
build build-fuzz --target fuzz_request -DCMAKE_BUILD_TYPE=Debug -DINV_FUZZ=ON \
  -DINV_SANITIZE=address,undefined -DCMAKE_C_COMPILER=clang-14
mkdir -p build-fuzz/fuzz-corpus
build-fuzz/tests/fuzz/fuzz_request -max_total_time="${INV_FUZZ_SECONDS:-30}" \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  build-fuzz/fuzz-corpus tests/fuzz/corpus
