#include "model/model_weights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "arrowquant/error.h"

namespace fs = std::filesystem;

namespace arrowquant {

ModelWeights::ModelWeights(const std::string& path) : ModelWeights(open_tensor_source(path), path) {}

ModelWeights::ModelWeights(std::shared_ptr<const TensorSource> source, const std::string& path)
    : path_(path), source_(std::move(source)) {
  std::error_code ec;
  folder_ = fs::is_directory(path, ec) ? path : fs::path(path).parent_path().string();
  if (folder_.empty()) folder_ = ".";
  config_ = source_->model_config();
}

const nlohmann::json& ModelWeights::config() const {
  if (!config_.is_object() || config_.empty())
    throw FormatError(path_ + ": the model has no config.json (expected in " + folder_ + ")");
  return config_;
}

std::string ModelWeights::preferred_activations() const {
  return source_->calibrated_activations() == "int8" ? "int8" : "f32";
}

bool ModelWeights::has(const std::string& name) const {
  for (const auto& t : source_->tensors())
    if (t.name == name) return true;
  return false;
}

std::vector<float> ModelWeights::load(const std::string& name, const Shape& expected) const {
  const SourceTensorInfo* info = nullptr;
  for (const auto& t : source_->tensors())
    if (t.name == name) info = &t;
  if (!info) throw FormatError(path_ + ": tensor " + name + " is missing");
  if (info->shape != expected)
    throw ShapeError(path_ + ": tensor " + name + " has shape " + shape_str(info->shape) + ", expected " +
                      shape_str(expected) + " from config.json");
  FloatTensor t = source_->read_f32(name);
  return std::move(t.values);
}

}  // namespace arrowquant

namespace arrowquant {

// The view's bytes copied into huge-page memory: fewer TLB misses and no prefetcher stops at 4 KB page
// ends, which the page-cache pages of a mapped file have. Tensors are packed one after another into
// 64 MB arenas (a 2 MB block per tensor wasted up to 2 MB of resident memory on each small one).
PackedView ModelWeights::copy_to_anonymous_memory(PackedView v) const {
  constexpr size_t kHuge = size_t(2) << 20, kArena = size_t(64) << 20, kAlign = 4096;
  const size_t nc = packed_row_bytes(v.geom.cols, v.format->bits) * size_t(v.geom.rows);
  const size_t ns = scale_bytes(v.geom), nz = zero_point_bytes(v.geom, *v.format);
  const size_t need = (nc + ns + nz + kAlign - 1) / kAlign * kAlign;
  if (copies_.empty() || arena_used_ + need > arena_size_) {
    arena_size_ = std::max(kArena, (need + kHuge - 1) / kHuge * kHuge);
    void* mem = std::aligned_alloc(kHuge, arena_size_);
    if (!mem) throw IoError(path_ + ": out of memory copying packed weights (" + std::to_string(arena_size_) + " bytes)");
    copies_.emplace_back(mem);
    madvise(mem, arena_size_, MADV_HUGEPAGE);  // advice only: without huge pages the copy still works
    arena_used_ = 0;
  }
  auto* p = static_cast<uint8_t*>(copies_.back().get()) + arena_used_;
  arena_used_ += need;
  std::memcpy(p, v.codes, nc);
  std::memcpy(p + nc, v.scales, ns);
  if (nz) std::memcpy(p + nc + ns, v.zero_points, nz);
  v.codes = p;
  v.scales = p + nc;
  if (nz) v.zero_points = p + nc + ns;
  return v;
}

std::shared_ptr<const PreparedRotation> ModelWeights::residual_rotation(int64_t hidden) const {
  const InputRotation r = source_->residual_rotation();
  if (r.is_none()) return nullptr;
  if (const std::string p = rotation_problem(r, hidden); !p.empty())
    throw FormatError(path_ + ": the residual stream's rotation does not fit the hidden width " +
                      std::to_string(hidden) + ": " + p);
  return std::make_shared<const PreparedRotation>(r, hidden);
}

std::shared_ptr<const PreparedRotation> ModelWeights::rotation(const std::string& name) const {
  for (const auto& info : source_->tensors()) {
    if (info.name != name) continue;
    if (info.rotation.is_none() || info.shape.empty()) return nullptr;
    const int64_t cols = info.shape.back();
    std::lock_guard lock(rotations_mu_);
    auto& r = rotations_[{int(info.rotation.kind), info.rotation.block, info.rotation.seed, cols}];
    if (!r) r = std::make_shared<const PreparedRotation>(info.rotation, cols);
    return r;
  }
  return nullptr;
}

std::vector<PackedRows> ModelWeights::packed(const std::string& name, const Shape& expected) const {
  if (!packed_kernels_) return {};
  const SourceTensorInfo* t = nullptr;
  for (const auto& info : source_->tensors())
    if (info.name == name) t = &info;
  if (!t || !t->format || t->shape.size() != 2) return {};
  if (t->shape != expected)
    throw ShapeError(path_ + ": tensor " + name + " has shape " + shape_str(t->shape) + ", expected " +
                      shape_str(expected) + " from config.json");
  std::vector<PackedRows> out = source_->read_packed(name);
  if (copy_packed_)
    for (auto& c : out) c.view = copy_to_anonymous_memory(c.view);
  return out;
}

}  // namespace arrowquant

namespace arrowquant {

const KernelEntry& ModelWeights::kernel_for(const PackedView& w) const {
  bool fallback = false;
  const KernelEntry& e = KernelRegistry::instance().select(*w.format, kernel_request_, &fallback, &w);
  if (fallback) {
    std::string note = std::string(w.format->name) + " (group " + std::to_string(w.geom.group_size) + "): no " +
                       activation_name(kernel_request_.activation) + "-activation kernel, using " +
                       activation_name(e.kernel->activation) + " / " + backend_name(e.kernel->backend) +
                       (kernel_request_.automatic ? " (--activations auto)" : " (fallback named by the caller)");
    bool seen = false;
    for (const auto& n : kernel_notes_) seen |= n == note;
    if (!seen) kernel_notes_.push_back(note);
  }
  return e;
}

}  // namespace arrowquant
