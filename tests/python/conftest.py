import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("ARROWQUANT_CLI", os.path.join(ROOT, "build", "arrowquant"))
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
STORIES = os.path.join(ROOT, "models", "stories260K")


def run(*args):
    r = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"arrowquant {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def read_safetensors(path):
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(blob[b:e], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


@pytest.fixture(scope="session")
def cli():
    assert os.path.exists(CLI), f"build the CLI first ({CLI})"
    return run
