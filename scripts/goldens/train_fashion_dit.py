#!/usr/bin/env python3
"""Trains the two small models the diffusion work is measured on, from Debian's Fashion-MNIST
(apt-get install dataset-fashion-mnist: /usr/share/datasets/fashion-mnist), in the goldens environment:

  * a class-conditional diffusion transformer (diffusers' DiTTransformer2DModel: patchify, timestep and
    label embeddings, adaLN-Zero blocks, final layer), epsilon-prediction on 28x28 pixels in [-1, 1],
    DDPM linear schedule of 1000 steps, labels dropped 10 % of the time for classifier-free guidance,
    an exponential moving average of the weights (what is saved);
  * an MLP classifier (784-256-128-10, ReLU) whose 128 penultimate features give the Frechet distance
    and whose argmax gives the conditional accuracy of generated samples.

Output (float16 safetensors, a diffusers-format folder):
  OUT/fashion_dit/{model_index.json, transformer/{config.json, diffusion_pytorch_model.safetensors},
                   scheduler/scheduler_config.json, samples.png, training_log.json}
  OUT/fashion_classifier/{config.json, model.safetensors}

The training runs once, never in CI (about an hour for the 20 epochs on two free cores):
  .venv-goldens/bin/python scripts/goldens/train_fashion_dit.py --out tests/goldens/diffusion
"""
import argparse
import copy
import gzip
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

FASHION = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8)


def load_split(split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(f"{FASHION}/{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{FASHION}/{prefix}-labels-idx1-ubyte.gz")
    # Pixels in [-1, 1]: the range the diffusion model generates and the classifier reads.
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def save_safetensors_fp16(module_state, path):
    from safetensors.torch import save_file
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in module_state.items()}, path)


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 256)
        self.fc2 = torch.nn.Linear(256, 128)
        self.fc3 = torch.nn.Linear(128, 10)

    def features(self, x):
        return F.relu(self.fc2(F.relu(self.fc1(x.flatten(1)))))

    def forward(self, x):
        return self.fc3(self.features(x))


def train_classifier(train, test, out_dir, epochs):
    torch.manual_seed(0)
    model = Classifier()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x, y = train
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            idx = perm[i:i + 128]
            # A little noise so features of slightly imperfect generated images stay meaningful.
            xb = x[idx] + 0.05 * torch.randn_like(x[idx])
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors_fp16(model.state_dict(), f"{out_dir}/model.safetensors")
    write_classifier_reference(out_dir, test)


def frechet(mu1, cov1, mu2, cov2):
    import scipy.linalg
    covmean = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def write_classifier_reference(out_dir, test):
    """The saved (float16) classifier's test accuracy, the statistics of its features over the 10,000
    test images (the reference of the Frechet distance) and the distance's noise floor: real test
    subsets of N images against those statistics."""
    from safetensors.torch import load_file, save_file
    model = Classifier()
    model.load_state_dict({k: v.float() for k, v in load_file(f"{out_dir}/model.safetensors").items()})
    model.eval()
    with torch.no_grad():
        accuracy = (model(test[0]).argmax(1) == test[1]).float().mean().item()
        feats = model.features(test[0]).double().numpy()
    mu, cov = feats.mean(0), np.cov(feats, rowvar=False)
    save_file({"mean": torch.from_numpy(mu).float(), "covariance": torch.from_numpy(cov).float()},
              f"{out_dir}/test_features.safetensors")
    rng = np.random.default_rng(0)
    floor = {}
    for n in (100, 250, 500, 1000, 2000):
        d = []
        for _ in range(5):
            f = feats[rng.choice(len(feats), n, replace=False)]
            d.append(frechet(f.mean(0), np.cov(f, rowvar=False), mu, cov))
        floor[str(n)] = [round(float(np.mean(d)), 3), round(float(np.std(d)), 3)]
    with open(f"{out_dir}/config.json", "w") as f:
        json.dump({"architecture": "mlp_classifier", "layers": ["fc1", "fc2", "fc3"],
                   "sizes": [784, 256, 128, 10], "activation": "relu", "feature_layer": "fc2",
                   "input_shape": [1, 28, 28], "input_range": [-1.0, 1.0], "classes": CLASSES,
                   "test_accuracy": round(accuracy, 4),
                   "reference": "test_features.safetensors: mean and covariance of the fc2 features of the "
                                "10000 Fashion-MNIST test images",
                   "frechet_noise_floor": {"what": "N real test images against the reference: mean, std of 5 draws",
                                           **floor},
                   "trained_by": "scripts/goldens/train_fashion_dit.py"}, f, indent=2)
    print(f"classifier: test accuracy {accuracy:.4f}, noise floor {floor}", flush=True)


def make_dit(args):
    from diffusers import DiTTransformer2DModel
    return DiTTransformer2DModel(num_attention_heads=args.heads, attention_head_dim=args.head_dim, in_channels=1,
                                 out_channels=1, num_layers=args.layers, sample_size=28, patch_size=args.patch,
                                 num_embeds_ada_norm=10)


