"""The arrowquant Python package (python/arrowquant over the nanobind extension) on the real models:
quantise from Python and compare with the CLI byte for byte, encode and compare with the CLI, zero-copy
proofs, progress order and cancellation, asyncio with two jobs, every exception type from a real bad
input. Runs against the development build (PYTHONPATH=build/python, set by scripts/test.sh)."""
import asyncio
import json
import os
import threading

import numpy as np
import pytest

from conftest import MINILM, ROOT, STORIES, run

import arrowquant as aq  # noqa: E402  (build/python: scripts/test.sh builds it)

SMOL = os.path.join(ROOT, "models", "smollm2-135m")
SENTENCES = ["A man is playing a guitar.", "Quantised weights stay in the file.", "ArrowQuant runs on CPUs.",
             "The cat sat on the mat.", "Two dogs run across a field."]


@pytest.fixture(scope="module")
def minilm_int8(tmp_path_factory):
    out = tmp_path_factory.mktemp("py") / "minilm-int8"
    report = aq.QuantizationManager(aq.QuantConfig(bits=8, group_size=0, env=False)).quantize(MINILM, out)
    return out, report


def test_quantize_from_python_equals_the_cli(tmp_path, minilm_int8):
    out, report = minilm_int8
    run("quantize", MINILM, "-o", tmp_path / "cli", "--bits", "8", "--group-size", "channel")
    assert (out / "model.parquet").read_bytes() == (tmp_path / "cli" / "model.parquet").read_bytes()
    assert report["output"] == str(out)
    assert report["file_bytes"] == os.path.getsize(out / "model.parquet")


