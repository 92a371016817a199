// The equivalence test (ttt_equivalence.hpp) over the CPU paths; tests/gpu instantiates the CUDA ones.
#include "ttt_equivalence.hpp"

namespace tttlab::test {

INSTANTIATE_TEST_SUITE_P(CpuPaths, LocalFitEquivalence,
                         ::testing::ValuesIn(local_fit_equivalence_cases({LocalFitPath::Reference,
                                                                          LocalFitPath::BatchedCpu})),
                         path_case_name);

}  // namespace tttlab::test
