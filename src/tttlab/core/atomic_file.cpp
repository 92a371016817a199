#include "tttlab/core/atomic_file.hpp"

#include <fstream>
#include <random>
#include <system_error>

#include <fmt/format.h>

#include "tttlab/core/error.hpp"

namespace tttlab {

namespace fs = std::filesystem;

void write_file_atomically(const fs::path& target, const std::function<void(std::ostream&)>& write) {
  std::random_device rd;
  const fs::path tmp = target.parent_path() / fmt::format(".{}.tmp-{:08x}", target.filename().string(), rd());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw std::runtime_error(fmt::format("{}: cannot open for writing", tmp.string()));
      write(out);
      out.flush();
      if (!out) throw std::runtime_error(fmt::format("{}: write failed", tmp.string()));
    }
    fs::rename(tmp, target);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

void write_text_atomically(const fs::path& target, std::string_view text) {
  write_file_atomically(target,
                        [&](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

}  // namespace tttlab
