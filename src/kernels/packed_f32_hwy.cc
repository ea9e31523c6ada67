// Highway kernels on lsb_rows_v1 packed weights. Compiled once per SIMD target (foreach_target) and
// chosen at run time.
//
// The products avoid re-ordering codes: a vector of N bytes unpacks (codec-inl.h) into bits-dependent
// phases (int4: even codes, then odd; int2: codes 0,4,8.. then 1,5,9..). The activations are permuted
// once per call into that same order (format/pack.h), so each unpacked vector meets its activations
// with one FMA. Sub-blocks of 4N/2N/N codes never straddle a group (groups are multiples
// of 32); the end of a row shorter than a sub-block is done in scalar code, in natural order.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/packed_f32_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <cstring>
#include <vector>

#include "arrowquant/dtype.h"
#include "arrowquant/packed_tensor.h"
#include "format/pack.h"
#include "kernels/packed_prepared.h"
#include "kernels/codec-inl.h"
#include "kernels/row_scales-inl.h"

HWY_BEFORE_NAMESPACE();
namespace arrowquant::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::CappedTag<float, 8>;
// Products use up to 16 lanes (AVX-512) for int4/int8, 8 for int2 so that a sub-block (32 codes)
// never spans two groups of 32.
using DFW = hn::CappedTag<float, 16>;
template <int BITS>
using DFB = std::conditional_t<BITS == 2, DF, DFW>;
inline int64_t product_lanes(int bits) { return int64_t(bits == 2 ? hn::Lanes(DF()) : hn::Lanes(DFW())); }


// ---------------------------------------------------------------- dequantisation

// Float8 codes (one per lane) as float32, exactly the format's values: the code's exponent and
// mantissa bits moved into a float32's and the bias difference multiplied in (exact: a power of two;
// the fp8 subnormals arrive as float32 subnormals and leave normal); the all-ones exponent (E5M2's
// infinities and NaNs, E4M3's one NaN code) set apart.
template <class D, class V8>
HWY_INLINE hn::Vec<D> Float8Values(D df, const QuantFormat& f, V8 bytes) {
  const hn::Rebind<uint32_t, D> du32;
  const auto b = hn::PromoteTo(du32, bytes);
  const auto sign = hn::ShiftLeft<24>(hn::And(b, hn::Set(du32, 0x80u)));
  const auto magnitude = hn::And(b, hn::Set(du32, 0x7Fu));
  const bool e4m3 = f.family == Codebook::Fp8E4m3;
  const auto moved = e4m3 ? hn::ShiftLeft<20>(magnitude) : hn::ShiftLeft<21>(magnitude);
  const auto value = hn::Mul(hn::BitCast(df, hn::Or(sign, moved)), hn::Set(df, e4m3 ? 0x1p120f : 0x1p112f));
  // E4M3: only 0x7F is special (NaN); E5M2: 0x7C is infinity, 0x7D-0x7F NaN.
  const auto special = e4m3 ? hn::Eq(magnitude, hn::Set(du32, 0x7Fu))
                            : hn::Eq(hn::And(magnitude, hn::Set(du32, 0x7Cu)), hn::Set(du32, 0x7Cu));
  const auto nan_bit = e4m3 ? hn::Set(du32, 0x400000u)
                            : hn::IfThenElseZero(hn::Ne(hn::And(magnitude, hn::Set(du32, 3u)), hn::Zero(du32)),
                                                 hn::Set(du32, 0x400000u));
  const auto inf_or_nan = hn::BitCast(df, hn::Or(sign, hn::Or(hn::Set(du32, 0x7F800000u), nan_bit)));
  return hn::IfThenElse(hn::RebindMask(df, special), inf_or_nan, value);
}

