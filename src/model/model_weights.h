// The model code's only view of weights: tensors by name, as float32, shape-checked. Behind it is
// any TensorSource (safetensors, llama2.c, Parquet V1, every V2 format), so nothing above this line
// knows how the weights were stored.
#pragma once
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/kernel_registry.h"
#include "arrowquant/packed_tensor.h"
#include "arrowquant/tensor.h"
#include "arrowquant/tensor_source.h"

namespace arrowquant {

class ModelWeights {
 public:
  // Throws IoError/FormatError naming `path` when nothing loadable is there.
  explicit ModelWeights(const std::string& path);
  // Weights from a source already open (a command opens its model once and passes it down).
  ModelWeights(std::shared_ptr<const TensorSource> source, const std::string& path);

  const std::string& path() const { return path_; }
  // The folder holding config.json and tokenizer files (the path itself, or the file's folder).
  const std::string& folder() const { return folder_; }
  std::string kind() const { return source_->kind(); }
  // config.json as Hugging Face spells it; FormatError when the model has none.
  const nlohmann::json& config() const;

  bool has(const std::string& name) const;
  // "int8" for a model quantised with SmoothQuant (its scales were chosen for int8 activations),
  // "f32" otherwise.
  std::string preferred_activations() const;
  // The tensor as float32. FormatError naming the file and the tensor when it is missing or its
  // shape differs from `expected`.
  std::vector<float> load(const std::string& name, const Shape& expected) const;
  // The packed chunks of a quantised 2-D tensor, shape-checked; empty when the tensor is stored in
  // float (or packed kernels are off): use load() then.
  std::vector<PackedRows> packed(const std::string& name, const Shape& expected) const;
  // The rotation packed() views of a tensor are stored in (inputs must be rotated before the kernels
  // multiply them: Linear does it); nullptr when none. Tensors rotated alike share one.
  std::shared_ptr<const PreparedRotation> rotation(const std::string& name) const;
  // A decoder stored with its residual stream rotated (model/residual_rotation.h): that rotation
  // prepared for rows of `hidden` values; nullptr for every other model. FormatError when the stored
  // rotation does not fit the width.
  std::shared_ptr<const PreparedRotation> residual_rotation(int64_t hidden) const;
  // A diffusion model's static activation clips per timestep group (empty for most files).
  TimeGroupClips time_groups() const { return source_->time_groups(); }

  // With packed kernels on, quantised tensors are offered as packed views into the mapped file
  // (packed()); off (the default), every tensor is dequantised to float32 by load(). Set it before
  // loading tensors.
  // copy: packed tensors are copied once into 2 MB-aligned anonymous memory (huge pages where the
  // kernel gives them) instead of read in place: measured +9–16 % decode on Qwen2.5-0.5B shapes, for
  // ~1 s more load time and the weights held twice (page cache + copy) until the cache is reclaimed.
  void set_packed_kernels(bool on, bool copy = false) { packed_kernels_ = on, copy_packed_ = copy; }
  // Which product kernels packed tensors ask the registry for; fallbacks taken are recorded.
  void set_kernel_request(const KernelRequest& r) { kernel_request_ = r; }
  const KernelEntry& kernel_for(const PackedView& w) const;
  const std::vector<std::string>& kernel_notes() const { return kernel_notes_; }

 private:
  PackedView copy_to_anonymous_memory(PackedView v) const;
  std::string path_, folder_;
  std::shared_ptr<const TensorSource> source_;
  nlohmann::json config_;
  bool packed_kernels_ = false, copy_packed_ = false;
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  mutable std::vector<std::unique_ptr<void, FreeDeleter>> copies_;  // copy_packed_: arenas views point to
  mutable size_t arena_used_ = 0, arena_size_ = 0;
  KernelRequest kernel_request_;
  mutable std::vector<std::string> kernel_notes_;
  mutable std::mutex rotations_mu_;
  mutable std::map<std::tuple<int, int64_t, uint64_t, int64_t>, std::shared_ptr<const PreparedRotation>> rotations_;
};

}  // namespace arrowquant
