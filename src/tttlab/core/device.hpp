#pragma once
// --device auto|cpu|cuda[:N]: where a command computes. "auto" picks CUDA when LibTorch was built
// with it and a GPU is visible, else the CPU. Asking for CUDA where there is none is a usage error.
#include <string>

#include <torch/torch.h>

namespace tttlab {

// Parses and checks a device name; throws InputError for an unknown name or an absent GPU.
torch::Device resolve_device(const std::string& name);

// "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)" for reports.
std::string describe_device(const torch::Device& device);

// Bytes free on a CUDA device right now (cudaMemGetInfo), or 0 for the CPU / a build without CUDA.
int64_t free_device_memory(const torch::Device& device);

}  // namespace tttlab
