#!/usr/bin/env bash
# The terrain UNet table of docs/BENCHMARKS.md: the one pretrained diffusion model a package ships
# (adaptive-terrain-diffusion 0.4.2's consistency UNet, ONNX, 10.4 M weights in 255 Conv/Gemm matrices),
# its weight matrices quantised by `arrowquant quantize` in each setting, dequantised, put back into the
# ONNX graph and run by onnxruntime (scripts/terrain_unet.py, goldens environment: we have no C++ UNet);
# relative error of the denoised output against the float graph at 8 sigmas, IMAGES images each.
# The calibrated rows (gptq, with the Hadamard rotation unless "norot"; importance RTN; min-accuracy) read each weight matrix's input Hessian
# recorded by onnxruntime over 16 sigmas on inputs drawn apart from the evaluation's (terrain_unet.py
# record, a 392 MB file in OUT).
#   scripts/bench_terrain_quant.sh [OUT=/tmp/terrain-quant] [IMAGES=8]   (about 20 min on 2 cores)
# Needs ./scripts/setup_goldens.sh (onnx, onnxruntime, terrain_diffusion) and ./scripts/build.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-/tmp/terrain-quant}" IMAGES="${2:-8}"
CLI="$ROOT/build/arrowquant" PY="$ROOT/.venv-goldens/bin/python" TOOL="$ROOT/scripts/terrain_unet.py"
mkdir -p "$OUT"
[ -s "$OUT/fp/model.safetensors" ] || "$PY" "$TOOL" convert -o "$OUT/fp"
REC="$OUT/recorded.safetensors"
[ -s "$REC" ] || "$PY" "$TOOL" record -o "$REC" >"$OUT/record.log"
# keep8: the conditioning path (timestep and label embedders, each resblock's emb_layers) and the
# first and last convolutions at 8 bits (4.4 % of the weights).
KEEP8=(--pin '*time_embed*=8' --pin '*label_emb*=8' --pin '*emb_layers*=8' --pin '*input_blocks.0.0.*=8'
       --pin '*out.2.*=8')
CANDIDATES=()
row() {  # name, quantize flags...
  local name="$1"; shift
  if [ ! -s "$OUT/$name.safetensors" ]; then
    "$CLI" quantize "$OUT/fp/model.safetensors" -o "$OUT/$name" --force --json "$OUT/$name.quantize.json" "$@" \
      >"$OUT/$name.quantize.log" 2>&1
    "$CLI" dequantize "$OUT/$name" -o "$OUT/$name.safetensors" >>"$OUT/$name.quantize.log" 2>&1
  fi
  CANDIDATES+=("$name=$OUT/$name.safetensors")
}
row w8_channel --bits 8 --group-size 0
row w8_channel_sym --bits 8 --group-size 0 --sym
row w8_g32 --bits 8 --group-size 32
row w4_channel --bits 4 --group-size 0
row w4_g64 --bits 4 --group-size 64
row w4_g32 --bits 4 --group-size 32
row w4_g32_keep8 --bits 4 --group-size 32 "${KEEP8[@]}"
row w4_g32_keep8_hadamard --bits 4 --group-size 32 "${KEEP8[@]}" --rotation hadamard
row w4_g32_keep8_nf4 --bits 4 --group-size 32 "${KEEP8[@]}" --codebook nf
row w3_g32_keep8 --bits 3 --group-size 32 "${KEEP8[@]}"
row w2_g32_keep8 --bits 2 --group-size 32 "${KEEP8[@]}"
row w2_g32_keep8_lattice --bits 2 --group-size 32 "${KEEP8[@]}" --codebook lattice
# Calibrated from the recording. BEST = GPTQ without the rotation (--rotation auto means hadamard with
# gptq, which measured worse here), act-order and two least-squares scale refits.
BEST=(--method gptq --rotation none --act-order --scale-refits 2 --calibration "$REC")
row w8_channel_gptq --bits 8 --group-size 0 --method gptq --calibration "$REC"
row w8_g32_gptq --bits 8 --group-size 32 --method gptq --calibration "$REC"
row w8_g32_gptq_norot --bits 8 --group-size 32 --method gptq --rotation none --calibration "$REC"
row w8_g32_gptq_condfloat --bits 8 --group-size 32 --method gptq --calibration "$REC" --pin '*time_embed*=float' \
  --pin '*label_emb*=float' --pin '*emb_layers*=float'
row w8_g32_best --bits 8 --group-size 32 "${BEST[@]}"
row w4_g32_gptq --bits 4 --group-size 32 --method gptq --calibration "$REC"
row w4_g32_keep8_importance --bits 4 --group-size 32 "${KEEP8[@]}" --calibration "$REC"
row w4_g32_keep8_gptq --bits 4 --group-size 32 "${KEEP8[@]}" --method gptq --calibration "$REC"
row w4_g32_keep8_gptq_norot --bits 4 --group-size 32 "${KEEP8[@]}" --method gptq --rotation none --calibration "$REC"
row w4_g32_keep8_gptq_norot_actorder --bits 4 --group-size 32 "${KEEP8[@]}" --method gptq --rotation none --act-order \
  --calibration "$REC"
row w4_g32_keep8_gptq_norot_refit2 --bits 4 --group-size 32 "${KEEP8[@]}" --method gptq --rotation none --scale-refits 2 \
  --calibration "$REC"
row w4_g32_keep8_best --bits 4 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
row w3_g32_keep8_gptq --bits 3 --group-size 32 "${KEEP8[@]}" --method gptq --calibration "$REC"
row w3_g32_keep8_best --bits 3 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
row w2_g32_keep8_gptq --bits 2 --group-size 32 "${KEEP8[@]}" --method gptq --calibration "$REC"
row w2_g32_keep8_best --bits 2 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
row w2_g32_keep8_best_min999 --bits 2 --group-size 32 "${KEEP8[@]}" "${BEST[@]}" --min-accuracy 0.999
# Mixed precision: widths 2-8 per layer by each layer's output error measured on the recording (no model
# probes: we cannot run the model), at the sizes of the rows above.
row alloc_bpw380_keep8_best --target-bpw 3.8 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
row alloc_bpw416_keep8_best --target-bpw 4.16 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
row alloc_bpw553_keep8_best --target-bpw 5.53 --group-size 32 "${KEEP8[@]}" "${BEST[@]}"
"$PY" "$TOOL" evaluate "${CANDIDATES[@]}" --images "$IMAGES" --json "$OUT/table.json" >"$OUT/evaluate.log"
"$PY" - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
t = json.load(open(f"{out}/table.json"))
sig = [str(s) for s in t["sigmas"] if s > 0.002]  # at sigma 0.002 the output is the input (c_skip = 1)
print(f"{t['images']} images per sigma; relative L2 error of the denoised output (its square, the relative MSE, in the JSON)")
print("| setting | model.parquet MB | bits/weight | " + " | ".join(f"σ={s}" for s in sig) + " | worst |")
print("|---|---:|---:|" + "---:|" * (len(sig) + 1))
for r in t["rows"]:
    q = json.load(open(f"{out}/{r['setting']}.quantize.json"))
    mb = os.path.getsize(f"{out}/{r['setting']}/model.parquet") / 1e6
    e = r["relative_error"]
    print(f"| {r['setting']} | {mb:.2f} | {q['bits_per_weight']:.2f} | " + " | ".join(f"{e[s]:.3g}" for s in sig) +
          f" | {r['worst']:.3g} |")
PY
