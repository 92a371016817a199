#pragma once
// A decoder-only transformer of the Llama family (Qwen2, Llama; decoder_config.hpp) in LibTorch, laid
// out like Hugging Face's Qwen2ForCausalLM / LlamaForCausalLM so that parameter names match their
// checkpoints (model.layers.0.self_attn.q_proj.weight, ...):
//   token embedding -> N x [RMSNorm -> attention (GQA, rotary embeddings, biases as configured) -> residual,
//                           RMSNorm -> SwiGLU MLP -> residual] -> RMSNorm -> output embedding
// (tied to the token embedding when the config says so). Causal, no KV cache: every forward pass
// sees a whole window. Works on CPU and CUDA, in float32 and bfloat16 (norms and softmax in float32,
// as the reference does).
//
// Each projection can carry a LoRA adapter (lora.hpp): y = x W^T + b + (alpha / r) * drop(x) A^T B^T.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "tttlab/lm/decoder_config.hpp"

namespace tttlab::lm {

// A linear map with nn.Linear's parameter names (weight [out, in], bias [out]) and an optional
// low-rank adapter (lora_A [r, in], lora_B [out, r]).
class ProjectionImpl : public torch::nn::Module {
 public:
  ProjectionImpl(int64_t in, int64_t out, bool bias);
  torch::Tensor forward(const torch::Tensor& x);

  void add_lora(int64_t rank, double alpha, double dropout);
  bool has_lora() const { return lora_a.defined(); }
  void reset_lora(uint64_t seed);  // A as PEFT initialises it (Kaiming-uniform), B = 0

  torch::Tensor weight, bias, lora_a, lora_b;
  double lora_scale = 0.0, lora_dropout = 0.0;
};
TORCH_MODULE(Projection);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const DecoderConfig& c);
  // x [B, T, H]; cos, sin [T, head_dim] in x's dtype.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t heads, kv_heads, head_dim;
};
TORCH_MODULE(SelfAttention);

class GatedMLPImpl : public torch::nn::Module {
 public:
  explicit GatedMLPImpl(const DecoderConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(GatedMLP);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const DecoderConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  SelfAttention self_attn{nullptr};
  GatedMLP mlp{nullptr};
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

class DecoderModelImpl : public torch::nn::Module {
 public:
  explicit DecoderModelImpl(const DecoderConfig& c);
  torch::Tensor forward(const torch::Tensor& ids, int64_t position_offset);  // -> hidden [B, T, H]
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
  DecoderConfig config;
};
TORCH_MODULE(DecoderModel);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const DecoderConfig& c);
  // ids int64 [B, T] -> logits [B, T, vocab] in the model's dtype. Positions start at position_offset.
  torch::Tensor forward(const torch::Tensor& ids, int64_t position_offset = 0);
  torch::Tensor output_embedding() const;  // lm_head.weight, or the token embedding when tied

  // Every projection of every layer (q, k, v, o, gate, up, down), for LoRA.
  std::vector<Projection> projections();

  DecoderModel model{nullptr};
  Projection lm_head{nullptr};  // null when tied to the token embedding
  DecoderConfig config;
};
TORCH_MODULE(CausalLM);

// A model with random weights (normal(0, 0.02), as transformers initialises both families; norms 1, biases 0).
CausalLM make_random_decoder(const DecoderConfig& c, uint64_t seed);

// Rotary tables for positions [offset, offset + T): cos, sin [T, head_dim] (float32).
std::pair<torch::Tensor, torch::Tensor> rotary_tables(int64_t seq_len, int64_t position_offset, int64_t head_dim,
                                                      double theta, torch::Device device);

// Mean next-token cross-entropy (nats) of ids [B, T] under the model: positions 1..T-1 predicted.
torch::Tensor next_token_loss(CausalLM& model, const torch::Tensor& ids);

}  // namespace tttlab::lm
