#include "tttlab/lm/decoder_model.hpp"

#include <cmath>

#include "tttlab/core/error.hpp"

namespace tttlab::lm {

namespace F = torch::nn::functional;

ProjectionImpl::ProjectionImpl(int64_t in, int64_t out, bool with_bias) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out}));
}

torch::Tensor ProjectionImpl::forward(const torch::Tensor& x) {
  auto y = F::linear(x, weight, bias);
  if (has_lora()) {
    auto h = lora_dropout > 0 ? F::dropout(x, F::DropoutFuncOptions().p(lora_dropout).training(is_training())) : x;
    y = y + F::linear(F::linear(h, lora_a), lora_b) * lora_scale;
  }
  return y;
}

void ProjectionImpl::add_lora(int64_t rank, double alpha, double dropout) {
  require_input(rank >= 1, "LoRA rank={} (expected >= 1)", rank);
  require_input(alpha > 0, "LoRA alpha={} (expected > 0)", alpha);
  require_input(dropout >= 0 && dropout < 1, "LoRA dropout={} (expected in [0, 1))", dropout);
  const auto opts = weight.options();
  lora_a = register_parameter("lora_A", torch::empty({rank, weight.size(1)}, opts));
  lora_b = register_parameter("lora_B", torch::zeros({weight.size(0), rank}, opts));
  lora_scale = alpha / static_cast<double>(rank);
  lora_dropout = dropout;
}

void ProjectionImpl::reset_lora(uint64_t seed) {
  torch::NoGradGuard no_grad;
  // PEFT: nn.init.kaiming_uniform_(A, a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); B = 0, so a reset
  // adapter leaves the base model's function unchanged.
  auto gen = at::detail::createCPUGenerator(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(lora_a.size(1)));
  lora_a.copy_(torch::empty(lora_a.sizes(), torch::kFloat).uniform_(-bound, bound, gen));
  lora_b.zero_();
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const auto x32 = x.to(torch::kFloat);
  const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor> rotary_tables(int64_t seq_len, int64_t position_offset, int64_t head_dim,
                                                      double theta, torch::Device device) {
  // inv_freq_i = theta^(-2i/d) in float32, as transformers computes it; angles = position x inv_freq.
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const auto exponents =
      torch::arange(0, head_dim, 2, torch::TensorOptions().dtype(torch::kLong).device(device)).to(torch::kFloat) /
      static_cast<double>(head_dim);
  const auto inv_freq = 1.0 / torch::pow(torch::scalar_tensor(theta, f32), exponents);
  const auto pos = torch::arange(position_offset, position_offset + seq_len, f32.dtype(torch::kLong)).to(torch::kFloat);
  const auto freqs = torch::outer(pos, inv_freq);
  const auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos(), emb.sin()};
}

namespace {

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

}  // namespace

SelfAttentionImpl::SelfAttentionImpl(const DecoderConfig& c)
    : heads(c.num_attention_heads), kv_heads(c.num_key_value_heads), head_dim(c.head_dim()) {
  // Qwen2 puts biases on q/k/v only; Llama's attention_bias puts them on all four projections.
  const bool llama = c.architecture == DecoderArchitecture::llama;
  q_proj = register_module("q_proj", Projection(c.hidden_size, heads * head_dim, c.attention_bias));
  k_proj = register_module("k_proj", Projection(c.hidden_size, kv_heads * head_dim, c.attention_bias));
  v_proj = register_module("v_proj", Projection(c.hidden_size, kv_heads * head_dim, c.attention_bias));
  o_proj = register_module("o_proj", Projection(heads * head_dim, c.hidden_size, llama && c.attention_bias));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t b = x.size(0), t = x.size(1);
  auto q = q_proj(x).view({b, t, heads, head_dim}).transpose(1, 2);     // [B, h, T, hd]
  auto k = k_proj(x).view({b, t, kv_heads, head_dim}).transpose(1, 2);  // [B, kv, T, hd]
  auto v = v_proj(x).view({b, t, kv_heads, head_dim}).transpose(1, 2);
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  if (kv_heads != heads) {  // each K/V head serves heads / kv_heads query heads, in order
    k = k.repeat_interleave(heads / kv_heads, 1);
    v = v.repeat_interleave(heads / kv_heads, 1);
  }
  auto scores = torch::matmul(q, k.transpose(2, 3)) / std::sqrt(static_cast<double>(head_dim));
  const auto future = torch::ones({t, t}, torch::TensorOptions().dtype(torch::kBool).device(x.device())).triu(1);
  scores = scores.to(torch::kFloat).masked_fill(future, -std::numeric_limits<float>::infinity());
  const auto probs = torch::softmax(scores, -1).to(q.scalar_type());
  const auto out = torch::matmul(probs, v).transpose(1, 2).reshape({b, t, heads * head_dim});
  return o_proj(out);
}

