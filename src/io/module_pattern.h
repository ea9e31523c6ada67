// A module-name pattern read from a checkpoint's config.json (GPTQModel's `dynamic` keys,
// compressed-tensors' "re:" targets). Python's re.match semantics: anchored at the start of the name.
// PCRE2 with a match limit, because the pattern is outside input: one that backtracks without end
// ("(a|aa)+$" on a long name) is a clear FormatError instead of a hang.
#pragma once

#include <memory>
#include <string>

namespace arrowquant {

class ModulePattern {
 public:
  // Throws FormatError naming `where` when the pattern does not compile.
  ModulePattern(const std::string& pattern, const std::string& where);
  ~ModulePattern();
  ModulePattern(ModulePattern&&) noexcept;
  ModulePattern& operator=(ModulePattern&&) noexcept;

  // True when the pattern matches a prefix of `name`; FormatError when matching gives up at the limit.
  bool matches_start_of(const std::string& name) const;

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  std::string where_;
};

}  // namespace arrowquant
