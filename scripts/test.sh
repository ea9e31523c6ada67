#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, build, GoogleTest (unit + end-to-end on the real
# models), the pytest interop tests (pyarrow, DuckDB, Polars), then every fuzz target for a short
# run from its seed corpus (FUZZ_SECONDS, default 20; 0 skips them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
./scripts/build.sh
(cd build && ctest -j2 --output-on-failure --timeout 600)
ARROWQUANT_CLI="$ROOT/build/arrowquant" PYTHONPATH="$ROOT/build/python" .venv/bin/python -m pytest -q tests/python
[ "${FUZZ_SECONDS:-20}" = 0 ] || ./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
