// The small amount of Unicode the tokenizers need: UTF-8 decoding, character classes as Hugging Face
// `tokenizers` defines them, NFD and lower-casing (utf8proc provides the tables).
#pragma once
#include <string>

namespace arrowquant::text {

// Invalid UTF-8 bytes decode to U+FFFD, as Rust's from_utf8_lossy does.
std::u32string decode_utf8(const std::string& s);
std::string encode_utf8(const std::u32string& s);
void append_utf8(std::string& out, char32_t c);

bool is_whitespace(char32_t c);      // Unicode White_Space, plus \t \n \r
bool is_control(char32_t c);         // general category C*, except \t \n \r
bool is_punctuation(char32_t c);     // ASCII punctuation or general category P*
bool is_nonspacing_mark(char32_t c); // general category Mn
bool is_cjk_ideograph(char32_t c);   // the CJK blocks BERT splits on
char32_t to_lower(char32_t c);
std::u32string nfd(const std::u32string& s);

}  // namespace arrowquant::text