void DequantizeF32(const PackedView& v, int64_t r0, int64_t r1, float* HWY_RESTRICT out) {
  const DF df;
  const hn::Rebind<uint32_t, DF> du32;
  const hn::Rebind<int32_t, DF> di32;
  const hn::Rebind<uint8_t, DF> du8;
  const int64_t N = int64_t(hn::Lanes(df));
  const auto& g = v.geom;
  const int bits = v.format->bits;
  const int64_t groups = g.groups_per_row();
  const size_t row_bytes = packed_row_bytes(g.cols, bits);
  thread_local std::vector<uint8_t> codes;  // per thread: dequantisation runs row by row in decode
  codes.resize(size_t(g.cols) + size_t(N));
  for (int64_t r = r0; r < r1; ++r) {
    WidenLevels(*v.format, v.codes + size_t(r) * row_bytes, g.cols, codes.data());
    float* o = out + (r - r0) * g.cols;
    for (int64_t gi = 0; gi < groups; ++gi) {
      const size_t k = size_t(r * groups + gi);
      const float s = scale_at(v, k), z = zero_at(v, k);
      const auto vs = hn::Set(df, s), vz = hn::Set(df, z);
      const int64_t c0 = gi * g.group_size, c1 = std::min(c0 + g.group_size, g.cols);
      int64_t c = c0;
      if (v.format->float8()) {
        for (; c + N <= c1; c += N) hn::StoreU(hn::Mul(vs, Float8Values(df, *v.format, hn::LoadU(du8, codes.data() + c))), df, o + c);
        for (; c < c1; ++c) o[c] = s * v.format->level_of(codes[size_t(c)]);
        continue;
      }
      for (; c + N <= c1; c += N) {
        const auto cf = hn::ConvertTo(df, hn::BitCast(di32, hn::PromoteTo(du32, hn::LoadU(du8, codes.data() + c))));
        hn::StoreU(hn::Mul(vs, hn::Sub(cf, vz)), df, o + c);  // the reference's two roundings, no FMA
      }
      for (; c < c1; ++c) o[c] = s * (float(codes[size_t(c)]) - z);
    }
  }
}

void DequantizeBF16(const PackedView& v, int64_t r0, int64_t r1, uint16_t* HWY_RESTRICT out) {
  const DF df;
  const hn::Rebind<uint32_t, DF> du32;
  const hn::Rebind<uint16_t, DF> du16;
  const int64_t N = int64_t(hn::Lanes(df));
  const int64_t cols = v.geom.cols;
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = r0; r < r1; ++r) {
    DequantizeF32(v, r, r + 1, row.data());
    uint16_t* o = out + (r - r0) * cols;
    int64_t c = 0;
    for (; c + N <= cols; c += N) {
      // round to nearest even: add 0x7FFF plus the lowest kept bit, keep the top half (values are finite)
      const auto x = hn::BitCast(du32, hn::LoadU(df, row.data() + c));
      const auto lsb = hn::And(hn::ShiftRight<16>(x), hn::Set(du32, 1));
      const auto rounded = hn::ShiftRight<16>(hn::Add(x, hn::Add(lsb, hn::Set(du32, 0x7FFF))));
      hn::StoreU(hn::DemoteTo(du16, hn::BitCast(hn::Rebind<int32_t, DF>(), rounded)), du16, o + c);
    }
    for (; c < cols; ++c) o[c] = f32_to_bf16(row[size_t(c)]);
  }
}

// ---------------------------------------------------------------- fused products, fp32 activations

// Codes one load yields, and how activations of one such sub-block are permuted.
inline int64_t sub_block_codes(int bits, int64_t N) { return bits == 8 ? N : bits == 4 ? 2 * N : 4 * N; }

// One sub-block of codes at p (N bytes), unpacked into 8/BITS float vectors in lane order: int8
// natural, int4 low then high nibbles, int2 bit pairs 0..3 (the order activations are permuted to).
// F8: the bytes are float8 codes of f, turned into their values.
template <int BITS, bool F8 = false, class D, class V = decltype(hn::Zero(D()))>
HWY_INLINE void UnpackSubBlock(D df, const uint8_t* p, V* q, const QuantFormat* f = nullptr) {
  const hn::Rebind<uint32_t, D> du32;
  const hn::Rebind<int32_t, D> di32;
  const hn::Rebind<uint8_t, D> du8;
  if constexpr (F8) {
    q[0] = Float8Values(df, *f, hn::LoadU(du8, p));
    return;
  }
  const auto bytes = hn::PromoteTo(du32, hn::LoadU(du8, p));  // one packed byte per 32-bit lane
  for (int ph = 0; ph < 8 / BITS; ++ph) q[ph] = hn::ConvertTo(df, hn::BitCast(di32, CodesOfPhase<BITS>(du32, bytes, ph)));
}

