#include "tttlab/io/npz.hpp"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/binary_io.hpp"
#include "tttlab/io/npy.hpp"

#ifdef TTTLAB_HAVE_LIBZIP
#include <zip.h>
#endif

namespace tttlab {

std::string NpzArchive::describe(const std::string& member) const {
  return fmt::format("{}, member {}", path_.string(), printable(member, 120));
}

bool NpzArchive::has(const std::string& member) const {
  return std::find(members_.begin(), members_.end(), member) != members_.end();
}

#ifdef TTTLAB_HAVE_LIBZIP

namespace {

zip_t* as_zip(void* z) { return static_cast<zip_t*>(z); }

std::string zip_error_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

}  // namespace

NpzArchive::NpzArchive(const std::filesystem::path& path) : path_(path) {
  io_detail::require_regular_file(path, "an .npz archive");
  int code = 0;
  // Without ZIP_CHECKCONS: its extra comparison of local and central headers refuses some archives
  // that other tools write and read. Each member's CRC-32 is still checked as it is read.
  zip_ = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (zip_ == nullptr) {
    throw_input_error("{}: not a readable .npz (zip) archive: {}", path.string(), zip_error_message(code));
  }
  const zip_int64_t n = zip_get_num_entries(as_zip(zip_), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(as_zip(zip_), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name != nullptr) members_.emplace_back(name);
  }
}

NpzArchive::~NpzArchive() {
  if (zip_ != nullptr) zip_discard(as_zip(zip_));  // opened read-only: nothing to write back
}

torch::Tensor NpzArchive::read(const std::string& member) const {
  const zip_int64_t index = zip_name_locate(as_zip(zip_), member.c_str(), ZIP_FL_ENC_RAW);
  if (index < 0) {
    throw_input_error(
        "{}: no such member (the archive holds: {})", describe(member),
        members_.empty() ? std::string("nothing") : printable(fmt::format("{}", fmt::join(members_, ", ")), 200));
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(as_zip(zip_), static_cast<zip_uint64_t>(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) {
    throw_input_error("{}: corrupt archive entry: {}", describe(member), zip_strerror(as_zip(zip_)));
  }
  zip_file_t* file = zip_fopen_index(as_zip(zip_), static_cast<zip_uint64_t>(index), 0);
  if (file == nullptr) throw_input_error("{}: cannot be read: {}", describe(member), zip_strerror(as_zip(zip_)));
  // Read in chunks rather than trusting the recorded size for one allocation: a damaged entry can
  // claim any size.
  std::string bytes;
  bytes.reserve(static_cast<size_t>(std::min<zip_uint64_t>(st.size, zip_uint64_t{1} << 26)));
  constexpr size_t kChunk = size_t{1} << 20;
  std::string error;
  for (;;) {
    const size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const zip_int64_t got = zip_fread(file, bytes.data() + old_size, kChunk);
    if (got < 0) {
      error = zip_file_strerror(file);
      break;
    }
    bytes.resize(old_size + static_cast<size_t>(got));
    if (got == 0) break;
  }
  zip_fclose(file);
  if (!error.empty()) throw_input_error("{}: corrupt member: {}", describe(member), error);
  if (bytes.size() != st.size) {
    throw_input_error("{}: corrupt member: {} bytes read but the archive records {}", describe(member), bytes.size(),
                      st.size);
  }
  return read_npy_bytes(bytes, describe(member));
}

#else  // no libzip in this build

NpzArchive::NpzArchive(const std::filesystem::path& path) : path_(path) {
  throw_input_error(
      "{}: this build of tttlab cannot read .npz archives (it was built without libzip: install libzip-dev and "
      "rebuild, or unpack the archive into an embedding folder)",
      path.string());
}

NpzArchive::~NpzArchive() = default;

torch::Tensor NpzArchive::read(const std::string& member) const {
  throw_input_error("{}: this build of tttlab cannot read .npz archives", describe(member));
}

#endif

}  // namespace tttlab
