#!/usr/bin/env python3
"""The pretrained terrain UNet (adaptive-terrain-diffusion 0.4.2, MIT) against our quantised weights.

Runs in the goldens environment (onnx, onnxruntime): the product itself never needs either.

  convert  ONNX initializers -> a safetensors file of the network's weight matrices, each as the
           product our kernels would run: a Conv's [out, in, kh, kw] as [out, in*kh*kw] (im2col
           order), a Gemm's weight as [out, in]. Biases, norms and constants stay in the ONNX file.
  record   The calibration side: each weight matrix's input Hessian E[x·xᵀ] (a Conv's im2col rows at
           sampled output positions, a Gemm's input rows) over images at sigmas spread log-uniformly
           from 0.002 to 80, on inputs drawn apart from evaluate's (another seed), into one
           safetensors file under the weights' names: `arrowquant quantize --calibration FILE` runs
           GPTQ, importance RTN and --min-accuracy from it.
  evaluate For each dequantised safetensors file (`arrowquant dequantize`), the ONNX graph with those
           weights put back in place runs through onnxruntime on fixed inputs at each sigma; prints
           and writes the relative error of the denoised output against the float graph.

The inputs: clean terrains are the float model's own one-step samples (noise x 80, seeded labels),
then noisy = clean + sigma * fresh noise at each sigma of the grid, labels fixed per image.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

SIGMAS = [0.002, 0.01, 0.05, 0.2, 1.0, 5.0, 20.0, 80.0]
LAYOUT = "terrain_layout.json"


def bundled_onnx() -> Path:
    spec = importlib.util.find_spec("terrain_diffusion")
    if spec is None or spec.origin is None:
        sys.exit("terrain_diffusion is not installed in this environment (scripts/setup_goldens.sh installs it)")
    path = Path(spec.origin).parent / "weights" / "terrain_consistency_unet_difficulty100.onnx"
    if not path.is_file():
        sys.exit(f"{path}: the bundled ONNX model is missing")
    return path


def weight_nodes(model):
    """(node, its attributes, its weight initializer) for every Conv/Gemm whose weight is stored in the file."""
    import onnx

    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm") and len(node.input) >= 2 and node.input[1] in inits:
            yield node, {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}, inits[node.input[1]]


def weight_matrices(model):
    """name -> (array as stored in the ONNX file, how it becomes [out, in]) for every Conv/Gemm weight."""
    from onnx import numpy_helper

    found = {}
    for node, attrs, init in weight_nodes(model):
        array = numpy_helper.to_array(init)
        if node.op_type == "Conv":
            if attrs.get("group", 1) != 1:
                sys.exit(f"{node.name}: grouped convolution is not handled")
            kind = "conv"
        else:
            if attrs.get("transA", 0):
                sys.exit(f"{node.name}: Gemm with transA is not handled")
            kind = "linear" if attrs.get("transB", 0) else "linear_transposed"
        found[node.input[1]] = (array, kind)
    return found


def as_matrix(array, kind):
    if kind == "conv":
        return array.reshape(array.shape[0], -1)
    return array if kind == "linear" else array.T


def from_matrix(matrix, kind, shape):
    if kind == "conv":
        return matrix.reshape(shape)
    return matrix if kind == "linear" else matrix.T


def convert(args):
    import onnx
    from safetensors.numpy import save_file

    onnx_path = Path(args.onnx) if args.onnx else bundled_onnx()
    model = onnx.load(str(onnx_path))
    mats = weight_matrices(model)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {name: np.ascontiguousarray(as_matrix(a, kind).astype(np.float32)) for name, (a, kind) in mats.items()}
    tmp = out / "model.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.rename(out / "model.safetensors")
    layout = {name: {"kind": kind, "shape": list(a.shape)} for name, (a, kind) in mats.items()}
    (out / LAYOUT).write_text(json.dumps({"onnx": str(onnx_path), "tensors": layout}, indent=1))
    n = sum(t.size for t in tensors.values())
    print(f"{out / 'model.safetensors'}: {len(tensors)} weight matrices, {n / 1e6:.2f} M parameters "
          f"(of {sum(np.prod(t.dims) for t in model.graph.initializer) / 1e6:.2f} M in the ONNX file)")


def session(model_bytes, threads):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def run(sess, noisy, sigma, labels, batch):
    outs = []
    for s in range(0, len(noisy), batch):
        feeds = {"noisy": noisy[s:s + batch], "sigma": np.full(len(noisy[s:s + batch]), sigma, np.float32),
                 "difficulty": labels[s:s + batch]}
        outs.append(sess.run(["denoised"], feeds)[0])
    return np.concatenate(outs)


def with_weights(model, mats, path):
    """A copy of the ONNX model with each weight matrix replaced by the one in safetensors `path`."""
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import load_file

    loaded = load_file(str(path))
    missing = sorted(set(mats) - set(loaded))
    if missing:
        sys.exit(f"{path}: lacks {len(missing)} weight matrices, e.g. {missing[0]}")
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for init in copy.graph.initializer:
        if init.name in mats:
            array, kind = mats[init.name]
            m = loaded[init.name].astype(np.float32)
            if m.shape != as_matrix(array, kind).shape:
                sys.exit(f"{path}: {init.name} has shape {m.shape}, expected {as_matrix(array, kind).shape}")
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(from_matrix(m, kind, array.shape)), init.name))
    return copy.SerializeToString()


def conv_rows(x, weight_shape, attrs, positions, rng):
    """im2col rows [n, in*kh*kw] of a Conv's input x [B, C, H, W] (or [B, C, L]) at `positions`
    sampled output positions per image, in the weight's [in, kh, kw] order."""
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        sys.exit("Conv with auto_pad is not handled")
    if x.ndim == 3:  # 1-D: a height of one
        x = x[:, :, None, :]
    kh, kw = (1, weight_shape[2]) if len(weight_shape) == 3 else weight_shape[2:]
    sh, sw = (attrs.get("strides") or [1, 1])[-2:] if len(weight_shape) == 4 else (1, (attrs.get("strides") or [1])[0])
    dh, dw = (attrs.get("dilations") or [1, 1])[-2:] if len(weight_shape) == 4 else (1, (attrs.get("dilations") or [1])[0])
    pads = attrs.get("pads") or [0] * (2 * (len(weight_shape) - 2))
    pt, pl, pb, pr = pads if len(pads) == 4 else (0, pads[0], 0, pads[1])
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    rows = []
    for b in range(x.shape[0]):
        pick = rng.choice(ho * wo, size=min(positions, ho * wo), replace=False)
        oy, ox = pick // wo, pick % wo
        iy = oy[:, None] * sh + dh * np.arange(kh)[None, :]
        ix = ox[:, None] * sw + dw * np.arange(kw)[None, :]
        patch = xp[b][:, iy[:, :, None], ix[:, None, :]]  # [C, P, kh, kw]
        rows.append(patch.transpose(1, 0, 2, 3).reshape(len(pick), -1))
    return np.concatenate(rows)


