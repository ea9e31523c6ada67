#include "interop/gguf_export.h"

#include <filesystem>
#include <fstream>

#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "format/pack.h"
#include "interop/gguf_vocab.h"
#include "io/ggml_types.h"
#include "io/gguf_format.h"
#include "io/gguf_reader.h"
#include "io/gguf_writer.h"
#include "io/json_file.h"
#include "quant/weight_error.h"
#include "util/files.h"
#include "util/interrupt.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

constexpr int64_t kBlock = 32;  // the block of every type written here

// What one tensor becomes.
struct Plan {
  const SourceTensorInfo* info = nullptr;
  std::string gguf_name, source;
  uint32_t type = ggml::kF32;
  // Types of the same size tried besides `type`; the one nearest our values is written.
  std::vector<uint32_t> alternatives;
  bool copy_codes = false;  // codes copied into Q4_0 / Q8_0 blocks (no re-encoding)
  std::vector<PackedRows> chunks;  // a quantised tensor's stored rows (checksums verified once, here)
  std::vector<int64_t> dims;
  size_t nbytes = 0;
};

// The block type of the same width as a format; symmetric grids go to the symmetric types.
uint32_t nearest_type(const QuantFormat& f) {
  if (f.float8() || f.bits >= 6) return ggml::kQ8_0;
  if (f.bits == 5) return f.symmetric ? ggml::kQ5_0 : ggml::kQ5_1;
  return f.symmetric ? ggml::kQ4_0 : ggml::kQ4_1;
}

Plan plan_tensor(const TensorSource& src, const SourceTensorInfo& t) {
  Plan p;
  p.info = &t;
  p.gguf_name = gguf::gguf_name(t.name);
  if (p.gguf_name == t.name)
    throw FormatError("tensor " + t.name + " has no llama.cpp name (export handles Llama and Qwen2 decoders)");
  for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) p.dims.push_back(*d);
  const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  if (t.format) {
    p.chunks = src.read_packed(t.name);
    const int64_t group = p.chunks.empty() ? 0 : p.chunks[0].view.geom.group_size;
    p.source = std::string(t.format->name) + " g" + std::to_string(group);
    if (!t.rotation.is_none()) p.source += " rotated";
    if (t.shape.size() != 2 || cols % kBlock != 0) {
      p.type = ggml::kF32;  // no block type fits the row: the dequantised values, exactly
    } else {
      p.copy_codes = group == kBlock && t.rotation.is_none() &&
                     (t.format->id == FormatId::Int4Sym || t.format->id == FormatId::Int8Sym);
      p.type = t.format->id == FormatId::Int8Sym && p.copy_codes ? ggml::kQ8_0 : nearest_type(*t.format);
      // IQ4_NL's 16 non-uniform levels fit codebooks and unrotated weights better than Q4_0 does.
      if (!p.copy_codes && p.type == ggml::kQ4_0) p.alternatives = {ggml::kIQ4_NL};
    }
  } else {
    p.source = std::string(dtype_name(t.dtype));
    p.type = t.shape.size() == 2 && t.dtype == DType::F16 ? ggml::kF16 : ggml::kF32;
  }
  const auto* ti = ggml::type_info(p.type);
  p.nbytes = size_t(num_elements(t.shape) / ti->block) * ti->block_bytes;
  return p;
}

// llama.cpp's converter stores each head's Q/K rows with the two rotary halves interleaved:
// Hugging Face row h·d + s·d/2 + i is GGUF row h·d + 2i + s.
void permute_rows(std::vector<uint8_t>& bytes, int64_t rows, int64_t heads, const std::string& name) {
  if (rows % heads != 0 || (rows / heads) % 2 != 0)
    throw FormatError(name + ": " + std::to_string(rows) + " rows are not " + std::to_string(heads) + " heads of even size");
  const size_t row_bytes = bytes.size() / size_t(rows);
  const int64_t head = rows / heads, half = head / 2;
  std::vector<uint8_t> out(bytes.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t s = 0; s < 2; ++s)
      for (int64_t i = 0; i < half; ++i)
        std::copy_n(bytes.data() + size_t(h * head + s * half + i) * row_bytes, row_bytes,
                    out.data() + size_t(h * head + 2 * i + s) * row_bytes);
  bytes = std::move(out);
}

