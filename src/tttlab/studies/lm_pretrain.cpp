#include "tttlab/studies/lm_pretrain.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/output_folder.hpp"
#include "tttlab/core/printable.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/data/text_corpus.hpp"
#include "tttlab/lm/bits_per_byte.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"
#include "tttlab/lm/decoder_model.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"
#include "tttlab/studies/lm_studies.hpp"

namespace tttlab::studies {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct FamilySize {
  const char* name;
  int64_t hidden, layers, heads, mlp;
};

// Widths grow by about 1.6x per size and depth with them; head_dim 32 throughout; MLP about 2.7x
// hidden (Llama's 8/3, rounded to a multiple of 16).
constexpr FamilySize kFamily[] = {
    {"xs", 64, 2, 2, 176}, {"s", 128, 4, 4, 336}, {"m", 192, 6, 6, 512}, {"l", 320, 8, 10, 864}, {"xl", 512, 10, 16, 1376},
};

// The JSONL files' texts (a "text" and a "domain" field per line, as a corpus folder's files hold).
std::vector<std::string> read_texts(const std::string& file, const char* flag) {
  require_input(!file.empty(), "{} is required", flag);
  TextCorpusOptions options;
  options.label_field = "domain";
  options.min_classes = 1;
  return read_text_corpus(file, options).texts;
}

// Rejects a folder holding files this run would not replace (another model's shards, say), which
// would otherwise sit beside the new checkpoint and be read with it.
void require_checkpoint_folder(const fs::path& out) {
  require_output_folder(out);
  if (!fs::is_directory(out)) return;
  static const std::set<std::string> ours = {"config.json", "model.safetensors", "tokenizer.json", "results.json"};
  for (const auto& e : fs::directory_iterator(out)) {
    const auto name = e.path().filename().string();
    require_input(ours.count(name) == 1,
                  "--out {}: the folder holds {}, which is not part of a pretraining run; use an empty or new folder",
                  printable(out.string()), printable(name));
  }
}

// Cosine decay from the peak to min_lr_fraction of it after a linear warm-up.
double learning_rate(const LmPretrainConfig& cfg, int64_t step) {
  const double warmup = std::max(1.0, cfg.warmup_fraction * static_cast<double>(cfg.steps));
  if (static_cast<double>(step) < warmup) return cfg.lr * (static_cast<double>(step) + 1) / warmup;
  const double progress =
      (static_cast<double>(step) - warmup) / std::max(1.0, static_cast<double>(cfg.steps) - warmup);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
  return cfg.lr * (cfg.min_lr_fraction + (1.0 - cfg.min_lr_fraction) * cosine);
}

struct ValSet {
  std::vector<std::vector<int64_t>> tokens;
  std::vector<int64_t> bytes;
  int64_t total_bytes = 0;
};

// Bits per byte over all validation documents together (summed NLL / summed bytes), each document
// scored in windows of the training length, its first token predicted from end-of-text.
double val_bits_per_byte(lm::CausalLM& model, const ValSet& val, int64_t seq_len, int64_t eos) {
  lm::BpbConfig bpb;
  bpb.context = seq_len;
  bpb.stride = std::max<int64_t>(1, seq_len / 2);
  bpb.prefix_token = eos;
  double nll = 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < val.tokens.size(); ++i) {
    const auto r = lm::bits_per_byte(model, val.tokens[i], val.bytes[i], bpb);
    nll += r.nll_nats;
    bytes += r.bytes;
  }
  return nll / std::log(2.0) / static_cast<double>(std::max<int64_t>(bytes, 1));
}

}  // namespace

std::vector<std::string> llama_family_sizes() {
  std::vector<std::string> names;
  for (const auto& s : kFamily) names.emplace_back(s.name);
  return names;
}

lm::DecoderConfig llama_family_shape(const std::string& size, int64_t vocab_size, int64_t eos_token_id,
                                     int64_t max_positions) {
  for (const auto& s : kFamily) {
    if (size != s.name) continue;
    lm::DecoderConfig c;
    c.architecture = lm::DecoderArchitecture::llama;
    c.attention_bias = false;
    c.mlp_bias = false;
    c.vocab_size = vocab_size;
    c.hidden_size = s.hidden;
    c.intermediate_size = s.mlp;
    c.num_hidden_layers = s.layers;
    c.num_attention_heads = s.heads;
    c.num_key_value_heads = std::max<int64_t>(1, s.heads / 2);
    c.max_position_embeddings = max_positions;
    c.rope_theta = 10000.0;
    c.rms_norm_eps = 1e-5;
    c.tie_word_embeddings = true;
    c.bos_token_id = eos_token_id;
    c.eos_token_id = eos_token_id;
    c.validate("size " + size);
    return c;
  }
  throw_input_error("--size {}: not a size of the family (expected one of {})", printable(size),
                    fmt::format("{}", fmt::join(llama_family_sizes(), ", ")));
}

