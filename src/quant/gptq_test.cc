// GPTQ against the straightforward NumPy reference (tests/goldens/gptq, made by
// scripts/goldens/make_gptq_golden.py), and GPTQ against round-to-nearest on real layers and real
// calibration text.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"
#include "quant/gptq.h"
#include "quant/hessian.h"
#include "format/pack.h"
#include "io/safetensors_reader.h"
#include "pipeline/calibrated_quantizer.h"
#include "pipeline/model_session.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

template <class T>
std::vector<T> tensor_of(const SafetensorsFile& f, const std::string& name) {
  const TensorView* t = f.find(name);
  EXPECT_NE(t, nullptr) << name;
  std::vector<T> v(t->nbytes / sizeof(T));
  std::memcpy(v.data(), t->data, t->nbytes);
  return v;
}

Hessian hessian_from(const std::vector<double>& h, int64_t dim) {
  Hessian H;
  H.dim = dim;
  H.h = h;  // full symmetric; GPTQ reads the upper triangle
  return H;
}

}  // namespace

TEST(Gptq, EqualsTheNumpyReference) {
  const std::string dir = aqtest::source_dir() + "/tests/goldens/gptq/";
  SafetensorsFile f(dir + "cases.safetensors");
  auto spec = nlohmann::json::parse(aqtest::slurp(dir + "cases.json"));
  for (const auto& c : spec["cases"]) {
    const std::string n = c["name"];
    const int64_t rows = c["rows"], cols = c["cols"], group = c["group"];
    const QuantFormat* fmt = find_quant_format(c["bits"].get<int>(), c["sym"].get<bool>());
    FloatTensor w{n, {rows, cols}, tensor_of<float>(f, n + ".W")};
    Hessian h = hessian_from(tensor_of<double>(f, n + ".H"), cols);
    const auto want_codes = tensor_of<uint8_t>(f, n + ".codes");
    const auto want_scales = tensor_of<uint16_t>(f, n + ".scales");
    const auto want_zeros = tensor_of<uint8_t>(f, n + ".zeros");
    // Block sizes that split the columns into lazy batches, and one that does not.
    for (int64_t block : {16, 128}) {
      GptqOptions o;
      o.format = fmt;
      o.group_size = group;
      o.clip = ClipMethod::MinMax;
      o.damp = spec["damp"];
      o.act_order = c["act_order"];
      o.block_size = block;
      GptqResult r = quantize_gptq(w, h, o);
      EXPECT_EQ(r.dead_columns, 1) << n;
      std::vector<uint8_t> codes(size_t(rows * cols));
      const size_t rb = packed_row_bytes(cols, fmt->bits);
      for (int64_t i = 0; i < rows; ++i)
        unpack_row(r.tensor.codes.data() + size_t(i) * rb, cols, fmt->bits, codes.data() + i * cols);
      // The reference updates every later column at once, the C++ code lazily by blocks: float
      // rounding may flip a code sitting on a rounding boundary, and nothing more.
      size_t same = 0;
      for (size_t i = 0; i < codes.size(); ++i) same += codes[i] == want_codes[i];
      EXPECT_GE(double(same) / double(codes.size()), 0.995) << n << " block " << block;
      std::vector<uint16_t> scales(r.tensor.scales.size() / 2);
      std::memcpy(scales.data(), r.tensor.scales.data(), r.tensor.scales.size());
      size_t same_scales = 0;
      for (size_t i = 0; i < scales.size(); ++i) same_scales += scales[i] == want_scales[i];
      EXPECT_GE(double(same_scales) / double(scales.size()), 0.98) << n << " block " << block;
      if (!fmt->symmetric) {
        size_t same_zeros = 0;
        for (size_t i = 0; i < want_zeros.size(); ++i) same_zeros += r.tensor.zero_points[i] == want_zeros[i];
        EXPECT_GE(double(same_zeros) / double(want_zeros.size()), 0.98) << n;
      }
      // And the result is as good as the reference's on the layer-output objective.
      QuantizedTensor ref = r.tensor;
      for (int64_t i = 0; i < rows; ++i) pack_row(want_codes.data() + i * cols, cols, fmt->bits, ref.codes.data() + size_t(i) * rb);
      std::memcpy(ref.scales.data(), want_scales.data(), ref.scales.size());
      if (!fmt->symmetric) ref.zero_points = want_zeros;
      std::vector<float> a(size_t(rows * cols)), b(a.size());
      dequantize_rows(view_of(r.tensor), 0, rows, a.data());
      dequantize_rows(view_of(ref), 0, rows, b.data());
      const double ours = output_error(w.values.data(), a.data(), rows, cols, h).rel_mse;
      const double theirs = output_error(w.values.data(), b.data(), rows, cols, h).rel_mse;
      EXPECT_NEAR(ours, theirs, 0.02 * theirs + 1e-7) << n << " block " << block;
    }
  }
}

