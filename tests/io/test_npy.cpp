#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_support.hpp"
#include "tttlab/io/npy.hpp"

namespace fs = std::filesystem;
using tttlab::read_npy;
using tttlab::write_npy;
using namespace tttlab::test;

namespace {

fs::path fixture(const std::string& name) { return fs::path(TTTLAB_SOURCE_DIR) / "tests/fixtures/npy" / name; }

// A .npy file assembled by hand: version, header text (padded to 16 with a newline), raw data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t pre = 8 + (major == 1 ? 2 : 4);
  while ((pre + header.size() + 1) % 16 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const auto n = static_cast<uint32_t>(header.size());
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 24) & 0xff);
  }
  return out + header + data;
}

std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

}  // namespace

// ---- Fixtures written by numpy ----

TEST(NpyFixtures, FloatTypesReadWithExactValues) {
  const auto expected = torch::tensor({{0.0, 1.5, -2.25}, {3.0, 65504.0, -0.125}}, torch::kDouble);
  const std::pair<const char*, torch::ScalarType> cases[] = {
      {"float16.npy", torch::kHalf}, {"float32.npy", torch::kFloat}, {"float64.npy", torch::kDouble}};
  for (const auto& [name, type] : cases) {
    SCOPED_TRACE(name);
    const torch::Tensor t = read_npy(fixture(name));
    EXPECT_EQ(t.scalar_type(), type);
    ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3}));
    EXPECT_TRUE(torch::equal(t.to(torch::kDouble), expected));
  }
}

TEST(NpyFixtures, IntegerTypesReadWithExactValues) {
  const torch::Tensor i32 = read_npy(fixture("int32.npy"));
  EXPECT_EQ(i32.scalar_type(), torch::kInt);
  EXPECT_TRUE(torch::equal(i32, torch::tensor({INT32_MIN, -1, 0, 7, INT32_MAX}, torch::kInt)));

  const torch::Tensor i64 = read_npy(fixture("int64.npy"));
  EXPECT_EQ(i64.scalar_type(), torch::kLong);
  const int64_t big = int64_t{1} << 62;
  EXPECT_TRUE(torch::equal(i64, torch::tensor({-big, int64_t{3}, int64_t{5}, big}, torch::kLong).reshape({2, 2})));

  const torch::Tensor u8 = read_npy(fixture("uint8.npy"));
  EXPECT_EQ(u8.scalar_type(), torch::kByte);
  EXPECT_TRUE(torch::equal(u8, torch::arange(250, 256, torch::kLong).to(torch::kByte).reshape({2, 3})));

  const torch::Tensor i8 = read_npy(fixture("int8.npy"));
  EXPECT_EQ(i8.scalar_type(), torch::kChar);
  EXPECT_TRUE(torch::equal(i8, torch::tensor({-128, -1, 0, 127}, torch::kChar)));

  const torch::Tensor i16 = read_npy(fixture("int16.npy"));
  EXPECT_EQ(i16.scalar_type(), torch::kShort);
  EXPECT_TRUE(torch::equal(i16, torch::tensor({-32768, 12345, 32767}, torch::kShort)));

  const torch::Tensor b = read_npy(fixture("bool.npy"));
  EXPECT_EQ(b.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::equal(b, torch::tensor({true, false, true})));
}

TEST(NpyFixtures, ScalarEmptyAndVersions2And3) {
  const torch::Tensor s = read_npy(fixture("scalar.npy"));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 2.5f);

  const torch::Tensor e = read_npy(fixture("empty.npy"));
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{0, 4}));

  const torch::Tensor v2 = read_npy(fixture("v2.npy"));
  EXPECT_TRUE(torch::equal(v2, torch::arange(6, torch::kFloat).reshape({3, 2})));
  const torch::Tensor v3 = read_npy(fixture("v3.npy"));
  EXPECT_TRUE(torch::equal(v3, torch::arange(4, torch::kLong)));
}

