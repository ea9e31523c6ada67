// Compiled with -ffp-contract=off (CMakeLists.txt): a fused multiply-add rounds once where the
// reference rounds twice, and the dequantised values must equal ggml's and the gguf package's.
#include "io/ggml_types.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "arrowquant/dtype.h"

namespace arrowquant::ggml {

namespace {

constexpr int64_t QK = 32, QK_K = 256;

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

void f32(const uint8_t* s, float* y, int64_t n) { std::memcpy(y, s, size_t(n) * 4); }
void f16(const uint8_t* s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = half_at(s + 2 * i);
}
void bf16(const uint8_t* s, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, s + 2 * i, 2);
    y[i] = bf16_to_f32(h);
  }
}

// 32 weights per block: low nibbles are weights 0..15, high nibbles 16..31.
void q4_0(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 18, y += QK) {
    const float d = half_at(s);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(int(s[2 + j] & 0x0F) - 8) * d;
      y[j + 16] = float(int(s[2 + j] >> 4) - 8) * d;
    }
  }
}

void q4_1(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 20, y += QK) {
    const float d = half_at(s), m = half_at(s + 2);
    for (int j = 0; j < 16; ++j) {
      y[j] = float(s[4 + j] & 0x0F) * d + m;
      y[j + 16] = float(s[4 + j] >> 4) * d + m;
    }
  }
}

