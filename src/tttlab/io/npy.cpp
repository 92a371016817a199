#include "tttlab/io/npy.hpp"

#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/binary_io.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using namespace io_detail;

// The compiler's macro rather than C++20's std::endian: fuzz/ compiles this file as C++17 (clang 14
// cannot compile LibTorch 1.13's headers as C++20 against libstdc++ 12).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tttlab's .npy code assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// ---- A tiny parser for the Python literal in the header: a dict of str -> (str | bool | None |
// int | tuple/list of those). ----

struct PyValue {
  enum class Kind { Str, Bool, None, Int, Seq } kind = Kind::None;
  std::string text;            // Str: the string; Int: the digits with an optional sign
  bool flag = false;           // Bool
  std::vector<PyValue> items;  // Seq
};

struct HeaderSyntaxError {
  std::string what;
};

class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  std::vector<std::pair<std::string, PyValue>> parse_dict() {
    skip_ws();
    expect('{', "'{' at the start of the header dict");
    std::vector<std::pair<std::string, PyValue>> out;
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      if (peek() != '\'' && peek() != '"') fail("a quoted key or '}'");
      std::string key = parse_string();
      skip_ws();
      expect(':', fmt::format("':' after key '{}'", printable(key)));
      PyValue v = parse_value();
      out.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        break;
      }
      fail("',' or '}' after a value");
    }
    skip_ws();
    if (pos_ != s_.size()) fail("the end of the header after '}'");
    return out;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  [[noreturn]] void fail(const std::string& expected) const {
    throw HeaderSyntaxError{fmt::format("expected {} at offset {}", expected, pos_)};
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) fail(what);
    ++pos_;
  }
  bool take_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) == w) {
      const size_t end = pos_ + w.size();
      if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) return false;
      pos_ = end;
      return true;
    }
    return false;
  }
  std::string parse_string() {
    const char q = s_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("a closing quote");
      const char c = s_[pos_++];
      if (c == q) break;
      if (c == '\\') {
        if (pos_ >= s_.size()) fail("a character after '\\'");
        out.push_back(s_[pos_++]);
        continue;
      }
      out.push_back(c);
    }
    return out;
  }
  // Plain arrays nest two deep (the dict, the shape tuple); structured dtypes a few more. The bound
  // keeps a header of many thousand '[' from exhausting the stack in this recursive parser.
  static constexpr int kMaxDepth = 64;

  PyValue parse_value(int depth = 1) {
    if (depth > kMaxDepth) fail(fmt::format("at most {} nested sequences", kMaxDepth));
    skip_ws();
    PyValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = PyValue::Kind::Str;
      v.text = parse_string();
    } else if (take_word("True")) {
      v.kind = PyValue::Kind::Bool;
      v.flag = true;
    } else if (take_word("False")) {
      v.kind = PyValue::Kind::Bool;
      v.flag = false;
    } else if (take_word("None")) {
      v.kind = PyValue::Kind::None;
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      v.kind = PyValue::Kind::Seq;
      while (true) {
        skip_ws();
        if (peek() == close) {
          ++pos_;
          break;
        }
        v.items.push_back(parse_value(depth + 1));
        skip_ws();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == close) {
          ++pos_;
          break;
        }
        fail(fmt::format("',' or '{}' in a sequence", close));
      }
    } else if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) {
      v.kind = PyValue::Kind::Int;
      if (c == '-' || c == '+') v.text.push_back(s_[pos_++]);
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("a digit");
      while (std::isdigit(static_cast<unsigned char>(peek()))) v.text.push_back(s_[pos_++]);
      if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long suffix
    } else {
      fail("a value (string, True/False, integer or tuple)");
    }
    return v;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

struct DtypeInfo {
  torch::ScalarType type;
  int itemsize;
};

