#include "tttlab/core/printable.hpp"

#include <cstdint>

namespace tttlab {

namespace {

// Length of the well-formed, printable UTF-8 sequence at s[i] (2-4 bytes), or 0.
size_t printable_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  uint32_t cp = 0, min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF)
    len = 2, cp = b0 & 0x1Fu, min = 0x80;
  else if (b0 >= 0xE0 && b0 <= 0xEF)
    len = 3, cp = b0 & 0x0Fu, min = 0x800;
  else if (b0 >= 0xF0 && b0 <= 0xF4)
    len = 4, cp = b0 & 0x07u, min = 0x10000;
  else
    return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  const bool overlong = cp < min, surrogate = cp >= 0xD800 && cp <= 0xDFFF, c1_control = cp <= 0x9F;
  if (overlong || surrogate || c1_control || cp > 0x10FFFF) return 0;
  return len;
}

}  // namespace

std::string printable(std::string_view bytes, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < bytes.size()) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (b >= 0x20 && b < 0x7f) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    const size_t len = b >= 0x80 ? printable_sequence_length(bytes, i) : 0;
    if (len > 0) {
      out.append(bytes.substr(i, len));
      i += len;
      continue;
    }
    out += "\\x";
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
    ++i;
  }
  return out;
}

}  // namespace tttlab
