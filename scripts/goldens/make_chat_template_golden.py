"""Golden for the chat template renderer (src/tokenizers/chat_template.cc): conversations rendered by
Jinja2 from the bundled SmolLM2-135M-Instruct's own template, with the environment Hugging Face
transformers' apply_chat_template uses (sandboxed, trim_blocks, lstrip_blocks).

Usage (goldens environment, scripts/setup_goldens.sh):
    .venv-goldens/bin/python scripts/goldens/make_chat_template_golden.py
writes tests/goldens/smollm2/chat_template.json.
"""
import json
import os

from gguf import GGUFReader
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODEL = os.path.join(ROOT, "models", "smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests", "goldens", "smollm2", "chat_template.json")

CONVERSATIONS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "You answer in one word."}, {"role": "user", "content": "Colour of the sky?"}],
    [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me a joke\nabout cats."}],
    [{"role": "user", "content": "  spaces  and ünïcødé  "}],
]


def main():
    template = GGUFReader(MODEL).fields["tokenizer.chat_template"].contents()
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    t = env.from_string(template)
    cases = []
    for messages in CONVERSATIONS:
        for gen in (True, False):
            cases.append({"messages": messages, "add_generation_prompt": gen,
                          "expected": t.render(messages=messages, add_generation_prompt=gen)})
    with open(OUT, "w") as f:
        json.dump({"source": "scripts/goldens/make_chat_template_golden.py", "template": template, "cases": cases},
                  f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} renderings")


if __name__ == "__main__":
    main()
