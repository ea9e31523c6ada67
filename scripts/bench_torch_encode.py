#!/usr/bin/env python3
"""sentence-transformers (PyTorch, CPU) encoding speed on STS-B sentences, the peer figure next to
`arrowquant bench encode`. Needs torch (scripts/setup_goldens.sh); prints one JSON object.
Usage: bench_torch_encode.py [--model DIR] [--sentences N] [--batch-sizes 1,32] [--threads 2]
"""
import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(root, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--stsb", default=os.path.join(root, "..", "shared", "data", "stsb", "sts-test.csv"))
    ap.add_argument("--sentences", type=int, default=512)
    ap.add_argument("--batch-sizes", default="1,32")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    import torch
    from sentence_transformers import SentenceTransformer
    torch.set_num_threads(a.threads)
    texts = []
    with open(a.stsb, encoding="utf-8") as f:
        for row in f:
            cols = row.rstrip("\n").split("\t")
            texts += cols[5:7]
    texts = texts[: a.sentences]
    model = SentenceTransformer(a.model, device="cpu")
    out = {"engine": "sentence-transformers", "torch": torch.__version__, "threads": a.threads,
           "sentences": len(texts), "results": []}
    for bs in map(int, a.batch_sizes.split(",")):
        model.encode(texts[: 2 * bs], batch_size=bs)  # warm-up
        best = float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            model.encode(texts, batch_size=bs)
            best = min(best, time.perf_counter() - t0)
        out["results"].append({"batch_size": bs, "seconds": best, "sentences_per_second": len(texts) / best})
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
