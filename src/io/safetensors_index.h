// model.safetensors.index.json: which shard file holds each tensor of a sharded safetensors model.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace arrowquant {

struct SafetensorsIndex {
  std::vector<std::string> shards;                // file names, in order of first mention
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name
};

// FormatError naming `where` for bad JSON, a missing weight_map, or a shard name that is not a plain
// file name in the model folder (no path separators, no "..").
SafetensorsIndex parse_safetensors_index(const std::string& json_text, const std::string& where);
SafetensorsIndex read_safetensors_index(const std::string& path);

}  // namespace arrowquant
