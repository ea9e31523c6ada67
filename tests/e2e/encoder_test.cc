// The BERT encoder end to end on the real all-MiniLM-L6-v2: goldens from sentence-transformers,
// every stored format through the same engine, batching, validation, and bad models.
#include <cmath>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "io/safetensors_writer.h"
#include "arrowquant/tensor_source.h"
#include "util/files.h"
#include "arrowquant/validate.h"
#include "test_util.h"
#include "eval/sts.h"
#include "eval/statistics.h"
#include "io/json_file.h"

using namespace arrowquant;
using aqtest::run_cli;
namespace fs = std::filesystem;

namespace {

struct Golden {
  std::vector<std::string> texts;
  std::vector<std::vector<float>> embeddings;
};

const Golden& golden() {
  static Golden g = [] {
    Golden g;
    auto j = read_json_file(aqtest::source_dir() + "/tests/goldens/minilm/encoder_goldens.json");
    for (const auto& s : j["sentences"]) {
      g.texts.push_back(s["text"].get<std::string>());
      g.embeddings.push_back(s["embedding"].get<std::vector<float>>());
    }
    return g;
  }();
  return g;
}

double cos(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

// Minimum and mean cosine of an engine's embeddings of the golden sentences against the goldens.
std::pair<double, double> golden_cosine(const ArrowEngine& e) {
  Embeddings out = e.encode(golden().texts);
  double mn = 1, sum = 0;
  for (size_t i = 0; i < golden().texts.size(); ++i) {
    double c = cos(out.row(int64_t(i)), golden().embeddings[i].data(), out.dim);
    mn = std::min(mn, c);
    sum += c;
  }
  return {mn, sum / double(golden().texts.size())};
}

// Quantised copies of MiniLM, each made the first time a test asks for it (ctest runs every test
// in its own process, so a suite-wide set-up would quantise everything for each test).
class EncoderFormats : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { dir_.reset(); }
  static std::vector<std::pair<std::string, std::string>> formats() {
    return {{"float", "--pin '*=float'"},
            {"int8_asym", "--bits 8 --group-size 128"},
            {"int8_sym", "--bits 8 --group-size 0 --sym"},
            {"int4_asym", "--bits 4 --group-size 64"},
            {"int4_sym", "--bits 4 --group-size 32 --sym"},
            {"int3_asym", "--bits 3 --group-size 128"},
            {"int3_sym", "--bits 3 --group-size 64 --sym --embedding-bits 4"},
            {"int2_asym", "--bits 2 --group-size 128 --embedding-bits 4"},
            {"int2_sym", "--bits 2 --group-size 32 --sym"}};
  }
  static std::string path(const std::string& name) {
    if (!dir_) dir_ = std::make_unique<aqtest::TempDir>();
    std::string out = *dir_ / name;
    if (!fs::exists(out)) {
      std::string flags;
      for (const auto& [n, f] : formats())
        if (n == name) flags = f;
      EXPECT_FALSE(flags.empty()) << name;
      auto r = run_cli("quantize " + aqtest::minilm_dir() + " -o " + out + " -q " + flags);
      EXPECT_EQ(r.exit_code, 0) << r.output;
    }
    return out;
  }
  static std::unique_ptr<aqtest::TempDir> dir_;
};
std::unique_ptr<aqtest::TempDir> EncoderFormats::dir_;

}  // namespace

TEST(Encoder, Fp32MatchesSentenceTransformers) {
  ArrowEngine e(aqtest::minilm_dir());
  EXPECT_EQ(e.weights_kind(), "safetensors");
  EXPECT_EQ(e.max_length(), 256u);
  EXPECT_EQ(e.embedding_dim(), 384);
  EXPECT_EQ(e.pooling(), "mean + L2 normalise");
  auto [mn, mean] = golden_cosine(e);
  EXPECT_GE(mn, 0.9999);
  // Goldens include the empty string, 150-character words and texts past 256 tokens.
  Embeddings out = e.encode({""});
  double n2 = 0;
  for (float v : out.values) n2 += double(v) * v;
  EXPECT_NEAR(n2, 1.0, 1e-5);
}

TEST(Encoder, BatchingAndPaddingDoNotChangeResults) {
  ArrowEngine e(aqtest::minilm_dir());
  const auto& texts = golden().texts;
  EncodeOptions one, many;
  one.batch_size = 1;
  many.batch_size = 32;
  Embeddings a = e.encode(texts, one), b = e.encode(texts, many);
  ASSERT_EQ(a.values.size(), b.values.size());
  double max_diff = 0;
  for (size_t i = 0; i < a.values.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(a.values[i] - b.values[i])));
  EXPECT_LT(max_diff, 2e-6);
  // A short sentence padded to the length of a long one gives its unpadded embedding.
  auto ids = e.tokenize({"A short one.", texts.back(), golden().texts[46]});
  EncodedBatch alone = e.encode_ids({ids[0]});
  EncodedBatch padded = e.encode_ids(ids);
  ASSERT_GT(padded.seq_len, alone.seq_len);
  EXPECT_GE(cos(alone.embeddings.row(0), padded.embeddings.row(0), alone.embeddings.dim), 1 - 1e-6);
  int progress_calls = 0;
  many.progress = [&](size_t done, size_t total) { ++progress_calls; EXPECT_LE(done, total); };
  e.encode(texts, many);
  EXPECT_EQ(progress_calls, 2);  // 50 sentences in batches of 32
}

