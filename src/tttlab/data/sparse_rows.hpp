#pragma once
// Feature rows kept sparse: each row stores s (column, value) pairs of a d-wide vector. An SAE's
// concept codes Phi-hat are such rows (d = d1 = 8 d2 columns, s = k of them set): at ImageNet's size
// they are 1.28M x 4096 floats dense (21 GB), 0.25 GB sparse with s = 16. Dense rows are made only
// where a step needs them, a block at a time.
#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace tttlab {

struct SparseRows {
  torch::Tensor indices;  // int64 [N, s]: the column of each stored value, distinct within a row
  torch::Tensor values;   // float32 [N, s] (zeros allowed)
  int64_t dim = 0;        // d, the dense width

  int64_t size() const { return indices.defined() ? indices.size(0) : 0; }
  // InputError naming `what` on bad shapes, dtypes, columns out of [0, dim), repeated columns in a
  // row, or non-finite values.
  void validate(const std::string& what) const;
  SparseRows to(torch::Device device) const;
  SparseRows select(const torch::Tensor& rows) const;  // int64 row indices
};

// Dense float32 [rows.numel(), dim] (rows: int64, on the SparseRows' device) and [end - begin, dim].
torch::Tensor dense_rows(const SparseRows& x, const torch::Tensor& rows);
torch::Tensor dense_rows(const SparseRows& x, int64_t begin, int64_t end);

// Squared L2 norm of every row, float32 [N].
torch::Tensor squared_norms(const SparseRows& x);

}  // namespace tttlab
