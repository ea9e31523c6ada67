#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "arrowquant/util.h"
#include "arrowquant/weight_loader.h"
#include "cli/commands.h"

namespace arrowquant::cli {

namespace {
struct LoadTiming {
  std::string path;
  int version = 0;
  size_t file_bytes = 0;
  double open_s = 0, load_s = 0;  // medians
};

// Opens the file and dequantises every float tensor to float32: what a runtime does before its
// first forward pass when it has no fused kernels.
double time_load(const std::string& path, bool materialise, int* version) {
  const double t0 = now_seconds();
  auto w = WeightLoader::open(path);
  *version = w->format_version();
  if (materialise) {
    volatile float sink = 0;
    for (const auto& t : w->tensors()) {
      if (!t.format && !dtype_is_float(t.dtype)) continue;
      FloatTensor f = w->dequantize(t.name);
      sink = sink + f.values[0];
    }
  }
  return now_seconds() - t0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

Runner add_bench(CLI::App& app) {
  app.require_subcommand(1);
  CLI::App* load = app.add_subcommand("load", "Time opening weight files and dequantising them to float32");
  auto files = std::make_shared<std::vector<std::string>>();
  auto repeat = std::make_shared<int>(7);
  auto json_out = std::make_shared<std::string>();
  load->add_option("FILES", *files, "Weights files or model folders; the first is the baseline for the ratios")
      ->required();
  load->add_option("--repeat", *repeat, "Runs per file (the median is reported)")->check(CLI::Range(1, 1000));
  load->add_option("--json", *json_out, "Also write the results as JSON to this file");
  load->footer("Files are read once before timing, so the numbers are for a warm page cache.");
  return [=]() {
    std::vector<LoadTiming> rows;
    for (const auto& f : *files) {
      LoadTiming r;
      r.path = find_weights_file(f);
      r.file_bytes = size_t(std::filesystem::file_size(r.path));
      time_load(f, true, &r.version);  // warm-up: page cache and allocator
      std::vector<double> open_t, load_t;
      for (int i = 0; i < *repeat; ++i) {
        open_t.push_back(time_load(f, false, &r.version));
        load_t.push_back(time_load(f, true, &r.version));
      }
      r.open_s = median(open_t);
      r.load_s = median(load_t);
      rows.push_back(r);
    }
    printf("| file | format | size | open (ms) | open + dequantise to fp32 (ms) | ratio to first |\n");
    printf("|---|---|---:|---:|---:|---:|\n");
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : rows) {
      const double ratio = r.load_s / rows[0].load_s;
      printf("| %s | V%d | %s | %.2f | %.2f | %.3f |\n", r.path.c_str(), r.version,
             human_bytes(double(r.file_bytes)).c_str(), r.open_s * 1e3, r.load_s * 1e3, ratio);
      j.push_back({{"path", r.path}, {"format_version", r.version}, {"file_bytes", r.file_bytes},
                   {"open_ms", r.open_s * 1e3}, {"load_ms", r.load_s * 1e3}, {"ratio_to_first", ratio}});
    }
    if (!json_out->empty()) write_text_file(*json_out, j.dump(2) + "\n");
    return 0;
  };
}

}  // namespace arrowquant::cli