TEST(NpyFixtures, FortranOrderBigEndianAndOtherDtypesAreRefused) {
  const std::string f = fixture("fortran.npy").string();
  expect_input_error([&] { read_npy(f); }, f, {"Fortran-order", "fortran_order False"});
  const std::string be = fixture("bigendian.npy").string();
  expect_input_error([&] { read_npy(be); }, be, {"big-endian dtype '>f4' is not supported", "'<f4'"});
  const std::string u32 = fixture("uint32.npy").string();
  expect_input_error([&] { read_npy(u32); }, u32, {"unsupported dtype '<u4'", "expected one of"});
  const std::string c64 = fixture("complex64.npy").string();
  expect_input_error([&] { read_npy(c64); }, c64, {"unsupported dtype '<c8'"});
}

// ---- Round trips ----

TEST(NpyRoundTrip, EveryDtypeAndShape) {
  TempDir dir;
  torch::manual_seed(3);
  const torch::Tensor base = torch::randn({3, 5}) * 100;
  const torch::ScalarType types[] = {torch::kHalf, torch::kFloat, torch::kDouble, torch::kChar, torch::kShort,
                                     torch::kInt,  torch::kLong,  torch::kByte,   torch::kBool};
  for (torch::ScalarType type : types) {
    SCOPED_TRACE(c10::toString(type));
    const torch::Tensor t = base.to(type);
    const fs::path p = dir / "t.npy";
    write_npy(p, t);
    const torch::Tensor back = read_npy(p);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(torch::equal(back, t));
    // Data starts at a multiple of 64 bytes, version 1.0.
    const std::string bytes = read_bytes(p);
    EXPECT_EQ(bytes[6], 1);
    EXPECT_EQ((bytes.size() - static_cast<size_t>(t.numel() * t.element_size())) % 64, 0u);
  }
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{}, {7}, {0}, {2, 0, 3}, {2, 3, 4, 5}}) {
    const torch::Tensor t = torch::randn(shape);
    write_npy(dir / "s.npy", t);
    const torch::Tensor back = read_npy(dir / "s.npy");
    EXPECT_EQ(back.sizes(), t.sizes());
    EXPECT_TRUE(torch::equal(back, t));
  }
}

TEST(NpyRoundTrip, NonContiguousInputIsWrittenInCOrder) {
  TempDir dir;
  const torch::Tensor t = torch::arange(12, torch::kFloat).reshape({3, 4}).t();  // [4, 3], strided
  write_npy(dir / "t.npy", t);
  const torch::Tensor back = read_npy(dir / "t.npy");
  EXPECT_TRUE(back.is_contiguous());
  EXPECT_TRUE(torch::equal(back, t));
  EXPECT_EQ(back[0][1].item<float>(), 4.0f);
}

TEST(NpyHeader, Version2HeaderLongerThan64KiB) {
  TempDir dir;
  // A header over 65535 bytes needs version 2.0's 4-byte length (extra keys are ignored).
  const torch::Tensor t = torch::arange(3, torch::kFloat);
  const std::string dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'pad': '" + std::string(70000, 'x') + "'}";
  write_bytes(dir / "v2.npy", npy_bytes(dict, floats({0, 1, 2}), 2));
  EXPECT_TRUE(torch::equal(read_npy(dir / "v2.npy"), t));
}

TEST(NpyHeader, AnyKeyOrderQuotesAndTrailingCommas) {
  TempDir dir;
  const fs::path p = dir / "h.npy";
  write_bytes(p, npy_bytes("{ \"shape\" : ( 2 , ) , 'fortran_order':False,'descr':\"<f4\",}", floats({1.5f, -3})));
  EXPECT_TRUE(torch::equal(read_npy(p), torch::tensor({1.5f, -3.0f})));
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 1]}", floats({4, 5})));
  EXPECT_EQ(read_npy(p).sizes(), (std::vector<int64_t>{2, 1}));
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", floats({9})));
  EXPECT_EQ(read_npy(p).item<float>(), 9.0f);
}

// ---- Bad input: one test per case ----

TEST(NpyErrors, MissingFile) {
  TempDir dir;
  const std::string p = (dir / "nope.npy").string();
  expect_input_error([&] { read_npy(p); }, p, {"no such file"});
}

TEST(NpyErrors, NotAFile) {
  TempDir dir;
  const std::string p = dir.path().string();
  expect_input_error([&] { read_npy(p); }, p, {"directory, not a file"});
}