TEST(Gptq, SameResultWhateverTheThreadCount) {
  auto w = aqtest::random_floats(70 * 96, 3, 0.05f);
  auto x = aqtest::random_floats(300 * 96, 4);
  Hessian h;
  h.dim = 96;
  h.add(x.data(), 300);
  h.flush();
  GptqOptions o;
  o.format = find_quant_format(3, false);
  o.group_size = 32;
  o.threads = 1;
  FloatTensor t{"w", {70, 96}, w};
  QuantizedTensor one = quantize_gptq(t, h, o).tensor;
  o.threads = 2;
  QuantizedTensor two = quantize_gptq(t, h, o).tensor;
  EXPECT_EQ(one.codes, two.codes);
  EXPECT_EQ(one.scales, two.scales);
}

TEST(Gptq, RefusesBadInput) {
  Hessian h;
  h.dim = 8;
  auto x = aqtest::random_floats(16 * 8, 1);
  h.add(x.data(), 16);
  GptqOptions o;
  o.format = find_quant_format(4, false);
  FloatTensor t{"w", {4, 8}, aqtest::random_floats(32, 2)};
  EXPECT_THROW(quantize_gptq(t, h, o), Error);  // Hessian not flushed
  h.flush();
  FloatTensor wide{"w", {4, 9}, aqtest::random_floats(36, 2)};
  EXPECT_THROW(quantize_gptq(wide, h, o), ValueError);
  t.values[3] = NAN;
  EXPECT_THROW(quantize_gptq(t, h, o), ValueError);
}

// On the calibration data itself, GPTQ's layer-output error is never above round-to-nearest's at
// the same format: every Linear of real models, in every format of 2, 3 and 4 bits (affine,
// symmetric, half-offset, codebooks).
TEST(Gptq, NeverWorseThanRoundToNearestOnCalibrationData) {
  struct Case {
    std::string model, text;
    int64_t samples, seq_len;
  };
  const std::vector<Case> cases = {
      {aqtest::minilm_dir(), aqtest::source_dir() + "/../shared/data/wikitext2/wiki.test.raw", 24, 64},
      {aqtest::stories_dir() + "/stories260K.bin", aqtest::source_dir() + "/tests/goldens/stories260k/calibration.txt", 8, 128}};
  for (const auto& c : cases) {
    ModelSession session(c.model);
    QuantConfig cfg;
    cfg.calibration = c.text;
    cfg.samples = c.samples;
    cfg.seq_len = c.seq_len;
    cfg.threads = 2;
    const auto& seqs = session.calibration_sequences(cfg);
    int checked = 0;
    collect_float_stats(session.calibration_model(2), seqs, [&](int64_t b, const std::vector<Linear*>& lin, const std::vector<const InputStats*>& st) {
      if (b > 0) return;  // the first block of each model keeps the test short
      for (size_t i = 0; i < lin.size(); ++i) {
        FloatTensor w{lin[i]->name, {lin[i]->out, lin[i]->in}, lin[i]->float_weight()};
        // In the model's own input space and in a rotated one (the Hessian rotated alike).
        for (const InputRotation rot : {InputRotation{}, hadamard_rotation(w.shape[1], 1)})
          for (const QuantFormat& f : quant_formats()) {
            if (f.bits > 4 || !geometry_problem(f, w.shape[1], 32).empty()) continue;  // lattice: whole vectors only
            const QuantFormat* fmt = &f;
            QuantizedTensor rtn = quantize_rtn(w, {fmt, 32, ClipMethod::Mse, 2, rot});
            GptqOptions o;
            o.format = fmt;
            o.group_size = 32;
            o.rotation = rot;
            QuantizedTensor g = quantize_gptq(w, st[i]->hessian, o).tensor;
            EXPECT_EQ(g.rotation, rot);
            const std::vector<float> a = dequantize(rtn), bq = dequantize(g);  // rotation undone
            const double e_rtn = output_error(w.values.data(), a.data(), w.shape[0], w.shape[1], st[i]->hessian).rel_mse;
            const double e_gptq = output_error(w.values.data(), bq.data(), w.shape[0], w.shape[1], st[i]->hessian).rel_mse;
            EXPECT_LE(e_gptq, e_rtn) << lin[i]->name << " " << f.name << " rotation " << describe(rot);
            ++checked;
          }
      }
    }, nullptr);
    EXPECT_GE(checked, 6 * 13 * 2) << c.model;  // 6 or 7 Linears x 13 formats x 2 input spaces
  }
}
