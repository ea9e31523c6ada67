// Decode products with int8 activations: x is quantised once per call (one scale per activation
// block, see i8_activation_block), then every row is a sum of u8 code × s8 activation products in
// int32, which is how a CPU reads 2–4-bit weights at memory speed: one VNNI `vpdpbusd` does 64 such
// products (AVX3_DL); other targets do the same sums with int16 pairwise multiply-adds.
//
// The codec shared with the fp32 kernels (codec-inl.h, format/pack.h): a vector of NB packed bytes
// unpacks with shifts and masks into 8/bits byte vectors (int4: low nibbles, then high; int2: bit
// pairs 0..3), and the activations are permuted once per call into that order. Every int32 lane of a dot product then covers L = 32/bits
// consecutive codes, so it lies inside one activation block and one weight group; a per-lane scale
// vector (weight scale × activation scale) turns a whole chunk into floats with one FMA.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/packed_i8_hwy.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/cache_control.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "arrowquant/dtype.h"
#include "arrowquant/error.h"
#include "arrowquant/packed_tensor.h"
#include "format/pack.h"
#include "kernels/i8_geometry.h"
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

// Kernels are instantiated for chunks of NB packed bytes (64, 32 or 16, capped by the target's
// vector): PrepareI8 picks the widest whose chunk divides the row, so that 896-wide int2 rows (3.5
// chunks of 64 bytes) do not spend an eighth of their codes in the scalar tail.
template <size_t NB>
using DU8 = hn::CappedTag<uint8_t, NB>;

// Codes per chunk of NB bytes on this target; 0 on the one-lane scalar target, where everything runs
// through the natural-order tail loop.
template <size_t NB>
inline int64_t ChunkCodes(int bits) {
#if HWY_TARGET == HWY_SCALAR
  (void)bits;
  return 0;
#else
  return int64_t(hn::Lanes(DU8<NB>())) * 8 / bits;
#endif
}

inline int64_t ChunkCodesFor(size_t nb, int bits) {
  return nb == 64 ? ChunkCodes<64>(bits) : nb == 32 ? ChunkCodes<32>(bits) : ChunkCodes<16>(bits);
}

// A chunk must hold whole weight groups or lie inside one, and likewise for activation blocks.
inline bool ChunkFits(const PackedView& v, int64_t chunk, int64_t a) {
  if (chunk == 0) return true;
  const int64_t gs = v.geom.group_size;
  const bool groups_ok = v.geom.groups_per_row() == 1 || gs % chunk == 0 || chunk % gs == 0;
  return groups_ok && (a % chunk == 0 || chunk % a == 0);
}

// The widest chunk (in packed bytes) that fits, preferring one that divides the row; 0 = none fits.
size_t ChooseChunkBytes(const PackedView& v) {
  const int bits = v.format->bits;
  const int64_t a = i8_activation_block(v);
  if (v.format->widened() || v.format->float8() || a == 0) return 0;  // float8 values are not integers
  size_t fallback = 0;
  for (size_t nb : {64, 32, 16}) {
    const int64_t chunk = ChunkCodesFor(nb, bits);
    if (!ChunkFits(v, chunk, a)) continue;
    if (chunk == 0 || v.geom.cols % chunk == 0) return nb;
    if (!fallback) fallback = nb;
  }
  return fallback;
}

bool I8Supported(const PackedView& v) { return ChooseChunkBytes(v) != 0; }

// x quantised per block (scale = max|x| / 127, round to nearest even: bit-identical to the
// reference's quantize_activations_i8, packed_reference.h), permuted for whole chunks, and the per-lane factors every row shares:
// lane i of a chunk covers the L = 32 / bits codes [c + L·i, c + L·i + L), all in one block.
void PrepareI8(const PackedView& v, const float* x, PreparedI8& p) {
  const int64_t cols = v.geom.cols, bits = v.format->bits;
  p.block = i8_activation_block(v);
  p.chunk_bytes = ChooseChunkBytes(v);
  const int64_t a = p.block, blocks = (cols + a - 1) / a;
  p.natural.resize(size_t(cols));
  p.scale.resize(size_t(blocks));
  p.qsum.resize(size_t(blocks));
  QuantizeRowI8(x, cols, a, p.natural.data(), p.scale.data(), p.qsum.data());
  const int64_t chunk = ChunkCodesFor(p.chunk_bytes, int(bits)), whole = chunk ? cols / chunk * chunk : 0;
  p.q.resize(size_t(cols));
  permute_to_phase_order(p.natural.data(), cols, int(bits), chunk * bits / 8, p.q.data());
  const int64_t L = 32 / bits;
  p.lane_scale.resize(size_t(whole / L));
  for (int64_t c = 0; c < whole; c += L) p.lane_scale[size_t(c / L)] = p.scale[size_t(c / a)];
  // blocks never straddle groups: a divides the group size, or the row is one group
  const int64_t groups = v.geom.groups_per_row();
  p.group_aq.assign(size_t(groups), 0.0f);
  for (int64_t b = 0; b < blocks; ++b) p.group_aq[size_t(b * a / v.geom.group_size)] += p.scale[size_t(b)] * p.qsum[size_t(b)];
}

