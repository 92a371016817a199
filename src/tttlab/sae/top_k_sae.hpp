#pragma once
// The top-k sparse autoencoder of the paper's section 3.1:
//   Phi-hat(x) = top_s(E (x - b)),  Psi-hat(x) = D Phi-hat(x) + b,
// E [d1, d2] the encoder, D [d2, d1] the decoder with unit-norm columns (the concept directions),
// b an optional pre-bias (the paper uses none). top_s keeps the s largest pre-activations (and, with
// relu, only those > 0), so Phi-hat is stored sparsely: s indices and s values per input.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace tttlab {

struct TopKSae {
  torch::Tensor encoder;   // float32 [d1, d2]
  torch::Tensor decoder;   // float32 [d2, d1], unit-norm columns
  torch::Tensor pre_bias;  // float32 [d2], or undefined (no bias)
  int64_t k = 16;          // s, active concepts per input
  bool relu = true;

  int64_t input_dim() const { return encoder.size(1); }
  int64_t latent_dim() const { return encoder.size(0); }
};

// Sparse concept vectors: for each input, the k selected units (sorted by decreasing value) and
// their values. With relu, units whose value is 0 are inactive although listed.
struct SparseCodes {
  torch::Tensor indices;  // int64 [N, k]
  torch::Tensor values;   // float [N, k]
};

// E's rows are random unit vectors (seeded), D = E^T exactly (so its columns are unit-norm too);
// the pre-bias, when wanted, is `data_mean` ([d2]).
TopKSae init_sae(int64_t input_dim, int64_t latent_dim, int64_t k, bool relu, uint64_t seed,
                 const torch::Tensor& data_mean = {});

// E (x - b): [N, d1]. Differentiable.
torch::Tensor sae_pre_activations(const TopKSae& sae, const torch::Tensor& x);

// The k largest entries of each row of `pre` ([N, d1]); relu clamps the values at 0. Differentiable
// in the values.
SparseCodes top_k_codes(const torch::Tensor& pre, int64_t k, bool relu);

// D codes + b: [N, d2]. Differentiable. Two ways that give the same numbers up to float rounding:
//  - decode_dense (the reference): scatter the codes into a dense [N, d1] matrix, one matrix product;
//  - decode_gather: sum the k selected decoder columns of each row, weighted by their values
//    (embedding_bag over the rows of D^T): N k d2 multiply-adds instead of N d1 d2, and a backward
//    pass of the same size.
// decode_sparse picks decode_gather on CUDA while k <= kGatherDecodeMaxK and decode_dense otherwise.
// On the CPU the dense product won (bench_sae_train on 2 cores, 40,960 x 64, batch 4096: 146 ms per
// step dense, 477 ms gathering). On an H200 (d2 512, d1 4096, batch 4096, k about 127) the gather's
// forward and backward took 1.49 ms per step (embedding_bag 0.47, its weight gradient 0.54, its
// value gradient 0.36, sorting 0.12), growing with k, against 1.1 ms for the dense product's three
// matrix products: a linear fit in k puts the crossing near k = 90.
constexpr int64_t kGatherDecodeMaxK = 80;
torch::Tensor decode_sparse(const TopKSae& sae, const SparseCodes& codes);
torch::Tensor decode_dense(const TopKSae& sae, const SparseCodes& codes);
torch::Tensor decode_gather(const TopKSae& sae, const SparseCodes& codes);

// Dense [N, d1] concept vectors from sparse codes.
torch::Tensor codes_to_dense(const SparseCodes& codes, int64_t latent_dim);

// Scales every column of D [d2, d1] to unit L2 norm, in place.
void normalize_decoder_columns_(torch::Tensor& decoder);

// Phi-hat and Psi-hat of every row of x, in batches on `device`, without gradients; results on the
// CPU. k = 0 uses sae.k.
struct SaeEncoding {
  SparseCodes codes;
  torch::Tensor reconstruction;  // float32 [N, d2]
};
SaeEncoding sae_encode(const TopKSae& sae, const torch::Tensor& x, int64_t batch_size = 8192,
                       torch::Device device = torch::kCPU, int64_t k = 0);

// Reconstruction quality of x vs x_hat ([N, d2]): mse = mean squared error per element,
// fve = 1 - sum |x - x_hat|^2 / sum |x - mean(x)|^2 (fraction of variance explained).
struct ReconstructionQuality {
  double mse = 0, fve = 0;
};
ReconstructionQuality reconstruction_quality(const torch::Tensor& x, const torch::Tensor& x_hat);

// The model files of a trained SAE in `dir`: sae.safetensors ("encoder.weight" [d1, d2],
// "decoder.weight" [d2, d1], and "pre_bias" [d2] when used) and sae.json ({"input_dim",
// "latent_dim", "k", "relu", "config": SaeConfig, ...extra}). Written atomically, the JSON last.
void save_sae(const std::filesystem::path& dir, const TopKSae& sae, const nlohmann::json& extra);
// Loads and checks them (InputError naming the file and the field).
TopKSae load_sae(const std::filesystem::path& dir);
// sae.json's "input_normalized" (whether the SAE was trained on unit-normalised rows), if recorded.
std::optional<bool> sae_input_normalized(const std::filesystem::path& dir);

}  // namespace tttlab
