#pragma once
// "[10, 64]": tensor shapes in error messages.
#include <string>

#include <c10/util/ArrayRef.h>
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)

namespace tttlab {

inline std::string shape_string(c10::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes.begin(), sizes.end(), ", "));
}

}  // namespace tttlab
