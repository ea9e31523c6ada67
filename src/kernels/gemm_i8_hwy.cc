// The int8 GEMM on packed weights (gemm_i8.h says what it computes): many activation rows against one
// packed matrix, the case where compute, not memory, bounds the product.
//
// Each thread takes panels of kGemmPanelRows weight rows and widens them once into bytes in cache
// (codes, byte levels or lattice levels: codec-inl.h's WidenLevels, as the widened decode kernel
// does), interleaved (a 4 × 4 word transpose in registers) so that one vector holds 4 consecutive
// weights of L consecutive rows (L = int32 lanes: 16 with AVX-512). A product step is then one VNNI `vpdpbusd` of that vector with 4 bytes of
// one activation row broadcast to every lane: each int32 lane sums one output row, so no horizontal
// sums are needed, and per activation block the sums of L rows turn into floats with one convert, one
// multiply (weight scales × activation scale) and one FMA. The micro-kernel keeps MR activation rows
// × 2 vectors of rows in registers. The zero-point term (Σ_groups scale · zero · Σ_blocks a_scale · Σq)
// is vectorised over the rows too.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_i8_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "arrowquant/packed_tensor.h"
#include "arrowquant/quant_format.h"
#include "format/pack.h"
#include "kernels/gemm_i8_hwy.h"
#include "kernels/i8_geometry.h"
#include "kernels/kernel_clock.h"
#include "kernels/packed_prepared.h"
#include "kernels/codec-inl.h"
#include "kernels/i8_activations-inl.h"
#include "kernels/row_scales-inl.h"

HWY_BEFORE_NAMESPACE();
#if HWY_TARGET == HWY_AVX3_DL
#pragma GCC target("avx512vnni")  // as in i8_activations-inl.h: DotU8I8 inlines only into code that has it
#endif
namespace arrowquant::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kNV = 2;  // row vectors per micro-kernel: 32 rows with AVX-512
constexpr int kMR = 6;  // activation rows per micro-kernel: 12 int32 + 12 float sums + 5 vectors in 32 registers

void PrepareRows(const PackedView& v, int64_t n, PreparedRowsI8& p) {
  const int64_t cols = v.geom.cols, groups = v.geom.groups_per_row();
  p.rows = n;
  p.block = i8_activation_block(v);
  p.blocks = (cols + p.block - 1) / p.block;
  p.stride = p.blocks * p.block;
  p.q.resize(size_t(n * p.stride));
  p.scale.resize(size_t(n * p.blocks));
  p.group_aq.resize(size_t(n * groups));
  p.group_of_block.resize(size_t(p.blocks));
  for (int64_t b = 0; b < p.blocks; ++b) p.group_of_block[size_t(b)] = int32_t(groups == 1 ? 0 : b * p.block / v.geom.group_size);
}

// Activation rows [i0, i1) to int8 per block (the decode kernels' rule), their scales, and per weight
// group Σ scale·Σq.
void QuantizeRows(const PackedView& v, const float* x, int64_t i0, int64_t i1, PreparedRowsI8& p) {
  const int64_t cols = v.geom.cols, groups = v.geom.groups_per_row();
  thread_local std::vector<float> qsum;
  qsum.resize(size_t(p.blocks));
  for (int64_t i = i0; i < i1; ++i) {
    int8_t* q = p.q.data() + i * p.stride;
    float* s = p.scale.data() + i * p.blocks;
    QuantizeRowI8(x + i * cols, cols, p.block, q, s, qsum.data());
    std::memset(q + cols, 0, size_t(p.stride - cols));
    float* aq = p.group_aq.data() + i * groups;
    std::fill(aq, aq + groups, 0.0f);
    for (int64_t b = 0; b < p.blocks; ++b) aq[p.group_of_block[size_t(b)]] += s[b] * qsum[size_t(b)];
  }
}

// A widened panel of R rows: bytes interleaved as [k/4][row][4], scales and zero-point factors
// (scale × zero) transposed to [group][row]; rows past the matrix are zero.
struct Panel {
  std::vector<uint8_t> bytes, row;  // R × stride; four rows in natural order (one on the scalar target)
  std::vector<float> ws, wz;        // groups × R
  std::vector<float> scales;        // m × groups as stored
};

