// The kernel table: selection by format, priority and geometry; a fallback only when one is named;
// every kernel offered computes the same product.
#include "kernels/kernel_registry.h"

#include <gtest/gtest.h>

#include <cmath>

#include "arrowquant/error.h"
#include "kernels/packed_i8.h"
#include "kernels/packed_test_cases.h"

using namespace arrowquant;
using aqtest::Case;
using aqtest::make_case;

TEST(KernelRegistry, SelectsByPriorityAndNeverFallsBackSilently) {
  const auto& reg = KernelRegistry::instance();
  const QuantFormat &int4 = format_of(FormatId::Int4Asym), &int3 = format_of(FormatId::Int3Asym);
  Case g48_3 = make_case(int3, 4, 192, 48, 1);
  const PackedView v48_3 = g48_3.view(0);
  KernelRequest f32;
  EXPECT_EQ(reg.select(int4, f32).kernel->backend, Backend::Hwy);  // hwy (100) beats scalar (0); cuda unavailable
  KernelRequest scalar;
  scalar.any_backend = false;
  scalar.backend = Backend::Scalar;
  EXPECT_EQ(reg.select(int4, scalar).kernel->priority, 0);
  KernelRequest i8;
  i8.activation = Activation::Int8;
  EXPECT_EQ(reg.select(format_of(FormatId::Int8Sym), i8).kernel->activation, Activation::Int8);
  EXPECT_EQ(reg.select(format_of(FormatId::Int2Asym), i8).kernel->activation, Activation::Int8);
  // Every format of the format table has kernels, and only the ones of its own id.
  for (const auto& f : quant_formats()) {
    int n = 0;
    for (const auto& e : reg.entries()) n += e.format == &f;
    EXPECT_GE(n, 2) << f.name;
  }
  // int3 with int8 activations: its codes cut out in registers where the CPU and the groups allow
  // (the best listed when no geometry is given), else widened to bytes.
  EXPECT_EQ(reg.select(int3, i8).kernel->name, "straddle-i8");
  Case g64_3 = make_case(int3, 4, 192, 64, 1);
  const PackedView v64_3 = g64_3.view(0);
  EXPECT_EQ(reg.select(int3, i8, nullptr, &v64_3).kernel->name,
            kernels::matvec_i8_straddle_supported(v64_3) ? "straddle-i8" : "widened-i8");
  // int3 and int4 in groups of 48 have no int8 kernel for the geometry: both refuse...
  Case g48 = make_case(int4, 4, 192, 48, 1);
  const PackedView v48 = g48.view(0);
  for (const auto& [format, geometry] : {std::pair<const QuantFormat*, const PackedView*>{&int3, &v48_3},
                                         std::pair<const QuantFormat*, const PackedView*>{&int4, &v48}}) {
    try {
      reg.select(*format, i8, nullptr, geometry);
      FAIL() << "no error for " << format->name;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("--kernel-fallback"), std::string::npos) << e.what();
    }
  }
  // ...unless the caller names a fallback, and then it says it used one
  i8.has_fallback = true;
  bool used = false;
  EXPECT_EQ(reg.select(int3, i8, &used, &v48_3).kernel->activation, Activation::F32);
  EXPECT_TRUE(used);
  used = false;
  EXPECT_EQ(reg.select(int4, i8, &used, &v48).kernel->activation, Activation::F32);
  EXPECT_TRUE(used);
  KernelRequest cuda;
  cuda.any_backend = false;
  cuda.backend = Backend::Cuda;
  bool cuda_here = false;
  for (const auto& e : reg.entries()) cuda_here |= e.kernel->backend == Backend::Cuda && e.available;
  if (cuda_here) { EXPECT_EQ(reg.select(int4, cuda).kernel->backend, Backend::Cuda); }
  else { EXPECT_THROW(reg.select(int4, cuda), ValueError); }  // listed, not available here
  // Every kernel the registry offers computes the same product.
  Case c = make_case(quant_format_or_throw("int8_asym"), 9, 96, 32, 4);
  PackedView v = c.view(1);
  std::vector<float> x = aqtest::random_floats(96, 2, 1.0f), ref(9), y(9);
  kernels::matmul_f32_reference(v, x.data(), 1, ref.data());
  for (const auto& e : reg.entries()) {
    if (e.format->id != FormatId::Int8Asym || !e.available) continue;
    e.kernel->fn(v, x.data(), 1, y.data(), 9, 1);
    double err = 0, mag = 0;
    for (int i = 0; i < 9; ++i) err += std::pow(y[size_t(i)] - ref[size_t(i)], 2), mag += std::pow(ref[size_t(i)], 2);
    // f32 kernels: rounding only; int8 activations: ~1 % quantisation noise
    EXPECT_LE(std::sqrt(err / mag), e.kernel->activation == Activation::F32 ? 1e-5 : 0.03) << e.kernel->name;
  }
  auto r = aqtest::run_cli("kernels");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("CPU features"), std::string::npos);
  EXPECT_NE(r.output.find("int2_asym"), std::string::npos);
}
