#include "interop/hf_export.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "format/pack.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"
#include "quant/weight_error.h"
#include "util/files.h"
#include "util/interrupt.h"
#include "util/version.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

// The Linears the peers quantise (not the embedding table: an Embedding is not compressible, and the
// head stays dense as llm-compressor and GPTQModel leave it).
bool is_linear(const std::string& name) {
  return name.size() > 7 && name.ends_with(".weight") && name.rfind("model.layers.", 0) == 0 &&
         name.find("_proj.weight") != std::string::npos;
}

// How compressed-tensors stores a scheme's weights: int32 words (pack-quantized), int8 values with int8
// activations (int-quantized: W8A8, for models calibrated for int8 activations), FP8 E4M3 values
// (float-quantized).
enum class CtFormat { Packed, Int8, Fp8 };
const char* ct_format_name(CtFormat f) {
  return f == CtFormat::Packed ? "pack-quantized" : f == CtFormat::Int8 ? "int-quantized" : "float-quantized";
}

// One weight scheme: a compressed-tensors config group, a GPTQ (dynamic) setting.
struct Scheme {
  int bits;
  bool symmetric;
  int64_t group;  // 0: per channel
  CtFormat format = CtFormat::Packed;
  bool operator<(const Scheme& o) const {
    return std::tie(bits, symmetric, group, format) < std::tie(o.bits, o.symmetric, o.group, o.format);
  }
};

struct Plan {
  const SourceTensorInfo* info;
  bool packed = false;
  Scheme scheme{};
  std::string source;
  std::vector<PackedRows> chunks;  // a quantised tensor's stored rows (checksums verified once, here)
  std::string prefix() const { return info->name.substr(0, info->name.size() - 7); }
};