void WidenPanel(const PackedView& v, const PreparedRowsI8& p, int64_t r0, int64_t m, int64_t R, Panel& t) {
  ScopedKernelTimer timer(kernel_clock_slots().unpack_thread_ns);
  const QuantFormat& f = *v.format;
  const int64_t cols = v.geom.cols, groups = v.geom.groups_per_row();
  const size_t row_bytes = packed_row_bytes(cols, f.bits);
  if (m < R) t.bytes.assign(size_t(R * p.stride), 0);  // rows past the matrix multiply as zeros
  else t.bytes.resize(size_t(R * p.stride));          // every byte is written below
#if HWY_TARGET == HWY_SCALAR
  t.row.resize(size_t(p.stride));
  for (int64_t k = 0; k < m; ++k) {
    WidenLevels(f, v.codes + size_t(r0 + k) * row_bytes, cols, t.row.data());
    std::memset(t.row.data() + cols, 0, size_t(p.stride - cols));
    uint8_t* out = t.bytes.data() + k * 4;
    for (int64_t c = 0; c < p.stride; c += 4) std::memcpy(out + c * R, t.row.data() + c, 4);
  }
#else
  // Four rows at a time: widened, then their 4-byte words transposed 4 × 4 in registers, so that each
  // 16-byte store is one k/4 step of four rows (a word at a time was 7 % of a prefill).
  const hn::Full128<uint32_t> d32;
  const hn::Full128<uint64_t> d64;
  t.row.resize(size_t(4 * p.stride));
  for (int64_t k0 = 0; k0 < m; k0 += 4) {
    for (int64_t j = 0; j < 4; ++j) {
      uint8_t* dst = t.row.data() + j * p.stride;
      if (k0 + j >= m) {
        std::memset(dst, 0, size_t(p.stride));
        continue;
      }
      WidenLevels(f, v.codes + size_t(r0 + k0 + j) * row_bytes, cols, dst);
      std::memset(dst + cols, 0, size_t(p.stride - cols));
    }
    const auto* w = reinterpret_cast<const uint32_t*>(t.row.data());
    const int64_t words = p.stride / 4;  // stride: whole activation blocks, a multiple of 32 bytes
    uint8_t* out = t.bytes.data() + k0 * 4;
    for (int64_t c = 0; c < words; c += 4) {
      const auto a = hn::LoadU(d32, w + c), b = hn::LoadU(d32, w + words + c);
      const auto e = hn::LoadU(d32, w + 2 * words + c), g = hn::LoadU(d32, w + 3 * words + c);
      const auto ab_lo = hn::BitCast(d64, hn::InterleaveLower(d32, a, b)), ab_hi = hn::BitCast(d64, hn::InterleaveUpper(d32, a, b));
      const auto eg_lo = hn::BitCast(d64, hn::InterleaveLower(d32, e, g)), eg_hi = hn::BitCast(d64, hn::InterleaveUpper(d32, e, g));
      hn::StoreU(hn::BitCast(d32, hn::InterleaveLower(d64, ab_lo, eg_lo)), d32, reinterpret_cast<uint32_t*>(out + (c + 0) * R * 4));
      hn::StoreU(hn::BitCast(d32, hn::InterleaveUpper(d64, ab_lo, eg_lo)), d32, reinterpret_cast<uint32_t*>(out + (c + 1) * R * 4));
      hn::StoreU(hn::BitCast(d32, hn::InterleaveLower(d64, ab_hi, eg_hi)), d32, reinterpret_cast<uint32_t*>(out + (c + 2) * R * 4));
      hn::StoreU(hn::BitCast(d32, hn::InterleaveUpper(d64, ab_hi, eg_hi)), d32, reinterpret_cast<uint32_t*>(out + (c + 3) * R * 4));
    }
  }
#endif
  t.scales.resize(size_t(m * groups + 16));
  RowScales(v, r0, r0 + m, t.scales.data());
  t.ws.assign(size_t(groups * R), 0.0f);
  t.wz.assign(size_t(groups * R), 0.0f);
  for (int64_t k = 0; k < m; ++k)
    for (int64_t g = 0; g < groups; ++g) {
      // symmetric: the format's centre() (a half-offset grid's k - 1/2 exactly, a codebook's 128)
      const float s = t.scales[size_t(k * groups + g)];
      const float zero = f.symmetric ? f.centre() : float(v.zero_points[size_t((r0 + k) * groups + g)]);
      t.ws[size_t(g * R + k)] = s;
      t.wz[size_t(g * R + k)] = s * zero;
    }
}

