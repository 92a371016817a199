// tttlab lm: the language-model engine (Qwen2 checkpoints, byte-level BPE, LoRA, bits per byte).
//   lm info      a checkpoint's shape and parameter count
//   lm init      a randomly initialised model from a config.json, saved as a checkpoint
//   lm tokenize  text -> ids, or ids -> text
//   lm score     bits per byte of a text file (sliding window)
//   lm lora      LoRA steps on a text (one per chunk), bits per byte before and after, then reset
#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "tttlab/core/atomic_file.hpp"
#include "tttlab/core/device.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/core/versions.hpp"
#include "tttlab/lm/bits_per_byte.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"
#include "tttlab/lm/lora.hpp"

namespace tttlab::cli {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require_input(in.good(), "{}: cannot open the text file", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat;
  if (name == "bfloat16") return torch::kBFloat16;
  throw_input_error("--dtype {} (expected float32 or bfloat16)", name);
}

struct ModelOptions {
  std::string model, tokenizer, device = "auto", dtype = "float32";
  int threads = 0;
};

void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_tokenizer) {
  cmd->add_option("--model", o.model, "Checkpoint folder: config.json + model.safetensors (or a sharded index)")
      ->required();
  if (with_tokenizer) {
    cmd->add_option("--tokenizer", o.tokenizer, "tokenizer.json (default: the one in the model folder)");
  }
  add_device_option(cmd, o.device);
  cmd->add_option("--dtype", o.dtype, "Weights and activations: float32 or bfloat16")->capture_default_str();
  cmd->add_option("--threads", o.threads, "CPU threads (0 = all cores)")->capture_default_str();
}

struct LoadedModel {
  lm::Qwen2ForCausalLM model{nullptr};
  lm::BpeTokenizer tokenizer;
  torch::Device device = torch::kCPU;
};

LoadedModel load_model(const ModelOptions& o) {
  apply_threads(o.threads);
  const fs::path tok = o.tokenizer.empty() ? fs::path(o.model) / "tokenizer.json" : fs::path(o.tokenizer);
  LoadedModel m{nullptr, lm::BpeTokenizer::from_file(tok), resolve_device(o.device)};
  m.model = lm::load_qwen2(o.model, {parse_dtype(o.dtype), m.device});
  require_input(m.tokenizer.vocab_size() <= m.model->config.vocab_size,
                "{}: the tokenizer has {} tokens but the model's vocabulary only {}", tok.string(),
                m.tokenizer.vocab_size(), m.model->config.vocab_size);
  return m;
}

