#!/usr/bin/env python3
"""Split models as llama.cpp's own `gguf` Python package writes them (GGUFWriter with split_max_tensors,
the same shard layout as gguf-split): kquant-cuda must read every shard from the first one, give the
same bytes as for the unsplit model, and with --keep-split write one shard per input shard that
gguf.GGUFReader reads back with the right split keys and tensors."""
import argparse
import glob
import os
import subprocess
import sys

import numpy as np
from gguf import GGUFReader, GGUFWriter, GGUFValueType as VT


def run(cmd, ok=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if ok and r.returncode != 0:
        sys.stderr.write(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}\n")
        raise SystemExit(1)
    return r


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


def rewrite(src, dst, split_max_tensors):
    """Writes src's KVs and tensors with gguf-py's writer (split when split_max_tensors > 0)."""
    r = GGUFReader(src)
    arch = r.fields["general.architecture"].contents()
    w = GGUFWriter(dst, arch, split_max_tensors=split_max_tensors)
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == VT.ARRAY else None
        w.add_key_value(name, f.contents(), vtype, sub_type=sub)
    for t in r.tensors:
        w.add_tensor(t.name, np.array(t.data), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    d = os.path.join(a.workdir, "split")
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(d, "*")):
        os.remove(f)
    synth = os.path.join(d, "synth.gguf")
    run([a.synth, "--preset", "tiny", "--dtype", "f16", "--seed", "11", synth])

    whole = os.path.join(d, "whole.gguf")
    rewrite(synth, whole, 0)
    rewrite(synth, os.path.join(d, "m.gguf"), 8)
    shards = sorted(glob.glob(os.path.join(d, "m-*-of-*.gguf")))
    check(len(shards) == 3, f"gguf-py wrote {len(shards)} shards, expected 3: {shards}")
    first = shards[0]
    check(first.endswith("-00001-of-00003.gguf"), first)

    # Merged: the same bytes as the unsplit model (the split keys are dropped).
    for preset in ["q4_k_m", "q8_0"]:
        out_whole = os.path.join(d, f"whole-{preset}.gguf")
        out_split = os.path.join(d, f"merged-{preset}.gguf")
        run([a.cli, "-q", "--device", "cpu", "--type", preset, whole, out_whole])
        run([a.cli, "-q", "--device", "cpu", "--type", preset, first, out_split])
        check(open(out_whole, "rb").read() == open(out_split, "rb").read(),
              f"{preset}: quantizing the split model differs from quantizing the whole one")

    # --keep-split: one output per input shard, gguf-split's keys, the input's tensors per shard.
    ref = GGUFReader(os.path.join(d, "whole-q4_k_m.gguf"))
    ref_data = {t.name: bytes(t.data.tobytes()) for t in ref.tensors}
    run([a.cli, "-q", "--device", "cpu", "--type", "q4_k_m", "--keep-split", first, os.path.join(d, "ks.gguf")])
    outs = sorted(glob.glob(os.path.join(d, "ks-*-of-*.gguf")))
    check([os.path.basename(p) for p in outs] == [f"ks-0000{k}-of-00003.gguf" for k in (1, 2, 3)], str(outs))
    seen = 0
    for k, (src_path, out_path) in enumerate(zip(shards, outs)):
        src, out = GGUFReader(src_path), GGUFReader(out_path)
        check(out.fields["split.no"].contents() == k, f"{out_path}: split.no")
        check(out.fields["split.count"].contents() == 3, f"{out_path}: split.count")
        check(out.fields["split.tensors.count"].contents() == len(ref.tensors), f"{out_path}: split.tensors.count")
        check(out.fields["split.no"].types[0] == VT.UINT16 and out.fields["split.tensors.count"].types[0] == VT.INT32,
              f"{out_path}: split key types")
        model_keys = [n for n in out.fields if not n.startswith("GGUF.") and not n.startswith("split.")]
        check((k == 0) == bool(model_keys), f"{out_path}: model KVs only in the first shard ({model_keys})")
        check([t.name for t in out.tensors] == [t.name for t in src.tensors], f"{out_path}: tensor names/order")
        for t in out.tensors:
            check(bytes(t.data.tobytes()) == ref_data[t.name], f"{out_path}: {t.name} differs from the merged output")
            seen += 1
    check(seen == len(ref.tensors), f"{seen} tensors in the shards, {len(ref.tensors)} in the model")

    # The first shard is required: opening another says which one to open.
    r = run([a.cli, "-q", "--device", "cpu", "--type", "q8_0", shards[1], os.path.join(d, "bad.gguf")], ok=False)
    check(r.returncode == 1 and "open the first shard" in r.stderr, f"second shard: {r.returncode} {r.stderr}")
    check(not os.path.exists(os.path.join(d, "bad.gguf")), "an output was left after an error")
    print(f"split OK: 3 shards, {len(ref.tensors)} tensors, merged and --keep-split")


if __name__ == "__main__":
    main()