// The weight scales (and, asymmetric, scale × zero point) of rows [r0, r1) as float32, converted in
// one pass over the contiguous run: per-row setup was most of the time on 896-wide rows.
void RowRangeScales(const PackedView& v, int64_t r0, int64_t r1, std::vector<float>& ws, std::vector<float>& wz) {
  const hn::CappedTag<float, 8> df;
  const hn::Rebind<uint8_t, decltype(df)> du8;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const int64_t groups = v.geom.groups_per_row(), n = (r1 - r0) * groups, N = int64_t(hn::Lanes(df));
  ws.resize(size_t(n + 16));
  RowScales(v, r0, r1, ws.data());
  if (v.format->symmetric) return;
  wz.resize(size_t(n + 16));
  const uint8_t* z = v.zero_points + r0 * groups;
  int64_t i = 0;
  for (; i + N <= n; i += N)
    hn::StoreU(hn::Mul(hn::LoadU(df, ws.data() + i), hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(du8, z + i)))), df,
               wz.data() + i);
  for (; i < n; ++i) wz[size_t(i)] = ws[size_t(i)] * float(z[i]);
}

// R rows from r0 (scales from row k0 of the converted range). Codes are unsigned, so
//   y = Σ_lanes w_scale · a_scale · Σ code·q  −  Σ_groups w_scale · zero · (Σ_blocks a_scale · Σq)
// The first sum is the loop over chunks (a_scale per lane from PrepareI8); the second, the zero-point
// term, is one short dot product per row over its groups (zero = the format's centre() when SYM).
// ONE: a chunk lies inside one weight group, whose scale is then a broadcast; otherwise (chunks of
// several groups) each lane picks its group's with a table lookup. CB (codebook formats): each
// unpacked code becomes its byte level with one byte table look-up (pshufb), and the zero-point term
// subtracts 128.
// Each row's stream is prefetched 4 KB ahead: at 8192-wide rows, 4 rows × 2–4 KB strides, it gained
// 10–30 % beyond cache (noisy VM; best of 4 runs each for 0, 1 KB and 4 KB).
constexpr size_t kPrefetchBytes = 4096;

template <size_t NB, int BITS, int R, bool ONE, bool SYM, bool CB>
HWY_INLINE void RowsI8T(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t k0, const float* ws,
                        const float* wz, float* y) {
  const DU8<NB> du8;
  const hn::Repartition<int8_t, DU8<NB>> di8;
  const hn::Repartition<int32_t, DU8<NB>> di32;
  const hn::Repartition<float, DU8<NB>> df;
  using VI8 = decltype(hn::Zero(di8));
  using VF = decltype(hn::Zero(df));
  constexpr int P = 8 / BITS;
  const auto& g = v.geom;
  const int64_t cols = g.cols, a = p.block, groups = g.groups_per_row(), gs = g.group_size;
  const int64_t chunk = ChunkCodes<NB>(BITS), whole = chunk ? cols / chunk * chunk : 0;
  const int64_t nb = int64_t(hn::Lanes(du8)), lanes = int64_t(hn::Lanes(di32));
  const size_t row_bytes = packed_row_bytes(cols, BITS);
  HWY_ALIGN int32_t idx_raw[16] = {};
  for (int64_t i = 0; i < lanes; ++i) idx_raw[i] = ONE ? 0 : int32_t((32 / BITS) * i / gs);
  const auto idx = hn::SetTableIndices(df, idx_raw);
  // ONE: the group index moves by one every gs / chunk chunks (never, per channel); else by chunk / gs
  const int64_t per_group = ONE ? (groups == 1 ? INT64_MAX : gs / std::max<int64_t>(chunk, 1)) : 1;
  const int64_t group_step = ONE ? 1 : chunk / gs;

  const uint8_t* table = v.format->levels;  // CB: 16 aligned bytes, one copy per 128-bit block
  const auto lut = CB ? hn::LoadDup128(du8, table) : hn::Zero(du8);
  const uint8_t* row0 = v.codes + size_t(r0) * row_bytes;
  const float* ws0 = ws + k0 * groups;
  const float* wz0 = SYM ? nullptr : wz + k0 * groups;
  VF f[R];
  for (int k = 0; k < R; ++k) f[k] = hn::Zero(df);
  int64_t gi = 0, left = per_group;
  for (int64_t c = 0, j = 0; c < whole; c += chunk, j += lanes) {
    VI8 act[P];
    for (int ph = 0; ph < P; ++ph) act[ph] = hn::LoadU(di8, p.q.data() + c + ph * nb);
    const VF sa = hn::LoadU(df, p.lane_scale.data() + j);
    for (int k = 0; k < R; ++k) {
      const uint8_t* wp = row0 + k * row_bytes + size_t(c * BITS / 8);
      hwy::Prefetch(wp + kPrefetchBytes);
      const auto w = hn::LoadU(du8, wp);
      auto acc = hn::Zero(di32);
      for (int ph = 0; ph < P; ++ph) {
        auto codes = CodesOfPhase<BITS>(du8, w, ph);
        if constexpr (CB) codes = hn::TableLookupBytes(lut, codes);
        acc = DotU8I8(du8, acc, codes, act[ph]);
      }
      const float* wsk = ws0 + k * groups + gi;
      const VF ws_v = ONE ? hn::Set(df, *wsk) : hn::TableLookupLanes(hn::LoadU(df, wsk), idx);
      f[k] = hn::MulAdd(hn::Mul(hn::ConvertTo(df, acc), sa), ws_v, f[k]);
    }
    if (--left == 0) gi += group_step, left = per_group;
  }
  const hn::CappedTag<float, 8> d8;
  const int64_t n8 = int64_t(hn::Lanes(d8));
  for (int k = 0; k < R; ++k) {
    float tail = 0;
    const uint8_t* row = row0 + k * row_bytes;
    for (int64_t c = whole; c < cols; ++c) {
      const int code = packed_code_at(row, c, BITS);
      tail += ws0[k * groups + c / gs] * p.scale[size_t(c / a)] * float(CB ? table[code] : code) * float(p.q[size_t(c)]);
    }
    // zero-point term: Σ_g (w_scale · zero)[g] · group_aq[g]
    const float* zk = SYM ? ws0 + k * groups : wz0 + k * groups;
    auto zv = hn::Zero(d8);
    int64_t gz = 0;
    for (; gz + n8 <= groups; gz += n8) zv = hn::MulAdd(hn::LoadU(d8, zk + gz), hn::LoadU(d8, p.group_aq.data() + gz), zv);
    float corr = hn::GetLane(hn::SumOfLanes(d8, zv));
    for (; gz < groups; ++gz) corr += zk[gz] * p.group_aq[size_t(gz)];
    if (SYM) corr *= v.format->centre();
    y[r0 + k] = hn::GetLane(hn::SumOfLanes(df, f[k])) + tail - corr;
  }
}

