#!/usr/bin/env python3
"""An ArrowQuant model exported with `arrowquant export --to gptq`, loaded by GPTQModel itself (CPU):
every quantised Linear dequantised by GPTQModel (float32) against ArrowQuant's own dequantisation,
and the perplexity of GPTQModel's model against `arrowquant ppl GPTQ_FOLDER` on the same chunks.

  GPTQMODEL_CPU_WORKERS=2 .venv-goldens/bin/python scripts/peers/check_gptq_export.py OUT_MODEL GPTQ_FOLDER TEXT [--chunks 4]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

os.environ.setdefault("GPTQMODEL_CPU_WORKERS", "2")
from gptqmodel import BACKEND, GPTQModel  # noqa: E402
from gptqmodel.nn_modules.qlinear import BaseQuantLinear  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_compressed_tensors import CLI, chunk_nll  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("gptq")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dense = os.path.join(tmp, "dense.safetensors")
        subprocess.run([CLI, "dequantize", a.model, "-o", dense], check=True, stdout=subprocess.DEVNULL)
        ours = load_file(dense)
        subprocess.run([CLI, "tokenize", a.model, "-f", a.text, "--bos", "--json", os.path.join(tmp, "ids.json")],
                       check=True, stdout=subprocess.DEVNULL)
        ids = json.load(open(os.path.join(tmp, "ids.json")))["ids"]
    # The plain torch kernel: it takes every width (the fused CPU kernel only 4 bits).
    # float16: the only dtypes it takes; its dequantised weights are rounded to float16 (reported).
    q = GPTQModel.load(a.gptq, device="cpu", dtype=torch.float16, backend=BACKEND.TORCH)
    worst, n = 0.0, 0
    for name, m in q.model.named_modules():
        if isinstance(m, BaseQuantLinear):
            w = m.dequantize_weight().float().t()
            worst = max(worst, (w - ours[name + ".weight"].float()).abs().max().item())
            n += 1
    # Ours on the GPTQ folder itself (read as it is): the same weights GPTQModel runs, embeddings included.
    out = subprocess.run([CLI, "ppl", a.gptq, "-f", a.text, "--ctx", str(a.ctx), "--chunks", str(a.chunks),
                          "--activations", "f32", "--threads", "2"], check=True, capture_output=True, text=True)
    m = re.search(r"\| perplexity \| ([0-9.]+) \|", out.stdout)
    q.model.float().eval()  # its dequantised weights, our float32 arithmetic for the perplexity
    nll, k = 0.0, 0
    for c in range(a.chunks):
        d, kk, _ = chunk_nll(q.model, ids[c * a.ctx:(c + 1) * a.ctx], a.ctx)
        nll, k = nll + d, k + kk
    print(json.dumps({"quantised_linears": n, "max_abs_weight_difference_gptqmodel_vs_arrowquant": worst,
                      "ppl_gptqmodel": math.exp(nll / k), "ppl_arrowquant": float(m.group(1)) if m else None,
                      "chunks": a.chunks, "ctx": a.ctx}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
