#include "tttlab/data/sparse_rows.hpp"

#include "tttlab/core/error.hpp"
#include "tttlab/core/shape.hpp"

namespace tttlab {

void SparseRows::validate(const std::string& what) const {
  require_input(indices.defined() && values.defined(), "{}: sparse rows without indices or values", what);
  require_input(indices.dim() == 2 && values.sizes() == indices.sizes(),
                "{}: sparse indices {} and values {} must be two [N, s] arrays of one shape", what,
                shape_string(indices.sizes()), shape_string(values.sizes()));
  require_input(indices.scalar_type() == torch::kLong && values.scalar_type() == torch::kFloat,
                "{}: sparse indices must be int64 and values float32", what);
  require_input(dim >= 1, "{}: sparse rows of width {}", what, dim);
  require_input(indices.size(1) >= 1, "{}: sparse rows must store at least one value each (s=0)", what);
  if (indices.numel() == 0) return;
  require_input(indices.min().item<int64_t>() >= 0 && indices.max().item<int64_t>() < dim,
                "{}: sparse column index out of range [0, {})", what, dim);
  require_input(torch::isfinite(values).all().item<bool>(), "{}: sparse values hold NaN or Inf", what);
  if (indices.size(1) > 1) {
    const auto sorted = std::get<0>(indices.sort(1));
    require_input(!sorted.slice(1, 1).eq(sorted.slice(1, 0, -1)).any().item<bool>(),
                  "{}: a sparse row names one column twice", what);
  }
}

SparseRows SparseRows::to(torch::Device device) const { return {indices.to(device), values.to(device), dim}; }

SparseRows SparseRows::select(const torch::Tensor& rows) const {
  return {indices.index_select(0, rows), values.index_select(0, rows), dim};
}

torch::Tensor dense_rows(const SparseRows& x, const torch::Tensor& rows) {
  return torch::zeros({rows.numel(), x.dim}, x.values.options())
      .scatter_(1, x.indices.index_select(0, rows.reshape({-1})), x.values.index_select(0, rows.reshape({-1})));
}

torch::Tensor dense_rows(const SparseRows& x, int64_t begin, int64_t end) {
  return torch::zeros({end - begin, x.dim}, x.values.options())
      .scatter_(1, x.indices.slice(0, begin, end), x.values.slice(0, begin, end));
}

torch::Tensor squared_norms(const SparseRows& x) { return x.values.pow(2).sum(1); }

}  // namespace tttlab
