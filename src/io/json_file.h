// JSON files a model folder carries (config.json, tokenizer.json, modules.json, ...).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace arrowquant {

// Parsed contents; IoError when unreadable, FormatError naming the file on bad JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace arrowquant
