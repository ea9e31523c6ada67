// Least-squares group scales: the exact solution where it has a closed form, never a row made worse,
// and GPTQ with refits never worse than plain GPTQ on the real layers' calibration data.
#include "quant/scale_refit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/input_stats.h"
#include "pipeline/model_session.h"
#include "quant/gptq.h"
#include "quant/rtn.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

// Codes and parameters of a round-to-nearest quantisation of w, unpacked.
GroupCodes rounded(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t gs, const QuantFormat& f) {
  GroupCodes q{rows, cols, gs, std::vector<uint8_t>(size_t(rows * cols)), {}};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < q.groups(); ++g) {
      const int64_t c0 = g * gs, n = std::min(gs, cols - c0);
      GroupParams p = choose_params(w.data() + r * cols + c0, nullptr, n, f, ClipMethod::MinMax);
      q.params.push_back(p);
      if (f.lattice()) {  // whole 8-weight vectors, as quantize_rtn rounds them
        lattice_group(w.data() + r * cols + c0, nullptr, n, p, q.codes.data() + r * cols + c0);
        continue;
      }
      for (int64_t i = 0; i < n; ++i) q.codes[size_t(r * cols + c0 + i)] = uint8_t(code_of(w[size_t(r * cols + c0 + i)], p, f.max_code()));
    }
  return q;
}

}  // namespace

// With H = I the rows' groups do not interact: each group's scale is Σ w·ℓ / Σ ℓ² (rounded to
// float16), for every format.
TEST(ScaleRefit, IdentityHessianGivesEachGroupsClosedForm) {
  const int64_t rows = 5, cols = 72, gs = 32;  // a ragged last group (of 8: one lattice vector)
  const auto w = aqtest::random_floats(size_t(rows * cols), 7, 0.1f);
  std::vector<float> I(size_t(cols * cols), 0.0f);
  for (int64_t i = 0; i < cols; ++i) I[size_t(i * cols + i)] = 1;
  for (const QuantFormat& f : quant_formats()) {
    if (f.bits > 4) continue;
    GroupCodes q = rounded(w, rows, cols, gs, f);
    std::vector<double> err = row_output_errors(w.data(), q, I, 1);
    const GroupCodes before = q;
    refit_group_scales(w.data(), I, 0.0, q, err, 1);
    int changed_rows = 0;
    for (int64_t r = 0; r < rows; ++r) {
      // The row's refit is kept as a whole only when it lowers the row's error: check either outcome.
      bool changed = false;
      for (int64_t g = 0; g < q.groups(); ++g) changed |= q.params[size_t(r * q.groups() + g)].scale != before.params[size_t(r * q.groups() + g)].scale;
      if (!changed) continue;
      ++changed_rows;
      for (int64_t g = 0; g < q.groups(); ++g) {
        double num = 0, den = 0;
        for (int64_t c = g * gs; c < std::min(cols, (g + 1) * gs); ++c) {
          const double l = before.params[size_t(r * q.groups() + g)].level(before.codes[size_t(r * cols + c)]);
          num += w[size_t(r * cols + c)] * l;
          den += l * l;
        }
        if (den == 0 || num <= 0) continue;
        EXPECT_EQ(q.params[size_t(r * q.groups() + g)].scale, f16_to_f32(f32_to_f16(float(num / den)))) << f.name;
      }
    }
    EXPECT_GT(changed_rows, 0) << f.name;  // min/max scales are never the least-squares ones here
  }
}

// Refitting keeps a row only where its error falls, and the errors it reports are the true ones.
TEST(ScaleRefit, NeverRaisesARowsError) {
  const int64_t rows = 40, cols = 96, gs = 32, tokens = 300;
  const auto w = aqtest::random_floats(size_t(rows * cols), 3, 0.05f);
  auto x = aqtest::random_floats(size_t(tokens * cols), 4);
  for (int64_t t = 0; t < tokens; ++t) x[size_t(t * cols + 5)] *= 8;  // an outlier channel
  Hessian h;
  h.dim = cols;
  h.add(x.data(), tokens);
  h.flush();
  const std::vector<float>& H = h.symmetric_f32();
  double total_before = 0, total_after = 0;
  for (const QuantFormat& f : quant_formats()) {
    if (f.bits > 4) continue;
    GroupCodes q = rounded(w, rows, cols, gs, f);
    std::vector<double> err = row_output_errors(w.data(), q, H, 2);
    const std::vector<double> before = err;
    refit_group_scales(w.data(), H, 0.0, q, err, 2);
    const std::vector<double> recomputed = row_output_errors(w.data(), q, H, 2);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_LE(err[size_t(r)], before[size_t(r)]) << f.name;
      EXPECT_NEAR(err[size_t(r)], recomputed[size_t(r)], 1e-6 * before[size_t(r)] + 1e-12) << f.name;
      total_before += before[size_t(r)];
      total_after += err[size_t(r)];
    }
  }
  EXPECT_LT(total_after, 0.95 * total_before);  // round-to-nearest's min/max scales leave room
}

// On the calibration data itself, GPTQ with refits is never worse than plain GPTQ, layer by layer,
// on every Linear of stories260K's first two blocks at every 2–4-bit format, and better overall.
TEST(ScaleRefit, GptqWithRefitsNeverWorseOnRealLayers) {
  ModelSession session(aqtest::stories_dir() + "/stories260K.bin");
  QuantConfig cfg;
  cfg.calibration = aqtest::source_dir() + "/tests/goldens/stories260k/calibration.txt";
  cfg.samples = 8;
  cfg.seq_len = 128;
  const auto& seqs = session.calibration_sequences(cfg);
  double plain_total = 0, refit_total = 0;
  int checked = 0;
  collect_float_stats(session.calibration_model(2), seqs, [&](int64_t b, const std::vector<Linear*>& lin, const std::vector<const InputStats*>& st) {
    if (b > 1) return;
    for (size_t i = 0; i < lin.size(); ++i) {
      FloatTensor w{lin[i]->name, {lin[i]->out, lin[i]->in}, lin[i]->float_weight()};
      for (const QuantFormat& f : quant_formats()) {
        if (f.bits > 4 || !geometry_problem(f, w.shape[1], 32).empty()) continue;  // lattice: not on 172-wide rows
        GptqOptions o;
        o.format = &f;
        o.group_size = 32;
        o.threads = 2;
        const std::vector<float> plain = dequantize(quantize_gptq(w, st[i]->hessian, o).tensor);
        o.scale_refits = 3;
        const std::vector<float> refit = dequantize(quantize_gptq(w, st[i]->hessian, o).tensor);
        const double e0 = output_error(w.values.data(), plain.data(), w.shape[0], w.shape[1], st[i]->hessian).rel_mse;
        const double e1 = output_error(w.values.data(), refit.data(), w.shape[0], w.shape[1], st[i]->hessian).rel_mse;
        EXPECT_LE(e1, e0 * (1 + 1e-5)) << lin[i]->name << " " << f.name;
        plain_total += e0;
        refit_total += e1;
        ++checked;
      }
    }
  }, nullptr);
  EXPECT_GE(checked, 2 * 7 * 13);
  EXPECT_LT(refit_total, 0.97 * plain_total);
}