void LmPretrainConfig::validate() const {
  require_input(size.empty() != config_json.empty(), "give exactly one of --size and --config-json");
  require_input(steps >= 1, "--steps {} (expected >= 1)", steps);
  require_input(batch >= 1, "--batch {} (expected >= 1)", batch);
  require_input(seq_len >= 2, "--seq-len {} (expected >= 2)", seq_len);
  require_input(lr > 0 && std::isfinite(lr), "--lr {} (expected > 0)", lr);
  require_input(min_lr_fraction >= 0 && min_lr_fraction <= 1, "--min-lr-fraction {} (expected in [0, 1])",
                min_lr_fraction);
  require_input(warmup_fraction >= 0 && warmup_fraction < 1, "--warmup-fraction {} (expected in [0, 1))",
                warmup_fraction);
  require_input(weight_decay >= 0, "--weight-decay {} (expected >= 0)", weight_decay);
  require_input(max_grad_norm >= 0, "--max-grad-norm {} (expected >= 0; 0: no clipping)", max_grad_norm);
  require_input(max_val_documents >= 1, "--max-val-documents {} (expected >= 1)", max_val_documents);
  require_input(!out.empty(), "--out is required");
}

LmPretrainResult run_lm_pretrain(const LmPretrainConfig& cfg) {
  cfg.validate();
  require_checkpoint_folder(cfg.out);
  require_input(!cfg.tokenizer.empty(), "--tokenizer is required");
  const auto tokenizer = lm::BpeTokenizer::from_file(cfg.tokenizer);
  const int64_t eos = tokenizer.token_to_id("<|endoftext|>");
  require_input(eos >= 0, "{}: no <|endoftext|> token, which separates the training documents", cfg.tokenizer);

  LmPretrainResult r;
  if (!cfg.size.empty()) {
    r.config = llama_family_shape(cfg.size, tokenizer.vocab_size(), eos, cfg.seq_len);
  } else {
    r.config = lm::read_decoder_config(cfg.config_json);
    require_input(r.config.vocab_size >= tokenizer.vocab_size(), "{}: vocab_size {} is below the tokenizer's {} tokens",
                  cfg.config_json, r.config.vocab_size, tokenizer.vocab_size());
    require_input(r.config.max_position_embeddings >= cfg.seq_len,
                  "--seq-len {}: longer than the {} positions of {}", cfg.seq_len, r.config.max_position_embeddings,
                  cfg.config_json);
    r.config.eos_token_id = eos;
  }

  // The training stream: end-of-text, then each document's tokens, in file order.
  std::vector<int64_t> stream;
  for (const auto& text : read_texts(cfg.train_file, "--train")) {
    stream.push_back(eos);
    const auto ids = tokenizer.encode(text);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  r.train_tokens = static_cast<int64_t>(stream.size());
  require_input(r.train_tokens > cfg.seq_len + 1, "{}: {} tokens, fewer than one window of --seq-len {} + 1",
                cfg.train_file, r.train_tokens, cfg.seq_len);
  ValSet val;
  for (const auto& text : read_texts(cfg.val_file, "--val")) {
    if (static_cast<int64_t>(val.tokens.size()) >= cfg.max_val_documents) break;
    val.tokens.push_back(tokenizer.encode(text));
    val.bytes.push_back(static_cast<int64_t>(text.size()));
    val.total_bytes += static_cast<int64_t>(text.size());
  }
  r.val_documents = static_cast<int64_t>(val.tokens.size());
  r.val_bytes = val.total_bytes;

  const torch::Device device = resolve_device(cfg.device);
  r.device = device.str();
  if (device.is_cuda()) at::globalContext().setAllowTF32CuBLAS(true);  // tensor cores for the fp32 matmuls
  auto model = lm::make_random_decoder(r.config, cfg.seed);
  model->to(device);
  for (const auto& p : model->parameters()) r.parameters += p.numel();

  // AdamW with decay on the weight matrices only (norm gains and biases are not decayed).
  std::vector<torch::Tensor> decayed, plain;
  for (const auto& p : model->named_parameters()) (p.value().dim() >= 2 ? decayed : plain).push_back(p.value());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  const auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(cfg.lr).betas({cfg.beta1, cfg.beta2}).eps(cfg.eps).weight_decay(wd));
  };
  groups.emplace_back(decayed, opts(cfg.weight_decay));
  groups.emplace_back(plain, opts(0.0));
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(cfg.lr));

  model->eval();
  {
    torch::NoGradGuard no_grad;
    r.val_bpb_before = val_bits_per_byte(model, val, cfg.seq_len, eos);
  }
  const auto stream_tensor = torch::tensor(stream, torch::kLong);
  auto gen = at::detail::createCPUGenerator(cfg.seed + 1);
  const int64_t last_start = r.train_tokens - (cfg.seq_len + 1);
  const auto offsets = torch::arange(cfg.seq_len + 1, torch::kLong);
  const auto t0 = std::chrono::steady_clock::now();
  ProgressBar bar(fmt::format("pretrain {}", cfg.size.empty() ? "model" : cfg.size), cfg.steps, "step");
  model->train();
  for (int64_t step = 0; step < cfg.steps; ++step) {
    const double lr = learning_rate(cfg, step);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    const auto starts = torch::randint(0, last_start + 1, {cfg.batch, 1}, gen, torch::kLong);
    const auto ids = stream_tensor.index({starts + offsets}).to(device);
    optimizer.zero_grad();
    const auto loss = lm::next_token_loss(model, ids);
    loss.backward();
    if (cfg.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), cfg.max_grad_norm);
    optimizer.step();
    r.losses.push_back(loss.item<double>());
    require_input(std::isfinite(r.losses.back()), "pretraining diverged at step {} (loss {}); lower --lr", step + 1,
                  r.losses.back());
    bar.set_postfix(fmt::format("loss {:.3f}", r.losses.back()));
    bar.advance();
  }
  bar.finish();
  r.train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.tokens_seen = cfg.steps * cfg.batch * cfg.seq_len;
  model->eval();
  {
    torch::NoGradGuard no_grad;
    r.val_bpb_after = val_bits_per_byte(model, val, cfg.seq_len, eos);
  }

  const fs::path out(cfg.out);
  lm::save_causal_lm(out, model);
  write_text_atomically(out / "tokenizer.json", read_text_file(cfg.tokenizer));
  write_text_atomically(out / "results.json", lm_pretrain_json(cfg, r).dump(2) + "\n");
  return r;
}

