#!/usr/bin/env bash
# Calibration text for stories260K: 64 stories the FP32 model samples with seeds 1001..1064 (the
# evaluation text uses seeds 1..48, so calibration and evaluation never share a story). One story per
# line. Temperature 1, no truncation, at most 256 tokens each.
# Usage: scripts/goldens/make_stories_calibration.sh   (needs ./build/arrowquant)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/tests/goldens/stories260k/calibration.txt"
TMP="$OUT.partial"
: > "$TMP"
for seed in $(seq 1001 1064); do
  "$ROOT/build/arrowquant" generate "$ROOT/models/stories260K/stories260K.bin" -p "" --seed "$seed" \
    --temperature 1 --top-k 0 --top-p 1 -n 256 -q | tr '\n' ' ' | sed 's/  */ /g; s/^ //; s/ $//' >> "$TMP"
  echo >> "$TMP"
done
mv "$TMP" "$OUT"
wc -lc "$OUT"
