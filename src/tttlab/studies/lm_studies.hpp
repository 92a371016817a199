#pragma once
// The language-model measurements behind `tttlab lm score` and `tttlab lm lora`, as library calls:
// load a checkpoint and its tokenizer, score a text in bits per byte, adapt LoRA on a text and score
// again before a checked reset; each result is written as results.json by the functions here, so the
// CLI only parses and prints.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tttlab/lm/bits_per_byte.hpp"
#include "tttlab/lm/bpe_tokenizer.hpp"
#include "tttlab/lm/lora.hpp"
#include "tttlab/lm/decoder_model.hpp"

namespace tttlab::studies {

struct LmModelSpec {
  std::string model;      // checkpoint folder: config.json + model.safetensors (or a sharded index)
  std::string tokenizer;  // tokenizer.json; empty: the one in the model folder
  std::string device = "auto";
  std::string dtype = "float32";  // float32 | bfloat16
};

struct LoadedLm {
  lm::CausalLM model{nullptr};
  lm::BpeTokenizer tokenizer;
  torch::Device device = torch::kCPU;
};

// "float32" or "bfloat16" (--dtype of the model commands); anything else is an InputError.
torch::ScalarType parse_model_dtype(const std::string& name);

// Loads model and tokenizer; a tokenizer with more tokens than the model's vocabulary is an input error.
LoadedLm load_lm(const LmModelSpec& spec);

// "eos" (the config's eos_token_id), "none" (-1: the first token is not scored) or a token id.
int64_t resolve_prefix_token(const std::string& prefix, const lm::DecoderConfig& config);

// A whole text file as bytes; a missing or unreadable file is an input error naming it.
std::string read_text_file(const std::string& path);

// One scoring pass: the bits-per-byte result and its wall time.
struct TimedBpb {
  lm::BpbResult bpb;
  double seconds = 0;
  nlohmann::json to_json() const;
};

// Scores token ids (a text of `bytes` UTF-8 bytes) with a progress bar titled `label`.
TimedBpb score_tokens(LoadedLm& lm, const std::vector<int64_t>& ids, int64_t bytes, const lm::BpbConfig& cfg,
                      const std::string& label);

// Whether the user gave a window or chunk length: a given one longer than the model's
// max_position_embeddings is refused, a default one is lowered to it (fit_to_positions).
struct LmLengthsGiven {
  bool context = false, stride = false, max_length = false;
};

// A window (or training chunk) of `tokens` tokens must fit the model's positions: beyond
// max_position_embeddings the rotary embeddings run on positions the model never saw, without any
// error, so a length the user gave (`given`) is refused with one line naming `flag`; a default that
// does not fit is lowered to the model's length instead. Returns whether it was lowered.
bool fit_to_positions(const std::string& flag, bool given, int64_t& tokens, const lm::DecoderConfig& config,
                      const std::string& model);

// The scoring window fitted to the model; a default stride is kept below the window it slides.
void fit_window_to_positions(lm::BpbConfig& bpb, const LmLengthsGiven& given, const lm::DecoderConfig& config,
                             const std::string& model);

// ---- lm score ----

struct LmScoreConfig {
  LmModelSpec model;
  std::string file;
  std::string prefix = "eos";
  lm::BpbConfig bpb;
  LmLengthsGiven given;
};

struct LmScoreResult {
  TimedBpb score;
  lm::BpbConfig bpb;  // as used (prefix resolved)
  std::string device;
};

LmScoreResult run_lm_score(const LmScoreConfig& cfg);
nlohmann::json lm_score_json(const LmScoreConfig& cfg, const LmScoreResult& r);

// ---- lm lora ----

struct LmLoraConfig {
  LmModelSpec model;
  std::string train_file, eval_file;  // eval_file empty: score the training text
  std::string prefix = "eos";
  int64_t epochs = 1;
  lm::LoraConfig lora;
  lm::LoraTrainConfig train;
  lm::BpbConfig bpb;
  LmLengthsGiven given;
};

struct LmLoraResult {
  TimedBpb before, after, after_reset;
  std::vector<double> losses;  // one per LoRA step
  int64_t trainable_parameters = 0;
  int64_t trained_tokens = 0;
  int64_t max_length = 0;  // tokens per training chunk, as used (fit_to_positions)
  lm::BpbConfig bpb;       // the scoring window, as used
  double train_seconds = 0;
  std::string device;
};

// Scores the evaluation text with the base model, adds LoRA, takes one Adam step per chunk of the
// training text for `epochs` passes, scores again, resets the adapters and scores a third time.
LmLoraResult run_lm_lora(const LmLoraConfig& cfg);
nlohmann::json lm_lora_json(const LmLoraConfig& cfg, const LmLoraResult& r);

// Writes `results` as DIR/results.json (atomically; creates DIR). Nothing when dir is empty.
void write_lm_results(const std::filesystem::path& dir, const nlohmann::json& results);

}  // namespace tttlab::studies