TEST_F(EncoderFormats, EveryFormatRunsThroughTheSameEngine) {
  ArrowEngine original(aqtest::minilm_dir());
  Embeddings ref = original.encode(golden().texts);
  for (const auto& [name, flags] : formats()) {
    ArrowEngine q(path(name));
    EXPECT_EQ(q.weights_kind(), "parquet-v2") << name;
    Embeddings out = q.encode(golden().texts);
    double mn = 1;
    for (int64_t i = 0; i < out.rows; ++i) mn = std::min(mn, cos(out.row(i), ref.row(i), out.dim));
    // Floors well under the measured values (docs/BENCHMARKS.md); they catch a broken decode path.
    double floor = name == "float" ? 1.0 - 1e-6 : name.starts_with("int8") ? 0.99 : name.starts_with("int4") ? 0.8
                 : name.starts_with("int3") ? 0.6 : 0.05;
    EXPECT_GE(mn, floor) << name;
    if (name == "float") { EXPECT_EQ(out.values, ref.values); }
  }
}

// A V2 model dequantised at load gives bit for bit what its own dequantised safetensors give: the
// engine has no format-specific arithmetic. With the fused packed kernels and f32 activations the same
// products are summed in another order: equal within float rounding. The default (packed, int8
// activations: batches through the int8 GEMM) adds activation rounding only.
TEST_F(EncoderFormats, QuantisedEqualsItsDequantisedSafetensors) {
  for (const char* name : {"int3_sym", "int2_asym"}) {
    aqtest::TempDir d;
    auto r = run_cli("dequantize " + path(name) + " -o " + (d / "model.safetensors"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const auto& e : fs::directory_iterator(path(name)))
      if (e.path().extension() != ".parquet" && e.path().filename() != "metadata.json")
        fs::copy(e.path(), d.path() / e.path().filename(), fs::copy_options::recursive);
    EngineOptions at_load;
    at_load.weights = EngineOptions::Weights::Float;
    EngineOptions packed_f32;
    packed_f32.weights = EngineOptions::Weights::Packed;
    packed_f32.activations = EngineOptions::Activations::F32;
    ArrowEngine q(path(name), at_load), f(d.path().string()), fused(path(name), packed_f32), by_default(path(name));
    EXPECT_EQ(f.weights_kind(), "safetensors");
    EXPECT_TRUE(by_default.packed_weights());
    Embeddings ref = f.encode(golden().texts);
    EXPECT_EQ(q.encode(golden().texts).values, ref.values) << name;
    Embeddings fe = fused.encode(golden().texts), de = by_default.encode(golden().texts);
    for (int64_t i = 0; i < fe.rows; ++i) {
      EXPECT_GE(cos(fe.row(i), ref.row(i), fe.dim), 1 - 1e-5) << name << " " << i;
      // int8 activations per group of at most 128 values: 0.998-0.9996 measured at int3
      EXPECT_GE(cos(de.row(i), ref.row(i), de.dim), 0.995) << name << " " << i;
    }
  }
}

TEST_F(EncoderFormats, ValidateReportsCosineLayersAndStsb) {
  std::string stsb = default_stsb_path();
  ASSERT_FALSE(stsb.empty());
  aqtest::TempDir d;
  auto r = run_cli("validate " + aqtest::minilm_dir() + " " + path("int8_asym") + " --max-pairs 40 -q --json " +
                   (d / "v.json") + " --markdown " + (d / "v.md"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("| STS-B Spearman, quantized |"), std::string::npos) << r.output;
  auto j = nlohmann::json::parse(read_text_file(d / "v.json"));
  EXPECT_EQ(j["embedding_cosine"]["sentences"], 80);
  EXPECT_GE(j["embedding_cosine"]["mean"].get<double>(), 0.999);
  EXPECT_LE(j["embedding_cosine"]["min"].get<double>(), j["embedding_cosine"]["p5"].get<double>());
  EXPECT_EQ(j["layers"].size(), 7u);
  EXPECT_EQ(j["stsb"]["pairs"], 40);
  EXPECT_GT(j["stsb"]["spearman_original"].get<double>(), 0.5);
  EXPECT_NEAR(j["stsb"]["spearman_quantized"].get<double>(), j["stsb"]["spearman_original"].get<double>(), 0.02);
  EXPECT_TRUE(fs::exists(d / "v.md"));

  // Own sentences, no STS-B; the same model against itself agrees exactly.
  std::ofstream(d / "s.txt") << "One sentence.\nAnother, longer sentence with more words in it.\n";
  r = run_cli("validate " + path("float") + " " + path("float") + " --sentences " + (d / "s.txt") +
              " --no-stsb --format json -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["embedding_cosine"]["sentences"], 2);
  EXPECT_DOUBLE_EQ(j["embedding_cosine"]["min"].get<double>(), 1.0);
  EXPECT_FALSE(j.contains("stsb"));
}

TEST(Encoder, StatisticsHelpers) {
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // Ties share ranks: scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486832980505138
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {1, 3, 2, 4}), 0.9486832980505138, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2, 5}, 50), 3.0);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4, 5}, 5), 1.2);  // numpy.percentile(.., 5)
  aqtest::TempDir d;
  std::ofstream(d / "bad.tsv") << "a\tb\tc\n";
  EXPECT_THROW(read_sts_tsv(d / "bad.tsv"), FormatError);
  std::ofstream(d / "bad2.tsv") << "g\tf\ty\ti\tnot-a-number\ts1\ts2\n";
  EXPECT_THROW(read_sts_tsv(d / "bad2.tsv"), FormatError);
}

