#!/usr/bin/env bash
# Goldens for the ggml types no `gguf` package version dequantises: ggml's own to_float on random
# blocks (scripts/goldens/ggml_dequant_golden.c), from two llama.cpp trees built outside the
# repository by scripts/peers/llamacpp.sh:
#   tests/goldens/gguf/dequant_upstream.gguf   Q1_0 (41), Q2_0 (42): upstream llama.cpp
#   tests/goldens/gguf/dequant_pr19357.gguf    Q2_0C (40 in that branch): pull request 19357
# Usage: scripts/goldens/make_ggml_dequant_goldens.sh   (builds the peers first when needed)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS_SCRIPT="$ROOT/scripts/peers/llamacpp.sh"
OUT="$ROOT/tests/goldens/gguf"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# $1: the tree's build folder (bin/TOOL's grandparent), $2: the goldens file, then the type ids.
make_golden() {
  local build="$1" out="$2"; shift 2
  local src; src="$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")"
  g++ -O1 -x c "$ROOT/scripts/goldens/ggml_dequant_golden.c" -x none -I"$src/ggml/include" \
    "$build/ggml/src/libggml-base.a" -fopenmp -lm -lpthread -o "$WORK/golden"
  "$WORK/golden" "$out" "$@"
}

[ -x "$("$PEERS_SCRIPT" path llama-quantize)" ] || "$PEERS_SCRIPT" build
[ -x "$("$PEERS_SCRIPT" path-pr19357 llama-quantize)" ] || "$PEERS_SCRIPT" build-pr19357
make_golden "$(dirname "$(dirname "$("$PEERS_SCRIPT" path llama-quantize)")")" "$OUT/dequant_upstream.gguf" 41 42
make_golden "$(dirname "$(dirname "$("$PEERS_SCRIPT" path-pr19357 llama-quantize)")")" "$OUT/dequant_pr19357.gguf" 40
