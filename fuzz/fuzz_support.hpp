#pragma once
// Shared by the fuzz targets (fuzz/README.md). Each target hands the fuzzer's bytes to one reader of
// outside files. The contract under test: a reader either succeeds or throws tttlab::InputError whose
// message is one printable line of valid UTF-8. Anything else -- another exception type, a crash, a
// leak, a sanitizer report, or a message with raw bytes or control characters -- is a finding, and
// the target aborts so that libFuzzer saves the input.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <typeinfo>

#include "tttlab/core/error.hpp"

namespace tttlab::fuzz {

// A folder of this process's own (several fuzzers may run at once); removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "tttlab-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("tttlab fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "tttlab fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// Where the first invalid or non-printable byte of `s` is, or npos. Written independently of
// tttlab::printable so that the check does not trust the code it checks: strict UTF-8 (no overlong
// forms, no surrogates, nothing above U+10FFFF) and no control characters (C0, DEL, C1).
inline size_t first_unprintable(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      if (b0 < 0x20 || b0 == 0x7f) return i;
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0, min = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF)
      len = 2, cp = b0 & 0x1F, min = 0x80;
    else if (b0 >= 0xE0 && b0 <= 0xEF)
      len = 3, cp = b0 & 0x0F, min = 0x800;
    else if (b0 >= 0xF0 && b0 <= 0xF4)
      len = 4, cp = b0 & 0x07, min = 0x10000;
    else
      return i;
    if (i + static_cast<size_t>(len) > s.size()) return i;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((b & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F)) return i;
    i += static_cast<size_t>(len);
  }
  return std::string_view::npos;
}

[[noreturn]] inline void finding(const char* what, std::string_view detail) {
  std::fprintf(stderr, "\n*** tttlab fuzz finding: %s\n*** %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Runs `read`; an InputError is the expected outcome for bad bytes, provided its message is printable.
template <typename Read>
void expect_success_or_input_error(Read&& read) {
  try {
    read();
  } catch (const tttlab::InputError& e) {
    const std::string_view message = e.what();
    if (message.empty()) finding("InputError with an empty message", "");
    const size_t bad = first_unprintable(message);
    if (bad != std::string_view::npos) {
      std::string escaped;
      for (const char c : message) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f)
          escaped.push_back(c);
        else
          escaped += "\\x" + std::string(1, "0123456789abcdef"[u >> 4]) + "0123456789abcdef"[u & 15];
      }
      finding("InputError message is not printable UTF-8 (shown with bytes escaped)",
              escaped + " [first bad byte at offset " + std::to_string(bad) + "]");
    }
  } catch (const std::exception& e) {
    finding("exception other than tttlab::InputError", std::string(typeid(e).name()) + ": " + e.what());
  } catch (...) {
    finding("exception of unknown type", "");
  }
}

}  // namespace tttlab::fuzz
