#include <gtest/gtest.h>

#include "tttlab/core/device.hpp"
#include "test_support.hpp"

using tttlab::resolve_device;
using tttlab::test::expect_input_error;

TEST(Device, ResolvesNames) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  const auto automatic = resolve_device("auto");
  EXPECT_EQ(automatic.is_cuda(), torch::cuda::is_available());
  EXPECT_EQ(tttlab::describe_device(torch::Device(torch::kCPU)), "cpu");
  EXPECT_EQ(tttlab::free_device_memory(torch::Device(torch::kCPU)), 0);
}

TEST(Device, RejectsUnknownOrAbsentDevices) {
  expect_input_error([] { resolve_device("gpu"); }, "--device=gpu: expected auto, cpu, cuda or cuda:N");
  expect_input_error([] { resolve_device("cuda:x"); }, "--device=cuda:x");
  expect_input_error([] { resolve_device("cuda:99"); }, "--device=cuda:99");
  if (!torch::cuda::is_available()) expect_input_error([] { resolve_device("cuda"); }, "no CUDA device visible");
}
