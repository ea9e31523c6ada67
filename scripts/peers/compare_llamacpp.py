#!/usr/bin/env python3
"""Side by side with llama.cpp on one decoder, in one command: the same F32 weights quantised by
llama.cpp's types (with an importance matrix) and by ArrowQuant's methods, every result scored on the
same evaluation text with the same context and chunking by each tool's own perplexity program, KL
divergence against the F32 model, and decode speed of the 8- and 4-bit files.

    .venv/bin/python scripts/peers/compare_llamacpp.py [--model GGUF] [--work DIR] [--chunks N]

Steps (each result is cached in WORK/results/ and reused; --force reruns):
  1. builds llama.cpp's tools outside the repository (scripts/peers/llamacpp.sh) and makes an F32
     GGUF of the model (llama-quantize --allow-requantize ... F32): the common base;
  2. text: evaluation = WikiText-2 test (../shared/data/wikitext2/wiki.test.raw), its first
     --chunks chunks of --ctx tokens; calibration = the second half of the same file's lines, which
     the first --chunks chunks never reach (checked), so evaluation and calibration are disjoint;
  3. llama-imatrix on the calibration text (--calib-chunks × ctx tokens), then llama-quantize
     --imatrix for each llama.cpp type, llama-perplexity --kl-divergence on each;
  4. arrowquant quantize for each ArrowQuant setting (the same calibration text for GPTQ/AWQ and the
     sensitivity allocation), arrowquant ppl --kl-base F32.gguf on each;
  5. the token ids both tools score are compared (llama-tokenize vs arrowquant), the F32 perplexities
     compared (parity within 0.2 %), decode speed measured (llama-bench -n 128; arrowquant bench
     decode -n 128), and one table written: WORK/comparison.md and .json.

Nothing here is needed by the product or CI; llama.cpp is built from the llama-cpp-python sdist's
vendored sources (a registry package) and never committed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
# Every type llama-quantize offers between ~1.5 and ~8.5 bits per weight (its fallbacks for SmolLM2's
# 576-wide rows make most of them larger than their names say).
LLAMA_TYPES = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0", "IQ4_NL",
               "IQ4_XS", "Q3_K_L", "Q3_K_M", "Q3_K_S", "IQ3_M", "IQ3_S", "IQ3_XS", "IQ3_XXS", "Q2_K", "Q2_K_S",
               "IQ2_M", "IQ2_S", "IQ2_XS", "IQ2_XXS", "IQ1_M", "IQ1_S"]
# name → arrowquant quantize flags. The --target-bpw rows aim at llama.cpp's sizes (Q4_K_M, Q3_K_M, Q2_K).
OUR_SETTINGS = {
    "rtn-int8-g128": ["--method", "rtn", "--bits", "8", "--group-size", "128"],
    "rtn-int4-g32": ["--method", "rtn", "--bits", "4", "--group-size", "32"],
    "rtn-int4-g128": ["--method", "rtn", "--bits", "4", "--group-size", "128"],
    "rtn-int3-g64": ["--method", "rtn", "--bits", "3", "--group-size", "64"],
    "rtn-int2-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64"],
    # RTN given the calibration text: importance-weighted (llama.cpp's imatrix idea).
    "imp-int4-g32": ["--method", "rtn", "--bits", "4", "--group-size", "32"],
    "imp-int3-g64": ["--method", "rtn", "--bits", "3", "--group-size", "64"],
    "imp-int2-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64"],
    "gptq-int4-g128": ["--method", "gptq", "--bits", "4", "--group-size", "128"],
    "gptq-int3-g64": ["--method", "gptq", "--bits", "3", "--group-size", "64"],
    "gptq-int2-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64"],
    "awq-int4-g128": ["--method", "awq", "--bits", "4", "--group-size", "128"],
    "awq-int3-g64": ["--method", "awq", "--bits", "3", "--group-size", "64"],
    "awq-int2-g64": ["--method", "awq", "--bits", "2", "--group-size", "64"],
    # The same in a randomised Hadamard input space (--rotation hadamard).
    "rot-rtn-int4-g32": ["--method", "rtn", "--bits", "4", "--group-size", "32", "--rotation", "hadamard"],
    "rot-rtn-int3-g64": ["--method", "rtn", "--bits", "3", "--group-size", "64", "--rotation", "hadamard"],
    "rot-rtn-int2-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64", "--rotation", "hadamard"],
    "rot64-rtn-int4-g32": ["--method", "rtn", "--bits", "4", "--group-size", "32", "--rotation", "hadamard",
                           "--rotation-block", "64"],
    "rot-imp-int4-g32": ["--method", "rtn", "--bits", "4", "--group-size", "32", "--rotation", "hadamard"],
    "rot-imp-int3-g64": ["--method", "rtn", "--bits", "3", "--group-size", "64", "--rotation", "hadamard"],
    "rot-imp-int2-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64", "--rotation", "hadamard"],
    "rot-gptq-int4-g128": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--rotation", "hadamard"],
    "rot-gptq-int3-g64": ["--method", "gptq", "--bits", "3", "--group-size", "64", "--rotation", "hadamard"],
    "rot-gptq-int2-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--rotation", "hadamard"],
    "rot-gptq-int4h-g64": ["--method", "gptq", "--bits", "4", "--group-size", "64", "--half", "--rotation", "hadamard"],
    # Rotated, on the half-offset symmetric grid (--half: no level at zero; AngelSlim's SEQ at 2 bits).
    "rot-rtn-int2h-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64", "--half", "--rotation", "hadamard"],
    "rot-imp-int2h-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64", "--half", "--rotation", "hadamard"],
    "rot-gptq-int2h-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--half", "--rotation", "hadamard"],
    "imp-int2h-g64": ["--method", "rtn", "--bits", "2", "--group-size", "64", "--half"],
    "imp-int3h-g64": ["--method", "rtn", "--bits", "3", "--group-size", "64", "--half"],
    "imp-int4h-g64": ["--method", "rtn", "--bits", "4", "--group-size", "64", "--half"],
    "gptq-int2h-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--half"],
    "rtn-int8s-g128": ["--method", "rtn", "--bits", "8", "--group-size", "128", "--sym"],
    # 5- and 6-bit widths (the sizes of llama.cpp's Q4_K_M / Q5_K_M), embeddings and tied head at 6 or 8 bits.
    "rot-gptq-int5-g64-e6": ["--method", "gptq", "--bits", "5", "--group-size", "64", "--embedding-bits", "6",
                             "--rotation", "hadamard"],
    "rot-gptq-int6-g128-e6": ["--method", "gptq", "--bits", "6", "--group-size", "128", "--embedding-bits", "6",
                              "--rotation", "hadamard"],
    "rot-gptq-int6-g64": ["--method", "gptq", "--bits", "6", "--group-size", "64", "--rotation", "hadamard"],
    # Under Q5_K_S's 110.0 MB: INT6 in groups of 256, embeddings/head INT8.
    "rot-gptq-int6-g256": ["--method", "gptq", "--bits", "6", "--group-size", "256", "--rotation", "hadamard"],
    # Codebook levels instead of the integer grid (--codebook): NormalFloat and Lloyd-Max for a normal.
    "rot-gptq-nf4-g128": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "nf"],
    "rot-gptq-gauss4-g128": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "gauss"],
    "rot-gptq-gauss3-g64": ["--method", "gptq", "--bits", "3", "--group-size", "64", "--codebook", "gauss"],
    "rot-gptq-gauss2-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--codebook", "gauss"],
    "rot-gptq-gauss4-g128-ao": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "gauss",
                                "--act-order"],
    # Under 4.6 bits per weight (77.3 MB): gauss4 Linears, activation order, the tied embeddings at INT5.
    "rot-gptq-gauss4-g128-e5": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "gauss",
                                "--embedding-bits", "5", "--act-order"],
    # GPTQ (rotated by default) with widths allocated to a file size: Q4_K_M's 105.5 MB.
    "gptq-size-105": ["--method", "gptq", "--target-size", "105", "--group-size", "128"],
    # ... and Q5_K_M's 112.1 MB.
    "gptq-size-112": ["--method", "gptq", "--target-size", "112", "--group-size", "128"],
    # Issue 14's headlines: 4.6 and 2.6 bits per weight over the whole file (134.5 M parameters).
    "gptq-size-77": ["--method", "gptq", "--target-size", "77.3", "--group-size", "128"],
    "gptq-size-44": ["--method", "gptq", "--target-size", "43.7", "--group-size", "64"],
    # The same on Lloyd-Max levels at 2-4 bits (--codebook gauss), and at Q5_K_S's 110.0 MB. Activation order
    # paid at 2 bits (stories260K) and not at 4 (SmolLM2 gauss4 g128: KL 0.0710 without, 0.0770 with).
    "gptq-size-77g": ["--method", "gptq", "--target-size", "77.3", "--group-size", "128", "--codebook", "gauss"],
    "gptq-size-44g": ["--method", "gptq", "--target-size", "43.7", "--group-size", "64", "--codebook", "gauss",
                      "--act-order"],
    "gptq-size-110g": ["--method", "gptq", "--target-size", "110", "--group-size", "128", "--codebook", "gauss"],
    # GPTQ with least-squares group scales alternated with GPTQ passes (--scale-refits 2).
    "rot-gptq-gauss4-g128-r2": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "gauss",
                                "--scale-refits", "2"],
    "rot-gptq-gauss3-g64-r2": ["--method", "gptq", "--bits", "3", "--group-size", "64", "--codebook", "gauss",
                               "--scale-refits", "2"],
    "rot-gptq-gauss2-g64-r2": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--codebook", "gauss",
                               "--scale-refits", "2"],
    # The 8-dimensional lattice codebook at 2 bits (--codebook lattice: lattice2, 8 weights per 16-bit code),
    # against the scalar Lloyd-Max levels at the same size (act-order does not apply to lattice vectors).
    "rot-gptq-gauss2-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--codebook", "gauss"],
    "rot-gptq-lattice2-g64": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--codebook", "lattice"],
    "rot-gptq-lattice2-g64-r2": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--codebook", "lattice",
                                 "--scale-refits", "2"],
    # Block-wise tuning (issue 14 step 5): scales and codes (straight-through) against the float block's
    # outputs on the float model's states, 6 epochs over the first 32 calibration sequences.
    "rot-gptq-gauss2-g64-bt": ["--method", "gptq", "--bits", "2", "--group-size", "64", "--codebook", "gauss",
                               "--float-targets", "on", "--tune-epochs", "6", "--tune-lr", "0.01", "--tune-codes", "on",
                               "--tune-samples", "32"],
    # ... and at 4 bits under the 4.6-bpw headline (embeddings/head INT5; 74.0 MB): 6 epochs over 16 sequences.
    "rot-gptq-gauss4-g128-e5-bt": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "gauss",
                                   "--embedding-bits", "5", "--tune-epochs", "6", "--tune-samples", "16"],
    # 2026-12-04: embedding tables rotated with the weight matrices (the build's default under GPTQ), the
    # lattice in the 2.6-bpw allocation, a uniform 2.6-bpw file, and the offline residual-stream rotation.
    "gptq-size-44l": ["--method", "gptq", "--target-size", "43.7", "--group-size", "64", "--codebook", "lattice"],
    "rot-gptq-lattice2-g128-e4": ["--method", "gptq", "--bits", "2", "--group-size", "128", "--codebook", "lattice",
                                  "--embedding-bits", "4"],
    "res-gptq-gauss4-g128": ["--method", "gptq", "--bits", "4", "--group-size", "128", "--codebook", "gauss",
                             "--rotation", "residual"],
    "bpw-4.9": ["--method", "rtn", "--target-bpw", "4.9"],
    "bpw-3.9": ["--method", "rtn", "--target-bpw", "3.9"],
    "bpw-3.0": ["--method", "rtn", "--target-bpw", "3.0"],
}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, out_file=None, timed=False):
    """Runs cmd (a list); returns (stdout+stderr text, seconds, peak RSS MB when timed)."""
    if timed:
        cmd = ["/usr/bin/time", "-f", "__time__ %e %M"] + cmd
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    secs = time.time() - t0
    if out_file:
        with open(out_file, "w") as f:
            f.write(" ".join(cmd) + "\n" + p.stdout)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}")
    peak = None
    m = re.search(r"__time__ ([\d.]+) (\d+)", p.stdout)
    if m:
        secs, peak = float(m.group(1)), int(m.group(2)) / 1024.0
    return p.stdout, secs, peak


class Cache:
    def __init__(self, work, force):
        self.dir = os.path.join(work, "results")
        os.makedirs(self.dir, exist_ok=True)
        self.force = force

    def get(self, key, fn):
        path = os.path.join(self.dir, key + ".json")
        if os.path.exists(path) and not self.force:
            return json.load(open(path))
        value = fn()
        with open(path + ".tmp", "w") as f:
            json.dump(value, f, indent=1)
        os.replace(path + ".tmp", path)
        return value


def llama(tool):
    return subprocess.check_output([os.path.join(ROOT, "scripts", "peers", "llamacpp.sh"), "path", tool],
                                   text=True).strip()


def parse_llama_ppl(text):
    r = {}
    pats = {"ppl": r"Mean PPL\(Q\)\s*:\s*([\d.]+)", "base_ppl": r"Mean PPL\(base\)\s*:\s*([\d.]+)",
            "kl_mean": r"Mean\s+KLD:\s*([-\d.]+)", "top1_agreement": r"Same top p:\s*([\d.]+)",
            "final_ppl": r"Final estimate: PPL = ([\d.]+)", "scored_chunks": r"calculating perplexity over (\d+) chunks"}
    for k, p in pats.items():
        m = re.search(p, text)
        if m:
            r[k] = float(m.group(1))
    if "top1_agreement" in r:
        r["top1_agreement"] /= 100.0
    if "ppl" not in r and "final_ppl" in r:
        r["ppl"] = r["final_ppl"]
    return r


def ours_ppl(path):
    """arrowquant ppl --json, in the keys parse_llama_ppl uses."""
    j = json.load(open(path))
    r = {"ppl": j["perplexity"], "scored_tokens": j["scored_tokens"], "seconds": j["seconds"]}
    base = j.get("against_base")
    if base:
        r.update({"kl_mean": base["kl_mean"], "top1_agreement": base["top1_agreement"], "base_ppl": base["base_perplexity"]})
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--work", default=os.path.join(ROOT, "..", "peers", "compare-smollm2"))
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "arrowquant"))
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=29, help="evaluation chunks (29 × 255 scored = 7.4k tokens)")
    ap.add_argument("--calib-chunks", type=int, default=128, help="calibration sequences of --ctx tokens")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="", help="comma-separated row names to run (default: all)")
    ap.add_argument("--skip", default="", help="comma-separated row names to leave out of this run and its table")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--force", action="store_true", help="rerun cached results")
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    cache = Cache(work, a.force)
    only = set(filter(None, a.only.split(",")))
    skip = set(filter(None, a.skip.split(",")))
    wanted = lambda name: name == "F32" or (name not in skip and (not only or name in only))

    subprocess.check_call([os.path.join(ROOT, "scripts", "peers", "llamacpp.sh"), "build"])
    f32 = os.path.join(work, "f32.gguf")
    if not os.path.exists(f32):
        log("F32 base: llama-quantize --allow-requantize ... F32")
        run([llama("llama-quantize"), "--allow-requantize", a.model, f32 + ".tmp", "F32"], os.path.join(work, "f32.log"))
        os.replace(f32 + ".tmp", f32)

    # Texts: evaluation from the start of WikiText-2 test, calibration from its second half.
    wiki = os.path.join(SHARED, "wikitext2", "wiki.test.raw")
    lines = open(wiki, encoding="utf-8", newline="").read().splitlines(keepends=True)
    calib = os.path.join(work, "calibration.txt")
    half = len(lines) // 2
    with open(calib, "w", encoding="utf-8", newline="") as f:
        f.writelines(lines[half:])
    eval_chars = sum(len(l) for l in lines[:half])

    # Token ids: the whole evaluation file through both tokenizers (both perplexity programs tokenise
    # the whole file, then cut chunks).
    def tokens_equal():
        out, _, _ = run([llama("llama-tokenize"), "-m", f32, "-f", wiki, "--ids", "--log-disable", "--no-bos"])
        theirs = json.loads(out[out.index("["):out.rindex("]") + 1])
        ours_json = os.path.join(work, "ours_ids.json")
        run([a.cli, "tokenize", f32, "-f", wiki, "--json", ours_json])
        ours = json.load(open(ours_json))["ids"]
        first = next((i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y), None)
        if first is None and len(ours) != len(theirs):
            first = min(len(ours), len(theirs))
        return {"tokens": len(theirs), "ours": len(ours), "equal": ours == theirs, "first_difference": first,
                "context": {"ours": ours[max(0, (first or 0) - 3):(first or 0) + 5],
                            "theirs": theirs[max(0, (first or 0) - 3):(first or 0) + 5]}}
    tok = cache.get("tokens", tokens_equal)
    log(f"token ids on {tok['tokens']} tokens of the evaluation text: {'equal' if tok['equal'] else 'DIFFER'}")

    base_kld = os.path.join(work, "f32.kld")

    def llama_base():
        out, secs, _ = run([llama("llama-perplexity"), "-m", f32, "-f", wiki, "-c", str(a.ctx), "--chunks", str(a.chunks),
                            "-t", str(a.threads), "--kl-divergence-base", base_kld], os.path.join(work, "llama-f32.log"))
        r = parse_llama_ppl(out)
        r["seconds"] = secs
        return r
    lbase = cache.get("llama-F32", llama_base)
    if not os.path.exists(base_kld):
        sys.exit(f"{base_kld} is missing: rerun with --force")

    def ours_base():
        js = os.path.join(work, "ours-f32-ppl.json")
        run([a.cli, "ppl", f32, "-f", wiki, "--ctx", str(a.ctx), "--chunks", str(a.chunks), "-q", "--json", js,
             "--threads", str(a.threads)])
        return ours_ppl(js)
    obase = cache.get("ours-F32", ours_base)
    parity = abs(obase["ppl"] / lbase["ppl"] - 1)
    log(f"F32 perplexity: llama.cpp {lbase['ppl']:.4f}, ArrowQuant {obase['ppl']:.4f} ({100 * parity:.3f} % apart)")

    imatrix = os.path.join(work, "imatrix.gguf")
    if not os.path.exists(imatrix):
        log(f"llama-imatrix on {a.calib_chunks} × {a.ctx} calibration tokens")
        run([llama("llama-imatrix"), "-m", f32, "-f", calib, "-o", imatrix, "-c", str(a.ctx), "--chunks",
             str(a.calib_chunks), "-t", str(a.threads)], os.path.join(work, "imatrix.log"))

    rows = [{"tool": "both", "name": "F32", "bytes": os.path.getsize(f32), "ppl": lbase["ppl"], "ours_ppl": obase["ppl"]}]
    n_params = None
    for t in LLAMA_TYPES:
        if not wanted(t):
            continue
        def one(t=t):
            q = os.path.join(work, f"llama-{t}.gguf")
            log(f"llama.cpp {t}")
            _, secs, peak = run([llama("llama-quantize"), "--imatrix", imatrix, f32, q, t, str(a.threads)],
                                os.path.join(work, f"quantize-{t}.log"), timed=True)
            out, _, _ = run([llama("llama-perplexity"), "-m", q, "-f", wiki, "-c", str(a.ctx), "--chunks", str(a.chunks),
                             "-t", str(a.threads), "--kl-divergence-base", base_kld, "--kl-divergence"],
                            os.path.join(work, f"ppl-{t}.log"))
            r = parse_llama_ppl(out)
            r.update({"tool": "llama.cpp", "name": t, "bytes": os.path.getsize(q), "quant_seconds": secs,
                      "quant_peak_mb": peak, "file": q})
            return r
        rows.append(cache.get("llama-" + t, one))

    for name, flags in OUR_SETTINGS.items():
        if not wanted(name):
            continue
        def one(name=name, flags=flags):
            out_dir = os.path.join(work, "ours-" + name)
            extra = []
            if any(f in flags for f in ("gptq", "awq")) or "--target-bpw" in flags or "imp-" in name:
                extra = ["--calibration", calib, "--samples", str(a.calib_chunks), "--seq-len", str(a.ctx)]
            log(f"ArrowQuant {name}")
            _, secs, peak = run([a.cli, "quantize", f32, "-o", out_dir, "--force", "-q", "--threads", str(a.threads)] +
                                flags + extra, os.path.join(work, f"quantize-{name}.log"), timed=True)
            js = os.path.join(work, f"ppl-{name}.json")
            run([a.cli, "ppl", out_dir, "-f", wiki, "--ctx", str(a.ctx), "--chunks", str(a.chunks), "--kl-base", f32,
                 "-q", "--json", js, "--threads", str(a.threads)])
            r = ours_ppl(js)
            r.update({"tool": "ArrowQuant", "name": name, "bytes": os.path.getsize(os.path.join(out_dir, "model.parquet")),
                      "quant_seconds": secs, "quant_peak_mb": peak, "flags": " ".join(flags), "file": out_dir})
            return r
        rows.append(cache.get("ours-" + name, one))

    # Parameters, for bits per weight of the whole file.
    out, _, _ = run([a.cli, "inspect", f32, "--json"])
    n_params = json.loads(out)["parameters"]

    speed = {}
    if not a.skip_speed:
        def bench():
            res = {}
            for t in ("Q8_0", "Q4_0"):
                q = os.path.join(work, f"llama-{t}.gguf")
                if os.path.exists(q):
                    out, _, _ = run([llama("llama-bench"), "-m", q, "-n", "128", "-p", "0", "-t", str(a.threads), "-r", "3",
                                     "-o", "json"])
                    res["llama.cpp " + t] = json.loads(out[out.index("["):])[0]["avg_ts"]
            models = [os.path.join(work, "ours-" + n) for n in ("rtn-int8-g128", "rtn-int4-g32")
                      if os.path.isdir(os.path.join(work, "ours-" + n))]
            if models:
                js = os.path.join(work, "bench-decode.json")
                run([a.cli, "bench", "decode"] + models + ["-n", "128", "--repeat", "3", "--threads", str(a.threads),
                                                           "--json", js])
                for m in json.load(open(js))["models"]:
                    res["ArrowQuant " + os.path.basename(m["model"]).replace("ours-", "")] = m["decode_tokens_per_second"]
            return res
        speed = cache.get("speed", bench)

    base_ppl = lbase["ppl"]
    md = [f"# SmolLM2-135M-Instruct: llama.cpp and ArrowQuant side by side",
          "",
          f"Base: `{os.path.basename(a.model)}` dequantised to F32 (`llama-quantize --allow-requantize … F32`); "
          f"{n_params / 1e6:.1f} M parameters. Evaluation: WikiText-2 test, first {a.chunks} chunks of {a.ctx} tokens "
          f"(second half of each scored, llama.cpp's method, both tools). Calibration (imatrix, GPTQ, AWQ, "
          f"sensitivity): the second half of the same file's lines, {a.calib_chunks} × {a.ctx} tokens, disjoint "
          f"from the evaluation chunks.",
          "",
          f"Token ids: {tok['tokens']} tokens of the evaluation text, "
          f"{'identical' if tok['equal'] else 'different from token ' + str(tok['first_difference'])} (llama-tokenize vs arrowquant). "
          f"F32 perplexity: llama.cpp {lbase['ppl']:.4f}, ArrowQuant {obase['ppl']:.4f} ({100 * parity:.3f} % apart).",
          "",
          "The base weights came from Q4_1 (4-bit, group 32, fp16 scale and min): a format that can hold that grid "
          "exactly (Q4_1 itself, ArrowQuant int4 g32 affine) has an unfair edge at 4 bits.",
          "",
          "| tool | type / setting | file MB | bits/weight (file) | PPL | Δ% | mean KL | top-1 % | quantise s | peak MB |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    def fmt(v, spec):
        return "" if v is None else format(v, spec)
    for r in rows:
        ppl = r.get("ppl", 0)
        delta = 100 * (ppl / base_ppl - 1) if ppl else float("nan")
        top1 = r.get("top1_agreement")
        md.append(f"| {r['tool']} | {r['name']} | {r['bytes'] / 1e6:.1f} | {8 * r['bytes'] / n_params:.2f} | "
                  f"{ppl:.3f} | {delta:+.1f} | {fmt(r.get('kl_mean'), '.4f')} | "
                  f"{fmt(None if top1 is None else 100 * top1, '.1f')} | {fmt(r.get('quant_seconds'), '.0f')} | "
                  f"{fmt(r.get('quant_peak_mb'), '.0f')} |")
        r["delta_pct"] = delta
    if speed:
        md += ["", f"Decode, 128 tokens, {a.threads} threads (llama-bench -n 128 -p 0 -r 3; arrowquant bench decode -n 128 --repeat 3):", "",
               "| model | tokens/s |", "|---|---:|"]
        md += [f"| {k} | {v:.1f} |" for k, v in speed.items()]
    text = "\n".join(md) + "\n"
    with open(os.path.join(work, "comparison.md"), "w") as f:
        f.write(text)
    with open(os.path.join(work, "comparison.json"), "w") as f:
        json.dump({"rows": rows, "speed": speed, "tokens": tok, "parameters": n_params, "ctx": a.ctx,
                   "chunks": a.chunks, "calib_chunks": a.calib_chunks}, f, indent=1)
    print(text)
    if a.chunks * a.ctx * 4 > eval_chars:
        log("warning: the evaluation chunks may reach the calibration half of the file")


if __name__ == "__main__":
    main()
