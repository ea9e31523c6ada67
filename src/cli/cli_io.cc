#include <cstdio>
#include <fstream>
#include <iostream>

#include "arrowquant/error.h"
#include "util/files.h"
#include "cli/commands.h"

namespace arrowquant::cli {

std::vector<std::string> read_lines(const std::string& path, bool skip_empty) {
  std::ifstream f;
  std::istream* in = &std::cin;
  if (path != "-") {
    f.open(path);
    if (!f) throw IoError(path + ": cannot open");
    in = &f;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(*in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!skip_empty || !line.empty()) lines.push_back(line);
  }
  return lines;
}

void emit_report(const nlohmann::json& json, const std::string& markdown, const std::string& format,
                 const std::string& json_file, const std::string& markdown_file) {
  if (!json_file.empty()) write_text_file(json_file, json.dump(2) + "\n");
  if (!markdown_file.empty()) write_text_file(markdown_file, markdown);
  const std::string out = format == "json" ? json.dump(2) + "\n" : markdown;
  fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace arrowquant::cli
