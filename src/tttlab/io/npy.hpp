#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// read_npy accepts C-order arrays of little-endian float16/32/64, int8/16/32/64, uint8 and bool
// ('<f2' '<f4' '<f8' '|i1' '<i2' '<i4' '<i8' '|u1' '|b1'; one-byte types with any byte-order mark)
// and maps them to kHalf, kFloat, kDouble, kChar, kShort, kInt, kLong, kByte, kBool. Anything else
// (a missing file, bad magic, an unknown version, an unparseable header, big-endian or unsupported
// dtypes, Fortran order, a bad shape, too few or too many data bytes) throws tttlab::InputError with a
// one-line message that starts with the file's path.
//
// write_npy writes a contiguous CPU copy in C order, format 1.0 (2.0 only when the header is longer
// than 65535 bytes), header padded so that the data starts at a multiple of 64 bytes, atomically
// (temporary file + rename).
#include <filesystem>
#include <string>
#include <string_view>

#include <torch/torch.h>

namespace tttlab {

torch::Tensor read_npy(const std::filesystem::path& path);
// The same from the bytes of a .npy file held in memory (a member of an .npz archive); messages start
// with `name` instead of a path.
torch::Tensor read_npy_bytes(std::string_view bytes, const std::string& name);
void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor);

}  // namespace tttlab
