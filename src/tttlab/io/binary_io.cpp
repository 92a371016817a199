#include "tttlab/io/binary_io.hpp"

#include <algorithm>
#include <system_error>

#include "tttlab/core/error.hpp"

namespace tttlab::io_detail {

namespace fs = std::filesystem;

std::uintmax_t require_regular_file(const fs::path& path, const char* what) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    throw_input_error("{}: no such file (expected {})", path.string(), what);
  }
  if (fs::is_directory(st)) {
    throw_input_error("{}: is a directory, not a file (expected {})", path.string(), what);
  }
  if (!fs::is_regular_file(st)) {
    throw_input_error("{}: not a regular file (expected {})", path.string(), what);
  }
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) throw_input_error("{}: cannot read the file size: {}", path.string(), ec.message());
  return size;
}

bool read_exact(std::istream& in, void* dst, std::uintmax_t nbytes) {
  auto* p = static_cast<char*>(dst);
  constexpr std::uintmax_t kChunk = std::uintmax_t{1} << 28;
  while (nbytes > 0) {
    const std::uintmax_t n = std::min(nbytes, kChunk);
    in.read(p, static_cast<std::streamsize>(n));
    if (static_cast<std::uintmax_t>(in.gcount()) != n) return false;
    p += n;
    nbytes -= n;
  }
  return true;
}

void write_all(std::ostream& out, const void* src, std::uintmax_t nbytes) {
  const auto* p = static_cast<const char*>(src);
  constexpr std::uintmax_t kChunk = std::uintmax_t{1} << 28;
  while (nbytes > 0) {
    const std::uintmax_t n = std::min(nbytes, kChunk);
    out.write(p, static_cast<std::streamsize>(n));
    p += n;
    nbytes -= n;
  }
}

std::string scalar_type_name(torch::ScalarType t) {
  switch (t) {
    case torch::kHalf:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat:
      return "float32";
    case torch::kDouble:
      return "float64";
    case torch::kChar:
      return "int8";
    case torch::kShort:
      return "int16";
    case torch::kInt:
      return "int32";
    case torch::kLong:
      return "int64";
    case torch::kByte:
      return "uint8";
    case torch::kBool:
      return "bool";
    default:
      return std::string(c10::toString(t));
  }
}

bool checked_nbytes(const std::vector<int64_t>& shape, int64_t itemsize, int64_t& nbytes) {
  int64_t n = itemsize;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return false;
  }
  nbytes = n;
  return true;
}

void byteswap_items(void* data, int64_t count, int itemsize) {
  auto* p = static_cast<unsigned char*>(data);
  for (int64_t i = 0; i < count; ++i, p += itemsize) std::reverse(p, p + itemsize);
}

}  // namespace tttlab::io_detail