Plan plan_tensor(const TensorSource& src, const SourceTensorInfo& t, HfTarget target, bool int8_activations) {
  Plan p{&t};
  if (!t.format) {
    p.source = std::string(dtype_name(t.dtype));
    return p;
  }
  p.chunks = src.read_packed(t.name);
  const QuantGeometry g = p.chunks.at(0).view.geom;
  const QuantFormat& f = *t.format;
  p.source = std::string(f.name) + " g" + std::to_string(g.group_size) + (t.rotation.is_none() ? "" : " rotated");
  const bool per_channel = g.group_size == g.cols;
  const bool fp8 = f.float8() && f.family == Codebook::Fp8E4m3 && target == HfTarget::CompressedTensors;
  p.packed = is_linear(t.name) && (f.grid == CodeGrid::Uniform || fp8) && !f.half_offset && t.rotation.is_none() &&
             (per_channel || g.cols % g.group_size == 0);
  if (target == HfTarget::Gptq)  // qweight packs whole int32 words down the input dimension
    p.packed = p.packed && (f.bits == 2 || f.bits == 3 || f.bits == 4 || f.bits == 8) && g.cols * f.bits % 32 == 0;
  const bool w8a8 = target == HfTarget::CompressedTensors && f.bits == 8 && int8_activations;
  const CtFormat format = fp8 ? CtFormat::Fp8 : w8a8 ? CtFormat::Int8 : CtFormat::Packed;
  p.scheme = {f.bits, f.symmetric, per_channel ? 0 : g.group_size, format};
  return p;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

int64_t groups_of(const Plan& p) { return p.scheme.group ? p.info->shape[1] / p.scheme.group : 1; }

// Our packed rows, each zero-padded to `row_bytes`, one after another.
std::vector<uint8_t> our_rows(const Plan& p, size_t row_bytes) {
  const int64_t rows = p.info->shape[0], cols = p.info->shape[1];
  std::vector<uint8_t> out(size_t(rows) * row_bytes, 0);
  for (const PackedRows& c : p.chunks) {
    const size_t ours = packed_row_bytes(cols, c.view.format->bits);
    for (int64_t r = 0; r < c.view.geom.rows; ++r)
      std::memcpy(out.data() + size_t(c.row_start + r) * row_bytes, c.view.codes + size_t(r) * ours, ours);
  }
  return out;
}

// Our float16 scales [out, groups], as stored.
std::vector<uint8_t> our_scales(const Plan& p) {
  const int64_t groups = groups_of(p);
  std::vector<uint8_t> out(size_t(p.info->shape[0] * groups * 2));
  for (const PackedRows& c : p.chunks)
    std::memcpy(out.data() + size_t(c.row_start * groups * 2), c.view.scales, size_t(c.view.geom.rows * groups * 2));
  return out;
}

// Each group's zero points (zero(row) − offset) packed down the rows as one little-endian bit stream
// of int32 words; word w of group g lands at index(w, g).
std::vector<uint8_t> zeros_down_rows(const Plan& p, int offset, const std::function<size_t(int64_t, int64_t)>& index,
                                     size_t words_total) {
  const int bits = p.scheme.bits;
  const int64_t groups = groups_of(p);
  const uint32_t mask = (1u << bits) - 1;
  std::vector<uint32_t> out(words_total, 0);
  for (const PackedRows& c : p.chunks)
    for (int64_t r = 0; r < c.view.geom.rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const int z = c.view.zero_points ? int(c.view.zero_points[size_t(r * groups + g)]) : int(c.view.format->mid_code());
        const uint64_t v = uint64_t(uint32_t(z - offset) & mask) << ((c.row_start + r) * bits % 32);
        const int64_t w = (c.row_start + r) * bits / 32;
        out[index(w, g)] |= uint32_t(v);
        if (v >> 32) out[index(w + 1, g)] |= uint32_t(v >> 32);
      }
  return bytes_of(out);
}

// One tensor of the checkpoint and how to make its bytes.
struct Part {
  SafetensorsWriteItem item;
  std::function<std::vector<uint8_t>()> make;
};

// int-quantized / float-quantized: one byte per weight — our int8 codes minus 128 (signed int8), or
// our FP8 codes as they are — float16 scales [out, groups], signed int8 zero points (affine int8).
std::vector<Part> compressed_tensors_byte_parts(const Plan& p) {
  const int64_t rows = p.info->shape[0], cols = p.info->shape[1], groups = groups_of(p);
  const bool fp8 = p.scheme.format == CtFormat::Fp8;
  const std::string pre = p.prefix();
  std::vector<Part> parts;
  parts.push_back({{pre + ".weight", fp8 ? DType::F8E4M3 : DType::I8, {rows, cols}, nullptr}, [&p, fp8, cols] {
                     std::vector<uint8_t> b = our_rows(p, size_t(cols));
                     if (!fp8)
                       for (auto& v : b) v ^= 0x80;  // code − 128
                     return b;
                   }});
  parts.push_back({{pre + ".weight_scale", DType::F16, {rows, groups}, nullptr}, [&p] { return our_scales(p); }});
  if (!p.scheme.symmetric)
    parts.push_back({{pre + ".weight_zero_point", DType::I8, {rows, groups}, nullptr}, [&p, rows, groups] {
                       std::vector<uint8_t> z(size_t(rows * groups));
                       for (const PackedRows& c : p.chunks)
                         for (int64_t i = 0; i < c.view.geom.rows * groups; ++i)
                           z[size_t(c.row_start * groups + i)] = uint8_t(c.view.zero_points[size_t(i)] ^ 0x80);
                       return z;
                     }});
  return parts;
}

std::vector<Part> compressed_tensors_parts(const Plan& p) {
  if (p.scheme.format != CtFormat::Packed) return compressed_tensors_byte_parts(p);
  const int64_t rows = p.info->shape[0], cols = p.info->shape[1], groups = groups_of(p);
  const int bits = p.scheme.bits;
  const int64_t words = (cols * bits + 31) / 32, zp_words = (rows * bits + 31) / 32;
  const std::string pre = p.prefix();
  std::vector<Part> parts;
  parts.push_back({{pre + ".weight_packed", DType::I32, {rows, words}, nullptr}, [&p, words] { return our_rows(p, size_t(words) * 4); }});
  parts.push_back({{pre + ".weight_scale", DType::F16, {rows, groups}, nullptr}, [&p] { return our_scales(p); }});
  if (!p.scheme.symmetric)  // compressed-tensors stores zp − 2^(bits−1) and packs it + 2^(bits−1): our zero
    parts.push_back({{pre + ".weight_zero_point", DType::I32, {zp_words, groups}, nullptr}, [&p, groups, zp_words] {
                       return zeros_down_rows(p, 0, [groups](int64_t w, int64_t g) { return size_t(w * groups + g); },
                                              size_t(zp_words * groups));
                     }});
  parts.push_back({{pre + ".weight_shape", DType::I64, {2}, nullptr}, [rows, cols] { return bytes_of(std::vector<int64_t>{rows, cols}); }});
  return parts;
}

std::vector<Part> gptq_parts(const Plan& p, bool v2) {
  const int64_t rows = p.info->shape[0], cols = p.info->shape[1], groups = groups_of(p);
  const int bits = p.scheme.bits;
  const int64_t words = cols * bits / 32, zp_words = (rows * bits + 31) / 32;
  const int64_t group = p.scheme.group ? p.scheme.group : cols;
  const std::string pre = p.prefix();
  std::vector<Part> parts;
  parts.push_back({{pre + ".qweight", DType::I32, {words, rows}, nullptr}, [&p, rows, words] {
                     const std::vector<uint8_t> ours = our_rows(p, size_t(words) * 4);
                     std::vector<uint32_t> q(size_t(words * rows));
                     for (int64_t r = 0; r < rows; ++r)
                       for (int64_t w = 0; w < words; ++w) std::memcpy(&q[size_t(w * rows + r)], &ours[size_t((r * words + w) * 4)], 4);
                     return bytes_of(q);
                   }});
  parts.push_back({{pre + ".qzeros", DType::I32, {groups, zp_words}, nullptr}, [&p, v2, zp_words, groups] {
                     return zeros_down_rows(p, v2 ? 0 : 1, [zp_words](int64_t w, int64_t g) { return size_t(g * zp_words + w); },
                                            size_t(zp_words * groups));
                   }});
  parts.push_back({{pre + ".scales", DType::F16, {groups, rows}, nullptr}, [&p, rows, groups] {
                     const std::vector<uint8_t> s = our_scales(p);
                     std::vector<uint8_t> t(s.size());
                     for (int64_t r = 0; r < rows; ++r)
                       for (int64_t g = 0; g < groups; ++g) std::memcpy(&t[size_t((g * rows + r) * 2)], &s[size_t((r * groups + g) * 2)], 2);
                     return t;
                   }});
  parts.push_back({{pre + ".g_idx", DType::I32, {cols}, nullptr}, [cols, group] {
                     std::vector<int32_t> g(static_cast<size_t>(cols));
                     for (int64_t i = 0; i < cols; ++i) g[size_t(i)] = int32_t(i / group);
                     return bytes_of(g);
                   }});
  return parts;
}

nlohmann::json ct_weights_json(const Scheme& s) {
  return {{"num_bits", s.bits},  {"type", s.format == CtFormat::Fp8 ? "float" : "int"}, {"symmetric", s.symmetric},
          {"strategy", s.group ? "group" : "channel"}, {"group_size", s.group ? nlohmann::json(s.group) : nlohmann::json()},
          {"dynamic", false},    {"actorder", nullptr}, {"observer", "minmax"}, {"block_structure", nullptr}};
}

nlohmann::json compressed_tensors_config(const std::map<Scheme, std::vector<std::string>>& schemes,
                                         const std::vector<std::string>& ignore) {
  std::set<std::string> formats;
  for (const auto& [scheme, targets] : schemes) formats.insert(ct_format_name(scheme.format));
  nlohmann::json qc = {{"quant_method", "compressed-tensors"},
                       {"format", formats.size() == 1 ? *formats.begin() : "mixed-precision"},
                       {"quantization_status", "compressed"}, {"config_groups", nlohmann::json::object()},
                       {"ignore", ignore}, {"kv_cache_scheme", nullptr}};
  int gi = 0;
  for (const auto& [scheme, targets] : schemes) {
    nlohmann::json activations = nullptr;  // W8A8: dynamic per-token int8 inputs, as our kernels quantise them
    if (scheme.format == CtFormat::Int8)
      activations = {{"num_bits", 8}, {"type", "int"}, {"symmetric", true}, {"strategy", "token"}, {"dynamic", true},
                     {"group_size", nullptr}, {"observer", nullptr}};
    qc["config_groups"]["group_" + std::to_string(gi++)] = {{"targets", targets}, {"weights", ct_weights_json(scheme)},
                                                           {"input_activations", activations},
                                                           {"output_activations", nullptr},
                                                           {"format", ct_format_name(scheme.format)}};
  }
  return qc;
}

std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::strchr(".^$|()[]{}*+?\\", c)) out += '\\';
    out += c;
  }
  return out;
}

