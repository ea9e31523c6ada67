#include "arrowquant/tensor_source.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "arrowquant/error.h"
#include "io/gguf_source.h"
#include "io/json_file.h"
#include "io/safetensors_index.h"
#include "io/llama2c_reader.h"
#include "io/quantized_checkpoint.h"
#include "io/safetensors_reader.h"
#include "util/files.h"
#include "arrowquant/weight_loader.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

// Tokenizer and config files a model folder carries; copied next to the quantised weights.
const char* kCompanionNames[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                 "special_tokens_map.json", "merges.txt", "vocab.json",
                                 "generation_config.json", "modules.json", "sentence_bert_config.json",
                                 "config_sentence_transformers.json", "tokenizer.model", "tok512.bin", "tokenizer.gguf"};

std::vector<std::string> companions_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const char* n : kCompanionNames)
    if (fs::is_regular_file(dir / n, ec)) out.push_back((dir / n).string());
  if (fs::is_directory(dir / "1_Pooling", ec) && fs::is_regular_file(dir / "1_Pooling" / "config.json", ec))
    out.push_back((dir / "1_Pooling" / "config.json").string());
  return out;
}

FloatTensor view_to_f32(const TensorView& v) {
  if (!dtype_is_float(v.dtype))
    throw ValueError("tensor " + v.name + " holds " + std::string(dtype_name(v.dtype)) + ", not floats");
  FloatTensor t{v.name, v.shape, std::vector<float>(size_t(num_elements(v.shape)))};
  convert_to_f32(v.dtype, v.data, t.values.size(), t.values.data());
  return t;
}

// Shared by the safetensors and llama2.c sources: tensors are views into memory maps.
class ViewSource : public TensorSource {
 public:
  const std::vector<SourceTensorInfo>& tensors() const override { return infos_; }
  FloatTensor read_f32(const std::string& name) const override { return view_to_f32(view(name)); }
  std::vector<uint8_t> read_raw(const std::string& name) const override {
    const TensorView& v = view(name);
    return std::vector<uint8_t>(v.data, v.data + v.nbytes);
  }
  nlohmann::json model_config() const override { return config_; }
  std::vector<std::string> companion_files() const override { return companions_; }
  const TensorView* find_view(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : it->second;
  }

 protected:
  void add(const TensorView& v) {
    if (index_.count(v.name)) throw FormatError("tensor " + v.name + " appears twice");
    index_[v.name] = &v;
    infos_.push_back({v.name, v.dtype, v.shape, nullptr});
  }
  const TensorView& view(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw ValueError("no tensor named " + name);
    return *it->second;
  }
  std::vector<SourceTensorInfo> infos_;
  std::map<std::string, const TensorView*> index_;
  nlohmann::json config_ = nlohmann::json::object();
  std::vector<std::string> companions_;
};

class SafetensorsSource : public ViewSource {
 public:
  // files: one file, or the shards named by model.safetensors.index.json.
  SafetensorsSource(const std::vector<std::string>& files, const fs::path& dir, bool sharded)
      : sharded_(sharded) {
    for (const auto& f : files) {
      shards_.push_back(std::make_unique<SafetensorsFile>(f));
      for (const auto& v : shards_.back()->tensors()) add(v);
    }
    std::error_code ec;
    if (fs::is_regular_file(dir / "config.json", ec)) config_ = read_json_file((dir / "config.json").string());
    companions_ = companions_in(dir);
  }
  std::string kind() const override { return sharded_ ? "safetensors-sharded" : "safetensors"; }
  // Whether `tensor` is in the shard file `file`.
  bool holds(const std::string& tensor, const std::string& file) const {
    for (const auto& sh : shards_)
      if (sh->mapping().path() == file) return sh->find(tensor) != nullptr;
    return false;
  }

 private:
  bool sharded_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
};

