#!/usr/bin/env python3
"""The Python package's cost, measured in one run: `import arrowquant` time, ArrowEngine.encode from
Python against the C++ engine alone on the same sentences and batch size (`arrowquant bench encode`,
in-process timing), and sentence-transformers on torch next to both.

    .venv/bin/python scripts/peers/bench_python.py [MODEL] [--st-model FLOAT_MODEL] [--sentences 512]
                                                   [--batch-size 32] [--repeat 5]

Runs with the project's .venv (PYTHONPATH=build/python, or an installed arrowquant); sentence-transformers
runs in the goldens environment (.venv-goldens, scripts/setup_goldens.sh) in a subprocess, on
--st-model (default MODEL: give the original folder when MODEL is quantised), 2 torch threads. Sentences: STS-B test (../shared/data/stsb/sts-test.csv),
the first N. Best of `repeat` timed runs each, after one warm-up run.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("ARROWQUANT_CLI", os.path.join(ROOT, "build", "arrowquant"))
GOLDENS_PY = os.path.join(ROOT, ".venv-goldens", "bin", "python")
STSB = os.path.join(ROOT, "..", "shared", "data", "stsb", "sts-test.csv")

ST_SCRIPT = """
import sys, time, json, torch
from sentence_transformers import SentenceTransformer
torch.set_num_threads(2)
model, path, batch, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
texts = open(path, encoding="utf-8").read().splitlines()
m = SentenceTransformer(model, device="cpu")
m.encode(texts[:batch], batch_size=batch)
best = min((lambda t0: (m.encode(texts, batch_size=batch), time.perf_counter() - t0)[1])(time.perf_counter())
           for _ in range(repeat))
print(json.dumps({"seconds": best}))
"""


def sentences(n):
    out = []
    with open(STSB, encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            for s in row[5:7]:
                if s and "\n" not in s:
                    out.append(s)
            if len(out) >= n:
                break
    return out[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--st-model", help="the float model sentence-transformers loads (default: MODEL)")
    ap.add_argument("--sentences", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()

    t0 = time.perf_counter()
    import arrowquant as aq
    import_seconds = time.perf_counter() - t0

    texts = sentences(a.sentences)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sentences.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(texts) + "\n")

        engine = aq.ArrowEngine(a.model, threads=2)
        engine.encode(texts[:a.batch_size], batch_size=a.batch_size)
        py = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            engine.encode(texts, batch_size=a.batch_size, normalize=False)
            py.append(time.perf_counter() - t0)

        out = os.path.join(tmp, "bench.json")
        subprocess.run([CLI, "bench", "encode", a.model, "--file", path, "--sentences", str(len(texts)),
                        "--batch-sizes", str(a.batch_size), "--repeat", str(a.repeat), "--threads", "2",
                        "--json", out], check=True, capture_output=True)
        bench = json.load(open(out))
        cpp_rate = _rate_of(bench)

        st_rate = None
        if os.path.exists(GOLDENS_PY):
            r = subprocess.run([GOLDENS_PY, "-c", ST_SCRIPT, a.st_model or a.model, path, str(a.batch_size), str(a.repeat)],
                               capture_output=True, text=True)
            if r.returncode == 0:
                st_rate = len(texts) / json.loads(r.stdout.strip().splitlines()[-1])["seconds"]
            else:
                print("sentence-transformers failed:", r.stderr[-500:], file=sys.stderr)

    py_rate = len(texts) / min(py)
    print(f"model {a.model}, {len(texts)} STS-B sentences, batch {a.batch_size}, 2 threads, best of {a.repeat}")
    print(f"  import arrowquant                 {import_seconds * 1000:.0f} ms")
    print(f"  C++ engine (bench encode)         {cpp_rate:.1f} sentences/s")
    print(f"  Python ArrowEngine.encode         {py_rate:.1f} sentences/s  "
          f"(overhead {100 * (cpp_rate / py_rate - 1):+.1f} %)")
    if st_rate:
        print(f"  sentence-transformers (torch)     {st_rate:.1f} sentences/s  (ArrowQuant x{py_rate / st_rate:.2f})")


def _rate_of(bench):
    """sentences/s of the one model and batch size in `bench encode --json`'s output."""
    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("sentences_per_second", "sentences_per_s") and isinstance(v, (int, float)):
                    yield v
                else:
                    yield from walk(v)
        elif isinstance(x, list):
            for v in x:
                yield from walk(v)
    rates = list(walk(bench))
    if not rates:
        raise SystemExit(f"no sentences/s in bench encode's JSON: {json.dumps(bench)[:300]}")
    return rates[0]


if __name__ == "__main__":
    main()
