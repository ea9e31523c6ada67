// GGUF models as a tensor source: the real SmolLM2 file read under Hugging Face names, and damaged
// files (truncated, tensors out of range or overlapping, unknown types, sizes that disagree,
// strings longer than the file) refused with a clear error naming the file.
#include "io/gguf_source.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "arrowquant/error.h"
#include "arrowquant/packed_tensor.h"
#include "arrowquant/quant_format.h"
#include "io/gguf_reader.h"
#include "test_util.h"

using namespace arrowquant;

namespace {

// A minimal GGUF v3 writer for damaged files: metadata strings and u32s, then tensors.
struct GgufBuilder {
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    uint64_t offset;
    size_t bytes;
  };
  std::vector<std::pair<std::string, std::string>> strings;
  std::vector<std::pair<std::string, uint32_t>> u32s;
  std::vector<Tensor> tensors;

  std::string build() const {
    std::string out = "GGUF";
    auto put = [&](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    auto str = [&](const std::string& s) { put(uint64_t(s.size())); out += s; };
    put(uint32_t(3));
    put(uint64_t(tensors.size()));
    put(uint64_t(strings.size() + u32s.size()));
    for (const auto& [k, v] : strings) str(k), put(uint32_t(8)), str(v);
    for (const auto& [k, v] : u32s) str(k), put(uint32_t(4)), put(v);
    for (const auto& t : tensors) {
      str(t.name);
      put(uint32_t(t.dims.size()));
      for (uint64_t d : t.dims) put(d);
      put(t.type);
      put(t.offset);
    }
    out.resize((out.size() + 31) / 32 * 32, '\0');
    size_t data = 0;
    for (const auto& t : tensors) data = std::max<size_t>(data, t.offset + t.bytes);
    out.append(data, '\0');
    return out;
  }
};

// A tiny llama: 2 layers, hidden 8, 2 heads, 1 KV head, vocab 16, every tensor F32.
GgufBuilder tiny_llama() {
  GgufBuilder b;
  b.strings = {{"general.architecture", "llama"}};
  b.u32s = {{"llama.block_count", 2},          {"llama.embedding_length", 8}, {"llama.feed_forward_length", 16},
            {"llama.attention.head_count", 2}, {"llama.attention.head_count_kv", 1}, {"llama.context_length", 64}};
  uint64_t off = 0;
  auto add = [&](const std::string& name, std::vector<uint64_t> dims) {
    size_t n = 1;
    for (auto d : dims) n *= d;
    b.tensors.push_back({name, dims, 0, off, n * 4});
    off += (n * 4 + 31) / 32 * 32;
  };
  add("token_embd.weight", {8, 16});
  add("output_norm.weight", {8});
  for (int l = 0; l < 2; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {8});
    add(p + "ffn_norm.weight", {8});
    add(p + "attn_q.weight", {8, 8});
    add(p + "attn_k.weight", {8, 4});
    add(p + "attn_v.weight", {8, 4});
    add(p + "attn_output.weight", {8, 8});
    add(p + "ffn_gate.weight", {8, 16});
    add(p + "ffn_up.weight", {8, 16});
    add(p + "ffn_down.weight", {16, 8});
  }
  return b;
}

