#!/usr/bin/env bash
# Builds llama.cpp's tools outside the repository, from the llama-cpp-python sdist's vendored
# sources (a registry package, so the same sources anyone can fetch), for side-by-side runs.
#   scripts/peers/llamacpp.sh build        fetch (pip download) and build into $PEERS (default ../peers)
#   scripts/peers/llamacpp.sh path TOOL    print the path of a built tool (llama-perplexity, ...)
#   scripts/peers/llamacpp.sh build-pr19357 / path-pr19357 TOOL
#                                          the same for the branch of llama.cpp pull request 19357
#                                          (not merged: AngelSlim's 2-bit type Q2_0C), cloned from
#                                          github.com/chaxu01/llama.cpp at $PR19357_COMMIT
# Built for this machine's SIMD (probed from /proc/cpuinfo: AVX2, FMA, F16C, AVX-512 F/BW/VNNI/VBMI/
# BF16) but never with -march=native or AMX: llama.cpp's native build dies with SIGILL on the Intel
# VMs whose cpuinfo lists AMX. The build is per machine (a new VM may have another CPU): the flags
# used are kept in $BUILD/flags and a different CPU rebuilds. Nothing here is committed or needed by
# the product.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEERS="${PEERS:-$ROOT/../peers}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
SRC="$PEERS/llama_cpp_python-$VERSION/vendor/llama.cpp"
BUILD="$PEERS/llama.cpp-build"
PR19357_COMMIT="${PR19357_COMMIT:-921df044}"
TOOLS=(llama-quantize llama-imatrix llama-perplexity llama-bench llama-tokenize llama-simple)
LOG="$PEERS/llamacpp-build.log"

build() {
  mkdir -p "$PEERS"
  if [ ! -d "$SRC" ]; then
    echo "llama.cpp: fetching llama-cpp-python $VERSION sdist (log: $LOG)"
    local venv="$ROOT/.venv-goldens"
    local pip=pip3; [ -x "$venv/bin/pip" ] && pip="$venv/bin/pip"
    "$pip" download --no-binary llama-cpp-python --no-deps "llama-cpp-python==$VERSION" -d "$PEERS" >>"$LOG" 2>&1
    tar -xzf "$PEERS/llama_cpp_python-$VERSION.tar.gz" -C "$PEERS"
  fi
  local flags=(-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
  local cpu; cpu=$(grep -m1 '^flags' /proc/cpuinfo)
  has() { [[ " $cpu " == *" $1 "* ]]; }
  has avx2 && flags+=(-DGGML_AVX=ON -DGGML_AVX2=ON)
  has fma && flags+=(-DGGML_FMA=ON)
  has f16c && flags+=(-DGGML_F16C=ON)
  has bmi2 && flags+=(-DGGML_BMI2=ON)
  if has avx512f && has avx512bw && has avx512vl && has avx512dq; then
    flags+=(-DGGML_AVX512=ON)
    has avx512_vnni && flags+=(-DGGML_AVX512_VNNI=ON)
    has avx512vbmi && flags+=(-DGGML_AVX512_VBMI=ON)
    has avx512_bf16 && flags+=(-DGGML_AVX512_BF16=ON)
  fi
  if [ -f "$BUILD/flags" ] && [ "$(cat "$BUILD/flags")" != "${flags[*]}" ]; then rm -rf "$BUILD"; fi
  echo "llama.cpp: building ${TOOLS[*]} with ${flags[*]} (about 10 minutes on 2 cores; log: $LOG)"
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "${flags[@]}" -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >>"$LOG" 2>&1
  echo "${flags[*]}" >"$BUILD/flags"
  cmake --build "$BUILD" -j"${JOBS:-2}" --target "${TOOLS[@]}" >>"$LOG" 2>&1 || { tail -30 "$LOG"; exit 1; }
  echo "llama.cpp: built in $BUILD/bin"
}

use_pr19357() {
  SRC="$PEERS/llama.cpp-pr19357"
  BUILD="$PEERS/llama.cpp-pr19357-build"
  LOG="$PEERS/llamacpp-pr19357-build.log"
}

fetch_pr19357() {
  [ -d "$SRC/ggml" ] && return
  echo "llama.cpp PR 19357: cloning github.com/chaxu01/llama.cpp at $PR19357_COMMIT (log: $LOG)"
  git clone --filter=blob:none --no-checkout https://github.com/chaxu01/llama.cpp "$SRC" >>"$LOG" 2>&1
  git -C "$SRC" checkout --detach "$PR19357_COMMIT" >>"$LOG" 2>&1
}

case "${1:-build}" in
  build) build ;;
  path) echo "$BUILD/bin/$2" ;;
  build-pr19357) use_pr19357; mkdir -p "$PEERS"; fetch_pr19357; build ;;
  path-pr19357) use_pr19357; echo "$BUILD/bin/$2" ;;
  *) echo "usage: $0 build | path TOOL | build-pr19357 | path-pr19357 TOOL" >&2; exit 2 ;;
esac