def record(args):
    import onnx
    from safetensors.numpy import save_file

    onnx_path = Path(args.onnx) if args.onnx else bundled_onnx()
    model = onnx.load(str(onnx_path))
    weight_matrices(model)  # refuses what convert refuses (grouped convolutions, transA)
    # Each recorded weight: the tensor feeding it and how its rows are cut; weights that read the
    # same tensor the same way share one Hessian.
    layers = {}
    for node, attrs, init in weight_nodes(model):
        shape = tuple(init.dims)
        key = (node.input[0], node.op_type, shape[1:], repr(sorted(attrs.items())))
        layers[node.input[1]] = (key, node.op_type, shape, attrs)
    graph_inputs = {i.name for i in model.graph.input}
    wanted = sorted({k[0] for k, *_ in layers.values()} - graph_inputs)
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for name in wanted:
        copy.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    sess = session(copy.SerializeToString(), args.threads)
    fp = session(model.SerializeToString(), args.threads)

    rng = np.random.default_rng(args.seed)
    sigmas = np.geomspace(0.002, 80.0, args.sigmas)
    sums, rows = {}, {}
    n = args.images
    print(f"recording {len(layers)} weight matrices ({len(set(k for k, *_ in layers.values()))} distinct inputs) at "
          f"{len(sigmas)} sigmas x {n} images, {args.positions} positions per image and conv", flush=True)
    for si, sigma in enumerate(sigmas):
        labels = ((rng.integers(1, 101, size=n) - 1) / 99.0).astype(np.float32)
        clean = run(fp, (rng.standard_normal((n, 1, 128, 128)) * 80.0).astype(np.float32), 80.0, labels, args.batch)
        noisy = (clean + sigma * rng.standard_normal(clean.shape)).astype(np.float32)
        for s in range(0, n, args.batch):
            feeds = {"noisy": noisy[s:s + args.batch], "sigma": np.full(len(noisy[s:s + args.batch]), sigma, np.float32),
                     "difficulty": labels[s:s + args.batch]}
            acts = dict(zip(wanted, sess.run(wanted, feeds)))
            acts.update(feeds)
            done = set()
            for key, op, shape, attrs in layers.values():
                if key in done:
                    continue
                done.add(key)
                x = acts[key[0]].astype(np.float32)
                if op == "Conv":
                    xr = conv_rows(x, shape, attrs, args.positions, rng)
                else:
                    xr = x.reshape(x.shape[0], -1) if not attrs.get("transA", 0) else x.T
                h = xr.T @ xr
                if key in sums:
                    sums[key] += h
                    rows[key] += len(xr)
                else:
                    sums[key] = h.astype(np.float64)
                    rows[key] = len(xr)
        print(f"  sigma {sigma:.4g} ({si + 1}/{len(sigmas)})", flush=True)
    tensors = {}
    for name, (key, *_rest) in layers.items():
        h = sums[key] / rows[key]
        tensors[name] = np.ascontiguousarray(((h + h.T) / 2).astype(np.float32))
    out = Path(args.output)
    tmp = out.with_name(out.name + ".tmp")
    meta = {"what": "input Hessian E[x x^T] per weight matrix (terrain_unet.py record)", "onnx": str(onnx_path),
            "sigmas": json.dumps([float(s) for s in sigmas]), "images_per_sigma": str(n),
            "positions_per_image": str(args.positions), "seed": str(args.seed),
            "rows": json.dumps({name: rows[key] for name, (key, *_r) in layers.items()})}
    save_file(tensors, str(tmp), metadata=meta)
    tmp.rename(out)
    print(f"{out}: {len(tensors)} input Hessians, {out.stat().st_size / 1e6:.0f} MB")