// int4_sym / int8_sym codes in groups of 32 straight into Q4_0 / Q8_0 blocks: the same float16
// scale, the same signed levels (code - 8, code - 128).
std::vector<uint8_t> copy_into_blocks(const Plan& p) {
  const int64_t cols = p.info->shape[1];
  const auto* ti = ggml::type_info(p.type);
  const size_t row_bytes = size_t(cols / kBlock) * ti->block_bytes;
  std::vector<uint8_t> out(size_t(p.info->shape[0]) * row_bytes);
  std::vector<uint8_t> codes(static_cast<size_t>(cols));
  for (const PackedRows& c : p.chunks) {
    const PackedView& v = c.view;
    const size_t packed = packed_row_bytes(cols, v.format->bits);
    for (int64_t r = 0; r < v.geom.rows; ++r) {
      unpack_row(*v.format, v.codes + size_t(r) * packed, cols, codes.data());
      uint8_t* row = out.data() + size_t(c.row_start + r) * row_bytes;
      for (int64_t g = 0; g < cols / kBlock; ++g) {
        uint8_t* b = row + size_t(g) * ti->block_bytes;
        std::copy_n(v.scales + 2 * (size_t(r) * size_t(cols / kBlock) + size_t(g)), 2, b);
        const uint8_t* q = codes.data() + g * kBlock;
        if (p.type == ggml::kQ4_0) {
          for (int j = 0; j < 16; ++j) b[2 + j] = uint8_t(q[j] | (q[j + 16] << 4));
        } else {
          for (int j = 0; j < kBlock; ++j) b[2 + j] = uint8_t(int8_t(int(q[j]) - 128));
        }
      }
    }
  }
  return out;
}

std::vector<uint8_t> encode(const std::vector<float>& values, uint32_t type, size_t nbytes) {
  std::vector<uint8_t> out(nbytes);
  ggml::type_info(type)->from_f32(values.data(), out.data(), int64_t(values.size()));
  return out;
}

// How far the blocks, decoded as llama.cpp will, lie from our values.
double rel_rmse_of(const std::vector<uint8_t>& bytes, uint32_t type, const std::vector<float>& ours) {
  std::vector<float> back(ours.size());
  ggml::type_info(type)->to_f32(bytes.data(), back.data(), int64_t(back.size()));
  return weight_error(ours.data(), back.data(), back.size()).rel_rmse;
}

// The model's hyperparameters under the architecture's keys, as llama.cpp's loader reads them.
void add_hyperparameters(GgufLayout& layout, const gguf::Architecture& arch, const nlohmann::json& cfg,
                         const std::string& where) {
  const std::string a = arch.gguf;
  auto num = [&](const char* key) { return uint32_t(json_positive_int(cfg, key, where + ": config.json")); };
  const uint32_t hidden = num("hidden_size"), heads = num("num_attention_heads");
  const uint32_t kv_heads = cfg.contains("num_key_value_heads") ? num("num_key_value_heads") : heads;
  const uint32_t head_dim = cfg.contains("head_dim") ? num("head_dim") : hidden / heads;
  layout.add_string("general.architecture", a);
  layout.add_string("general.name", json_string(cfg, "_name_or_path", "arrowquant export", where));
  layout.add_u32("general.quantization_version", 2);
  layout.add_u32(a + ".context_length", num("max_position_embeddings"));
  layout.add_u32(a + ".embedding_length", hidden);
  layout.add_u32(a + ".block_count", num("num_hidden_layers"));
  layout.add_u32(a + ".feed_forward_length", num("intermediate_size"));
  layout.add_u32(a + ".attention.head_count", heads);
  layout.add_u32(a + ".attention.head_count_kv", kv_heads);
  layout.add_u32(a + ".attention.key_length", head_dim);
  layout.add_u32(a + ".attention.value_length", head_dim);
  layout.add_u32(a + ".rope.dimension_count", head_dim);
  layout.add_u32(a + ".vocab_size", num("vocab_size"));
  layout.add_f32(a + ".attention.layer_norm_rms_epsilon", float(json_number(cfg, "rms_norm_eps", 1e-6, where)));
  layout.add_f32(a + ".rope.freq_base", float(json_number(cfg, "rope_theta", 10000.0, where)));
  if (cfg.contains("rope_scaling") && !cfg["rope_scaling"].is_null())
    throw FormatError(where + ": rope_scaling is not exported to GGUF yet");
}

}  // namespace

std::string gguf_export_rules() {
  return "GGUF holds int4_sym and int8_sym in groups of 32 exactly (copied as Q4_0 / Q8_0, code for code).\n"
         "Every other format is dequantised and re-encoded into the block type of its width, its error\n"
         "measured and reported per tensor: 6-8-bit and FP8 -> Q8_0, 5-bit -> Q5_0 (symmetric) or Q5_1,\n"
         "2-4-bit and codebooks -> Q4_0 or IQ4_NL, whichever is nearer (symmetric), or Q4_1 (affine): a\n"
         "2- or 3-bit model grows to ~4.5-5 bpw. For an exact GGUF, quantise with --sym --group-size 32\n"
         "--rotation none (GPTQ and RTN both fit) and --embedding-bits 4 or 8.\n"
         "Rotated tensors are unrotated first. Float tensors stay float (F16 as F16, others F32).\n"
         "Refused: encoders, architectures other than llama and qwen2, --rotation residual models,\n"
         "and tokenizers other than byte-level BPE (the vocabulary comes from tokenizer.gguf when the model\n"
         "came from a GGUF, else from tokenizer.json, converted as convert_hf_to_gguf.py does).";
}

