#!/usr/bin/env bash
# Installs torch, transformers, sentence-transformers and tokenizers into the project's .venv so that
# the scripts under scripts/goldens/ can regenerate the committed goldens. The build and CI never
# need these packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/.venv/bin/pip" install -q -r "$ROOT/scripts/requirements-goldens.txt"
echo "golden tools installed in $ROOT/.venv"
