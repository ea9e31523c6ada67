#include "tokenizers/unicode_text.h"

#include <utf8proc.h>

#include <cstdlib>

namespace arrowquant::text {

std::u32string decode_utf8(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(s.size());
  while (left > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // one bad byte becomes one replacement character
      out.push_back(0xFFFD);
      ++p, --left;
      continue;
    }
    out.push_back(char32_t(cp));
    p += n, left -= n;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(utf8proc_int32_t(c), buf);
  out.append(reinterpret_cast<const char*>(buf), size_t(n));
}

std::string encode_utf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

bool is_whitespace(char32_t c) {
  switch (c) {
    case '\t': case '\n': case 0x0B: case 0x0C: case '\r': case ' ': case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_control(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (utf8proc_category(utf8proc_int32_t(c))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
    return true;
  switch (utf8proc_category(utf8proc_int32_t(c))) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_nonspacing_mark(char32_t c) {
  return utf8proc_category(utf8proc_int32_t(c)) == UTF8PROC_CATEGORY_MN;
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

char32_t to_lower(char32_t c) { return char32_t(utf8proc_tolower(utf8proc_int32_t(c))); }

std::u32string nfd(const std::u32string& s) {
  if (s.empty()) return s;
  // Decompose each code point, then put combining marks in canonical order.
  std::u32string out;
  out.reserve(s.size() * 2);
  for (char32_t c : s) {
    utf8proc_int32_t buf[8];
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(utf8proc_int32_t(c), buf, 8,
                                                 utf8proc_option_t(UTF8PROC_DECOMPOSE), &boundclass);
    if (n < 0 || n > 8) {
      out.push_back(c);
      continue;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(char32_t(buf[i]));
  }
  // Canonical ordering: stable sort runs of combining marks by combining class.
  for (size_t i = 1; i < out.size(); ++i) {
    auto ccc = [](char32_t ch) { return utf8proc_get_property(utf8proc_int32_t(ch))->combining_class; };
    for (size_t j = i; j > 0 && ccc(out[j]) != 0 && ccc(out[j - 1]) > ccc(out[j]); --j)
      std::swap(out[j], out[j - 1]);
  }
  return out;
}

}  // namespace arrowquant::text
