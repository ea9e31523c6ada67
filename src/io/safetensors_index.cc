#include "io/safetensors_index.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

SafetensorsIndex parse_safetensors_index(const std::string& json_text, const std::string& where) {
  const nlohmann::json idx = nlohmann::json::parse(json_text, nullptr, false);
  if (idx.is_discarded()) throw FormatError(where + ": invalid JSON");
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    throw FormatError(where + ": no weight_map object");
  SafetensorsIndex out;
  for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
    if (!it.value().is_string()) throw FormatError(where + ": weight_map values must be file names");
    const std::string f = it.value().get<std::string>();
    if (f.empty() || f == "." || f == ".." || f.find('/') != std::string::npos || f.find('\\') != std::string::npos ||
        f.find('\0') != std::string::npos)
      throw FormatError(where + ": shard name \"" + f + "\" of tensor " + it.key() +
                        " is not a file name in the model folder");
    out.weight_map[it.key()] = f;
    if (std::find(out.shards.begin(), out.shards.end(), f) == out.shards.end()) out.shards.push_back(f);
  }
  if (out.shards.empty()) throw FormatError(where + ": weight_map names no tensors");
  return out;
}

SafetensorsIndex read_safetensors_index(const std::string& path) {
  return parse_safetensors_index(read_text_file(path), path);
}

}  // namespace arrowquant
