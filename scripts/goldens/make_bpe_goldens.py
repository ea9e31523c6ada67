#!/usr/bin/env python3
"""Token ids of every line of ../shared/data/wikitext2/wiki.test.raw under the GPT-2 byte-level BPE
vocabulary of ../shared/data/tokenizers/ggml-vocab-gpt-2.gguf, computed by Hugging Face `tokenizers`
built from that same vocabulary and merges (ByteLevel pre-tokenizer, GPT-2 regex, no prefix space).

Writes tests/goldens/tokenizers/gpt2_wikitext.txt: one line per input line, "COUNT HASH", HASH being
FNV-1a 64 (hex) over the ids as little-endian int32 — small enough to commit, exact enough to test.
Needs `tokenizers` and `gguf` (scripts/setup_goldens.sh).
"""
import os
import struct

import gguf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data")


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for b in b"".join(struct.pack("<i", i) for i in ids):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def field_strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def main():
    r = gguf.GGUFReader(os.path.join(DATA, "tokenizers", "ggml-vocab-gpt-2.gguf"))
    tokens = field_strings(r, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in field_strings(r, "tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    with open(os.path.join(DATA, "wikitext2", "wiki.test.raw"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    out_dir = os.path.join(ROOT, "tests", "goldens", "tokenizers")
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    with open(os.path.join(out_dir, "gpt2_wikitext.txt"), "w") as out:
        for line in lines:
            ids = tok.encode(line).ids if line else []
            total += len(ids)
            assert tok.decode(ids) == line
            out.write(f"{len(ids)} {fnv1a64(ids):016x}\n")
    print(f"{len(lines)} lines, {total} tokens")


if __name__ == "__main__":
    main()
