#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "io/npy_writer.h"
#include "util/files.h"
#include "util/clock.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "cli/progress.h"

namespace arrowquant::cli {

Runner add_encode(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    std::string model, file, format = "json", output;
    std::vector<std::string> texts;
    int batch = 32;
    bool ids = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "Model folder (safetensors or ArrowQuant output) or Parquet file")->required();
  auto* text = app.add_option("-t,--text", o->texts, "A sentence to embed (repeatable)");
  auto* file = app.add_option("-f,--file", o->file, "Text file with one sentence per line ('-' reads stdin)");
  text->excludes(file);
  app.add_option("--batch-size", o->batch, "Sentences per forward pass")->check(CLI::Range(1, 4096));
  app.add_option("--format", o->format, "json (default) or npy (float32 [n, dim]; needs -o or a pipe)")
      ->check(CLI::IsMember({"json", "npy"}));
  app.add_option("-o,--output", o->output, "Write to this file (atomically) instead of stdout");
  o->engine.add_to(app, EngineArgs::kEncoder);
  app.add_flag("--ids", o->ids, "Also output the token ids (json only)");
  app.add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  app.footer("Embeddings are what sentence-transformers computes: WordPiece tokens, the BERT encoder, the\n"
             "pooling of modules.json / 1_Pooling (mean by default) and L2 normalisation when declared.");
  return [o]() {
    std::vector<std::string> texts = o->texts;
    if (!o->file.empty()) texts = read_lines(o->file, false);
    if (texts.empty()) throw ValueError("nothing to encode: give --text or --file");
    if (o->format == "npy" && o->output.empty() && isatty(STDOUT_FILENO))
      throw ValueError("--format npy writes binary: give -o FILE or redirect stdout");
    o->engine.resolve();
    ArrowEngine engine(o->model, o->engine.options());
    Progress bar("encode");
    EncodeOptions eo;
    eo.batch_size = o->batch;
    if (!o->quiet && texts.size() > size_t(o->batch)) eo.progress = [&](size_t d, size_t n) { bar.completed(d, n); };
    double t0 = now_seconds();
    Embeddings e = engine.encode(texts, eo);
    double secs = now_seconds() - t0;
    bar.finish();
    std::string payload;
    if (o->format == "npy") {
      payload = npy_bytes_f32({e.rows, e.dim}, e.values.data());
    } else {
      nlohmann::json j;
      j["model"] = o->model;
      j["weights"] = engine.weights_kind();
      j["pooling"] = engine.pooling();
      j["dim"] = e.dim;
      j["max_length"] = engine.max_length();
      j["seconds"] = secs;
      j["embeddings"] = nlohmann::json::array();
      for (int64_t i = 0; i < e.rows; ++i)
        j["embeddings"].push_back(std::vector<float>(e.row(i), e.row(i) + e.dim));
      if (o->ids) j["ids"] = engine.tokenize(texts);
      payload = j.dump() + "\n";
    }
    if (o->output.empty()) {
      fwrite(payload.data(), 1, payload.size(), stdout);
    } else {
      write_text_file(o->output, payload);  // atomic; binary-safe for npy
      if (!o->quiet)
        fprintf(stderr, "%zu embeddings of %lld floats in %.2f s → %s\n", texts.size(), (long long)e.dim, secs,
                o->output.c_str());
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
