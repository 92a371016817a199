#pragma once
// Versions of tttlab and the libraries it was built with, and the facts of the machine that change
// results in their last digits, for results.json and `--version`.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace tttlab {

std::map<std::string, std::string> library_versions();
std::string version_line();  // "tttlab 0.1.0 (LibTorch 1.13.0, FAISS 1.7.3)"

// What makes float results differ between machines that run the same code on the same data: the
// order of float reductions depends on the thread counts and on the BLAS and its CPU kernels.
// {"cpu_model": /proc/cpuinfo's "model name" (or "unknown"), "logical_cpus",
//  "libtorch_threads" (at::get_num_threads() now), "openmp_threads", "libtorch_parallel_backend",
//  "blas": {"libraries": [real paths of the loaded BLAS/LAPACK libraries],
//           "openblas_config", "openblas_core", "openblas_threads" (when OpenBLAS is loaded)}}
// Every command that writes results.json records it beside the library versions.
nlohmann::json machine_facts();

}  // namespace tttlab
