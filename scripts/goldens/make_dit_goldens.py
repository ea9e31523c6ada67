#!/usr/bin/env python3
"""Goldens of the DiT runtime, made with diffusers itself (goldens environment):

  dit_golden.safetensors: the noise diffusers' DiTTransformer2DModel predicts on fixed inputs
    (x [8,1,28,28] Gaussian, timesteps spread over [0, 999], labels incl. the null class), and a
    DDIM run of diffusers' DDIMScheduler (from the folder's scheduler config) with classifier-free
    guidance, from a stored starting noise: x_T, labels, the final images.

  .venv-goldens/bin/python scripts/goldens/make_dit_goldens.py \
      --model tests/goldens/diffusion/fashion_dit --out tests/goldens/diffusion/dit_golden.safetensors
  (--random-model DIR first writes a small randomly initialised DiT folder there, for quick checks.)
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file


def write_random_model(path):
    from diffusers import DiTTransformer2DModel
    torch.manual_seed(0)
    m = DiTTransformer2DModel(num_attention_heads=2, attention_head_dim=8, in_channels=1, out_channels=1,
                              num_layers=2, sample_size=8, patch_size=2, num_embeds_ada_norm=3)
    with torch.no_grad():  # adaLN-Zero gates would otherwise be small: make every branch matter
        for p in m.parameters():
            p.normal_(0, 0.2)
    m.save_pretrained(f"{path}/transformer", safe_serialization=True)
    os.makedirs(f"{path}/scheduler", exist_ok=True)
    with open(f"{path}/scheduler/scheduler_config.json", "w") as f:
        json.dump({"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_schedule": "linear",
                   "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon", "clip_sample": False}, f)
    with open(f"{path}/model_index.json", "w") as f:
        json.dump({"_class_name": "DiTPipeline", "transformer": ["diffusers", "DiTTransformer2DModel"],
                   "scheduler": ["diffusers", "DDPMScheduler"]}, f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--random-model", action="store_true")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=2.0)
    args = p.parse_args()
    if args.random_model:
        write_random_model(args.model)
    from diffusers import DDIMScheduler, DiTTransformer2DModel
    model = DiTTransformer2DModel.from_pretrained(f"{args.model}/transformer", torch_dtype=torch.float32).eval()
    cfg = model.config
    C, S, K = cfg.in_channels, cfg.sample_size, cfg.num_embeds_ada_norm
    g = torch.Generator().manual_seed(7)
    x = torch.randn(8, C, S, S, generator=g)
    t = torch.tensor([0, 1, 10, 100, 250, 500, 750, 999])
    labels = torch.tensor([i % (K + 1) for i in range(8)])
    with torch.no_grad():
        eps = model(x, t, labels).sample[:, :C]
    scheduler = DDIMScheduler.from_pretrained(f"{args.model}/scheduler")
    scheduler.set_timesteps(args.steps)
    sample_labels = torch.tensor([i % K for i in range(4)])
    x_T = torch.randn(4, C, S, S, generator=g)
    xs = x_T.clone()
    null = torch.full_like(sample_labels, K)
    with torch.no_grad():
        for step in scheduler.timesteps:
            tt = torch.full((8,), int(step))
            e = model(torch.cat([xs, xs]), tt, torch.cat([sample_labels, null])).sample[:, :C]
            cond, uncond = e.chunk(2)
            xs = scheduler.step(uncond + args.guidance * (cond - uncond), step, xs).prev_sample
    save_file({"x": x.contiguous(), "timesteps": t.float(), "labels": labels.int(), "eps": eps.contiguous(),
               "sample_labels": sample_labels.int(), "x_T": x_T.contiguous(), "sample": xs.contiguous(),
               "sample_timesteps": scheduler.timesteps.int()},
              args.out, metadata={"steps": str(args.steps), "guidance": str(args.guidance), "sampler": "ddim",
                                  "made_by": "scripts/goldens/make_dit_goldens.py"})
    print(f"{args.out}: eps |max| {eps.abs().max():.3f}, sample range [{xs.min():.2f}, {xs.max():.2f}]")


if __name__ == "__main__":
    main()
