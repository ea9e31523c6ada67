#include <cstdio>

#include "bench/gemm_bench.h"
#include "cli/commands.h"
#include "util/files.h"

namespace arrowquant::cli {

Runner add_bench_gemm(CLI::App& app) {
  struct Opts {
    GemmBenchOptions g;
    std::string json_out;
    bool json_stdout = false, quick = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("--formats", o->g.formats, "Formats to measure")->delimiter(',');
  app.add_option("--group-size", o->g.group, "Group size of the synthetic weights");
  app.add_option("--outputs", o->g.rows, "Rows (outputs) of the weight matrix")->check(CLI::Range(1, 65536));
  app.add_option("--inputs", o->g.cols, "Columns (inputs) of the weight matrix")->check(CLI::Range(32, 65536));
  app.add_option("--rows", o->g.activation_rows, "Activation row counts (tokens of a prefill, sentences × tokens of a batch)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 16));
  app.add_option("--threads", o->g.threads, "Threads (0 = all cores)");
  app.add_option("--min-seconds", o->g.min_seconds, "Time spent per measurement");
  app.add_flag("--json", o->json_stdout, "Print JSON instead of Markdown");
  app.add_option("--json-file", o->json_out, "Also write the JSON to this file");
  app.add_flag("--quick", o->quick, "Small sizes and short runs (a smoke test, not a measurement)");
  app.footer("Random packed weights of each format times n activation rows, as prefill and encoder batches\n"
             "multiply them: the int8 GEMM (weights widened to bytes a panel at a time, u8 x s8 in int32), the\n"
             "decode kernel once per row, and the packed f32 path (fused rows up to 8, else dequantised tiles\n"
             "+ sgemm); GFLOP/s counts 2·n·rows·cols. Baseline in the same run: OpenBLAS sgemm on the float\n"
             "matrix of the same shape.");
  return [o]() {
    GemmBenchOptions g = o->g;
    if (o->quick) {
      g.rows = 256, g.cols = 256, g.activation_rows = {1, 16}, g.min_seconds = 0.02;
    }
    nlohmann::json r = run_gemm_bench(g, !o->json_stdout);
    if (!o->json_out.empty()) write_text_file(o->json_out, r.dump(2) + "\n");
    std::string out = o->json_stdout ? r.dump(2) + "\n" : gemm_bench_markdown(r);
    fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  };
}

}  // namespace arrowquant::cli
