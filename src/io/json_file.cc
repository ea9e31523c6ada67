#include "io/json_file.h"

#include "arrowquant/error.h"
#include "util/files.h"

namespace arrowquant {

nlohmann::json read_json_file(const std::string& path) {
  try {
    return nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": invalid JSON: " + e.what());
  }
}

namespace {
// The field, or nullptr when missing or null; obj must be an object.
const nlohmann::json* field(const nlohmann::json& obj, const char* key, const std::string& where) {
  json_object(obj, where);
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}
[[noreturn]] void wrong_type(const char* key, const char* what, const std::string& where) {
  throw FormatError(where + ": '" + key + "' must be " + what);
}
}  // namespace

const nlohmann::json& json_object(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": expected a JSON object");
  return j;
}

std::string json_string(const nlohmann::json& obj, const char* key, const std::string& def, const std::string& where) {
  const nlohmann::json* v = field(obj, key, where);
  if (!v) return def;
  if (!v->is_string()) wrong_type(key, "a string", where);
  return v->get<std::string>();
}

bool json_bool(const nlohmann::json& obj, const char* key, bool def, const std::string& where) {
  const nlohmann::json* v = field(obj, key, where);
  if (!v) return def;
  if (!v->is_boolean()) wrong_type(key, "true or false", where);
  return v->get<bool>();
}

double json_number(const nlohmann::json& obj, const char* key, double def, const std::string& where) {
  const nlohmann::json* v = field(obj, key, where);
  if (!v) return def;
  if (!v->is_number()) wrong_type(key, "a number", where);
  return v->get<double>();
}

int64_t json_int(const nlohmann::json& obj, const char* key, int64_t def, const std::string& where) {
  const nlohmann::json* v = field(obj, key, where);
  if (!v) return def;
  if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)))
    wrong_type(key, "an integer", where);
  return v->get<int64_t>();
}

int64_t json_as_int(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
    throw FormatError(what + " must be an integer");
  return v.get<int64_t>();
}

int64_t json_positive_int(const nlohmann::json& obj, const char* key, const std::string& where) {
  const int64_t v = json_int(obj, key, 0, where);
  if (v <= 0) throw FormatError(where + ": config.json needs a positive integer '" + key + "'");
  return v;
}

const nlohmann::json* json_object_field(const nlohmann::json& obj, const char* key, const std::string& where) {
  const nlohmann::json* v = field(obj, key, where);
  if (v && !v->is_object()) wrong_type(key, "an object", where);
  return v;
}

}  // namespace arrowquant
