#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/safetensors.hpp"

namespace fs = std::filesystem;
using tttlab::read_safetensors;
using tttlab::require_tensor;
using tttlab::SafetensorsFile;
using tttlab::write_safetensors;
using namespace tttlab::test;

namespace {

// The byte layout of a safetensors file: u64 LE header length, header (space-padded to 8), data.
std::string st_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i, n >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(n & 0xff);
  return out + header + data;
}

std::string f32(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// A head as the Python library writes it for {"weight": [[1,2],[3,4]], "bias": [0.5, -1]} (F32):
// tensors sorted by alignment then name, compact JSON, metadata first.
const std::string kHeadHeader =
    R"({"__metadata__":{"format":"pt"},"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
    R"("weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}})";
const std::string kHeadData = f32({0.5f, -1.0f, 1.0f, 2.0f, 3.0f, 4.0f});

}  // namespace

TEST(Safetensors, ReadsTheLayoutThePythonLibraryWrites) {
  TempDir dir;
  write_bytes(dir / "head.safetensors", st_bytes(kHeadHeader, kHeadData));
  const auto f = read_safetensors(dir / "head.safetensors");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_TRUE(torch::equal(f.tensors.at("weight"), torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(f.tensors.at("bias"), torch::tensor({0.5f, -1.0f})));
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(Safetensors, RoundTripEveryDtypeWithMetadata) {
  TempDir dir;
  torch::manual_seed(1);
  const torch::Tensor base = torch::randn({3, 4}) * 50;
  std::map<std::string, torch::Tensor> tensors;
  for (torch::ScalarType t : {torch::kHalf, torch::kBFloat16, torch::kFloat, torch::kDouble, torch::kChar,
                              torch::kShort, torch::kInt, torch::kLong, torch::kByte, torch::kBool}) {
    tensors[std::string("t_") + c10::toString(t)] = base.to(t);
  }
  tensors["scalar"] = torch::tensor(7.0);
  tensors["empty"] = torch::zeros({0, 5});
  tensors["strided"] = torch::arange(6, torch::kInt).reshape({2, 3}).t();
  const fs::path p = dir / "all.safetensors";
  write_safetensors(p, tensors, {{"seed", "1"}, {"note", "tttlab test"}});
  const auto back = read_safetensors(p);
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    const torch::Tensor& b = back.tensors.at(name);
    EXPECT_EQ(b.scalar_type(), t.scalar_type());
    EXPECT_EQ(b.sizes(), t.sizes());
    EXPECT_TRUE(torch::equal(b, t));
  }
  EXPECT_EQ(back.metadata, (std::map<std::string, std::string>{{"seed", "1"}, {"note", "tttlab test"}}));

  // Layout: header padded to 8, every tensor aligned to its item size, data tiles exactly.
  const std::string bytes = read_bytes(p);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  int64_t total = 0;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    const int64_t begin = v["data_offsets"][0];
    EXPECT_EQ(begin % tensors.at(name).element_size(), 0) << name;
    total += v["data_offsets"][1].get<int64_t>() - begin;
  }
  EXPECT_EQ(static_cast<uint64_t>(total), bytes.size() - 8 - n);
}

TEST(Safetensors, RequireTensorChecksPresenceAndShape) {
  TempDir dir;
  const fs::path p = dir / "head.safetensors";
  write_safetensors(p, {{"weight", torch::zeros({10, 64})}});
  const auto f = read_safetensors(p);
  EXPECT_EQ(require_tensor(f, p, "weight", {10, 64}).size(1), 64);
  EXPECT_EQ(require_tensor(f, p, "weight", {-1, 64}).size(0), 10);
  expect_input_error(
      [&] {
        require_tensor(f, p, "weight", {10, 50});
      },
      p.string(), {"tensor 'weight' has shape [10, 64], expected [10, 50]"});
  expect_input_error([&] { require_tensor(f, p, "weight", {-1}); }, p.string(), {"has shape [10, 64], expected [?]"});
  expect_input_error([&] { require_tensor(f, p, "bias", {10}); }, p.string(),
                     {"has no tensor 'bias'", "tensors present: 'weight'"});
}

TEST(SafetensorsErrors, MissingFile) {
  TempDir dir;
  const std::string p = (dir / "head.safetensors").string();
  expect_input_error([&] { read_safetensors(p); }, p, {"no such file"});
}

TEST(SafetensorsErrors, TooShortAndHeaderLengthBeyondFile) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(p, "abc");
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"too short"});
  std::string bytes = st_bytes(kHeadHeader, kHeadData);
  bytes[1] = 0x10;  // header length += 4096
  write_bytes(p, bytes);
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"header length", "exceeds the file size"});
  // A pickled .pt file starts with bytes that read as an enormous length.
  write_bytes(p, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8", 12));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"exceeds the file size"});
}