// One row's dot products with NX activation rows. Four independent accumulators per activation
// row keep the FMA units busy (a single chain would wait on FMA latency at every step).
template <int BITS, int NX, bool F8 = false>
HWY_INLINE void MatvecRowsT(const PackedView& v, const float* const* xp, const float* const* xsum, int64_t r0,
                            int64_t r1, float* const* y) {
  const DFB<BITS> df;
  using V = decltype(hn::Zero(df));
  const int64_t N = int64_t(hn::Lanes(df));
  const auto& g = v.geom;
  const int64_t groups = g.groups_per_row(), sb = sub_block_codes(BITS, N);
  const int64_t whole = g.cols / sb * sb;
  const size_t row_bytes = packed_row_bytes(g.cols, BITS);
  thread_local std::vector<float> scales;
  scales.resize(size_t(groups));
  constexpr int P = 8 / BITS;  // vectors per sub-block
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = v.codes + size_t(r) * row_bytes;
    RowScales(v, r, r + 1, scales.data());
    V total[NX];
    float scalar[NX];
    for (int j = 0; j < NX; ++j) total[j] = hn::Zero(df), scalar[j] = 0;
    for (int64_t gi = 0; gi < groups; ++gi) {
      const float s = scales[size_t(gi)], z = F8 ? 0.0f : zero_at(v, size_t(r * groups + gi));
      const int64_t c0 = gi * g.group_size, c1 = std::min(c0 + g.group_size, g.cols);
      const int64_t vend = std::max(c0, std::min(c1, whole));
      V acc[NX][4];
      for (int j = 0; j < NX; ++j)
        for (int k = 0; k < 4; ++k) acc[j][k] = hn::Zero(df);
      int64_t c = c0;
      // Two sub-blocks per step for int8/int4 (2 or 4 independent chains), one for int2 (4 chains).
      constexpr int STEP = BITS == 2 ? 1 : 2;
      for (; c + STEP * sb <= vend; c += STEP * sb) {
        for (int u = 0; u < STEP; ++u) {
          V q[4];
          UnpackSubBlock<BITS, F8>(df, row + (c + u * sb) * BITS / 8, q, v.format);
          for (int p = 0; p < P; ++p) {
            const int k = (u * P + p) & 3;
            for (int j = 0; j < NX; ++j)
              acc[j][k] = hn::MulAdd(q[p], hn::LoadU(df, xp[j] + c + u * sb + p * N), acc[j][k]);
          }
        }
      }
      for (; c < vend; c += sb) {
        V q[4];
        UnpackSubBlock<BITS, F8>(df, row + c * BITS / 8, q, v.format);
        for (int p = 0; p < P; ++p)
          for (int j = 0; j < NX; ++j) acc[j][p & 3] = hn::MulAdd(q[p], hn::LoadU(df, xp[j] + c + p * N), acc[j][p & 3]);
      }
      float tail[NX] = {};
      for (int64_t t = vend; t < c1; ++t) {
        const int raw = packed_code_at(row, t, BITS);
        const float code = F8 ? v.format->level_of(raw) : float(raw);
        for (int j = 0; j < NX; ++j) tail[j] += code * xp[j][t];
      }
      const auto vs = hn::Set(df, s);
      for (int j = 0; j < NX; ++j) {
        const V sum = hn::Add(hn::Add(acc[j][0], acc[j][1]), hn::Add(acc[j][2], acc[j][3]));
        total[j] = hn::MulAdd(vs, sum, total[j]);
        scalar[j] += s * (tail[j] - z * xsum[j][gi]);
      }
    }
    for (int j = 0; j < NX; ++j) y[j][r] = hn::GetLane(hn::SumOfLanes(df, total[j])) + scalar[j];
  }
}

