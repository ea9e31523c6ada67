// What calibrated quantisation needs from a model, whatever its architecture: its tokenizer, its
// embeddings, one block run at a time on one sequence, and the block's Linears and scale-fold
// points. Encoders (BERT), decoders (Llama family) and diffusion transformers (model/dit_calibration.h)
// each provide it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/linear.h"
#include "model/model_weights.h"

namespace arrowquant {

class CalibrationModel {
 public:
  // The model at `w` (loaded with float weights) with its tokenizer. FormatError for an unsupported
  // architecture; IoError when the model folder has no tokenizer (calibration text needs one).
  static std::unique_ptr<CalibrationModel> open(const ModelWeights& w, int threads);
  virtual ~CalibrationModel() = default;

  virtual std::string kind() const = 0;  // "encoder" | "decoder" | "diffusion"
  virtual int64_t context() const = 0;   // positions the model accepts
  virtual int64_t default_seq_len() const = 0;
  // Calibration sequences of at most seq_len tokens from documents: an encoder takes one per
  // document (truncated); a decoder cuts the concatenated token stream into windows.
  virtual std::vector<std::vector<int32_t>> sequences(const std::vector<std::string>& docs, int64_t samples,
                                                      int64_t seq_len) const = 0;
  virtual int64_t blocks() const = 0;
  // Whether bias correction (b += (W − Ŵ)·E[x]) fits the model: not where a layer's mean input moves
  // with a condition the mean is taken over (a diffusion model's timestep).
  virtual bool bias_correction_fits() const { return true; }
  // A diffusion model's number of training timesteps and the timestep a calibration sequence was
  // recorded at (time-grouped statistics: --time-groups); 0 and -1 for models without timesteps.
  virtual int64_t train_timesteps() const { return 0; }
  virtual double timestep_of(const std::vector<int32_t>& seq) const {
    (void)seq;
    return -1;
  }
  // ValueError unless `groups` (--time-groups) can cut this model's timesteps: a diffusion model with
  // at least that many. 0 (none) always fits.
  void check_time_groups(int64_t groups) const;
  virtual std::vector<float> embed(const std::vector<int32_t>& ids) const = 0;  // [T, hidden]
  virtual void run_block(int64_t b, float* x, int64_t T) const = 0;            // in place
  virtual std::vector<Linear*> linears(int64_t b) = 0;
  virtual std::vector<ScaleFold> folds(int64_t b) = 0;
  // Block b's squared output error Σ‖block(x) − target‖² on one sequence x [T, hidden] with its
  // weights as they are now, its gradient added into g (linears(b) order; norm weights as folds(b)
  // names them). Negative, g untouched: this architecture has no backward pass.
  virtual double block_loss_gradient(int64_t b, const float* x, int64_t T, const float* target, BlockGradient& g) const {
    (void)b, (void)x, (void)T, (void)target, (void)g;
    return -1;
  }

  // What the model puts out for the last block's states x [T, hidden]: a decoder's next-token
  // log-probabilities [T, vocab], an encoder's unit-length mean-pooled embedding [hidden].
  virtual std::vector<float> output(const float* x, int64_t T) const = 0;
  // How far `probe` lies from `base` (two outputs of the same sequence): a decoder's KL(base ‖ probe)
  // summed over positions, an encoder's 1 − cosine; per_tokens() says what to divide by.
  virtual double divergence(const std::vector<float>& base, const std::vector<float>& probe) const = 0;
  virtual bool divergence_per_token() const = 0;
  // Float tables outside the blocks by tensor name (embeddings, an untied head): set_table replaces
  // one wherever the model reads it. table() is nullptr for a name the model has not.
  virtual std::vector<std::string> table_names() const = 0;
  virtual std::shared_ptr<const std::vector<float>> table(const std::string& name) const = 0;
  virtual void set_table(const std::string& name, std::shared_ptr<const std::vector<float>> values) = 0;
};

}  // namespace arrowquant
