#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "arrowquant/error.h"
#include "arrowquant/quant_format.h"
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

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stoi(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw ValueError(what + ": '" + item + "' is not a whole number (expected a list like " + int_list_text(format_widths()) + ")");
    }
  }
  if (out.empty()) throw ValueError(what + " is empty");
  return out;
}

std::string int_list_text(const std::vector<int>& values) {
  std::string s;
  for (int v : values) s += (s.empty() ? "" : ",") + std::to_string(v);
  return s;
}

}  // namespace arrowquant::cli