std::string write(const aqtest::TempDir& d, const std::string& name, const std::string& bytes) {
  const std::string path = d / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The error open_tensor_source gives (it must be a FormatError naming the file).
std::string error_of(const std::string& path) {
  try {
    open_tensor_source(path);
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << path << " opened without an error";
  return "";
}

}  // namespace

TEST(GgufSource, TinyLlamaUnderHuggingFaceNames) {
  aqtest::TempDir d;
  GgufBuilder b = tiny_llama();
  std::string bytes = b.build();
  // Q rows 0..7 of head 0 hold 0..7: llama.cpp's order [x0 y0 x1 y1 ...] becomes [x0 x1 .. | y0 y1 ..].
  const auto& q = b.tensors[4];
  ASSERT_EQ(q.name, "blk.0.attn_q.weight");
  const size_t data = bytes.size() - [&] { size_t n = 0; for (auto& t : b.tensors) n = std::max(n, size_t(t.offset + t.bytes)); return n; }();
  for (int r = 0; r < 8; ++r) {
    const float v = float(r);
    std::memcpy(bytes.data() + data + q.offset + size_t(r) * 8 * 4, &v, 4);
  }
  auto src = open_tensor_source(write(d, "tiny.gguf", bytes));
  EXPECT_EQ(src->kind(), "gguf");
  const auto cfg = src->model_config();
  EXPECT_EQ(cfg["model_type"], "llama");
  EXPECT_EQ(cfg["num_key_value_heads"], 1);
  EXPECT_EQ(cfg["vocab_size"], 16);
  EXPECT_EQ(cfg["tie_word_embeddings"], true);
  FloatTensor qt = src->read_f32("model.layers.0.self_attn.q_proj.weight");
  ASSERT_EQ(qt.shape, (Shape{8, 8}));
  // Head 0 is rows 0..3 (head size 4): stored x0 y0 x1 y1 = 0 1 2 3 → x0 x1 y0 y1 = 0 2 1 3.
  std::vector<float> first_column;
  for (int r = 0; r < 8; ++r) first_column.push_back(qt.values[size_t(r) * 8]);
  EXPECT_EQ(first_column, (std::vector<float>{0, 2, 1, 3, 4, 6, 5, 7}));
  EXPECT_EQ(src->read_f32("model.layers.1.mlp.down_proj.weight").shape, (Shape{8, 16}));
  EXPECT_EQ(src->tensors().size(), 2u + 2 * 9);
}

TEST(GgufSource, DamagedFilesAreClearErrors) {
  aqtest::TempDir d;
  const std::string good = tiny_llama().build();
  ASSERT_NO_THROW(open_tensor_source(write(d, "good.gguf", good)));
  EXPECT_NE(error_of(write(d, "cut.gguf", good.substr(0, good.size() - 40))).find("truncated"), std::string::npos);
  EXPECT_NE(error_of(write(d, "head.gguf", good.substr(0, 60))).find("not a valid GGUF"), std::string::npos);
  EXPECT_NE(error_of(write(d, "meta.gguf", good.substr(0, 900))).find("truncated"), std::string::npos);
  {
    GgufBuilder b = tiny_llama();
    b.tensors[3].offset = 1 << 20;  // past the end of a file of the good one's size
    EXPECT_NE(error_of(write(d, "out.gguf", b.build().substr(0, good.size()))).find("outside the file"), std::string::npos);
  }
  {
    GgufBuilder b = tiny_llama();
    b.tensors[3].offset = b.tensors[2].offset;  // on top of another
    EXPECT_NE(error_of(write(d, "overlap.gguf", b.build())).find("overlap"), std::string::npos);
  }
  {
    GgufBuilder b = tiny_llama();
    b.tensors[3].offset += 4;  // not aligned
    EXPECT_NE(error_of(write(d, "align.gguf", b.build())).find("aligned"), std::string::npos);
  }
  {
    GgufBuilder b = tiny_llama();
    b.tensors[2].type = 77;  // no such ggml type
    EXPECT_NE(error_of(write(d, "type.gguf", b.build())).find("unknown ggml type 77"), std::string::npos);
    b.tensors[2].type = 0;
    b.tensors.push_back({"blk.0.extra.weight", {256}, 16, b.tensors.back().offset + 1024, 66});  // IQ2_XXS
    EXPECT_NE(error_of(write(d, "iq2.gguf", b.build())).find("IQ2_XXS, which is not supported"), std::string::npos);
  }
  {
    GgufBuilder b = tiny_llama();
    b.tensors[0].dims = {7, 16};  // Q4_0 rows of 7 cannot hold 32-value blocks
    b.tensors[0].type = 2;
    EXPECT_NE(error_of(write(d, "rows.gguf", b.build())).find("whole Q4_0 blocks"), std::string::npos);
  }
  {
    GgufBuilder b = tiny_llama();
    b.u32s.push_back({"llama.vocab_size", 99});  // disagrees with token_embd
    EXPECT_NE(error_of(write(d, "vocab.gguf", b.build())).find("vocab_size says 99"), std::string::npos);
  }
  {
    GgufBuilder b = tiny_llama();
    b.strings[0].second = "mamba";
    EXPECT_NE(error_of(write(d, "arch.gguf", b.build())).find("architecture 'mamba' is not supported"), std::string::npos);
  }
  {
    std::string bad = good;  // the first key's length (after magic, version and two counts) made huge
    const uint64_t huge = uint64_t(1) << 40;
    std::memcpy(bad.data() + 24, &huge, 8);
    EXPECT_NE(error_of(write(d, "string.gguf", bad)).find("truncated"), std::string::npos);
  }
}

// AngelSlim's Q2_0C (type 40 of llama.cpp pull request 19357) is offered packed as int2_half in
// groups of 512, scale 2d: the packed rows and read_f32 both give d·(2q − 3).
TEST(GgufSource, Q2_0cMatricesArePackedHalfOffsetTwoBit) {
  aqtest::TempDir d;
  GgufBuilder b = tiny_llama();
  const uint64_t off = b.tensors.back().offset + 1024;
  b.tensors.push_back({"blk.0.extra.weight", {1024, 3}, 40, off, 3 * 2 * 130});
  std::string bytes = b.build();
  const size_t data = bytes.size() - size_t(off + 3 * 2 * 130);
  const uint16_t halves[2] = {0x3400, 0xB800};  // 0.25, -0.5
  for (int blk = 0; blk < 6; ++blk) {
    char* block = bytes.data() + data + off + size_t(blk) * 130;
    std::memcpy(block, &halves[blk % 2], 2);
    for (int j = 0; j < 128; ++j) block[2 + j] = char(uint8_t(j * 37 + blk));
  }
  auto src = open_tensor_source(write(d, "q2c.gguf", bytes));
  const SourceTensorInfo* info = nullptr;
  for (const auto& t : src->tensors())
    if (t.stored_type == "Q2_0C") info = &t;
  ASSERT_NE(info, nullptr);
  ASSERT_NE(info->format, nullptr);
  EXPECT_EQ(info->format->id, FormatId::Int2Half);
  EXPECT_EQ(info->shape, (Shape{3, 1024}));
  const FloatTensor w = src->read_f32(info->name);
  const auto packed = src->read_packed(info->name);
  ASSERT_EQ(packed.size(), 1u);
  EXPECT_EQ(packed[0].view.geom.group_size, 512);
  std::vector<float> from_packed(w.values.size());
  dequantize_rows(packed[0].view, 0, 3, from_packed.data());
  for (int64_t i = 0; i < 3 * 1024; ++i) {
    const int blk = int(i / 512), j = int(i % 512);
    const int q = (uint8_t(j / 4 * 37 + blk) >> (2 * (j % 4))) & 3;
    const float want = float(2 * q - 3) * (blk % 2 ? -0.5f : 0.25f);
    ASSERT_EQ(w.values[size_t(i)], want) << i;
    ASSERT_EQ(from_packed[size_t(i)], want) << i;
  }
}

TEST(GgufSource, VocabularyFileKeepsTheTokenizerAlone) {
  GgufFile g(aqtest::source_dir() + "/../shared/data/tokenizers/ggml-vocab-gpt-2.gguf");
  const std::vector<uint8_t> v = g.vocabulary_file();
  GgufFile back(v.data(), v.size(), "vocabulary");
  EXPECT_EQ(back.tensors().size(), 0u);
  EXPECT_EQ(back.at("tokenizer.ggml.tokens"), g.at("tokenizer.ggml.tokens"));
  EXPECT_EQ(back.at("tokenizer.ggml.merges").size(), g.at("tokenizer.ggml.merges").size());
}

// The bundled SmolLM2-135M-Instruct (Q4_1, token embedding Q8_0), as set-up installs it.
TEST(GgufSource, SmolLM2ConfigFromItsMetadata) {
  auto src = open_tensor_source(aqtest::source_dir() + "/models/smollm2-135m");
  EXPECT_EQ(src->kind(), "gguf");
  const auto c = src->model_config();
  EXPECT_EQ(c["num_hidden_layers"], 30);
  EXPECT_EQ(c["hidden_size"], 576);
  EXPECT_EQ(c["num_attention_heads"], 9);
  EXPECT_EQ(c["num_key_value_heads"], 3);
  EXPECT_EQ(c["intermediate_size"], 1536);
  EXPECT_EQ(c["vocab_size"], 49152);
  EXPECT_EQ(c["tie_word_embeddings"], true);
  EXPECT_EQ(c["rope_theta"], 100000.0);
  EXPECT_NEAR(c["rms_norm_eps"].get<double>(), 1e-5, 1e-9);
  EXPECT_EQ(c["bos_token_id"], 1);
  EXPECT_EQ(c["eos_token_id"], 2);
  EXPECT_EQ(src->tensors().size(), 272u);
  for (const auto& t : src->tensors()) {
    if (t.name == "model.embed_tokens.weight") {
      EXPECT_EQ(t.stored_type, "Q8_0");
      EXPECT_EQ(t.shape, (Shape{49152, 576}));
    }
    if (t.name == "model.layers.29.mlp.down_proj.weight") {
      EXPECT_EQ(t.stored_type, "Q4_1");
      EXPECT_EQ(t.shape, (Shape{576, 1536}));
      EXPECT_EQ(t.stored_bytes, size_t(576 * 1536 / 32 * 20));
    }
  }
  const auto made = src->made_companions();
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].name, "tokenizer.gguf");
}
