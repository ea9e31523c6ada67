// `arrowquant export --to compressed-tensors` on the bundled real decoder: every packed Linear,
// decoded by compressed-tensors' documented rules (codes and zero points minus 2^(bits-1), packed
// low bits first into int32 words, zero points packed down the rows), is exactly our dequantised
// weight; the config names every packed module once. (scripts/peers/check_compressed_tensors.py runs
// the real library and transformers on such a folder.)
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "arrowquant/tensor_source.h"
#include "test_util.h"

using namespace arrowquant;
using aqtest::run_cli;

namespace {

std::string smollm2_dir() { return aqtest::source_dir() + "/models/smollm2-135m"; }

// Element i of a bitstream of b-bit values in little-endian int32 words.
uint32_t bits_at(const std::vector<uint8_t>& words, int64_t i, int b) {
  uint64_t v = 0;
  const int64_t bit = i * b, byte = bit / 8;
  for (int k = 0; k < 3 && size_t(byte + k) < words.size(); ++k) v |= uint64_t(words[size_t(byte + k)]) << (8 * k);
  return uint32_t((v >> (bit % 8)) & ((1u << b) - 1));
}

}  // namespace

TEST(CompressedTensorsExport, PackedLinearsDecodeToOurWeights) {
  aqtest::TempDir d;
  auto q = run_cli("quantize " + smollm2_dir() + " -o " + (d / "q") + " --method rtn --bits 4 --group-size 64 --threads 2");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto e = run_cli("export " + (d / "q") + " -o " + (d / "ct") + " --to compressed-tensors --format json");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const auto cfg = nlohmann::json::parse(aqtest::slurp(d / "ct/config.json"));
  const auto& qc = cfg["quantization_config"];
  EXPECT_EQ(qc["format"], "pack-quantized");
  ASSERT_EQ(qc["config_groups"].size(), 1u);
  const auto& g = qc["config_groups"]["group_0"];
  EXPECT_EQ(g["weights"]["num_bits"], 4);
  EXPECT_EQ(g["weights"]["group_size"], 64);
  EXPECT_EQ(g["weights"]["symmetric"], false);
  EXPECT_EQ(g["targets"].size(), 30u * 7);
  EXPECT_NE(std::find(qc["ignore"].begin(), qc["ignore"].end(), "lm_head"), qc["ignore"].end());  // tied head

  auto ours = open_tensor_source(d / "q");
  auto ct = open_tensor_source(d / "ct/model.safetensors");
  for (const std::string p : {"model.layers.0.self_attn.k_proj", "model.layers.29.mlp.down_proj"}) {
    const FloatTensor w = ours->read_f32(p + ".weight");
    const int64_t rows = w.shape[0], cols = w.shape[1], groups = cols / 64;
    const auto packed = ct->read_raw(p + ".weight_packed");
    const auto scales = ct->read_raw(p + ".weight_scale");
    const auto zps = ct->read_raw(p + ".weight_zero_point");
    const auto shape = ct->read_raw(p + ".weight_shape");
    int64_t sh[2];
    std::memcpy(sh, shape.data(), 16);
    EXPECT_EQ(sh[0], rows);
    EXPECT_EQ(sh[1], cols);
    ASSERT_EQ(packed.size(), size_t(rows * cols / 2));
    ASSERT_EQ(zps.size(), size_t((rows * 4 + 31) / 32 * groups * 4));
    const size_t row_words = size_t(cols * 4 / 32) * 4;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const std::vector<uint8_t> row(packed.begin() + long(size_t(r) * row_words), packed.begin() + long(size_t(r + 1) * row_words));
        const int qv = int(bits_at(row, c, 4)) - 8;
        // Zero points: column g of [words, groups] holds the rows' values as one bitstream.
        const int64_t gi = c / 64, words = (rows * 4 + 31) / 32;
        std::vector<uint8_t> column(size_t(words * 4));
        for (int64_t k = 0; k < words; ++k) std::memcpy(column.data() + 4 * k, zps.data() + 4 * (k * groups + gi), 4);
        const int zp = int(bits_at(column, r, 4)) - 8;
        uint16_t h;
        std::memcpy(&h, scales.data() + 2 * (r * groups + gi), 2);
        const float value = float(qv - zp) * f16_to_f32(h);
        ASSERT_EQ(value, w.values[size_t(r * cols + c)]) << p << " [" << r << ", " << c << "]";
        if (c > 130) break;  // the first groups of every row are enough, and keep the test fast
      }
  }
}

TEST(CompressedTensorsExport, RefusesWhatItCannotWriteAndLeavesNothing) {
  aqtest::TempDir d;
  auto bert = run_cli("export " + aqtest::minilm_dir() + " -o " + (d / "ct") + " --to compressed-tensors");
  EXPECT_NE(bert.exit_code, 0);
  EXPECT_NE(bert.output.find("cannot be exported to compressed-tensors"), std::string::npos) << bert.output;
  EXPECT_TRUE(d.entries().empty());
  std::filesystem::create_directories(d / "taken");
  auto exists = run_cli("export " + smollm2_dir() + " -o " + (d / "taken") + " --to compressed-tensors");
  EXPECT_NE(exists.exit_code, 0);
  EXPECT_EQ(d.entries().size(), 1u);  // only the folder that was there
}
