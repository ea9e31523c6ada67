#!/usr/bin/env bash
# The stories260K greedy-generation golden, made by llama2.c's own run.c (karpathy/llama2.c).
# run.c is compiled outside the repository with one line added that prints each chosen token id.
# Usage: scripts/goldens/make_stories_goldens.sh PATH_TO_LLAMA2C_CHECKOUT_OR_RUN_C
# Writes tests/goldens/stories260k/greedy_once_upon_a_time.json (prompt ids, the first 64 generated
# ids and their text).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="${1:?give the path of a llama2.c checkout (or its run.c)}"
[ -d "$SRC" ] && SRC="$SRC/run.c"
MODEL="$ROOT/../shared/data/stories260K"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Print "pos token" for every step to stderr, prompt tokens included.
sed 's|^        pos++;$|        fprintf(stderr, "%d %d\\n", pos, next); pos++;|' "$SRC" > "$WORK/run.c"
grep -q 'fprintf(stderr, "%d %d' "$WORK/run.c" || { echo "run.c changed: patch did not apply" >&2; exit 1; }
gcc -O2 -o "$WORK/run" "$WORK/run.c" -lm
PROMPT="Once upon a time"
"$WORK/run" "$MODEL/stories260K.bin" -z "$MODEL/tok512.bin" -t 0 -n 80 -i "$PROMPT" > "$WORK/out.txt" 2> "$WORK/ids.txt"
python3 - "$WORK" "$PROMPT" "$ROOT/tests/goldens/stories260k/greedy_once_upon_a_time.json" <<'PY'
import json, sys
work, prompt, out = sys.argv[1:]
steps = [list(map(int, l.split())) for l in open(f"{work}/ids.txt") if l.split() and l.split()[0].isdigit()]
text = open(f"{work}/out.txt", encoding="utf-8", errors="replace").read().split("achieved tok/s")[0].rstrip("\n")
# Step pos prints the token at position pos + 1: the prompt's own tokens (after BOS), then generated ones.
json.dump({"generator": "llama2.c run.c, temperature 0 (scripts/goldens/make_stories_goldens.sh)",
           "prompt": prompt, "tokens_after_bos": [t for _, t in steps], "text": text}, open(out, "w"), indent=1)
PY
echo "wrote $ROOT/tests/goldens/stories260k/greedy_once_upon_a_time.json"
