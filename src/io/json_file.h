// JSON files a model folder carries (config.json, tokenizer.json, modules.json, ...).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace arrowquant {

// Parsed contents; IoError when unreadable, FormatError naming the file on bad JSON.
nlohmann::json read_json_file(const std::string& path);

// Fields of a JSON object read with the type they must have, so that a config or tokenizer file of
// the wrong shape is a FormatError naming `where` and the key, never a library exception or undefined
// behaviour. A missing or null field gives `def`.
std::string json_string(const nlohmann::json& obj, const char* key, const std::string& def, const std::string& where);
bool json_bool(const nlohmann::json& obj, const char* key, bool def, const std::string& where);
double json_number(const nlohmann::json& obj, const char* key, double def, const std::string& where);
int64_t json_int(const nlohmann::json& obj, const char* key, int64_t def, const std::string& where);
// A required positive integer (config.json sizes).
int64_t json_positive_int(const nlohmann::json& obj, const char* key, const std::string& where);
// A field that must be an object when present: nullptr when missing or null.
const nlohmann::json* json_object_field(const nlohmann::json& obj, const char* key, const std::string& where);
// A value that must be an integer (a token id in a list or map): FormatError naming `what` otherwise.
// (nlohmann's get<int64_t>() on a float out of range is undefined behaviour: found by the fuzzer.)
int64_t json_as_int(const nlohmann::json& v, const std::string& what);
// FormatError unless j is an object.
const nlohmann::json& json_object(const nlohmann::json& j, const std::string& where);

}  // namespace arrowquant