// Maps a numpy descr to a torch dtype, or explains why not.
DtypeInfo dtype_from_descr(const std::string& p, const std::string& descr) {
  if (descr.size() < 3) {
    throw_input_error(
        "{}: unsupported dtype '{}' (expected one of '<f2', '<f4', '<f8', '|i1', '<i2', '<i4', '<i8', '|u1', '|b1')", p,
        printable(descr));
  }
  const char order = descr[0];
  const std::string code = descr.substr(1);
  struct Entry {
    const char* code;
    torch::ScalarType type;
    int size;
  };
  static const Entry kTable[] = {
      {"f2", torch::kHalf, 2}, {"f4", torch::kFloat, 4}, {"f8", torch::kDouble, 8},
      {"i1", torch::kChar, 1}, {"i2", torch::kShort, 2}, {"i4", torch::kInt, 4},
      {"i8", torch::kLong, 8}, {"u1", torch::kByte, 1},  {"b1", torch::kBool, 1},
  };
  const Entry* found = nullptr;
  for (const Entry& e : kTable) {
    if (code == e.code) found = &e;
  }
  if (found == nullptr || (order != '<' && order != '>' && order != '|' && order != '=')) {
    throw_input_error(
        "{}: unsupported dtype '{}' (expected one of '<f2', '<f4', '<f8', '|i1', '<i2', '<i4', '<i8', '|u1', '|b1')", p,
        printable(descr));
  }
  if (order == '>' && found->size > 1) {
    throw_input_error(
        "{}: big-endian dtype '{}' is not supported (expected little-endian '<{}'; "
        "convert with arr.astype(arr.dtype.newbyteorder('<')))",
        p, descr, code);
  }
  if (order == '|' && found->size > 1) {
    throw_input_error("{}: dtype '{}' has no byte order (expected '<{}')", p, descr, code);
  }
  return {found->type, found->size};
}

std::string shape_tuple(const std::vector<int64_t>& shape) {
  if (shape.empty()) return "()";
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// The header for a message: its padding (spaces and the final newline) dropped, the rest escaped.
std::string printable_header(std::string_view h) {
  while (!h.empty() && (h.back() == ' ' || h.back() == '\n')) h.remove_suffix(1);
  return printable(h, 120);
}

// A read-only stream over bytes in memory (C++17: fuzz/ compiles this file without std::spanstream).
class MemoryStreamBuf : public std::streambuf {
 public:
  explicit MemoryStreamBuf(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());  // only ever read: no put area is set
    setg(begin, begin, begin + bytes.size());
  }
};

