#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, then
#  1. quantise the bundled real encoder all-MiniLM-L6-v2 at INT8, INT4 and INT2 and run each against
#     the original on every STS-B test sentence (size, compression, time, weight error, accuracy);
#  2. quantise the bundled real decoder SmolLM2-135M-Instruct (a GGUF) at 8 bits and at 4 bits
#     (importance-weighted round-to-nearest, calibrated on text kept apart from the evaluation), score each on
#     WikiText-2 against the original (perplexity, KL, top-1 agreement) and ask the 4-bit file a
#     question through its chat template.
# Set-up and build output go to out/demo/setup.log; one line per step here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/out/demo"
mkdir -p "$OUT"
LOG="$OUT/setup.log"
: >"$LOG"
step() {  # message, command...
  local msg=$1; shift
  echo "[demo] $msg" >&2
  "$@" >>"$LOG" 2>&1 || { echo "[demo] failed: $msg; the end of $LOG:" >&2; tail -30 "$LOG" >&2; exit 1; }
}
step "setting up (Debian and Python packages, bundled models)" ./scripts/setup.sh
step "building" ./scripts/build.sh
AQ=./build/arrowquant

# 1. The encoder.
MINILM=models/all-MiniLM-L6-v2
encoder() {  # name, flags...
  local name=$1; shift
  $AQ quantize "$MINILM" -o "$OUT/$name" --force -q --json "$OUT/$name.json" "$@" >/dev/null
  $AQ validate "$MINILM" "$OUT/$name" -q --json "$OUT/$name.validate.json" >/dev/null
}
step "all-MiniLM-L6-v2: INT8, validated on STS-B (2758 sentences)" encoder int8 --bits 8 --group-size 128 --embedding-bits 8
step "all-MiniLM-L6-v2: INT4" encoder int4 --bits 4 --group-size 128 --embedding-bits 8
step "all-MiniLM-L6-v2: INT2" encoder int2 --bits 2 --group-size 128 --embedding-bits 4

# 2. The decoder. Evaluation: the first 8 chunks of 512 tokens of WikiText-2 test (the full side by
# side with llama.cpp is scripts/peers/compare_llamacpp.py).
SMOL=models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
WIKI=../shared/data/wikitext2/wiki.test.raw
decoder() {  # name, flags...
  local name=$1; shift
  $AQ quantize "$SMOL" -o "$OUT/smollm2-$name" --force -q --json "$OUT/smollm2-$name.json" "$@" >/dev/null
  $AQ ppl "$OUT/smollm2-$name" -f "$WIKI" --ctx 512 --chunks 8 --kl-base "$SMOL" -q --json "$OUT/smollm2-$name.ppl.json" >/dev/null
}
step "SmolLM2-135M: perplexity of the original GGUF" \
  $AQ ppl "$SMOL" -f "$WIKI" --ctx 512 --chunks 8 -q --json "$OUT/smollm2-base.ppl.json"
step "SmolLM2-135M: INT8" decoder int8 --bits 8 --group-size 128
# Calibration for the importance-weighted INT4: the second half of the same file, which the
# evaluation chunks never reach.
tail -n +1446 "$WIKI" >"$OUT/calibration.txt"
step "SmolLM2-135M: INT4, importance-weighted on 32 x 512 calibration tokens" \
  decoder int4 --bits 4 --group-size 32 --calibration "$OUT/calibration.txt" --samples 32 --seq-len 512
step "SmolLM2-135M: chat with the INT4 file" sh -c \
  "$AQ generate '$OUT/smollm2-int4' --chat -p 'What is the capital of France?' -n 40 --temperature 0 -q > '$OUT/chat.txt'"

# 3. The diffusion transformer trained here on Fashion-MNIST: 4-bit weights, the timestep path and the
# first and last layers at 8 bits; scored against the float model, and a grid of its samples.
DIT=tests/goldens/diffusion/fashion_dit
step "Fashion-MNIST DiT: INT4 g64, the timestep path at 8 bits, 200 samples scored" sh -c \
  "$AQ quantize $DIT -o '$OUT/dit-int4' --force -q --bits 4 --group-size 64 --pin '*norm1.emb.*=8' \
     --pin '*norm1.linear*=8' --pin 'proj_out_*=8' --pin 'pos_embed*=8' >/dev/null &&
   $AQ validate $DIT '$OUT/dit-int4' --samples 200 --steps 25 -q --format json > '$OUT/dit-int4.validate.json' &&
   $AQ sample '$OUT/dit-int4' $(printf -- '--class %s ' 0 1 2 3 4 5 6 7 8 9)-n 8 --steps 50 --seed 1 \
     --columns 8 --png '$OUT/dit-int4-samples.png' -q"

