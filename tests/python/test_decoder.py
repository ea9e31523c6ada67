"""Decoders from Parquet V1 tables written by pyarrow: the tiny Qwen2 golden and stories260K run
through `arrowquant ppl` and `generate` exactly like their originals."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, STORIES

TINY_QWEN2 = os.path.join(ROOT, "tests", "goldens", "tiny", "qwen2")
SAMPLED = os.path.join(ROOT, "tests", "goldens", "stories260k", "sampled_fp32.txt")


def v1_copy(tmp_path, folder, weights="model.safetensors"):
    out = tmp_path / "v1"
    out.mkdir()
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_v1.py"), os.path.join(folder, weights),
                    str(out / "weights.parquet"), "--dtype", "float32"], check=True)
    for name in os.listdir(folder):
        if not name.endswith(".safetensors"):
            shutil.copy(os.path.join(folder, name), out / name)
    return out


def test_tiny_qwen2_from_v1_equals_original(tmp_path, cli):
    v1 = v1_copy(tmp_path, TINY_QWEN2)
    wiki = tmp_path / "w.txt"
    with open(os.path.join(ROOT, "..", "shared", "data", "wikitext2", "wiki.test.raw"), encoding="utf-8") as f:
        wiki.write_text(f.read()[:20000], encoding="utf-8")
    r = json.loads(cli("ppl", v1, "-f", wiki, "--ctx", "128", "--chunks", "4", "--kl-base", TINY_QWEN2,
                       "--format", "json", "-q"))
    assert r["against_base"]["kl_mean"] < 1e-9
    assert r["against_base"]["top1_agreement"] == 1.0
    a = cli("generate", v1, "-p", "The tower is", "-n", "10", "--temperature", "0", "-q")
    b = cli("generate", TINY_QWEN2, "-p", "The tower is", "-n", "10", "--temperature", "0", "-q")
    assert a == b


def test_stories_sampled_text_golden_is_the_model_own_text(cli):
    # The committed evaluation text is what the FP32 model writes: its perplexity on it is low.
    r = json.loads(cli("ppl", os.path.join(STORIES, "stories260K.bin"), "-f", SAMPLED, "--ctx", "256",
                       "--format", "json", "-q"))
    assert 2.0 < r["perplexity"] < 6.0
