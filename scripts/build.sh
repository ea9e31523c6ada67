#!/usr/bin/env bash
# Configures (once) and builds ArrowQuant into build/ (or $1) with two jobs. Extra args go to cmake.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"; shift || true
if [ ! -f "$BUILD/build.ninja" ]; then
  # The Python package's extension is part of the build (build/python/arrowquant: scripts/test.sh's pytest).
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAQ_PYTHON_MODULE=ON "$@" >/dev/null
fi
cmake --build "$BUILD" -j2