template <size_t NB, int BITS, bool ONE, bool SYM, bool CB = false>
void RowsI8(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  thread_local std::vector<float> ws, wz;
  RowRangeScales(v, r0, r1, ws, wz);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) RowsI8T<NB, BITS, 4, ONE, SYM, CB>(v, p, r, r - r0, ws.data(), wz.data(), y);
  for (; r < r1; ++r) RowsI8T<NB, BITS, 1, ONE, SYM, CB>(v, p, r, r - r0, ws.data(), wz.data(), y);
}

template <size_t NB, int BITS>
void RowsI8Flags(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  const bool one = v.geom.groups_per_row() == 1 || v.geom.group_size >= ChunkCodes<NB>(BITS);
  const bool sym = v.format->symmetric;
  if constexpr (BITS != 8) {
    if (v.format->codebook())  // always symmetric: no zero points
      return one ? RowsI8<NB, BITS, true, true, true>(v, p, r0, r1, y) : RowsI8<NB, BITS, false, true, true>(v, p, r0, r1, y);
  }
  if (one) sym ? RowsI8<NB, BITS, true, true>(v, p, r0, r1, y) : RowsI8<NB, BITS, true, false>(v, p, r0, r1, y);
  else sym ? RowsI8<NB, BITS, false, true>(v, p, r0, r1, y) : RowsI8<NB, BITS, false, false>(v, p, r0, r1, y);
}

template <size_t NB>
void RowsI8Width(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  switch (v.format->bits) {
    case 8: RowsI8Flags<NB, 8>(v, p, r0, r1, y); break;
    case 4: RowsI8Flags<NB, 4>(v, p, r0, r1, y); break;
    default: RowsI8Flags<NB, 2>(v, p, r0, r1, y); break;
  }
}

void WidenCodes(const uint8_t* packed, int64_t cols, const QuantFormat& f, uint8_t* out) {
  WidenLevels(f, packed, cols, out, f.half_offset);
}

void MatvecI8Rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  if (p.chunk_bytes == 64) RowsI8Width<64>(v, p, r0, r1, y);
  else if (p.chunk_bytes == 32) RowsI8Width<32>(v, p, r0, r1, y);
  else RowsI8Width<16>(v, p, r0, r1, y);
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/packed_i8_hwy.h"

namespace arrowquant::kernels::simd {

HWY_EXPORT(I8Supported);
HWY_EXPORT(PrepareI8);
HWY_EXPORT(MatvecI8Rows);
HWY_EXPORT(WidenCodes);

bool i8_supported(const PackedView& v) { return HWY_DYNAMIC_DISPATCH(I8Supported)(v); }
void prepare_i8(const PackedView& v, const float* x, PreparedI8& p) { HWY_DYNAMIC_DISPATCH(PrepareI8)(v, x, p); }
void i8_rows(const PackedView& v, const PreparedI8& p, int64_t r0, int64_t r1, float* y) {
  HWY_DYNAMIC_DISPATCH(MatvecI8Rows)(v, p, r0, r1, y);
}
void widen_codes(const uint8_t* packed, int64_t cols, const QuantFormat& f, uint8_t* out) {
  HWY_DYNAMIC_DISPATCH(WidenCodes)(packed, cols, f, out);
}

}  // namespace arrowquant::kernels::simd
#endif