// The most common scheme is the checkpoint's; every other Linear is a `dynamic` override (GPTQModel's
// per-module settings: "+:regex" overrides, "-:regex" leaves the module unquantised).
nlohmann::json gptq_config(const std::map<Scheme, std::vector<std::string>>& schemes, const std::vector<std::string>& dense,
                           bool v2) {
  const Scheme* base = nullptr;
  size_t most = 0;
  for (const auto& [s, targets] : schemes)
    if (targets.size() > most) most = targets.size(), base = &s;
  nlohmann::json qc = {{"quant_method", "gptq"}, {"bits", base->bits}, {"group_size", base->group ? base->group : -1},
                       {"desc_act", false}, {"sym", base->symmetric}, {"static_groups", false}, {"true_sequential", true},
                       {"lm_head", false}, {"checkpoint_format", v2 ? "gptq_v2" : "gptq"},
                       {"meta", {{"quantizer", {"arrowquant:" ARROWQUANT_VERSION}}}}};
  nlohmann::json dynamic = nlohmann::json::object();
  for (const auto& [s, targets] : schemes) {
    if (&s == base) continue;
    for (const auto& t : targets)
      dynamic["+:^" + regex_escape(t) + "$"] = {{"bits", s.bits}, {"group_size", s.group ? s.group : -1}, {"sym", s.symmetric}};
  }
  for (const auto& t : dense) dynamic["-:^" + regex_escape(t) + "$"] = nlohmann::json::object();
  if (!dynamic.empty()) qc["dynamic"] = dynamic;
  return qc;
}

