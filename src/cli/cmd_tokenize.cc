// Token ids of a text as a decoder model's tokenizer makes them (as llama.cpp's llama-tokenize
// prints them), for checking a tokenizer against another tool's.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "arrowquant/error.h"
#include "tokenizers/load_tokenizer.h"
#include "util/files.h"
#include "cli/commands.h"

namespace arrowquant::cli {

Runner add_tokenize(CLI::App& app) {
  struct Opts {
    std::string model, prompt, file, json_out;
    bool bos = false, pieces = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "Decoder model (or its tokenizer file: tokenizer.json, .gguf, llama2.c .bin)")
      ->required();
  auto* p = app.add_option("-p,--prompt", o->prompt, "Text to tokenize");
  app.add_option("-f,--file", o->file, "Tokenize this file's whole contents instead")->excludes(p)->check(CLI::ExistingFile);
  app.add_flag("--bos", o->bos, "Put the BOS token first when the model uses one");
  app.add_flag("--pieces", o->pieces, "One line per token: id and its text");
  app.add_option("--json", o->json_out, "Write {\"ids\": [...]} to this file instead of printing the ids");
  return [o]() {
    if (o->file.empty() && o->prompt.empty()) throw ValueError("give --prompt TEXT or --file FILE");
    const auto tok = load_text_tokenizer(o->model);
    const std::string text = o->file.empty() ? o->prompt : read_text_file(o->file);
    const std::vector<int32_t> ids = tok->encode(text, o->bos && tok->adds_bos());
    if (!o->json_out.empty()) {
      write_text_file(o->json_out, nlohmann::json{{"ids", ids}}.dump() + "\n");
    } else if (o->pieces) {
      int32_t prev = -1;
      for (int32_t id : ids) {
        printf("%6d '%s'\n", id, tok->piece(id, prev).c_str());
        prev = id;
      }
    } else {
      printf("%s\n", nlohmann::json(ids).dump().c_str());
    }
    fprintf(stderr, "%zu tokens\n", ids.size());
    return 0;
  };
}

}  // namespace arrowquant::cli
