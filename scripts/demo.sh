#!/usr/bin/env bash
# One command on a fresh machine: installs what is missing, builds Release, makes a small synthetic model
# with kquant-synth and quantizes it to Q4_K_M (on the GPU when one is present, else on the CPU).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$(scripts/cuda_archs.sh)" >/dev/null
cmake --build build -j"$(nproc)" --target kquant-cuda kquant-synth
mkdir -p out
build/kquant-synth --preset small --dtype f16 --seed 1 out/synth-small-f16.gguf
build/kquant-cuda --type "${1:-q4_k_m}" --device auto out/synth-small-f16.gguf out/synth-small-${1:-q4_k_m}.gguf