// Items split into shards of at most max_bytes each (an item larger than that alone in its own).
std::vector<std::vector<size_t>> shard(const std::vector<Part>& parts, size_t max_bytes) {
  std::vector<std::vector<size_t>> shards(1);
  size_t used = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const size_t n = size_t(num_elements(parts[i].item.shape)) * dtype_size(parts[i].item.dtype);
    if (used > 0 && used + n > max_bytes) shards.emplace_back(), used = 0;
    shards.back().push_back(i);
    used += n;
  }
  return shards;
}

}  // namespace

std::string hf_export_rules(HfTarget target) {
  if (target == HfTarget::CompressedTensors)
    return "compressed-tensors: block Linears in an integer grid (2-8 bits, --sym or affine, grouped with the\n"
           "group dividing the row, or per channel; not rotated, not --half) keep their codes and float16\n"
           "scales exactly (pack-quantized; int-quantized W8A8 with int8 activations for a model calibrated\n"
           "for them, e.g. --method smoothquant), FP8 E4M3 Linears (--codebook e4m3) theirs as float-quantized;\n"
           "one config group per (format, bits, symmetry, group size). Everything else (embeddings, norms,\n"
           "codebook/lattice/E5M2/rotated or half-offset Linears) is written dense in\n"
           "float16, the error of that rounding measured; dense Linears go in the ignore list. vLLM fuses\n"
           "q/k/v and gate/up: they need one scheme (quantise with --export-compatible vllm to be sure).";
  return "GPTQ: block Linears in an integer grid of 2, 3, 4 or 8 bits whose rows fill whole int32 words\n"
         "(grouped with the group dividing the row, or per channel; not rotated, not --half) keep their\n"
         "codes and float16 scales exactly: a v1 checkpoint when all are --sym, else gptq_v2 (v1 cannot\n"
         "store a zero point of 0). The most common (bits, group, symmetry) is the checkpoint's; the\n"
         "others are GPTQModel `dynamic` overrides, and Linears written dense negative `dynamic` entries.\n"
         "Everything else is written dense in float16, the error of that rounding measured.";
}

