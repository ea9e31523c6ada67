#include <cstdio>

#include "arrowquant/util.h"
#include "cli/commands.h"

namespace arrowquant::cli {

void emit_report(const nlohmann::json& json, const std::string& markdown, const std::string& format,
                 const std::string& json_file, const std::string& markdown_file) {
  if (!json_file.empty()) write_text_file(json_file, json.dump(2) + "\n");
  if (!markdown_file.empty()) write_text_file(markdown_file, markdown);
  const std::string out = format == "json" ? json.dump(2) + "\n" : markdown;
  fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace arrowquant::cli
