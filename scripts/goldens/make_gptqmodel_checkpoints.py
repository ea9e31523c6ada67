#!/usr/bin/env python3
"""GPTQ checkpoints made by GPTQModel itself (its own GPTQ on CPU, its own packing and saving), for
the checkpoint reader: tests/goldens/peers/gptqmodel_w4_g32_{sym,asym}/ from tests/goldens/tiny/llama,
calibrated on tests/goldens/stories260k/calibration.txt, and <name>_logits.safetensors: float32
logits, for fixed token ids, of the float model whose Linears are GPTQModel's own dequantisation
(TorchLinear.dequantize_weight, in float32, after its loader's v1 -> v2 conversion).

  GPTQMODEL_CPU_WORKERS=2 .venv-goldens/bin/python scripts/goldens/make_gptqmodel_checkpoints.py

Needs torch, transformers, gptqmodel (scripts/setup_goldens.sh; CPU only works).
"""
import glob
import os
import shutil

import sys

import torch
from transformers import AutoModelForCausalLM

os.environ.setdefault("GPTQMODEL_CPU_WORKERS", "2")  # its loader asks for 2 CPU workers
from gptqmodel import GPTQModel, QuantizeConfig  # noqa: E402
from gptqmodel.nn_modules.qlinear import BaseQuantLinear  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_peer_checkpoints import save_logits  # noqa: E402
TINY = os.path.join(ROOT, "tests", "goldens", "tiny", "llama")
OUT = os.path.join(ROOT, "tests", "goldens", "peers")
CALIBRATION = os.path.join(ROOT, "tests", "goldens", "stories260k", "calibration.txt")


def main():
    lines = [t for t in open(CALIBRATION, encoding="utf-8").read().split("\n") if len(t) > 40][:32]
    for sym in (True, False):
        name = f"gptqmodel_w4_g32_{'sym' if sym else 'asym'}"
        folder = os.path.join(OUT, name)
        if os.path.exists(folder):
            shutil.rmtree(folder)
        model = GPTQModel.load(TINY, QuantizeConfig(bits=4, group_size=32, sym=sym, desc_act=False), device="cpu")
        model.quantize(lines, batch_size=4)
        model.save(folder)
        for f in glob.glob(os.path.join(folder, "quant_log.csv")):
            os.remove(f)  # GPTQModel's own log, not part of the checkpoint
        # GPTQModel's dequantisation, put into the float model.
        q = GPTQModel.load(folder, device="cpu", dtype=torch.float32)  # its dequantisation in float32: exact
        dense = AutoModelForCausalLM.from_pretrained(TINY, dtype=torch.float32)
        modules = dict(dense.named_modules())
        n = 0
        for mname, m in q.model.named_modules():
            if isinstance(m, BaseQuantLinear):
                w = m.dequantize_weight().float().t()  # [in, out] -> [out, in]
                modules[mname].weight.data = w.reshape(modules[mname].weight.shape).contiguous()
                n += 1
        assert n == 14, n
        params = dict(dense.named_parameters())
        for pname, p in q.model.named_parameters():  # embeddings, norms and head as GPTQModel stored them
            if pname in params:
                params[pname].data = p.data.float().clone()
        save_logits(dense, os.path.join(OUT, name + "_logits.safetensors"))
        print("wrote", folder)


if __name__ == "__main__":
    main()
