#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizers/bpe_tokenizer.h"

#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <memory>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "arrowquant/error.h"
#include "io/gguf_reader.h"
#include "tokenizers/unicode_text.h"
#include "io/json_file.h"

namespace fs = std::filesystem;

namespace arrowquant {

namespace {
const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
}  // namespace

std::vector<std::string> bpe_pre_regexes(const std::string& name) {
  if (name == "gpt-2" || name == "gpt2" || name == "default" || name.empty()) return {kGpt2Regex};
  // Digits one by one, then GPT-2's pattern (llama.cpp: starcoder, refact, command-r, smollm, ...).
  if (name == "smollm" || name == "starcoder" || name == "refact" || name == "command-r" || name == "codeshell")
    return {R"(\p{N})", kGpt2Regex};
  const std::string contractions = R"((?i:'s|'t|'re|'ve|'m|'ll|'d))";
  if (name == "qwen2")
    return {contractions + R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  if (name == "llama-bpe" || name == "llama3")
    return {contractions + R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
  throw FormatError("BPE pre-tokenizer '" + name + "' is not supported (gpt-2, qwen2, llama-bpe, smollm)");
}

std::string gpt2_byte_char(uint8_t b) {
  int extra = 0;
  for (int c = 0; c < b; ++c)
    if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) ++extra;
  bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
  std::string s;
  text::append_utf8(s, char32_t(printable ? b : 256 + extra));
  return s;
}

struct BpeTokenizer::Regexes {
  std::vector<pcre2_code*> codes;
  ~Regexes() {
    for (pcre2_code* c : codes) pcre2_code_free(c);
  }
};

BpeTokenizer::BpeTokenizer(BpeVocabulary v) : v_(std::move(v)), re_(std::make_unique<Regexes>()) {
  for (size_t i = 0; i < v_.tokens.size(); ++i) ids_.emplace(v_.tokens[i], int32_t(i));
  for (size_t i = 0; i < v_.merges.size(); ++i)
    merge_rank_.emplace(v_.merges[i].first + " " + v_.merges[i].second, int32_t(i));
  std::vector<std::string> specials;
  for (const auto& s : v_.specials) {
    auto it = ids_.find(s);
    if (it != ids_.end() && special_ids_.emplace(s, it->second).second) specials.push_back(s);
  }
  splitter_ = SpecialTokenSplitter(std::move(specials));
  for (int b = 0; b < 256; ++b) {
    byte_to_char_[b] = gpt2_byte_char(uint8_t(b));
    char_to_byte_[uint32_t(text::decode_utf8(byte_to_char_[b])[0])] = uint8_t(b);
  }
  for (const std::string& pattern : v_.pre_regexes) {
    int err;
    PCRE2_SIZE off;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw FormatError("BPE pre-tokenizer regex does not compile at " + std::to_string(off) + ": " +
                        reinterpret_cast<char*>(msg));
    }
    re_->codes.push_back(code);
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: falls back to the interpreter
  }
}

BpeTokenizer::~BpeTokenizer() = default;

int32_t BpeTokenizer::special_id(const std::string& text) const {
  auto it = special_ids_.find(text);
  return it == special_ids_.end() ? -1 : it->second;
}

void BpeTokenizer::bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  std::vector<std::string> sym;
  for (unsigned char c : word) sym.push_back(byte_to_char_[c]);
  while (sym.size() > 1) {
    int32_t best = INT32_MAX;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = merge_rank_.find(sym[i] + " " + sym[i + 1]);
      if (it != merge_rank_.end()) best = std::min(best, it->second);
    }
    if (best == INT32_MAX) break;
    const auto& pair = v_.merges[size_t(best)];
    std::vector<std::string> next;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == pair.first && sym[i + 1] == pair.second) {
        next.push_back(sym[i] + sym[i + 1]);
        ++i;
      } else {
        next.push_back(std::move(sym[i]));
      }
    }
    sym = std::move(next);
  }
  for (const auto& s : sym) {
    auto it = ids_.find(s);
    if (it != ids_.end()) {
      out.push_back(it->second);
      continue;
    }
    // A symbol missing from the vocabulary: fall back to its single-byte tokens.
    std::u32string cps = text::decode_utf8(s);
    for (char32_t cp : cps) {
      std::string one;
      text::append_utf8(one, cp);
      auto jt = ids_.find(one);
      if (jt == ids_.end()) throw FormatError("BPE vocabulary has no token for byte symbol '" + one + "'");
      out.push_back(jt->second);
    }
  }
}

void BpeTokenizer::encode_plain(const std::string& raw, std::vector<int32_t>& out) const {
  if (raw.empty()) return;
  std::string text = raw;
  if (v_.nfc) {
    utf8proc_uint8_t* n = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(raw.c_str()));
    if (n) {  // null for invalid UTF-8: the regex then sees the bytes as they are
      text = reinterpret_cast<char*>(n);
      free(n);
    }
  }
  split(text, 0, out);
}

