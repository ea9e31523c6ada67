// A conversation on the terminal: each line read is the user's turn, the reply streams as it is
// sampled, and the whole conversation, rendered with the model's chat template, is the next prompt.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "arrowquant/engine.h"
#include "arrowquant/error.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/text_tokenizer.h"
#include "util/interrupt.h"
#include "cli/commands.h"
#include "cli/engine_args.h"
#include "cli/sampling_args.h"

namespace arrowquant::cli {

Runner add_chat(CLI::App& app) {
  struct Opts {
    EngineArgs engine;
    SamplingArgs sampling;
    std::string model, system;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  o->sampling.g.max_tokens = 512;
  o->sampling.g.context = 4096;  // a long chat, without the KV cache of a model's full 8k–32k context
  app.add_option("MODEL", o->model, "Chat model: GGUF, HF folder or ArrowQuant folder carrying a chat template")
      ->required();
  app.add_option("--system", o->system, "System message (default: the template's own, if it has one)");
  o->sampling.add_to(app);
  o->engine.add_to(app, EngineArgs::kDecoder);
  app.add_flag("-q,--quiet", o->quiet, "No speed line after each reply");
  app.footer("Type a message and press Enter; the reply streams back. Ctrl-C stops a reply, /reset starts\n"
             "a new conversation, /exit or Ctrl-D ends. Lines also come from a pipe (one turn per line).");
  return [o]() {
    o->engine.resolve();
    GenerateOptions g = o->sampling.resolve(o->engine);
    ArrowEngine engine(o->model, o->engine.options());
    if (!engine.is_decoder()) throw ValueError(o->model + " is an encoder (" + engine.architecture() + ")");
    const ChatTemplate tmpl = ChatTemplate::from_jinja(engine.text_tokenizer().chat_template(), o->model);
    g.stop_tokens.push_back(tmpl.end_of_turn());
    const bool tty = isatty(STDIN_FILENO);
    std::vector<ChatMessage> history;
    if (!o->system.empty()) history.push_back({"system", o->system});
    const size_t fresh = history.size();
    if (tty) fprintf(stderr, "%s: chat (%s). /reset, /exit, Ctrl-D to end.\n", o->model.c_str(), tmpl.dialect().c_str());
    std::string line;
    while (true) {
      if (tty) fputs("> ", stdout), fflush(stdout);
      if (!std::getline(std::cin, line)) break;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        history.resize(fresh);
        continue;
      }
      if (line.empty()) continue;
      history.push_back({"user", line});
      std::string reply;
      g.on_token = [&](const std::string& piece, int32_t) {
        fwrite(piece.data(), 1, piece.size(), stdout);
        fflush(stdout);
        return !interrupt_requested();
      };
      GenerateResult r;
      try {
        r = engine.generate(tmpl.render(history, true), g);
      } catch (const ValueError& e) {  // the conversation no longer fits the context
        history.pop_back();
        fprintf(stderr, "\n%s; /reset to start again\n", e.what());
        continue;
      }
      printf("\n");
      fflush(stdout);
      clear_interrupt();
      history.push_back({"assistant", r.text});
      if (!o->quiet)
        fprintf(stderr, "[%zu prompt tokens, %zu generated at %.1f tokens/s; stop: %s]\n", r.prompt_ids.size(),
                r.ids.size(), r.decode_seconds > 0 ? double(r.ids.size()) / r.decode_seconds : 0.0,
                r.stop_reason.c_str());
    }
    return 0;
  };
}

}  // namespace arrowquant::cli
