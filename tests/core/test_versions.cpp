// The machine facts results.json records: they must describe this process as it is now.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <torch/torch.h>

#include "tttlab/core/versions.hpp"

namespace {

std::string proc_cpuinfo() {
  std::ifstream in("/proc/cpuinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(MachineFacts, ThreadCountIsTheOneSetNow) {
  const int before = torch::get_num_threads();
  for (const int threads : {1, 3, 2}) {
    torch::set_num_threads(threads);
    EXPECT_EQ(tttlab::machine_facts()["libtorch_threads"].get<int>(), threads);
  }
  torch::set_num_threads(before);
}

TEST(MachineFacts, CpuModelBlasAndCountsAreSensible) {
  const nlohmann::json m = tttlab::machine_facts();
  const std::string model = m["cpu_model"].get<std::string>();
  ASSERT_FALSE(model.empty());
  // Where /proc/cpuinfo names the CPU, the recorded model is that name, not the fallback.
  const std::string cpuinfo = proc_cpuinfo();
  if (cpuinfo.find("model name") != std::string::npos) {
    EXPECT_NE(model, "unknown");
    EXPECT_NE(cpuinfo.find(": " + model), std::string::npos) << model;
  }
  EXPECT_GE(m["logical_cpus"].get<int>(), 1);
  EXPECT_GE(m["openmp_threads"].get<int>(), 1);
  EXPECT_FALSE(m["libtorch_parallel_backend"].get<std::string>().empty());
  ASSERT_TRUE(m["blas"]["libraries"].is_array());
  for (const auto& lib : m["blas"]["libraries"]) {
    EXPECT_TRUE(std::filesystem::exists(lib.get<std::string>())) << lib;
  }
  // OpenBLAS, when it is the loaded BLAS, names its version and the kernel it chose.
  if (m["blas"].contains("openblas_config")) {
    EXPECT_NE(m["blas"]["openblas_config"].get<std::string>().find("OpenBLAS"), std::string::npos);
    EXPECT_FALSE(m["blas"]["openblas_core"].get<std::string>().empty());
    EXPECT_GE(m["blas"]["openblas_threads"].get<int>(), 1);
  }
}
