#!/usr/bin/env bash
# On a machine with a CUDA GPU: configure a Release build for its architecture (scripts/cuda_archs.sh),
# build the test binary and the kernel benchmark, run the whole test binary (GPU tests included, none may skip) and the benchmark. Logs go
# to $OUT when it is set (else to <build>/gpu-check/).
#
# Environment:
#   KQ_BUILD_DIR    build directory (default: build-gpu in the repository)
#   KQ_SKIP_BUILD=1 reuse an existing build in KQ_BUILD_DIR (configure and build are skipped)
#   KQ_CMAKE_ARGS   extra configure arguments (e.g. -DGTest_ROOT=...)
#   KQ_GTEST_ARGS   extra arguments for the test binary (e.g. --gtest_filter='Cuda*')
#   KQ_BENCH_ARGS   arguments for kquant-bench-cuda-kernels (e.g. --types q4_K,q6_K --repeats 9)
#   KQ_NO_BENCH=1   skip the benchmark
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${KQ_BUILD_DIR:-$root/build-gpu}
logs=${OUT:-$build/gpu-check}
mkdir -p "$logs"
jobs=$(nproc 2>/dev/null || echo 4)

say() { echo "== $*" | tee -a "$logs/summary.txt"; }
: >"$logs/summary.txt"

{ nvidia-smi || echo "nvidia-smi failed"; nvcc --version || true; cmake --version || true; } >"$logs/machine.txt" 2>&1
say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"

if [[ "${KQ_SKIP_BUILD:-0}" != 1 ]]; then
    t0=$(date +%s)
    # shellcheck disable=SC2086
    if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKQUANT_CUDA=ON \
        -DCMAKE_CUDA_ARCHITECTURES="$("$root/scripts/cuda_archs.sh")" ${KQ_CMAKE_ARGS:-} >"$logs/configure.log" 2>&1; then
        say "configure FAILED (see configure.log)"; tail -30 "$logs/configure.log"; exit 1
    fi
    if ! cmake --build "$build" -j "$jobs" --target kquant_tests kquant-bench-cuda-kernels \
        >"$logs/build.log" 2>&1; then
        say "build FAILED (see build.log)"; grep -E 'error' "$logs/build.log" | head -30; exit 1
    fi
    say "configure + build: $(( $(date +%s) - t0 )) s"
fi

tests="$build/tests/kquant_tests"
bench="$build/benchmarks/kquant-bench-cuda-kernels"
[[ -x "$tests" ]] || { say "no test binary at $tests"; exit 1; }

t0=$(date +%s)
# shellcheck disable=SC2086
"$tests" --gtest_output="xml:$logs/tests.xml" ${KQ_GTEST_ARGS:-} >"$logs/tests.log" 2>&1
rc_tests=$?
say "tests: exit $rc_tests in $(( $(date +%s) - t0 )) s; $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$logs/tests.log" | tr '\n' ' ')"
grep -E '^\[  FAILED  \]' "$logs/tests.log" | sort -u | tee -a "$logs/summary.txt"
# On a GPU machine a skipped CUDA test means the device was not usable: that is a failure here.
if grep -qE '^\[  SKIPPED \] Cuda' "$logs/tests.log"; then
    say "CUDA tests were SKIPPED on a GPU machine:"; grep -A1 'Skipped' "$logs/tests.log" | head -4
    rc_tests=1
fi

rc_bench=0
if [[ "${KQ_NO_BENCH:-0}" != 1 ]]; then
    [[ -x "$bench" ]] || { say "no benchmark binary at $bench"; exit 1; }
    # shellcheck disable=SC2086
    "$bench" ${KQ_BENCH_ARGS:-} >"$logs/bench.log" 2>&1
    rc_bench=$?
    say "benchmark: exit $rc_bench"
    cat "$logs/bench.log"
fi

cat "$logs/summary.txt"
[[ $rc_tests -eq 0 && $rc_bench -eq 0 ]]