def test_encode_equals_the_cli_and_owns_its_buffer(tmp_path, minilm_int8):
    out, _ = minilm_int8
    (tmp_path / "in.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    run("encode", out, "--file", tmp_path / "in.txt", "--format", "npy", "-o", tmp_path / "cli.npy")
    engine = aq.ArrowEngine(out)
    got = engine.encode(SENTENCES, batch_size=2, normalize=False)
    cli = np.load(tmp_path / "cli.npy")
    assert got.dtype == np.float32 and got.shape == cli.shape
    np.testing.assert_array_equal(got, cli)
    assert got.flags.owndata is False and got.base is not None  # the C++ vector, held by a capsule
    single = engine.encode(SENTENCES[0])
    assert single.shape == (engine.embedding_dim,)
    assert abs(float(np.linalg.norm(single)) - 1.0) < 1e-5


def test_validate_and_inspect_as_python_objects(minilm_int8):
    out, report = minilm_int8
    v = aq.validate(MINILM, out, sentences=SENTENCES)
    assert v["embedding_cosine"]["sentences"] == len(SENTENCES)
    assert 0.995 < v["embedding_cosine"]["min"] <= v["embedding_cosine"]["mean"] <= 1.0  # int8 per channel: 0.9987
    assert len(v["layers"]) == 7 and "stsb" not in v
    i = aq.inspect(out)
    assert i["file_bytes"] == report["file_bytes"] and len(i["tensors"]) == len(report["tensors"])


def test_analyze_and_compare_as_python_objects():
    a = aq.analyze(MINILM, widths=(4, 8), env=False)
    assert a["widths"] == [4, 8] and len(a["tensors"]) > 30
    c = aq.compare(MINILM, methods=["rtn"], widths=[4, 8], config=aq.QuantConfig(env=False), sentences=SENTENCES)
    rows = {r["bits"]: r for r in c["rows"]}
    assert set(rows) == {4, 8} and rows[8]["file_bytes"] > rows[4]["file_bytes"]


def test_weight_loader_views_lie_inside_the_mapping(minilm_int8):
    out, _ = minilm_int8
    w = aq.WeightLoader(out)
    names = w.names()
    packed = [n for n in names if w.info(n)["quantized"]]
    plain = [n for n in names if not w.info(n)["quantized"]]
    assert packed and plain
    chunk = w.packed(packed[0])[0]
    assert w.maps(chunk["codes"]) and w.maps(chunk["scales"])
    assert chunk["codes"].flags.writeable is False
    t = w.tensor(plain[0])
    assert w.maps(t) and list(t.shape) == w.info(plain[0])["shape"]
    np.testing.assert_array_equal(t.astype(np.float32), w.dequantize(plain[0]))
    deq = w.dequantize(packed[0])
    assert not w.maps(deq) and list(deq.shape) == w.info(packed[0])["shape"]


def test_the_table_goes_to_pyarrow_polars_and_duckdb(minilm_int8):
    import duckdb
    import polars as pl
    import pyarrow as pa
    w = aq.WeightLoader(minilm_int8[0])
    table = pa.table(w)
    assert set(table.column("layer_name").to_pylist()) == set(w.names())
    # Every stored tensor's bytes: a view of the file's memory map, not a copy.
    data = table.column("data").combine_chunks()
    assert data.type == pa.binary_view()
    big = [b for b in data.buffers()[2:] if b is not None and b.size > 12]
    assert big and all(w.maps(np.frombuffer(b, dtype=np.uint8)) for b in big)
    name = next(n for n in w.names() if w.info(n)["quantized"])
    row = table.column("layer_name").to_pylist().index(name)
    assert table.column("data")[row].as_py() == w.packed(name)[0]["codes"].tobytes()
    del w  # the stream keeps the loader alive
    assert pl.DataFrame(aq.WeightLoader(minilm_int8[0])).height == table.num_rows
    w2 = aq.WeightLoader(minilm_int8[0])
    assert duckdb.sql("SELECT count(DISTINCT layer_name) FROM w2").fetchall()[0][0] == len(w2)


def test_sharded_safetensors_are_views(tmp_path):
    tensors = aq.load_sharded_safetensors(MINILM)
    assert "embeddings.word_embeddings.weight" in tensors
    a = tensors["embeddings.word_embeddings.weight"]
    assert a.dtype == np.float32 and a.ndim == 2 and a.flags.writeable is False


def test_progress_in_order_and_cancel_leaves_nothing(tmp_path):
    seen = []
    aq.QuantizationManager(bits=4, env=False).quantize(MINILM, tmp_path / "q", progress=lambda f, m: seen.append(f))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(aq.Cancelled):
        aq.QuantizationManager(bits=4, env=False).quantize(MINILM, tmp_path / "c", progress=lambda f, m: f < 0.3)
    assert sorted(os.listdir(tmp_path)) == ["q"]  # no output, no temporary folder, no checkpoint


def test_config_layers_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("ARROW_QUANT_GROUP_SIZE", "64")
    assert aq.QuantConfig().group_size == 64
    assert aq.QuantConfig(group_size=32).group_size == 32          # keywords over the environment
    assert aq.QuantConfig(env=False).group_size == 128
    (tmp_path / "c.yaml").write_text("bits: 3\ngroup_size: 32\n")
    c = aq.QuantConfig.from_yaml(tmp_path / "c.yaml", bits=2)
    assert (c.bits, c.group_size) == (2, 64)                      # YAML < env < keywords
    assert aq.QuantConfig.from_profile("edge", env=False).profile == "edge"
    with pytest.raises(aq.ConfigurationError) as e:
        aq.QuantConfig(bits=7)
    assert isinstance(e.value, ValueError) and "bits" in str(e.value)
    with pytest.raises(aq.ConfigurationError):
        aq.QuantConfig(no_such_setting=1)


def test_every_exception_type_from_a_real_bad_input(tmp_path):
    with pytest.raises(aq.ModelIOError) as e:
        aq.ArrowEngine(tmp_path / "missing")
    assert isinstance(e.value, OSError)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(aq.ModelFormatError) as e:
        aq.WeightLoader(bad)
    assert e.value.path == str(bad / "model.parquet"), str(e.value)
    # A tensor whose shape disagrees with config.json.
    shape = tmp_path / "shape"
    shape.mkdir()
    for f in os.listdir(os.path.join(ROOT, "tests", "goldens", "tiny", "llama")):
        src = os.path.join(ROOT, "tests", "goldens", "tiny", "llama", f)
        if os.path.isfile(src):
            (shape / f).write_bytes(open(src, "rb").read())
    cfg = json.loads((shape / "config.json").read_text())
    cfg["intermediate_size"] = 96
    (shape / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(aq.ShapeMismatchError) as e:
        aq.ArrowEngine(shape)
    assert e.value.tensor == "model.layers.0.mlp.gate_proj.weight" and e.value.path.startswith(str(shape)), str(e.value)
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(aq.CalibrationError):
        aq.QuantizationManager(env=False).calibrate(STORIES, tmp_path / "empty.txt")
    with pytest.raises(aq.QuantizationError):
        _nan_model(tmp_path)
    with pytest.raises(aq.ValidationError):
        aq.ArrowEngine(MINILM).generate("hello")  # an encoder cannot generate


def _nan_model(tmp_path):
    """A model with a NaN weight: quantising it is refused (QuantizationError)."""
    src = os.path.join(ROOT, "tests", "goldens", "tiny", "llama")
    nan = tmp_path / "nanmodel"
    nan.mkdir()
    for f in os.listdir(src):
        if os.path.isfile(os.path.join(src, f)):
            (nan / f).write_bytes(open(os.path.join(src, f), "rb").read())
    data = bytearray((nan / "model.safetensors").read_bytes())
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k.endswith("mlp.up_proj.weight"))
    begin = 8 + n + header[name]["data_offsets"][0]
    data[begin:begin + 2] = np.array([np.nan], dtype=np.float16).tobytes()
    (nan / "model.safetensors").write_bytes(bytes(data))
    aq.QuantizationManager(bits=4, env=False).quantize(nan, tmp_path / "nan-out")


def test_generate_and_stream(tmp_path):
    engine = aq.ArrowEngine(STORIES)
    full = engine.generate("Once upon a time", max_tokens=16, temperature=0)
    streamed = "".join(engine.stream("Once upon a time", max_tokens=16, temperature=0))
    assert streamed == full["text"] and full["stop_reason"] in ("max_tokens", "eos")
    first = next(iter(engine.stream("Once upon a time", max_tokens=64, temperature=0)))
    assert full["text"].startswith(first)
    logits = engine.logits(full["prompt_ids"])
    assert logits.shape == (len(full["prompt_ids"]), engine.vocab_size)


def test_stories260k_quantised_from_python_and_its_perplexity(tmp_path):
    report = aq.QuantizationManager(bits=4, group_size=32, env=False).quantize(STORIES, tmp_path / "q")
    run("quantize", STORIES, "-o", tmp_path / "cli", "--bits", "4", "--group-size", "32")
    assert (tmp_path / "q" / "model.parquet").read_bytes() == (tmp_path / "cli" / "model.parquet").read_bytes()
    text = os.path.join(ROOT, "tests", "goldens", "stories260k", "sampled_fp32.txt")
    engine = aq.ArrowEngine(tmp_path / "q")
    seen = []
    ppl = engine.perplexity(text, ctx=128, chunks=2, progress=lambda f, m: seen.append(f))
    cli = json.loads(run("ppl", tmp_path / "q", "-f", text, "--ctx", "128", "--chunks", "2", "--format", "json", "-q"))
    assert ppl["perplexity"] == cli["perplexity"] and seen[-1] == 1.0 and report["file_bytes"] > 0
    with pytest.raises(aq.Cancelled):
        engine.perplexity(text, ctx=128, chunks=2, progress=lambda f, m: False)


def test_two_async_jobs_and_cancellation(tmp_path):
    async def main():
        q = aq.AsyncArrowQuantV2(mode="local", env=False)
        a, b = await asyncio.gather(q.quantize_model(MINILM, tmp_path / "a", bits=4),
                                    q.quantize_model(MINILM, tmp_path / "b", bits=8))
        assert a["compression_ratio"] > b["compression_ratio"] > 1
        assert 0.9 < a["cosine_similarity"] <= 1 and a["model_size_mb"] > 0
        task = asyncio.ensure_future(q.quantize_model(MINILM, tmp_path / "c", bits=4))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(main())
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


def test_async_encode_and_generate_run_together():
    encoder, decoder = aq.ArrowEngine(MINILM), aq.ArrowEngine(STORIES)

    async def main():
        emb, gen = await asyncio.gather(encoder.encode_async(SENTENCES, batch_size=2),
                                        decoder.generate_async("Once upon a time", max_tokens=8, temperature=0))
        # The same bits as alone: products never depend on the thread count or on a busy pool.
        np.testing.assert_array_equal(emb, encoder.encode(SENTENCES, batch_size=2))
        assert gen["text"] == decoder.generate("Once upon a time", max_tokens=8, temperature=0)["text"]
        seen = []
        task = asyncio.ensure_future(decoder.generate_async("Once upon a time", max_tokens=400, temperature=0,
                                                            on_token=lambda t, i: seen.append(t)))
        while len(seen) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return len(seen)
    assert asyncio.run(main()) < 400  # stopped early, not run to max_tokens


def test_ctrl_c_interrupts_a_quantisation_cleanly(tmp_path):
    """SIGINT while the C++ run holds no GIL: KeyboardInterrupt once it has unwound, nothing on disk."""
    import signal
    import subprocess
    import sys
    script = (
        "import sys, arrowquant as aq\n"
        "def progress(f, m):\n"
        "    print('started', flush=True)\n"
        "    import time; time.sleep(0.2)\n"
        f"aq.QuantizationManager(bits=4, env=False).quantize({MINILM!r}, {str(tmp_path / 'out')!r}, progress=progress)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(aq.__file__)))
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    assert p.stdout.readline().strip() == "started"
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode != 0 and "KeyboardInterrupt" in err, err
    assert os.listdir(tmp_path) == []


def test_the_wheel_installs_into_a_fresh_venv_and_imports(tmp_path):
    """`pip wheel .` (no build isolation: the build needs nothing beyond set-up's .venv; build-wheel/ keeps
    the CMake build between runs), installed alone into a new venv that borrows only numpy and pyarrow."""
    import subprocess
    import sys
    import site
    subprocess.run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-build-isolation", "--no-deps", "-q",
                    "-w", str(tmp_path / "dist")], check=True, cwd=ROOT)
    wheel = next((tmp_path / "dist").glob("arrowquant-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    py = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    fresh_site = subprocess.run([py, "-c", "import site; print(site.getsitepackages()[0])"], check=True,
                                capture_output=True, text=True).stdout.strip()
    with open(os.path.join(fresh_site, "zz_numpy_pyarrow.pth"), "w") as f:  # numpy and pyarrow, not arrowquant
        f.write(site.getsitepackages()[0] + "\n")
    r = subprocess.run([py, "-c", "import arrowquant as aq, sys; print(aq.__file__); "
                        f"print(aq.ArrowEngine({MINILM!r}).encode(['a wheel']).shape)"],
                       check=True, capture_output=True, text=True, cwd=str(tmp_path), env={"PATH": os.environ["PATH"]})
    where, shape = r.stdout.split("\n")[:2]
    assert where.startswith(fresh_site) and shape == "(1, 384)", r.stdout
