#!/usr/bin/env python3
"""Calibration text for sentence encoders: WikiText-2 (../shared/data, never STS-B) split into
sentences, one per line, first N (default 2000). Python standard library only.
    python3 scripts/make_calibration_sentences.py [-n 2000] [-o out/calibration/wikitext_sentences.txt]
"""
import argparse
import os
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("ARROWQUANT_SHARED", ROOT.parent / "shared"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-o", default=str(ROOT / "out" / "calibration" / "wikitext_sentences.txt"))
    a = ap.parse_args()
    out = []
    with open(SHARED / "data" / "wikitext2" / "wiki.test.raw", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("="):
                continue
            for s in re.split(r"(?<=[.!?]) ", line):
                s = s.strip()
                if 20 <= len(s) <= 300:
                    out.append(s)
    path = pathlib.Path(a.o)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    tmp.write_text("\n".join(out[: a.n]) + "\n", encoding="utf-8")
    tmp.replace(path)
    print(f"{path}: {min(a.n, len(out))} sentences")


if __name__ == "__main__":
    main()