// The .npy format from `in`, which holds `file_size` bytes; `p` names the source in messages.
torch::Tensor read_npy_stream(std::istream& in, std::uintmax_t file_size, const std::string& p) {
  // Magic and version.
  unsigned char pre[kMagicLen + 2] = {};
  in.read(reinterpret_cast<char*>(pre), sizeof pre);
  const auto got = static_cast<size_t>(in.gcount());
  if (got < kMagicLen || std::memcmp(pre, kMagic, kMagicLen) != 0) {
    throw_input_error("{}: not a .npy file (bad magic: expected the bytes \\x93NUMPY at the start)", p);
  }
  if (got < sizeof pre) throw_input_error("{}: truncated .npy file ({} bytes, ends inside the preamble)", p, file_size);
  const int major = pre[kMagicLen], minor = pre[kMagicLen + 1];
  if (!((major == 1 || major == 2 || major == 3) && minor == 0)) {
    throw_input_error("{}: unsupported .npy format version {}.{} (expected 1.0, 2.0 or 3.0)", p, major, minor);
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4] = {};
  if (!read_exact(in, len_buf, len_bytes)) {
    throw_input_error("{}: truncated .npy file ({} bytes, ends inside the header length)", p, file_size);
  }
  uint32_t header_len = len_buf[0] | (uint32_t{len_buf[1]} << 8);
  if (len_bytes == 4) header_len |= (uint32_t{len_buf[2]} << 16) | (uint32_t{len_buf[3]} << 24);
  const std::uintmax_t data_offset = kMagicLen + 2 + len_bytes + header_len;
  if (data_offset > file_size) {
    throw_input_error("{}: truncated .npy file: the header claims {} bytes but the file has only {} after the preamble",
                      p, header_len, file_size - (kMagicLen + 2 + len_bytes));
  }
  std::string header(header_len, '\0');
  if (!read_exact(in, header.data(), header_len)) throw_input_error("{}: cannot read the .npy header", p);

  // Parse the header dict.
  std::vector<std::pair<std::string, PyValue>> entries;
  try {
    entries = HeaderParser(header).parse_dict();
  } catch (const HeaderSyntaxError& e) {
    throw_input_error("{}: corrupt .npy header: {} in \"{}\"", p, e.what, printable_header(header));
  }
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape_v = nullptr;
  for (const auto& [key, value] : entries) {
    const PyValue** slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortran
                           : key == "shape"         ? &shape_v
                                                    : nullptr;
    if (slot == nullptr) continue;  // unknown keys are ignored
    if (*slot != nullptr) throw_input_error("{}: corrupt .npy header: key '{}' appears twice", p, key);
    *slot = &value;
  }
  for (const auto& [name, v] :
       {std::pair{"descr", descr}, std::pair{"fortran_order", fortran}, std::pair{"shape", shape_v}}) {
    if (v == nullptr) {
      throw_input_error(
          "{}: corrupt .npy header: missing key '{}' (expected 'descr', 'fortran_order' and 'shape') in \"{}\"", p,
          name, printable_header(header));
    }
  }
  if (descr->kind == PyValue::Kind::Seq) {
    throw_input_error("{}: structured dtypes are not supported (expected a plain numeric array)", p);
  }
  if (descr->kind != PyValue::Kind::Str) {
    throw_input_error("{}: corrupt .npy header: 'descr' must be a string like '<f4'", p);
  }
  if (fortran->kind != PyValue::Kind::Bool) {
    throw_input_error("{}: corrupt .npy header: 'fortran_order' must be True or False", p);
  }
  if (shape_v->kind != PyValue::Kind::Seq) {
    throw_input_error("{}: corrupt .npy header: 'shape' must be a tuple of integers like (5,) or (3, 4)", p);
  }
  std::vector<int64_t> shape;
  for (const PyValue& d : shape_v->items) {
    if (d.kind != PyValue::Kind::Int) {
      throw_input_error("{}: corrupt .npy header: 'shape' must be a tuple of integers like (5,) or (3, 4)", p);
    }
    int64_t value = 0;
    const char* first = d.text.data() + (d.text[0] == '+' ? 1 : 0);
    const auto [ptr, ec] = std::from_chars(first, d.text.data() + d.text.size(), value);
    if (ec == std::errc::result_out_of_range) {
      throw_input_error("{}: shape dimension {} is too large (expected a size that fits in 64 bits)", p, d.text);
    }
    if (ec != std::errc() || ptr != d.text.data() + d.text.size()) {
      throw_input_error("{}: corrupt .npy header: bad shape dimension '{}'", p, d.text);
    }
    if (value < 0) throw_input_error("{}: negative dimension {} in shape (expected sizes >= 0)", p, value);
    shape.push_back(value);
  }
  const DtypeInfo dt = dtype_from_descr(p, descr->text);
  if (fortran->flag) {
    throw_input_error(
        "{}: Fortran-order arrays are not supported (expected fortran_order False; "
        "save np.ascontiguousarray(arr) instead)",
        p);
  }
  int64_t nbytes = 0;
  if (!checked_nbytes(shape, dt.itemsize, nbytes)) {
    throw_input_error("{}: shape {} of '{}' is too large (its byte size overflows 64 bits)", p, shape_tuple(shape),
                      descr->text);
  }
  const std::uintmax_t available = file_size - data_offset;
  if (available < static_cast<std::uintmax_t>(nbytes)) {
    throw_input_error("{}: truncated data: shape {} of '{}' needs {} bytes but the file has only {} after the header",
                      p, shape_tuple(shape), descr->text, nbytes, available);
  }
  if (available > static_cast<std::uintmax_t>(nbytes)) {
    throw_input_error("{}: {} unexpected trailing bytes after the data (shape {} of '{}' needs {} bytes)", p,
                      available - nbytes, shape_tuple(shape), descr->text, nbytes);
  }

  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dt.type));
  if (nbytes > 0 && !read_exact(in, t.data_ptr(), static_cast<std::uintmax_t>(nbytes))) {
    throw_input_error("{}: truncated data: could not read {} bytes of array data", p, nbytes);
  }
  if (dt.type == torch::kBool) {
    const auto* b = static_cast<const unsigned char*>(t.data_ptr());
    for (int64_t i = 0; i < nbytes; ++i) {
      if (b[i] > 1) throw_input_error("{}: bool element {} has byte value {} (expected 0 or 1)", p, i, int{b[i]});
    }
  }
  return t;
}

}  // namespace

