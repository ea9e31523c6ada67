// Group scales refitted to a layer's output with the codes held fixed. With every code of a row fixed,
// the row's output error on the calibration inputs, (w − ŵ)ᵀ·H·(w − ŵ) with ŵ_c = s_g·ℓ_c (ℓ the
// code's level at unit scale), is a quadratic in the row's group scales s whose minimum solves
// (LᵀHL)·s = LᵀH·w. GPTQ chooses codes for given scales, this chooses scales for given codes; GPTQ
// (gptq.h) alternates the two, keeping each row's best.
#pragma once
#include <cstdint>
#include <vector>

#include "quant/group_params.h"

namespace arrowquant {

// A matrix's codes, one byte per weight in natural column order, and each group's parameters:
// what a quantiser holds before packing.
struct GroupCodes {
  int64_t rows = 0, cols = 0, group_size = 0;
  std::vector<uint8_t> codes;       // [rows, cols]
  std::vector<GroupParams> params;  // [rows, groups()]
  int64_t groups() const { return (cols + group_size - 1) / group_size; }
};

// (w − ŵ)ᵀ·H·(w − ŵ) for each row; w [rows, cols], H [cols, cols] symmetric.
std::vector<double> row_output_errors(const float* w, const GroupCodes& q, const std::vector<float>& H, int threads);

// Each row's least-squares scales (codes and zero points fixed, H + ridge·I in place of H, rounded to
// float16 as stored), kept only where the row's error under H falls: err (from row_output_errors)
// is updated. Returns how many rows improved.
int64_t refit_group_scales(const float* w, const std::vector<float>& H, double ridge, GroupCodes& q,
                           std::vector<double>& err, int threads);

}  // namespace arrowquant
