// Each subcommand registers its options on the CLI11 app and returns the function that runs it.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"

namespace arrowquant::cli {

using Runner = std::function<int()>;

Runner add_kernels(CLI::App& app);

// Lines of a text file ("-" = stdin) without their CR/LF terminators; empty lines dropped when asked.
// IoError naming the file when it cannot be opened.
std::vector<std::string> read_lines(const std::string& path, bool skip_empty);

// A report printed on stdout as Markdown or JSON (--format), and also written to --json/--markdown
// files when given (atomically).
void emit_report(const nlohmann::json& json, const std::string& markdown, const std::string& format,
                 const std::string& json_file, const std::string& markdown_file);

// --format markdown|json, --json FILE, --markdown FILE: the options of every emit_report command.
struct ReportArgs {
  std::string format = "markdown", json_file, markdown_file;
};
inline void add_report_options(CLI::App& app, ReportArgs& r) {
  app.add_option("--format", r.format, "Report on stdout: markdown (default) or json")
      ->check(CLI::IsMember({"markdown", "json"}));
  app.add_option("--json", r.json_file, "Also write the JSON report to this file");
  app.add_option("--markdown", r.markdown_file, "Also write the Markdown report to this file");
}
inline void emit_report(const nlohmann::json& json, const std::string& markdown, const ReportArgs& r) {
  emit_report(json, markdown, r.format, r.json_file, r.markdown_file);
}

Runner add_quantize(CLI::App& app);
Runner add_inspect(CLI::App& app);
Runner add_dequantize(CLI::App& app);
Runner add_export(CLI::App& app);
Runner add_import(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_encode(CLI::App& app);
Runner add_bench_encode(CLI::App& app);  // under `bench`
Runner add_bench_decode(CLI::App& app);  // under `bench`
Runner add_bench_kernels(CLI::App& app);  // under `bench`
Runner add_bench_gemm(CLI::App& app);  // under `bench`
Runner add_validate(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_sample(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_ppl(CLI::App& app);
Runner add_analyze(CLI::App& app);
Runner add_compare(CLI::App& app);
// "2,3,4,8" -> {2, 3, 4, 8}; ValueError naming `what` otherwise. int_list_text is the inverse.
std::vector<int> parse_int_list(const std::string& text, const std::string& what);
std::string int_list_text(const std::vector<int>& values);

}  // namespace arrowquant::cli
