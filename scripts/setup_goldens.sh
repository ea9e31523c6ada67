#!/usr/bin/env bash
# Creates the goldens environment, .venv-goldens, apart from the product's .venv: torch,
# transformers, sentence-transformers, tokenizers, gguf, jinja2, compressed-tensors, gptqmodel, diffusers, onnx,
# onnxruntime and adaptive-terrain-diffusion's ONNX UNet (and
# AngelSlim's package without its dependency tree: scripts/goldens/make_angelslim_checkpoint.py loads
# two of its files), for the scripts under
# scripts/goldens/ that regenerate the committed goldens and for the peer harnesses in
# scripts/peers/. The build, the tests and CI never need any of it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-goldens"
LOG="$VENV.log"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >"$LOG" 2>&1
echo "goldens environment: installing $(grep -v '^#' "$ROOT/scripts/requirements-goldens.txt" | tr '\n' ' ')(log: $LOG)"
"$VENV/bin/pip" install -q \
  -r "$ROOT/scripts/requirements-goldens.txt" >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
"$VENV/bin/pip" install -q --no-deps angelslim==0.5.0 >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
# The one pretrained diffusion model a package ships (MIT): its ONNX UNet, for scripts/bench_terrain_quant.sh.
# Without its dependencies: on Linux x86-64 it asks for onnxruntime-gpu; the CPU onnxruntime above runs it.
"$VENV/bin/pip" install -q --no-deps adaptive-terrain-diffusion==0.4.2 >>"$LOG" 2>&1 || { tail -20 "$LOG"; exit 1; }
# Fashion-MNIST, for scripts/goldens/train_fashion_dit.py (the DiT and classifier goldens).
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "goldens environment: apt-get install dataset-fashion-mnist (log: $LOG)"
  apt-get install -y -q dataset-fashion-mnist >>"$LOG" 2>&1 || echo "  (not installed: train_fashion_dit.py will need it)"
fi
echo "goldens environment ready: $VENV/bin/python"
