#include "tttlab/core/versions.hpp"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/version.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef TTTLAB_HAVE_FAISS
#include <faiss/Index.h>
#endif

namespace tttlab {

std::map<std::string, std::string> library_versions() {
  std::map<std::string, std::string> v;
  v["tttlab"] = TTTLAB_VERSION;
  v["libtorch"] = fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
#ifdef TTTLAB_HAVE_FAISS
  v["faiss"] = fmt::format("{}.{}.{}", FAISS_VERSION_MAJOR, FAISS_VERSION_MINOR, FAISS_VERSION_PATCH);
#else
  v["faiss"] = "not built";
#endif
  v["compiler"] = __VERSION__;
  return v;
}

std::string version_line() {
  const auto v = library_versions();
  return fmt::format("tttlab {} (LibTorch {}, FAISS {})", v.at("tttlab"), v.at("libtorch"), v.at("faiss"));
}

namespace {

std::string trimmed(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon != std::string::npos && trimmed(line.substr(0, colon)) == "model name") {
      const std::string model = trimmed(line.substr(colon + 1));
      if (!model.empty()) return model;
    }
  }
  return "unknown";  // e.g. ARM kernels, whose /proc/cpuinfo has no "model name"
}

// The BLAS that LibTorch calls is whatever the dynamic linker resolved (Debian's libblas.so.3 is an
// alternatives link: OpenBLAS, BLIS or the reference BLAS), so look at the loaded objects rather
// than at how LibTorch was configured.
std::vector<std::string> loaded_blas_libraries() {
  std::set<std::string> found;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        const std::string file = std::filesystem::path(name).filename().string();
        if (file.find("blas") != std::string::npos || file.find("lapack") != std::string::npos ||
            file.find("mkl") != std::string::npos || file.find("blis") != std::string::npos) {
          std::error_code ec;
          const auto real = std::filesystem::canonical(name, ec);
          static_cast<std::set<std::string>*>(data)->insert(ec ? name : real.string());
        }
        return 0;
      },
      &found);
  return {found.begin(), found.end()};
}

std::string parallel_backend() {
  const std::string info = at::get_parallel_info();
  const std::string key = "ATen parallel backend:";
  const auto pos = info.find(key);
  if (pos == std::string::npos) return "unknown";
  const auto begin = pos + key.size();
  return trimmed(info.substr(begin, info.find('\n', begin) - begin));
}

}  // namespace

nlohmann::json machine_facts() {
  nlohmann::json blas = {{"libraries", loaded_blas_libraries()}};
  // OpenBLAS reports its version, build options and the CPU kernel it picked at run time.
  using ConfigFn = char* (*)();
  using ThreadsFn = int (*)();
  if (auto config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    blas["openblas_config"] = trimmed(config());
  }
  if (auto core = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    blas["openblas_core"] = trimmed(core());
  }
  if (auto threads = reinterpret_cast<ThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) {
    blas["openblas_threads"] = threads();
  }
#ifdef _OPENMP
  const int openmp_threads = omp_get_max_threads();
#else
  const int openmp_threads = 1;
#endif
  return {{"cpu_model", cpu_model()},
          {"logical_cpus", std::max(1u, std::thread::hardware_concurrency())},
          {"libtorch_threads", at::get_num_threads()},
          {"openmp_threads", openmp_threads},
          {"libtorch_parallel_backend", parallel_backend()},
          {"blas", blas}};
}

}  // namespace tttlab
