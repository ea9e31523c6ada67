#include "io/gguf_source.h"

#include <map>
#include <mutex>

#include "arrowquant/error.h"
#include "io/ggml_types.h"
#include "format/pack.h"
#include "io/gguf_format.h"
#include "io/gguf_reader.h"
#include "io/json_file.h"

namespace arrowquant {

namespace {

DType dtype_of(uint32_t type) {
  if (type == ggml::kF16) return DType::F16;
  if (type == ggml::kBF16) return DType::BF16;
  return DType::F32;  // F32, and every quantised type once dequantised
}

class GgufSource : public TensorSource {
 public:
  explicit GgufSource(const std::string& path) : g_(path) {
    const std::string where = path;
    const std::string arch_name = g_.has("general.architecture") && g_.at("general.architecture").is_string()
                                      ? g_.at("general.architecture").get<std::string>()
                                      : "";
    arch_ = gguf::architecture_by_gguf(arch_name);
    if (!arch_)
      throw FormatError(where + ": GGUF architecture '" + arch_name + "' is not supported (llama, qwen2)");
    // The architecture's keys without their prefix, read with the types they must have.
    nlohmann::json m = nlohmann::json::object();
    const std::string prefix = arch_name + ".";
    for (const auto& [k, v] : g_.metadata())
      if (k.rfind(prefix, 0) == 0) m[k.substr(prefix.size())] = v;
    auto num = [&](const char* key, double def) { return json_number(m, key, def, where + ": " + prefix + key); };
    auto pos = [&](const char* key) { return json_positive_int(m, key, where + ": " + prefix); };
    const int64_t heads = pos("attention.head_count");
    const int64_t kv_heads = m.contains("attention.head_count_kv") ? pos("attention.head_count_kv") : heads;
    const int64_t hidden = pos("embedding_length");
    const int64_t head_dim = m.contains("attention.key_length") ? pos("attention.key_length") : hidden / heads;
    const GgufTensor* embed = g_.find("token_embd.weight");
    if (!embed || embed->dims.size() != 2) throw FormatError(where + ": no 2-D token_embd.weight tensor");
    int64_t vocab = embed->dims[1];
    if (m.contains("vocab_size") && pos("vocab_size") != vocab)
      throw FormatError(where + ": " + prefix + "vocab_size says " + std::to_string(pos("vocab_size")) +
                        " tokens, token_embd.weight holds " + std::to_string(vocab));
    config_ = {{"architectures", {arch_->hf_class}},
               {"model_type", arch_->model_type},
               {"hidden_size", hidden},
               {"intermediate_size", pos("feed_forward_length")},
               {"num_hidden_layers", pos("block_count")},
               {"num_attention_heads", heads},
               {"num_key_value_heads", kv_heads},
               {"head_dim", head_dim},
               {"vocab_size", vocab},
               {"max_position_embeddings", pos("context_length")},
               {"rms_norm_eps", num("attention.layer_norm_rms_epsilon", 1e-6)},
               {"rope_theta", num("rope.freq_base", 10000.0)},
               {"hidden_act", "silu"},
               {"tie_word_embeddings", g_.find("output.weight") == nullptr},
               {"arrowquant_source_format", "gguf"}};
    const std::string scaling = json_string(m, "rope.scaling.type", "none", where);
    if (scaling != "none") config_["rope_scaling"] = {{"rope_type", scaling}};  // refused by the decoder, by name
    if (g_.find("rope_freqs.weight"))
      throw FormatError(where + ": rope_freqs.weight (Llama 3.1 rotary scaling) is not supported");
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
      if (g_.has(key) && g_.at(key).is_number_integer())
        config_[std::string(key).find("bos") != std::string::npos ? "bos_token_id" : "eos_token_id"] = g_.at(key);
    for (const auto& t : g_.tensors()) {
      const ggml::TypeInfo* type = ggml::type_info(t.type);
      if (!type->to_f32)
        throw FormatError(where + ": tensor " + t.name + " is stored as " + std::string(type->name) +
                          ", which is not supported (supported: " + ggml::supported_type_names() + ")");
      SourceTensorInfo info;
      info.name = gguf::hf_name(t.name);
      info.dtype = dtype_of(t.type);
      for (auto d = t.dims.rbegin(); d != t.dims.rend(); ++d) info.shape.push_back(*d);
      info.stored_type = std::string(type->name);
      info.stored_bytes = t.nbytes;
      // Q4_0, Q5_0 and Q8_0 matrices are our symmetric grids in groups of 32, Q2_0C our half-offset
      // 2-bit grid in groups of 512: offered packed.
      if (type->to_codes && info.shape.size() == 2 && info.shape[1] % type->block == 0)
        info.format = find_quant_format(type->code_bits, true, type->half_grid);
      if (!by_name_.emplace(info.name, &t).second) throw FormatError(where + ": tensor " + info.name + " appears twice");
      infos_.push_back(std::move(info));
    }
  }

  std::string kind() const override { return "gguf"; }
  const std::vector<SourceTensorInfo>& tensors() const override { return infos_; }
  nlohmann::json model_config() const override { return config_; }

  FloatTensor read_f32(const std::string& name) const override {
    const GgufTensor& t = tensor(name);
    FloatTensor out{name, {}, std::vector<float>(size_t(t.elements()))};
    for (auto d = t.dims.rbegin(); d != t.dims.rend(); ++d) out.shape.push_back(*d);
    ggml::type_info(t.type)->to_f32(t.data, out.values.data(), t.elements());
    if (arch_->permuted_qk) {
      const bool q = gguf::is_query(name), k = gguf::is_key(name);
      if (q || k) unpermute_rows(out, q ? config_["num_attention_heads"].get<int64_t>()
                                        : config_["num_key_value_heads"].get<int64_t>());
    }
    return out;
  }

