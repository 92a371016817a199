#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include "test_support.hpp"
#include "tttlab/io/idx.hpp"

namespace fs = std::filesystem;
using tttlab::read_idx;
using namespace tttlab::test;

namespace {

// IDX bytes: magic, big-endian dims, then `items` (each item given in native order, written big-endian).
template <typename T>
std::string idx_bytes(unsigned char code, const std::vector<uint32_t>& dims, const std::vector<T>& items) {
  std::string out{'\0', '\0', static_cast<char>(code), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  }
  for (const T& v : items) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    for (size_t i = sizeof(T); i-- > 0;) out += b[i];
  }
  return out;
}

void write_gz(const fs::path& p, const std::string& bytes) {
  gzFile f = gzopen(p.string().c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

}  // namespace

TEST(Idx, PlainUint8Images) {
  TempDir dir;
  std::vector<uint8_t> px(2 * 3 * 4);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 11);
  write_bytes(dir / "images-idx3-ubyte", idx_bytes<uint8_t>(0x08, {2, 3, 4}, px));
  const torch::Tensor t = read_idx(dir / "images-idx3-ubyte");
  EXPECT_EQ(t.scalar_type(), torch::kByte);
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(t[1][2][3].item<int>(), 23 * 11);
  EXPECT_EQ(t[0][1][0].item<int>(), 4 * 11);
}

TEST(Idx, GzippedBigEndianTypesAreConverted) {
  TempDir dir;
  write_gz(dir / "f.gz", idx_bytes<float>(0x0D, {2, 2}, {1.5f, -2.0f, 3.25f, 1e-3f}));
  const torch::Tensor f = read_idx(dir / "f.gz");
  EXPECT_EQ(f.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(f, torch::tensor({1.5f, -2.0f, 3.25f, 1e-3f}).reshape({2, 2})));

  write_gz(dir / "d.gz", idx_bytes<double>(0x0E, {3}, {0.1, -1e300, 42.0}));
  EXPECT_TRUE(torch::equal(read_idx(dir / "d.gz"), torch::tensor({0.1, -1e300, 42.0}, torch::kDouble)));

  write_gz(dir / "i32.gz", idx_bytes<int32_t>(0x0C, {3}, {-5, 70000, INT32_MIN}));
  const torch::Tensor i32 = read_idx(dir / "i32.gz");
  EXPECT_EQ(i32.scalar_type(), torch::kInt);
  EXPECT_TRUE(torch::equal(i32, torch::tensor({-5, 70000, INT32_MIN}, torch::kInt)));

  write_bytes(dir / "i16", idx_bytes<int16_t>(0x0B, {2}, {-300, 258}));
  const torch::Tensor i16 = read_idx(dir / "i16");
  EXPECT_EQ(i16.scalar_type(), torch::kShort);
  EXPECT_TRUE(torch::equal(i16, torch::tensor({-300, 258}, torch::kShort)));

  write_gz(dir / "i8.gz", idx_bytes<int8_t>(0x09, {2}, {-128, 127}));
  EXPECT_TRUE(torch::equal(read_idx(dir / "i8.gz"), torch::tensor({-128, 127}, torch::kChar)));
}

TEST(IdxErrors, MissingFile) {
  TempDir dir;
  const std::string p = (dir / "train-images-idx3-ubyte.gz").string();
  expect_input_error([&] { read_idx(p); }, p, {"no such file"});
}

TEST(IdxErrors, BadMagic) {
  TempDir dir;
  const fs::path p = dir / "x";
  write_bytes(p, "\x01\x02\x08\x01rest");
  expect_input_error([&] { read_idx(p); }, p.string(), {"not an IDX file", "bad magic"});
  write_gz(dir / "x.gz", "P5 28 28 255");
  expect_input_error([&] { read_idx(dir / "x.gz"); }, (dir / "x.gz").string(), {"bad magic"});
}

TEST(IdxErrors, UnknownTypeCode) {
  TempDir dir;
  const fs::path p = dir / "x";
  write_bytes(p, idx_bytes<uint8_t>(0x0A, {1}, {7}));
  expect_input_error([&] { read_idx(p); }, p.string(), {"unknown IDX type code 0x0A", "0x08 uint8"});
}

TEST(IdxErrors, TruncatedData) {
  TempDir dir;
  std::string bytes = idx_bytes<float>(0x0D, {2, 3}, {1, 2, 3, 4, 5, 6});
  bytes.resize(bytes.size() - 4);
  write_bytes(dir / "plain", bytes);
  expect_input_error([&] { read_idx(dir / "plain"); }, (dir / "plain").string(),
                     {"truncated IDX data", "2x3", "needs 24 bytes", "20"});
  write_gz(dir / "z.gz", bytes);
  expect_input_error([&] { read_idx(dir / "z.gz"); }, (dir / "z.gz").string(), {"truncated IDX data", "only 20"});
  write_bytes(dir / "hdr", std::string("\0\0\x08\x03\0\0", 6));
  expect_input_error([&] { read_idx(dir / "hdr"); }, (dir / "hdr").string(), {"truncated IDX header"});
}

TEST(IdxErrors, TrailingData) {
  TempDir dir;
  const std::string bytes = idx_bytes<uint8_t>(0x08, {3}, {1, 2, 3}) + "xyz";
  write_bytes(dir / "plain", bytes);
  expect_input_error([&] { read_idx(dir / "plain"); }, (dir / "plain").string(), {"3 unexpected trailing bytes"});
  write_gz(dir / "z.gz", bytes);
  expect_input_error([&] { read_idx(dir / "z.gz"); }, (dir / "z.gz").string(), {"3 unexpected trailing bytes"});
}

TEST(IdxErrors, CorruptGzip) {
  TempDir dir;
  std::vector<uint8_t> px(5000);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 7919) % 251);
  write_gz(dir / "ok.gz", idx_bytes<uint8_t>(0x08, {5000}, px));
  EXPECT_EQ(read_idx(dir / "ok.gz").size(0), 5000);
  const std::string gz = read_bytes(dir / "ok.gz");

  // Cut off the end of the compressed stream.
  write_bytes(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  expect_input_error([&] { read_idx(dir / "cut.gz"); }, (dir / "cut.gz").string(), {"corrupt gzip data"});

  // Damage the CRC in the gzip trailer.
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 0x5a);
  write_bytes(dir / "crc.gz", bad_crc);
  expect_input_error([&] { read_idx(dir / "crc.gz"); }, (dir / "crc.gz").string(), {"corrupt gzip data"});
}