GgufExportReport export_gguf(const std::string& model, const std::string& out, const ExportProgress& progress) {
  auto src = open_tensor_source(model);
  const nlohmann::json cfg = src->model_config();
  const std::string model_type = json_string(cfg, "model_type", "", model);
  const gguf::Architecture* arch = gguf::architecture_by_model_type(model_type);
  if (!arch)
    throw FormatError(model + ": model_type '" + model_type + "' cannot be exported to GGUF (llama and qwen2 decoders can)");
  if (!src->residual_rotation().is_none())
    throw FormatError(model + ": a model quantised with --rotation residual cannot be exported to GGUF yet "
                      "(llama.cpp has no rotated residual stream); quantise without it");
  std::string gguf_vocab, hf_tokenizer;
  for (const auto& f : src->companion_files()) {
    if (fs::path(f).filename() == "tokenizer.gguf") gguf_vocab = f;
    if (fs::path(f).filename() == "tokenizer.json") hf_tokenizer = f;
  }
  if (gguf_vocab.empty() && hf_tokenizer.empty())
    throw FormatError(model + ": no tokenizer beside the weights (tokenizer.gguf or tokenizer.json); GGUF export "
                      "needs the model's vocabulary");

  GgufLayout layout;
  add_hyperparameters(layout, *arch, cfg, model);
  if (!gguf_vocab.empty()) {  // the vocabulary of the GGUF the model came from, entry for entry
    GgufFile vocab(gguf_vocab);
    for (const auto& [key, value] : vocab.metadata())
      if (key.rfind("tokenizer.", 0) == 0) layout.add_entry(vocab.raw_entry(key));
  } else {
    add_hf_bpe_vocabulary(layout, hf_tokenizer, json_positive_int(cfg, "vocab_size", model + ": config.json"));
  }
  std::vector<Plan> plans;
  for (const auto& t : src->tensors()) plans.push_back(plan_tensor(*src, t));
  for (const auto& p : plans) layout.add_tensor(p.gguf_name, p.dims, p.type, p.nbytes);

  const int64_t heads = json_positive_int(cfg, "num_attention_heads", model);
  const int64_t kv_heads = cfg.contains("num_key_value_heads") ? json_positive_int(cfg, "num_key_value_heads", model) : heads;
  GgufExportReport report;
  report.architecture = arch->gguf;
  AtomicFile file(out);
  std::ofstream os(file.temp_path(), std::ios::binary);
  if (!os) throw IoError("cannot write " + out);
  const auto head = layout.head();
  os.write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size()));
  size_t written = head.size();
  for (size_t i = 0; i < plans.size(); ++i) {
    if (interrupt_requested()) throw Interrupted("interrupted: " + out + " was not written");
    const Plan& p = plans[i];
    if (progress) progress(i, plans.size(), p.info->name);
    FloatTensor ours = src->read_f32(p.info->name);  // our dequantisation, in the model's own space
    uint32_t type = p.type;
    std::vector<uint8_t> bytes = p.copy_codes ? copy_into_blocks(p) : encode(ours.values, type, p.nbytes);
    // What llama.cpp will read, decoded and held against ours (before the row permutation).
    double err = rel_rmse_of(bytes, type, ours.values);
    if (p.copy_codes && err != 0)
      throw Error(p.info->name + ": the copied " + std::string(ggml::type_info(type)->name) +
                  " blocks do not decode to our values (an exporter bug; nothing was written)");
    for (uint32_t alt : p.alternatives) {
      std::vector<uint8_t> b = encode(ours.values, alt, p.nbytes);
      const double e = rel_rmse_of(b, alt, ours.values);
      if (e < err) err = e, type = alt, bytes = std::move(b);
    }
    layout.set_tensor_type(i, type);
    const bool q = gguf::is_query(p.info->name), k = gguf::is_key(p.info->name);
    if (arch->permuted_qk && (q || k)) permute_rows(bytes, p.info->shape[0], q ? heads : kv_heads, p.info->name);
    write_tensor_data(os, bytes.data(), bytes.size(), out);
    written += bytes.size() + GgufLayout::padding_after(bytes.size());
    report.tensors.push_back(
        {p.info->name, p.gguf_name, p.source, std::string(ggml::type_info(type)->name), err == 0, err, bytes.size()});
  }
  if (progress) progress(plans.size(), plans.size(), "");
  os.seekp(0);  // the chosen types into the tensor table (same size)
  const auto final_head = layout.head();
  os.write(reinterpret_cast<const char*>(final_head.data()), std::streamsize(final_head.size()));
  os.close();
  if (!os) throw IoError("cannot write " + out);
  file.commit();
  report.file_bytes = written;
  return report;
}

}  // namespace arrowquant
