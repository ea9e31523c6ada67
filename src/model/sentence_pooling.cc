#include "model/sentence_pooling.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "arrowquant/error.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace arrowquant {

SentencePooling SentencePooling::from_folder(const std::string& folder) {
  SentencePooling p;
  fs::path modules = fs::path(folder) / "modules.json";
  std::error_code ec;
  if (!fs::is_regular_file(modules, ec)) return p;
  nlohmann::json mods = read_json_file(modules.string());
  if (!mods.is_array()) throw FormatError(modules.string() + ": expected a JSON array of modules");
  p.normalize = false;
  const std::string where = modules.string();
  for (const auto& m : mods) {
    const std::string type = json_string(m, "type", "", where);
    if (type.ends_with(".Normalize")) {
      p.normalize = true;
    } else if (type.ends_with(".Pooling")) {
      const std::string sub = json_string(m, "path", "1_Pooling", where);
      if (sub.find("..") != std::string::npos || (!sub.empty() && sub[0] == '/'))
        throw FormatError(where + ": module path '" + sub + "' leaves the model folder");
      const fs::path cfg = fs::path(folder) / sub / "config.json";
      if (!fs::is_regular_file(cfg, ec)) continue;  // sentence-transformers' default is mean
      const nlohmann::json c = read_json_file(cfg.string());
      const std::string cw = cfg.string();
      if (json_bool(c, "pooling_mode_cls_token", false, cw)) p.mode = Mode::Cls;
      else if (json_bool(c, "pooling_mode_max_tokens", false, cw)) p.mode = Mode::Max;
      else if (json_bool(c, "pooling_mode_mean_sqrt_len_tokens", false, cw)) p.mode = Mode::MeanSqrtLen;
      else if (json_bool(c, "pooling_mode_mean_tokens", true, cw)) p.mode = Mode::Mean;
      else throw FormatError(cw + ": no pooling mode this engine supports is enabled");
    } else if (!type.ends_with(".Transformer")) {
      throw FormatError(where + ": module type '" + type + "' is not supported");
    }
  }
  return p;
}

std::string SentencePooling::describe() const {
  const char* m = mode == Mode::Mean ? "mean" : mode == Mode::Cls ? "cls" : mode == Mode::Max ? "max" : "mean_sqrt_len";
  return std::string(m) + (normalize ? " + L2 normalise" : "");
}

void SentencePooling::apply(const EncoderOutput& o, float* out) const {
  const int64_t H = o.hidden;
  for (int64_t b = 0; b < o.batch; ++b) {
    float* e = out + b * H;
    const int64_t len = o.lengths[size_t(b)];
    if (mode == Mode::Cls) {
      std::copy(o.token(b, 0), o.token(b, 0) + H, e);
    } else if (mode == Mode::Max) {
      std::fill(e, e + H, -std::numeric_limits<float>::infinity());
      for (int64_t t = 0; t < len; ++t)
        for (int64_t j = 0; j < H; ++j) e[j] = std::max(e[j], o.token(b, t)[j]);
    } else {
      std::vector<double> acc(size_t(H), 0.0);
      for (int64_t t = 0; t < len; ++t)
        for (int64_t j = 0; j < H; ++j) acc[size_t(j)] += o.token(b, t)[j];
      double div = mode == Mode::Mean ? double(std::max<int64_t>(len, 1)) : std::sqrt(double(std::max<int64_t>(len, 1)));
      for (int64_t j = 0; j < H; ++j) e[j] = float(acc[size_t(j)] / div);
    }
    if (normalize) {
      double n2 = 0;
      for (int64_t j = 0; j < H; ++j) n2 += double(e[j]) * e[j];
      // sentence-transformers clamps the norm at 1e-12 (torch.nn.functional.normalize)
      float inv = float(1.0 / std::max(std::sqrt(n2), 1e-12));
      for (int64_t j = 0; j < H; ++j) e[j] *= inv;
    }
  }
}

}  // namespace arrowquant
