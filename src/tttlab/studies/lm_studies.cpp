#include "tttlab/studies/lm_studies.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"

namespace tttlab::studies {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

torch::ScalarType parse_model_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat;
  if (name == "bfloat16") return torch::kBFloat16;
  throw_input_error("--dtype {} (expected float32 or bfloat16)", name);
}

LoadedLm load_lm(const LmModelSpec& spec) {
  const fs::path tok = spec.tokenizer.empty() ? fs::path(spec.model) / "tokenizer.json" : fs::path(spec.tokenizer);
  LoadedLm m{nullptr, lm::BpeTokenizer::from_file(tok), resolve_device(spec.device)};
  m.model = lm::load_causal_lm(spec.model, {parse_model_dtype(spec.dtype), m.device});
  require_input(m.tokenizer.vocab_size() <= m.model->config.vocab_size,
                "{}: the tokenizer has {} tokens but the model's vocabulary only {}", tok.string(),
                m.tokenizer.vocab_size(), m.model->config.vocab_size);
  return m;
}

int64_t resolve_prefix_token(const std::string& prefix, const lm::DecoderConfig& c) {
  if (prefix == "none") return -1;
  if (prefix == "eos") {
    require_input(c.eos_token_id >= 0, "--prefix-token eos: the model's config names no eos_token_id");
    return c.eos_token_id;
  }
  try {
    const int64_t id = std::stoll(prefix);
    require_input(id >= 0 && id < c.vocab_size, "--prefix-token {} is outside the vocabulary", prefix);
    return id;
  } catch (const std::logic_error&) {
    throw_input_error("--prefix-token {} (expected eos, none or a token id)", prefix);
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require_input(in.good(), "{}: cannot open the text file", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool fit_to_positions(const std::string& flag, bool given, int64_t& tokens, const lm::DecoderConfig& c,
                      const std::string& model) {
  const int64_t limit = c.max_position_embeddings;
  if (tokens <= limit) return false;
  require_input(!given,
                "{} {}: longer than the {} positions of {} (max_position_embeddings in its config.json); "
                "use {} {} or less",
                flag, tokens, limit, model, flag, limit);
  tokens = limit;
  return true;
}

void fit_window_to_positions(lm::BpbConfig& bpb, const LmLengthsGiven& given, const lm::DecoderConfig& c,
                             const std::string& model) {
  if (fit_to_positions("--context", given.context, bpb.context, c, model) && !given.stride) {
    bpb.stride = std::min(bpb.stride, std::max<int64_t>(1, bpb.context / 2));
  }
}

json TimedBpb::to_json() const {
  return {{"bits_per_byte", bpb.bits_per_byte()},
          {"bits_per_token", bpb.bits_per_token()},
          {"nll_nats", bpb.nll_nats},
          {"tokens_scored", bpb.tokens_scored},
          {"bytes", bpb.bytes},
          {"windows", bpb.windows},
          {"seconds", seconds},
          {"tokens_per_second", bpb.tokens_scored / std::max(seconds, 1e-9)}};
}

TimedBpb score_tokens(LoadedLm& m, const std::vector<int64_t>& ids, int64_t bytes, const lm::BpbConfig& cfg,
                      const std::string& label) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ProgressBar> bar;
  TimedBpb r;
  r.bpb = lm::bits_per_byte(m.model, ids, bytes, cfg, [&](int64_t, int64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>(label, total, "window");
    bar->advance();
  });
  if (bar) bar->finish();
  r.seconds = seconds_since(t0);
  return r;
}

LmScoreResult run_lm_score(const LmScoreConfig& cfg) {
  LoadedLm m = load_lm(cfg.model);
  LmScoreResult r;
  r.bpb = cfg.bpb;
  fit_window_to_positions(r.bpb, cfg.given, m.model->config, cfg.model.model);
  const std::string text = read_text_file(cfg.file);
  require_input(!text.empty(), "{}: the text file is empty", cfg.file);
  r.bpb.prefix_token = resolve_prefix_token(cfg.prefix, m.model->config);
  r.device = describe_device(m.device);
  r.score = score_tokens(m, m.tokenizer.encode(text), static_cast<int64_t>(text.size()), r.bpb, "score");
  return r;
}

json lm_score_json(const LmScoreConfig& cfg, const LmScoreResult& r) {
  return {{"command", "lm score"},
          {"model", cfg.model.model},
          {"file", cfg.file},
          {"device", r.device},
          {"dtype", cfg.model.dtype},
          {"config", {{"context", r.bpb.context}, {"stride", r.bpb.stride}, {"prefix_token", r.bpb.prefix_token}}},
          {"result", r.score.to_json()},
          {"versions", library_versions()},
          {"machine", machine_facts()}};
}

LmLoraResult run_lm_lora(const LmLoraConfig& cfg) {
  require_input(cfg.epochs >= 1, "--epochs={} (expected >= 1)", cfg.epochs);
  LoadedLm m = load_lm(cfg.model);
  lm::LoraTrainConfig train_cfg = cfg.train;
  fit_to_positions("--max-length", cfg.given.max_length, train_cfg.max_length, m.model->config, cfg.model.model);
  lm::BpbConfig bpb = cfg.bpb;
  fit_window_to_positions(bpb, cfg.given, m.model->config, cfg.model.model);
  bpb.prefix_token = resolve_prefix_token(cfg.prefix, m.model->config);
  bpb.validate();
  const std::string train_text = read_text_file(cfg.train_file);
  const std::string eval_text = cfg.eval_file.empty() ? train_text : read_text_file(cfg.eval_file);
  require_input(!train_text.empty() && !eval_text.empty(), "the training and evaluation texts must not be empty");
  const auto train_ids = m.tokenizer.encode(train_text), eval_ids = m.tokenizer.encode(eval_text);
  const auto bytes = static_cast<int64_t>(eval_text.size());

  LmLoraResult r;
  r.device = describe_device(m.device);
  r.max_length = train_cfg.max_length;
  r.bpb = bpb;
  r.before = score_tokens(m, eval_ids, bytes, bpb, "score (base)");
  lm::add_lora(m.model, cfg.lora, cfg.train.seed);
  lm::LoraTrainer trainer(m.model, train_cfg);
  r.trainable_parameters = lm::count_parameters(lm::lora_parameters(m.model));
  const auto t0 = std::chrono::steady_clock::now();
  {
    ProgressBar bar("LoRA", cfg.epochs, "epoch");
    for (int64_t e = 0; e < cfg.epochs; ++e) {
      const auto l = trainer.train_on_tokens(train_ids);
      r.losses.insert(r.losses.end(), l.begin(), l.end());
      if (!l.empty()) bar.set_postfix(fmt::format("loss {:.4f}", l.back()));
      bar.advance();
    }
  }
  r.train_seconds = seconds_since(t0);
  require_input(!r.losses.empty(), "the training text has fewer than 2 tokens: no LoRA step was taken");
  r.after = score_tokens(m, eval_ids, bytes, bpb, "score (LoRA)");
  trainer.reset();
  r.after_reset = score_tokens(m, eval_ids, bytes, bpb, "score (reset)");
  r.trained_tokens = static_cast<int64_t>(train_ids.size()) * cfg.epochs;
  return r;
}

json lm_lora_json(const LmLoraConfig& cfg, const LmLoraResult& r) {
  return {
      {"command", "lm lora"},
      {"model", cfg.model.model},
      {"train", cfg.train_file},
      {"eval", cfg.eval_file.empty() ? cfg.train_file : cfg.eval_file},
      {"device", r.device},
      {"dtype", cfg.model.dtype},
      {"lora",
       {{"rank", cfg.lora.rank},
        {"alpha", cfg.lora.alpha},
        {"dropout", cfg.lora.dropout},
        {"targets", cfg.lora.targets},
        {"trainable_parameters", r.trainable_parameters}}},
      {"train_config",
       {{"lr", cfg.train.lr},
        {"eps", cfg.train.eps},
        {"max_grad_norm", cfg.train.max_grad_norm},
        {"max_length", r.max_length},
        {"epochs", cfg.epochs},
        {"seed", cfg.train.seed}}},
      {"score_config", {{"context", r.bpb.context}, {"stride", r.bpb.stride}, {"prefix_token", r.bpb.prefix_token}}},
      {"losses", r.losses},
      {"train_seconds", r.train_seconds},
      {"train_tokens_per_second", r.trained_tokens / std::max(r.train_seconds, 1e-9)},
      {"before", r.before.to_json()},
      {"after", r.after.to_json()},
      {"after_reset", r.after_reset.to_json()},
      {"versions", library_versions()},
      {"machine", machine_facts()}};
}

void write_lm_results(const fs::path& dir, const json& results) {
  if (dir.empty()) return;
  fs::create_directories(dir);
  write_text_atomically(dir / "results.json", results.dump(2) + "\n");
}

}  // namespace tttlab::studies
