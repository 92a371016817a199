#include "tttlab/io/safetensors.hpp"

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)
#include <nlohmann/json.hpp>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/binary_io.hpp"

namespace tttlab {

namespace fs = std::filesystem;
using namespace io_detail;
using json = nlohmann::json;

namespace {

constexpr uint64_t kMaxHeader = 100u * 1024 * 1024;  // the Python library's limit

struct DtypeEntry {
  const char* name;
  torch::ScalarType type;
  int size;
};
constexpr DtypeEntry kDtypes[] = {
    {"F16", torch::kHalf, 2}, {"BF16", torch::kBFloat16, 2}, {"F32", torch::kFloat, 4}, {"F64", torch::kDouble, 8},
    {"I8", torch::kChar, 1},  {"I16", torch::kShort, 2},     {"I32", torch::kInt, 4},   {"I64", torch::kLong, 8},
    {"U8", torch::kByte, 1},  {"BOOL", torch::kBool, 1},
};
constexpr const char* kDtypeList = "F16, BF16, F32, F64, I8, I16, I32, I64, U8 or BOOL";

const DtypeEntry* dtype_by_name(const std::string& name) {
  for (const DtypeEntry& e : kDtypes) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

const DtypeEntry* dtype_by_type(torch::ScalarType t) {
  for (const DtypeEntry& e : kDtypes) {
    if (t == e.type) return &e;
  }
  return nullptr;
}

// A non-negative integer from the header (JSON numbers may come as unsigned, signed or float).
bool json_size(const json& v, int64_t& out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return out >= 0;
  }
  return false;
}

struct Entry {
  std::string name;
  const DtypeEntry* dtype;
  std::vector<int64_t> shape;
  int64_t begin, end;
};

std::string shape_str(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

}  // namespace

SafetensorsFile read_safetensors(const fs::path& path) {
  const std::string p = path.string();
  const std::uintmax_t file_size = require_regular_file(path, "a .safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_input_error("{}: cannot open for reading", p);
  if (file_size < 8) {
    throw_input_error("{}: not a safetensors file: {} bytes, too short for the 8-byte header length", p, file_size);
  }
  unsigned char len_bytes[8];
  if (!read_exact(in, len_bytes, 8)) throw_input_error("{}: cannot read the header length", p);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8) {
    throw_input_error(
        "{}: header length {} exceeds the file size ({} bytes after the length field; not a safetensors "
        "file, or truncated)",
        p, header_len, file_size - 8);
  }
  if (header_len > kMaxHeader) {
    throw_input_error("{}: header length {} is over the {}-byte limit", p, header_len, kMaxHeader);
  }
  if (header_len < 2) throw_input_error("{}: header length {} is too small for a JSON object", p, header_len);
  std::string header(header_len, '\0');
  if (!read_exact(in, header.data(), header_len)) throw_input_error("{}: cannot read the header", p);
  const uint64_t data_size = file_size - 8 - header_len;

  json j;
  try {
    j = json::parse(header);
  } catch (const json::exception& e) {
    throw_input_error("{}: the header is not valid JSON ({})", p, printable(e.what()));
  }
  if (!j.is_object()) throw_input_error("{}: the header is not a JSON object (expected {{\"name\": {{...}}, ...}})", p);

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) throw_input_error("{}: __metadata__ must be an object of strings", p);
      for (const auto& [k, mv] : v.items()) {
        if (!mv.is_string()) {
          throw_input_error("{}: __metadata__ value for '{}' is {} (expected a string)", p, printable(k),
                            mv.type_name());
        }
        out.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) {
      throw_input_error("{}: tensor '{}': entry is {} (expected an object with dtype, shape and data_offsets)", p,
                        printable(name), v.type_name());
    }
    Entry e{name, nullptr, {}, 0, 0};
    const std::string shown = printable(name);  // the name as messages quote it
    const auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) {
      throw_input_error("{}: tensor '{}': missing or non-string 'dtype' (expected one of {})", p, shown, kDtypeList);
    }
    e.dtype = dtype_by_name(dt->get<std::string>());
    if (e.dtype == nullptr) {
      throw_input_error("{}: tensor '{}': unsupported dtype '{}' (expected {})", p, shown,
                        printable(dt->get<std::string>()), kDtypeList);
    }
    const auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) {
      throw_input_error("{}: tensor '{}': missing 'shape' (expected an array of sizes)", p, shown);
    }
    for (const json& d : *sh) {
      int64_t s = 0;
      if (!json_size(d, s)) {
        throw_input_error("{}: tensor '{}': bad shape entry {} (expected a non-negative integer)", p, shown,
                          printable(d.dump()));
      }
      e.shape.push_back(s);
    }
    const auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !json_size((*off)[0], e.begin) ||
        !json_size((*off)[1], e.end)) {
      throw_input_error("{}: tensor '{}': missing or bad 'data_offsets' (expected [begin, end], non-negative integers)",
                        p, shown);
    }
    if (e.begin > e.end) {
      throw_input_error("{}: tensor '{}': data_offsets [{}, {}] end before they begin", p, shown, e.begin, e.end);
    }
    int64_t nbytes = 0;
    if (!checked_nbytes(e.shape, e.dtype->size, nbytes)) {
      throw_input_error("{}: tensor '{}': shape {} is too large (its byte size overflows 64 bits)", p, shown,
                        shape_str(e.shape));
    }
    if (e.end - e.begin != nbytes) {
      throw_input_error("{}: tensor '{}': data_offsets [{}, {}] span {} bytes, but shape {} of {} needs {}", p, shown,
                        e.begin, e.end, e.end - e.begin, shape_str(e.shape), e.dtype->name, nbytes);
    }
    if (static_cast<uint64_t>(e.end) > data_size) {
      throw_input_error(
          "{}: tensor '{}': data_offsets [{}, {}] run past the end of the data ({} bytes; file truncated?)", p, shown,
          e.begin, e.end, data_size);
    }
    entries.push_back(std::move(e));
  }

  // The tensors must tile the data exactly.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  int64_t pos = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < pos) {
      throw_input_error("{}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' (which ends at {})", p,
                        printable(e.name), e.begin, e.end, printable(prev->name), pos);
    }
    if (e.begin > pos) {
      throw_input_error("{}: tensor '{}': data_offsets [{}, {}] leave a gap of {} unused bytes before it", p,
                        printable(e.name), e.begin, e.end, e.begin - pos);
    }
    pos = e.end;
    prev = &e;
  }
  if (static_cast<uint64_t>(pos) != data_size) {
    throw_input_error("{}: {} unused bytes after the last tensor (the data is {} bytes, the tensors cover {})", p,
                      data_size - static_cast<uint64_t>(pos), data_size, pos);
  }

  for (const Entry& e : entries) {
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    const int64_t nbytes = e.end - e.begin;
    if (nbytes > 0) {
      in.seekg(static_cast<std::streamoff>(8 + header_len + static_cast<uint64_t>(e.begin)));
      if (!read_exact(in, t.data_ptr(), static_cast<uint64_t>(nbytes))) {
        throw_input_error("{}: tensor '{}': cannot read its {} bytes", p, printable(e.name), nbytes);
      }
    }
    if (e.dtype->type == torch::kBool) {
      const auto* b = static_cast<const unsigned char*>(t.data_ptr());
      for (int64_t i = 0; i < nbytes; ++i) {
        if (b[i] > 1)
          throw_input_error("{}: tensor '{}': BOOL element {} has byte value {} (expected 0 or 1)", p,
                            printable(e.name), i, int{b[i]});
      }
    }
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const fs::path& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string p = path.string();
  struct Item {
    const std::string* name;
    const DtypeEntry* dtype;
    torch::Tensor t;
  };
  std::vector<Item> items;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw_input_error("{}: '__metadata__' cannot be a tensor name", p);
    if (!tensor.defined()) throw_input_error("{}: tensor '{}' is undefined", p, name);
    const DtypeEntry* dt = dtype_by_type(tensor.scalar_type());
    if (dt == nullptr) {
      throw_input_error("{}: tensor '{}' has dtype {}, which safetensors cannot hold here (expected {})", p, name,
                        scalar_type_name(tensor.scalar_type()), kDtypeList);
    }
    items.push_back({&name, dt, tensor.detach().to(torch::kCPU).contiguous()});
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.dtype->size > b.dtype->size; });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  int64_t offset = 0;
  for (const Item& it : items) {
    const int64_t nbytes = it.t.numel() * it.t.element_size();
    header[*it.name] = {{"dtype", it.dtype->name},
                        {"shape", std::vector<int64_t>(it.t.sizes().begin(), it.t.sizes().end())},
                        {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw_input_error("{}: cannot encode the header as JSON (tensor names and metadata must be UTF-8): {}", p,
                      e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  write_file_atomically(path, [&](std::ostream& out) {
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i, n >>= 8) out.put(static_cast<char>(n & 0xff));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const Item& it : items)
      write_all(out, it.t.data_ptr(), static_cast<uint64_t>(it.t.numel() * it.t.element_size()));
  });
}

torch::Tensor require_tensor(const SafetensorsFile& file, const fs::path& path, const std::string& name,
                             std::vector<int64_t> expected_shape) {
  const auto it = file.tensors.find(name);
  if (it == file.tensors.end()) {
    std::vector<std::string> names;
    for (const auto& [n, t] : file.tensors) names.push_back("'" + printable(n) + "'");
    throw_input_error("{}: the file has no tensor '{}' (tensors present: {})", path.string(), name,
                      names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")));
  }
  const torch::Tensor& t = it->second;
  bool ok = t.dim() == static_cast<int64_t>(expected_shape.size());
  for (size_t i = 0; ok && i < expected_shape.size(); ++i) {
    ok = expected_shape[i] < 0 || expected_shape[i] == t.size(static_cast<int64_t>(i));
  }
  if (!ok) {
    std::vector<std::string> want;
    for (int64_t d : expected_shape) want.push_back(d < 0 ? "?" : std::to_string(d));
    throw_input_error("{}: tensor '{}' has shape [{}], expected [{}]", path.string(), name, fmt::join(t.sizes(), ", "),
                      fmt::join(want, ", "));
  }
  return t;
}

}  // namespace tttlab
