// The 8-dimensional lattice codebook of the "lattice2" format: 8 weights share one 16-bit code (2 bits
// per weight), the nearest of 65 536 points of the E8 lattice's half-integer coset shifted by ±1/4 — the
// construction of QuIP#'s E8P codebook (learned from its paper; built here from the definition). On
// Gaussian weights (what rotated weights are) it has 22 % less squared error than the best scalar
// 2-bit levels (Lloyd-Max: 0.1175 σ² → 0.092 σ² at the best scale; checked in lattice_codebook_test.cc).
//
// A point is s ⊙ a + δ·1 with
//   a  one of 256 patterns of absolute values (entries in {1/2, 3/2, 5/2}: the 227 patterns of
//      squared norm ≤ 10 and the first 29 of norm 12 in lexicographic order),
//   s  a sign vector with Σ sᵢaᵢ even (which fixes the last sign: 128 choices),
//   δ  +1/4 or −1/4.
// Code bits: 0–7 the pattern, 8–14 the signs of entries 0–6 (1 = negative), 15 the shift (1 = −1/4).
// Every 16-bit value is a valid code, so any file decodes to finite weights.
//
// Levels are in units of 1/4: 4·(sᵢaᵢ + δ), odd integers in [−11, 11]. A group's float16 scale
// multiplies them: w = scale · level. Unpacked rows hold each weight's level + 128 as a byte, like
// the scalar codebooks' byte levels, so the int8 kernels run them with centre 128.
#pragma once
#include <cstdint>

namespace arrowquant::lattice {

inline constexpr int kDim = 8;           // weights per code
inline constexpr int kCodeBytes = 2;     // bytes per code (little-endian)
inline constexpr int kMaxLevel = 11;     // the largest |level|
// The scale at which the codebook's squared error on unit-variance Gaussian weights is least, in
// level units per standard deviation (0.95 lattice units / 4).
inline constexpr float kGaussianScale = 0.2375f;

// The 8 levels of a code.
void decode(uint16_t code, int8_t* levels);
// The code of the nearest point to t (8 values in level units, i.e. weight / scale), in squared
// distance; ties go to the lower code. NaN entries count as 0.
uint16_t nearest(const float* t);
// The 256 patterns as base-4 digits for SIMD decoders: bits 2i, 2i+1 of entry j hold digit d of
// entry i, |level| − (±1 shift) = 2 + 4d (d in {0, 1, 2}). A pattern's parity rule (the sign of the
// last entry) is the parity of its digits equal to 1.
const uint16_t* pattern_digits();
// The code of 8 levels that are a point of the codebook; -1 when they are not.
int32_t code_of_levels(const int8_t* levels);

// Rows in the "lattice8_v1" layout: cols / 8 codes per row (cols a multiple of 8), 2 bytes each.
// levels_u8: each weight's level + 128. pack throws std::invalid_argument on levels that are not a
// codebook point (a quantiser bug, never file data).
void pack_row(const uint8_t* levels_u8, int64_t cols, uint8_t* out);
void unpack_row(const uint8_t* packed, int64_t cols, uint8_t* levels_u8);  // packed may be unaligned

}  // namespace arrowquant::lattice
