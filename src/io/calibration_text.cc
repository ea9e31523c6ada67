#include "io/calibration_text.h"

#include <cstdint>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

std::vector<std::string> parse_calibration_documents(const std::string& text, bool jsonl, const std::string& where) {
  std::istringstream in(text);
  std::vector<std::string> docs;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (!jsonl) {
      docs.push_back(line);
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) throw ValueError(where + ":" + std::to_string(n) + ": not valid JSON");
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
      throw ValueError(where + ":" + std::to_string(n) + ": expected an object with a \"text\" string");
    if (!j["text"].get<std::string>().empty()) docs.push_back(j["text"].get<std::string>());
  }
  if (docs.empty()) throw ValueError(where + ": the calibration file holds no text");
  return docs;
}

std::vector<std::string> read_calibration_documents(const std::string& path) {
  std::string text;
  try {
    text = read_text_file(path);
  } catch (const IoError&) {
    throw IoError(path + ": cannot read the calibration file");
  }
  return parse_calibration_documents(text, std::filesystem::path(path).extension() == ".jsonl", path);
}

}  // namespace arrowquant
