#include "cli/settings_options.h"

#include <algorithm>
#include <cstdio>

#include "model/dit_calibration.h"

namespace arrowquant::cli {

CLI::Validator calibration_file_or_trajectory() {
  return CLI::Validator(
      [](std::string& v) { return v == kTrajectoryCalibration ? std::string() : CLI::ExistingFile(v); },
      "FILE|" + std::string(kTrajectoryCalibration));
}

std::string flag_for(std::string_view key) {
  std::string f = "--" + std::string(key);
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

class Registrar : public SettingVisitor {
 public:
  Registrar(CLI::App& app, const std::set<std::string>& keys, SettingOptions& out) : app_(app), keys_(keys), out_(out) {}

  void visit(bool& v, const SettingInfo& s) override {
    if (!wanted(s)) return;
    if (s.flag) {
      auto slot = make(s, true);
      slot->option = app_.add_flag(flag_for(s.key), slot->set, std::string(s.help));
      finish(*slot, s);
      return;
    }
    add(s, v ? "on" : "off", false, "on|off");
  }
  void visit(int& v, const SettingInfo& s) override { add(s, std::to_string(v), false, "INT"); }
  void visit(int64_t& v, const SettingInfo& s) override { add(s, std::to_string(v), false, "INT"); }
  void visit(double& v, const SettingInfo& s) override {
    char b[32];
    snprintf(b, sizeof b, "%g", v);
    add(s, b, false, "NUMBER");
  }
  void visit(std::string& v, const SettingInfo& s) override { add(s, v, false, "TEXT"); }
  void visit(std::vector<std::string>&, const SettingInfo& s) override { add(s, "", true, "TEXT"); }
  // Values are checked when applied (set_setting), with the same message as in YAML or the environment.
  void visit_enum(int& v, std::span<const EnumOption> names, const SettingInfo& s) override {
    std::string allowed;
    for (const auto& n : names) allowed += (allowed.empty() ? "" : "|") + std::string(n.name);
    add(s, std::string(enum_option_name(names, v)), false, allowed);
  }

 private:
  bool wanted(const SettingInfo& s) const { return keys_.empty() || keys_.count(std::string(s.key)); }
  std::shared_ptr<SettingOptions::Slot> make(const SettingInfo& s, bool flag) {
    auto slot = std::make_shared<SettingOptions::Slot>();
    slot->key = std::string(s.key);
    slot->flag = flag;
    out_.slots_.push_back(slot);
    return slot;
  }
  void finish(SettingOptions::Slot& slot, const SettingInfo& s) {
    if (!s.group.empty()) slot.option->group(std::string(s.group));
  }
  CLI::Option* add(const SettingInfo& s, const std::string& shown_default, bool repeatable, const std::string& type) {
    if (!wanted(s)) return nullptr;
    auto slot = make(s, false);
    slot->option = repeatable ? app_.add_option(flag_for(s.key), slot->values, std::string(s.help))
                              : app_.add_option(flag_for(s.key), slot->values, std::string(s.help))
                                    ->expected(1)
                                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    slot->option->type_name(type);
    if (!shown_default.empty()) slot->option->default_str(shown_default);
    finish(*slot, s);
    return slot->option;
  }
  CLI::App& app_;
  const std::set<std::string>& keys_;
  SettingOptions& out_;
};

SettingOptions::SettingOptions(CLI::App& app, const VisitSettings& visit, const std::set<std::string>& keys) {
  Registrar r(app, keys, *this);
  visit(r);
}

CLI::Option* SettingOptions::option(const std::string& key) const {
  for (const auto& s : slots_)
    if (s->key == key) return s->option;
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> SettingOptions::given() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& s : slots_) {
    if (s->flag) {
      if (s->set) out.push_back({s->key, "true"});
      continue;
    }
    for (const auto& v : s->values) out.push_back({s->key, v});
  }
  return out;
}

}  // namespace arrowquant::cli
