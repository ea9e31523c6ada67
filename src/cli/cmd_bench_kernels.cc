#include <cstdio>

#include "bench/kernel_bench.h"
#include "util/files.h"
#include "cli/commands.h"

namespace arrowquant::cli {

Runner add_bench_kernels(CLI::App& app) {
  struct Opts {
    KernelBenchOptions k;
    std::string json_out;
    bool json_stdout = false, quick = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--formats", o->k.formats, "Formats to measure")->delimiter(',');
  app.add_option("--group-size", o->k.group, "Group size of the synthetic weights");
  app.add_option("--threads", o->k.threads, "Thread counts, comma-separated")->delimiter(',');
  app.add_option("--large", o->k.large_rows,
                 "Rows = cols of the beyond-cache matrix (default: the smallest packed matrix at least twice "
                 "the last-level cache this machine reports)")
      ->check(CLI::Range(256, 65536));
  app.add_option("--small", o->k.small_rows, "Rows = cols of the in-cache matrix")->check(CLI::Range(64, 8192));
  app.add_option("--min-seconds", o->k.min_seconds, "Time spent per measurement");
  app.add_flag("--json", o->json_stdout, "Print JSON instead of Markdown");
  app.add_option("--json-file", o->json_out, "Also write the JSON to this file");
  app.add_flag("--quick", o->quick, "Small sizes and short runs (a smoke test, not a measurement)");
  app.footer("Random packed weights of each format; GB/s counts packed bytes (codes, scales, zero points)\n"
             "consumed per second. Baselines measured in the same run on the same sizes: read bandwidth,\n"
             "memcpy, and OpenBLAS fp32 sgemv on the float matrix of the same shape.");
  return [o]() {
    KernelBenchOptions k = o->k;
    k.large_cols = k.large_rows;
    k.small_cols = k.small_rows;
    if (o->quick) {
      k.large_rows = k.large_cols = 1024;
      k.small_rows = k.small_cols = 256;
      k.min_seconds = 0.02;
    }
    nlohmann::json r = run_kernel_bench(k, !o->json_stdout);
    if (!o->json_out.empty()) write_text_file(o->json_out, r.dump(2) + "\n");
    std::string out = o->json_stdout ? r.dump(2) + "\n" : kernel_bench_markdown(r);
    fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  };
}

}  // namespace arrowquant::cli
