#include "tttlab/lm/bits_per_byte.hpp"

#include <cmath>

#include "tttlab/core/error.hpp"

namespace tttlab::lm {

void BpbConfig::validate() const {
  require_input(context >= 2, "context={} tokens (expected >= 2)", context);
  require_input(stride >= 1 && stride < context, "stride={} (expected 1 <= stride <= context - 1 = {})", stride,
                context - 1);
}

double BpbResult::bits_per_byte() const {
  return bytes > 0 ? nll_nats / std::log(2.0) / static_cast<double>(bytes) : 0;
}

double BpbResult::bits_per_token() const {
  return tokens_scored > 0 ? nll_nats / std::log(2.0) / static_cast<double>(tokens_scored) : 0;
}

BpbResult bits_per_byte(CausalLM& model, const std::vector<int64_t>& tokens, int64_t num_bytes,
                        const BpbConfig& cfg, const std::function<void(int64_t, int64_t)>& on_window) {
  cfg.validate();
  require_input(num_bytes > 0, "bits per byte of an empty text");
  require_input(!tokens.empty(), "bits per byte: the text has no tokens");
  for (const int64_t t : tokens) {
    require_input(t >= 0 && t < model->config.vocab_size, "token id {} is outside the model's vocabulary [0, {})", t,
                  model->config.vocab_size);
  }
  std::vector<int64_t> seq;
  if (cfg.prefix_token >= 0) seq.push_back(cfg.prefix_token);
  seq.insert(seq.end(), tokens.begin(), tokens.end());
  const auto n = static_cast<int64_t>(seq.size());
  const auto device = model->output_embedding().device();
  const auto ids = torch::tensor(seq, torch::kLong).to(device);

  torch::NoGradGuard no_grad;
  model->eval();
  BpbResult r;
  r.bytes = num_bytes;
  const int64_t targets = n - 1;  // positions 1..n-1 are predicted
  const int64_t first_window = std::min(cfg.context - 1, targets);
  const int64_t total_windows = 1 + (targets - first_window + cfg.stride - 1) / cfg.stride;
  int64_t done = 0;  // targets 1..done have been scored
  while (done < targets) {
    const int64_t last = done == 0 ? first_window : std::min(done + cfg.stride, targets);
    const int64_t input_begin = std::max<int64_t>(0, last + 1 - cfg.context);
    // Input positions input_begin..last-1 predict targets input_begin+1..last; keep done+1..last.
    const auto logits = model->forward(ids.slice(0, input_begin, last).unsqueeze(0)).squeeze(0).to(torch::kFloat);
    const auto logp = torch::log_softmax(logits.slice(0, done - input_begin), -1);
    r.nll_nats -= logp.gather(1, ids.slice(0, done + 1, last + 1).unsqueeze(1)).sum().item<double>();
    r.tokens_scored += last - done;
    done = last;
    ++r.windows;
    if (on_window) on_window(r.windows, total_windows);
  }
  return r;
}

}  // namespace tttlab::lm
