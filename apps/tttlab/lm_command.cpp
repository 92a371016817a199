// tttlab lm: the language-model engine (Qwen2 and Llama checkpoints, byte-level BPE, LoRA, bits per byte).
//   lm info      a checkpoint's shape and parameter count
//   lm init      a randomly initialised model from a config.json, saved as a checkpoint
//   lm tokenize  text -> ids, or ids -> text
//   lm score     bits per byte of a text file (sliding window)
//   lm lora      LoRA steps on a text (one per chunk), bits per byte before and after, then reset
#include <algorithm>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (moved here in fmt 11)

#include "commands.hpp"
#include "tttlab/core/error.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"
#include "tttlab/lm/hf_checkpoint.hpp"
#include "tttlab/studies/lm_studies.hpp"

namespace tttlab::cli {

namespace {

namespace fs = std::filesystem;

struct ModelOptions {
  studies::LmModelSpec spec;
  int threads = 0;
};

void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_tokenizer) {
  cmd->add_option("--model", o.spec.model, "Checkpoint folder: config.json + model.safetensors (or a sharded index)")
      ->required();
  if (with_tokenizer) {
    cmd->add_option("--tokenizer", o.spec.tokenizer, "tokenizer.json (default: the one in the model folder)");
  }
  add_device_option(cmd, o.spec.device);
  cmd->add_option("--dtype", o.spec.dtype, "Weights and activations: float32 or bfloat16")->capture_default_str();
  add_threads_option(cmd, o.threads);
}

void print_written(const std::string& out) {
  if (!out.empty()) fmt::print("wrote {}\n", (fs::path(out) / "results.json").string());
}

void add_info(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("info", "Show a checkpoint's configuration and parameter count (Qwen2 or Llama)");
  auto model = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "Checkpoint folder")->required();
  cmd->callback([model] {
    auto m = lm::load_causal_lm(*model);
    const auto& c = m->config;
    int64_t params = 0;
    for (const auto& p : m->parameters()) params += p.numel();
    fmt::print("{} decoder ({}): {} layers, hidden {}, MLP {}, {} query heads / {} key-value heads (head dim {})\n",
               lm::architecture_class(c.architecture), lm::architecture_name(c.architecture), c.num_hidden_layers,
               c.hidden_size, c.intermediate_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim());
    fmt::print("vocabulary {}, rope theta {}, RMSNorm eps {}, {} output embedding, stored as {}\n", c.vocab_size,
               c.rope_theta, c.rms_norm_eps, c.tie_word_embeddings ? "tied" : "untied", c.torch_dtype);
    fmt::print("parameters: {}\n", params);
  });
}

void add_init(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("init",
                                     "Write a randomly initialised checkpoint (Qwen2 or Llama; normal(0, 0.02)) "
                                     "for a config.json");
  auto config = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto seed = std::make_shared<uint64_t>(0);
  cmd->add_option("--config-json", *config, "A Hugging Face config.json of a Qwen2 or Llama model (its shape)")->required();
  add_out_option(cmd, *out, "Folder to write config.json and model.safetensors to")->required();
  add_seed_option(cmd, *seed, "Random seed");
  cmd->callback([config, out, seed] {
    auto model = lm::make_random_decoder(lm::read_decoder_config(*config), *seed);
    lm::save_causal_lm(*out, model);
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
    const std::string text = o->file.empty() ? o->text : studies::read_text_file(o->file);
    const auto ids = tok.encode(text);
    if (o->count)
      fmt::print("{} tokens, {} bytes\n", ids.size(), text.size());
    else
      fmt::print("[{}]\n", fmt::join(ids, ", "));
  });
}

void add_score(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand("score", "Bits per byte of a text file under a model (sliding window)");
  struct Opts {
    ModelOptions m;
    studies::LmScoreConfig cfg;
    std::string out;
    const CLI::Option *context = nullptr, *stride = nullptr;
  };
  auto o = std::make_shared<Opts>();
  add_model_options(cmd, o->m, true);
  cmd->add_option("--file", o->cfg.file, "Text file (UTF-8; invalid bytes count as bytes, tokenized as U+FFFD)")
      ->required();
  o->context = cmd->add_option("--context", o->cfg.bpb.context,
                               "Tokens per window, at most the model's max_position_embeddings (the default is "
                               "lowered to it)")
                   ->capture_default_str();
  o->stride = cmd->add_option("--stride", o->cfg.bpb.stride, "New tokens scored per window after the first (< context)")
                  ->capture_default_str();
  cmd->add_option("--prefix-token", o->cfg.prefix, "Token the first token is predicted from: eos, none or an id")
      ->capture_default_str();
  add_out_option(cmd, o->out, "Folder for results.json");
  cmd->callback([o] {
    apply_threads(o->m.threads);
    o->cfg.model = o->m.spec;
    o->cfg.given = {o->context->count() > 0, o->stride->count() > 0, false};
    const auto r = studies::run_lm_score(o->cfg);
    const auto& b = r.score.bpb;
    fmt::print("{}: {} bytes, {} tokens; {:.4f} bits per byte ({:.4f} bits per token); {:.0f} tokens/s on {}\n",
               o->cfg.file, b.bytes, b.tokens_scored, b.bits_per_byte(), b.bits_per_token(),
               b.tokens_scored / std::max(r.score.seconds, 1e-9), r.device);
    studies::write_lm_results(o->out, studies::lm_score_json(o->cfg, r));
    print_written(o->out);
  });
}

