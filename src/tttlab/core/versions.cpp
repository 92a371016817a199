#include "tttlab/core/versions.hpp"

#include <fmt/format.h>
#include <torch/version.h>
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

}  // namespace tttlab
