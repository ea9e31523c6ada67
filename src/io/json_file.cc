#include "io/json_file.h"

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

nlohmann::json read_json_file(const std::string& path) {
  try {
    return nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": invalid JSON: " + e.what());
  }
}

}  // namespace arrowquant