def evaluate(args):
    import onnx

    onnx_path = Path(args.onnx) if args.onnx else bundled_onnx()
    model = onnx.load(str(onnx_path))
    mats = weight_matrices(model)
    rng = np.random.default_rng(args.seed)
    n = args.images
    labels = ((rng.integers(1, 101, size=n) - 1) / 99.0).astype(np.float32)
    fp = session(model.SerializeToString(), args.threads)
    clean = run(fp, (rng.standard_normal((n, 1, 128, 128)) * 80.0).astype(np.float32), 80.0, labels, args.batch)
    noisy = {s: (clean + s * rng.standard_normal(clean.shape)).astype(np.float32) for s in SIGMAS}
    reference = {s: run(fp, noisy[s], s, labels, args.batch) for s in SIGMAS}
    rows = []
    print(f"{'relative L2 error at sigma':40s} " + " ".join(f"{s:<8g}" for s in SIGMAS), flush=True)
    for spec in args.candidates:
        label, _, path = spec.partition("=")
        path = Path(path or label)
        sess = session(with_weights(model, mats, path), args.threads)
        errors = {}
        for s in SIGMAS:
            out = run(sess, noisy[s], s, labels, args.batch)
            errors[s] = float(np.linalg.norm(out - reference[s]) / np.linalg.norm(reference[s]))
        # Both: the relative L2 error ||D_q - D||/||D||, and its square (the relative mean squared error).
        rows.append({"setting": label, "file": str(path), "relative_error": {str(s): e for s, e in errors.items()},
                     "relative_mse": {str(s): e * e for s, e in errors.items()}, "worst": max(errors.values())})
        print(f"{label:40s} " + " ".join(f"{errors[s]:.2e}" for s in SIGMAS) + f"  worst {max(errors.values()):.2e}",
              flush=True)
    report = {"model": str(onnx_path), "images": n, "seed": args.seed, "sigmas": SIGMAS,
              "inputs": "float model's one-step samples (noise*80) + sigma*noise, labels seeded", "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="ONNX initializers -> safetensors folder of weight matrices")
    c.add_argument("-o", "--output", required=True, help="folder to write model.safetensors and terrain_layout.json")
    c.add_argument("--onnx", help="ONNX file (default: the one terrain_diffusion bundles)")
    r = sub.add_parser("record", help="each weight matrix's input Hessian over sigma -> safetensors (calibration)")
    r.add_argument("-o", "--output", required=True, help="the .safetensors file to write")
    r.add_argument("--onnx", help="ONNX file (default: the one terrain_diffusion bundles)")
    r.add_argument("--sigmas", type=int, default=16, help="sigmas, log-spaced over [0.002, 80] (default 16)")
    r.add_argument("--images", type=int, default=4, help="images per sigma (default 4)")
    r.add_argument("--positions", type=int, default=256, help="output positions sampled per image and conv (default 256)")
    r.add_argument("--batch", type=int, default=4)
    r.add_argument("--seed", type=int, default=1000, help="kept apart from evaluate's seed (default 1000)")
    r.add_argument("--threads", type=int, default=2)
    e = sub.add_parser("evaluate", help="per-sigma output error of dequantised weights against the float graph")
    e.add_argument("candidates", nargs="+", help="LABEL=FILE.safetensors (from arrowquant dequantize)")
    e.add_argument("--onnx", help="ONNX file (default: the one terrain_diffusion bundles)")
    e.add_argument("--images", type=int, default=8, help="images per sigma (default 8)")
    e.add_argument("--batch", type=int, default=4)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--json", help="also write the table as JSON here")
    args = p.parse_args()
    {"convert": convert, "record": record, "evaluate": evaluate}[args.command](args)


if __name__ == "__main__":
    main()