  // Blocks of a Q4_0/Q5_0/Q8_0/Q2_0C matrix as our rows (llama.cpp's Q/K row order undone), made on first use.
  std::vector<PackedRows> read_packed(const std::string& name) const override {
    const GgufTensor& t = tensor(name);
    const ggml::TypeInfo* type = ggml::type_info(t.type);
    if (!type->to_codes || t.dims.size() != 2 || t.dims[0] % type->block) return {};
    std::lock_guard<std::mutex> lock(packed_mu_);
    auto& p = packed_[name];
    if (!p.codes.empty()) return {PackedRows{0, p.view}};
    const int64_t cols = t.dims[0], rows = t.dims[1], blocks = cols / type->block;
    const QuantFormat* f = find_quant_format(type->code_bits, true, type->half_grid);
    const size_t row_bytes = packed_row_bytes(cols, f->bits);
    std::vector<int64_t> order(static_cast<size_t>(rows));  // stored row of each of our rows
    for (int64_t r = 0; r < rows; ++r) order[size_t(r)] = r;
    if (arch_->permuted_qk && (gguf::is_query(name) || gguf::is_key(name)))
      order = unpermuted_order(rows, gguf::is_query(name) ? config_["num_attention_heads"].get<int64_t>()
                                                          : config_["num_key_value_heads"].get<int64_t>(), name);
    p.codes.resize(size_t(rows) * row_bytes);
    p.scales.resize(size_t(rows * blocks) * 2);
    std::vector<uint8_t> codes(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* src = t.data + size_t(order[size_t(r)] * blocks) * type->block_bytes;
      for (int64_t b = 0; b < blocks; ++b) {
        uint16_t d;
        type->to_codes(src + size_t(b) * type->block_bytes, codes.data() + b * type->block, &d);
        std::memcpy(&p.scales[size_t(r * blocks + b) * 2], &d, 2);
      }
      pack_row(codes.data(), cols, f->bits, &p.codes[size_t(r) * row_bytes]);
    }
    p.view = {f, {rows, cols, type->block}, p.codes.data(), p.scales.data(), nullptr};
    return {PackedRows{0, p.view}};
  }

  std::vector<uint8_t> read_raw(const std::string& name) const override {
    const GgufTensor& t = tensor(name);
    return std::vector<uint8_t>(t.data, t.data + t.nbytes);
  }

  std::vector<CompanionFile> made_companions() const override {
    if (!g_.has("tokenizer.ggml.model")) return {};
    return {{"tokenizer.gguf", g_.vocabulary_file()}};
  }

 private:
  const GgufTensor& tensor(const std::string& name) const {
    auto it = by_name_.find(name);
    if (it == by_name_.end()) throw ValueError("no tensor named " + name);
    return *it->second;
  }

  // For each row of the Hugging Face order, the stored row it comes from (the inverse of llama.cpp's
  // interleaving below).
  std::vector<int64_t> unpermuted_order(int64_t rows, int64_t heads, const std::string& name) const {
    if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0)
      throw FormatError(g_.path() + ": " + name + " has " + std::to_string(rows) + " rows, not " + std::to_string(heads) +
                        " heads of even size");
    const int64_t head = rows / heads, half = head / 2;
    std::vector<int64_t> order(static_cast<size_t>(rows));
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i)
        for (int64_t s = 0; s < 2; ++s) order[size_t(h * head + s * half + i)] = h * head + 2 * i + s;
    return order;
  }

  // llama.cpp's convert_hf_to_gguf.py reorders each head's rows from Hugging Face's two rotary halves
  // [x0..x(d/2-1) | y0..y(d/2-1)] to interleaved pairs [x0 y0 x1 y1 ...] (its rope pairs adjacent
  // values); this puts them back, so the weights are the Hugging Face model's.
  void unpermute_rows(FloatTensor& t, int64_t heads) const {
    const int64_t rows = t.shape[0], cols = t.values.size() / size_t(rows);
    if (rows % heads != 0 || (rows / heads) % 2 != 0)
      throw FormatError(g_.path() + ": " + t.name + " has " + std::to_string(rows) + " rows, not " +
                        std::to_string(heads) + " heads of even size");
    const int64_t head = rows / heads, half = head / 2;
    std::vector<float> out(t.values.size());
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i)
        for (int64_t s = 0; s < 2; ++s) {
          const float* src = t.values.data() + size_t((h * head + 2 * i + s) * cols);
          std::copy(src, src + cols, out.data() + size_t((h * head + s * half + i) * cols));
        }
    t.values = std::move(out);
  }

  GgufFile g_;
  const gguf::Architecture* arch_ = nullptr;
  nlohmann::json config_;
  std::vector<SourceTensorInfo> infos_;
  std::map<std::string, const GgufTensor*> by_name_;
  struct Packed {
    std::vector<uint8_t> codes, scales;
    PackedView view;
  };
  mutable std::mutex packed_mu_;
  mutable std::map<std::string, Packed> packed_;
};

}  // namespace

std::unique_ptr<TensorSource> open_gguf_source(const std::string& path) { return std::make_unique<GgufSource>(path); }

}  // namespace arrowquant
