#!/usr/bin/env bash
# Decoder accuracy and speed, all through the CLI:
#  1. stories260K quantised at INT8/INT4/INT3/INT2 (groups 32 and 64, which fit its 64-wide rows):
#     perplexity, KL divergence and top-1 agreement against FP32 on text the FP32 model sampled
#     (tests/goldens/stories260k/sampled_fp32.txt), and decode tokens/s of every format in one run;
#  2. the FP32 model with its KV cache in f16/int8/fp8: KL against the f32 cache and cache memory;
#  3. the tiny random-initialised Qwen2 golden at every format, end to end (KL on wikitext).
# Usage: scripts/decoder_accuracy.sh [OUT_DIR]   (default out/decoder-accuracy; prints Markdown)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/out/decoder-accuracy}"
AQ="$ROOT/build/arrowquant"
STORIES="$ROOT/models/stories260K/stories260K.bin"
QWEN="$ROOT/tests/goldens/tiny/qwen2"
TEXT="$ROOT/tests/goldens/stories260k/sampled_fp32.txt"
WIKI="$ROOT/../shared/data/wikitext2/wiki.test.raw"
[ -x "$AQ" ] || "$ROOT/scripts/build.sh"
mkdir -p "$OUT"
"$AQ" ppl "$STORIES" -f "$TEXT" --ctx 256 --kl-base "$STORIES" -q --json "$OUT/stories-fp32.json" >/dev/null
models=()
for bits in 8 4 3 2; do
  for g in 32 64; do
    name="stories-int$bits-g$g"
    "$AQ" quantize "$STORIES" -o "$OUT/$name" --bits "$bits" --group-size "$g" --force -q >/dev/null
    "$AQ" ppl "$OUT/$name" -f "$TEXT" --ctx 256 --kl-base "$STORIES" -q --json "$OUT/$name.json" >/dev/null
    [ "$g" = 32 ] && models+=("$OUT/$name")
  done
done
for kv in f16 int8 fp8; do
  "$AQ" ppl "$STORIES" -f "$TEXT" --ctx 256 --kl-base "$STORIES" --kv-cache "$kv" -q --json "$OUT/stories-kv-$kv.json" >/dev/null
done
"$AQ" bench decode "$STORIES" "${models[@]}" -n 256 --repeat 5 --threads 1 --json "$OUT/stories-decode.json" >/dev/null
for f in "--pin *=float:float" "--bits 8 --group-size 32:int8-g32" "--bits 4 --group-size 32:int4-g32" \
         "--bits 4 --group-size 32 --sym:int4s-g32" "--bits 3 --group-size 64:int3-g64" "--bits 2 --group-size 32:int2-g32"; do
  flags="${f%%:*}"; name="qwen2-${f##*:}"
  "$AQ" quantize "$QWEN" -o "$OUT/$name" $flags --force -q >/dev/null
  "$AQ" ppl "$OUT/$name" -f "$WIKI" --ctx 128 --chunks 16 --kl-base "$QWEN" -q --json "$OUT/$name.json" >/dev/null
done
python3 - "$OUT" "$STORIES" <<'PY'
import json, os, sys
out, stories = sys.argv[1:]
J = lambda n: json.load(open(os.path.join(out, n + ".json")))
size = lambda n: sum(os.path.getsize(os.path.join(out, n, f)) for f in os.listdir(os.path.join(out, n)) if f.endswith(".parquet"))
base = J("stories-fp32")
print(f"### stories260K on its own samples ({base['scored_tokens']} tokens scored, ctx 256)\n")
print("| format | group | weights | perplexity | KL mean | KL p99 | top-1 agreement |")
print("|---|---:|---:|---:|---:|---:|---:|")
print(f"| FP32 (llama2.c .bin) | — | {os.path.getsize(stories):,} B | {base['perplexity']:.4f} | 0 | 0 | 1 |")
for bits in (8, 4, 3, 2):
    for g in (32, 64):
        n = f"stories-int{bits}-g{g}"; j = J(n); a = j["against_base"]
        print(f"| INT{bits} | {g} | {size(n):,} B | {j['perplexity']:.4f} | {a['kl_mean']:.5f} | {a['kl_p99']:.5f} | {a['top1_agreement']:.4f} |")
print("\n### KV cache on the FP32 stories260K model (same text)\n")
print("| KV cache | memory at ctx 256 | perplexity | KL mean | top-1 agreement |")
print("|---|---:|---:|---:|---:|")
print(f"| f32 | {base['kv_cache_bytes']:,} B | {base['perplexity']:.4f} | 0 | 1 |")
for kv in ("f16", "int8", "fp8"):
    j = J(f"stories-kv-{kv}"); a = j["against_base"]
    print(f"| {j['kv_cache']} | {j['kv_cache_bytes']:,} B | {j['perplexity']:.4f} | {a['kl_mean']:.6f} | {a['top1_agreement']:.4f} |")
d = J("stories-decode")
print(f"\n### stories260K decode speed (greedy, {d['tokens']} tokens, 1 thread, best of {d['repeat']}, one run)\n")
print("| model | decode tokens/s | ratio to FP32 |\n|---|---:|---:|")
for m in d["models"]:
    print(f"| {os.path.basename(m['model'])} | {m['decode_tokens_per_second']:.0f} | {m['ratio_to_first']:.2f} |")
print("\n### Tiny random-initialised Qwen2 golden at every format (wikitext, ctx 128, 16 chunks)\n")
print("| format | weights | perplexity | KL mean | top-1 agreement |\n|---|---:|---:|---:|---:|")
for f in ("float", "int8-g32", "int4-g32", "int4s-g32", "int3-g64", "int2-g32"):
    n = f"qwen2-{f}"; j = J(n); a = j["against_base"]
    print(f"| {f} | {size(n):,} B | {j['perplexity']:.2f} | {a['kl_mean']:.5f} | {a['top1_agreement']:.4f} |")
PY