TEST(SafetensorsErrors, InvalidJson) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(p, st_bytes(R"({"weight": {"dtype": "F32",)", f32({1})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"not valid JSON"});
  write_bytes(p, st_bytes(R"([1, 2])", ""));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"not a JSON object"});
}

// Header bytes reach messages escaped. Before, a JSON syntax error echoed the offending bytes raw
// (nlohmann's "last read: '...'"), and a name written with JSON escapes (\u0001, \u0085) put control
// characters into the message.
TEST(SafetensorsErrors, HeaderBytesInMessagesAreEscaped) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(p, st_bytes("{\"w\": \xff\xfe}", ""));
  std::string msg = input_error_message([&] { read_safetensors(p); });
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\\xff"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\xff'), std::string::npos) << msg;
  write_bytes(p, st_bytes(R"({"w\u0001\u0085\u00e9":{"dtype":"F32","shape":[1]}})", f32({1})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'w\\x01\\xc2\\x85\xc3\xa9'", "data_offsets"});
  write_bytes(p, st_bytes(R"({"w":{"dtype":"F\u001b[31m","shape":[1],"data_offsets":[0,4]}})", f32({1})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"unsupported dtype 'F\\x1b[31m'"});
  write_bytes(p, st_bytes(R"({"__metadata__":{"a\nb":3}})", ""));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"__metadata__ value for 'a\\x0ab'"});
  // require_tensor lists the names present, escaped as well.
  write_bytes(p, st_bytes(R"({"\u0007bell":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32({1})));
  const SafetensorsFile file = read_safetensors(p);
  expect_input_error([&] { require_tensor(file, p, "weight", {1}); }, p.string(), {"tensors present: '\\x07bell'"});
}

TEST(SafetensorsErrors, BadEntries) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(p, st_bytes(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "\1"));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'w'", "unsupported dtype 'F8_E4M3'", "BF16"});
  write_bytes(p, st_bytes(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", f32({1})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'w'", "bad shape entry -1"});
  write_bytes(p, st_bytes(R"({"w":{"dtype":"F32","shape":[1]}})", f32({1})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'w'", "data_offsets"});
  write_bytes(p, st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", f32({1})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'w'", "end before they begin"});
  write_bytes(p, st_bytes(R"({"w":[1,2]})", ""));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'w'", "expected an object"});
  write_bytes(p, st_bytes(R"({"__metadata__":{"epoch":3}})", ""));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"__metadata__ value for 'epoch'", "expected a string"});
}

TEST(SafetensorsErrors, OffsetsDisagreeWithShape) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(p, st_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}})", f32({1, 2, 3})));
  expect_input_error([&] { read_safetensors(p); }, p.string(),
                     {"tensor 'w'", "span 12 bytes, but shape [2, 3] of F32 needs 24"});
}

TEST(SafetensorsErrors, OffsetsOutOfBounds) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  std::string bytes = st_bytes(kHeadHeader, kHeadData);
  bytes.resize(bytes.size() - 4);  // truncated file
  write_bytes(p, bytes);
  expect_input_error([&] { read_safetensors(p); }, p.string(),
                     {"tensor 'weight'", "run past the end of the data (20 bytes"});
}

TEST(SafetensorsErrors, OverlapGapAndLeftoverBytes) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(
      p,
      st_bytes(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          f32({1, 2, 3})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'b'", "overlap tensor 'a'"});
  write_bytes(
      p,
      st_bytes(
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
          f32({1, 2, 3})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'b'", "gap of 4 unused bytes"});
  write_bytes(p, st_bytes(kHeadHeader, kHeadData + "junk"));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"4 unused bytes after the last tensor"});
  // A duplicated key: JSON keeps one entry, which leaves the other's bytes as a gap.
  write_bytes(
      p,
      st_bytes(
          R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          f32({1, 2})));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"unused bytes"});
}

TEST(SafetensorsErrors, BoolBytesAndUnwritableDtypes) {
  TempDir dir;
  const fs::path p = dir / "x.safetensors";
  write_bytes(p, st_bytes(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x00\x02", 2)));
  expect_input_error([&] { read_safetensors(p); }, p.string(), {"tensor 'm'", "byte value 2"});
  const fs::path q = dir / "c.safetensors";
  expect_input_error(
      [&] {
        write_safetensors(q, {{"z", torch::zeros({2}, torch::kComplexFloat)}});
      },
      q.string(), {"tensor 'z'", "cannot hold"});
  EXPECT_FALSE(fs::exists(q));
}