// The fifth bit of weight j is bit j of the little-endian qh word.
void q5_0(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 22, y += QK) {
    const float d = half_at(s);
    uint32_t qh;
    std::memcpy(&qh, s + 2, 4);
    for (int j = 0; j < 16; ++j) {
      const int x0 = int((s[6 + j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
      const int x1 = int((s[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      y[j] = d * float(x0);
      y[j + 16] = d * float(x1);
    }
  }
}

void q5_1(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 24, y += QK) {
    const float d = half_at(s), m = half_at(s + 2);
    uint32_t qh;
    std::memcpy(&qh, s + 4, 4);
    for (int j = 0; j < 16; ++j) {
      const int x0 = int((s[8 + j] & 0x0F) | (((qh >> j) & 1) << 4));
      const int x1 = int((s[8 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
      y[j] = d * float(x0) + m;
      y[j + 16] = d * float(x1) + m;
    }
  }
}

void q8_0(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 34, y += QK) {
    const float d = half_at(s);
    for (int j = 0; j < QK; ++j) y[j] = float(int8_t(s[2 + j])) * d;
  }
}

// The same three blocks as codes of our symmetric grids (w = d·(c − 2^(bits−1))): no arithmetic.
void codes_q4_0(const uint8_t* s, uint8_t* c, uint16_t* d) {
  std::memcpy(d, s, 2);
  for (int j = 0; j < 16; ++j) c[j] = s[2 + j] & 0x0F, c[j + 16] = s[2 + j] >> 4;
}
void codes_q5_0(const uint8_t* s, uint8_t* c, uint16_t* d) {
  std::memcpy(d, s, 2);
  uint32_t qh;
  std::memcpy(&qh, s + 2, 4);
  for (int j = 0; j < 16; ++j) {
    c[j] = uint8_t((s[6 + j] & 0x0F) | (((qh >> j) & 1) << 4));
    c[j + 16] = uint8_t((s[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
}
void codes_q8_0(const uint8_t* s, uint8_t* c, uint16_t* d) {
  std::memcpy(d, s, 2);
  for (int j = 0; j < QK; ++j) c[j] = uint8_t(s[2 + j] ^ 0x80);  // int8 q + 128
}

// 2-bit codes four to a byte, low bits first (Q2_0, Q2_0C).
inline int crumb(const uint8_t* qs, int j) { return (qs[j / 4] >> (2 * (j % 4))) & 3; }

// Q1_0 (upstream type 41): 128 weights per block, one bit each: +d or -d.
void q1_0(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 128; ++b, s += 18, y += 128) {
    const float d = half_at(s);
    for (int j = 0; j < 128; ++j) y[j] = (s[2 + j / 8] >> (j % 8)) & 1 ? d : -d;
  }
}

// Q2_0 (upstream type 42): 64 weights per block at d·{-1, 0, 1, 2}.
void q2_0(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 64; ++b, s += 18, y += 64) {
    const float d = half_at(s);
    for (int j = 0; j < 64; ++j) y[j] = float(crumb(s + 2, j) - 1) * d;
  }
}

// Q2_0C (AngelSlim's SEQ grid, pull request 19357): 512 weights per block at d·{-3, -1, 1, 3}.
constexpr int64_t QK_Q2_0C = 512;
void q2_0c(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_Q2_0C; ++b, s += 130, y += QK_Q2_0C) {
    const float d = half_at(s);
    for (int j = 0; j < QK_Q2_0C; ++j) y[j] = float(2 * crumb(s + 2, j) - 3) * d;
  }
}
// d·(2q − 3) = 2d·(q − 3/2): our int2_half codes q with scale 2d (float16 doubling is exact short of
// overflow, which only a scale above 32768 reaches).
void codes_q2_0c(const uint8_t* s, uint8_t* c, uint16_t* d) {
  *d = f32_to_f16(2.0f * half_at(s));
  for (int j = 0; j < QK_Q2_0C; ++j) c[j] = uint8_t(crumb(s + 2, j));
}

// K-quants: 256 weights per super-block, in sub-blocks of 16 or 32 with their own scales.
void q2_k(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, s += 84) {
    const uint8_t* scales = s;
    const uint8_t* q = s + 16;
    const float d = half_at(s + 80), dmin = half_at(s + 82);
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2)
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = scales[is++];
          const float dl = d * float(sc & 0x0F), ml = dmin * float(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * part] >> shift) & 3) - ml;
        }
  }
}

// The 16 six-bit scales of Q3_K: low four bits in bytes 0..7 (two per byte), high two bits in 8..11.
void q3_k_scales(const uint8_t* p, int8_t out[16]) {
  for (int i = 0; i < 16; ++i) {
    const int low = (p[i % 8] >> (4 * (i / 8))) & 0x0F;
    const int high = (p[8 + i % 4] >> (2 * (i / 4))) & 0x03;
    out[i] = int8_t((low | (high << 4)) - 32);
  }
}

void q3_k(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, s += 110) {
    const uint8_t* hmask = s;
    const uint8_t* q = s + 32;
    int8_t scales[16];
    q3_k_scales(s + 96, scales);
    const float d = half_at(s + 108);
    int is = 0;
    uint8_t m = 1;
    for (int half = 0; half < 2; ++half, q += 32)
      for (int shift = 0; shift < 8; shift += 2, m <<= 1)
        for (int part = 0; part < 2; ++part) {
          const float dl = d * float(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * part;
            *y++ = dl * float(int((q[k] >> shift) & 3) - ((hmask[k] & m) ? 0 : 4));
          }
        }
  }
}

// Q4_K / Q5_K: eight 6-bit scales and mins packed into 12 bytes.
void scale_min_k4(int j, const uint8_t* q, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void q4_k(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, s += 144) {
    const float d = half_at(s), dmin = half_at(s + 2);
    const uint8_t* scales = s + 4;
    const uint8_t* q = s + 16;
    for (int j = 0; j < 4; ++j, q += 32) {
      int sc, m;
      scale_min_k4(2 * j, scales, sc, m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      scale_min_k4(2 * j + 1, scales, sc, m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0F) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
    }
  }
}

void q5_k(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, s += 176) {
    const float d = half_at(s), dmin = half_at(s + 2);
    const uint8_t* scales = s + 4;
    const uint8_t* qh = s + 16;
    const uint8_t* ql = s + 48;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 4; ++j, ql += 32, u1 <<= 2, u2 <<= 2) {
      int sc, m;
      scale_min_k4(2 * j, scales, sc, m);
      const float d1 = d * float(sc), m1 = dmin * float(m);
      scale_min_k4(2 * j + 1, scales, sc, m);
      const float d2 = d * float(sc), m2 = dmin * float(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
  }
}

void q6_k(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, s += 210) {
    const uint8_t* ql = s;
    const uint8_t* qh = s + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(s + 192);
    const float d = half_at(s + 208);
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8)
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = int((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = int((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * float(sc[is]) * float(q1);
        y[l + 32] = d * float(sc[is + 2]) * float(q2);
        y[l + 64] = d * float(sc[is + 4]) * float(q3);
        y[l + 96] = d * float(sc[is + 6]) * float(q4);
      }
  }
}

// IQ4: a non-uniform 16-level grid.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void iq4_nl(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 18, y += QK) {
    const float d = half_at(s);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * float(kIq4Values[s[2 + j] & 0x0F]);
      y[j + 16] = d * float(kIq4Values[s[2 + j] >> 4]);
    }
  }
}

