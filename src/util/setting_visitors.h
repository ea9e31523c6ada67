// The visitors every settings struct shares (arrowquant/settings.h): setting one value from text,
// with its range and the source it came from in the error, and writing the recorded settings as JSON.
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "arrowquant/settings.h"

namespace arrowquant {

// A settings struct's visit(), bound: [&](SettingVisitor& v) { cfg.visit(v); }.
using VisitSettings = std::function<void(SettingVisitor&)>;

// Sets the setting named `key` from `text` (a repeatable one appends). ValueError naming `source`
// ("--bits", "ARROW_QUANT_BITS", "config.yaml") when the text does not parse or is out of range.
// Returns false when no setting has that key.
bool set_setting(const VisitSettings& visit, const std::string& key, const std::string& text,
                 const std::string& source);

// ValueError for any numeric setting outside its declared range (values set directly, not from text).
void check_setting_ranges(const VisitSettings& visit);

// The recorded settings that `keep` selects, key -> value (enums by name, repeatables as lists).
nlohmann::json settings_json(const VisitSettings& visit, const std::function<bool(const SettingInfo&)>& keep);

// Every setting's declaration, in order; and every key, joined (for "unknown setting" messages).
void for_each_setting(const VisitSettings& visit, const std::function<void(const SettingInfo&)>& fn);
std::string setting_keys(const VisitSettings& visit);

}  // namespace arrowquant
