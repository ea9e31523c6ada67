#include "pipeline/model_session.h"

#include "arrowquant/error.h"
#include "io/calibration_text.h"
#include "model/calibration_model.h"
#include "model/dit_calibration.h"
#include "model/model_weights.h"
#include "model/residual_rotation.h"

namespace arrowquant {

ModelSession::ModelSession(std::string path) : path_(std::move(path)), source_(open_tensor_source(path_)) {}
ModelSession::~ModelSession() = default;

void ModelSession::rotate_residual(uint64_t seed, int64_t max_block) {
  if (model_) throw Error("internal: the residual stream is rotated before the model is loaded");
  source_ = rotated_residual_source(source_, seed, max_block);
}

CalibrationModel& ModelSession::calibration_model(int threads) {
  if (!model_) {
    weights_ = std::make_unique<ModelWeights>(source_, path_);
    model_ = CalibrationModel::open(*weights_, threads);
  }
  return *model_;
}

const std::vector<std::vector<int32_t>>& ModelSession::calibration_sequences(const QuantConfig& cfg) {
  const std::string key = cfg.calibration + "|" + std::to_string(cfg.samples) + "|" + std::to_string(cfg.seq_len);
  if (key == sequences_key_) return sequences_;
  CalibrationModel& m = calibration_model(cfg.threads);
  const int64_t seq_len = cfg.seq_len > 0 ? cfg.seq_len : m.default_seq_len();
  if (seq_len > m.context())
    throw ValueError("--seq-len " + std::to_string(seq_len) + " is longer than the model's context of " +
                     std::to_string(m.context()) + " tokens");
  if (seq_len < 2) throw ValueError("--seq-len must be at least 2 tokens");
  std::vector<std::string> docs;
  if (m.kind() == "diffusion") {  // calibrates on its own denoising trajectories, never on text
    if (cfg.calibration != kTrajectoryCalibration)
      throw ValueError("a diffusion model calibrates on the states of its own denoising runs: --calibration " +
                       std::string(kTrajectoryCalibration) + ", not a text file ('" + cfg.calibration + "')");
  } else {
    docs = read_calibration_documents(cfg.calibration);
  }
  auto seqs = m.sequences(docs, cfg.samples, seq_len);
  if (seqs.empty()) throw ValueError(cfg.calibration + ": the calibration text gives no sequence of two tokens or more");
  sequences_ = std::move(seqs);
  sequences_key_ = key;
  return sequences_;
}

}  // namespace arrowquant