torch::Tensor read_npy(const fs::path& path) {
  const std::string p = path.string();
  const std::uintmax_t file_size = require_regular_file(path, "a .npy file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("{}: cannot open for reading", p);
  return read_npy_stream(in, file_size, p);
}

torch::Tensor read_npy_bytes(std::string_view bytes, const std::string& name) {
  MemoryStreamBuf buf(bytes);
  std::istream in(&buf);
  return read_npy_stream(in, bytes.size(), name);
}

void write_npy(const fs::path& path, const torch::Tensor& tensor) {
  if (!tensor.defined()) throw_input_error("{}: cannot write an undefined tensor", path.string());
  const char* descr = nullptr;
  switch (tensor.scalar_type()) {
    case torch::kHalf:
      descr = "<f2";
      break;
    case torch::kFloat:
      descr = "<f4";
      break;
    case torch::kDouble:
      descr = "<f8";
      break;
    case torch::kChar:
      descr = "|i1";
      break;
    case torch::kShort:
      descr = "<i2";
      break;
    case torch::kInt:
      descr = "<i4";
      break;
    case torch::kLong:
      descr = "<i8";
      break;
    case torch::kByte:
      descr = "|u1";
      break;
    case torch::kBool:
      descr = "|b1";
      break;
    default:
      throw_input_error(
          "{}: cannot write a {} tensor as .npy (numpy has no such dtype; expected float16/32/64, "
          "int8/16/32/64, uint8 or bool)",
          path.string(), scalar_type_name(tensor.scalar_type()));
  }
  const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  const std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_tuple(shape));
  // Pad with spaces and a final newline so that the data starts at a multiple of 64 bytes.
  auto padded = [&](size_t preamble) {
    const size_t unpadded = preamble + dict.size() + 1;
    const size_t pad = (64 - unpadded % 64) % 64;
    return dict + std::string(pad, ' ') + "\n";
  };
  int major = 1;
  std::string header = padded(kMagicLen + 2 + 2);
  if (header.size() > 65535) {
    major = 2;
    header = padded(kMagicLen + 2 + 4);
  }
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(kMagic, kMagicLen);
    out.put(static_cast<char>(major));
    out.put(0);
    const auto len = static_cast<uint32_t>(header.size());
    out.put(static_cast<char>(len & 0xff));
    out.put(static_cast<char>((len >> 8) & 0xff));
    if (major == 2) {
      out.put(static_cast<char>((len >> 16) & 0xff));
      out.put(static_cast<char>((len >> 24) & 0xff));
    }
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    write_all(out, t.data_ptr(), static_cast<std::uintmax_t>(t.numel()) * t.element_size());
  });
}

}  // namespace tttlab
