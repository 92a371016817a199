#pragma once
// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed (detected by content).
//
// Layout: two zero bytes, a type code, the number of dimensions n, then n big-endian uint32 sizes,
// then the items in C order, big-endian. Type codes: 0x08 uint8 -> kByte, 0x09 int8 -> kChar,
// 0x0B int16 -> kShort, 0x0C int32 -> kInt, 0x0D float32 -> kFloat, 0x0E float64 -> kDouble.
// The returned tensor is in native byte order. A missing file, bad magic, an unknown type code, too
// few or too many data bytes, or corrupt gzip data throw tttlab::InputError naming the file.
#include <filesystem>

#include <torch/torch.h>

namespace tttlab {

torch::Tensor read_idx(const std::filesystem::path& path);

}  // namespace tttlab
