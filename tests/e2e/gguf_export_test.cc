// `arrowquant export --to gguf` on the bundled real decoder: int4_sym g32 becomes Q4_0 code for
// code, and the written file, read back by our own GGUF reader (which undoes llama.cpp's Q/K row
// order and reads its vocabulary), is the same model: every tensor equal to ours, the same
// hyperparameters and the same token ids. What cannot be exported is refused, leaving nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/tensor_source.h"
#include "test_util.h"
#include "tokenizers/text_tokenizer.h"

using namespace arrowquant;
using aqtest::run_cli;

namespace {
std::string smollm2_dir() { return aqtest::source_dir() + "/models/smollm2-135m"; }
}  // namespace

TEST(GgufExport, SmolLM2ReadsBackAsTheSameModel) {
  aqtest::TempDir d;
  auto q = run_cli("quantize " + smollm2_dir() + " -o " + (d / "q") +
                   " --method rtn --bits 4 --sym --group-size 32 --embedding-bits 8 --threads 2");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto e = run_cli("export " + (d / "q") + " -o " + (d / "q.gguf") + " --to gguf --format json --json " + (d / "r.json"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const auto report = nlohmann::json::parse(aqtest::slurp(d / "r.json"));
  auto ours = open_tensor_source(d / "q");
  auto gguf = open_tensor_source(d / "q.gguf");
  ASSERT_EQ(gguf->tensors().size(), ours->tensors().size());
  int q4_exact = 0;
  for (const auto& t : report["tensors"]) {
    const std::string name = t["name"];
    if (t["source"] == "int4_sym g32") {
      EXPECT_EQ(t["type"], "Q4_0") << name;
      EXPECT_TRUE(t["exact"].get<bool>()) << name;
      q4_exact += t["exact"].get<bool>();
    }
    const FloatTensor a = ours->read_f32(name), b = gguf->read_f32(name);
    ASSERT_EQ(a.shape, b.shape) << name;
    double err = 0, norm = 0;
    for (size_t i = 0; i < a.values.size(); ++i)
      err += double(a.values[i] - b.values[i]) * (a.values[i] - b.values[i]), norm += double(a.values[i]) * a.values[i];
    if (t["exact"].get<bool>()) EXPECT_EQ(a.values, b.values) << name;
    else EXPECT_NEAR(std::sqrt(err / norm), t["rel_rmse"].get<double>(), 1e-6) << name;
  }
  EXPECT_EQ(q4_exact, 30 * 7);  // every block Linear
  const auto ca = ours->model_config(), cb = gguf->model_config();
  for (const char* k : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                        "num_key_value_heads", "vocab_size", "max_position_embeddings", "tie_word_embeddings"})
    EXPECT_EQ(ca[k], cb[k]) << k;
  EXPECT_FLOAT_EQ(ca["rope_theta"].get<float>(), cb["rope_theta"].get<float>());
  EXPECT_FLOAT_EQ(ca["rms_norm_eps"].get<float>(), cb["rms_norm_eps"].get<float>());
  // The vocabulary went along: the exported file tokenises as the folder does.
  auto t1 = run_cli("tokenize " + (d / "q") + " -p \"Exported models keep their vocabulary, café.\"");
  auto t2 = run_cli("tokenize " + (d / "q.gguf") + " -p \"Exported models keep their vocabulary, café.\"");
  ASSERT_EQ(t1.exit_code, 0) << t1.output;
  EXPECT_EQ(t1.output, t2.output);
}

TEST(GgufExport, HuggingFaceTokenizerBecomesTheGgufVocabulary) {
  // A model quantised from a Hugging Face folder: its tokenizer.json is converted (byte-level BPE,
  // llama.cpp's "llama-bpe" pre-tokenizer here); read back, the GGUF tokenises and predicts as the
  // folder does.
  aqtest::TempDir d;
  const std::string tiny = aqtest::source_dir() + "/tests/goldens/tiny/llama";
  auto q = run_cli("quantize " + tiny + " -o " + (d / "q") + " --bits 4 --sym --group-size 32 --rotation none");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  auto e = run_cli("export " + (d / "q") + " -o " + (d / "q.gguf") + " --to gguf");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EngineOptions o;
  o.weights = EngineOptions::Weights::Packed;
  o.activations = EngineOptions::Activations::F32;
  ArrowEngine ours(d / "q", o), gguf(d / "q.gguf", o);
  const std::string text = "The tower is 324 metres tall <|im_start|> about 81-storey, \"ünïcode\"\n\n  x";
  const auto ids = ours.text_tokenizer().encode(text, true);
  EXPECT_EQ(gguf.text_tokenizer().encode(text, true), ids);
  EXPECT_EQ(gguf.text_tokenizer().decode(ids), ours.text_tokenizer().decode(ids));
  EXPECT_EQ(gguf.logits(ids), ours.logits(ids));  // same codes, same order of the Q/K rows
}

TEST(GgufExport, RefusesWhatItCannotWriteAndLeavesNothing) {
  aqtest::TempDir d;
  const std::string out = d / "out.gguf";
  auto bert = run_cli("export " + aqtest::minilm_dir() + " -o " + out + " --to gguf");
  EXPECT_NE(bert.exit_code, 0);
  EXPECT_NE(bert.output.find("model_type 'bert' cannot be exported to GGUF"), std::string::npos) << bert.output;
  auto novocab = run_cli("export " + aqtest::stories_dir() + " -o " + out + " --to gguf");
  EXPECT_NE(novocab.exit_code, 0);
  EXPECT_NE(novocab.output.find("no tokenizer beside the weights (tokenizer.gguf or tokenizer.json)"), std::string::npos)
      << novocab.output;
  auto gptq = run_cli("export " + smollm2_dir() + " -o " + out + " --to gptq");  // Q4_1 Linears: nothing to pack
  EXPECT_NE(gptq.exit_code, 0);
  EXPECT_NE(gptq.output.find("no Linear of this model can be stored in GPTQ"), std::string::npos) << gptq.output;
  auto nodir = run_cli("export " + smollm2_dir() + " -o " + (d / "missing/out.gguf") + " --to gguf");
  EXPECT_NE(nodir.exit_code, 0);
  EXPECT_TRUE(d.entries().empty());  // no file, no temporary
}
