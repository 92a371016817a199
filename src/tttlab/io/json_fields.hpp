#pragma once
// Typed fields of configuration JSON (a model's config.json, a pooling config), read with checks: a
// missing field, a wrong type or an integer that does not fit in 64 bits is an InputError naming the
// file (`where`) and the field.
#include <cstdint>
#include <fstream>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"

namespace tttlab {

template <typename T>
T json_field(const nlohmann::json& j, const char* name, const std::string& where) {
  const auto it = j.find(name);
  require_input(it != j.end() && !it->is_null(), "{}: missing field '{}'", where, name);
  if constexpr (std::is_same_v<T, int64_t>) {
    // nlohmann converts a float such as 1e30 to int64 by a cast, which is undefined out of range.
    const bool fits = it->is_number_integer() &&
                      !(it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX));
    require_input(fits, "{}: field '{}' is {} (expected an integer that fits in 64 bits)", where, name,
                  printable(it->dump()));
  }
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw_input_error("{}: field '{}' has the wrong type ({})", where, name, printable(it->dump()));
  }
}

template <typename T>
T json_field_or(const nlohmann::json& j, const char* name, T fallback, const std::string& where) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  return json_field<T>(j, name, where);
}

// A whole JSON file; a missing file or invalid JSON is an InputError naming it and `what` it is.
inline nlohmann::json read_json_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  require_input(in.good(), "{}: cannot open the {}", path, what);
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("{}: not valid JSON ({})", path, printable(e.what()));
  }
}

}  // namespace tttlab