TEST(NpyErrors, BadMagic) {
  TempDir dir;
  const fs::path p = dir / "bad.npy";
  write_bytes(p, "PK\x03\x04 this is a zip file, not npy");
  expect_input_error([&] { read_npy(p); }, p.string(), {"bad magic", "\\x93NUMPY"});
  write_bytes(p, "");
  expect_input_error([&] { read_npy(p); }, p.string(), {"bad magic"});
}

TEST(NpyErrors, UnsupportedVersion) {
  TempDir dir;
  const fs::path p = dir / "v4.npy";
  std::string bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", floats({1}));
  bytes[6] = 4;
  write_bytes(p, bytes);
  expect_input_error([&] { read_npy(p); }, p.string(),
                     {"unsupported .npy format version 4.0", "expected 1.0, 2.0 or 3.0"});
}

TEST(NpyErrors, CorruptHeader) {
  TempDir dir;
  const fs::path p = dir / "c.npy";
  write_bytes(p, npy_bytes("{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", floats({1})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"corrupt .npy header", "expected ',' or '}'"});
  write_bytes(p, npy_bytes("{'descr': '<f4', 'shape': (1,)}", floats({1})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"corrupt .npy header", "missing key 'fortran_order'"});
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}", floats({1})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"corrupt .npy header"});
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", floats({1})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"corrupt .npy header"});
  // A header length beyond the end of the file.
  std::string bytes = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", "");
  bytes[8] = '\xff';
  bytes[9] = '\x7f';
  write_bytes(p, bytes);
  expect_input_error([&] { read_npy(p); }, p.string(), {"truncated .npy file", "header claims 32767 bytes"});
}

// Bytes of a corrupt header reach the message escaped: before, a key, a descr or the header excerpt
// was echoed raw (invalid UTF-8, a NUL or a control character in the terminal).
TEST(NpyErrors, HeaderBytesInMessagesAreEscaped) {
  TempDir dir;
  const fs::path p = dir / "c.npy";
  write_bytes(p, npy_bytes(std::string("{'desc\xe9\x01' 5, 'fortran_order': False, 'shape': (1,)}"), floats({1})));
  std::string msg = input_error_message([&] { read_npy(p); });
  EXPECT_NE(msg.find("after key 'desc\\xe9\\x01'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in \"{'desc\\xe9\\x01' 5, 'fortran_order'"), std::string::npos) << msg;
  static constexpr char kDescrWithNul[] = "{'descr': '<f\xc3\x28\x00', 'fortran_order': False, 'shape': (1,)}";
  write_bytes(p, npy_bytes(std::string(kDescrWithNul, sizeof kDescrWithNul - 1), floats({1})));
  msg = input_error_message([&] { read_npy(p); });
  EXPECT_NE(msg.find("unsupported dtype '<f\\xc3(\\x00'"), std::string::npos) << msg;
  // Well-formed UTF-8 stays as it is.
  write_bytes(p, npy_bytes("{'descr': '<f\xc3\xa9', 'fortran_order': False, 'shape': (1,)}", floats({1})));
  msg = input_error_message([&] { read_npy(p); });
  EXPECT_NE(msg.find("unsupported dtype '<f\xc3\xa9'"), std::string::npos) << msg;
}

// The header parser is recursive: a header of nested sequences (here 200,000 '[' in a 200 KB file)
// used to overflow the stack and crash; it is refused past 64 levels.
TEST(NpyErrors, DeeplyNestedHeaderIsRefused) {
  TempDir dir;
  const fs::path p = dir / "nested.npy";
  write_bytes(p,
              npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': " + std::string(200000, '[') + "}", "", 2));
  expect_input_error([&] { read_npy(p); }, p.string(), {"corrupt .npy header", "at most 64 nested sequences"});
  // 64 levels (the dict's value and 63 inside it) still parse, and then fail on the shape's meaning.
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': " + std::string(63, '[') + "1" +
                               std::string(63, ']') + "}",
                           floats({1})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"'shape' must be a tuple of integers"});
}

TEST(NpyErrors, BigEndianDtype) {
  TempDir dir;
  const fs::path p = dir / "be.npy";
  write_bytes(p, npy_bytes("{'descr': '>i8', 'fortran_order': False, 'shape': (1,)}", std::string(8, '\0')));
  expect_input_error([&] { read_npy(p); }, p.string(),
                     {"big-endian dtype '>i8' is not supported (expected little-endian '<i8'"});
}

TEST(NpyErrors, UnsupportedDtype) {
  TempDir dir;
  const fs::path p = dir / "u.npy";
  write_bytes(p, npy_bytes("{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}", std::string(12, '\0')));
  expect_input_error([&] { read_npy(p); }, p.string(), {"unsupported dtype '<U3'"});
  write_bytes(p, npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", floats({1})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"structured dtypes are not supported"});
}

TEST(NpyErrors, FortranOrder) {
  TempDir dir;
  const fs::path p = dir / "f.npy";
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1)}", floats({1, 2})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"Fortran-order arrays are not supported"});
}