TEST(Encoder, EncodeCliJsonAndNpy) {
  aqtest::TempDir d;
  std::ofstream(d / "in.txt") << "first line\nsecond line\n\nfourth\n";
  auto r = run_cli("encode " + aqtest::minilm_dir() + " -f " + (d / "in.txt") + " --format npy -o " + (d / "e.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string npy = read_text_file(d / "e.npy");
  ASSERT_GT(npy.size(), 128u);
  EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY");
  EXPECT_NE(npy.find("'shape': (4, 384)"), std::string::npos);
  EXPECT_EQ(npy.size() % 64, (4 * 384 * 4) % 64);
  size_t header = npy.size() - 4 * 384 * 4;
  EXPECT_EQ(header % 64, 0u);
  r = run_cli("encode " + aqtest::minilm_dir() + " --text 'Hello world' --ids -q");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["ids"][0], (std::vector<int>{101, 7592, 2088, 102}));
  EXPECT_EQ(j["embeddings"][0].size(), 384u);
  r = run_cli("encode " + aqtest::minilm_dir());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("nothing to encode"), std::string::npos) << r.output;
}

namespace {

// A copy of MiniLM's folder with `change` applied, weights linked rather than copied.
std::string broken_model(const aqtest::TempDir& d, const std::function<void(const fs::path&)>& change) {
  fs::path m = d.path() / "model";
  fs::create_directories(m);
  for (const auto& e : fs::directory_iterator(aqtest::minilm_dir()))
    if (e.is_regular_file()) fs::create_symlink(fs::canonical(e.path()), m / e.path().filename());
  change(m);
  return m.string();
}

std::string error_of(const std::string& model) {
  try {
    ArrowEngine e(model);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Encoder, BadModelsGiveClearErrors) {
  {
    aqtest::TempDir d;
    std::string m = broken_model(d, [](const fs::path& p) {
      fs::remove(p / "vocab.txt");
      fs::remove(p / "tokenizer.json");
    });
    std::string err = error_of(m);
    EXPECT_NE(err.find("no tokenizer"), std::string::npos) << err;
    EXPECT_NE(err.find(m), std::string::npos) << err;
  }
  {
    aqtest::TempDir d;
    std::string m = broken_model(d, [](const fs::path& p) {
      auto cfg = read_json_file((p / "config.json").string());
      cfg["model_type"] = "gpt_neox";
      cfg["architectures"] = {"GPTNeoXForCausalLM"};
      fs::remove(p / "config.json");
      std::ofstream(p / "config.json") << cfg.dump();
    });
    std::string err = error_of(m);
    EXPECT_NE(err.find("unsupported architecture"), std::string::npos) << err;
    EXPECT_NE(err.find("gpt_neox"), std::string::npos) << err;
  }
  {
    aqtest::TempDir d;
    std::string m = broken_model(d, [](const fs::path& p) {
      fs::remove(p / "config.json");
    });
    std::string err = error_of(m);
    EXPECT_NE(err.find("no config.json"), std::string::npos) << err;
  }
  {
    // One tensor with the wrong shape: the error names the file and the tensor.
    aqtest::TempDir d;
    std::string m = broken_model(d, [](const fs::path& p) {
      auto src = open_tensor_source(aqtest::minilm_dir());
      std::vector<std::vector<uint8_t>> bytes;
      std::vector<SafetensorsWriteItem> items;
      for (const auto& t : src->tensors()) {
        bytes.push_back(src->read_raw(t.name));
        Shape s = t.shape;
        if (t.name == "encoder.layer.2.attention.self.key.weight") s = {192, 768};
        items.push_back({t.name, t.dtype, s, nullptr});
      }
      for (size_t i = 0; i < items.size(); ++i) items[i].data = bytes[i].data();
      fs::remove(p / "model.safetensors");
      write_safetensors((p / "model.safetensors").string(), items);
    });
    std::string err = error_of(m);
    EXPECT_NE(err.find("encoder.layer.2.attention.self.key.weight"), std::string::npos) << err;
    EXPECT_NE(err.find("[192, 768]"), std::string::npos) << err;
    EXPECT_NE(err.find(m), std::string::npos) << err;
  }
  EXPECT_NE(error_of("/nonexistent/model").find("no such file"), std::string::npos);
}