@torch.no_grad()
def ddim_sample(model, labels, steps, guidance, seed):
    from diffusers import DDIMScheduler
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    scheduler.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(labels), 1, 28, 28, generator=g)
    null = torch.full_like(labels, 10)
    for t in scheduler.timesteps:
        tt = torch.full((len(labels),), int(t), dtype=torch.long)
        eps = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([labels, null])).sample
        cond, uncond = eps.chunk(2)
        x = scheduler.step(uncond + guidance * (cond - uncond), t, x).prev_sample
    return x


def save_grid(images, path, columns):
    from PIL import Image
    images = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1).numpy()
    rows = (len(images) + columns - 1) // columns
    grid = np.zeros((rows * 30, columns * 30), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * 30 + 1:r * 30 + 29, c * 30 + 1:c * 30 + 29] = im
    Image.fromarray(grid).resize((columns * 60, rows * 60), Image.NEAREST).save(path)


def train_dit(train, out_dir, args):
    torch.manual_seed(1)
    model = make_dit(args)
    params = sum(p.numel() for p in model.parameters())
    print(f"DiT: {params / 1e6:.2f} M parameters", flush=True)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    betas = torch.linspace(1e-4, 0.02, 1000)
    alpha_bar = torch.cumprod(1 - betas, 0)
    x_all, y_all = train
    steps_per_epoch = len(x_all) // args.batch
    total = steps_per_epoch * args.epochs
    log = []
    step = 0
    start = time.time()
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_all))
        running = 0.0
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch:(i + 1) * args.batch]
            x0, y = x_all[idx], y_all[idx]
            t = torch.randint(0, 1000, (len(x0),))
            noise = torch.randn_like(x0)
            ab = alpha_bar[t].view(-1, 1, 1, 1)
            xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
            lr = args.lr * min(1.0, (step + 1) / 500) * (0.5 * (1 + math.cos(math.pi * step / total)) * 0.9 + 0.1)
            for group in opt.param_groups:
                group["lr"] = lr
            loss = F.mse_loss(model(xt, t, y).sample, noise)  # labels dropped 10 % inside (train mode)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            decay = min(args.ema, (1 + step) / (10 + step))
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - decay)
            running += loss.item()
            step += 1
        elapsed = time.time() - start
        entry = {"epoch": epoch + 1, "loss": round(running / steps_per_epoch, 5), "seconds": round(elapsed, 1),
                 "images_per_s": round(step * args.batch / elapsed, 1)}
        log.append(entry)
        print(json.dumps(entry), flush=True)
        if (epoch + 1) % args.save_every == 0 or epoch + 1 == args.epochs:
            save_dit(ema, out_dir, args, log, params)
    return ema


def save_dit(ema, out_dir, args, log, params):
    os.makedirs(f"{out_dir}/transformer", exist_ok=True)
    os.makedirs(f"{out_dir}/scheduler", exist_ok=True)
    ema.save_pretrained(f"{out_dir}/transformer", safe_serialization=True)
    # save_pretrained writes float32; the committed golden is float16.
    path = f"{out_dir}/transformer/diffusion_pytorch_model.safetensors"
    from safetensors.torch import load_file
    save_safetensors_fp16(load_file(path), path)
    with open(f"{out_dir}/scheduler/scheduler_config.json", "w") as f:
        json.dump({"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_schedule": "linear",
                   "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon", "clip_sample": False},
                  f, indent=2)
    with open(f"{out_dir}/model_index.json", "w") as f:
        # Pixel space: no VAE. The label embedding's last row (index 10) is the null class of guidance.
        json.dump({"_class_name": "DiTPipeline", "transformer": ["diffusers", "DiTTransformer2DModel"],
                   "scheduler": ["diffusers", "DDPMScheduler"], "vae": [None, None],
                   "id2label": {str(i): c for i, c in enumerate(CLASSES)}}, f, indent=2)
    with open(f"{out_dir}/training_log.json", "w") as f:
        json.dump({"parameters": params, "args": vars(args), "epochs": log}, f, indent=2)
    labels = torch.arange(10).repeat_interleave(8)
    save_grid(ddim_sample(ema, labels, 50, args.guidance, seed=1), f"{out_dir}/samples.png", columns=8)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="tests/goldens/diffusion")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--classifier-epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=24)
    p.add_argument("--patch", type=int, default=4)
    p.add_argument("--guidance", type=float, default=2.0, help="guidance scale of the PNG grid")
    p.add_argument("--save-every", type=int, default=5)
    p.add_argument("--only", choices=["dit", "classifier", "classifier-reference"],
                   help="train one of the two, or only recompute the classifier's reference statistics")
    p.add_argument("--limit", type=int, help="train on the first N images (timing runs)")
    args = p.parse_args()
    torch.set_num_threads(int(os.environ.get("TRAIN_THREADS", "2")))
    train, test = load_split("train"), load_split("test")
    if args.limit:
        train = (train[0][:args.limit], train[1][:args.limit])
    if args.only == "classifier-reference":
        return write_classifier_reference(f"{args.out}/fashion_classifier", test)
    if args.only != "dit":
        train_classifier(train, test, f"{args.out}/fashion_classifier", args.classifier_epochs)
    if args.only != "classifier":
        train_dit(train, f"{args.out}/fashion_dit", args)


if __name__ == "__main__":
    main()
