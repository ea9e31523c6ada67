#!/usr/bin/env bash
# Text sampled from the FP32 stories260K model (seeded), the evaluation text for its quantised
# versions: KL divergence and perplexity are measured on what the original model itself writes.
# 48 unconditional stories, seeds 1..48, temperature 1, no top-k/top-p truncation, at most 256 tokens.
# Usage: scripts/goldens/make_stories_sample.sh   (needs ./build/arrowquant)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/tests/goldens/stories260k/sampled_fp32.txt"
TMP="$OUT.partial"
: > "$TMP"
for seed in $(seq 1 48); do
  "$ROOT/build/arrowquant" generate "$ROOT/models/stories260K/stories260K.bin" -p "" --seed "$seed" \
    --temperature 1 --top-k 0 --top-p 1 -n 256 -q >> "$TMP"
done
mv "$TMP" "$OUT"
wc -c "$OUT"
