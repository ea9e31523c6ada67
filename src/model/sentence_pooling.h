// The sentence-transformers head after the encoder: pooling over valid tokens (mean, [CLS], max or
// mean·√len), then optional L2 normalisation, as declared by modules.json and 1_Pooling/config.json.
#pragma once
#include <string>
#include <vector>

#include "model/bert_encoder.h"

namespace arrowquant {

struct SentencePooling {
  enum class Mode { Mean, Cls, Max, MeanSqrtLen };
  Mode mode = Mode::Mean;
  bool normalize = true;
  // Reads modules.json / 1_Pooling/config.json in `folder`. Without modules.json: mean pooling
  // followed by L2 normalisation (what all-MiniLM-style models use).
  static SentencePooling from_folder(const std::string& folder);
  std::string describe() const;
  // out: [batch, hidden]
  void apply(const EncoderOutput& o, float* out) const;
};

}  // namespace arrowquant
