"""The encoder from Parquet V1 tables written by pyarrow (the format earlier tools produced), against
the sentence-transformers goldens, and the npy output read back by numpy."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import MINILM, ROOT, run

GOLDENS = os.path.join(ROOT, "tests", "goldens", "minilm", "encoder_goldens.json")


def golden_lines():
    g = json.load(open(GOLDENS, encoding="utf-8"))
    # --file takes one sentence per line: keep the goldens that fit on one line.
    keep = [s for s in g["sentences"] if not any(c in s["text"] for c in "\n\r\0")]
    return [s["text"] for s in keep], np.array([s["embedding"] for s in keep], dtype=np.float64)


def v1_model(tmp_path, dtype):
    folder = tmp_path / f"v1-{dtype}"
    folder.mkdir()
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_v1.py"), MINILM,
                    str(folder / "weights.parquet"), "--dtype", dtype], check=True)
    for name in os.listdir(MINILM):
        src = os.path.join(MINILM, name)
        if name != "model.safetensors":
            (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, folder / name)
    return folder


@pytest.mark.parametrize("dtype,floor", [("float32", 0.9999), ("float16", 0.999)])
def test_encoder_runs_from_v1_tables(tmp_path, cli, dtype, floor):
    texts, gold = golden_lines()
    model = v1_model(tmp_path, dtype)
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "e.npy"
    cli("encode", model, "--file", tmp_path / "in.txt", "--format", "npy", "-o", out, "-q")
    emb = np.load(out).astype(np.float64)
    assert emb.shape == gold.shape
    cos = (emb * gold).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(gold, axis=1)
    assert cos.min() >= floor, cos.min()
    info = json.loads(cli("encode", model, "--text", "x", "-q"))
    assert info["weights"] == "parquet-v1"
