#include "interop/compressed_tensors_export.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <tuple>

#include "arrowquant/error.h"
#include "arrowquant/tensor_source.h"
#include "format/pack.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"
#include "quant/weight_error.h"
#include "util/files.h"
#include "util/interrupt.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {

// The Linears compressed-tensors quantises (not the embedding table: an Embedding is not compressible).
bool is_linear(const std::string& name) {
  return name.size() > 7 && name.ends_with(".weight") && name.rfind("model.layers.", 0) == 0 &&
         name.find("_proj.weight") != std::string::npos;
}

// One compressed-tensors weight scheme: a config group.
struct Scheme {
  int bits;
  bool symmetric;
  int64_t group;  // 0: per channel
  bool operator<(const Scheme& o) const {
    return std::tie(bits, symmetric, group) < std::tie(o.bits, o.symmetric, o.group);
  }
};

struct Plan {
  const SourceTensorInfo* info;
  bool packed = false;
  Scheme scheme{};
  std::string source;
  std::vector<PackedRows> chunks;  // a quantised tensor's stored rows (checksums verified once, here)
};

Plan plan_tensor(const TensorSource& src, const SourceTensorInfo& t) {
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
  p.packed = is_linear(t.name) && f.grid == CodeGrid::Uniform && !f.half_offset && t.rotation.is_none() &&
             (per_channel || g.cols % g.group_size == 0);
  p.scheme = {f.bits, f.symmetric, per_channel ? 0 : g.group_size};
  return p;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// weight_packed [out, words]: each of our rows, zero-padded to whole int32 words.
std::vector<uint8_t> packed_words(const Plan& p, int64_t words) {
  const int64_t rows = p.info->shape[0], cols = p.info->shape[1];
  std::vector<uint8_t> out(size_t(rows * words * 4), 0);
  for (const PackedRows& c : p.chunks) {
    const size_t row_bytes = packed_row_bytes(cols, c.view.format->bits);
    for (int64_t r = 0; r < c.view.geom.rows; ++r)
      std::memcpy(out.data() + size_t((c.row_start + r) * words * 4), c.view.codes + size_t(r) * row_bytes, row_bytes);
  }
  return out;
}

// weight_scale [out, groups] float16: our scales, as stored.
std::vector<uint8_t> scales_of(const Plan& p, int64_t groups) {
  std::vector<uint8_t> out(size_t(p.info->shape[0] * groups * 2));
  for (const PackedRows& c : p.chunks)
    std::memcpy(out.data() + size_t(c.row_start * groups * 2), c.view.scales, size_t(c.view.geom.rows * groups * 2));
  return out;
}

// weight_zero_point [ceil(out·bits/32), groups]: each group's column of zero points packed along the
// rows, low bits first. compressed-tensors stores zp − 2^(bits−1) and packs it + 2^(bits−1): our zero.
std::vector<uint8_t> zero_points_of(const Plan& p, int64_t groups) {
  const int bits = p.scheme.bits;
  const int64_t rows = p.info->shape[0], words = (rows * bits + 31) / 32;
  std::vector<uint32_t> out(size_t(words * groups), 0);
  for (const PackedRows& c : p.chunks)
    for (int64_t r = 0; r < c.view.geom.rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const uint64_t z = c.view.zero_points[size_t(r * groups + g)];
        const int64_t bit = (c.row_start + r) * bits;
        const uint64_t v = z << (bit % 32);
        out[size_t((bit / 32) * groups + g)] |= uint32_t(v);
        if ((bit % 32) + bits > 32) out[size_t((bit / 32 + 1) * groups + g)] |= uint32_t(v >> 32);
      }
  return bytes_of(out);
}

nlohmann::json weights_json(const Scheme& s) {
  return {{"num_bits", s.bits},  {"type", "int"},     {"symmetric", s.symmetric},
          {"strategy", s.group ? "group" : "channel"}, {"group_size", s.group ? nlohmann::json(s.group) : nlohmann::json()},
          {"dynamic", false},    {"actorder", nullptr}, {"observer", "minmax"}, {"block_structure", nullptr}};
}

}  // namespace

std::string compressed_tensors_export_rules() {
  return "compressed-tensors (pack-quantized): block Linears in an integer grid (2-8 bits, --sym or affine,\n"
         "grouped with the group dividing the row, or per channel; not rotated, not --half) keep their codes\n"
         "and float16 scales exactly, one config group per (bits, symmetry, group size). Everything else\n"
         "(embeddings, norms, codebook/lattice/FP8/rotated or half-offset Linears) is written dense in\n"
         "float16, the error of that rounding measured; dense Linears go in the ignore list. vLLM fuses\n"
         "q/k/v and gate/up: they need one scheme (see the report).";
}

