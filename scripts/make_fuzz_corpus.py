#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small, valid examples
of every input each reader takes, made from the project's own goldens and the real models, so that
libFuzzer starts from inputs that reach deep into each reader. Needs the build (./build/arrowquant)
for the Parquet seeds and the models linked by scripts/setup.sh.
Usage: .venv/bin/python scripts/make_fuzz_corpus.py [--build build]
"""
import argparse
import json
import os
import shutil
import struct
import sys
import subprocess
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors_bytes(tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, arr in tensors.items():
        if isinstance(arr, tuple):  # (safetensors dtype, raw uint8 array): types numpy lacks, e.g. F8_E4M3
            dt, arr = arr
        else:
            dt = {"float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32", "int8": "I8"}[str(arr.dtype)]
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + arr.nbytes]}
        blobs.append(arr.tobytes())
        off += arr.nbytes
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs)


def llama2c_bytes(dim=8, hidden=16, layers=1, heads=2, kv=1, vocab=8, seq=4, shared=True):
    head = dim // heads
    n = (vocab * dim + layers * dim + layers * dim * dim + 2 * layers * kv * head * dim + layers * dim * dim +
         layers * dim + 3 * layers * hidden * dim + dim + seq * head + (0 if shared else vocab * dim))
    rng = np.random.default_rng(0)
    return struct.pack("<7i", dim, hidden, layers, heads, kv, vocab if shared else -vocab, seq) + \
        rng.standard_normal(n).astype("<f4").tobytes()


def gguf_bytes():
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    kv = [("general.architecture", 8, s("llama")), ("general.alignment", 4, struct.pack("<I", 32)),
          ("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)), ("tokenizer.ggml.model", 8, s("gpt2")),
          ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + s("a") + s("b") + s("ab")),
          ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0, -1, -2)),
          ("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, 1) + s("a b")),
          ("flag", 7, b"\x01"), ("big", 10, struct.pack("<Q", 1 << 40)), ("neg", 11, struct.pack("<q", -5)),
          ("d", 12, struct.pack("<d", 0.5)), ("u16", 2, struct.pack("<H", 7)), ("i8", 1, b"\xff")]
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for k, t, v in kv:
        out += s(k) + struct.pack("<I", t) + v
    return out


# (ggml type id, elements per block, bytes per block) of every type the GGUF source dequantises.
GGML_TYPES = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22),
              "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110),
              "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210), "IQ4_NL": (20, 32, 18),
              "IQ4_XS": (23, 256, 136), "BF16": (30, 1, 2)}


def gguf_model_bytes(rng):
    """A tiny llama GGUF (hidden 32, 1 layer, vocab 8) with one tensor of every supported type."""
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    kv = [("general.architecture", 8, s("llama"))] + [
        ("llama." + k, 4, struct.pack("<I", v)) for k, v in
        [("block_count", 1), ("embedding_length", 32), ("feed_forward_length", 64), ("attention.head_count", 2),
         ("attention.head_count_kv", 1), ("context_length", 16)]] + [
        ("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)), ("tokenizer.ggml.model", 8, s("gpt2")),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + s("a") + s("b")),
        ("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, 0))]
    tensors = [("token_embd.weight", [32, 8], "Q8_0"), ("output_norm.weight", [32], "F32"),
               ("blk.0.attn_q.weight", [32, 32], "Q4_0"), ("blk.0.attn_k.weight", [32, 16], "Q4_1")]
    tensors += [(f"blk.0.extra_{t.lower()}.weight", [256, 1], t) for t in GGML_TYPES if t not in ("Q8_0", "F32", "Q4_0", "Q4_1")]
    infos, data = b"", b""
    for name, dims, t in tensors:
        tid, block, nbytes = GGML_TYPES[t]
        n = int(np.prod(dims))
        infos += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", tid, len(data))
        blob = rng.integers(0, 256, n // block * nbytes, dtype=np.uint8).tobytes()
        data += blob + b"\0" * (-len(blob) % 32)
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for k, t, v in kv:
        out += s(k) + struct.pack("<I", t) + v
    out += infos
    return out + b"\0" * (-len(out) % 32) + data


def gguf_vocab_bytes(model):
    """A vocabulary-only GGUF as the GGUF source writes beside a model: gpt2 BPE (with specials and
    a ChatML template) or llama SPM (scores, byte tokens, control tokens)."""
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    def arr(t, items):
        return struct.pack("<IQ", t, len(items)) + b"".join(items)
    if model == "gpt2":
        tokens = ["<|im_start|>", "<|im_end|>", "a", "b", "\u0120", "ab", "\u0120a", "\u010a", "1"]
        kv = [("tokenizer.ggml.merges", 9, arr(8, [s("a b"), s("\u0120 a")])),
              ("tokenizer.ggml.pre", 8, s("smollm")),
              ("tokenizer.chat_template", 8, s("{% for message in messages %}{{'<|im_start|>' + message['role'] + "
                                               "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                                               "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"))]
        types = [3, 3] + [1] * (len(tokens) - 2)
    else:
        tokens = ["<unk>", "<s>", "</s>", "<0x0A>", "\u2581", "\u2581a", "a", "b", "\u2581ab"]
        kv = [("tokenizer.ggml.scores", 9, arr(6, [struct.pack("<f", -float(i)) for i in range(len(tokens))])),
              ("tokenizer.ggml.add_space_prefix", 7, b"\x01")]
        types = [2, 3, 3, 6] + [1] * (len(tokens) - 4)
    kv = [("general.architecture", 8, s("llama")), ("tokenizer.ggml.model", 8, s(model)),
          ("tokenizer.ggml.tokens", 9, arr(8, [s(t) for t in tokens])),
          ("tokenizer.ggml.token_type", 9, arr(5, [struct.pack("<i", t) for t in types])),
          ("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)),
          ("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 1 if model == "gpt2" else 2)),
          ("tokenizer.ggml.add_bos_token", 7, b"\x00")] + kv
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for k, t, v in kv:
        out += s(k) + struct.pack("<I", t) + v
    return out


def tiny_bpe_json():
    vocab = {c: i for i, c in enumerate(["a", "b", "c", "\u0120", "ab", "\u0120a", "abc"])}
    return json.dumps({
        "version": "1.0", "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "model": {"type": "BPE", "vocab": vocab, "merges": ["a b", "\u0120 a", "ab c"]},
        "added_tokens": [{"id": 7, "content": "<|endoftext|>", "special": True}]})


def quantized_checkpoints(rng):
    """Seeds of quantized_checkpoint_fuzz: config.json, NUL, model.safetensors, for one [16, 64] Linear
    in each layout the reader takes (compressed-tensors packed sym/affine and int8, GPTQ, AWQ)."""
    norm = {"model.norm.weight": np.ones(16, "f4")}
    words = lambda *shape: rng.integers(0, 2**32, size=shape, dtype=np.uint64).astype(np.uint32).view(np.int32)
    def ct(fmt, bits, sym, tensors):
        w = {"num_bits": bits, "type": "int", "symmetric": sym, "strategy": "group", "group_size": 32}
        qc = {"quant_method": "compressed-tensors", "format": fmt,
              "config_groups": {"group_0": {"targets": ["Linear"], "weights": w}}, "ignore": ["lm_head"]}
        return json.dumps({"model_type": "llama", "quantization_config": qc}).encode() + b"\0" + safetensors_bytes({**tensors, **norm})
    p = "model.layers.0.mlp.up_proj"
    scale = (rng.random((16, 2)) * 0.01 + 0.001).astype("f2")
    shape = np.array([16, 64], "int64")
    yield "ct_pack_sym", ct("pack-quantized", 4, True, {p + ".weight_packed": words(16, 8), p + ".weight_scale": scale,
                                                        p + ".weight_shape": shape})
    yield "ct_pack_affine", ct("pack-quantized", 4, False, {p + ".weight_packed": words(16, 8), p + ".weight_scale": scale,
                                                            p + ".weight_zero_point": words(2, 2), p + ".weight_shape": shape})
    yield "ct_int8", ct("int-quantized", 8, True, {p + ".weight": rng.integers(-128, 128, (16, 64), dtype=np.int8),
                                                    p + ".weight_scale": scale[:, :1].copy()})
    fp8 = {"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups": {"group_0": {
        "targets": ["Linear"], "weights": {"num_bits": 8, "type": "float", "symmetric": True, "strategy": "block",
                                           "block_structure": [8, 32]}}}}
    yield "ct_fp8_block", json.dumps({"model_type": "llama", "quantization_config": fp8}).encode() + b"\0" + safetensors_bytes({
        p + ".weight": ("F8_E4M3", rng.integers(0, 256, (16, 64), dtype=np.uint8)),
        p + ".weight_scale": (rng.random((2, 2)) * 0.01).astype("f4"), **norm})
    gptq = {"quant_method": "gptq", "bits": 4, "group_size": 32, "sym": False, "desc_act": False, "checkpoint_format": "gptq_v2",
            "dynamic": {"-:.*down_proj": {}, "+:.*up_proj": {"bits": 4}}}
    yield "gptq", json.dumps({"model_type": "llama", "quantization_config": gptq}).encode() + b"\0" + safetensors_bytes({
        p + ".qweight": words(8, 16), p + ".qzeros": words(2, 2), p + ".scales": scale.T.copy(),
        p + ".g_idx": (np.arange(64) // 32).astype("int32"), **norm})
    awq = {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True, "version": "gemm"}
    yield "awq", json.dumps({"model_type": "llama", "quantization_config": awq}).encode() + b"\0" + safetensors_bytes({
        p + ".qweight": words(64, 2), p + ".qzeros": words(2, 2), p + ".scales": scale.T.copy(), **norm})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    shutil.rmtree(CORPUS, ignore_errors=True)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((16, 64)).astype("f4")
    st = safetensors_bytes({"layer.weight": w, "layer.bias": np.zeros(16, "f4"),
                            "ids": np.arange(4, dtype="int64"), "half": w[:2].astype("f2")}, {"format": "pt"})
    put("safetensors_reader_fuzz", "tiny.safetensors", st)
    put("safetensors_reader_fuzz", "empty_header.safetensors", struct.pack("<Q", 8) + b"{}      ")
    put("safetensors_index_fuzz", "index.json", json.dumps(
        {"metadata": {"total_size": 1024}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                                          "b.weight": "model-00002-of-00002.safetensors"}}))
    put("gguf_reader_fuzz", "tiny.gguf", gguf_bytes())
    put("gguf_reader_fuzz", "tiny_model.gguf", gguf_model_bytes(rng))
    put("gguf_tokenizer_fuzz", "gpt2_vocab.gguf", gguf_vocab_bytes("gpt2"))
    put("gguf_tokenizer_fuzz", "llama_vocab.gguf", gguf_vocab_bytes("llama"))
    put("calibration_text_fuzz", "lines.txt", b"\x00Once upon a time.\r\n\n  \nThe end.\n")
    put("calibration_text_fuzz", "docs.jsonl", b"\x01" + b'{"text": "one"}\n{"text": "two", "id": 3}\n')
    put("bpe_tokenizer_fuzz", "tiny.json", tiny_bpe_json())
    put("bpe_tokenizer_fuzz", "llama_tiny.json", open(os.path.join(ROOT, "tests/goldens/tiny/llama/tokenizer.json"), "rb").read())
    put("wordpiece_tokenizer_fuzz", "vocab.txt", b"\x00[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nman\nis\nplay\n##ing\n.\n")
    put("wordpiece_tokenizer_fuzz", "tokenizer.json", b"\x01" + json.dumps({
        "normalizer": {"type": "BertNormalizer", "lowercase": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "a": 4, "##s": 5}},
        "added_tokens": [{"id": 0, "content": "[PAD]", "special": True}]}).encode())
    put("llama2c_tokenizer_fuzz", "tok512.bin", open(os.path.join(ROOT, "models/stories260K/tok512.bin"), "rb").read())
    for i, text in enumerate(["Hello world", "A man is playing a guitar.", "\xe4\xbd\xa0\xe5\xa5\xbd\n\tcaf\xc3\xa9",
                              "<|endoftext|> x", "Once upon a time, there was a girl named Lily."]):
        put("tokenize_text_fuzz", f"t{i}.txt", text.encode("latin-1"))
    for name, path in [("minilm.json", "models/all-MiniLM-L6-v2/config.json"), ("llama.json", "tests/goldens/tiny/llama/config.json"),
                       ("qwen2.json", "tests/goldens/tiny/qwen2/config.json")]:
        put("model_config_fuzz", name, open(os.path.join(ROOT, path), "rb").read())
    # A pipeline index and a text diffusion LM's config: the modality check's refusals.
    put("model_config_fuzz", "audio_model_index.json", json.dumps({
        "_class_name": "AudioLDMPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vocoder": ["transformers", "SpeechT5HifiGan"]}).encode())
    put("model_config_fuzz", "llada_config.json", json.dumps({"model_type": "llada", "architectures": ["LLaDAModelLM"]}).encode())
    put("quant_config_fuzz", "config.yaml", "profile: edge\nbits: 4\ngroup_size: 32\nsym: true\nmethod: gptq\n"
                                            "calibration: c.txt\npins:\n  - '*.query.*=8'\n  - 'pooler.*=float'\n")
    # Parquet tables and the format detection of open_tensor_source, from the real CLI.
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "m"))
        with open(os.path.join(tmp, "m", "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes({"layer.weight": w, "layer.bias": np.zeros(16, "f4")}))
        cli = os.path.join(a.build, "arrowquant")
        for name, flags in [("int4.parquet", ["--bits", "4", "--group-size", "32"]), ("int2_sym.parquet", ["--bits", "2", "--sym"]),
                            ("int3.parquet", ["--bits", "3", "--group-size", "0"]),
                            ("int5.parquet", ["--bits", "5", "--group-size", "32"]), ("int6_half.parquet", ["--bits", "6", "--half"]),
                            ("int4_rotated.parquet", ["--bits", "4", "--group-size", "32", "--rotation", "hadamard"]),
                            ("nf4.parquet", ["--bits", "4", "--codebook", "nf"]),
                            ("gauss2.parquet", ["--bits", "2", "--codebook", "gauss", "--group-size", "32"]),
                            ("lattice2.parquet", ["--bits", "2", "--codebook", "lattice", "--group-size", "32"]),
                            ("fp8_e4m3.parquet", ["--bits", "8", "--codebook", "e4m3", "--group-size", "0"]),
                            ("fp8_e5m2.parquet", ["--bits", "8", "--codebook", "e5m2", "--group-size", "32"])]:
            subprocess.check_call([cli, "quantize", os.path.join(tmp, "m"), "-o", os.path.join(tmp, name), "-q",
                                   "--embedding-bits", "8"] + flags, stdout=subprocess.DEVNULL)
            data = open(os.path.join(tmp, name, "model.parquet"), "rb").read()
            put("weight_loader_fuzz", name, data)
            if name in ("int4.parquet", "int4_rotated.parquet"):
                put("tensor_source_fuzz", name, data)
        # A diffusion model's time_groups key (static activation clips per timestep group) on the
        # same table, rewritten by pyarrow the way our reader takes it (one PLAIN page per value).
        import pyarrow.parquet as pq
        t = pq.read_table(os.path.join(tmp, "int4.parquet", "model.parquet"))
        meta = dict(t.schema.metadata)
        meta[b"arrowquant.time_groups"] = json.dumps(
            {"train_timesteps": 1000, "groups": 3, "clips": {"layer": [1.5, 2.0, 0.75]}}).encode()
        pq.write_table(t.replace_schema_metadata(meta), os.path.join(tmp, "time_groups.parquet"), row_group_size=1,
                       use_dictionary=False, compression="none", write_statistics=False, data_page_size=1 << 30)
        put("weight_loader_fuzz", "time_groups.parquet", open(os.path.join(tmp, "time_groups.parquet"), "rb").read())
        subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts", "make_v1.py"), os.path.join(tmp, "m"),
                               os.path.join(tmp, "v1.parquet")], stdout=subprocess.DEVNULL)
        put("weight_loader_fuzz", "v1.parquet", open(os.path.join(tmp, "v1.parquet"), "rb").read())
    put("tensor_source_fuzz", "tiny.safetensors", st)
    for name, data in quantized_checkpoints(np.random.default_rng(3)):
        put("quantized_checkpoint_fuzz", name + ".bin", data)
    # Recorded input statistics (quantize --calibration X.safetensors): a Hessian, and one beside a
    # tensor that is not square.
    put("recorded_inputs_fuzz", "hessian_3x3.safetensors", safetensors_bytes(
        {"layer.weight": np.array([[2, 0.5, 0], [0.5, 1, 0.1], [0, 0.1, 3]], np.float32)}))
    put("recorded_inputs_fuzz", "two_tensors.safetensors", safetensors_bytes(
        {"a.weight": np.array([[1, 0.2], [0.2, 1]], np.float32), "b.weight": np.arange(6, dtype=np.float32).reshape(2, 3)}))
    put("tensor_source_fuzz", "tiny_llama2c.bin", llama2c_bytes())
    put("tensor_source_fuzz", "tiny_model.gguf", gguf_model_bytes(np.random.default_rng(2)))
    put("tensor_source_fuzz", "tiny_llama2c_head.bin", llama2c_bytes(shared=False))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print(f"wrote {CORPUS} ({total / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
