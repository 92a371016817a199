#include "tttlab/io/idx.hpp"

#include <climits>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)
#include <zlib.h>

#include "tttlab/core/error.hpp"
#include "tttlab/io/binary_io.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using namespace io_detail;

namespace {

class GzReader {
 public:
  GzReader(const fs::path& path) : path_(path.string()) {
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) throw_input_error("{}: cannot open for reading", path_);
    gzbuffer(file_, 1 << 20);
  }
  ~GzReader() {
    if (file_ != nullptr) gzclose_r(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; returns how many were read. Throws on corrupt compressed data.
  uint64_t read(void* dst, uint64_t n) {
    auto* p = static_cast<char*>(dst);
    uint64_t total = 0;
    while (total < n) {
      const auto chunk = static_cast<unsigned>(std::min<uint64_t>(n - total, 1u << 30));
      const int got = gzread(file_, p + total, chunk);
      if (got < 0) fail();
      total += static_cast<uint64_t>(got);
      if (static_cast<unsigned>(got) < chunk) {
        check();  // distinguishes a clean end of data from a damaged stream
        break;
      }
    }
    return total;
  }

 private:
  void check() {
    int err = Z_OK;
    gzerror(file_, &err);
    if (err != Z_OK && err != Z_STREAM_END) fail();
  }
  [[noreturn]] void fail() {
    int err = Z_OK;
    const char* msg = gzerror(file_, &err);
    throw_input_error("{}: corrupt gzip data ({})", path_, msg != nullptr && *msg ? msg : "read error");
  }

  std::string path_;
  gzFile file_ = nullptr;
};

uint32_t be32(const unsigned char* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

}  // namespace

torch::Tensor read_idx(const fs::path& path) {
  const std::string p = path.string();
  const std::uintmax_t file_size = require_regular_file(path, "an IDX file (plain or .gz)");
  bool gzipped = false;
  {
    std::ifstream in(path, std::ios::binary);
    unsigned char m[2] = {};
    in.read(reinterpret_cast<char*>(m), 2);
    gzipped = in.gcount() == 2 && m[0] == 0x1f && m[1] == 0x8b;
  }
  GzReader in(path);

  unsigned char magic[4] = {};
  const uint64_t got = in.read(magic, 4);
  if (got < 4 || magic[0] != 0 || magic[1] != 0) {
    throw_input_error(
        "{}: not an IDX file (bad magic: expected two zero bytes, a type code and the number of dimensions)", p);
  }
  torch::ScalarType type;
  int itemsize = 0;
  switch (magic[2]) {
    case 0x08:
      type = torch::kByte;
      itemsize = 1;
      break;
    case 0x09:
      type = torch::kChar;
      itemsize = 1;
      break;
    case 0x0B:
      type = torch::kShort;
      itemsize = 2;
      break;
    case 0x0C:
      type = torch::kInt;
      itemsize = 4;
      break;
    case 0x0D:
      type = torch::kFloat;
      itemsize = 4;
      break;
    case 0x0E:
      type = torch::kDouble;
      itemsize = 8;
      break;
    default:
      throw_input_error(
          "{}: unknown IDX type code 0x{:02X} (expected 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, "
          "0x0D float32 or 0x0E float64)",
          p, magic[2]);
  }
  const int ndim = magic[3];
  if (ndim == 0) throw_input_error("{}: IDX header has 0 dimensions (expected at least 1)", p);
  std::vector<unsigned char> dim_bytes(static_cast<size_t>(ndim) * 4);
  if (in.read(dim_bytes.data(), dim_bytes.size()) < dim_bytes.size()) {
    throw_input_error("{}: truncated IDX header (expected {} dimension sizes)", p, ndim);
  }
  std::vector<int64_t> shape(static_cast<size_t>(ndim));
  for (int i = 0; i < ndim; ++i) shape[static_cast<size_t>(i)] = be32(&dim_bytes[static_cast<size_t>(i) * 4]);
  int64_t nbytes = 0;
  if (!checked_nbytes(shape, itemsize, nbytes)) {
    throw_input_error("{}: IDX shape {} is too large (its byte size overflows 64 bits)", p, fmt::join(shape, "x"));
  }
  const uint64_t header = 4 + dim_bytes.size();
  // Catch impossible sizes before allocating: plain files must hold exactly the data; gzip cannot
  // expand by more than about 1032:1.
  if (!gzipped) {
    const uint64_t have = file_size - header;
    if (have < static_cast<uint64_t>(nbytes)) {
      throw_input_error("{}: truncated IDX data: shape {} needs {} bytes but the file has {} after the header", p,
                        fmt::join(shape, "x"), nbytes, have);
    }
    if (have > static_cast<uint64_t>(nbytes)) {
      throw_input_error("{}: {} unexpected trailing bytes after the IDX data (shape {} needs {} bytes)", p,
                        have - nbytes, fmt::join(shape, "x"), nbytes);
    }
  } else if (static_cast<uint64_t>(nbytes) / 1032 > file_size) {
    throw_input_error("{}: truncated IDX data: shape {} needs {} bytes, more than a {}-byte gzip file can hold", p,
                      fmt::join(shape, "x"), nbytes, file_size);
  }

  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(type));
  const uint64_t read = nbytes > 0 ? in.read(t.data_ptr(), static_cast<uint64_t>(nbytes)) : 0;
  if (read < static_cast<uint64_t>(nbytes)) {
    throw_input_error("{}: truncated IDX data: shape {} needs {} bytes but only {} follow the header", p,
                      fmt::join(shape, "x"), nbytes, read);
  }
  char extra[4096];
  uint64_t trailing = 0;
  for (uint64_t n; (n = in.read(extra, sizeof extra)) > 0;) trailing += n;
  if (trailing > 0) {
    throw_input_error("{}: {} unexpected trailing bytes after the IDX data (shape {} needs {} bytes)", p, trailing,
                      fmt::join(shape, "x"), nbytes);
  }
  if (itemsize > 1) byteswap_items(t.data_ptr(), t.numel(), itemsize);
  return t;
}

}  // namespace tttlab