TEST(NpyErrors, NegativeAndOverflowingShapes) {
  TempDir dir;
  const fs::path p = dir / "s.npy";
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", floats({1, 2})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"negative dimension -1"});
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", ""));
  expect_input_error([&] { read_npy(p); }, p.string(), {"dimension 99999999999999999999 is too large"});
  write_bytes(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", ""));
  expect_input_error([&] { read_npy(p); }, p.string(), {"(4294967296, 4294967296)", "overflows"});
}

TEST(NpyErrors, TruncatedData) {
  TempDir dir;
  const fs::path p = dir / "t.npy";
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)}", floats({1, 2, 3})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"truncated data", "(3, 4)", "needs 48 bytes", "only 12"});
}

TEST(NpyErrors, TrailingBytes) {
  TempDir dir;
  const fs::path p = dir / "t.npy";
  write_bytes(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", floats({1, 2, 3})));
  expect_input_error([&] { read_npy(p); }, p.string(), {"4 unexpected trailing bytes", "needs 8 bytes"});
}

TEST(NpyErrors, BoolBytesOtherThanZeroOrOne) {
  TempDir dir;
  const fs::path p = dir / "b.npy";
  write_bytes(p, npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", std::string("\x01\x07", 2)));
  expect_input_error([&] { read_npy(p); }, p.string(), {"bool element 1 has byte value 7"});
}

TEST(NpyErrors, WritingBFloat16IsRefused) {
  TempDir dir;
  const fs::path p = dir / "bf.npy";
  expect_input_error([&] { write_npy(p, torch::zeros({2}, torch::kBFloat16)); }, p.string(), {"bfloat16"});
  EXPECT_FALSE(fs::exists(p));
}

// Every prefix of a valid file (an empty array, so the file ends where the header does) is refused
// with the message naming the part it ends in: magic, version, header length or header. The bounds
// between the parts are where an off-by-one would put a file under the wrong message.
TEST(NpyErrors, EveryTruncationIsNamedByThePartItEndsIn) {
  TempDir dir;
  const fs::path p = dir / "cut.npy";
  for (const int major : {1, 2, 3}) {
    const std::string full = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0,)}", "", major);
    const size_t len_end = major == 1 ? 10 : 12;  // magic (6), version (2), header length (2 or 4)
    const size_t header_len = full.size() - len_end;
    for (size_t cut = 0; cut < full.size(); ++cut) {
      SCOPED_TRACE(::testing::Message() << "version " << major << ", first " << cut << " of " << full.size()
                                        << " bytes");
      write_bytes(p, full.substr(0, cut));
      if (cut < 6) {
        expect_input_error([&] { read_npy(p); }, p.string(), {"not a .npy file (bad magic"});
      } else if (cut < 8) {
        expect_input_error([&] { read_npy(p); }, p.string(),
                           {"truncated .npy file (" + std::to_string(cut) + " bytes, ends inside the preamble)"});
      } else if (cut < len_end) {
        expect_input_error([&] { read_npy(p); }, p.string(),
                           {"truncated .npy file (" + std::to_string(cut) + " bytes, ends inside the header length)"});
      } else {
        expect_input_error([&] { read_npy(p); }, p.string(),
                           {"truncated .npy file: the header claims " + std::to_string(header_len) +
                            " bytes but the file has only " + std::to_string(cut - len_end) + " after the preamble"});
      }
    }
    write_bytes(p, full);
    EXPECT_EQ(read_npy(p).numel(), 0) << "version " << major;
    // One byte past the header is one byte of data too many for an empty array, not a header error.
    write_bytes(p, full + "x");
    expect_input_error([&] { read_npy(p); }, p.string(), {"1 unexpected trailing bytes"});
  }
}
