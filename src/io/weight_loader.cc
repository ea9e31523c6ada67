#include "arrowquant/weight_loader.h"

#include <filesystem>
#include <optional>

#include "arrowquant/error.h"
#include "io/json_file.h"
#include "io/parquet_v2_reader.h"
#include "io/parquet_v2_schema.h"
#include "util/checksum.h"
#include "util/mmap_file.h"
#include "util/thread_pool.h"

namespace fs = std::filesystem;

namespace arrowquant {

std::string find_weights_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return path;
  if (!fs::is_directory(path, ec)) throw IoError(path + ": no such file or folder");
  fs::path p = fs::path(path) / parquet_v2::kWeightsFile;
  if (fs::is_regular_file(p, ec)) return p.string();
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.path().extension() == ".parquet") found.push_back(e.path().string());
  if (found.size() == 1) return found[0];
  if (found.empty()) throw FormatError(path + ": no Parquet weights file (model.parquet) in this folder");
  throw FormatError(path + ": several .parquet files and no model.parquet; name the file to open");
}

WeightLoader::~WeightLoader() = default;

std::unique_ptr<WeightLoader> WeightLoader::open(const std::string& path) {
  std::unique_ptr<WeightLoader> w(new WeightLoader());
  w->file_path_ = find_weights_file(path);
  w->map_ = std::make_unique<MappedFile>(w->file_path_);
  parquet_v2::TableContents t = parquet_v2::read_table(w->map_->data(), w->map_->size(), w->file_path_);
  w->version_ = t.version;
  w->tensors_ = std::move(t.tensors);
  w->metadata_ = std::move(t.metadata);
  w->residual_rotation_ = t.residual_rotation;
  w->time_groups_ = std::move(t.time_groups);
  w->decoded_ = std::move(t.decoded);
  return w;
}

bool WeightLoader::maps(const void* p, size_t n) const { return map_->contains(p, n); }
size_t WeightLoader::offset_in_file(const void* p) const {
  return size_t(static_cast<const uint8_t*>(p) - map_->data());
}

const StoredTensor* WeightLoader::find(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const StoredTensor& WeightLoader::tensor(const std::string& name) const {
  if (auto* t = find(name)) return *t;
  throw ValueError(file_path_ + ": no tensor named \"" + name + "\"");
}

void WeightLoader::verify_checksums(const StoredTensor& t) const {
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const auto& c = t.chunks[i];
    if (!c.has_checksum) continue;
    uint64_t h = checksum_bytes(c.data, c.nbytes, c.scales, c.scales_nbytes, c.zero_points,
                                c.zero_points ? c.zero_points_nbytes : 0);
    if (h != c.checksum)
      throw FormatError(file_path_ + ": tensor " + t.name + " chunk " + std::to_string(i) +
                        ": checksum mismatch (the file is corrupt)");
    // Checked: what the run reads faults back in, the rest (most of an embedding table) stays out
    // of memory. MiniLM INT2 encode: -6 MB resident.
    map_->release(c.data, c.nbytes);
  }
}

PackedView WeightLoader::packed(const StoredTensor& t, size_t chunk) const {
  if (!t.format) throw ValueError("tensor " + t.name + " is not quantised");
  const auto& c = t.chunks.at(chunk);
  PackedView v;
  v.format = t.format;
  v.geom = quant_geometry(t.shape, t.group_size);
  v.geom.rows = c.rows;
  v.codes = c.data;
  v.scales = c.scales;
  v.zero_points = c.zero_points;
  return v;
}

FloatTensor WeightLoader::dequantize(const std::string& name) const {
  const StoredTensor& t = tensor(name);
  verify_checksums(t);
  FloatTensor out{t.name, t.shape, std::vector<float>(size_t(t.num_params))};
  const int64_t cols = t.shape.empty() ? 1 : t.shape.back();
  std::optional<PreparedRotation> rotation;
  if (t.format && !t.rotation.is_none()) rotation.emplace(t.rotation, cols);
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    const auto& c = t.chunks[i];
    float* dst = out.values.data() + c.row_start * cols;
    if (t.format) {
      PackedView v = packed(t, i);
      // Rows are independent: split big tensors over the cores (a small one stays on this thread).
      const int threads = c.rows * cols >= (int64_t(1) << 16) ? 0 : 1;
      parallel_for(c.rows, threads, [&](int64_t r0, int64_t r1) {
        dequantize_rows(v, r0, r1, dst + r0 * cols);
        if (rotation) rotation->unrotate(dst + r0 * cols, r1 - r0);  // back to the model's own space
      });
    } else {
      if (!dtype_is_float(t.dtype))
        throw ValueError("tensor " + t.name + " holds " + std::string(dtype_name(t.dtype)) + ", not floats");
      convert_to_f32(t.dtype, c.data, size_t(c.rows * cols), dst);
    }
  }
  return out;
}

std::vector<uint8_t> WeightLoader::raw_bytes(const std::string& name) const {
  const StoredTensor& t = tensor(name);
  if (t.format) throw ValueError("tensor " + t.name + " is quantised; dequantize it instead");
  verify_checksums(t);
  std::vector<uint8_t> out;
  for (const auto& c : t.chunks) out.insert(out.end(), c.data, c.data + c.nbytes);
  return out;
}

nlohmann::json WeightLoader::model_config() const {
  if (metadata_.contains(parquet_v2::key::kModelConfig) && metadata_[parquet_v2::key::kModelConfig].is_object())
    return metadata_[parquet_v2::key::kModelConfig];
  fs::path cfg = fs::path(file_path_).parent_path() / "config.json";
  std::error_code ec;
  if (fs::is_regular_file(cfg, ec)) return read_json_file(cfg.string());
  return nlohmann::json::object();
}

std::string WeightLoader::calibrated_activations() const {
  if (auto it = metadata_.find(parquet_v2::key::kActivations); it != metadata_.end() && it->is_string())
    return it->get<std::string>();
  // Files written before the key existed say it through their method.
  auto qc = metadata_.find(parquet_v2::key::kQuantConfig);
  if (qc != metadata_.end() && qc->is_object() && qc->value("method", "") == "smoothquant") return "int8";
  return "";
}

}  // namespace arrowquant
