#!/usr/bin/env python3
"""Prints the codebook formats' integer levels (src/format/quant_format.cc, docs/FORMAT.md).

gauss{2,3,4}: the Lloyd-Max quantiser of a unit normal (levels = conditional means of their cells,
cells bounded by midpoints, iterated to a fixed point), scaled so the outermost level is ±127 and
rounded. nf4: QLoRA's NormalFloat-4 values (bitsandbytes' table) × 127, rounded. Standard library only.
"""
import math

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.2461123913526535, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]


def pdf(x):
    return 0.0 if math.isinf(x) else math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2))) if not math.isinf(x) else (0.0 if x < 0 else 1.0)


def lloyd_max_normal(n, iterations=2000):
    levels = [-2 + 4 * (i + 0.5) / n for i in range(n)]
    for _ in range(iterations):
        edges = [-math.inf] + [(levels[i] + levels[i + 1]) / 2 for i in range(n - 1)] + [math.inf]
        levels = [(pdf(edges[i]) - pdf(edges[i + 1])) / (cdf(edges[i + 1]) - cdf(edges[i])) for i in range(n)]
    return levels


def main():
    print("nf4:", [round(127 * v) for v in NF4])
    for bits in (2, 3, 4):
        lv = lloyd_max_normal(1 << bits)
        print(f"gauss{bits}:", [round(127 * v / lv[-1]) for v in lv], "(unit-normal levels:",
              ", ".join(f"{v:.4f}" for v in lv) + ")")
    print("byte levels are these + 128")


if __name__ == "__main__":
    main()
