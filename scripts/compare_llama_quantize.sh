#!/usr/bin/env bash
# Hand check, NOT run by CI: quantizes synthetic models with the real llama-quantize and with kquant-cuda
# (CPU) and compares the output files byte for byte. Build llama-quantize yourself (see
# /work/shared/reference/README.md or benchmarks/RESULTS.md); nothing from llama.cpp is in this repository.
#
#   scripts/compare_llama_quantize.sh LLAMA_QUANTIZE KQUANT_CUDA [WORKDIR] [PRESET...]
#
# kquant-synth is taken from KQUANT_CUDA's directory. Environment: THREADS (2), SHAPE (kquant-synth shape
# of the dense/moe/tied models), MODELS (default "dense moe tied even"). WORKDIR defaults to /tmp/kq_compare. Prints one
# Markdown row per preset x model x imatrix: "identical", "both refuse", or the first differing tensor
# (kquant-cuda compare). Needs python3 with the gguf and numpy packages (scripts/make_imatrix.py).
set -u
LQ=$(readlink -f "$1"); KQ=$(readlink -f "$2"); W=${3:-/tmp/kq_compare}; shift $(( $# < 3 ? $# : 3 ))
SYNTH=$(dirname "$KQ")/kquant-synth
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${THREADS:-2}
PRESETS=("$@")
[ ${#PRESETS[@]} -gt 0 ] || PRESETS=(IQ2_XXS IQ2_XS IQ2_S IQ2_M IQ1_S IQ1_M IQ3_XXS IQ3_XS IQ3_S IQ3_M TQ1_0 TQ2_0
                                     MXFP4_MOE Q1_0 Q2_0 Q4_K_M Q2_K_S IQ4_XS)
mkdir -p "$W"
# The IQ quantizers run at 0.2-2 M weights/s per thread: the default shape is small (4 layers, an FFN width
# that is not a multiple of 256, so the shape fallbacks run). SHAPE="--preset small" for the larger one.
SHAPE=${SHAPE:---preset tiny --layers 4 --ffn 704}
# "even": FFN width 512 (no fallbacks), for the types whose fallback is refused (Q1_0: 704 % 128 != 0).
declare -A MODEL_ARGS=([dense]="$SHAPE --seed 1" [moe]="$SHAPE --seed 2 --experts 4" [tied]="$SHAPE --seed 3 --tied"
                       [even]="--preset tiny --layers 4 --seed 4")
read -r -a MODELS <<< "${MODELS:-dense moe tied even}"
for m in "${MODELS[@]}"; do
    [ -f "$W/$m.gguf" ] || "$SYNTH" ${MODEL_ARGS[$m]} --threads "$THREADS" "$W/$m.gguf" >/dev/null || exit 1
    [ -f "$W/$m.imatrix.gguf" ] || python3 "$HERE/make_imatrix.py" "$W/$m.gguf" "$W/$m.imatrix.gguf" >/dev/null || exit 1
done
echo "| preset | model | imatrix | result |"
echo "|---|---|---|---|"
for p in "${PRESETS[@]}"; do
    for m in "${MODELS[@]}"; do
        for im in yes no; do
            ref="$W/ref.$m.$p.$im.gguf" ours="$W/ours.$m.$p.$im.gguf"
            lqargs=() kqargs=()
            if [ $im = yes ]; then lqargs=(--imatrix "$W/$m.imatrix.gguf"); kqargs=(--imatrix "$W/$m.imatrix.gguf"); fi
            "$LQ" "${lqargs[@]}" "$W/$m.gguf" "$ref" "$p" "$THREADS" >"$ref.log" 2>&1; lrc=$?
            "$KQ" --device cpu --threads "$THREADS" "${kqargs[@]}" --type "$p" "$W/$m.gguf" "$ours" >"$ours.log" 2>&1; krc=$?
            if [ $lrc -ne 0 ] && [ $krc -ne 0 ]; then r="both refuse"
            elif [ $lrc -ne 0 ]; then r="**llama-quantize fails (rc $lrc), kquant-cuda writes a file**"
            elif [ $krc -ne 0 ]; then r="**kquant-cuda fails (rc $krc): $(tail -n 1 "$ours.log")**"
            elif cmp -s "$ref" "$ours"; then r="identical"
            else r="**DIFFERS: $("$KQ" compare "$ref" "$ours" 2>&1 | head -n 3 | tr '\n' ' ')**"
            fi
            echo "| $p | $m | $im | $r |"
            [ "$r" = identical ] && rm -f "$ref" "$ours"
        done
    done
done