void add_lora(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand(
      "lora",
      "LoRA steps on a text (one Adam step per chunk of --max-length tokens), bits per byte of the "
      "evaluation text before and after, then a reset to the base model (checked)");
  struct Opts {
    ModelOptions m;
    studies::LmLoraConfig cfg;
    std::string out;
    const CLI::Option *max_length = nullptr, *context = nullptr, *stride = nullptr;
  };
  auto o = std::make_shared<Opts>();
  studies::LmLoraConfig& c = o->cfg;
  add_model_options(cmd, o->m, true);
  cmd->add_option("--train", c.train_file, "Text to adapt on")->required();
  cmd->add_option("--eval", c.eval_file, "Text to score before and after (default: the training text)");
  cmd->add_option("--epochs", c.epochs, "Passes over the training text")->capture_default_str();
  cmd->add_option("--rank", c.lora.rank, "LoRA rank (E.7: 64)")->capture_default_str();
  cmd->add_option("--alpha", c.lora.alpha, "LoRA alpha (scale alpha / rank)")->capture_default_str();
  cmd->add_option("--lora-dropout", c.lora.dropout, "Dropout on the adapters' input")->capture_default_str();
  cmd->add_option("--targets", c.lora.targets, "Projections that get adapters")->capture_default_str()->delimiter(',');
  cmd->add_option("--lr", c.train.lr, "Adam learning rate (E.7: 2e-4)")->capture_default_str();
  cmd->add_option("--eps", c.train.eps, "Adam epsilon (E.7: 1e-8)")->capture_default_str();
  cmd->add_option("--max-grad-norm", c.train.max_grad_norm, "Clip the adapters' gradient norm (0: off)")
      ->capture_default_str();
  o->max_length = cmd->add_option("--max-length", c.train.max_length,
                                  "Tokens per training chunk (E.7: 1024), at most the model's max_position_embeddings "
                                  "(the default is lowered to it)")
                      ->capture_default_str();
  add_seed_option(cmd, c.train.seed, "Adapter initialisation seed");
  o->context = cmd->add_option("--context", c.bpb.context,
                               "Tokens per scoring window, at most the model's max_position_embeddings (the default "
                               "is lowered to it)")
                   ->capture_default_str();
  o->stride = cmd->add_option("--stride", c.bpb.stride, "New tokens scored per window")->capture_default_str();
  cmd->add_option("--prefix-token", c.prefix, "eos, none or a token id")->capture_default_str();
  add_out_option(cmd, o->out, "Folder for results.json");
  cmd->callback([o] {
    apply_threads(o->m.threads);
    o->cfg.model = o->m.spec;
    o->cfg.given = {o->context->count() > 0, o->stride->count() > 0, o->max_length->count() > 0};
    const auto r = studies::run_lm_lora(o->cfg);
    const auto& c = o->cfg;
    fmt::print("LoRA rank {} on {} projections: {} trainable parameters; {} steps over {} tokens, {:.0f} tokens/s\n",
               c.lora.rank, c.lora.targets.size(), r.trainable_parameters, r.losses.size(), r.trained_tokens,
               r.trained_tokens / std::max(r.train_seconds, 1e-9));
    fmt::print("bits per byte of {}: base {:.4f} -> LoRA {:.4f}; after reset {:.4f}\n",
               c.eval_file.empty() ? c.train_file : c.eval_file, r.before.bpb.bits_per_byte(),
               r.after.bpb.bits_per_byte(), r.after_reset.bpb.bits_per_byte());
    studies::write_lm_results(o->out, studies::lm_lora_json(c, r));
    print_written(o->out);
  });
}

}  // namespace

void add_lm_command(CLI::App& app) {
  auto* lm_cmd = app.add_subcommand("lm", "Language models: Qwen2 and Llama checkpoints, BPE tokenizer, LoRA, bits per byte");
  lm_cmd->require_subcommand(1);
  add_info(lm_cmd);
  add_init(lm_cmd);
  add_tokenize(lm_cmd);
  add_score(lm_cmd);
  add_lora(lm_cmd);
  add_lm_pretrain_command(lm_cmd);
}

}  // namespace tttlab::cli