.venv/bin/python - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, name)))
print("all-MiniLM-L6-v2 (22.7 M parameters, FP32 safetensors 90.9 MB, FP16 45.4 MB)\n")
print("| format | file | vs FP16 (file) | linear weights vs FP16 | quantise time | mean rel. RMSE | min weight cosine "
      "| embedding cosine mean / min | STS-B Spearman |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, label in [("int8", "INT8 g128, emb 8-bit"), ("int4", "INT4 g128, emb 8-bit"), ("int2", "INT2 g128, emb 4-bit")]:
    j = load(name + ".json")
    lin = [t for t in j["tensors"] if "cosine" in t and "embed" not in t["name"]]
    lin_ratio = sum(2 * t["num_params"] for t in lin) / sum(t["bytes"] for t in lin)
    q = [t for t in j["tensors"] if "cosine" in t]
    v = load(name + ".validate.json")
    c, s = v["embedding_cosine"], v["stsb"]
    print(f"| {label} | {j['file_bytes']/1e6:.2f} MB | {j['compression_vs_fp16']:.2f}x | {lin_ratio:.2f}x | "
          f"{j['seconds']:.2f} s | {sum(t['rel_rmse'] for t in q)/len(q):.4f} | {min(t['cosine'] for t in q):.5f} "
          f"| {c['mean']:.4f} / {c['min']:.4f} | {s['spearman_quantized']:.4f} (FP32 {s['spearman_original']:.4f}) |")
print("\nEmbedding cosine: the quantised model's sentence embedding against FP32's, over all 2758 STS-B test sentences.")

base = load("smollm2-base.ppl.json")
gguf = os.path.join(out, "..", "..", "models", "smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf")
print("\nSmolLM2-135M-Instruct (134.5 M parameters, bundled as GGUF Q4_1): WikiText-2 test, first "
      f"8 chunks of 512 tokens ({base['scored_tokens']} scored); calibration: the file's second half\n")
print("| model | file | quantise time | perplexity | Δ perplexity | mean KL | top-1 agreement |")
print("|---|---:|---:|---:|---:|---:|---:|")
print(f"| original (GGUF Q4_1, dequantised) | {os.path.getsize(gguf)/1e6:.1f} MB "
      f"| | {base['perplexity']:.3f} | | | |")
for name, label in [("int8", "INT8 g128"), ("int4", "INT4 g32, importance-weighted")]:
    j, p = load(f"smollm2-{name}.json"), load(f"smollm2-{name}.ppl.json")
    print(f"| {label} | {j['file_bytes']/1e6:.1f} MB | {j['seconds']:.1f} s | {p['perplexity']:.3f} | {100 * (p['perplexity'] / base['perplexity'] - 1):+.1f} % "
          f"| {p['against_base']['kl_mean']:.4f} | {100 * p['against_base']['top1_agreement']:.1f} % |")
print("\nThe INT4 file, asked 'What is the capital of France?' through its chat template (greedy):\n")
print("    " + open(os.path.join(out, "chat.txt")).read().strip().replace("\n", "\n    "))
v = load("dit-int4.validate.json")
ref, m = v["reference"], v["model"]
worst = max(v["per_timestep"], key=lambda s: s["noise_rel_error"])
high = max(s["noise_rel_error"] for s in v["per_timestep"] if s["t"] >= 500)
print(f"\nFashion-MNIST DiT (1.24 M parameters, trained here: scripts/goldens/train_fashion_dit.py), "
      f"{v['samples']} samples, 25 DDIM steps, guidance 2\n")
print("| model | weights | Fréchet distance | class accuracy | noise error t ≥ 500 | worst (t) |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| float | {ref['weight_bytes']/1e6:.2f} MB | {ref['frechet_distance']:.1f} | {100*ref['class_accuracy']:.1f} % | | |")
print(f"| INT4 g64 + 8-bit timestep path | {m['weight_bytes']/1e6:.2f} MB | {m['frechet_distance']:.1f} "
      f"| {100*m['class_accuracy']:.1f} % | {high:.4f} | {worst['noise_rel_error']:.4f} ({worst['t']}) |")
print(f"\nSamples of the INT4 file, one row per class: {out}/dit-int4-samples.png")
print(f"\nOutputs in {out}/. Try: ./build/arrowquant chat {out}/smollm2-int4   |   ./build/arrowquant inspect {out}/int2")
PY
