#include "tttlab/io/pytorch_pickle.hpp"

#include <algorithm>
#include <fstream>
#include <string>
#include <system_error>

namespace tttlab {

namespace {

constexpr std::uintmax_t kWindow = 64 * 1024;

std::string read_range(std::ifstream& in, std::uintmax_t offset, std::uintmax_t length) {
  std::string bytes(length, '\0');
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(bytes.data(), static_cast<std::streamsize>(length));
  bytes.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  in.clear();
  return bytes;
}

}  // namespace

PytorchPickle pytorch_pickle_kind(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size < 4) return PytorchPickle::None;
  std::ifstream in(path, std::ios::binary);
  if (!in) return PytorchPickle::None;
  const std::string head = read_range(in, 0, std::min(size, kWindow));
  if (head.size() < 4) return PytorchPickle::None;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(head[i]); };
  if (head.compare(0, 4, "PK\x03\x04") == 0) {
    // The first member's name is in the first local header, and every member's name is in the
    // central directory at the end of the archive.
    const std::string tail = size > kWindow ? read_range(in, size - kWindow, kWindow) : std::string();
    const bool has_data_pkl = head.find("data.pkl") != std::string::npos || tail.find("data.pkl") != std::string::npos;
    return has_data_pkl ? PytorchPickle::Zip : PytorchPickle::None;
  }
  // A pickle starts with PROTO (0x80) and the protocol. A safetensors file can start with the same
  // two bytes (its header length, little-endian: 640 is 0x80 0x02), but its header JSON begins at
  // byte 8 with '{'.
  const bool proto = byte(0) == 0x80 && byte(1) >= 2 && byte(1) <= 5;
  const bool safetensors_header = head.size() > 8 && head[8] == '{';
  return proto && !safetensors_header ? PytorchPickle::Legacy : PytorchPickle::None;
}

}  // namespace tttlab
