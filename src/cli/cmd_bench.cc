#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "util/files.h"
#include "util/clock.h"
#include "util/units.h"
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

// Drops the file's pages from the page cache (no root needed), so the next open reads from disk.
void evict_from_page_cache(const std::string& file) {
  int fd = ::open(file.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
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
  auto cold = std::make_shared<bool>(false);
  load->add_flag("--cold", *cold, "Evict each file from the page cache before every run (reads hit the disk)");
  load->add_option("FILES", *files, "Weights files or model folders; the first is the baseline for the ratios")
      ->required();
  load->add_option("--repeat", *repeat, "Runs per file (the median is reported)")->check(CLI::Range(1, 1000));
  load->add_option("--json", *json_out, "Also write the results as JSON to this file");
  load->footer("Without --cold, files are read once before timing: the numbers are for a warm page cache.");
  Runner load_runner = [=]() {
    std::vector<LoadTiming> rows;
    for (const auto& f : *files) {
      LoadTiming r;
      r.path = find_weights_file(f);
      r.file_bytes = size_t(std::filesystem::file_size(r.path));
      time_load(f, true, &r.version);  // warm-up: page cache and allocator
      std::vector<double> open_t, load_t;
      for (int i = 0; i < *repeat; ++i) {
        if (*cold) evict_from_page_cache(r.path);
        open_t.push_back(time_load(f, false, &r.version));
        if (*cold) evict_from_page_cache(r.path);
        load_t.push_back(time_load(f, true, &r.version));
      }
      r.open_s = median(open_t);
      r.load_s = median(load_t);
      rows.push_back(r);
    }
    printf("%s page cache, median of %d runs\n", *cold ? "cold" : "warm", *repeat);
    printf("| file | format | size | open (ms) | open ratio | open + dequantise all to fp32 (ms) | full ratio |\n");
    printf("|---|---|---:|---:|---:|---:|---:|\n");
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : rows) {
      const double ratio = r.load_s / rows[0].load_s, open_ratio = r.open_s / rows[0].open_s;
      printf("| %s | V%d | %s | %.2f | %.3f | %.2f | %.3f |\n", r.path.c_str(), r.version,
             human_bytes(double(r.file_bytes)).c_str(), r.open_s * 1e3, open_ratio, r.load_s * 1e3, ratio);
      j.push_back({{"path", r.path}, {"format_version", r.version}, {"file_bytes", r.file_bytes},
                   {"cold", *cold}, {"open_ms", r.open_s * 1e3}, {"load_ms", r.load_s * 1e3},
                   {"open_ratio_to_first", open_ratio}, {"load_ratio_to_first", ratio}});
    }
    if (!json_out->empty()) write_text_file(*json_out, j.dump(2) + "\n");
    return 0;
  };
  Runner encode_runner = add_bench_encode(*app.add_subcommand(
      "encode", "Sentences per second of encoder models at several batch sizes, measured in one run"));
  CLI::App* decode = app.add_subcommand("decode", "Decode tokens per second of decoder models, measured in one run");
  Runner decode_runner = add_bench_decode(*decode);
  CLI::App* kern = app.add_subcommand("kernels", "Packed-weight kernels against memory bandwidth, memcpy and fp32 sgemv");
  Runner kernels_runner = add_bench_kernels(*kern);
  CLI::App* gemm = app.add_subcommand("gemm", "Many activation rows times packed weights (prefill, batches) against fp32 sgemm");
  Runner gemm_runner = add_bench_gemm(*gemm);
  return [=]() {
    if (load->parsed()) return load_runner();
    if (decode->parsed()) return decode_runner();
    if (kern->parsed()) return kernels_runner();
    if (gemm->parsed()) return gemm_runner();
    return encode_runner();
  };
}

}  // namespace arrowquant::cli