// Four rows against one activation row: each activation vector is loaded once for four rows, so
// activations (4 bytes per weight, from L2 for long rows) stop being the bottleneck.
template <int BITS, bool F8 = false>
HWY_INLINE void Matvec4RowsT(const PackedView& v, const float* xp, const float* xsum, int64_t r0, float* y) {
  const DFB<BITS> df;
  using V = decltype(hn::Zero(df));
  constexpr int R = 4, P = 8 / BITS;
  const int64_t N = int64_t(hn::Lanes(df));
  const auto& g = v.geom;
  const int64_t groups = g.groups_per_row(), sb = sub_block_codes(BITS, N);
  const int64_t whole = g.cols / sb * sb;
  const size_t row_bytes = packed_row_bytes(g.cols, BITS);
  thread_local std::vector<float> scales;
  scales.resize(size_t(R * groups));
  RowScales(v, r0, r0 + R, scales.data());  // the four rows' scales are one contiguous run
  const uint8_t* rows[R];
  for (int k = 0; k < R; ++k) rows[k] = v.codes + size_t(r0 + k) * row_bytes;
  V total[R];
  float scalar[R] = {};
  for (int k = 0; k < R; ++k) total[k] = hn::Zero(df);
  for (int64_t gi = 0; gi < groups; ++gi) {
    const int64_t c0 = gi * g.group_size, c1 = std::min(c0 + g.group_size, g.cols);
    const int64_t vend = std::max(c0, std::min(c1, whole));
    V acc[R][2];
    for (int k = 0; k < R; ++k) acc[k][0] = acc[k][1] = hn::Zero(df);
    for (int64_t c = c0; c < vend; c += sb) {
      V xv[P];
      for (int p = 0; p < P; ++p) xv[p] = hn::LoadU(df, xp + c + p * N);
      for (int k = 0; k < R; ++k) {
        V q[4];
        UnpackSubBlock<BITS, F8>(df, rows[k] + c * BITS / 8, q, v.format);
        for (int p = 0; p < P; ++p) acc[k][p & 1] = hn::MulAdd(q[p], xv[p], acc[k][p & 1]);
      }
    }
    for (int k = 0; k < R; ++k) {
      float tail = 0;
      for (int64_t t = vend; t < c1; ++t) {
        const int raw = packed_code_at(rows[k], t, BITS);
        tail += (F8 ? v.format->level_of(raw) : float(raw)) * xp[t];
      }
      const float sk = scales[size_t(k * groups + gi)];
      const float z = F8 ? 0.0f : zero_at(v, size_t((r0 + k) * groups + gi));
      total[k] = hn::MulAdd(hn::Set(df, sk), hn::Add(acc[k][0], acc[k][1]), total[k]);
      scalar[k] += sk * (tail - z * xsum[gi]);
    }
  }
  for (int k = 0; k < R; ++k) y[r0 + k] = hn::GetLane(hn::SumOfLanes(df, total[k])) + scalar[k];
}

template <int NX>
void MatvecRows(const PackedView& v, const float* const* xp, const float* const* xsum, int64_t r0, int64_t r1,
                float* const* y) {
  const bool f8 = v.format->float8();
  if (NX == 1) {  // decode: blocks of four rows, then the rest one by one
    const int bits = v.format->bits;
    for (; r0 + 4 <= r1; r0 += 4) {
      if (f8) Matvec4RowsT<8, true>(v, xp[0], xsum[0], r0, y[0]);
      else if (bits == 8) Matvec4RowsT<8>(v, xp[0], xsum[0], r0, y[0]);
      else if (bits == 4) Matvec4RowsT<4>(v, xp[0], xsum[0], r0, y[0]);
      else Matvec4RowsT<2>(v, xp[0], xsum[0], r0, y[0]);
    }
  }
  if (f8) return MatvecRowsT<8, NX, true>(v, xp, xsum, r0, r1, y);
  switch (v.format->bits) {
    case 8: MatvecRowsT<8, NX>(v, xp, xsum, r0, r1, y); break;
    case 4: MatvecRowsT<4, NX>(v, xp, xsum, r0, r1, y); break;
    default: MatvecRowsT<2, NX>(v, xp, xsum, r0, r1, y); break;
  }
}

// Per-call preparation shared by every row: permuted activations and their sums per group.
void Prepare(const PackedView& v, const float* x, int64_t n, PreparedF32& p) {
  const int64_t N = product_lanes(v.format->bits);
  const auto& g = v.geom;
  p.xp.resize(size_t(n));
  p.xsum.resize(size_t(n));
  for (int64_t j = 0; j < n; ++j) {
    const float* xr = x + j * g.cols;
    std::vector<float>& xp = p.xp[size_t(j)];
    std::vector<float>& sums = p.xsum[size_t(j)];
    xp.resize(size_t(g.cols));
    sums.resize(size_t(g.groups_per_row()));
    permute_to_phase_order(xr, g.cols, v.format->bits, N, xp.data());
    for (int64_t gi = 0; gi < g.groups_per_row(); ++gi) {
      double s = 0;
      for (int64_t c = gi * g.group_size; c < std::min((gi + 1) * g.group_size, g.cols); ++c) s += xr[c];
      sums[size_t(gi)] = float(s);
    }
  }
}

