#!/usr/bin/env python3
"""Tiny random-initialised Qwen2 and Llama checkpoints made with `transformers` (fixed seed), with a
small byte-level BPE tokenizer trained on wikitext, and their FP32 logits for fixed inputs.

Writes tests/goldens/tiny/{qwen2,llama}/: config.json, model.safetensors (fp16 weights: the logits
are computed from exactly these values, in float32), tokenizer.json, tokenizer_config.json,
generation_config.json; and tests/goldens/tiny/{arch}_golden_logits.safetensors (inputs and the
logits of every position, and a 12-token greedy continuation of prompt 0).
Needs torch, transformers, tokenizers, safetensors (scripts/setup_goldens.sh).
"""
import json
import os

import torch
from safetensors.torch import save_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WIKI = os.path.join(ROOT, "..", "shared", "data", "wikitext2", "wiki.test.raw")
OUT = os.path.join(ROOT, "tests", "goldens", "tiny")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_REGEX = QWEN2_REGEX.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PROMPTS = ["The tower is 324 metres tall, about the same height as an 81-storey building.",
           " = Valkyria Chronicles III = \n Senjō no Valkyria 3 : Unrecorded Chronicles"]


def train_tokenizer(regex, vocab_size=512):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    with open(WIKI, encoding="utf-8") as f:
        lines = f.read().split("\n")[:1500]
    tok.train_from_iterator(lines, trainer)
    return tok


def build(arch):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(1234 if arch == "qwen2" else 5678)
    tok = train_tokenizer(QWEN2_REGEX if arch == "qwen2" else LLAMA3_REGEX)
    common = dict(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6,
                  initializer_range=0.08, bos_token_id=tok.token_to_id("<|endoftext|>"),
                  eos_token_id=tok.token_to_id("<|endoftext|>"))
    if arch == "qwen2":
        cfg = Qwen2Config(**common, rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False)
        model = Qwen2ForCausalLM(cfg)
    else:
        cfg = LlamaConfig(**common, rope_theta=10000.0, tie_word_embeddings=False)
        model = LlamaForCausalLM(cfg)
    model.eval()
    # Weights are stored in fp16; run the reference on exactly those values, in fp32.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    out = os.path.join(OUT, arch)
    os.makedirs(out, exist_ok=True)
    model.half().save_pretrained(out, safe_serialization=True)
    # The reference is the saved checkpoint loaded afresh in float32. (Reusing `model` after .half()
    # would keep an fp16-rounded RoPE inv_freq buffer and shift the logits by up to 5e-4.)
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "bos_token": None, "add_bos_token": False,
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
    tensors = {}
    with torch.no_grad():
        for i, text in enumerate(PROMPTS):
            ids = tok.encode(text).ids
            logits = model(torch.tensor([ids])).logits[0].float()
            tensors[f"ids_{i}"] = torch.tensor(ids, dtype=torch.int32)
            tensors[f"logits_{i}"] = logits.contiguous()
        g = torch.Generator().manual_seed(7)
        rnd = torch.randint(0, cfg.vocab_size, (64,), generator=g)
        tensors["ids_2"] = rnd.to(torch.int32)
        tensors["logits_2"] = model(rnd[None]).logits[0].float().contiguous()
        # greedy continuation of prompt 0, 12 tokens, for the generate path
        ids = tok.encode(PROMPTS[0]).ids
        gen = model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False, eos_token_id=None,
                             pad_token_id=0)[0, len(ids):]
        tensors["greedy_0"] = gen.to(torch.int32)
    save_file(tensors, os.path.join(OUT, f"{arch}_golden_logits.safetensors"))
    print(arch, "params", sum(p.numel() for p in model.parameters()), "vocab", cfg.vocab_size)


if __name__ == "__main__":
    build("qwen2")
    build("llama")
