#include "util/setting_visitors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "arrowquant/error.h"

namespace arrowquant {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string range_text(const SettingInfo& s) {
  auto num = [](double x) {
    char b[32];
    snprintf(b, sizeof b, "%g", x);
    return std::string(b);
  };
  if (std::isinf(s.min) && std::isinf(s.max)) return "";
  if (std::isinf(s.max)) return " >= " + num(s.min);
  if (std::isinf(s.min)) return " <= " + num(s.max);
  return " in [" + num(s.min) + ", " + num(s.max) + "]";
}

class SetFromText : public SettingVisitor {
 public:
  SetFromText(const std::string& key, const std::string& text, const std::string& source)
      : key_(key), text_(text), source_(source) {}
  bool found() const { return found_; }

  void visit(bool& v, const SettingInfo& s) override {
    if (!mine(s)) return;
    const std::string t = lower(text_);
    if (t == "1" || t == "true" || t == "yes" || t == "on") v = true;
    else if (t == "0" || t == "false" || t == "no" || t == "off") v = false;
    else fail(s, "must be true or false (on|off, yes|no, 1|0)");
  }
  void visit(int& v, const SettingInfo& s) override {
    int64_t x = v;
    visit(x, s);
    if (mine(s)) v = int(x);
  }
  void visit(int64_t& v, const SettingInfo& s) override {
    if (!mine(s)) return;
    if (!s.zero_word.empty() && (text_ == s.zero_word || text_ == "per-" + std::string(s.zero_word))) {
      v = 0;
      return;
    }
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(text_.c_str(), &end, 10);
    if (text_.empty() || *end || errno == ERANGE) fail(s, "must be an integer");
    check_range(s, double(x));
    v = x;
  }
  void visit(double& v, const SettingInfo& s) override {
    if (!mine(s)) return;
    char* end = nullptr;
    const double x = std::strtod(text_.c_str(), &end);
    if (text_.empty() || *end || !std::isfinite(x)) fail(s, "must be a number");
    check_range(s, x);
    v = x;
  }
  void visit(std::string& v, const SettingInfo& s) override {
    if (mine(s)) v = text_;
  }
  void visit(std::vector<std::string>& v, const SettingInfo& s) override {
    if (mine(s)) v.push_back(text_);
  }
  void visit_enum(int& v, std::span<const EnumOption> names, const SettingInfo& s) override {
    if (!mine(s)) return;
    for (const auto& n : names)
      if (n.name == text_) {
        v = n.value;
        return;
      }
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + std::string(n.name);
    throw ValueError(source_ + ": unknown " + std::string(s.key) + " \"" + text_ + "\" (known: " + known + ")");
  }

 private:
  bool mine(const SettingInfo& s) {
    if (s.key != key_) return false;
    found_ = true;
    return true;
  }
  void check_range(const SettingInfo& s, double x) const {
    if (x < s.min || x > s.max) fail(s, "must be" + range_text(s));
  }
  [[noreturn]] void fail(const SettingInfo& s, const std::string& what) const {
    throw ValueError(source_ + ": " + std::string(s.key) + " " + what + ", got \"" + text_ + "\"");
  }
  const std::string &key_, &text_, &source_;
  bool found_ = false;
};

class ToJson : public SettingVisitor {
 public:
  explicit ToJson(const std::function<bool(const SettingInfo&)>& keep) : keep_(keep) {}
  nlohmann::json j = nlohmann::json::object();
  void visit(bool& v, const SettingInfo& s) override { put(s, v); }
  void visit(int& v, const SettingInfo& s) override { put(s, v); }
  void visit(int64_t& v, const SettingInfo& s) override { put(s, v); }
  void visit(double& v, const SettingInfo& s) override { put(s, v); }
  void visit(std::string& v, const SettingInfo& s) override { put(s, v); }
  void visit(std::vector<std::string>& v, const SettingInfo& s) override { put(s, v); }
  void visit_enum(int& v, std::span<const EnumOption> names, const SettingInfo& s) override {
    put(s, std::string(enum_option_name(names, v)));
  }

 private:
  template <class T>
  void put(const SettingInfo& s, const T& v) {
    if (s.recorded && keep_(s)) j[std::string(s.key)] = v;
  }
  const std::function<bool(const SettingInfo&)>& keep_;
};

class RangeCheck : public SettingVisitor {
 public:
  void visit(bool&, const SettingInfo&) override {}
  void visit(int& v, const SettingInfo& s) override { check(s, double(v)); }
  void visit(int64_t& v, const SettingInfo& s) override { check(s, double(v)); }
  void visit(double& v, const SettingInfo& s) override { check(s, v); }
  void visit(std::string&, const SettingInfo&) override {}
  void visit(std::vector<std::string>&, const SettingInfo&) override {}
  void visit_enum(int&, std::span<const EnumOption>, const SettingInfo&) override {}

 private:
  static void check(const SettingInfo& s, double x) {
    if (!(x >= s.min && x <= s.max)) {
      char b[64];
      snprintf(b, sizeof b, "%g", x);
      throw ValueError(std::string(s.key) + " must be" + range_text(s) + " (got " + b + ")");
    }
  }
};

class Declarations : public SettingVisitor {
 public:
  explicit Declarations(const std::function<void(const SettingInfo&)>& fn) : fn_(fn) {}
  void visit(bool&, const SettingInfo& s) override { fn_(s); }
  void visit(int&, const SettingInfo& s) override { fn_(s); }
  void visit(int64_t&, const SettingInfo& s) override { fn_(s); }
  void visit(double&, const SettingInfo& s) override { fn_(s); }
  void visit(std::string&, const SettingInfo& s) override { fn_(s); }
  void visit(std::vector<std::string>&, const SettingInfo& s) override { fn_(s); }
  void visit_enum(int&, std::span<const EnumOption>, const SettingInfo& s) override { fn_(s); }

 private:
  const std::function<void(const SettingInfo&)>& fn_;
};

}  // namespace

bool set_setting(const VisitSettings& visit, const std::string& key, const std::string& text, const std::string& source) {
  SetFromText v(key, text, source);
  visit(v);
  return v.found();
}

nlohmann::json settings_json(const VisitSettings& visit, const std::function<bool(const SettingInfo&)>& keep) {
  ToJson v(keep);
  visit(v);
  return v.j;
}

void check_setting_ranges(const VisitSettings& visit) {
  RangeCheck v;
  visit(v);
}

void for_each_setting(const VisitSettings& visit, const std::function<void(const SettingInfo&)>& fn) {
  Declarations v(fn);
  visit(v);
}

std::string setting_keys(const VisitSettings& visit) {
  std::string all;
  for_each_setting(visit, [&](const SettingInfo& s) { all += (all.empty() ? "" : ", ") + std::string(s.key); });
  return all;
}

}  // namespace arrowquant
