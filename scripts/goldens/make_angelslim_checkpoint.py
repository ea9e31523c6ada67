#!/usr/bin/env python3
"""AngelSlim's `w4a8_awq` checkpoint of the tiny Llama, made by AngelSlim's own code, for the
checkpoint reader and `arrowquant import`.

AngelSlim 0.5.0 (PyPI `angelslim`, installed with --no-deps by scripts/setup_goldens.sh) writes this
format in angelslim/compressor/quant/core/weight_quantize.py (mixed_weight_quantize): every Linear
in SUFFIX_TO_QUANT becomes
    <module>.qweight             int8 [out, in/2], two int4 per byte (bf16_to_int4_pack)
    <module>.weight_scale        bfloat16 scalar: the FP8 tensor scale of TensorRT-LLM's W4A8 kernels
    <module>.weight_scale.int4   bfloat16 [out, in/group]: w = q * scale
except the layers matching `ignored_layers`, which stay FP8 E4M3 with block scales
(create_fp8_quantized_param: <module>.weight, <module>.weight_scale_inv). Its driver runs each shard on
a CUDA device, so this script calls the same two functions on the CPU (loaded from the installed
package's files: importing `angelslim` itself needs its whole dependency tree) and writes the folder
and config.json exactly as mixed_weight_quantize does.

The tiny model (hidden 64) is too narrow for AngelSlim's defaults (groups of 128, FP8 blocks of
128 x 128): W4 groups of 32 and FP8 blocks of 32 x 32 here.

  .venv-goldens/bin/python scripts/goldens/make_angelslim_checkpoint.py
writes tests/goldens/peers/angelslim_w4a8_awq/ and angelslim_w4a8_awq_logits.safetensors (float32
logits of the model whose Linears are dequantised by AngelSlim's definitions: q * weight_scale.int4,
fp8 * weight_scale_inv per block).

  .venv-goldens/bin/python scripts/goldens/make_angelslim_checkpoint.py --model SMOL_HF --out DIR \
        --group 64 --block 64 --ppl wiki.test.raw --chunks 29
makes the checkpoint of a real float model (SmolLM2's 576-wide rows: groups and blocks of 64) and
prints the perplexity of its AngelSlim-dequantised float model in transformers beside `arrowquant ppl`
of the checkpoint, on the same chunks (scripts/peers/check_compressed_tensors.py's scoring).
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import types

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests", "goldens", "tiny", "llama")
OUT = os.path.join(ROOT, "tests", "goldens", "peers")
NAME = "angelslim_w4a8_awq"
W4_GROUP, FP8_BLOCK = 32, (32, 32)
IGNORED = ["*self_attn*"]  # FP8 layers, as AngelSlim's DeepSeek/Kimi configs name them


def angelslim_weight_quantize():
    """angelslim/compressor/quant/core/weight_quantize.py with its two in-package imports satisfied."""
    spec = importlib.util.find_spec("angelslim")
    base = os.path.join(os.path.dirname(spec.origin), "compressor", "quant", "core")
    for name in ("angelslim", "angelslim.compressor", "angelslim.compressor.quant", "angelslim.compressor.quant.core"):
        sys.modules.setdefault(name, types.ModuleType(name))
    utils = types.ModuleType("angelslim.utils")
    utils.find_layers = lambda *a, **k: {}
    utils.print_info = lambda *a, **k: None
    sys.modules["angelslim.utils"] = utils

    def load(module, path):
        s = importlib.util.spec_from_file_location(module, path)
        m = importlib.util.module_from_spec(s)
        sys.modules[module] = m
        s.loader.exec_module(m)
        return m

    load("angelslim.compressor.quant.core.packing_utils", os.path.join(base, "packing_utils.py"))
    return load("angelslim.compressor.quant.core.weight_quantize", os.path.join(base, "weight_quantize.py"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=TINY)
    ap.add_argument("--out", default=os.path.join(OUT, NAME))
    ap.add_argument("--group", type=int, default=W4_GROUP)
    ap.add_argument("--block", type=int, default=FP8_BLOCK[0])
    ap.add_argument("--ppl", help="score this text file (a real model)")
    ap.add_argument("--chunks", type=int, default=29)
    a = ap.parse_args()
    group, block = a.group, (a.block, a.block)
    wq = angelslim_weight_quantize()
    folder = a.out
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    src = load_file(os.path.join(a.model, "model.safetensors"))
    out, dequantised = {}, {}
    for name, w in src.items():
        quantisable = any(name.endswith(s) for s in wq.SUFFIX_TO_QUANT)
        if quantisable and ".self_attn." in name:  # FP8 blocks (weight_scale_inv)
            q, scale_inv = wq.create_fp8_quantized_param(w, block)
            out[name], out[name + "_scale_inv"] = q, scale_inv
            br, bc = min(block[0], w.shape[0]), min(block[1], w.shape[1])
            s = scale_inv.reshape(-1, (w.shape[1] + bc - 1) // bc).float()
            s = s.repeat_interleave(br, 0)[: w.shape[0]].repeat_interleave(bc, 1)[:, : w.shape[1]]
            dequantised[name] = q.float() * s
        elif quantisable:  # W4: int4 symmetric per group, packed two per byte
            packed, fp8_scale, int4_scale = wq.bf16_to_int4_pack(w, group_size=group)
            stem = name[: -len(".weight")]
            out[stem + ".qweight"], out[stem + ".weight_scale"], out[stem + ".weight_scale.int4"] = packed, fp8_scale, int4_scale
            low = (packed.to(torch.int16) << 12 >> 12)  # even input columns: low nibble, sign-extended
            high = (packed.to(torch.int16) >> 4)        # odd input columns: high nibble (arithmetic shift)
            q = torch.stack([low, high], dim=-1).reshape(w.shape).float()
            dequantised[name] = q * int4_scale.float().repeat_interleave(group, 1)
        else:
            out[name] = w
    save_file(out, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    config = json.load(open(os.path.join(a.model, "config.json")))
    config["quantization_config"] = {  # as mixed_weight_quantize writes it
        "quant_method": "w4a8_awq",
        "weight_group_size": group,
        "activation_scheme": "static",
        "kv_cache_quant_method": "fp8",
        "ignored_layers": IGNORED,
        "ignored_quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic", "fmt": "e4m3",
                                        "kv_cache_quant_method": "fp8", "weight_block_size": list(block)},
    }
    json.dump(config, open(os.path.join(folder, "config.json"), "w"), indent=4)
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "tokenizer.gguf"):
        if os.path.exists(os.path.join(a.model, f)):
            shutil.copy(os.path.join(a.model, f), folder)

    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    state = model.state_dict()
    for name, w in dequantised.items():
        state[name].copy_(w)
    model.eval()
    print("wrote", folder)
    if a.ppl:
        sys.path.insert(0, os.path.join(ROOT, "scripts", "peers"))
        from check_compressed_tensors import arrowquant_ppl, perplexity, token_chunks
        chunks = token_chunks(folder, a.ppl, 512, a.chunks)
        print(f"perplexity, {a.chunks} x 512 tokens of {a.ppl}:")
        print(f"  AngelSlim's dequantisation in transformers  {perplexity(model, chunks, 512):.4f}")
        print(f"  arrowquant ppl (f32 activations)            {arrowquant_ppl(folder, a.ppl, 512, a.chunks):.4f}")
        int8 = arrowquant_ppl(folder, a.ppl, 512, a.chunks, "int8", ["--kernel-fallback", "f32"])
        print(f"  arrowquant ppl (int8 activations; FP8 layers f32)  {int8:.4f}")
        return
    torch.manual_seed(0)
    logits = {}
    for i in range(2):
        ids = torch.randint(3, model.config.vocab_size, (24,), dtype=torch.int32)
        with torch.no_grad():
            logits[f"ids_{i}"], logits[f"logits_{i}"] = ids, model(ids[None].long()).logits[0].float().contiguous()
    save_file(logits, os.path.join(OUT, NAME + "_logits.safetensors"))


if __name__ == "__main__":
    main()
