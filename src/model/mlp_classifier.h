// A small image classifier (a stack of Linears with ReLU between, as scripts/goldens/
// train_fashion_dit.py trains it): its argmax judges whether a generated image shows the class asked
// for, and the activations of its feature layer are the space of the Fréchet distance.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/linear.h"
#include "model/model_weights.h"

namespace arrowquant {

class MlpClassifier {
 public:
  // config.json: architecture "mlp_classifier", layers (tensor prefixes), sizes (input, then each
  // layer's outputs), feature_layer, classes. FormatError naming the folder otherwise.
  MlpClassifier(const ModelWeights& w, int threads);
  int64_t input_size() const { return sizes_.front(); }
  int64_t feature_size() const { return feature_size_; }
  const std::vector<std::string>& classes() const { return classes_; }

  struct Output {
    std::vector<float> features;  // [n, feature_size]
    std::vector<int32_t> predicted;
  };
  // x [n, input_size] (images flattened, pixels in [-1, 1]).
  Output run(const float* x, int64_t n) const;

 private:
  std::vector<Linear> layers_;
  std::vector<int64_t> sizes_;
  size_t feature_layer_ = 0;
  int64_t feature_size_ = 0;
  std::vector<std::string> classes_;
};

}  // namespace arrowquant
