#!/usr/bin/env bash
# Prints the CUDA architectures the scripts build for: $KQUANT_CUDA_ARCHS when set, else the present
# GPU's own ("native"), else sm_90 (compile coverage without a GPU). A plain CMake build without
# -DCMAKE_CUDA_ARCHITECTURES keeps the full default list (80;86;89;90;120).
if [ -n "${KQUANT_CUDA_ARCHS:-}" ]; then echo "$KQUANT_CUDA_ARCHS"
elif nvidia-smi -L >/dev/null 2>&1; then echo native
else echo 90
fi