int64_t resolve_prefix(const std::string& prefix, const lm::Qwen2Config& c) {
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

// A window (or training chunk) of `option`'s tokens must fit the model's positions: beyond
// max_position_embeddings the rotary embeddings run on positions the model never saw, without any
// error, so a value given on the command line is refused. A default that does not fit is lowered to
// the model's length instead, since the user did not ask for it. Returns whether it was lowered.
bool fit_to_positions(const CLI::Option* option, int64_t& tokens, const lm::Qwen2Config& c,
                      const std::string& model) {
  const int64_t limit = c.max_position_embeddings;
  if (tokens <= limit) return false;
  require_input(option->count() == 0, "{} {}: longer than the {} positions of {} (max_position_embeddings in its "
                "config.json); use {} {} or less", option->get_name(), tokens, limit, model, option->get_name(), limit);
  tokens = limit;
  return true;
}

// The scoring window fitted to the model; a default stride is kept below the window it slides.
void fit_window_to_positions(lm::BpbConfig& bpb, const CLI::Option* context, const CLI::Option* stride,
                             const lm::Qwen2Config& c, const std::string& model) {
  if (fit_to_positions(context, bpb.context, c, model) && stride->count() == 0) {
    bpb.stride = std::min(bpb.stride, std::max<int64_t>(1, bpb.context / 2));
  }
}

json bpb_json(const lm::BpbResult& r, double seconds) {
  return {{"bits_per_byte", r.bits_per_byte()}, {"bits_per_token", r.bits_per_token()},
          {"nll_nats", r.nll_nats},            {"tokens_scored", r.tokens_scored},
          {"bytes", r.bytes},                  {"windows", r.windows},
          {"seconds", seconds},                {"tokens_per_second", r.tokens_scored / std::max(seconds, 1e-9)}};
}

lm::BpbResult score(LoadedModel& m, const std::vector<int64_t>& ids, int64_t bytes, const lm::BpbConfig& cfg,
                    const std::string& label, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ProgressBar> bar;
  const auto r = lm::bits_per_byte(m.model, ids, bytes, cfg, [&](int64_t done, int64_t total) {
    if (!bar) bar = std::make_unique<ProgressBar>(label, total, "window");
    bar->advance();
    (void)done;
  });
  if (bar) bar->finish();
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

void write_results(const std::string& out, const json& results) {
  if (out.empty()) return;
  fs::create_directories(out);
  write_text_atomically(fs::path(out) / "results.json", results.dump(2) + "\n");
  fmt::print("wrote {}\n", (fs::path(out) / "results.json").string());
}

void add_info(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("info", "Show a Qwen2 checkpoint's configuration and parameter count");
  auto model = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "Checkpoint folder")->required();
  cmd->callback([model] {
    auto m = lm::load_qwen2(*model);
    const auto& c = m->config;
    int64_t params = 0;
    for (const auto& p : m->parameters()) params += p.numel();
    fmt::print("Qwen2 decoder: {} layers, hidden {}, MLP {}, {} query heads / {} key-value heads (head dim {})\n",
               c.num_hidden_layers, c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads,
               c.head_dim());
    fmt::print("vocabulary {}, rope theta {}, RMSNorm eps {}, {} output embedding, stored as {}\n", c.vocab_size,
               c.rope_theta, c.rms_norm_eps, c.tie_word_embeddings ? "tied" : "untied", c.torch_dtype);
    fmt::print("parameters: {}\n", params);
  });
}

void add_init(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("init", "Write a randomly initialised Qwen2 checkpoint (normal(0, 0.02)) "
                                             "for a config.json");
  auto config = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(0);
  cmd->add_option("--config-json", *config, "A Hugging Face config.json of a Qwen2 model (its shape)")->required();
  cmd->add_option("--out", *out, "Folder to write config.json and model.safetensors to")->required();
  cmd->add_option("--seed", *seed, "Random seed")->capture_default_str();
  cmd->callback([config, out, seed] {
    auto model = lm::make_random_qwen2(lm::read_qwen2_config(*config), *seed);
    lm::save_qwen2(*out, model);
    fmt::print("wrote {}\n", *out);
  });
}

void add_tokenize(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("tokenize", "Encode text to token ids (JSON on stdout), or decode ids");
  struct Opts {
    std::string tokenizer, text, file, decode;
    bool count = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--tokenizer", o->tokenizer, "A Hugging Face tokenizer.json (byte-level BPE)")->required();
  auto* text = cmd->add_option("--text", o->text, "Text to encode");
  auto* file = cmd->add_option("--file", o->file, "File whose bytes to encode");
  auto* decode = cmd->add_option("--decode", o->decode, "Comma-separated ids to decode instead");
  text->excludes(file)->excludes(decode);
  file->excludes(decode);
  cmd->add_flag("--count", o->count, "Print only the number of tokens and bytes");
  cmd->callback([o] {
    const auto tok = lm::BpeTokenizer::from_file(o->tokenizer);
    if (!o->decode.empty()) {
      std::vector<int64_t> ids;
      std::stringstream ss(o->decode);
      for (std::string item; std::getline(ss, item, ',');) {
        try {
          ids.push_back(std::stoll(item));
        } catch (const std::logic_error&) {
          throw_input_error("--decode: '{}' is not a token id", item);
        }
      }
      fmt::print("{}\n", tok.decode(ids));
      return;
    }
    require_input(!o->text.empty() || !o->file.empty(), "give --text, --file or --decode");
    const std::string text = o->file.empty() ? o->text : read_text_file(o->file);
    const auto ids = tok.encode(text);
    if (o->count) fmt::print("{} tokens, {} bytes\n", ids.size(), text.size());
    else fmt::print("[{}]\n", fmt::join(ids, ", "));
  });
}

void add_score(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("score", "Bits per byte of a text file under a model (sliding window)");
  struct Opts {
    ModelOptions m;
    std::string file, out, prefix = "eos";
    lm::BpbConfig bpb;
    const CLI::Option *context = nullptr, *stride = nullptr;
  };
  auto o = std::make_shared<Opts>();
  add_model_options(cmd, o->m, true);
  cmd->add_option("--file", o->file, "Text file (UTF-8; invalid bytes count as bytes, tokenized as U+FFFD)")->required();
  o->context = cmd->add_option("--context", o->bpb.context,
                               "Tokens per window, at most the model's max_position_embeddings (the default is "
                               "lowered to it)")->capture_default_str();
  o->stride = cmd->add_option("--stride", o->bpb.stride, "New tokens scored per window after the first (< context)")
      ->capture_default_str();
  cmd->add_option("--prefix-token", o->prefix, "Token the first token is predicted from: eos, none or an id")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Folder for results.json");
  cmd->callback([o] {
    auto m = load_model(o->m);
    auto cfg = o->bpb;
    fit_window_to_positions(cfg, o->context, o->stride, m.model->config, o->m.model);
    const std::string text = read_text_file(o->file);
    require_input(!text.empty(), "{}: the text file is empty", o->file);
    cfg.prefix_token = resolve_prefix(o->prefix, m.model->config);
    const auto ids = m.tokenizer.encode(text);
    double seconds = 0;
    const auto r = score(m, ids, static_cast<int64_t>(text.size()), cfg, "score", seconds);
    fmt::print("{}: {} bytes, {} tokens; {:.4f} bits per byte ({:.4f} bits per token); {:.0f} tokens/s on {}\n",
               o->file, r.bytes, r.tokens_scored, r.bits_per_byte(), r.bits_per_token(),
               r.tokens_scored / std::max(seconds, 1e-9), describe_device(m.device));
    write_results(o->out, {{"command", "lm score"},
                           {"model", o->m.model},
                           {"file", o->file},
                           {"device", describe_device(m.device)},
                           {"dtype", o->m.dtype},
                           {"config", {{"context", cfg.context}, {"stride", cfg.stride}, {"prefix_token", cfg.prefix_token}}},
                           {"result", bpb_json(r, seconds)},
                           {"versions", library_versions()}});
  });
}

void add_lora(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand(
      "lora", "LoRA steps on a text (one Adam step per chunk of --max-length tokens), bits per byte of the "
              "evaluation text before and after, then a reset to the base model (checked)");
  struct Opts {
    ModelOptions m;
    std::string train, eval, out, prefix = "eos";
    int64_t epochs = 1;
    lm::LoraConfig lora;
    lm::LoraTrainConfig train_cfg;
    lm::BpbConfig bpb;
    const CLI::Option *max_length = nullptr, *context = nullptr, *stride = nullptr;
  };
  auto o = std::make_shared<Opts>();
  add_model_options(cmd, o->m, true);
  cmd->add_option("--train", o->train, "Text to adapt on")->required();
  cmd->add_option("--eval", o->eval, "Text to score before and after (default: the training text)");
  cmd->add_option("--epochs", o->epochs, "Passes over the training text")->capture_default_str();
  cmd->add_option("--rank", o->lora.rank, "LoRA rank (E.7: 64)")->capture_default_str();
  cmd->add_option("--alpha", o->lora.alpha, "LoRA alpha (scale alpha / rank)")->capture_default_str();
  cmd->add_option("--lora-dropout", o->lora.dropout, "Dropout on the adapters' input")->capture_default_str();
  cmd->add_option("--targets", o->lora.targets, "Projections that get adapters")->capture_default_str()->delimiter(',');
  cmd->add_option("--lr", o->train_cfg.lr, "Adam learning rate (E.7: 2e-4)")->capture_default_str();
  cmd->add_option("--eps", o->train_cfg.eps, "Adam epsilon (E.7: 1e-8)")->capture_default_str();
  cmd->add_option("--max-grad-norm", o->train_cfg.max_grad_norm, "Clip the adapters' gradient norm (0: off)")
      ->capture_default_str();
  o->max_length = cmd->add_option("--max-length", o->train_cfg.max_length,
                                  "Tokens per training chunk (E.7: 1024), at most the model's max_position_embeddings "
                                  "(the default is lowered to it)")->capture_default_str();
  cmd->add_option("--seed", o->train_cfg.seed, "Adapter initialisation seed")->capture_default_str();
  o->context = cmd->add_option("--context", o->bpb.context,
                               "Tokens per scoring window, at most the model's max_position_embeddings (the default "
                               "is lowered to it)")->capture_default_str();
  o->stride = cmd->add_option("--stride", o->bpb.stride, "New tokens scored per window")->capture_default_str();
  cmd->add_option("--prefix-token", o->prefix, "eos, none or a token id")->capture_default_str();
  cmd->add_option("--out", o->out, "Folder for results.json");
  cmd->callback([o] {
    require_input(o->epochs >= 1, "--epochs={} (expected >= 1)", o->epochs);
    auto m = load_model(o->m);
    fit_to_positions(o->max_length, o->train_cfg.max_length, m.model->config, o->m.model);
    auto bpb_cfg = o->bpb;
    fit_window_to_positions(bpb_cfg, o->context, o->stride, m.model->config, o->m.model);
    bpb_cfg.prefix_token = resolve_prefix(o->prefix, m.model->config);
    bpb_cfg.validate();
    const std::string train_text = read_text_file(o->train);
    const std::string eval_text = o->eval.empty() ? train_text : read_text_file(o->eval);
    require_input(!train_text.empty() && !eval_text.empty(), "the training and evaluation texts must not be empty");
    const auto train_ids = m.tokenizer.encode(train_text), eval_ids = m.tokenizer.encode(eval_text);
    const auto bytes = static_cast<int64_t>(eval_text.size());

    double t_before = 0, t_after = 0, t_reset = 0;
    const auto before = score(m, eval_ids, bytes, bpb_cfg, "score (base)", t_before);
    lm::add_lora(m.model, o->lora, o->train_cfg.seed);
    lm::LoraTrainer trainer(m.model, o->train_cfg);
    const auto trainable = lm::count_parameters(lm::lora_parameters(m.model));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> losses;
    {
      ProgressBar bar("LoRA", o->epochs, "epoch");
      for (int64_t e = 0; e < o->epochs; ++e) {
        const auto l = trainer.train_on_tokens(train_ids);
        losses.insert(losses.end(), l.begin(), l.end());
        if (!l.empty()) bar.set_postfix(fmt::format("loss {:.4f}", l.back()));
        bar.advance();
      }
    }
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    require_input(!losses.empty(), "the training text has fewer than 2 tokens: no LoRA step was taken");
    const auto after = score(m, eval_ids, bytes, bpb_cfg, "score (LoRA)", t_after);
    trainer.reset();
    const auto reset = score(m, eval_ids, bytes, bpb_cfg, "score (reset)", t_reset);
    const int64_t trained_tokens = static_cast<int64_t>(train_ids.size()) * o->epochs;
    fmt::print("LoRA rank {} on {} projections: {} trainable parameters; {} steps over {} tokens, {:.0f} tokens/s\n",
               o->lora.rank, o->lora.targets.size(), trainable, losses.size(), trained_tokens,
               trained_tokens / std::max(train_s, 1e-9));
    fmt::print("bits per byte of {}: base {:.4f} -> LoRA {:.4f}; after reset {:.4f}\n",
               o->eval.empty() ? o->train : o->eval, before.bits_per_byte(), after.bits_per_byte(),
               reset.bits_per_byte());
    write_results(o->out, {{"command", "lm lora"},
                           {"model", o->m.model},
                           {"train", o->train},
                           {"eval", o->eval.empty() ? o->train : o->eval},
                           {"device", describe_device(m.device)},
                           {"dtype", o->m.dtype},
                           {"lora", {{"rank", o->lora.rank}, {"alpha", o->lora.alpha}, {"dropout", o->lora.dropout},
                                     {"targets", o->lora.targets}, {"trainable_parameters", trainable}}},
                           {"train_config", {{"lr", o->train_cfg.lr}, {"eps", o->train_cfg.eps},
                                             {"max_grad_norm", o->train_cfg.max_grad_norm},
                                             {"max_length", o->train_cfg.max_length}, {"epochs", o->epochs},
                                             {"seed", o->train_cfg.seed}}},
                           {"losses", losses},
                           {"train_seconds", train_s},
                           {"train_tokens_per_second", trained_tokens / std::max(train_s, 1e-9)},
                           {"before", bpb_json(before, t_before)},
                           {"after", bpb_json(after, t_after)},
                           {"after_reset", bpb_json(reset, t_reset)},
                           {"versions", library_versions()}});
  });
}

}  // namespace

void add_lm_command(CLI::App& app) {
  auto* lm_cmd = app.add_subcommand("lm", "Language models: Qwen2 checkpoints, BPE tokenizer, LoRA, bits per byte");
  lm_cmd->require_subcommand(1);
  add_info(lm_cmd);
  add_init(lm_cmd);
  add_tokenize(lm_cmd);
  add_score(lm_cmd);
  add_lora(lm_cmd);
}

}  // namespace tttlab::cli
