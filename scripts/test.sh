#!/usr/bin/env bash
# Builds kquant-cuda (Release; CUDA when nvcc is present) and runs the whole test suite, then runs the
# CPU unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer. GPU tests skip, saying why,
# when no GPU is present. This is the command .ci/run calls.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${JOBS:-$(nproc)}

scripts/setup.sh

# CUDA code is compiled for one architecture (scripts/cuda_archs.sh): the tests need no more, and it keeps
# a CI run on 2 cores short.
archs=$(scripts/cuda_archs.sh)
# The Python tests run with the interpreter that setup.sh installed `gguf` for.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$archs" \
      -DPython3_EXECUTABLE="$(command -v "${PYTHON:-python3}")" ${KQUANT_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# Sanitizers: CPU-only build (the GPU code is not instrumented by ASan), the unit tests again.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKQUANT_CUDA=OFF -DKQUANT_SANITIZE=ON \
      -DKQUANT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target kquant_tests kquant-cuda kquant-synth
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j"$jobs" -L unit)
