// Calibration text: the documents a calibrated quantisation run feeds the model.
#pragma once
#include <string>
#include <vector>

namespace arrowquant {

// Calibration documents from a .txt file (one per non-empty line) or a .jsonl file (a "text" field
// per line). ValueError naming the file when it holds no text or a line is malformed.
std::vector<std::string> read_calibration_documents(const std::string& path);
// The same from text already in memory; `where` names it in errors.
std::vector<std::string> parse_calibration_documents(const std::string& text, bool jsonl, const std::string& where);

}  // namespace arrowquant
