#!/usr/bin/env python3
"""Sampling speed of a DiT pipeline: `arrowquant sample` on the float model and on quantised copies
(each with the weights as the engine runs them) against diffusers + torch on the same model, the same
image count, steps, guidance and threads, in one run (goldens environment: torch, diffusers).

  .venv-goldens/bin/python scripts/peers/bench_dit.py tests/goldens/diffusion/fashion_dit \
      --quantized /tmp/fd-w8 /tmp/fd-w4 --images 40 --steps 50 --threads 2 --repeat 2
"""
import argparse
import re
import subprocess
import sys
import time


def ours(cli, model, args, extra):
    cmd = [cli, "sample", model, "-n", str(args.images), "--steps", str(args.steps), "--guidance", str(args.guidance),
           "--threads", str(args.threads), "--batch-size", str(args.batch), "--npy", "/tmp/bench_dit_out.npy"] + extra
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    m = re.search(r"\(([0-9.]+) images/s", out)
    return float(m.group(1))


def torch_images_per_s(model_dir, args):
    import torch
    from diffusers import DDIMScheduler, DiTTransformer2DModel
    torch.set_num_threads(args.threads)
    model = DiTTransformer2DModel.from_pretrained(f"{model_dir}/transformer", torch_dtype=torch.float32).eval()
    sched = DDIMScheduler.from_pretrained(f"{model_dir}/scheduler")
    c = model.config
    labels = torch.arange(args.images) % c.num_embeds_ada_norm
    t0 = time.time()
    with torch.inference_mode():
        for start in range(0, args.images, args.batch):
            y = labels[start:start + args.batch]
            x = torch.randn(len(y), c.in_channels, c.sample_size, c.sample_size)
            sched.set_timesteps(args.steps)
            null = torch.full_like(y, c.num_embeds_ada_norm)
            for t in sched.timesteps:
                e = model(torch.cat([x, x]), torch.full((2 * len(y),), int(t)), torch.cat([y, null])).sample
                cond, uncond = e[:, :c.in_channels].chunk(2)
                x = sched.step(uncond + args.guidance * (cond - uncond), t, x).prev_sample
    return args.images / (time.time() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--quantized", nargs="*", default=[])
    p.add_argument("--cli", default="build/arrowquant")
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=40)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    rows = [("diffusers + torch (float32)", lambda: torch_images_per_s(args.model, args)),
            ("arrowquant, float32", lambda: ours(args.cli, args.model, args, []))]
    for q in args.quantized:
        rows.append((f"arrowquant {q}, packed f32 act.", lambda q=q: ours(args.cli, q, args, ["--weights", "packed"])))
        rows.append((f"arrowquant {q}, packed int8 act.",
                     lambda q=q: ours(args.cli, q, args, ["--weights", "packed", "--activations", "int8",
                                                          "--kernel-fallback", "f32"])))
        rows.append((f"arrowquant {q}, dequantised float", lambda q=q: ours(args.cli, q, args, ["--weights", "float"])))
    results = {name: [] for name, _ in rows}
    for _ in range(args.repeat):
        for name, fn in rows:
            results[name].append(fn())
    base = results["diffusers + torch (float32)"]
    print(f"| {args.images} images, {args.steps} DDIM steps, guidance {args.guidance}, {args.threads} threads | images/s "
          f"(runs) | vs torch |")
    print("|---|---:|---:|")
    for name, v in results.items():
        ratio = [x / b for x, b in zip(v, base)]
        print(f"| {name} | {' / '.join(f'{x:.2f}' for x in v)} | {' / '.join(f'{r:.2f}x' for r in ratio)} |")


if __name__ == "__main__":
    sys.exit(main())