#if HWY_TARGET != HWY_SCALAR
// Rows [i0, i0 + MR) of y for the panel's R = kNV · L rows (y + i·ldy + r for r < m).
template <int MR>
HWY_INLINE void Tile(const PreparedRowsI8& p, int64_t i0, const Panel& t, int64_t R, int64_t groups, int64_t m,
                     float* y, int64_t ldy) {
  const hn::ScalableTag<uint8_t> du8;
  const hn::Repartition<int8_t, decltype(du8)> di8;
  const hn::Repartition<int32_t, decltype(du8)> di32;
  const hn::Repartition<float, decltype(du8)> df;
  using VF = decltype(hn::Zero(df));
  using VI = decltype(hn::Zero(di32));
  const int64_t L = int64_t(hn::Lanes(di32)), nb = int64_t(hn::Lanes(du8));
  const int8_t* a = p.q.data() + i0 * p.stride;
  const float* as = p.scale.data() + i0 * p.blocks;
  VF f[MR][kNV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < kNV; ++j) f[i][j] = hn::Zero(df);
  const uint8_t* w = t.bytes.data();
  for (int64_t b = 0; b < p.blocks; ++b) {
    VI acc[MR][kNV];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < kNV; ++j) acc[i][j] = hn::Zero(di32);
    for (int64_t c = b * p.block; c < (b + 1) * p.block; c += 4) {
      const uint8_t* wc = w + c * R;
      decltype(hn::Zero(du8)) wv[kNV];
      for (int j = 0; j < kNV; ++j) wv[j] = hn::LoadU(du8, wc + j * nb);
      for (int i = 0; i < MR; ++i) {
        int32_t four;
        std::memcpy(&four, a + i * p.stride + c, 4);
        const auto xv = hn::BitCast(di8, hn::Set(di32, four));
        for (int j = 0; j < kNV; ++j) acc[i][j] = DotU8I8(du8, acc[i][j], wv[j], xv);
      }
    }
    const float* wsg = t.ws.data() + p.group_of_block[size_t(b)] * R;
    VF ws[kNV];
    for (int j = 0; j < kNV; ++j) ws[j] = hn::LoadU(df, wsg + j * L);
    for (int i = 0; i < MR; ++i) {
      const VF sa = hn::Set(df, as[i * p.blocks + b]);
      for (int j = 0; j < kNV; ++j) f[i][j] = hn::MulAdd(hn::ConvertTo(df, acc[i][j]), hn::Mul(ws[j], sa), f[i][j]);
    }
  }
  // minus the zero-point term, Σ_g (scale · zero)[g, r] · (Σ a_scale · Σq)[i, g]
  for (int64_t g = 0; g < groups; ++g) {
    VF wz[kNV];
    for (int j = 0; j < kNV; ++j) wz[j] = hn::LoadU(df, t.wz.data() + g * R + j * L);
    for (int i = 0; i < MR; ++i) {
      const VF aq = hn::Set(df, p.group_aq[size_t((i0 + i) * groups + g)]);
      for (int j = 0; j < kNV; ++j) f[i][j] = hn::NegMulAdd(wz[j], aq, f[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < kNV; ++j) {
      float* out = y + (i0 + i) * ldy + j * L;
      const int64_t left = m - j * L;
      if (left >= L) {
        hn::StoreU(f[i][j], df, out);
      } else if (left > 0) {
        HWY_ALIGN float tmp[64];
        hn::Store(f[i][j], df, tmp);
        std::copy(tmp, tmp + left, out);
      }
    }
}
#endif

// y[i·ldy + r] for weight rows [r0, r1) and every prepared activation row.
void GemmRows(const PackedView& v, const PreparedRowsI8& p, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  const int64_t groups = v.geom.groups_per_row();
  thread_local Panel t;
#if HWY_TARGET == HWY_SCALAR
  // No vectors: one row at a time, the same sums.
  for (int64_t r = r0; r < r1; ++r) {
    WidenPanel(v, p, r, 1, 1, t);
    for (int64_t i = 0; i < p.rows; ++i) {
      const int8_t* a = p.q.data() + i * p.stride;
      float sum = 0;
      for (int64_t b = 0; b < p.blocks; ++b) {
        int32_t s = 0;
        for (int64_t c = b * p.block; c < (b + 1) * p.block; ++c) s += int32_t(t.bytes[size_t(c)]) * a[c];
        sum += float(s) * t.ws[size_t(p.group_of_block[size_t(b)])] * p.scale[size_t(i * p.blocks + b)];
      }
      for (int64_t g = 0; g < groups; ++g) sum -= t.wz[size_t(g)] * p.group_aq[size_t(i * groups + g)];
      y[i * ldy + r] = sum;
    }
  }
#else
  const int64_t R = kNV * int64_t(hn::Lanes(hn::ScalableTag<int32_t>()));
  for (int64_t pr = r0; pr < r1; pr += R) {
    const int64_t m = std::min(R, r1 - pr);
    WidenPanel(v, p, pr, m, R, t);
    float* yp = y + pr;
    int64_t i = 0;
    for (; i + kMR <= p.rows; i += kMR) Tile<kMR>(p, i, t, R, groups, m, yp, ldy);
    switch (p.rows - i) {
      case 5: Tile<5>(p, i, t, R, groups, m, yp, ldy); break;
      case 4: Tile<4>(p, i, t, R, groups, m, yp, ldy); break;
      case 3: Tile<3>(p, i, t, R, groups, m, yp, ldy); break;
      case 2: Tile<2>(p, i, t, R, groups, m, yp, ldy); break;
      case 1: Tile<1>(p, i, t, R, groups, m, yp, ldy); break;
      default: break;
    }
  }
#endif
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

namespace arrowquant::kernels::simd {

HWY_EXPORT(PrepareRows);
HWY_EXPORT(QuantizeRows);
HWY_EXPORT(GemmRows);

void gemm_i8_prepare(const PackedView& v, int64_t n, PreparedRowsI8& p) { HWY_DYNAMIC_DISPATCH(PrepareRows)(v, n, p); }
void gemm_i8_quantize(const PackedView& v, const float* x, int64_t i0, int64_t i1, PreparedRowsI8& p) {
  HWY_DYNAMIC_DISPATCH(QuantizeRows)(v, x, i0, i1, p);
}
void gemm_i8_rows(const PackedView& v, const PreparedRowsI8& p, int64_t r0, int64_t r1, float* y, int64_t ldy) {
  HWY_DYNAMIC_DISPATCH(GemmRows)(v, p, r0, r1, y, ldy);
}

}  // namespace arrowquant::kernels::simd
#endif
