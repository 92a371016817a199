#pragma once
// Bits per byte of a text under a language model, as the Pile reports it: the total negative
// log-likelihood of the text's tokens (nats), divided by ln 2 and by the text's length in UTF-8 bytes.
// The first token is predicted from a prefix token (the end-of-text token, as lm-evaluation-harness
// does for the Pile), or left unscored when there is none. Texts longer than the context are scored
// with a sliding window: the first window scores the first context - 1 targets; each further window
// scores the next `stride` targets, its input the context tokens that end just before its last target.
// Every token is scored exactly once, and every token after the first window sees at least
// context - stride tokens before it (stride = context - 1: windows overlap by one token only).
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/torch.h>

#include "tttlab/lm/decoder_model.hpp"

namespace tttlab::lm {

struct BpbConfig {
  int64_t context = 1024;
  int64_t stride = 512;       // new tokens scored per window after the first, 1..context-1
  int64_t prefix_token = -1;  // -1: none (the first token is not scored)
  void validate() const;
};

struct BpbResult {
  double nll_nats = 0;  // summed over the scored tokens
  int64_t tokens_scored = 0;
  int64_t bytes = 0;
  int64_t windows = 0;
  double bits_per_byte() const;
  double bits_per_token() const;
};

// tokens: the text's token ids; num_bytes: its length in UTF-8 bytes. on_window(done, total) reports progress.
BpbResult bits_per_byte(CausalLM& model, const std::vector<int64_t>& tokens, int64_t num_bytes,
                        const BpbConfig& cfg, const std::function<void(int64_t, int64_t)>& on_window = {});

}  // namespace tttlab::lm
