#!/usr/bin/env python3
"""Write a random importance matrix in llama-imatrix's GGUF format for a model (a hand check's helper,
used by scripts/compare_llama_quantize.sh; not run by CI).

    make_imatrix.py MODEL.gguf OUT.imatrix.gguf [--seed N]

Every weight tensor of two or more dimensions except token_embd.weight gets `<name>.in_sum2`
(F32, [n_cols] or [n_cols, n_experts]) and `<name>.counts` (F32, [1] or [1, n_experts]), with positive
random sums and positive integral counts, so every per-column weight is positive.
"""
import argparse

import numpy as np
import gguf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    r = gguf.GGUFReader(a.model)
    w = gguf.GGUFWriter(a.out, "imatrix")
    # GGUFWriter writes general.architecture; llama-imatrix files have general.type instead. Drop it.
    w.kv_data[0].pop("general.architecture", None)
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", ["random.txt"])
    w.add_uint32("imatrix.chunk_count", 100)
    w.add_uint32("imatrix.chunk_size", 512)
    entries = []
    for t in r.tensors:
        ne = [int(x) for x in t.shape]  # ggml order: ne[0] = row length
        if not t.name.endswith(".weight") or len(ne) < 2 or t.name == "token_embd.weight":
            continue
        n_cols = ne[0]
        n_mat = ne[2] if len(ne) >= 3 else 1
        entries.append((t.name, n_cols, n_mat))
    for name, n_cols, n_mat in sorted(entries):
        counts = rng.integers(50, 200, size=n_mat).astype(np.float32)
        sums = (rng.exponential(1.0, size=(n_mat, n_cols)).astype(np.float32) + np.float32(1e-3)) * counts[:, None]
        if n_mat == 1:
            w.add_tensor(name + ".counts", counts.reshape(1), raw_dtype=gguf.GGMLQuantizationType.F32)
            w.add_tensor(name + ".in_sum2", sums.reshape(n_cols), raw_dtype=gguf.GGMLQuantizationType.F32)
        else:
            w.add_tensor(name + ".counts", counts.reshape(n_mat, 1), raw_dtype=gguf.GGMLQuantizationType.F32)
            w.add_tensor(name + ".in_sum2", sums.astype(np.float32), raw_dtype=gguf.GGMLQuantizationType.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{a.out}: {len(entries)} entries")


if __name__ == "__main__":
    main()
