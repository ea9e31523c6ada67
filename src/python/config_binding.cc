// QuantConfig: resolved by the same layers as the command line (defaults < profile < YAML <
// ARROW_QUANT_* environment < explicit settings), read back as a dict of every setting.
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "arrowquant/error.h"
#include "arrowquant/quant_config.h"
#include "python/bindings.h"
#include "util/setting_visitors.h"

namespace aqpy {

using arrowquant::QuantConfig;

namespace {

std::string settings_of(QuantConfig& c) {
  return arrowquant::settings_json([&](arrowquant::SettingVisitor& v) { c.visit(v); },
                                   [](const arrowquant::SettingInfo&) { return true; })
      .dump();
}

}  // namespace

void bind_config(nb::module_& m) {
  nb::class_<QuantConfig>(m, "QuantConfig", "The C++ settings of a quantisation run (see arrowquant.QuantConfig)")
      .def("settings_json", [](QuantConfig& c) { return settings_of(c); }, "Every setting, key -> value, as JSON")
      .def("recorded_json", [](const QuantConfig& c) { return c.to_json().dump(); },
           "The settings a run records (its report's config)");

  m.def(
      "resolve_config",
      [](const std::string& yaml, const std::map<std::string, std::string>& env,
         const std::vector<std::pair<std::string, std::string>>& settings, const std::string& modality) {
        try {
          if (modality != "text" && modality != "diffusion")
            throw arrowquant::ValueError("modality must be \"text\" or \"diffusion\" (got \"" + modality + "\")");
          return arrowquant::resolve_quant_config(
              yaml, env, settings, modality == "diffusion" ? arrowquant::Modality::ImageDiffusion : arrowquant::Modality::Text);
        } catch (...) {
          raise_current("ConfigurationError");
        }
      },
      nb::arg("yaml"), nb::arg("env"), nb::arg("settings"), nb::arg("modality") = "text",
      "The effective settings: profile (its values for the modality: text or diffusion), then the YAML "
      "file, then env (ARROW_QUANT_* keys without the prefix), then settings (key, text) in order");
  m.def("environment_settings", &arrowquant::quant_env_from_process,
        "This process's ARROW_QUANT_* variables, keyed by setting");
  m.def("profile_names", &arrowquant::profile_names);
  m.def("setting_help", [] {
    std::vector<std::pair<std::string, std::string>> out;
    QuantConfig c;
    arrowquant::for_each_setting([&](arrowquant::SettingVisitor& v) { c.visit(v); },
                                 [&](const arrowquant::SettingInfo& s) { out.emplace_back(s.key, s.help); });
    return out;
  }, "(key, help) of every setting, in declaration order");
}

}  // namespace aqpy
