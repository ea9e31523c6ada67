// The chat template renderer equals Jinja2's rendering of the bundled SmolLM2's own template
// (tests/goldens/smollm2/chat_template.json), taken from the model's GGUF as the runtime takes it.
#include "tokenizers/chat_template.h"

#include <gtest/gtest.h>

#include "arrowquant/error.h"
#include "io/json_file.h"
#include "tokenizers/load_tokenizer.h"
#include "test_util.h"

using namespace arrowquant;

TEST(ChatTemplate, SmolLM2RendersAsJinja2Does) {
  const auto golden = read_json_file(aqtest::source_dir() + "/tests/goldens/smollm2/chat_template.json");
  const auto tok = load_text_tokenizer(aqtest::source_dir() + "/models/smollm2-135m");
  ASSERT_EQ(tok->chat_template(), golden["template"].get<std::string>());
  const ChatTemplate t = ChatTemplate::from_jinja(tok->chat_template(), "smollm2");
  EXPECT_EQ(t.default_system(), "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  int cases = 0;
  for (const auto& c : golden["cases"]) {
    std::vector<ChatMessage> messages;
    for (const auto& m : c["messages"]) messages.push_back({m["role"], m["content"]});
    EXPECT_EQ(t.render(messages, c["add_generation_prompt"]), c["expected"].get<std::string>()) << c.dump();
    ++cases;
  }
  EXPECT_EQ(cases, 8);
  // The end of a turn is a special token of the vocabulary, so generation can stop there.
  EXPECT_GE(tok->special_id(t.end_of_turn()), 0);
}

TEST(ChatTemplate, QwenStyleEscapesAndUnknownDialects) {
  // Qwen2.5 writes its default system message with '\n' escapes inside a Jinja string literal.
  const ChatTemplate q = ChatTemplate::from_jinja(
      "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
      "{%- else %}{{- '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{%- endif %}",
      "qwen");
  EXPECT_EQ(q.default_system(), "You are Qwen.");
  EXPECT_EQ(q.render({{"user", "hi"}}, true),
            "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_THROW(ChatTemplate::from_jinja("", "none"), FormatError);
  EXPECT_THROW(ChatTemplate::from_jinja("{{ bos_token }}[INST] {{ message['content'] }} [/INST]", "mistral"), FormatError);
  EXPECT_THROW(q.render({{"tool", "x"}}, false), ValueError);
}
