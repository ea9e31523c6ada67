#!/usr/bin/env bash
# The main job on a fresh machine: install what is missing, build, then quantise the bundled real
# all-MiniLM-L6-v2 at INT8, INT4 and INT2, run each quantised encoder against the original on every
# STS-B test sentence, and print size, compression, time, weight error and embedding accuracy.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
./scripts/build.sh >/dev/null
OUT="$ROOT/out/demo"
mkdir -p "$OUT"
MODEL=models/all-MiniLM-L6-v2
run() {  # name, flags...
  local name=$1; shift
  ./build/arrowquant quantize "$MODEL" -o "$OUT/$name" --force -q --json "$OUT/$name.json" "$@" >/dev/null
}
run int8 --bits 8 --group-size 128 --embedding-bits 8
run int4 --bits 4 --group-size 128 --embedding-bits 8
run int2 --bits 2 --group-size 128 --embedding-bits 4
for name in int8 int4 int2; do
  echo "validating $name against FP32 on STS-B (2758 sentences)..." >&2
  ./build/arrowquant validate "$MODEL" "$OUT/$name" -q --json "$OUT/$name.validate.json" >/dev/null
done
.venv/bin/python - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
print("all-MiniLM-L6-v2 (22.7 M parameters, FP32 safetensors 90.9 MB, FP16 45.4 MB)\n")
print("| format | file | vs FP16 (file) | linear weights vs FP16 | quantise time | mean rel. RMSE | min weight cosine "
      "| embedding cosine mean / min | STS-B Spearman |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, label in [("int8", "INT8 g128, emb 8-bit"), ("int4", "INT4 g128, emb 8-bit"), ("int2", "INT2 g128, emb 4-bit")]:
    j = json.load(open(os.path.join(out, name + ".json")))
    lin = [t for t in j["tensors"] if "cosine" in t and "embed" not in t["name"]]
    lin_ratio = sum(2 * t["num_params"] for t in lin) / sum(t["bytes"] for t in lin)
    q = [t for t in j["tensors"] if "cosine" in t]
    v = json.load(open(os.path.join(out, name + ".validate.json")))
    c, s = v["embedding_cosine"], v["stsb"]
    print(f"| {label} | {j['file_bytes']/1e6:.2f} MB | {j['compression_vs_fp16']:.2f}x | {lin_ratio:.2f}x | "
          f"{j['seconds']:.2f} s | {sum(t['rel_rmse'] for t in q)/len(q):.4f} | {min(t['cosine'] for t in q):.5f} "
          f"| {c['mean']:.4f} / {c['min']:.4f} | {s['spearman_quantized']:.4f} (FP32 {s['spearman_original']:.4f}) |")
print("\nEmbedding cosine: the quantised model's sentence embedding against FP32's, over all 2758 STS-B test sentences.")
print(f"Outputs in {out}/ (model folders); inspect one with: ./build/arrowquant inspect {out}/int2")
PY
