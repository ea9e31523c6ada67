// Settings declared once. A settings struct (QuantConfig, the engine options of the command line)
// lists every setting exactly once, in its visit(): the member, its key, help, section and accepted
// range. Visitors turn that one list into command-line options, YAML / environment / profile
// parsing, validation and JSON, so a setting means the same thing everywhere and is spelled in one
// place (the pattern of gemma.cpp's ArgsBase::ForEach).
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace arrowquant {

struct SettingInfo {
  std::string_view key;        // YAML key, ARROW_QUANT_<KEY>, JSON key; the flag is --key with '_' -> '-'
  std::string_view help;
  std::string_view group = {};  // section of --help ("" = the main one)
  double min = -HUGE_VAL, max = HUGE_VAL;  // numbers: the accepted range, inclusive
  bool flag = false;           // bools: a bare --flag means true (otherwise on|off, true|false, ...)
  bool recorded = true;        // written to a run's JSON (false for what cannot change the result)
  std::string_view zero_word = {};  // integers: a word that means 0 ("channel" for group_size)
};

// An enum-valued setting's values and names.
struct EnumOption {
  int value;
  std::string_view name;
};
// The name of `value`, or "?" when the table lacks it.
inline std::string_view enum_option_name(std::span<const EnumOption> names, int value) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return "?";
}

class SettingVisitor {
 public:
  virtual ~SettingVisitor() = default;
  virtual void visit(bool& v, const SettingInfo& s) = 0;
  virtual void visit(int& v, const SettingInfo& s) = 0;
  virtual void visit(int64_t& v, const SettingInfo& s) = 0;
  virtual void visit(double& v, const SettingInfo& s) = 0;
  virtual void visit(std::string& v, const SettingInfo& s) = 0;
  // A repeatable setting: each occurrence appends one item.
  virtual void visit(std::vector<std::string>& v, const SettingInfo& s) = 0;
  // An enum, as its integer value and the names it may take.
  virtual void visit_enum(int& v, std::span<const EnumOption> names, const SettingInfo& s) = 0;
};

// Lets a visitor read and write an enum member through its integer value.
template <class E>
void visit_enum(SettingVisitor& v, E& e, std::span<const EnumOption> names, const SettingInfo& s) {
  int x = int(e);
  v.visit_enum(x, names, s);
  e = E(x);
}

}  // namespace arrowquant
