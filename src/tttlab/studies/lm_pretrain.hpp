#pragma once
// Pretraining a small decoder LM from scratch on a text corpus: the model-size axis of the LM study
// (does the gain from test-time training shrink as the model grows?) needs several sizes of one
// family trained on the same data, and only one real checkpoint of a family fits these machines.
//
//   corpus JSONL (a "text" field per line) -> token stream, documents separated by the end-of-text
//   token -> random windows of seq_len + 1 tokens -> next-token loss -> AdamW (no decay on norms and
//   biases), linear warm-up then cosine decay -> bits per byte on the validation documents before
//   and after -> a Hugging Face checkpoint folder (config.json, model.safetensors) with the
//   tokenizer.json beside it, so every `tttlab lm` command loads it as it is.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tttlab/lm/decoder_config.hpp"

namespace tttlab::studies {

// Llama-shaped sizes of one family (every size: RMSNorm, SwiGLU, RoPE theta 10000, grouped-query
// attention with half as many key-value heads, tied embeddings), named xs, s, m, l, xl. The
// vocabulary and end-of-text id come from the tokenizer, the positions from the training length.
std::vector<std::string> llama_family_sizes();
lm::DecoderConfig llama_family_shape(const std::string& size, int64_t vocab_size, int64_t eos_token_id,
                                     int64_t max_positions);

struct LmPretrainConfig {
  std::string size;         // a family size (llama_family_sizes), or empty when config_json is given
  std::string config_json;  // a Hugging Face config.json giving the shape instead
  std::string tokenizer;    // tokenizer.json (byte-level BPE)
  std::string train_file;   // JSONL, one {"text": ...} per line (e.g. a corpus folder's train.jsonl)
  std::string val_file;     // the same for validation (bits per byte before and after)
  int64_t steps = 2000;
  int64_t batch = 32;        // windows per step
  int64_t seq_len = 256;     // tokens per window (the model's positions are at least this)
  double lr = 3e-3;          // peak learning rate
  double min_lr_fraction = 0.1;
  double warmup_fraction = 0.05;
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double max_grad_norm = 1.0;
  int64_t max_val_documents = 200;  // the first documents of val_file that are scored
  uint64_t seed = 0;
  std::string device = "auto";
  std::string out;  // checkpoint folder (created; refused if it holds another run's files)
  void validate() const;
};

struct LmPretrainResult {
  lm::DecoderConfig config;  // as trained
  int64_t parameters = 0;
  int64_t train_tokens = 0;  // tokens in the training stream
  int64_t tokens_seen = 0;   // steps x batch x seq_len
  std::vector<double> losses;  // mean next-token loss (nats) of every step
  double val_bpb_before = 0, val_bpb_after = 0;
  int64_t val_documents = 0, val_bytes = 0;
  double train_seconds = 0;
  std::string device;
};

// Trains, writes cfg.out (config.json, model.safetensors, tokenizer.json, results.json) and returns
// what it measured. Input problems (files, shapes, a corpus shorter than one window) are InputErrors
// raised before training starts.
LmPretrainResult run_lm_pretrain(const LmPretrainConfig& cfg);
nlohmann::json lm_pretrain_json(const LmPretrainConfig& cfg, const LmPretrainResult& r);

}  // namespace tttlab::studies
