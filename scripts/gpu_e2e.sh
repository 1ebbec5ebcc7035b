#!/usr/bin/env bash
# End-to-end benchmark of an 8B-shaped F16 model (made by kquant-synth) on a GPU machine: the CUDA path
# for Q4_K (pure), Q6_K (pure), Q8_0 and Q4_K_M, then Q4_K on every path (scalar, AVX2, AVX-512, CUDA)
# in one run, so the ratios compare like with like; then one process writing Q4_K_M, Q5_K_M, Q6_K and Q8_0
# against the four single runs, and cold runs (--cold, as root). Results (JSON, CSV, logs) go to OUTDIR.
#
# usage: scripts/gpu_e2e.sh BUILD_DIR OUTDIR [PRESET]      (PRESET: 8b by default; 1b for a quick look)
set -euo pipefail
build=${1:?build directory}
out=${2:?output directory}
preset=${3:-8b}
mkdir -p "$out"
work=${KQ_WORKDIR:-/tmp/kq-e2e}
mkdir -p "$work"
model="$work/synth-$preset-f16.gguf"

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true; nproc; free -g | head -2; date -u; } \
  > "$out/e2e-machine.txt" 2>&1
t0=$(date +%s)
[ -f "$model" ] || "$build/kquant-synth" --preset "$preset" --dtype f16 --seed 1 "$model"
echo "synth: $(( $(date +%s) - t0 )) s" | tee -a "$out/e2e-machine.txt"

# The GPU on four presets: warm-up run first (the model is in the page cache: it was just written).
"$build/kquant-bench" --model "$model" --types q4_k-pure,q6_k-pure,q8_0,q4_k_m --paths cuda --repeats 3 \
  --workdir "$work/gpu" --json "$out/e2e-gpu.json" --csv "$out/e2e-gpu.csv" -q 2>&1 | tee "$out/e2e-gpu.txt"

# Every path on Q4_K in one run (CPU paths take tens of seconds on 8B: one timed run each).
"$build/kquant-bench" --model "$model" --types q4_k-pure --paths scalar,avx2,avx512,cuda --repeats 1 \
  --no-warmup --workdir "$work/all" --json "$out/e2e-paths.json" --csv "$out/e2e-paths.csv" -q 2>&1 \
  | tee "$out/e2e-paths.txt"

# One read, four outputs (issue 15) against the four single runs: whole processes as a user runs them,
# warm page cache, the two commands alternating (3 rounds after one warm-up each); then the outputs of
# the last round compared byte for byte.
cli="$build/kquant-cuda"
types=(Q4_K_M Q5_K_M Q6_K Q8_0)
mkdir -p "$work/multi" "$work/single"
runs_log="$out/e2e-multi-runs.log"  # the processes' own lines
multi() { "$cli" -q --type "$(IFS=,; echo "${types[*]}")" "$model" "$work/multi/m-{type}.gguf" >>"$runs_log" 2>&1; }
singles() { for t in "${types[@]}"; do "$cli" -q --type "$t" "$model" "$work/single/m-$t.gguf" >>"$runs_log" 2>&1; done; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk "BEGIN { printf \"%.3f\", $t1 - $t0 }"; }
multi; singles
{
  echo "round multi_s singles_s"
  for r in 1 2 3; do echo "$r $(secs multi) $(secs singles)"; done
  for t in "${types[@]}"; do cmp "$work/multi/m-$t.gguf" "$work/single/m-$t.gguf" && echo "$t: identical"; done
} 2>&1 | tee "$out/e2e-multi.txt"

# Cold runs (drops the page cache: root only; kquant-bench says so otherwise) against a plain sequential
# read of the file.
"$build/kquant-bench" --model "$model" --types q4_k-pure --paths cuda --repeats 2 --cold \
  --workdir "$work/cold" --json "$out/e2e-cold.json" --csv "$out/e2e-cold.csv" -q 2>&1 | tee "$out/e2e-cold.txt"
