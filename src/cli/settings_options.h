// Command-line options made from a settings struct's declaration (arrowquant/settings.h): every
// setting (or the ones named) becomes a flag with its help, section, default and accepted names, and
// what the user typed comes back as (key, text) pairs, applied in the settings' precedence order.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "util/setting_visitors.h"

namespace arrowquant::cli {

class SettingOptions {
 public:
  // keys: the settings to offer (empty: all). The struct behind `visit` gives the defaults shown.
  SettingOptions(CLI::App& app, const VisitSettings& visit, const std::set<std::string>& keys = {});
  // The settings given on the command line, as text, in declaration order (repeatables once per use).
  std::vector<std::pair<std::string, std::string>> given() const;
  // The option of one setting (to add a check such as CLI::ExistingFile); nullptr when not offered.
  CLI::Option* option(const std::string& key) const;

 private:
  struct Slot {
    std::string key;
    CLI::Option* option = nullptr;
    bool flag = false;
    std::vector<std::string> values;  // CLI11 writes here
    bool set = false;                 // bare flags
  };
  std::vector<std::shared_ptr<Slot>> slots_;
  friend class Registrar;
};

// --name for a key: "group_size" -> "--group-size".
std::string flag_for(std::string_view key);

// The check of a --calibration option: an existing file, or the word that makes a diffusion model
// calibrate on its own denoising trajectories.
CLI::Validator calibration_file_or_trajectory();

}  // namespace arrowquant::cli