json lm_pretrain_json(const LmPretrainConfig& cfg, const LmPretrainResult& r) {
  // The loss curve thinned to at most 200 points (means over equal spans of steps).
  json curve = json::array();
  const size_t n = r.losses.size(), points = std::min<size_t>(n, 200);
  for (size_t i = 0; i < points; ++i) {
    const size_t a = i * n / points, b = (i + 1) * n / points;
    double sum = 0;
    for (size_t j = a; j < b; ++j) sum += r.losses[j];
    curve.push_back({{"step", b}, {"loss", sum / static_cast<double>(b - a)}});
  }
  return {{"study", "lm pretrain"},
          {"versions", library_versions()},
          {"config",
           {{"size", cfg.size},
            {"config_json", cfg.config_json},
            {"tokenizer", cfg.tokenizer},
            {"train", cfg.train_file},
            {"val", cfg.val_file},
            {"steps", cfg.steps},
            {"batch", cfg.batch},
            {"seq_len", cfg.seq_len},
            {"lr", cfg.lr},
            {"min_lr_fraction", cfg.min_lr_fraction},
            {"warmup_fraction", cfg.warmup_fraction},
            {"weight_decay", cfg.weight_decay},
            {"betas", {cfg.beta1, cfg.beta2}},
            {"eps", cfg.eps},
            {"max_grad_norm", cfg.max_grad_norm},
            {"seed", cfg.seed}}},
          {"model", lm::decoder_config_to_json(r.config)},
          {"parameters", r.parameters},
          {"train_tokens", r.train_tokens},
          {"tokens_seen", r.tokens_seen},
          {"epochs", static_cast<double>(r.tokens_seen) / static_cast<double>(std::max<int64_t>(r.train_tokens, 1))},
          {"val", {{"documents", r.val_documents}, {"bytes", r.val_bytes}, {"bits_per_byte_before", r.val_bpb_before},
                   {"bits_per_byte_after", r.val_bpb_after}}},
          {"final_loss", r.losses.empty() ? 0.0 : r.losses.back()},
          {"loss_curve", curve},
          {"train_seconds", r.train_seconds},
          {"tokens_per_second", static_cast<double>(r.tokens_seen) / std::max(r.train_seconds, 1e-9)},
          {"device", r.device}};
}

}  // namespace tttlab::studies
