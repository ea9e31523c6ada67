#include "model/residual_rotation.h"

#include <algorithm>
#include <vector>

#include "arrowquant/error.h"
#include "model/llama_decoder.h"

namespace arrowquant {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool in_layer(const std::string& name) { return name.rfind("model.layers.", 0) == 0; }

// rows x cols values transposed into out (cols x rows).
void transpose(const float* in, int64_t rows, int64_t cols, float* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

// Each column of a [rows x cols] matrix (a vector over the rows, the stream's width) rotated (or back).
void rotate_columns(const PreparedRotation& r, const Shape& shape, float* values, bool inverse) {
  const int64_t rows = shape[0], cols = shape.size() > 1 ? shape[1] : 1;
  std::vector<float> t(size_t(rows * cols));
  transpose(values, rows, cols, t.data());
  if (inverse) r.unrotate(t.data(), cols);
  else r.rotate(t.data(), cols);
  transpose(t.data(), cols, rows, values);
}

int64_t rows_of(const Shape& shape) {
  int64_t n = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) n *= shape[i];
  return n;
}

}  // namespace

ResidualRole residual_role(const std::string& name) {
  if (name == "model.embed_tokens.weight") return ResidualRole::Table;
  if (name == "lm_head.weight") return ResidualRole::Head;
  if (name == "model.norm.weight") return ResidualRole::FinalNorm;
  if (!in_layer(name)) return ResidualRole::Other;
  if (ends_with(name, ".input_layernorm.weight") || ends_with(name, ".post_attention_layernorm.weight"))
    return ResidualRole::BlockNorm;
  for (const char* r : {".self_attn.q_proj.weight", ".self_attn.k_proj.weight", ".self_attn.v_proj.weight",
                        ".mlp.gate_proj.weight", ".mlp.up_proj.weight"})
    if (ends_with(name, r)) return ResidualRole::Reader;
  if (ends_with(name, ".self_attn.o_proj.weight") || ends_with(name, ".mlp.down_proj.weight")) return ResidualRole::Writer;
  if (ends_with(name, ".self_attn.o_proj.bias") || ends_with(name, ".mlp.down_proj.bias")) return ResidualRole::WriterBias;
  return ResidualRole::Other;
}

std::string reader_norm(const std::string& name) {
  if (residual_role(name) != ResidualRole::Reader) return "";
  const size_t attn = name.find(".self_attn."), mlp = name.find(".mlp.");
  if (attn != std::string::npos) return name.substr(0, attn) + ".input_layernorm.weight";
  return name.substr(0, mlp) + ".post_attention_layernorm.weight";
}

void rotate_residual(const PreparedRotation& r, ResidualRole role, const Shape& shape, float* values,
                     const float* gamma) {
  const int64_t rows = rows_of(shape), cols = shape.empty() ? 0 : shape.back();
  switch (role) {
    case ResidualRole::Reader:
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t c = 0; c < cols; ++c) values[i * cols + c] *= gamma[c];
      r.rotate(values, rows);
      return;
    case ResidualRole::Table:
    case ResidualRole::Head: r.rotate(values, rows); return;
    case ResidualRole::Writer: rotate_columns(r, shape, values, false); return;
    case ResidualRole::WriterBias: r.rotate(values, 1); return;
    case ResidualRole::BlockNorm: std::fill(values, values + cols, 1.0f); return;
    case ResidualRole::FinalNorm:
    case ResidualRole::Other: return;
  }
}

void unrotate_residual(const PreparedRotation& r, ResidualRole role, const Shape& shape, float* values) {
  const int64_t rows = rows_of(shape);
  switch (role) {
    case ResidualRole::Reader:
    case ResidualRole::Table:
    case ResidualRole::Head: r.unrotate(values, rows); return;
    case ResidualRole::Writer: rotate_columns(r, shape, values, true); return;
    case ResidualRole::WriterBias: r.unrotate(values, 1); return;
    case ResidualRole::BlockNorm:
    case ResidualRole::FinalNorm:
    case ResidualRole::Other: return;
  }
}

