"""Golden for the GGUF dequantisers (src/io/ggml_types.cc): random blocks of every ggml type the
reader supports, stored raw in a GGUF, each beside the float32 values the `gguf` package's
dequantiser (llama.cpp's own Python reference) makes of them. The C++ test compares bit for bit.

Fields that hold fp16 scales get finite random halves (raw random bytes would give NaN and
infinity scales); every other byte is random, so every code, sub-scale and sign bit is exercised.

Usage (goldens environment, scripts/setup_goldens.sh):
    .venv-goldens/bin/python scripts/goldens/make_gguf_dequant_golden.py
writes tests/goldens/gguf/dequant.gguf.
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFWriter
from gguf.quants import dequantize, GGML_QUANT_SIZES

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join(ROOT, "tests", "goldens", "gguf", "dequant.gguf")

# Byte offsets of the fp16 fields inside one block, per type (ggml-common.h's block structs).
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0],
}
BLOCKS = 6  # per type: 6 × 256 = 1536 values for the K types


def random_blocks(rng, qtype):
    block, nbytes = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(BLOCKS * (256 // block), nbytes), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        halves = (rng.standard_normal(raw.shape[0]) * 0.02).astype(np.float16)
        raw[:, off:off + 2] = halves.view(np.uint8).reshape(-1, 2)
    return raw.reshape(-1), raw.shape[0] * block


def main():
    rng = np.random.default_rng(20261201)
    w = GGUFWriter(OUT, "golden")
    w.add_string("golden.source", "scripts/goldens/make_gguf_dequant_golden.py, gguf " +
                 __import__("importlib.metadata").metadata.version("gguf"))
    for qtype in HALF_FIELDS:
        raw, n = random_blocks(rng, qtype)
        expected = dequantize(raw, qtype).astype(np.float32).reshape(-1)
        assert expected.size == n and np.all(np.isfinite(expected)), qtype.name
        w.add_tensor(qtype.name.lower() + ".raw", raw, raw_shape=(1, raw.size), raw_dtype=qtype)
        w.add_tensor(qtype.name.lower() + ".expected", expected.reshape(1, n))
    # Plain floats: random finite halves and bfloat16 (top halves of random float32).
    f16 = (rng.standard_normal(512) * 3).astype(np.float16)
    w.add_tensor("f16.raw", f16.reshape(1, -1))
    w.add_tensor("f16.expected", f16.astype(np.float32).reshape(1, -1))
    f32 = (rng.standard_normal(512) * 3).astype(np.float32)
    bf16 = (f32.view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("bf16.raw", bf16.view(np.uint8), raw_shape=(1, 1024), raw_dtype=T.BF16)
    w.add_tensor("bf16.expected", dequantize(bf16.view(np.uint8), T.BF16).astype(np.float32).reshape(1, -1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    sys.exit(main())
