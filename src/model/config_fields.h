// Reading required fields of a Hugging Face config.json with errors that name the file and key.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"

namespace arrowquant {

inline int64_t config_positive_int(const nlohmann::json& cfg, const char* key, const std::string& where) {
  if (!cfg.contains(key) || !cfg[key].is_number_integer() || cfg[key].get<int64_t>() <= 0)
    throw FormatError(where + ": config.json needs a positive integer '" + key + "'");
  return cfg[key].get<int64_t>();
}

}  // namespace arrowquant
