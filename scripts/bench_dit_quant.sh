#!/usr/bin/env bash
# The DiT quantisation table of docs/BENCHMARKS.md: each setting quantised from the committed
# Fashion-MNIST DiT, then `arrowquant validate` against the float model (Fréchet distance and class
# accuracy of SAMPLES images per model, guided noise error per timestep on the float model's
# trajectory), one JSON per row under OUT, the Markdown table on stdout.
#   scripts/bench_dit_quant.sh [OUT=/tmp/dit-quant] [SAMPLES=250] [STEPS=25]   (about 3 min a row on 2 cores)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-/tmp/dit-quant}" SAMPLES="${2:-250}" STEPS="${3:-25}"
CLI="$ROOT/build/arrowquant" MODEL="$ROOT/tests/goldens/diffusion/fashion_dit"
mkdir -p "$OUT"
# keep8: the timestep-conditioning path (each block's timestep embedder and adaLN modulation, the
# final layer's modulation) and the first and last layers (patch embedding, output projection) at
# 8 bits; 45 % of this small model's weights, most of them the conditioning path.
KEEP8=(--pin '*norm1.emb.*=8' --pin '*norm1.linear*=8' --pin 'proj_out_*=8' --pin 'pos_embed*=8')
# Time-aware calibration: states along the float model's own guided trajectories, every timestep.
TRAJ=(--calibration trajectory --samples 256)
I8="--weights packed --activations int8 --kernel-fallback f32"
ROWS=()
row() {  # name, engine flags (quoted), quantize flags...
  local name="$1" engine="$2"; shift 2
  ROWS+=("$name")
  [ -s "$OUT/$name.json" ] && return  # measured already (delete OUT to measure again)
  if [ "$name" != fp32 ]; then
    "$CLI" quantize "$MODEL" -o "$OUT/$name" --force "$@" >"$OUT/$name.quantize.log" 2>&1
  fi
  local q="$OUT/$name"; [ "$name" = fp32 ] && q="$MODEL"
  # shellcheck disable=SC2086
  "$CLI" validate "$MODEL" "$q" --samples "$SAMPLES" --steps "$STEPS" --format json -q $engine >"$OUT/$name.json.part"
  mv "$OUT/$name.json.part" "$OUT/$name.json"
  echo "done: $name" >&2
}
row fp32 ""
row w8 "" --bits 8 --group-size 0
row w8a8 "$I8" --bits 8 --group-size 0
row w8a8_smooth "$I8" --bits 8 --group-size 0 --method smoothquant "${TRAJ[@]}"
row w4_g64_keep8 "" --bits 4 --group-size 64 "${KEEP8[@]}"
row w4_g64_keep8_gptq "" --bits 4 --group-size 64 "${KEEP8[@]}" --method gptq "${TRAJ[@]}"
row w4_g64_keep8_awq "" --bits 4 --group-size 64 "${KEEP8[@]}" --method awq "${TRAJ[@]}"
row w4a8_g64_keep8 "$I8" --bits 4 --group-size 64 "${KEEP8[@]}"
# --min-accuracy on a diffusion model: the noise prediction's cosine with the layers quantised so far
# (each layer below it redone at INT4, then INT8).
row w2_g32_keep8_gptq_min99 "" --bits 2 --group-size 32 "${KEEP8[@]}" --method gptq "${TRAJ[@]}" --min-accuracy 0.99
row w2_g32_keep8_gptq_min95 "" --bits 2 --group-size 32 "${KEEP8[@]}" --method gptq "${TRAJ[@]}" --min-accuracy 0.95
row w2_g32_keep8_gptq "" --bits 2 --group-size 32 "${KEEP8[@]}" --method gptq "${TRAJ[@]}"
# The terrain UNet's best GPTQ recipe (no rotation, act-order, two least-squares scale refits).
BEST=(--method gptq --rotation none --act-order --scale-refits 2 "${TRAJ[@]}")
row w4_g64_keep8_best "" --bits 4 --group-size 64 "${KEEP8[@]}" "${BEST[@]}"
row w4_g32_keep8_best "" --bits 4 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
# Static int8 activations (--static-activations: each Linear's input rounded to a clip stored in the
# file) chosen per timestep group: one clip for every timestep (time-agnostic) against 10 groups.
STATIC="--static-activations"
row w8a8_static_1group "$STATIC" --bits 8 --group-size 0 "${TRAJ[@]}" --time-groups 1
row w8a8_static_10groups "$STATIC" --bits 8 --group-size 0 "${TRAJ[@]}" --time-groups 10
row w8a8_smooth_static_1group "$STATIC" --bits 8 --group-size 0 --method smoothquant "${TRAJ[@]}" --time-groups 1
row w8a8_smooth_static_10groups "$STATIC" --bits 8 --group-size 0 --method smoothquant "${TRAJ[@]}" --time-groups 10
row w4a8_g64_keep8_static_1group "$STATIC" --bits 4 --group-size 64 "${KEEP8[@]}" "${TRAJ[@]}" --time-groups 1
row w4a8_g64_keep8_static_10groups "$STATIC" --bits 4 --group-size 64 "${KEEP8[@]}" "${TRAJ[@]}" --time-groups 10
"$ROOT/.venv/bin/python" - "$OUT" "${ROWS[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print("| setting | weight bytes | Fréchet distance | class accuracy | noise error, worst t | t ≥ 500 worst | t = 40 | t = 0 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name in names:
    j = json.load(open(f"{out}/{name}.json"))
    m = j["model"] if name != "fp32" else j["reference"]
    steps = j["per_timestep"]
    err = {s["t"]: s["noise_rel_error"] for s in steps}
    worst = max(steps, key=lambda s: s["noise_rel_error"])
    cells = ["-"] * 4 if name == "fp32" else [
        f"{worst['noise_rel_error']:.4f} (t={worst['t']})", f"{max(e for t, e in err.items() if t >= 500):.4f}",
        f"{err.get(40, float('nan')):.4f}", f"{err.get(0, float('nan')):.4f}"]
    print(f"| {name} | {m['weight_bytes']} | {m['frechet_distance']:.2f} | {100 * m['class_accuracy']:.1f} % | " + " | ".join(cells) + " |")
PY
