#!/usr/bin/env python3
"""The pretrained terrain UNet (adaptive-terrain-diffusion 0.4.2, MIT) against our quantised weights.

Runs in the goldens environment (onnx, onnxruntime): the product itself never needs either.

  convert  ONNX initializers -> a safetensors file of the network's weight matrices, each as the
           product our kernels would run: a Conv's [out, in, kh, kw] as [out, in*kh*kw] (im2col
           order), a Gemm's weight as [out, in]. Biases, norms and constants stay in the ONNX file.
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


def weight_matrices(model):
    """name -> (array as stored in the ONNX file, how it becomes [out, in]) for every Conv/Gemm weight."""
    import onnx
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    found = {}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        array = numpy_helper.to_array(inits[node.input[1]])
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
    e = sub.add_parser("evaluate", help="per-sigma output error of dequantised weights against the float graph")
    e.add_argument("candidates", nargs="+", help="LABEL=FILE.safetensors (from arrowquant dequantize)")
    e.add_argument("--onnx", help="ONNX file (default: the one terrain_diffusion bundles)")
    e.add_argument("--images", type=int, default=8, help="images per sigma (default 8)")
    e.add_argument("--batch", type=int, default=4)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--json", help="also write the table as JSON here")
    args = p.parse_args()
    convert(args) if args.command == "convert" else evaluate(args)


if __name__ == "__main__":
    main()