// Pieces of `text` by pattern `level` (the unmatched gaps between matches are pieces too), each
// split further by the next pattern; after the last, each piece is one BPE word.
void BpeTokenizer::split(const std::string& text, size_t level, std::vector<int32_t>& out) const {
  if (level == re_->codes.size()) return bpe_word(text, out);
  pcre2_code* code = re_->codes[level];
  // Owned: bpe_word throws on a vocabulary without a byte's token (found by the fuzzer as a leak).
  const std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  pcre2_match_data* md = match.get();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos < text.size()) {
    int rc = pcre2_match(code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) {  // nothing more matches: the rest is one piece
      split(text.substr(pos), level + 1, out);
      break;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (b > pos) split(text.substr(pos, b - pos), level + 1, out);  // bytes no alternative matched
    if (e == b) e = b + 1;  // an empty match cannot advance; take one byte
    split(text.substr(b, e - b), level + 1, out);
    pos = e;
  }
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int32_t> out;
  if (add_bos && v_.bos >= 0) out.push_back(v_.bos);
  splitter_.split(
      text, [&](std::string_view plain) { encode_plain(std::string(plain), out); },
      [&](const std::string& special) { out.push_back(special_ids_.at(special)); });
  return out;
}

std::string BpeTokenizer::piece(int32_t id, int32_t) const {
  if (id < 0 || size_t(id) >= v_.tokens.size()) throw ValueError("token id " + std::to_string(id) + " out of range");
  const std::string& t = v_.tokens[size_t(id)];
  if (special_ids_.count(t)) return t;
  std::string bytes;
  for (char32_t cp : text::decode_utf8(t)) {
    auto it = char_to_byte_.find(uint32_t(cp));
    if (it != char_to_byte_.end()) bytes.push_back(char(it->second));
    else text::append_utf8(bytes, cp);  // not byte-level text: keep it as written
  }
  return bytes;
}

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_gguf(const std::string& path) { return from_gguf(GgufFile(path)); }

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_gguf(const GgufFile& g) {
  const std::string& path = g.path();
  try {
    std::string model = g.at("tokenizer.ggml.model").get<std::string>();
    if (model != "gpt2")
      throw FormatError(path + ": tokenizer.ggml.model is '" + model + "'; only byte-level BPE ('gpt2') is supported");
    BpeVocabulary v;
    v.tokens = g.at("tokenizer.ggml.tokens").get<std::vector<std::string>>();
    for (const auto& m : g.at("tokenizer.ggml.merges")) {
      std::string s = m.get<std::string>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) throw FormatError(path + ": merge '" + s + "' has no space");
      v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    }
    if (g.has("tokenizer.ggml.token_type")) {
      const auto& types = g.at("tokenizer.ggml.token_type");
      for (size_t i = 0; i < types.size() && i < v.tokens.size(); ++i) {
        const int64_t t = json_as_int(types[i], path + ": tokenizer.ggml.token_type");
        if (t == 3 || t == 4) v.specials.push_back(v.tokens[i]);  // control and user-defined
      }
    }
    v.pre_regexes = bpe_pre_regexes(g.has("tokenizer.ggml.pre") ? g.at("tokenizer.ggml.pre").get<std::string>() : "gpt-2");
    if (g.has("tokenizer.chat_template")) v.chat_template = g.at("tokenizer.chat_template").get<std::string>();
    auto token_id = [&](const char* key) -> int32_t {
      if (!g.has(key)) return -1;
      const int64_t id = json_as_int(g.at(key), path + ": " + key);
      return id >= 0 && size_t(id) < v.tokens.size() ? int32_t(id) : -1;
    };
    v.bos = token_id("tokenizer.ggml.bos_token_id");
    v.eos = token_id("tokenizer.ggml.eos_token_id");
    if (g.has("tokenizer.ggml.add_bos_token")) v.add_bos = g.at("tokenizer.ggml.add_bos_token").get<bool>();
    return std::make_unique<BpeTokenizer>(std::move(v));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": GGUF tokenizer metadata of the wrong type: " + e.what());
  }
}

