#include "model/mlp_classifier.h"

#include <algorithm>

#include "arrowquant/error.h"
#include "io/json_file.h"

namespace arrowquant {

MlpClassifier::MlpClassifier(const ModelWeights& w, int threads) {
  const nlohmann::json& cfg = w.config();
  const std::string& where = w.path();
  if (json_string(cfg, "architecture", "", where) != "mlp_classifier")
    throw FormatError(where + ": not an image classifier (config.json architecture must be 'mlp_classifier')");
  auto names = cfg.find("layers");
  auto sizes = cfg.find("sizes");
  if (names == cfg.end() || !names->is_array() || names->empty() || sizes == cfg.end() || !sizes->is_array() ||
      sizes->size() != names->size() + 1)
    throw FormatError(where + ": config.json needs 'layers' (names) and 'sizes' (one more than the layers)");
  for (const auto& s : *sizes) {
    const int64_t v = json_as_int(s, where + ": sizes");
    if (v < 1 || v > (int64_t(1) << 24)) throw FormatError(where + ": implausible size " + std::to_string(v));
    sizes_.push_back(v);
  }
  const std::string feature = json_string(cfg, "feature_layer", "", where);
  for (size_t i = 0; i < names->size(); ++i) {
    if (!(*names)[i].is_string()) throw FormatError(where + ": layer names must be strings");
    const std::string name = (*names)[i].get<std::string>();
    layers_.push_back(Linear::load(w, name, sizes_[i + 1], sizes_[i], true, threads));
    if (name == feature) feature_layer_ = i;
  }
  if (feature.empty() || layers_[feature_layer_].name != feature || feature_layer_ + 1 == layers_.size())
    throw FormatError(where + ": feature_layer '" + feature + "' must name a hidden layer");
  feature_size_ = sizes_[feature_layer_ + 1];
  if (auto c = cfg.find("classes"); c != cfg.end() && c->is_array())
    for (const auto& n : *c) classes_.push_back(n.is_string() ? n.get<std::string>() : n.dump());
  if (!classes_.empty() && int64_t(classes_.size()) != sizes_.back())
    throw FormatError(where + ": " + std::to_string(classes_.size()) + " class names for " + std::to_string(sizes_.back()) + " outputs");
}

MlpClassifier::Output MlpClassifier::run(const float* x, int64_t n) const {
  Output out;
  std::vector<float> a(x, x + n * input_size()), b;
  for (size_t i = 0; i < layers_.size(); ++i) {
    b.assign(size_t(n * layers_[i].out), 0.0f);
    layers_[i].forward(a.data(), n, b.data());
    if (i + 1 < layers_.size())
      for (float& v : b) v = std::max(v, 0.0f);
    if (i == feature_layer_) out.features = b;
    a.swap(b);
  }
  const int64_t k = sizes_.back();
  for (int64_t r = 0; r < n; ++r)
    out.predicted.push_back(int32_t(std::max_element(a.begin() + r * k, a.begin() + (r + 1) * k) - (a.begin() + r * k)));
  return out;
}

}  // namespace arrowquant
