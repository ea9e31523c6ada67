// A class-conditional diffusion transformer as diffusers' DiTTransformer2DModel defines it (Peebles &
// Xie): patchify (a stride-p convolution = one Linear over each patch) plus fixed 2-D sin-cos
// positions, blocks of adaLN-Zero (the timestep and label embedding of each block modulate its two
// LayerNorms and gate its two branches), attention and a tanh-GELU MLP, then the final adaLN layer and
// unpatchify. Weights come through ModelWeights, so every stored format runs here unchanged.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/time_group_clips.h"
#include "model/linear.h"
#include "model/model_weights.h"
#include "model/time_group_activations.h"

namespace arrowquant {

struct DitConfig {
  int64_t heads = 0, head_dim = 0, hidden = 0, layers = 0;
  int64_t in_channels = 0, out_channels = 0, sample_size = 0, patch = 0;
  int64_t num_classes = 0;  // the label table has one more row: the null class of guidance
  int64_t ff_inner = 0;
  float norm_eps = 1e-5f;   // the MLP branch's LayerNorm (the attention branch's and the final are 1e-6)
  bool attention_bias = true;

  // config.json of a DiTTransformer2DModel ("_class_name").
  static bool is_dit(const nlohmann::json& cfg);
  // FormatError naming `where` for anything but adaLN-Zero blocks with tanh GELU on square images.
  static DitConfig from_json(const nlohmann::json& cfg, const std::string& where);
  int64_t grid() const { return sample_size / patch; }
  int64_t tokens() const { return grid() * grid(); }
  int64_t image_values() const { return in_channels * sample_size * sample_size; }
};

class DitTransformer {
 public:
  DitTransformer(const ModelWeights& w, int threads);
  const DitConfig& config() const { return cfg_; }

  // The predicted noise for a batch: x [B, C, H, W], one timestep and one label per image (label
  // num_classes = unconditional). Returns [B, C, H, W] (the first C output channels when the model
  // also predicts a variance). ValueError on a label or timestep out of range.
  std::vector<float> forward(const float* x, int64_t batch, const std::vector<float>& timesteps,
                             const std::vector<int32_t>& labels) const;

  // forward() in its three stages, for calibration (one block at a time, as for text models):
  // the patch tokens h [B·tokens, hidden] of x, one block applied to h in place, and the final layer
  // with unpatchify. Timesteps and labels as forward() takes them, checked by forward() only.
  std::vector<float> embed(const float* x, int64_t batch) const;
  void run_block(int64_t block, float* h, int64_t batch, const std::vector<float>& timesteps,
                 const std::vector<int32_t>& labels) const;
  std::vector<float> output(const float* h, int64_t batch, const std::vector<float>& timesteps,
                            const std::vector<int32_t>& labels) const;

  // From now on forward() rounds the inputs of the Linears `clips` names to their static int8 clip
  // for each image's timestep group (model/time_group_activations.h). FormatError naming `file` when
  // a clip names a Linear this model has not.
  void use_static_activations(const TimeGroupClips& clips, const std::string& file);
  // Every Linear, in forward order (quantisation passes and reports walk them).
  std::vector<const Linear*> linears() const;
  // Block b's Linears: its timestep embedder, adaLN modulation, attention and MLP.
  std::vector<Linear*> block_linears(int64_t block);
  // Where a per-channel scale folds exactly into block b (AWQ, SmoothQuant): the attention's and the
  // MLP's inputs into the adaLN modulation, the attention output's into the value rows.
  std::vector<ScaleFold> block_folds(int64_t block);

 private:
  struct Block {
    Linear time_1, time_2;               // the block's own timestep embedder (256 → D → D)
    std::vector<float> label_table;      // [classes + 1, D]
    Linear modulation;                   // norm1.linear: D → 6D (shift, scale, gate) × (attention, MLP)
    Linear q, k, v, out, ff_in, ff_out;
  };
  // One block's working buffers, kept across the blocks of one forward(): allocated per block they
  // cost page faults and zeroing (a tenth of a sampling step). Every Linear still reads its own
  // buffer (calibration's statistics tell layers apart by their input).
  struct BlockScratch {
    std::vector<float> normed, q, k, v, ctx, mlp_in, branch, inner, mod;
  };
  // run_block and output on the timesteps' sinusoidal projection, computed once per forward().
  void run_block(int64_t block, float* h, int64_t batch, const std::vector<float>& time_proj,
                 const std::vector<int32_t>& labels, BlockScratch& scratch) const;
  std::vector<float> output_from(const float* h, int64_t batch, const std::vector<float>& time_proj,
                                 const std::vector<int32_t>& labels) const;
  // The block's conditioning per image [B, D]: SiLU of its timestep embedding plus its label embedding.
  std::vector<float> time_projection(const std::vector<float>& timesteps) const;  // [B, 256]
  std::vector<float> conditioning(const Block& b, const std::vector<float>& time_proj,
                                  const std::vector<int32_t>& labels) const;
  void attention(const float* q, const float* k, const float* v, int64_t batch, float* ctx) const;

  DitConfig cfg_;
  int threads_;
  std::shared_ptr<const TimeGroupActivations> static_activations_;  // null: inputs as they are
  Linear patch_embed_;                   // [D, C·p·p], features in (channel, row, column) order
  std::vector<float> positions_;         // [tokens, D] fixed sin-cos
  std::vector<Block> blocks_;
  Linear final_modulation_, final_proj_;  // proj_out_1 (D → 2D: shift, scale), proj_out_2 (D → p·p·out)
};

}  // namespace arrowquant
