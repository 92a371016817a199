#include "tttlab/encoder/bert_model.hpp"

#include <cmath>
#include <limits>
#include <map>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/io/safetensors.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"

namespace tttlab::encoder {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
namespace nn = torch::nn;

namespace {

nn::LayerNorm layer_norm(int64_t dim, double eps) {
  return nn::LayerNorm(nn::LayerNormOptions({dim}).eps(eps).elementwise_affine(true));
}

}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) {
  word_embeddings = register_module("word_embeddings", nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module("position_embeddings", nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings", nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", layer_norm(c.hidden_size, c.layer_norm_eps));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& ids) {
  const int64_t T = ids.size(1);
  const auto positions = torch::arange(T, ids.options().dtype(torch::kLong));
  // Token type 0 for every position: row 0 of the table, broadcast.
  const auto x = word_embeddings(ids) + position_embeddings(positions).unsqueeze(0) +
                 token_type_embeddings->weight[0].view({1, 1, -1});
  return LayerNorm(x);
}

BertResidualOutputImpl::BertResidualOutputImpl(int64_t in, int64_t out, double eps) {
  dense = register_module("dense", nn::Linear(in, out));
  LayerNorm = register_module("LayerNorm", layer_norm(out, eps));
}

torch::Tensor BertResidualOutputImpl::forward(const torch::Tensor& x, const torch::Tensor& residual) {
  return LayerNorm(dense(x) + residual);
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
    : heads(c.num_attention_heads), head_dim(c.head_dim()) {
  query = register_module("query", nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", nn::Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const int64_t B = x.size(0), T = x.size(1);
  auto split = [&](const torch::Tensor& t) { return t.view({B, T, heads, head_dim}).transpose(1, 2); };
  const auto q = split(query(x)), k = split(key(x)), v = split(value(x));
#if TORCH_VERSION_MAJOR >= 2
  // The fused kernel (flash / memory-efficient / math, as PyTorch picks) where this LibTorch has it.
  const auto context = at::scaled_dot_product_attention(q, k, v, additive_mask);
#else
  // transformers' eager path: scores / sqrt(d) + mask, softmax, weighted values.
  auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(head_dim));
  scores = scores + additive_mask;
  const auto context = torch::matmul(torch::softmax(scores, -1), v);
#endif
  return context.transpose(1, 2).reshape({B, T, heads * head_dim});
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertResidualOutput(c.hidden_size, c.hidden_size, c.layer_norm_eps));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  return output(self(x, additive_mask), x);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& x) {
  const auto h = dense(x);
  if (act == "relu") return torch::relu(h);
  if (act == "gelu") return torch::gelu(h);
  return torch::gelu(h, "tanh");  // gelu_new, gelu_pytorch_tanh
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertResidualOutput(c.intermediate_size, c.hidden_size, c.layer_norm_eps));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
  const auto a = attention(x, additive_mask);
  return output(intermediate(a), a);
}

BertModelImpl::BertModelImpl(const BertConfig& c) : config(c) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  auto encoder = std::make_shared<nn::Module>();
  layers = nn::ModuleList();
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(BertLayer(c));
  encoder->register_module("layer", layers);
  register_module("encoder", encoder);
}

torch::Tensor BertModelImpl::forward(const torch::Tensor& ids, const torch::Tensor& attention_mask) {
  require_input(ids.dim() == 2 && attention_mask.sizes() == ids.sizes(),
                "BERT input: ids [B, T] and an attention mask of the same shape expected");
  require_input(ids.size(1) <= config.max_position_embeddings,
                "BERT input: {} tokens, more than the model's {} positions", ids.size(1),
                config.max_position_embeddings);
  auto x = embeddings(ids);
  // Padding gets the dtype's lowest value, as transformers' extended attention mask does.
  const double lowest = x.scalar_type() == torch::kBFloat16 ? -3.3895313892515355e38
                        : x.scalar_type() == torch::kHalf   ? -65504.0
                                                            : static_cast<double>(std::numeric_limits<float>::lowest());
  const auto additive_mask =
      ((1 - attention_mask.to(x.scalar_type())) * lowest).view({ids.size(0), 1, 1, ids.size(1)});
  for (const auto& layer : *layers) x = layer->as<BertLayer>()->forward(x, additive_mask);
  return x;
}

BertModel load_bert(const fs::path& dir, const BertLoadOptions& options) {
  require_input(fs::is_directory(dir), "{}: not a folder (expected a Hugging Face checkpoint folder)", dir.string());
  const BertConfig config = read_bert_config(dir / "config.json");
  auto raw = lm::read_checkpoint_tensors(dir);
  // BertFor... checkpoints keep the encoder under "bert."; sentence-transformers saves it bare.
  std::map<std::string, lm::CheckpointTensor> tensors;
  for (auto& [name, t] : raw) tensors[name.rfind("bert.", 0) == 0 ? name.substr(5) : name] = std::move(t);
  BertModel model(config);
  const std::string where = lm::checkpoint_file(dir).string();
  lm::copy_checkpoint_parameters(*model, tensors, where);
  for (const auto& [name, t] : tensors) {
    const bool ignorable = name.rfind("pooler.", 0) == 0 || name == "embeddings.position_ids" ||
                           name.rfind("cls.", 0) == 0 || name.rfind("classifier.", 0) == 0;
    require_input(ignorable, "{}: unexpected tensor '{}' (not part of a BERT encoder with this config.json)",
                  printable(t.file.string()), printable(name));
  }
  model->to(options.device, options.dtype.value_or(torch::kFloat));
  model->eval();
  return model;
}

BertModel make_random_bert(const BertConfig& c, uint64_t seed) {
  c.validate("random BERT");
  torch::manual_seed(seed);
  BertModel model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    const std::string& name = p.key();
    const bool is_norm = name.find("LayerNorm") != std::string::npos;
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.value().zero_();
    } else if (is_norm) {
      p.value().fill_(1.0);
    } else {
      p.value().normal_(0.0, 0.02);
    }
  }
  model->eval();
  return model;
}

void save_bert(const fs::path& dir, BertModel& model) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  require_input(!ec, "{}: cannot create the folder ({})", dir.string(), ec.message());
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : model->named_parameters()) tensors[p.key()] = p.value().detach().to(torch::kCPU).contiguous();
  write_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  write_text_atomically(dir / "config.json", bert_config_to_json(model->config).dump(2) + "\n");
}

}  // namespace tttlab::encoder
