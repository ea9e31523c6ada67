#!/usr/bin/env python3
"""Quantised checkpoints made by a real peer library, for `arrowquant import` and the checkpoint
reader: the `compressed-tensors` library (what llm-compressor and vLLM use) quantises a float model
with its own parameter rules (calculate_qparams on each group's min/max) and packs it with its own
ModelCompressor, exactly as llm-compressor's QuantizationModifier (round to nearest) saves a model.

  .venv-goldens/bin/python scripts/goldens/make_peer_checkpoints.py            # tiny goldens (tests)
  .venv-goldens/bin/python scripts/goldens/make_peer_checkpoints.py --model models/smollm2-135m \
        --out /tmp/peer-smollm2 --schemes w4a16_g64                          # a real model, for ppl

Tiny goldens: tests/goldens/peers/<scheme>/ (the checkpoint of tests/goldens/tiny/llama) and
tests/goldens/peers/<scheme>_logits.safetensors: float32 logits, for fixed token ids, of the model
whose Linears the library's own compressor decompressed (transformers 5.25 cannot load an affine
pack-quantized folder of compressed-tensors 0.20: their zero-point shapes disagree).
Schemes: w4a16_g32 (int4 symmetric, group 32, pack-quantized), w4_asym_g32 (int4 affine, group 32,
pack-quantized, zero points packed), w8a8_channel (int8 symmetric per channel weights and dynamic int8
activations, int-quantized), fp8_channel (FP8 E4M3 per channel weights and dynamic FP8 activations,
float-quantized: llm-compressor's FP8_DYNAMIC), fp8_block (FP8 weights in 32x32 blocks: FP8_BLOCK's
layout at the tiny model's size), w4a16_g64 (as w4a16_g32 with groups of 64: SmolLM2's 576-wide rows
are not whole groups of 128).
Needs torch, transformers, compressed-tensors, safetensors (scripts/setup_goldens.sh).
"""
import argparse
import os
import shutil

import torch
from compressed_tensors.compressors import ModelCompressor
from compressed_tensors.quantization import (QuantizationArgs, QuantizationConfig, QuantizationScheme,
                                             QuantizationStatus, apply_quantization_config)
from compressed_tensors.quantization.utils import calculate_qparams
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "goldens", "tiny", "llama")
OUT = os.path.join(ROOT, "tests", "goldens", "peers")

SCHEMES = {
    "w4a16_g32": ("pack-quantized", dict(weights=QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group", group_size=32))),
    "w4a16_g64": ("pack-quantized", dict(weights=QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group", group_size=64))),
    "w4_asym_g32": ("pack-quantized", dict(weights=QuantizationArgs(num_bits=4, type="int", symmetric=False, strategy="group", group_size=32))),
    "fp8_channel": ("float-quantized", dict(weights=QuantizationArgs(num_bits=8, type="float", symmetric=True, strategy="channel"),
                                            input_activations=QuantizationArgs(num_bits=8, type="float", symmetric=True, strategy="token", dynamic=True))),
    "fp8_block": ("float-quantized", dict(weights=QuantizationArgs(num_bits=8, type="float", symmetric=True, strategy="block", block_structure=[32, 32]))),
    "w8a8_channel": ("int-quantized", dict(weights=QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="channel"),
                                           input_activations=QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="token", dynamic=True))),
}


def quantise(model_dir, out, scheme_name):
    fmt, args = SCHEMES[scheme_name]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float16)
    config = QuantizationConfig(config_groups={"group_0": QuantizationScheme(targets=["Linear"], **args)},
                                ignore=["lm_head"], format=fmt)
    apply_quantization_config(model, config)
    for name, m in model.named_modules():
        if not hasattr(m, "weight_scale"):
            continue
        w = m.weight.data.float()
        a = m.quantization_scheme.weights
        if a.strategy == "group":
            g = w.reshape(w.shape[0], -1, a.group_size)
            lo, hi = g.amin(dim=2), g.amax(dim=2)
        elif a.strategy == "block":
            br, bc = a.block_structure
            g = w.reshape(w.shape[0] // br, br, w.shape[1] // bc, bc)
            lo, hi = g.amin(dim=(1, 3)), g.amax(dim=(1, 3))
        else:
            lo, hi = w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
        scale, zp = calculate_qparams(lo, hi, a)
        m.weight_scale.data.copy_(scale.to(m.weight_scale.dtype))
        if hasattr(m, "weight_zero_point"):
            m.weight_zero_point.data.copy_(zp.to(m.weight_zero_point.dtype))
        m.quantization_status = QuantizationStatus.FROZEN
    compressor = ModelCompressor.from_pretrained_model(model, quantization_format=fmt)
    compressor.compress_model(model)
    if os.path.exists(out):
        shutil.rmtree(out)
    model.save_pretrained(out)
    compressor.update_config(out)
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "tokenizer.gguf"):
        if os.path.exists(os.path.join(model_dir, f)):
            shutil.copy(os.path.join(model_dir, f), out)


def library_dequantised_model(model_dir, folder):
    """The float model with every quantised Linear decompressed by compressed-tensors' own compressor
    (scales in float32, so (q - zp) * scale is exact): what the checkpoint means, by the library."""
    import json
    from compressed_tensors.compressors import BaseCompressor
    from safetensors.torch import load_file
    qc = json.load(open(os.path.join(folder, "config.json")))["quantization_config"]
    compressor = BaseCompressor.get_value_from_registry(qc["format"])
    ct = load_file(os.path.join(folder, "model.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    scheme = QuantizationScheme(targets=["Linear"], **{k: v for k, v in qc["config_groups"]["group_0"].items()
                                                       if k in ("weights", "input_activations")})
    n = 0
    for name, m in model.named_modules():
        if not isinstance(m, torch.nn.Linear) or name + ".weight_scale" not in ct:
            continue
        sd = {k[len(name) + 1:]: v for k, v in ct.items() if k.startswith(name + ".")}
        sd["weight_scale"] = sd["weight_scale"].float()
        m.weight.data = compressor.decompress(sd, scheme)["weight"].float().reshape(m.weight.shape)
        n += 1
    assert n > 0
    return model


def save_logits(model, path):
    """Float32 logits of two fixed random token sequences (ids_i, logits_i), as the tests read them."""
    model.eval()
    torch.manual_seed(0)
    out = {}
    for i in range(2):
        ids = torch.randint(3, model.config.vocab_size, (24,), dtype=torch.int32)
        with torch.no_grad():
            logits = model(ids[None].long()).logits[0].float()
        out[f"ids_{i}"], out[f"logits_{i}"] = ids, logits.contiguous()
    save_file(out, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=TINY)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--schemes", default="w4a16_g32,w4_asym_g32,w8a8_channel,fp8_channel,fp8_block")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for s in a.schemes.split(","):
        folder = os.path.join(a.out, s)
        quantise(a.model, folder, s)
        if a.model == TINY:
            save_logits(library_dequantised_model(a.model, folder), os.path.join(a.out, s + "_logits.safetensors"))
        print("wrote", folder)


if __name__ == "__main__":
    main()