CompressedTensorsReport export_compressed_tensors(const std::string& model, const std::string& out,
                                                  const ExportProgress& progress) {
  auto src = open_tensor_source(model);
  nlohmann::json cfg = src->model_config();
  const std::string model_type = json_string(cfg, "model_type", "", model);
  if (model_type != "llama" && model_type != "qwen2")
    throw FormatError(model + ": model_type '" + model_type + "' cannot be exported to compressed-tensors yet (llama and qwen2 decoders can)");
  if (!src->residual_rotation().is_none())
    throw FormatError(model + ": a model quantised with --rotation residual cannot be exported yet; quantise without it");

  std::vector<Plan> plans;
  for (const auto& t : src->tensors()) plans.push_back(plan_tensor(*src, t));
  std::map<Scheme, std::vector<std::string>> groups;
  CompressedTensorsReport report;
  std::vector<SafetensorsWriteItem> items;
  std::vector<std::pair<size_t, int>> produce;  // (plan, part: 0 packed/dense, 1 scale, 2 zero point, 3 shape)
  for (size_t i = 0; i < plans.size(); ++i) {
    const Plan& p = plans[i];
    const SourceTensorInfo& t = *p.info;
    if (!p.packed) {
      items.push_back({t.name, dtype_is_float(t.dtype) || t.format ? DType::F16 : t.dtype, t.shape, nullptr});
      produce.push_back({i, 0});
      if (t.name.ends_with(".weight") && (is_linear(t.name) || t.name == "lm_head.weight"))
        report.ignore.push_back(t.name.substr(0, t.name.size() - 7));
      continue;
    }
    const std::string prefix = t.name.substr(0, t.name.size() - 7);
    groups[p.scheme].push_back(prefix);
    const int64_t rows = t.shape[0], cols = t.shape[1];
    const int64_t n_groups = p.scheme.group ? cols / p.scheme.group : 1;
    items.push_back({prefix + ".weight_packed", DType::I32, {rows, (cols * p.scheme.bits + 31) / 32}, nullptr});
    produce.push_back({i, 0});
    items.push_back({prefix + ".weight_scale", DType::F16, {rows, n_groups}, nullptr});
    produce.push_back({i, 1});
    if (!p.scheme.symmetric) {
      items.push_back({prefix + ".weight_zero_point", DType::I32, {(rows * p.scheme.bits + 31) / 32, n_groups}, nullptr});
      produce.push_back({i, 2});
    }
    items.push_back({prefix + ".weight_shape", DType::I64, {2}, nullptr});
    produce.push_back({i, 3});
  }
  if (cfg.value("tie_word_embeddings", false)) report.ignore.push_back("lm_head");

  nlohmann::json qc = {{"quant_method", "compressed-tensors"}, {"format", "pack-quantized"},
                       {"quantization_status", "compressed"}, {"config_groups", nlohmann::json::object()},
                       {"ignore", report.ignore}, {"kv_cache_scheme", nullptr}};
  int gi = 0;
  for (const auto& [scheme, targets] : groups)
    qc["config_groups"]["group_" + std::to_string(gi++)] = {{"targets", targets}, {"weights", weights_json(scheme)},
                                                           {"input_activations", nullptr},
                                                           {"output_activations", nullptr},
                                                           {"format", "pack-quantized"}};
  report.config_groups = gi;
  cfg["quantization_config"] = qc;
  cfg["torch_dtype"] = "float16";
  cfg.erase("arrowquant_source_format");

  AtomicDir dir(out, false);
  const std::string file = (fs::path(dir.temp_path()) / "model.safetensors").string();
  std::map<size_t, CompressedTensorExport> done;
  write_safetensors_streaming(
      file, items,
      [&](size_t k) -> std::vector<uint8_t> {
        if (interrupt_requested()) throw Interrupted("interrupted: " + out + " was not written");
        const auto [i, part] = produce[k];
        const Plan& p = plans[i];
        const SourceTensorInfo& t = *p.info;
        if (progress && part == 0) progress(i, plans.size(), t.name);
        if (p.packed) {
          const int64_t cols = t.shape[1], n_groups = p.scheme.group ? cols / p.scheme.group : 1;
          if (part == 0) {
            done[i] = {t.name, p.source,
                       "pack-quantized int" + std::to_string(p.scheme.bits) +
                           (p.scheme.group ? " group " + std::to_string(p.scheme.group) : " per channel"),
                       true, 0.0};
            return packed_words(p, (cols * p.scheme.bits + 31) / 32);
          }
          if (part == 1) return scales_of(p, n_groups);
          if (part == 2) return zero_points_of(p, n_groups);
          return bytes_of(std::vector<int64_t>{t.shape[0], t.shape[1]});
        }
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
      },
      {{"format", "pt"}, {"arrowquant_source", model}});
  write_text_file((fs::path(dir.temp_path()) / "config.json").string(), cfg.dump(2) + "\n");
  for (const auto& f : src->companion_files()) {
    const std::string name = fs::path(f).filename().string();
    if (name != "config.json") fs::copy_file(f, fs::path(dir.temp_path()) / name);
  }
  report.file_bytes = size_t(fs::file_size(file));
  dir.commit();
  if (progress) progress(plans.size(), plans.size(), "");
  for (auto& [i, e] : done) report.tensors.push_back(e);
  return report;
}

}  // namespace arrowquant
