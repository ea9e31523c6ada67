// Per-target helpers shared by the packed kernels (included inside each file's HWY_NAMESPACE, once per
// SIMD target: the toggle guard is Highway's idiom for -inl headers).
#if defined(AQ_KERNELS_ROW_SCALES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AQ_KERNELS_ROW_SCALES_INL_H_
#undef AQ_KERNELS_ROW_SCALES_INL_H_
#else
#define AQ_KERNELS_ROW_SCALES_INL_H_
#endif

#include <hwy/highway.h>

#include <cstring>

#include "arrowquant/dtype.h"
#include "arrowquant/packed_tensor.h"

HWY_BEFORE_NAMESPACE();
namespace arrowquant::kernels::HWY_NAMESPACE {

// The fp16 scales of rows [r0, r1) as float32, one contiguous run (groups_per_row per row) converted
// several groups per instruction; out holds (r1 - r0) · groups_per_row values.
inline void RowScales(const PackedView& v, int64_t r0, int64_t r1, float* out) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::CappedTag<float, 8> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int64_t groups = v.geom.groups_per_row(), n = (r1 - r0) * groups, N = int64_t(hn::Lanes(df));
  const auto* src = reinterpret_cast<const hwy::float16_t*>(v.scales) + r0 * groups;
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, src + i)), df, out + i);
  // The last few one by one: a padded vector copy would stall on store forwarding, and short rows
  // (7 groups of 128 in a 896-wide model) make this tail most of the work for a single row.
  for (; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, v.scales + 2 * (r0 * groups + i), 2);
    out[i] = f16_to_f32(h);
  }
}

}  // namespace arrowquant::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // AQ_KERNELS_ROW_SCALES_INL_H_
