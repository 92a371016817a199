// The equivalence test (ttt_equivalence.hpp) over the CUDA paths: LibTorch's batched ops, the fused
// kernel with a stored first moment and the row-space one, each under every setting that selects it.
#ifdef TTTLAB_HAVE_CUDA
#include "ttt_equivalence.hpp"

#include <ATen/Context.h>

namespace tttlab::test {

namespace {

// Float32 agreement with the CPU needs full-precision products: no TF32 anywhere in this program.
[[maybe_unused]] const bool kTf32Off = [] {
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  return true;
}();

}  // namespace

INSTANTIATE_TEST_SUITE_P(CudaPaths, LocalFitEquivalence,
                         ::testing::ValuesIn(local_fit_equivalence_cases(
                             {LocalFitPath::BatchedCuda, LocalFitPath::Fused, LocalFitPath::FusedRowSpace})),
                         path_case_name);

}  // namespace tttlab::test
#endif
