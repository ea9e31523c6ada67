#!/usr/bin/env python3
"""A GPTQ or AWQ checkpoint — ours (`arrowquant export --to gptq`) or GPTQModel's own — loaded by
GPTQModel itself (CPU) and read by ArrowQuant as it is: every quantised Linear as GPTQModel dequantises
it against `arrowquant dequantize CHECKPOINT`, and GPTQModel's perplexity against `arrowquant ppl
CHECKPOINT` on the same chunks (llama-perplexity's chunking; ids from our tokenizer of the folder).

  GPTQMODEL_CPU_WORKERS=2 .venv-goldens/bin/python scripts/peers/check_gptqmodel.py CHECKPOINT TEXT [--chunks 4]
"""
import argparse
import json
import os
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
from check_compressed_tensors import CLI, arrowquant_ppl, perplexity, token_chunks  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="a GPTQ or AWQ folder (with a tokenizer.json: GPTQModel insists on one)")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dense = os.path.join(tmp, "dense.safetensors")
        subprocess.run([CLI, "dequantize", a.checkpoint, "-o", dense], check=True, stdout=subprocess.DEVNULL)
        ours = load_file(dense)
    # Plain torch kernels (GPTQ: every width, unlike the fused CPU one); float16, the dtypes they take, so
    # GPTQModel's dequantised weights are rounded to float16 (the difference reported).
    method = json.load(open(os.path.join(a.checkpoint, "config.json")))["quantization_config"]["quant_method"]
    q = GPTQModel.load(a.checkpoint, device="cpu", dtype=torch.float16,
                       backend=BACKEND.TORCH if method == "gptq" else BACKEND.AWQ_TORCH)
    worst, n = 0.0, 0
    quantised = [(name, m) for name, m in q.model.named_modules() if isinstance(m, BaseQuantLinear)]
    for name, m in quantised:
        with torch.no_grad():
            if hasattr(m, "dequantize_weight"):
                w = m.dequantize_weight().float().t()
            else:  # its AWQ kernels have none: the product with the identity is the weight, transposed
                bias = m.bias.float() if getattr(m, "bias", None) is not None else 0
                w = (m(torch.eye(m.in_features, dtype=torch.float16)).float() - bias).t()
        worst = max(worst, (w - ours[name + ".weight"].float()).abs().max().item())
        n += 1
        # Replaced by a float32 Linear of GPTQModel's weights, for the perplexity below.
        dense = torch.nn.Linear(m.in_features, m.out_features, bias=getattr(m, "bias", None) is not None)
        dense.weight.data = w.contiguous()
        if dense.bias is not None:
            dense.bias.data = m.bias.float().clone()
        parent, _, leaf = name.rpartition(".")
        setattr(q.model.get_submodule(parent), leaf, dense)
    chunks = token_chunks(a.checkpoint, a.text, a.ctx, a.chunks)
    print(json.dumps({"quantised_linears": n, "max_abs_weight_difference_gptqmodel_vs_arrowquant": worst,
                      # GPTQModel's dequantised weights in float32 arithmetic; ours on the folder itself (read as
                      # it is): the same weights, embeddings included
                      "ppl_gptqmodel": perplexity(q.model.float().eval(), chunks, a.ctx),
                      "ppl_arrowquant": arrowquant_ppl(a.checkpoint, a.text, a.ctx, a.chunks),
                      "chunks": a.chunks, "ctx": a.ctx}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
