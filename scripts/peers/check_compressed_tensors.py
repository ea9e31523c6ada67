#!/usr/bin/env python3
"""An ArrowQuant model exported with `arrowquant export --to compressed-tensors`, loaded by the real
libraries (transformers with compressed-tensors, on CPU), against ArrowQuant itself.

Runs in the goldens environment (scripts/setup_goldens.sh); never in CI. For the first CHUNKS chunks
of CTX tokens of a text (llama.cpp's chunking: BOS first, the second half of each chunk scored), it
prints the perplexity from transformers' logits on the compressed-tensors folder, from transformers on
`arrowquant dequantize`'s float model (the same weights, dense), and from `arrowquant ppl` (f32
activations), and the largest logit difference between the two transformers models.

  .venv-goldens/bin/python scripts/peers/check_compressed_tensors.py OUT_MODEL CT_FOLDER TEXT [--chunks 4]
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

import torch
from compressed_tensors.compressors import BaseCompressor
from compressed_tensors.quantization import QuantizationScheme
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "build", "arrowquant")


def chunk_nll(model, ids, ctx):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    first = ctx // 2  # llama-perplexity: logits at first..ctx-2 predict tokens first+1..ctx-1
    nll = -sum(logp[t - 1, ids[t]].item() for t in range(first + 1, ctx))
    return nll, ctx - first - 1, logits


def token_chunks(model_folder, text, ctx, chunks):
    """The chunks `arrowquant ppl` and llama-perplexity score: ids from our tokenizer of the folder, BOS put
    first in each chunk for a model that adds one (tokenizing with --bos then starts with it)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([CLI, "tokenize", model_folder, "-f", text, "--bos", "--json", os.path.join(tmp, "ids.json")],
                       check=True, stdout=subprocess.DEVNULL)
        ids = json.load(open(os.path.join(tmp, "ids.json")))["ids"]
        subprocess.run([CLI, "tokenize", model_folder, "-p", "x", "--bos", "--json", os.path.join(tmp, "x.json")],
                       check=True, stdout=subprocess.DEVNULL)
        x = json.load(open(os.path.join(tmp, "x.json")))["ids"]
    out = []
    for c in range(chunks):
        chunk = ids[c * ctx:(c + 1) * ctx]
        if len(x) > 1:
            chunk[0] = x[0]
        out.append(chunk)
    return out


def perplexity(model, chunks, ctx):
    """A torch model's perplexity over token_chunks(), scored as llama-perplexity scores them."""
    nll, n = 0.0, 0
    for chunk in chunks:
        d, k, _ = chunk_nll(model, chunk, ctx)
        nll, n = nll + d, n + k
    return math.exp(nll / n)


def arrowquant_ppl(model, text, ctx, chunks, activations="f32", extra=()):
    """`arrowquant ppl` of a model folder (None when it prints no perplexity)."""
    out = subprocess.run([CLI, "ppl", model, "-f", text, "--ctx", str(ctx), "--chunks", str(chunks),
                          "--activations", activations, "--threads", "2", *extra], check=True, capture_output=True, text=True)
    m = re.search(r"\| perplexity \| ([0-9.]+) \|", out.stdout)
    return float(m.group(1)) if m else None


def library_decompress_difference(ct_folder, dense_file):
    """Every quantised Linear decompressed by compressed-tensors' own compressor of its config group's
    format (pack-, int- or float-quantized; scales in float32, so the product is exact) against
    ArrowQuant's dequantisation: the largest difference."""
    ct = load_file(os.path.join(ct_folder, "model.safetensors"))
    dense = load_file(dense_file)
    qc = json.load(open(os.path.join(ct_folder, "config.json")))["quantization_config"]
    worst, n = 0.0, 0
    for g in qc["config_groups"].values():
        scheme = QuantizationScheme(targets=["Linear"], weights=g["weights"])
        compressor = BaseCompressor.get_value_from_registry(g.get("format") or qc["format"])
        for p in g["targets"]:
            sd = {s: ct[p + "." + s] for s in ("weight", "weight_packed", "weight_scale", "weight_zero_point", "weight_shape")
                  if p + "." + s in ct}
            sd["weight_scale"] = sd["weight_scale"].float()
            w = compressor.decompress(sd, scheme)["weight"].float()
            worst = max(worst, (w - dense[p + ".weight"].float()).abs().max().item())
            n += 1
    return worst, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="the ArrowQuant model folder that was exported")
    ap.add_argument("ct", help="the compressed-tensors folder")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=4)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        chunks = token_chunks(a.model, a.text, a.ctx, a.chunks)
        dense = os.path.join(tmp, "dense")
        os.makedirs(dense)
        subprocess.run([CLI, "dequantize", a.model, "-o", os.path.join(dense, "model.safetensors"), "--write-config"],
                       check=True, stdout=subprocess.DEVNULL)
        worst_w, modules = library_decompress_difference(a.ct, os.path.join(dense, "model.safetensors"))
        result = {
            "chunks": a.chunks, "ctx": a.ctx,
            "packed_modules": modules,
            "max_abs_weight_difference_library_decompress_vs_arrowquant": worst_w,
            "ppl_arrowquant": arrowquant_ppl(a.model, a.text, a.ctx, a.chunks),
        }
        try:
            ct_model = AutoModelForCausalLM.from_pretrained(a.ct, dtype=torch.float32)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            result["transformers_load_error"] = str(e).splitlines()[0]
            ct_model = None
        dense_model = AutoModelForCausalLM.from_pretrained(dense, dtype=torch.float32)
        totals = {"ct": [0.0, 0], "dense": [0.0, 0]}
        worst = 0.0
        for chunk in chunks:
            n2, k, l2 = chunk_nll(dense_model, chunk, a.ctx)
            totals["dense"][0] += n2
            totals["dense"][1] += k
            if ct_model is not None:
                n1, _, l1 = chunk_nll(ct_model, chunk, a.ctx)
                worst = max(worst, (l1 - l2).abs().max().item())
                totals["ct"][0] += n1
                totals["ct"][1] += k
        result["ppl_transformers_dense_dequantized"] = math.exp(totals["dense"][0] / totals["dense"][1])
        if ct_model is not None:
            result["ppl_transformers_compressed_tensors"] = math.exp(totals["ct"][0] / totals["ct"][1])
            result["max_abs_logit_difference_ct_vs_dense"] = worst
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
