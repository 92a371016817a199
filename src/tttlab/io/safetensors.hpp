#pragma once
// safetensors files, the format of Hugging Face's `safetensors` library:
//   8 bytes: N, the header length, little-endian uint64
//   N bytes: a JSON object {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]}, ...,
//            "__metadata__": {"key": "value", ...}} (optional metadata, strings only), padded with spaces
//   the data: every tensor's bytes, little-endian, C order; offsets are relative to the start of the
//            data, and the tensors cover it exactly (no gaps, no overlaps, nothing left over).
// dtypes: F16, BF16, F32, F64, I8, I16, I32, I64, U8, BOOL (torch kHalf, kBFloat16, kFloat, kDouble,
// kChar, kShort, kInt, kLong, kByte, kBool).
//
// The reader checks everything and throws tttlab::InputError naming the file (and the tensor).
// The writer pads the header to a multiple of 8 bytes, lays tensors out by decreasing item size then
// name (so every tensor is aligned to its item size, as the Python library does), writes atomically.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace tttlab {

struct SafetensorsFile {
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile read_safetensors(const std::filesystem::path& path);

void write_safetensors(const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Returns the tensor `name`, checking its shape against `expected_shape` (-1 = any size there).
// Errors: "<file>: the file has no tensor 'bias' (tensors present: weight)" and
//         "<file>: tensor 'weight' has shape [10, 64], expected [10, 50]".
torch::Tensor require_tensor(const SafetensorsFile& file, const std::filesystem::path& path, const std::string& name,
                             std::vector<int64_t> expected_shape);

}  // namespace tttlab
