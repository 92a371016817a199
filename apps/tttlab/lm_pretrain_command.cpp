// tttlab lm pretrain: a small decoder of one family trained from scratch on a corpus (the model-size
// axis of the LM study); studies/lm_pretrain.hpp does the work.
#include <fmt/format.h>

#include "commands.hpp"
#include "tttlab/core/progress.hpp"
#include "tttlab/studies/lm_pretrain.hpp"

namespace tttlab::cli {

void add_lm_pretrain_command(CLI::App* lm_cmd) {
  auto* cmd = lm_cmd->add_subcommand(
      "pretrain",
      "Train a small Llama-shaped decoder from scratch on a corpus's training texts (AdamW, warm-up + cosine); "
      "writes a checkpoint folder with its tokenizer.json and results.json (loss curve, validation bits per byte)");
  struct Opts {
    studies::LmPretrainConfig cfg;
    int threads = 0;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto& c = o->cfg;
  cmd->add_option("--size", c.size,
                  fmt::format("A size of the Llama-shaped family: {}", fmt::join(studies::llama_family_sizes(), ", ")));
  cmd->add_option("--config-json", c.config_json, "A Hugging Face config.json giving the shape instead of --size");
  cmd->add_option("--tokenizer", c.tokenizer, "tokenizer.json (byte-level BPE with an <|endoftext|> token)")
      ->required();
  cmd->add_option("--train", c.train_file, "Training texts: JSONL with text and domain fields (a corpus's train.jsonl)")
      ->required();
  cmd->add_option("--val", c.val_file, "Validation texts, the same format (bits per byte before and after)")
      ->required();
  cmd->add_option("--steps", c.steps, "Optimiser steps")->capture_default_str();
  cmd->add_option("--batch", c.batch, "Windows per step")->capture_default_str();
  cmd->add_option("--seq-len", c.seq_len, "Tokens per window (also the model's positions with --size)")
      ->capture_default_str();
  cmd->add_option("--lr", c.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr-fraction", c.min_lr_fraction, "Final learning rate as a fraction of the peak")
      ->capture_default_str();
  cmd->add_option("--warmup-fraction", c.warmup_fraction, "Share of the steps with a linear warm-up")
      ->capture_default_str();
  cmd->add_option("--weight-decay", c.weight_decay, "AdamW decay on weight matrices (not norms or biases)")
      ->capture_default_str();
  cmd->add_option("--max-grad-norm", c.max_grad_norm, "Clip the global gradient norm (0: off)")->capture_default_str();
  cmd->add_option("--max-val-documents", c.max_val_documents, "Validation documents scored (the file's first)")
      ->capture_default_str();
  add_seed_option(cmd, c.seed, "Seed of the initial weights and of the window sampling");
  add_device_option(cmd, c.device);
  add_out_option(cmd, c.out, "Checkpoint folder to write (config.json, model.safetensors, tokenizer.json, results.json)")
      ->required();
  add_threads_option(cmd, o->threads);
  add_quiet_flag(cmd, o->quiet);
  cmd->callback([o] {
    apply_threads(o->threads);
    if (o->quiet) set_progress_enabled(false);
    const auto r = studies::run_lm_pretrain(o->cfg);
    fmt::print("{} parameters ({} layers, hidden {}); {} steps, {} tokens seen ({:.1f} passes over {} tokens) in {:.1f}s "
               "on {}\n",
               r.parameters, r.config.num_hidden_layers, r.config.hidden_size, o->cfg.steps, r.tokens_seen,
               static_cast<double>(r.tokens_seen) / static_cast<double>(r.train_tokens), r.train_tokens,
               r.train_seconds, r.device);
    fmt::print("validation ({} documents, {} bytes): {:.4f} -> {:.4f} bits per byte; final training loss {:.4f}\n",
               r.val_documents, r.val_bytes, r.val_bpb_before, r.val_bpb_after, r.losses.back());
    fmt::print("wrote {}\n", o->cfg.out);
  });
}

}  // namespace tttlab::cli