void iq4_xs(const uint8_t* s, float* y, int64_t n) {
  for (int64_t b = 0; b < n / QK_K; ++b, s += 136) {
    const float d = half_at(s);
    uint16_t scales_h;
    std::memcpy(&scales_h, s + 2, 2);
    const uint8_t* scales_l = s + 4;
    const uint8_t* qs = s + 8;
    for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
      const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * float(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * float(kIq4Values[qs[j] & 0x0F]);
        y[j + 16] = dl * float(kIq4Values[qs[j] >> 4]);
      }
    }
  }
}

// Encoders for the block types an export writes. Each block's parameters are chosen among the
// reference choice and its mirror (the extreme weight on the positive end of the grid instead of
// -8 / -16), rounded to float16 as stored, and the codes rounded against the stored values, so a
// block already on a grid of the same width comes back unchanged.
inline void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Symmetric blocks (Q4_0: mid 8, Q5_0: mid 16): codes q - mid of scale d, the best of two scales.
void encode_symmetric_block(const float* x, int mid, uint8_t* d_out, int* q) {
  float amax = 0, max = 0;
  for (int j = 0; j < QK; ++j)
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  float best_err = INFINITY, best_d = 0;
  for (const float den : {-float(mid), float(mid - 1)}) {
    const float d = f16_to_f32(f32_to_f16(max / den));
    const float id = d != 0 ? 1.0f / d : 0.0f;
    float err = 0;
    for (int j = 0; j < QK; ++j) {
      const int c = std::clamp(int(std::nearbyint(x[j] * id)) + mid, 0, 2 * mid - 1);
      const float e = x[j] - float(c - mid) * d;
      err += e * e;
    }
    if (err < best_err) { best_err = err; best_d = d; }
  }
  put_half(d_out, best_d);
  const float id = best_d != 0 ? 1.0f / best_d : 0.0f;
  for (int j = 0; j < QK; ++j) q[j] = std::clamp(int(std::nearbyint(x[j] * id)) + mid, 0, 2 * mid - 1);
}

// Affine blocks (Q4_1: 15 steps, Q5_1: 31): w = q·d + m with m the block's minimum.
void encode_affine_block(const float* x, int steps, uint8_t* dm_out, int* q) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < QK; ++j) { lo = std::min(lo, x[j]); hi = std::max(hi, x[j]); }
  const float d = f16_to_f32(f32_to_f16((hi - lo) / float(steps))), m = f16_to_f32(f32_to_f16(lo));
  put_half(dm_out, d);
  put_half(dm_out + 2, m);
  const float id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < QK; ++j) q[j] = std::clamp(int(std::nearbyint((x[j] - m) * id)), 0, steps);
}