// True when the vector path applies: int2/4/8 and groups made of whole sub-blocks.
bool VectorFriendly(const PackedView& v) {
  const int bits = v.format->bits;
  // those go through dequantised rows (float8 codes are whole bytes: they take the 8-bit path)
  if (v.format->straddles_bytes() || v.format->byte_levels()) return false;
  const int64_t sb = sub_block_codes(bits, product_lanes(bits));
  return v.geom.groups_per_row() == 1 || v.geom.group_size % sb == 0;
}

// Rows [r0, r1) of Y for up to 4 activation rows at once (each weight byte read once).
void MatvecBlock(const PackedView& v, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1, const PreparedF32& p) {
  for (int64_t j0 = 0; j0 < n; j0 += 4) {
    const int64_t nx = std::min<int64_t>(4, n - j0);
    const float* xps[4];
    const float* sums[4];
    float* ys[4];
    for (int64_t j = 0; j < nx; ++j) {
      xps[j] = p.xp[size_t(j0 + j)].data();
      sums[j] = p.xsum[size_t(j0 + j)].data();
      ys[j] = y + (j0 + j) * ldy;
    }
    switch (nx) {
      case 1: MatvecRows<1>(v, xps, sums, r0, r1, ys); break;
      case 2: MatvecRows<2>(v, xps, sums, r0, r1, ys); break;
      case 3: MatvecRows<3>(v, xps, sums, r0, r1, ys); break;
      default: MatvecRows<4>(v, xps, sums, r0, r1, ys); break;
    }
  }
}

// Formats without a fused path (int3/5/6, unusual groups), few activation rows: each row dequantised into
// a per-thread buffer, then SIMD dot products with every activation row.
void RowsViaDequant(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  const DFW df;
  const int64_t N = int64_t(hn::Lanes(df)), cols = v.geom.cols;
  thread_local std::vector<float> w;
  w.resize(size_t(cols));
  for (int64_t r = r0; r < r1; ++r) {
    DequantizeF32(v, r, r + 1, w.data());
    for (int64_t j = 0; j < n; ++j) {
      const float* xr = x + j * cols;
      auto a0 = hn::Zero(df), a1 = hn::Zero(df);
      int64_t c = 0;
      for (; c + 2 * N <= cols; c += 2 * N) {
        a0 = hn::MulAdd(hn::LoadU(df, w.data() + c), hn::LoadU(df, xr + c), a0);
        a1 = hn::MulAdd(hn::LoadU(df, w.data() + c + N), hn::LoadU(df, xr + c + N), a1);
      }
      float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, a1)));
      for (; c < cols; ++c) s += w[size_t(c)] * xr[c];
      y[j * ldy + r] = s;
    }
  }
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/packed_f32_hwy.h"

namespace arrowquant::kernels::simd {

HWY_EXPORT(DequantizeF32);
HWY_EXPORT(DequantizeBF16);
HWY_EXPORT(Prepare);
HWY_EXPORT(VectorFriendly);
HWY_EXPORT(MatvecBlock);
HWY_EXPORT(RowsViaDequant);

void dequantize_f32(const PackedView& v, int64_t r0, int64_t r1, float* out) {
  HWY_DYNAMIC_DISPATCH(DequantizeF32)(v, r0, r1, out);
}
void dequantize_bf16(const PackedView& v, int64_t r0, int64_t r1, uint16_t* out) {
  HWY_DYNAMIC_DISPATCH(DequantizeBF16)(v, r0, r1, out);
}
void prepare_f32(const PackedView& v, const float* x, int64_t n, PreparedF32& p) {
  HWY_DYNAMIC_DISPATCH(Prepare)(v, x, n, p);
}
bool fused_f32_supported(const PackedView& v) { return HWY_DYNAMIC_DISPATCH(VectorFriendly)(v); }
void fused_f32_rows(const PackedView& v, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1,
                    const PreparedF32& p) {
  HWY_DYNAMIC_DISPATCH(MatvecBlock)(v, n, y, ldy, r0, r1, p);
}
void dequantized_rows_f32(const PackedView& v, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                          int64_t r1) {
  HWY_DYNAMIC_DISPATCH(RowsViaDequant)(v, x, n, y, ldy, r0, r1);
}

}  // namespace arrowquant::kernels::simd
#endif
