#include "kernels/packed_i8.h"

#include <algorithm>
#include <string>
#include <vector>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
#include "format/pack.h"
#include "kernels/kernel_clock.h"
#include "kernels/lattice_i8_hwy.h"
#include "kernels/packed_i8_hwy.h"
#include "kernels/straddle_i8_hwy.h"
#include "kernels/packed_prepared.h"
#include "util/thread_pool.h"

namespace arrowquant::kernels {

bool matvec_i8_supported(const PackedView& v) { return simd::i8_supported(v); }

void matvec_i8(const PackedView& v, const float* x, float* y, int threads) {
  if (!matvec_i8_supported(v))
    throw ValueError(std::string("no int8-activation kernel for ") + std::string(v.format->name) + " with group " +
                     std::to_string(v.geom.group_size) +
                     " (" + kI8Geometries + ")");
  ScopedKernelTimer timer(kernel_clock_slots().fused_ns);
  // Reused across calls (decode calls this for every layer); the workers share it by reference.
  thread_local PreparedI8 reused;
  PreparedI8& p = reused;
  simd::prepare_i8(v, x, p);
  parallel_for(v.geom.rows, threads, [&](int64_t r0, int64_t r1) { simd::i8_rows(v, p, r0, r1, y); });
}

namespace {

// Codes that straddle bytes are widened onto int8_asym, whose kernel multiplies u8 codes and takes
// the zero point out once per group: affine codes and zero points as they are; symmetric codes as
// they are with zero point 2^(bits-1); half-offset codes doubled with zero point 2^bits - 1, and the
// products halved (s·(c - (2^bits-1)/2) = s·(2c - (2^bits-1))/2, exact). The zero points stay as
// small as the format's own, so the epilogue cancels no more than the native kernels' do. Codebook
// codes become their byte levels, zero point 128.
PackedView as_int8_asym(const PackedView& v) {
  PackedView b = v;
  b.format = &format_of(FormatId::Int8Asym);
  return b;
}

// Rows widened per step: 16 rows of 1536 codes (24 kB) stay in L1/L2 between unpacking and the product.
constexpr int64_t kWidenRows = 16;

}  // namespace

bool matvec_i8_widened_supported(const PackedView& v) {
  return v.format->widened() && simd::i8_supported(as_int8_asym(v));
}

void matvec_i8_widened(const PackedView& v, const float* x, float* y, int threads) {
  if (!matvec_i8_widened_supported(v))
    throw ValueError(std::string("no int8-activation kernel for ") + std::string(v.format->name) + " with group " +
                     std::to_string(v.geom.group_size) + " (" + kI8Geometries + ")");
  ScopedKernelTimer timer(kernel_clock_slots().fused_ns);
  const PackedView bytes = as_int8_asym(v);
  thread_local PreparedI8 reused;
  PreparedI8& p = reused;
  simd::prepare_i8(bytes, x, p);
  const QuantFormat& f = *v.format;
  const int64_t cols = v.geom.cols, groups = v.geom.groups_per_row();
  const size_t row_bytes = packed_row_bytes(cols, f.bits);
  parallel_for(v.geom.rows, threads, [&](int64_t r0, int64_t r1) {
    thread_local std::vector<uint8_t> codes, zeros;
    for (int64_t t0 = r0; t0 < r1; t0 += kWidenRows) {
      const int64_t t1 = std::min(r1, t0 + kWidenRows), n = t1 - t0;
      // A view of just these rows: widened codes, and zero points and scales where the rows' are
      // (or rewritten as above).
      PackedView t = bytes;
      t.geom.rows = n;
      codes.resize(size_t(n * cols));
      for (int64_t r = t0; r < t1; ++r) {
        uint8_t* out = codes.data() + (r - t0) * cols;
        simd::widen_codes(v.codes + size_t(r) * row_bytes, cols, f, out);
      }
      t.codes = codes.data();
      t.scales = v.scales + size_t(t0 * groups) * 2;
      if (f.symmetric) {
        zeros.assign(size_t(n * groups), uint8_t(f.half_offset ? f.max_code() : f.centre()));
        t.zero_points = zeros.data();
      } else {
        t.zero_points = v.zero_points + size_t(t0 * groups);
      }
      simd::i8_rows(t, p, 0, n, y + t0);
      if (f.half_offset)
        for (int64_t r = t0; r < t1; ++r) y[r] *= 0.5f;
    }
  });
}

namespace {

// The kernels that decode in registers share one policy: x quantised per block as every int8 kernel
// does it (on v read as int8_asym: Σq per group too), put into the kernel's own order, rows in parallel.
struct InRegisterKernel {
  bool (*supported)(const PackedView&);
  void (*prepare)(const PackedView&, PreparedI8&);
  void (*rows)(const PackedView&, const PreparedI8&, int64_t, int64_t, float*);
  const char* requirements;
};

void run_in_registers(const InRegisterKernel& k, const PackedView& v, const float* x, float* y, int threads) {
  if (!k.supported(v))
    throw ValueError(std::string("no in-register int8-activation kernel for ") + std::string(v.format->name) +
                     " with group " + std::to_string(v.geom.group_size) + " on this CPU (" + k.requirements + ")");
  ScopedKernelTimer timer(kernel_clock_slots().fused_ns);
  thread_local PreparedI8 reused;
  PreparedI8& p = reused;
  simd::prepare_i8(as_int8_asym(v), x, p);
  k.prepare(v, p);
  parallel_for(v.geom.rows, threads, [&](int64_t r0, int64_t r1) { k.rows(v, p, r0, r1, y); });
}

constexpr InRegisterKernel kStraddle{simd::straddle_i8_supported, simd::prepare_straddle_i8, simd::straddle_i8_rows,
                                     kStraddleI8Requirements};
constexpr InRegisterKernel kLattice{simd::lattice_i8_supported, simd::prepare_lattice_i8, simd::lattice_i8_rows,
                                    kLatticeI8Requirements};

}  // namespace

bool matvec_i8_straddle_supported(const PackedView& v) { return simd::straddle_i8_supported(v); }
void matvec_i8_straddle(const PackedView& v, const float* x, float* y, int threads) {
  run_in_registers(kStraddle, v, x, y, threads);
}

bool matvec_i8_lattice_supported(const PackedView& v) { return simd::lattice_i8_supported(v); }
void matvec_i8_lattice(const PackedView& v, const float* x, float* y, int threads) {
  run_in_registers(kLattice, v, x, y, threads);
}

}  // namespace arrowquant::kernels