class Llama2cSource : public ViewSource {
 public:
  explicit Llama2cSource(const std::string& file) : ckpt_(file) {
    for (const auto& v : ckpt_.tensors()) add(v);
    const auto& c = ckpt_.config();
    // The equivalent Hugging Face config, so that one runtime reads both.
    config_ = {{"architectures", {"LlamaForCausalLM"}},
               {"model_type", "llama"},
               {"hidden_size", c.dim},
               {"intermediate_size", c.hidden_dim},
               {"num_hidden_layers", c.n_layers},
               {"num_attention_heads", c.n_heads},
               {"num_key_value_heads", c.n_kv_heads},
               {"vocab_size", c.vocab_size},
               {"max_position_embeddings", c.seq_len},
               {"rms_norm_eps", 1e-5},
               {"rope_theta", 10000.0},
               {"tie_word_embeddings", c.shared_classifier},
               {"arrowquant_source_format", "llama2c"},
               // llama2.c rotates adjacent pairs (q[2i], q[2i+1]); HF Llama rotates halves.
               {"arrowquant_rope_layout", "interleaved"}};
    fs::path dir = fs::path(file).parent_path();
    std::error_code ec;
    if (fs::is_regular_file(dir / "tok512.bin", ec)) companions_.push_back((dir / "tok512.bin").string());
    else if (fs::is_regular_file(dir / "tokenizer.bin", ec)) companions_.push_back((dir / "tokenizer.bin").string());
  }
  std::string kind() const override { return "llama2c"; }

 private:
  Llama2cCheckpoint ckpt_;
};

class ParquetSource : public TensorSource {
 public:
  explicit ParquetSource(const std::string& path) : w_(WeightLoader::open(path)) {
    for (const auto& t : w_->tensors()) {
      infos_.push_back({t.name, t.dtype, t.shape, t.format});
      infos_.back().rotation = t.rotation;
    }
    companions_ = companions_in(fs::path(w_->path()).parent_path());
  }
  std::string kind() const override { return w_->format_version() == 1 ? "parquet-v1" : "parquet-v2"; }
  const std::vector<SourceTensorInfo>& tensors() const override { return infos_; }
  FloatTensor read_f32(const std::string& name) const override { return w_->dequantize(name); }
  std::vector<uint8_t> read_raw(const std::string& name) const override { return w_->raw_bytes(name); }
  nlohmann::json model_config() const override { return w_->model_config(); }
  std::vector<std::string> companion_files() const override { return companions_; }
  std::vector<PackedRows> read_packed(const std::string& name) const override {
    const StoredTensor& t = w_->tensor(name);
    if (!t.format) return {};
    w_->verify_checksums(t);  // the kernels read these bytes directly
    std::vector<PackedRows> out;
    for (size_t i = 0; i < t.chunks.size(); ++i) out.push_back({t.chunks[i].row_start, w_->packed(t, i)});
    return out;
  }
  std::string calibrated_activations() const override { return w_->calibrated_activations(); }
  InputRotation residual_rotation() const override { return w_->residual_rotation(); }
  TimeGroupClips time_groups() const override { return w_->time_groups(); }

 private:
  std::unique_ptr<WeightLoader> w_;
  std::vector<SourceTensorInfo> infos_;
  std::vector<std::string> companions_;
};

// A safetensors model; one quantised by another library (config.json's quantization_config) is read
// through io/quantized_checkpoint.
std::unique_ptr<TensorSource> safetensors_model(std::unique_ptr<SafetensorsSource> src, const std::string& where) {
  const SafetensorsSource* views = src.get();
  return open_quantized_checkpoint(std::move(src), [views](const std::string& n) { return views->find_view(n); }, where);
}

// Tells the format from the file's first bytes, read once.
std::unique_ptr<TensorSource> open_file(const std::string& file) {
  uint8_t head[32] = {};
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const size_t n = size_t(in.gcount());
  if (n >= 4 && std::memcmp(head, "PAR1", 4) == 0) return std::make_unique<ParquetSource>(file);
  if (n >= 9 && head[8] == '{')  // safetensors: an 8-byte header length, then the JSON header
    return safetensors_model(
        std::make_unique<SafetensorsSource>(std::vector<std::string>{file}, fs::path(file).parent_path(), false), file);
  if (n >= 4 && std::memcmp(head, "GGUF", 4) == 0) return open_gguf_source(file);
  if (Llama2cCheckpoint::looks_like(head, n)) return std::make_unique<Llama2cSource>(file);
  throw FormatError(file + ": unknown model format (expected safetensors, GGUF, a llama2.c checkpoint or Parquet)");
}