void put_nibbles(const int* q, uint8_t* out) {
  for (int j = 0; j < 16; ++j) out[j] = uint8_t((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}

void put_fifth_bits(const int* q, uint8_t* out) {
  uint32_t qh = 0;
  for (int j = 0; j < QK; ++j) qh |= uint32_t((q[j] >> 4) & 1) << j;
  std::memcpy(out, &qh, 4);
}

// Q4_0, Q4_1, Q5_0, Q5_1: a float16 scale (and minimum), the fifth bits of a 5-bit type, the nibbles.
template <int kBits, bool kAffine>
void to_small_block(const float* x, uint8_t* s, int64_t n) {
  constexpr size_t head = kAffine ? 4 : 2, fifth = kBits == 5 ? 4 : 0, bytes = head + fifth + 16;
  int q[QK];
  for (int64_t b = 0; b < n / QK; ++b, s += bytes, x += QK) {
    if (kAffine) encode_affine_block(x, (1 << kBits) - 1, s, q);
    else encode_symmetric_block(x, 1 << (kBits - 1), s, q);
    if (kBits == 5) put_fifth_bits(q, s + head);
    put_nibbles(q, s + head + fifth);
  }
}

// Q8_0: int8 codes; the extreme weight at -128 or at +127, whichever fits the block better.
void to_q8_0(const float* x, uint8_t* s, int64_t n) {
  int q[QK];
  for (int64_t b = 0; b < n / QK; ++b, s += 34, x += QK) {
    encode_symmetric_block(x, 128, s, q);
    for (int j = 0; j < QK; ++j) s[2 + j] = uint8_t(int8_t(q[j] - 128));
  }
}

// IQ4_NL: 16 non-uniform levels of scale d. The scale is searched (the extreme weight at the
// outermost level, then 17 nearby scales), codes are the nearest levels, and the best
// float16-rounded scale is kept.
int nearest_iq4(float t) {
  int best = 0;
  for (int k = 1; k < 16; ++k)
    if (std::fabs(t - float(kIq4Values[k])) < std::fabs(t - float(kIq4Values[best]))) best = k;
  return best;
}

void to_iq4_nl(const float* x, uint8_t* s, int64_t n) {
  for (int64_t b = 0; b < n / QK; ++b, s += 18, x += QK) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
    float best_err = INFINITY, best_d = 0;
    for (int step = -8; step <= 8; ++step) {
      const float d = f16_to_f32(f32_to_f16(max / (float(kIq4Values[0]) + 0.05f * float(step) * float(kIq4Values[0]))));
      const float id = d != 0 ? 1.0f / d : 0.0f;
      float err = 0;
      for (int j = 0; j < QK; ++j) {
        const float e = x[j] - d * float(kIq4Values[nearest_iq4(x[j] * id)]);
        err += e * e;
      }
      if (err < best_err) { best_err = err; best_d = d; }
    }
    put_half(s, best_d);
    const float id = best_d != 0 ? 1.0f / best_d : 0.0f;
    for (int j = 0; j < 16; ++j)
      s[2 + j] = uint8_t(nearest_iq4(x[j] * id) | (nearest_iq4(x[j + 16] * id) << 4));
  }
}

void from_f32_to_f32(const float* x, uint8_t* s, int64_t n) { std::memcpy(s, x, size_t(n) * 4); }
void to_f16(const float* x, uint8_t* s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) put_half(s + 2 * i, x[i]);
}

// Every ggml type: those with a dequantiser, and those known only by name (refused by name).
const TypeInfo kTypes[] = {
    {0, "F32", 1, 4, f32, from_f32_to_f32}, {1, "F16", 1, 2, f16, to_f16},  {2, "Q4_0", 32, 18, q4_0, to_small_block<4, false>, codes_q4_0, 4},
    {3, "Q4_1", 32, 20, q4_1, to_small_block<4, true>}, {6, "Q5_0", 32, 22, q5_0, to_small_block<5, false>, codes_q5_0, 5},
    {7, "Q5_1", 32, 24, q5_1, to_small_block<5, true>},
    {8, "Q8_0", 32, 34, q8_0, to_q8_0, codes_q8_0, 8}, {9, "Q8_1", 32, 40},             {10, "Q2_K", 256, 84, q2_k},
    {11, "Q3_K", 256, 110, q3_k},   {12, "Q4_K", 256, 144, q4_k},    {13, "Q5_K", 256, 176, q5_k},
    {14, "Q6_K", 256, 210, q6_k},   {15, "Q8_K", 256, 292},          {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},        {18, "IQ3_XXS", 256, 98},        {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18, iq4_nl, to_iq4_nl}, {21, "IQ3_S", 256, 110},         {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136, iq4_xs}, {24, "I8", 1, 1},              {25, "I16", 1, 2},
    {26, "I32", 1, 4},              {27, "I64", 1, 8},               {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},         {30, "BF16", 1, 2, bf16},        {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},         {39, "MXFP4", 32, 17},           {kNVFP4, "NVFP4", 64, 36},
    {41, "Q1_0", 128, 18, q1_0},    {42, "Q2_0", 64, 18, q2_0},
    {kQ2_0C, "Q2_0C", QK_Q2_0C, 130, q2_0c, nullptr, codes_q2_0c, 2, true},
};

}  // namespace

const TypeInfo* type_info(uint32_t id) {
  for (const auto& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

std::string type_label(uint32_t id) {
  const TypeInfo* t = type_info(id);
  if (id == kQ2_0C) return "type 40 (Q2_0C of llama.cpp pull request 19357)";
  return "type " + std::to_string(id) + (t ? " (" + std::string(t->name) + ")" : " (unknown)");
}

std::string supported_type_names() {
  std::string s;
  for (const auto& t : kTypes)
    if (t.to_f32) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

}  // namespace arrowquant::ggml