HfExportReport export_hf_quantized(const std::string& model, const std::string& out, HfTarget target,
                                   size_t max_shard_bytes, const ExportProgress& progress) {
  const char* target_name = target == HfTarget::Gptq ? "GPTQ" : "compressed-tensors";
  auto src = open_tensor_source(model);
  nlohmann::json cfg = src->model_config();
  const std::string model_type = json_string(cfg, "model_type", "", model);
  if (model_type != "llama" && model_type != "qwen2")
    throw FormatError(model + ": model_type '" + model_type + "' cannot be exported to " + target_name +
                      " yet (llama and qwen2 decoders can)");
  if (!src->residual_rotation().is_none())
    throw FormatError(model + ": a model quantised with --rotation residual cannot be exported yet; quantise without it");

  std::vector<Plan> plans;
  const bool int8_activations = src->calibrated_activations() == "int8";  // SmoothQuant: W8A8
  for (const auto& t : src->tensors()) plans.push_back(plan_tensor(*src, t, target, int8_activations));
  std::map<Scheme, std::vector<std::string>> schemes;
  bool any_asymmetric = false;
  for (const Plan& p : plans)
    if (p.packed) schemes[p.scheme].push_back(p.prefix()), any_asymmetric |= !p.scheme.symmetric;
  const bool gptq_v2 = any_asymmetric;

  HfExportReport report;
  std::vector<Part> parts;
  std::vector<size_t> plan_of;  // parts[k] belongs to plans[plan_of[k]]
  std::map<size_t, HfTensorExport> done;
  for (size_t i = 0; i < plans.size(); ++i) {
    const Plan& p = plans[i];
    const SourceTensorInfo& t = *p.info;
    std::vector<Part> mine;
    if (p.packed) {
      mine = target == HfTarget::Gptq ? gptq_parts(p, gptq_v2) : compressed_tensors_parts(p);
      done[i] = {t.name, p.source,
                 std::string(target == HfTarget::Gptq ? "GPTQ" : ct_format_name(p.scheme.format)) +
                     (p.scheme.format == CtFormat::Fp8 ? " fp8 e4m3" : " int" + std::to_string(p.scheme.bits)) +
                     (p.scheme.group ? " group " + std::to_string(p.scheme.group) : " per channel") +
                     (p.scheme.symmetric ? "" : " affine"),
                 true, 0.0};
    } else {
      if (t.name.ends_with(".weight") && (is_linear(t.name) || t.name == "lm_head.weight"))
        report.ignore.push_back(t.name.substr(0, t.name.size() - 7));
      const DType dtype = dtype_is_float(t.dtype) || t.format ? DType::F16 : t.dtype;
      mine.push_back({{t.name, dtype, t.shape, nullptr}, [&src, &p, &done, i] {
                        const SourceTensorInfo& t = *p.info;
                        if (!t.format && !dtype_is_float(t.dtype)) {
                          done[i] = {t.name, p.source, std::string(dtype_name(t.dtype)), true, 0.0};
                          return src->read_raw(t.name);
                        }
                        const FloatTensor f = src->read_f32(t.name);
                        std::vector<uint8_t> b(f.values.size() * 2);
                        convert_from_f32(DType::F16, f.values.data(), f.values.size(), b.data());
                        std::vector<float> back(f.values.size());
                        convert_to_f32(DType::F16, b.data(), back.size(), back.data());
                        const double err = weight_error(f.values.data(), back.data(), back.size()).rel_rmse;
                        done[i] = {t.name, p.source, "float16", err == 0, err};
                        return b;
                      }});
    }
    for (auto& part : mine) parts.push_back(std::move(part)), plan_of.push_back(i);
  }
  if (target == HfTarget::CompressedTensors && cfg.value("tie_word_embeddings", false)) report.ignore.push_back("lm_head");
  if (schemes.empty())
    throw ValueError(model + ": no Linear of this model can be stored in " + target_name + " (see export --help); quantise with an integer grid, e.g. --bits 4 --sym");
  report.schemes = int(schemes.size());

  std::vector<std::string> dense_linears;
  for (const auto& n : report.ignore)
    if (n != "lm_head") dense_linears.push_back(n);
  cfg["quantization_config"] = target == HfTarget::Gptq ? gptq_config(schemes, dense_linears, gptq_v2)
                                                         : compressed_tensors_config(schemes, report.ignore);
  cfg["torch_dtype"] = "float16";
  cfg.erase("arrowquant_source_format");

  AtomicDir dir(out, false);
  const std::vector<std::vector<size_t>> shards = shard(parts, max_shard_bytes);
  nlohmann::json weight_map = nlohmann::json::object();
  size_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    if (shards.size() == 1) snprintf(name, sizeof name, "model.safetensors");
    else snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    std::vector<SafetensorsWriteItem> items;
    for (size_t k : shards[s]) {
      items.push_back(parts[k].item);
      weight_map[parts[k].item.name] = name;
      total += size_t(num_elements(parts[k].item.shape)) * dtype_size(parts[k].item.dtype);
    }
    const std::string file = (fs::path(dir.temp_path()) / name).string();
    write_safetensors_streaming(
        file, items,
        [&](size_t j) -> std::vector<uint8_t> {
          if (interrupt_requested()) throw Interrupted("interrupted: " + out + " was not written");
          const size_t k = shards[s][j];
          if (progress && (k == 0 || plan_of[k - 1] != plan_of[k]))
            progress(plan_of[k], plans.size(), plans[plan_of[k]].info->name);
          return parts[k].make();
        },
        {{"format", "pt"}, {"arrowquant_source", model}});
    report.files.push_back(name);
    report.file_bytes += size_t(fs::file_size(file));
  }
  if (shards.size() > 1)
    write_text_file((fs::path(dir.temp_path()) / "model.safetensors.index.json").string(),
                    nlohmann::json({{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}).dump(2) + "\n");
  write_text_file((fs::path(dir.temp_path()) / "config.json").string(), cfg.dump(2) + "\n");
  for (const auto& f : src->companion_files()) {
    const std::string name = fs::path(f).filename().string();
    if (name != "config.json") fs::copy_file(f, fs::path(dir.temp_path()) / name);
  }
  dir.commit();
  if (progress) progress(plans.size(), plans.size(), "");
  for (auto& [i, e] : done) report.tensors.push_back(e);
  return report;
}

}  // namespace arrowquant
