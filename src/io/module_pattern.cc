#include "io/module_pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "arrowquant/error.h"

namespace arrowquant {
namespace {
// Module names are short (< 200 bytes); a sane pattern decides in a few hundred steps. The limits
// bound a pathological one to milliseconds.
constexpr uint32_t kMatchLimit = 100000;
constexpr uint32_t kDepthLimit = 1000;
constexpr size_t kMaxPatternBytes = 4096;

std::string pcre2_message(int code) {
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(code, msg, sizeof msg);
  return reinterpret_cast<const char*>(msg);
}
}  // namespace

struct ModulePattern::Code {
  pcre2_code* re = nullptr;
  pcre2_match_context* limits = nullptr;
  ~Code() {
    pcre2_match_context_free(limits);
    pcre2_code_free(re);
  }
};

ModulePattern::ModulePattern(const std::string& pattern, const std::string& where)
    : code_(std::make_unique<Code>()), where_(where) {
  if (pattern.size() > kMaxPatternBytes)
    throw FormatError(where + ": a module pattern of " + std::to_string(pattern.size()) + " bytes (at most " +
                      std::to_string(kMaxPatternBytes) + ")");
  int err = 0;
  PCRE2_SIZE off = 0;
  code_->re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_ANCHORED, &err, &off,
                            nullptr);
  if (!code_->re)
    throw FormatError(where + ": '" + pattern + "' is not a valid regular expression (at " + std::to_string(off) +
                      ": " + pcre2_message(err) + ")");
  code_->limits = pcre2_match_context_create(nullptr);
  if (!code_->limits) throw std::bad_alloc();
  pcre2_set_match_limit(code_->limits, kMatchLimit);
  pcre2_set_depth_limit(code_->limits, kDepthLimit);
}

ModulePattern::~ModulePattern() = default;
ModulePattern::ModulePattern(ModulePattern&&) noexcept = default;
ModulePattern& ModulePattern::operator=(ModulePattern&&) noexcept = default;

bool ModulePattern::matches_start_of(const std::string& name) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code_->re, nullptr);
  if (!md) throw std::bad_alloc();
  const int rc = pcre2_match(code_->re, reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(), 0, 0, md,
                             code_->limits);
  pcre2_match_data_free(md);
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  throw FormatError(where_ + ": matching module " + name + " gave up (" + pcre2_message(rc) +
                    "): the pattern backtracks too much");
}

}  // namespace arrowquant