GatedMLPImpl::GatedMLPImpl(const DecoderConfig& c) {
  gate_proj = register_module("gate_proj", Projection(c.hidden_size, c.intermediate_size, c.mlp_bias));
  up_proj = register_module("up_proj", Projection(c.hidden_size, c.intermediate_size, c.mlp_bias));
  down_proj = register_module("down_proj", Projection(c.intermediate_size, c.hidden_size, c.mlp_bias));
}

torch::Tensor GatedMLPImpl::forward(const torch::Tensor& x) { return down_proj(F::silu(gate_proj(x)) * up_proj(x)); }

DecoderLayerImpl::DecoderLayerImpl(const DecoderConfig& c) {
  self_attn = register_module("self_attn", SelfAttention(c));
  mlp = register_module("mlp", GatedMLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                             const torch::Tensor& sin) {
  const auto h = x + self_attn(input_layernorm(x), cos, sin);
  return h + mlp(post_attention_layernorm(h));
}

DecoderModelImpl::DecoderModelImpl(const DecoderConfig& c) : config(c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

torch::Tensor DecoderModelImpl::forward(const torch::Tensor& ids, int64_t position_offset) {
  auto h = embed_tokens(ids);
  auto [cos, sin] = rotary_tables(ids.size(1), position_offset, config.head_dim(), config.rope_theta, ids.device());
  cos = cos.to(h.scalar_type());
  sin = sin.to(h.scalar_type());
  for (const auto& layer : *layers) h = layer->as<DecoderLayer>()->forward(h, cos, sin);
  return norm(h);
}

CausalLMImpl::CausalLMImpl(const DecoderConfig& c) : config(c) {
  c.validate(std::string(architecture_name(c.architecture)) + " config");
  model = register_module("model", DecoderModel(c));
  if (!c.tie_word_embeddings) lm_head = register_module("lm_head", Projection(c.hidden_size, c.vocab_size, false));
}

torch::Tensor CausalLMImpl::output_embedding() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

torch::Tensor CausalLMImpl::forward(const torch::Tensor& ids, int64_t position_offset) {
  require_input(ids.dim() == 2 && ids.scalar_type() == torch::kLong, "model input must be int64 token ids [B, T]");
  if (ids.numel() > 0) {
    require_input(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < config.vocab_size,
                  "a token id is outside the vocabulary [0, {})", config.vocab_size);
  }
  return F::linear(model(ids, position_offset), output_embedding());
}

std::vector<Projection> CausalLMImpl::projections() {
  std::vector<Projection> out;
  for (const auto& layer_module : *model->layers) {
    auto layer = layer_module->as<DecoderLayer>();
    auto& a = layer->self_attn;
    auto& m = layer->mlp;
    for (auto p : {a->q_proj, a->k_proj, a->v_proj, a->o_proj, m->gate_proj, m->up_proj, m->down_proj})
      out.push_back(p);
  }
  return out;
}

CausalLM make_random_decoder(const DecoderConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  CausalLM model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    const auto& name = p.key();
    if (name.find("norm") != std::string::npos)
      p.value().fill_(1.0);
    else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0)
      p.value().zero_();
    else
      p.value().normal_(0.0, 0.02);
  }
  return model;
}

torch::Tensor next_token_loss(CausalLM& model, const torch::Tensor& ids) {
  require_input(ids.size(1) >= 2, "next-token loss needs at least 2 tokens, got {}", ids.size(1));
  const auto logits = model->forward(ids.slice(1, 0, -1)).to(torch::kFloat);
  return F::cross_entropy(logits.reshape({-1, logits.size(-1)}), ids.slice(1, 1).reshape({-1}));
}

}  // namespace tttlab::lm
