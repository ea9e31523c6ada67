#!/usr/bin/env python3
"""GPTQ golden: a straightforward NumPy GPTQ (column by column, every later column updated at once,
no lazy blocks) on small layers, for tests/unit/gptq_test.cc to compare against the C++ one.

Writes tests/goldens/gptq/cases.safetensors (per case: W, H and the expected codes / scales / zero
points) and cases.json (the settings of each case). Only NumPy is needed:
    .venv-goldens/bin/python scripts/goldens/make_gptq_golden.py
"""
import json
import pathlib
import struct

import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "goldens" / "gptq"


def f16_round(x):
    return np.float32(np.float16(np.float32(x)))


def group_params(x, bits, symmetric):
    """The same rule as src/quant/group_params.h with clip=minmax."""
    qmax = (1 << bits) - 1
    mid = 1 << (bits - 1)
    lo = min(0.0, float(x.min()))
    hi = max(0.0, float(x.max()))

    def params(scale, lo_):
        s = f16_round(scale)
        if symmetric:
            z = mid
        elif s > 0:
            # C++ std::lround: halves away from zero
            v = -lo_ / s
            z = int(np.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)
            z = min(max(z, 0), qmax)
        else:
            z = 0
        return np.float32(s), z

    def sq_err(p):
        s, z = p
        q = codes_of(x, p, qmax)
        d = x - s * (q.astype(np.float32) - np.float32(z))
        return float(np.sum(d.astype(np.float64) ** 2))

    if not symmetric:
        return params(np.float32(hi - lo) / np.float32(qmax), np.float32(lo))
    amax = np.float32(max(-lo, hi))
    best = params(amax / np.float32(mid), 0.0)
    best_err = sq_err(best)
    for den in (mid, max(1, mid - 1)):
        p = params(amax / np.float32(den), 0.0)
        e = sq_err(p)
        if e < best_err:
            best, best_err = p, e
    return best


def codes_of(x, p, qmax):
    s, z = p
    if s <= 0:
        return np.full(np.shape(x), z, dtype=np.int64)
    return np.clip(np.rint(np.float32(x) / s).astype(np.int64) + z, 0, qmax)


def gptq_reference(W, H, bits, symmetric, group, damp, act_order):
    W = W.astype(np.float32).copy()
    rows, C = W.shape
    H = H.astype(np.float64).copy()
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    gs = C if group == 0 else group
    ngroups = (C + gs - 1) // gs
    static = act_order
    perm = np.argsort(-np.diag(H), kind="stable") if act_order else np.arange(C)
    qmax = (1 << bits) - 1
    params = [[None] * ngroups for _ in range(rows)]
    if static:
        W0 = W.copy()
        for r in range(rows):
            for g in range(ngroups):
                params[r][g] = group_params(W0[r, g * gs:(g + 1) * gs], bits, symmetric)
    W = W[:, perm]
    Hp = H[np.ix_(perm, perm)]
    Hp[np.diag_indices(C)] += damp * np.mean(np.diag(Hp))
    U = np.linalg.cholesky(np.linalg.inv(Hp)).T.astype(np.float32)  # upper factor of H^-1
    codes = np.zeros((rows, C), dtype=np.int64)
    for col in range(C):
        nat = perm[col]
        g = nat // gs
        for r in range(rows):
            if not static and nat % gs == 0:
                params[r][g] = group_params(W[r, col:col + gs], bits, symmetric)
            s, z = params[r][g]
            c = int(codes_of(W[r, col], (s, z), qmax))
            codes[r, nat] = c
            e = np.float32((W[r, col] - s * np.float32(c - z)) / U[col, col])
            W[r, col + 1:] -= e * U[col, col + 1:]
    scales = np.array([[np.float16(params[r][g][0]) for g in range(ngroups)] for r in range(rows)], dtype=np.float16)
    zeros = np.array([[params[r][g][1] for g in range(ngroups)] for r in range(rows)], dtype=np.uint8)
    return codes.astype(np.uint8), scales, zeros


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = {np.float32: "F32", np.float64: "F64", np.float16: "F16", np.uint8: "U8"}[arr.dtype.type]
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    rng = np.random.default_rng(20261122)
    cases = [
        {"name": "int4_g16", "rows": 24, "cols": 80, "bits": 4, "sym": False, "group": 16, "act_order": False},
        {"name": "int3sym_g32_actorder", "rows": 20, "cols": 96, "bits": 3, "sym": True, "group": 32, "act_order": True},
        {"name": "int2_channel", "rows": 16, "cols": 72, "bits": 2, "sym": False, "group": 0, "act_order": False},
    ]
    tensors = {}
    for c in cases:
        W = rng.standard_normal((c["rows"], c["cols"])).astype(np.float32) * 0.05
        # Correlated inputs with uneven channel energy (as real activations have), one dead channel.
        X = rng.standard_normal((512, c["cols"])) @ (np.eye(c["cols"]) + 0.3 * rng.standard_normal((c["cols"], c["cols"])))
        X *= np.exp(rng.standard_normal(c["cols"]))
        X[:, 5] = 0
        H = X.T @ X
        codes, scales, zeros = gptq_reference(W, H, c["bits"], c["sym"], c["group"], 0.01, c["act_order"])
        n = c["name"]
        tensors[n + ".W"] = W
        tensors[n + ".H"] = H.astype(np.float64)
        tensors[n + ".codes"] = codes
        tensors[n + ".scales"] = scales
        tensors[n + ".zeros"] = zeros
    OUT.mkdir(parents=True, exist_ok=True)
    write_safetensors(OUT / "cases.safetensors", tensors)
    (OUT / "cases.json").write_text(json.dumps({"damp": 0.01, "clip": "minmax", "cases": cases}, indent=2) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
