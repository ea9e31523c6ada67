#!/usr/bin/env python3
"""Writes a Parquet V1 weights table (layer_name, shape, dtype, data, num_params) from a safetensors
model, the way earlier tools did: with pyarrow's default settings (dictionary encoding, Snappy).

Used for the V1 compatibility tests and as the FP16 baseline of `arrowquant bench load`.
Usage: make_v1.py MODEL_DIR_OR_SAFETENSORS OUT.parquet [--dtype float16|float32]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NP_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            f.seek(base + b)
            arr = np.frombuffer(f.read(e - b), dtype=NP_DTYPES[info["dtype"]]).reshape(info["shape"])
            yield name, arr


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    a = ap.parse_args()
    path = a.model
    if os.path.isdir(path):
        path = os.path.join(path, "model.safetensors")
    rows = {"layer_name": [], "shape": [], "dtype": [], "data": [], "num_params": []}
    for name, arr in read_safetensors(path):
        if arr.dtype.kind == "f":
            arr = arr.astype(a.dtype)
        rows["layer_name"].append(name)
        rows["shape"].append(list(arr.shape))
        rows["dtype"].append("torch." + str(arr.dtype))
        rows["data"].append(np.ascontiguousarray(arr).tobytes())
        rows["num_params"].append(int(arr.size))
    schema = pa.schema([("layer_name", pa.string()), ("shape", pa.list_(pa.int32())), ("dtype", pa.string()),
                        ("data", pa.binary()), ("num_params", pa.int64())])
    tmp = a.out + ".partial"
    pq.write_table(pa.table(rows, schema=schema), tmp)  # pyarrow defaults: dictionary + Snappy
    os.replace(tmp, a.out)
    print(f"wrote {len(rows['layer_name'])} tensors to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
