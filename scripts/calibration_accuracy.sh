#!/usr/bin/env bash
# Method comparison on the two bundled real models (docs/BENCHMARKS.md, "Calibrated quantisation"):
# stories260K RTN vs GPTQ vs AWQ at INT2/3/4 (+ SmoothQuant W8A8) with perplexity, KL and top-1 on
# its own sampled text; all-MiniLM-L6-v2 RTN vs GPTQ vs AWQ at INT2/3/4/8 with embedding cosine over
# the STS-B sentences, calibrated on WikiText sentences (never STS-B).
# Usage: scripts/calibration_accuracy.sh   (after scripts/build.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
AQ=./build/arrowquant
OUT=out/calibration
mkdir -p "$OUT"
python3 scripts/make_calibration_sentences.py -o "$OUT/wikitext_sentences.txt"
$AQ compare models/stories260K/stories260K.bin --methods rtn,gptq,awq --bits 2,3,4 --group-size 32 \
  --calibration tests/goldens/stories260k/calibration.txt --eval tests/goldens/stories260k/sampled_fp32.txt \
  --json "$OUT/compare-stories.json" --markdown "$OUT/compare-stories.md" --png "$OUT/compare-stories.png" -q
$AQ compare models/stories260K/stories260K.bin --methods rtn,smoothquant --bits 8 --group-size 32 \
  --calibration tests/goldens/stories260k/calibration.txt --eval tests/goldens/stories260k/sampled_fp32.txt \
  --json "$OUT/compare-stories-w8a8.json" --markdown "$OUT/compare-stories-w8a8.md" -q
$AQ compare models/all-MiniLM-L6-v2 --methods rtn,gptq,awq --bits 2,3,4,8 --samples 512 \
  --calibration "$OUT/wikitext_sentences.txt" \
  --json "$OUT/compare-minilm.json" --markdown "$OUT/compare-minilm.md" --png "$OUT/compare-minilm.png" -q