// A diffusers pipeline folder (model_index.json, transformer/, scheduler/): the transformer's weights
// and config, with the scheduler's config and the index carried along as companions (a quantised
// copy holds them beside its config.json).
class DiffusersPipelineSource : public TensorSource {
 public:
  DiffusersPipelineSource(std::unique_ptr<TensorSource> transformer, std::vector<std::string> extra)
      : inner_(std::move(transformer)), extra_(std::move(extra)) {}
  std::string kind() const override { return inner_->kind(); }
  const std::vector<SourceTensorInfo>& tensors() const override { return inner_->tensors(); }
  FloatTensor read_f32(const std::string& name) const override { return inner_->read_f32(name); }
  std::vector<uint8_t> read_raw(const std::string& name) const override { return inner_->read_raw(name); }
  nlohmann::json model_config() const override { return inner_->model_config(); }
  std::vector<std::string> companion_files() const override {
    std::vector<std::string> out = inner_->companion_files();
    out.insert(out.end(), extra_.begin(), extra_.end());
    return out;
  }
  std::vector<PackedRows> read_packed(const std::string& name) const override { return inner_->read_packed(name); }
  std::string calibrated_activations() const override { return inner_->calibrated_activations(); }
  TimeGroupClips time_groups() const override { return inner_->time_groups(); }

 private:
  std::unique_ptr<TensorSource> inner_;
  std::vector<std::string> extra_;
};

}  // namespace

std::unique_ptr<TensorSource> open_tensor_source(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return open_file(path);
  if (!fs::is_directory(path, ec)) throw IoError(path + ": no such file or folder");
  const fs::path dir(path);
  if (fs::is_regular_file(dir / "model_index.json", ec) && fs::is_directory(dir / "transformer", ec)) {
    std::vector<std::string> extra = {(dir / "model_index.json").string()};
    if (fs::is_regular_file(dir / "scheduler" / "scheduler_config.json", ec))
      extra.push_back((dir / "scheduler" / "scheduler_config.json").string());
    return std::make_unique<DiffusersPipelineSource>(open_tensor_source((dir / "transformer").string()), std::move(extra));
  }
  if (fs::is_regular_file(dir / "model.safetensors.index.json", ec)) {
    const std::string index_path = (dir / "model.safetensors.index.json").string();
    const SafetensorsIndex idx = read_safetensors_index(index_path);
    std::vector<std::string> files;
    for (const auto& f : idx.shards) files.push_back((dir / f).string());
    auto src = std::make_unique<SafetensorsSource>(files, dir, true);
    // Every tensor the index names must be in the shard it names.
    for (const auto& [tensor, shard] : idx.weight_map)
      if (!src->holds(tensor, (dir / shard).string()))
        throw FormatError(index_path + " names tensor " + tensor + " in " + shard + ", which does not hold it");
    return safetensors_model(std::move(src), path);
  }
  if (fs::is_regular_file(dir / "model.safetensors", ec))
    return safetensors_model(
        std::make_unique<SafetensorsSource>(std::vector<std::string>{(dir / "model.safetensors").string()}, dir, false), path);
  std::vector<std::string> parquet, bins, st, gguf;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension();
    if (ext == ".parquet") parquet.push_back(e.path().string());
    else if (ext == ".safetensors") st.push_back(e.path().string());
    else if (ext == ".gguf" && e.path().filename() != "tokenizer.gguf") gguf.push_back(e.path().string());
    else if (ext == ".bin" && Llama2cCheckpoint::looks_like(e.path().string())) bins.push_back(e.path().string());
  }
  if (!parquet.empty()) return std::make_unique<ParquetSource>(path);
  if (st.size() == 1) return safetensors_model(std::make_unique<SafetensorsSource>(st, dir, false), path);
  if (bins.size() == 1) return std::make_unique<Llama2cSource>(bins[0]);
  if (gguf.size() == 1) return open_gguf_source(gguf[0]);
  if (gguf.size() > 1)
    throw FormatError(path + ": " + std::to_string(gguf.size()) + " GGUF files; name the one to use");
  throw FormatError(path + ": no model found (expected model.safetensors, model.safetensors.index.json, "
                    "a .gguf, a llama2.c .bin checkpoint or a .parquet weights table)");
}

}  // namespace arrowquant