namespace {

// The pre-tokenisation patterns a tokenizer.json declares: ByteLevel with use_regex (GPT-2's
// pattern), or a Sequence of Split (a regex, isolated), Digits and ByteLevel (Qwen2, Llama 3, SmolLM).
std::vector<std::string> regexes_from_json(const nlohmann::json& pre, const std::string& path) {
  if (pre.is_null()) throw FormatError(path + ": no pre_tokenizer; byte-level BPE needs one");
  const std::string type = json_string(pre, "type", "", path + ": pre_tokenizer");
  const nlohmann::json single = nlohmann::json::array({pre});
  const nlohmann::json* steps = &single;
  if (type == "Sequence") steps = &pre.at("pretokenizers");
  std::vector<std::string> out;
  bool byte_level = false;
  for (const auto& p : *steps) {
    const std::string where = path + ": pre_tokenizer";
    const std::string t = json_string(p, "type", "", where);
    if (t == "Split" && p.contains("pattern") && p["pattern"].contains("Regex")) {
      if (json_string(p, "behavior", "Isolated", where) != "Isolated" || json_bool(p, "invert", false, where))
        throw FormatError(path + ": Split pre-tokenizer with behaviour other than Isolated is not supported");
      out.push_back(json_string(p["pattern"], "Regex", "", where));
    } else if (t == "Digits") {
      out.push_back(json_bool(p, "individual_digits", false, where) ? R"(\p{N})" : R"(\p{N}+)");
    } else if (t == "ByteLevel") {
      byte_level = true;
      if (json_bool(p, "use_regex", true, where)) out.push_back(kGpt2Regex);
    } else {
      throw FormatError(path + ": pre-tokenizer '" + t + "' is not supported");
    }
  }
  if (!byte_level) throw FormatError(path + ": only byte-level BPE tokenizers are supported");
  return out;
}

// tokenizer_config.json's chat_template: a string, or a list of {name, template} (the "default" one).
std::string chat_template_from_json(const nlohmann::json& c, const std::string& where) {
  auto it = c.find("chat_template");
  if (it == c.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array())
    for (const auto& t : *it)
      if (t.is_object() && json_string(t, "name", "", where) == "default") return json_string(t, "template", "", where);
  return "";
}

// No vocabulary has more tokens; a larger id would make the token table absurdly large.
constexpr int64_t kMaxTokenId = (int64_t(1) << 24) - 1;

}  // namespace

std::unique_ptr<BpeTokenizer> BpeTokenizer::from_tokenizer_json(const std::string& path) {
  nlohmann::json j = read_json_file(path);
  try {
    const auto& model = j.at("model");
    if (model.value("type", "") != "BPE")
      throw FormatError(path + ": tokenizer model is '" + model.value("type", "") + "', not BPE");
    if (j.contains("normalizer") && !j["normalizer"].is_null()) {
      std::string nt = j["normalizer"].value("type", "");
      if (nt != "NFC") throw FormatError(path + ": normalizer '" + nt + "' is not supported (none or NFC)");
    }
    BpeVocabulary v;
    v.nfc = j.contains("normalizer") && !j["normalizer"].is_null();
    const auto& vocab = model.at("vocab");
    v.tokens.resize(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const int64_t id = json_as_int(it.value(), path + ": the id of token '" + it.key() + "'");
      if (id < 0 || id > kMaxTokenId) throw FormatError(path + ": token id " + std::to_string(id) + " of '" + it.key() + "' is out of range");
      if (size_t(id) >= v.tokens.size()) v.tokens.resize(size_t(id) + 1);
      v.tokens[size_t(id)] = it.key();
    }
    for (const auto& m : model.at("merges")) {
      if (m.is_string()) {
        std::string s = m.get<std::string>();
        size_t sp = s.find(' ', 1);
        if (sp == std::string::npos) throw FormatError(path + ": merge '" + s + "' has no space");
        v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {
        v.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
      }
    }
    if (j.contains("added_tokens"))
      for (const auto& a : j["added_tokens"]) {
        std::string content = a.at("content").get<std::string>();
        const int64_t id = json_as_int(a.at("id"), path + ": an added token's id");
        if (id < 0 || id > kMaxTokenId) throw FormatError(path + ": added token id " + std::to_string(id) + " is out of range");
        if (size_t(id) >= v.tokens.size()) v.tokens.resize(size_t(id) + 1);
        v.tokens[size_t(id)] = content;
        v.specials.push_back(content);
      }
    v.pre_regexes = regexes_from_json(j.value("pre_tokenizer", nlohmann::json()), path);
    // bos/eos by name from tokenizer_config.json beside it, when present.
    fs::path cfg = fs::path(path).parent_path() / "tokenizer_config.json";
    std::error_code ec;
    if (fs::is_regular_file(cfg, ec)) {
      nlohmann::json c = read_json_file(cfg.string());
      auto token_text = [](const nlohmann::json& t) -> std::string {
        if (t.is_string()) return t.get<std::string>();
        if (t.is_object() && t.contains("content")) return t["content"].get<std::string>();
        return "";
      };
      auto find = [&](const std::string& s) -> int32_t {
        for (size_t i = 0; i < v.tokens.size(); ++i)
          if (!s.empty() && v.tokens[i] == s) return int32_t(i);
        return -1;
      };
      if (c.contains("bos_token")) v.bos = find(token_text(c["bos_token"]));
      if (c.contains("eos_token")) v.eos = find(token_text(c["eos_token"]));
      v.add_bos = c.value("add_bos_token", false);
      v.chat_template = chat_template_from_json(c, cfg.string());
    }
    return std::make_unique<BpeTokenizer>(std::move(v));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": not a tokenizer.json this reader understands: " + e.what());
  }
}

}  // namespace arrowquant
