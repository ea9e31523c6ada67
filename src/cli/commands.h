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

inline EngineOptions engine_options(int threads, size_t max_length, const std::string& weights,
                                    const std::string& activations = "auto", const std::string& fallback = "") {
  EngineOptions o;
  o.threads = threads;
  o.max_length = max_length;
  o.weights = weights_mode_from_name(weights);
  o.activations = activations;
  o.kernel_fallback = fallback;
  return o;
}

// --activations f32|int8 and --kernel-fallback f32|int8, for the decoder commands.
inline void add_kernel_options(CLI::App& app, std::string& activations, std::string& fallback) {
  app.add_option("--activations", activations,
                 "Activations of the packed products: f32, int8, or auto (default: int8 wherever packed "
                 "weights have an int8 kernel, else f32; SmoothQuant models always int8). Prefill of more "
                 "than 8 tokens multiplies dequantised tiles in f32 either way")
      ->check(CLI::IsMember({"auto", "f32", "int8"}));
  app.add_option("--kernel-fallback", fallback,
                 "Activation type to use for weights that have no kernel for --activations (default: refuse)")
      ->check(CLI::IsMember({"f32", "int8"}));
}

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

// --calibration, --samples, --seq-len (analyze, compare; quantize registers them as settings).
struct CalibrationArgs {
  std::string file;
  int64_t samples = 0, seq_len = 0;
  // Appends the given ones as config settings.
  void append_to(std::vector<std::pair<std::string, std::string>>& flags) const {
    if (!file.empty()) flags.push_back({"calibration", file});
    if (samples) flags.push_back({"samples", std::to_string(samples)});
    if (seq_len) flags.push_back({"seq_len", std::to_string(seq_len)});
  }
};
inline void add_calibration_options(CLI::App& app, CalibrationArgs& c, const std::string& what) {
  app.add_option("--calibration", c.file, "Calibration text (.txt, one document per line, or .jsonl): " + what)
      ->check(CLI::ExistingFile);
  app.add_option("--samples", c.samples, "Calibration sequences (default 128)");
  app.add_option("--seq-len", c.seq_len, "Tokens per calibration sequence (default 128 encoders, 256 decoders)");
}

// --weights auto|packed|float, shared by every command that runs a model.
inline void add_weights_option(CLI::App& app, std::string& mode) {
  app.add_option("--weights", mode,
                 "Quantised weights: packed (fused kernels on the mapped file), packed-copy (the same, "
                 "copied at load into huge-page memory: faster decode, slower load, more memory), float "
                 "(dequantised at load) or auto (float for encoders and small decoders, packed otherwise)")
      ->check(CLI::IsMember({"auto", "packed", "packed-copy", "float"}));
}
Runner add_quantize(CLI::App& app);
Runner add_inspect(CLI::App& app);
Runner add_dequantize(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_encode(CLI::App& app);
Runner add_bench_encode(CLI::App& app);  // under `bench`
Runner add_bench_decode(CLI::App& app);  // under `bench`
Runner add_bench_kernels(CLI::App& app);  // under `bench`
Runner add_validate(CLI::App& app);
Runner add_generate(CLI::App& app);
Runner add_ppl(CLI::App& app);
Runner add_analyze(CLI::App& app);
Runner add_compare(CLI::App& app);
// "2,3,4,8" -> {2, 3, 4, 8}; ValueError naming `what` otherwise. int_list_text is the inverse.
std::vector<int> parse_int_list(const std::string& text, const std::string& what);
std::string int_list_text(const std::vector<int>& values);

}  // namespace arrowquant::cli
