#!/usr/bin/env bash
# Accuracy of all-MiniLM-L6-v2 quantised with round-to-nearest at INT8/INT4/INT2 and group sizes
# 32/64/128: embedding cosine against FP32 over every STS-B test sentence, STS-B Spearman, and size.
# Usage: scripts/encoder_accuracy.sh [OUT_DIR]   (default out/encoder-accuracy; prints a Markdown table)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/out/encoder-accuracy}"
AQ="$ROOT/build/arrowquant"
MODEL="$ROOT/models/all-MiniLM-L6-v2"
[ -x "$AQ" ] || "$ROOT/scripts/build.sh"
mkdir -p "$OUT"
for bits in 8 4 2; do
  for g in 32 64 128; do
    name="int${bits}-g${g}"
    extra=()
    [ "$bits" = 2 ] && extra=(--embedding-bits 4)   # the ≤ 12 MB configuration of the seed
    "$AQ" quantize "$MODEL" -o "$OUT/$name" --bits "$bits" --group-size "$g" "${extra[@]}" --force -q >/dev/null
    "$AQ" validate "$MODEL" "$OUT/$name" -q --json "$OUT/$name.json" >/dev/null
    echo "done $name" >&2
  done
done
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
print("| format | group | size (MB) | mean cosine | min cosine | p5 cosine | STS-B Spearman (FP32 → quantised) |")
print("|---|---:|---:|---:|---:|---:|---|")
for bits in (8, 4, 2):
    for g in (32, 64, 128):
        j = json.load(open(os.path.join(out, f"int{bits}-g{g}.json")))
        c, s = j["embedding_cosine"], j["stsb"]
        emb = " (emb 4-bit)" if bits == 2 else ""
        print(f"| INT{bits}{emb} | {g} | {j['quantized']['weight_bytes']/1e6:.2f} | {c['mean']:.4f} | {c['min']:.4f} "
              f"| {c['p5']:.4f} | {s['spearman_original']:.4f} → {s['spearman_quantized']:.4f} |")
PY
