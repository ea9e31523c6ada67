#include <cstdio>

#include <nlohmann/json.hpp>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/text_tokenizer.h"
#include "util/files.h"
#include "util/units.h"
#include "util/interrupt.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "cli/sampling_args.h"

namespace arrowquant::cli {

Runner add_generate(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    SamplingArgs sampling;
    std::string model, prompt, system, json_out;
    bool chat = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("MODEL", o->model, "Decoder model: HF folder, GGUF, llama2.c .bin, Parquet V1 or ArrowQuant folder")
      ->required();
  app.add_option("-p,--prompt", o->prompt, "Text to continue (with --chat: the user's message)")->required();
  app.add_flag("--chat", o->chat, "Wrap the prompt in the model's chat template as one user turn");
  app.add_option("--system", o->system, "With --chat: the system message (default: the template's own)");
  o->sampling.add_to(app);
  o->engine.add_to(app, EngineArgs::kDecoder);
  app.add_option("--json", o->json_out, "Write ids, text and timings as JSON to this file");
  app.add_flag("-q,--quiet", o->quiet, "No timing summary on stderr");
  app.footer("Tokens are printed as they are chosen. Generation ends at EOS, a --stop token, --max-tokens,\n"
             "the end of the context or (with --chat) the end of the assistant's turn.");
  return [o]() {
    o->engine.resolve();
    GenerateOptions g = o->sampling.resolve(o->engine);
    if (!o->system.empty() && !o->chat) throw ValueError("--system needs --chat");
    ArrowEngine engine(o->model, o->engine.options());
    if (!engine.is_decoder()) throw ValueError(o->model + " is an encoder (" + engine.architecture() + "); use encode");
    for (const auto& n : engine.kernel_notes()) fprintf(stderr, "note: %s\n", n.c_str());
    std::string prompt = o->prompt;
    if (o->chat) {
      const ChatTemplate t = ChatTemplate::from_jinja(engine.text_tokenizer().chat_template(), o->model);
      std::vector<ChatMessage> messages;
      if (!o->system.empty()) messages.push_back({"system", o->system});
      messages.push_back({"user", o->prompt});
      prompt = t.render(messages, true);
      g.stop_tokens.push_back(t.end_of_turn());
    } else {
      fputs(prompt.c_str(), stdout);
    }
    fflush(stdout);
    g.on_token = [](const std::string& piece, int32_t) {
      fwrite(piece.data(), 1, piece.size(), stdout);
      fflush(stdout);
      return !interrupt_requested();
    };
    GenerateResult r = engine.generate(prompt, g);
    printf("\n");
    fflush(stdout);
    if (!o->quiet) {
      fprintf(stderr, "[%zu prompt tokens in %.3f s; %zu generated in %.3f s = %.1f tokens/s; stop: %s; KV cache %s %s; seed %llu]\n",
              r.prompt_ids.size(), r.prefill_seconds, r.ids.size(), r.decode_seconds,
              r.decode_seconds > 0 ? double(r.ids.size()) / r.decode_seconds : 0.0, r.stop_reason.c_str(),
              g.kv.describe().c_str(), human_bytes(double(r.kv_cache_bytes)).c_str(), (unsigned long long)g.seed);
    }
    if (!o->json_out.empty()) {
      nlohmann::json j = {{"model", o->model}, {"prompt", prompt}, {"text", r.text}, {"prompt_ids", r.prompt_ids},
                          {"ids", r.ids}, {"prefill_seconds", r.prefill_seconds}, {"decode_seconds", r.decode_seconds},
                          {"kv_cache", g.kv.name()}, {"kv_cache_bytes", r.kv_cache_bytes},
                          {"stop_reason", r.stop_reason}, {"seed", g.seed}};
      write_text_file(o->json_out, j.dump(2) + "\n");
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
