#pragma once
// Small helpers shared by the file readers in tttlab/io (internal).
#include <cstdint>
#include <filesystem>
#include <istream>
#include <string>

#include <torch/torch.h>

namespace tttlab::io_detail {

// Throws InputError "<path>: no such file" / "<path>: not a regular file (...)" unless `path` is a
// regular file (or a symlink to one). Returns its size in bytes.
std::uintmax_t require_regular_file(const std::filesystem::path& path, const char* what);

// Reads exactly `nbytes` bytes into `dst` (in chunks); returns false when the stream ended early.
bool read_exact(std::istream& in, void* dst, std::uintmax_t nbytes);

// Writes `nbytes` bytes from `src` in chunks.
void write_all(std::ostream& out, const void* src, std::uintmax_t nbytes);

// "float32", "int64", ...
std::string scalar_type_name(torch::ScalarType t);

// Multiplies the dimensions and the item size; false when the product overflows int64.
bool checked_nbytes(const std::vector<int64_t>& shape, int64_t itemsize, int64_t& nbytes);

// Byte-swaps every item of a contiguous buffer in place (itemsize 2, 4 or 8).
void byteswap_items(void* data, int64_t count, int itemsize);

}  // namespace tttlab::io_detail
