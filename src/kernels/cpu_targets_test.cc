// The SIMD targets compiled in and the one dispatch uses are reported.
#include "kernels/cpu_targets.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace arrowquant;

TEST(CpuTargets, TargetsAreReported) {
  EXPECT_FALSE(kernels::compiled_targets().empty());
  EXPECT_FALSE(kernels::active_target().empty());
  std::string all;
  for (const auto& t : kernels::compiled_targets()) all += t + " ";
  printf("targets compiled in and supported here: %s(active: %s)\n", all.c_str(), kernels::active_target().c_str());
}

// The probe answers without taking the process down, and gives a reason whenever it says no.
TEST(CpuTargets, AmxProbeAnswersWithAReason) {
  const auto& amx = kernels::amx_int8_status();
  if (amx.usable) {
    EXPECT_TRUE(amx.reason.empty());
  } else {
    EXPECT_FALSE(amx.reason.empty());
  }
  EXPECT_EQ(&amx, &kernels::amx_int8_status());  // probed once
  printf("AMX-INT8: %s\n", amx.usable ? "usable" : amx.reason.c_str());
}
