// Chat prompts in the form a model was trained on. Models ship their template as Jinja source
// (tokenizer.chat_template in a GGUF, chat_template in tokenizer_config.json); no C++ Jinja engine
// is packaged for Debian or PyPI, so the source is recognised by dialect and rendered here. ChatML
// (<|im_start|>role\n…<|im_end|>: SmolLM2, Qwen2, many more) is the dialect known; its default system
// message, when the template inserts one, is taken from the template itself. The rendering is checked
// against Jinja2's on the bundled model's template (tests/goldens/smollm2/chat_template.json).
#pragma once
#include <string>
#include <vector>

namespace arrowquant {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  // FormatError naming `where` when the template is empty or of a dialect not known here.
  static ChatTemplate from_jinja(const std::string& source, const std::string& where);
  // ChatML with an optional default system message (inserted when the first message is not one).
  static ChatTemplate chatml(std::string default_system = "");

  std::string dialect() const { return "chatml"; }
  const std::string& default_system() const { return default_system_; }
  // The conversation as the model reads it; add_generation_prompt opens the assistant's turn.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The special token that ends a turn (generation stops there).
  std::string end_of_turn() const { return "<|im_end|>"; }

 private:
  std::string default_system_;
};

}  // namespace arrowquant
