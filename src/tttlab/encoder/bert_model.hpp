#pragma once
// A BERT encoder in LibTorch, laid out like Hugging Face's BertModel so that parameter names match
// its checkpoints (embeddings.word_embeddings.weight, encoder.layer.0.attention.self.query.weight, ...):
//   word + position + token-type embeddings -> LayerNorm
//   -> N x [self-attention (padding masked) -> dense -> residual -> LayerNorm,
//           dense -> GELU -> dense -> residual -> LayerNorm]   (post-LayerNorm)
// Returns the last hidden states; sentence pooling is sentence_encoder.hpp's job. CPU and CUDA,
// float32 and bfloat16. The pooler (tanh over [CLS]) is not part of it: sentence encoders do not use it.
#include <cstdint>
#include <filesystem>
#include <optional>

#include <torch/torch.h>

#include "tttlab/encoder/bert_config.hpp"

namespace tttlab::encoder {

class BertEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit BertEmbeddingsImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& ids);  // token types all 0 (one segment)
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BertEmbeddings);

// A dense layer followed by residual + LayerNorm (BertSelfOutput and BertOutput have this shape).
class BertResidualOutputImpl : public torch::nn::Module {
 public:
  BertResidualOutputImpl(int64_t in, int64_t out, double eps);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
};
TORCH_MODULE(BertResidualOutput);

class BertSelfAttentionImpl : public torch::nn::Module {
 public:
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // x [B, T, H]; additive_mask [B, 1, 1, T] (0 where attended, the dtype's lowest value at padding).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  int64_t heads, head_dim;
};
TORCH_MODULE(BertSelfAttention);

class BertAttentionImpl : public torch::nn::Module {
 public:
  explicit BertAttentionImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertSelfAttention self{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

class BertIntermediateImpl : public torch::nn::Module {
 public:
  explicit BertIntermediateImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear dense{nullptr};
  std::string act;
};
TORCH_MODULE(BertIntermediate);

class BertLayerImpl : public torch::nn::Module {
 public:
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask);
  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertResidualOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

class BertModelImpl : public torch::nn::Module {
 public:
  explicit BertModelImpl(const BertConfig& c);
  // ids int64 [B, T], attention_mask int64/bool [B, T] (1 = token, 0 = padding) -> hidden [B, T, H]
  // in the model's dtype.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask);
  BertEmbeddings embeddings{nullptr};
  torch::nn::ModuleList layers;  // registered as "encoder.layer"
  BertConfig config;
};
TORCH_MODULE(BertModel);

struct BertLoadOptions {
  std::optional<torch::ScalarType> dtype;  // default: float32
  torch::Device device = torch::kCPU;
};

// config.json + model.safetensors (or a sharded index) of a BertModel; names may carry a "bert."
// prefix (checkpoints of BertFor... heads). The pooler, position_ids buffers and a head's own tensors
// are ignored; any other unexpected tensor, a missing one or a shape mismatch is an InputError.
BertModel load_bert(const std::filesystem::path& dir, const BertLoadOptions& options = {});

// A model with random weights (normal(0, 0.02), LayerNorms 1 and 0), for tests and benchmarks.
BertModel make_random_bert(const BertConfig& c, uint64_t seed);

// Writes dir/config.json and dir/model.safetensors, which transformers' BertModel loads.
void save_bert(const std::filesystem::path& dir, BertModel& model);

}  // namespace tttlab::encoder
