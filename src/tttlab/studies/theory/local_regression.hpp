#pragma once
// Regression estimators of §5 / Appendix A.2, each predicting a test point's target from training
// data (float64 throughout):
//   - min-norm local least squares on the k neighbours in feature space Ψ (TTT of a linear head to
//     convergence from zero: the minimum-norm interpolant / least-squares solution);
//   - the sparse local estimator of equation (6): Lasso (coordinate descent) on the neighbours'
//     concept design Φ, optionally refitted by least squares on the selected concepts; it uses the
//     world's true Φ, the idealised setting of Proposition 3 (an SAE would supply an estimate);
//   - the global least-squares head on all training points in Ψ;
//   - non-parametric averaging of the neighbours' targets (k-NN regression).
#include <cstdint>

#include <torch/torch.h>

#include "tttlab/data/lrh_world.hpp"

namespace tttlab {

struct LocalRegressionData {
  torch::Tensor train_psi;  // float64 [N, d2]
  torch::Tensor train_y;    // float64 [N]
  torch::Tensor test_psi;   // float64 [M, d2]
  torch::Tensor neighbors;  // int64 [M, >= k], nearest first
  int64_t k = 0;
};

// Singular values below rcond · (largest singular value) count as zero (the local designs of a
// topic are rank-deficient by construction: k points in a topic of m concepts span m dimensions).
inline constexpr double kMinNormRcond = 1e-10;

// Batched: the SVD pseudo-inverse of all neighbour designs of a block of test points at once.
torch::Tensor min_norm_local_predictions(const LocalRegressionData& data);
// Reference: one test point at a time with LAPACK's gelsd (torch::linalg_lstsq).
torch::Tensor min_norm_local_predictions_reference(const LocalRegressionData& data);

torch::Tensor neighbor_average_predictions(const LocalRegressionData& data);

// Minimum-norm least squares on all training points; predictions for test_psi.
torch::Tensor global_least_squares_predictions(const torch::Tensor& train_psi, const torch::Tensor& train_y,
                                               const torch::Tensor& test_psi);

struct LassoResult {
  torch::Tensor w;  // float64 [p]
  int64_t sweeps = 0;
  bool converged = false;
};

// argmin_w (1/(2n))·‖y - X w‖² + λ‖w‖₁ by cyclic coordinate descent with soft thresholding;
// stops when no coordinate moves by more than tol (scaled by its column norm) in a sweep.
LassoResult lasso_coordinate_descent(const torch::Tensor& x, const torch::Tensor& y, double lambda,
                                     int64_t max_sweeps = 2000, double tol = 1e-10);
// Reference: the same objective by proximal gradient (ISTA) with step 1/L, L = ‖X‖²/n.
torch::Tensor lasso_ista_reference(const torch::Tensor& x, const torch::Tensor& y, double lambda,
                                   int64_t iterations = 20000);

// Equation (6) with its ℓ0 constraint: argmin ‖y - X w‖² subject to ‖w‖₀ <= sparsity, by iterative hard
// thresholding (gradient step 1/L, keep the `sparsity` largest entries; ties: the lower index) from
// w = 0, then least squares on the final support. A local method: it can stop in a wrong support.
torch::Tensor iterative_hard_thresholding(const torch::Tensor& x, const torch::Tensor& y, int64_t sparsity,
                                          int64_t iterations = 300);
// Reference for small problems: the best of all supports of size min(sparsity, p) (exhaustive).
torch::Tensor best_subset_reference(const torch::Tensor& x, const torch::Tensor& y, int64_t sparsity);

struct SparseLocalPredictions {
  torch::Tensor lasso;         // float64 [M]
  torch::Tensor refit;         // float64 [M]: least squares on the Lasso's support
  torch::Tensor support_size;  // int64 [M]: concepts the Lasso kept
  torch::Tensor iht;           // float64 [M]: iterative hard thresholding with `sparsity` concepts
};

// Equation (6) per test point: the local concept design (columns: concepts active in the k
// neighbours), Lasso with penalty `lambda` (and its refit), and IHT keeping `sparsity` concepts;
// prediction <Φ(x*), w> (concepts of x* that no neighbour has get weight 0).
SparseLocalPredictions sparse_local_predictions(const LrhSample& train, const LrhSample& test,
                                                const torch::Tensor& neighbors, int64_t k, double lambda,
                                                int64_t sparsity);

}  // namespace tttlab
