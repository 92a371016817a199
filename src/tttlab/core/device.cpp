#include "tttlab/core/device.hpp"

#include <fmt/format.h>

#include "tttlab/core/error.hpp"

#ifdef TTTLAB_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace tttlab {

#ifdef TTTLAB_HAVE_CUDA
constexpr bool kCudaBuild = true;
#else
constexpr bool kCudaBuild = false;
#endif

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    require_input(torch::cuda::is_available(), "--device={}: no CUDA device visible ({}; use --device cpu or auto)",
                  name, kCudaBuild ? "this build has CUDA" : "this build of tttlab has no CUDA");
    int64_t index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      require_input(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
                    "--device={}: expected cuda:N with N a GPU number", name);
      index = std::stoll(digits);
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    require_input(index < count, "--device={}: only {} CUDA device(s) visible", name, count);
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw_input_error("--device={}: expected auto, cpu, cuda or cuda:N", name);
}

std::string describe_device(const torch::Device& device) {
#ifdef TTTLAB_HAVE_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device.has_index() ? device.index() : 0) == cudaSuccess)
      return fmt::format("{} ({})", device.str(), prop.name);
  }
#endif
  return device.str();
}

int64_t free_device_memory(const torch::Device& device) {
#ifdef TTTLAB_HAVE_CUDA
  if (device.is_cuda()) {
    const c10::cuda::CUDAGuard guard(device);
    // LibTorch's caching allocator keeps freed blocks reserved: hand them back so they count as free.
    c10::cuda::CUDACachingAllocator::emptyCache();
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return 0;
    return static_cast<int64_t>(free_bytes);
  }
#endif
  (void)device;
  return 0;
}

}  // namespace tttlab
