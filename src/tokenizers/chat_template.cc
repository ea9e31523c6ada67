#include "tokenizers/chat_template.h"

#include "arrowquant/error.h"

namespace arrowquant {

namespace {

constexpr const char* kStart = "<|im_start|>";
constexpr const char* kEnd = "<|im_end|>";

// Jinja string-literal escapes as Python writes them in templates ('\n' inside quotes).
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

ChatTemplate ChatTemplate::chatml(std::string default_system) {
  ChatTemplate t;
  t.default_system_ = std::move(default_system);
  return t;
}

ChatTemplate ChatTemplate::from_jinja(const std::string& source, const std::string& where) {
  if (source.empty()) throw FormatError(where + ": the model carries no chat template");
  if (source.find(kStart) == std::string::npos || source.find(kEnd) == std::string::npos)
    throw FormatError(where + ": its chat template is not ChatML (<|im_start|> … <|im_end|>), the dialect "
                      "supported; template begins: " + source.substr(0, 120));
  // A literal "<|im_start|>system\n…<|im_end|>" in the template is the system message it inserts
  // when the conversation has none (SmolLM2, Qwen2.5).
  std::string def;
  for (const std::string opener : {std::string(kStart) + "system\n", std::string(kStart) + "system\\n"}) {
    for (size_t b = source.find(opener); b != std::string::npos && def.empty(); b = source.find(opener, b + 1)) {
      const size_t text = b + opener.size(), e = source.find(kEnd, text);
      if (e == std::string::npos) break;
      const std::string literal = source.substr(text, e - text);
      // Only a plain literal: "' + message['content'] + '" is the system message passed in.
      if (literal.find('\'') == std::string::npos && literal.find('"') == std::string::npos &&
          literal.find("{{") == std::string::npos && literal.find("{%") == std::string::npos)
        def = unescape(literal);
    }
  }
  return chatml(def);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  std::string out;
  auto turn = [&](const std::string& role, const std::string& content) {
    out += kStart + role + "\n" + content + kEnd + "\n";
  };
  if (!default_system_.empty() && !messages.empty() && messages[0].role != "system") turn("system", default_system_);
  for (const auto& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw ValueError("chat message role '" + m.role + "' is not one of system, user, assistant");
    turn(m.role, m.content);
  }
  if (add_generation_prompt) out += std::string(kStart) + "assistant\n";
  return out;
}

}  // namespace arrowquant