namespace {

// Every call but read_f32 (and what it says of the rotation) goes to the wrapped source.
class ForwardingSource : public TensorSource {
 public:
  explicit ForwardingSource(std::shared_ptr<const TensorSource> base) : base_(std::move(base)) {}
  std::string kind() const override { return base_->kind(); }
  const std::vector<SourceTensorInfo>& tensors() const override { return base_->tensors(); }
  std::vector<uint8_t> read_raw(const std::string& name) const override { return base_->read_raw(name); }
  nlohmann::json model_config() const override { return base_->model_config(); }
  std::vector<std::string> companion_files() const override { return base_->companion_files(); }
  std::vector<CompanionFile> made_companions() const override { return base_->made_companions(); }
  std::string calibrated_activations() const override { return base_->calibrated_activations(); }
  TimeGroupClips time_groups() const override { return base_->time_groups(); }

 protected:
  std::shared_ptr<const TensorSource> base_;
};

class RotatedResidualSource : public ForwardingSource {
 public:
  RotatedResidualSource(std::shared_ptr<const TensorSource> base, uint64_t seed, int64_t max_block)
      : ForwardingSource(std::move(base)) {
    const nlohmann::json cfg = base_->model_config();
    if (!DecoderConfig::is_decoder(cfg))
      throw ValueError("--rotation residual rotates the residual stream of RMSNorm decoders (Llama, Qwen2); this "
                       "model is not one: use --rotation hadamard");
    const int64_t hidden = DecoderConfig::from_json(cfg, "the model's config").hidden;
    for (const auto& t : base_->tensors()) {
      if (t.format || !t.rotation.is_none())
        throw ValueError("tensor " + t.name + " is already quantised; rotate the residual stream of float weights");
      const ResidualRole role = residual_role(t.name);
      if (role != ResidualRole::Other && role != ResidualRole::Writer && role != ResidualRole::WriterBias &&
          (t.shape.empty() || t.shape.back() != hidden))
        throw ValueError("tensor " + t.name + " does not end in the hidden width " + std::to_string(hidden));
      if (role == ResidualRole::Writer && (t.shape.size() != 2 || t.shape[0] != hidden))
        throw ValueError("tensor " + t.name + " does not write the hidden width " + std::to_string(hidden));
    }
    rotation_ = hadamard_rotation(hidden, seed, max_block);
    if (rotation_.block < 2)
      throw ValueError("the hidden width " + std::to_string(hidden) + " has no Hadamard block to rotate by");
    prepared_ = std::make_unique<PreparedRotation>(rotation_, hidden);
  }
  FloatTensor read_f32(const std::string& name) const override {
    FloatTensor t = base_->read_f32(name);
    const ResidualRole role = residual_role(name);
    std::vector<float> gamma;
    if (role == ResidualRole::Reader) gamma = base_->read_f32(reader_norm(name)).values;
    rotate_residual(*prepared_, role, t.shape, t.values.data(), gamma.data());
    return t;
  }
  InputRotation residual_rotation() const override { return rotation_; }

 private:
  InputRotation rotation_;
  std::unique_ptr<PreparedRotation> prepared_;
};

class UnrotatedResidualSource : public ForwardingSource {
 public:
  explicit UnrotatedResidualSource(std::shared_ptr<const TensorSource> stored) : ForwardingSource(std::move(stored)) {
    const int64_t hidden = DecoderConfig::from_json(base_->model_config(), "the model's config").hidden;
    const InputRotation r = base_->residual_rotation();
    if (const std::string p = rotation_problem(r, hidden); !p.empty())
      throw FormatError("the residual stream's rotation does not fit the hidden width: " + p);
    prepared_ = std::make_unique<PreparedRotation>(r, hidden);
  }
  FloatTensor read_f32(const std::string& name) const override {
    FloatTensor t = base_->read_f32(name);
    unrotate_residual(*prepared_, residual_role(name), t.shape, t.values.data());
    return t;
  }

 private:
  std::unique_ptr<PreparedRotation> prepared_;
};

}  // namespace

std::shared_ptr<const TensorSource> rotated_residual_source(std::shared_ptr<const TensorSource> base, uint64_t seed,
                                                            int64_t max_block) {
  return std::make_shared<RotatedResidualSource>(std::move(base), seed, max_block);
}

std::shared_ptr<const TensorSource> unrotated_residual_source(std::shared_ptr<const TensorSource> stored) {
  if (stored->residual_rotation().is_none()) return stored;
  return std::make_shared<UnrotatedResidualSource>(std::move(stored));
}

}  // namespace arrowquant
