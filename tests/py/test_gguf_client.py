#!/usr/bin/env python3
"""A real client reads what kquant-cuda writes: llama.cpp's own `gguf` Python package.

Makes a synthetic model with kquant-synth, quantizes it with kquant-cuda (CPU) to every supported type,
and checks with gguf.GGUFReader: metadata, tensor names, types, shapes and data offsets; then compares
gguf.quants.dequantize of every quantized tensor with kquant-cuda's own dequantization (the file
re-quantized to F32 with --allow-requantize)."""
import argparse
import os
import subprocess
import sys

import numpy as np
import gguf
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as QT

TYPES = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}\n")
        raise SystemExit(1)
    return r


def kv_value(reader, key):
    f = reader.fields[key]
    return f.contents()


def supported_types(cli):
    out = [t.lower() for t in run([cli, "--list-types"]).stdout.split()]
    missing = [t for t in TYPES if t not in out]
    if missing:  # every type must be there: a silent subset would hide a regression
        raise SystemExit(f"kquant-cuda --list-types lacks {missing}")
    return TYPES


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    src = os.path.join(a.workdir, "client-src.gguf")
    run([a.synth, "--preset", "tiny", "--dtype", "f16", "--seed", "7", src])
    src_r = GGUFReader(src)
    src_tensors = {t.name: t for t in src_r.tensors}

    failures = 0
    checked = 0
    for tname in supported_types(a.cli):
        out = os.path.join(a.workdir, f"client-{tname}.gguf")
        run([a.cli, "--device", "cpu", "--pure", "--type", tname, src, out])
        r = GGUFReader(out)
        # metadata: every input key survives, plus the quantization keys
        assert kv_value(r, "general.architecture") == "llama"
        assert kv_value(r, "general.quantization_version") == 2
        assert kv_value(r, "llama.block_count") == kv_value(src_r, "llama.block_count")
        assert list(kv_value(r, "tokenizer.ggml.tokens"))[:3] == list(kv_value(src_r, "tokenizer.ggml.tokens"))[:3]
        names = [t.name for t in r.tensors]
        assert sorted(names) == sorted(src_tensors), f"{tname}: tensor names differ"
        want_qt = QT[tname.upper()]
        prev_end = 0
        for t in r.tensors:
            s = src_tensors[t.name]
            assert list(t.shape) == list(s.shape), f"{tname}: {t.name} shape {t.shape} != {s.shape}"
            assert t.data_offset % 32 == 0, f"{t.name} misaligned"
            assert t.data_offset >= prev_end
            prev_end = t.data_offset + t.n_bytes
            if len(s.shape) >= 2 and not t.name.endswith("_norm.weight"):
                assert t.tensor_type == want_qt, f"{tname}: {t.name} has type {t.tensor_type.name}"
            else:
                assert t.tensor_type == s.tensor_type, f"{tname}: {t.name} should be copied"
            checked += 1
        # our dequantization of the same file, through the real pipeline
        deq = os.path.join(a.workdir, f"client-{tname}-f32.gguf")
        run([a.cli, "--device", "cpu", "--pure", "--allow-requantize", "--type", "f32", out, deq])
        d = {t.name: t for t in GGUFReader(deq).tensors}
        for t in r.tensors:
            if t.tensor_type != want_qt:
                continue
            theirs = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
            ours = np.asarray(d[t.name].data, dtype=np.float32).reshape(-1)
            if theirs.shape != ours.shape or not np.allclose(theirs, ours, rtol=1e-5, atol=1e-6):
                err = np.max(np.abs(theirs - ours)) if theirs.shape == ours.shape else "shape"
                print(f"FAIL {tname} {t.name}: gguf.quants.dequantize differs from ours (max abs diff {err})")
                failures += 1
    print(f"checked {checked} tensors")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
